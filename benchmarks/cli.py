"""Wall time of commands that embed nothing, against loading the embedding model, in one run.

    python benchmarks/cli.py [--rounds 5] [--data-dir DIR] [--target 2.0]

1. The demo community (kindred/data) is indexed once with `kindred demo` into a temporary folder
   (or `--data-dir` reuses a store that holds it).
2. Each round runs, as fresh processes and interleaved: `kindred stats`, `kindred privacy export`
   of one demo member (by name, to a file), `kindred --help` (the floor: starting Python and
   importing the command line), and a process that loads the packaged model and embeds one
   sentence (what every command paid before the embedder loaded lazily).
3. Medians are compared: `stats` and `privacy export` must each take at most `--target` seconds
   and less than loading the model. The process exits 1 when a target is missed.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_GUILD = "1"
DEMO_MEMBER = "sugarfree_sam"
LOAD_MODEL = (
    "import time; t = time.perf_counter(); "
    "from knowledge.embeddings import SentenceTransformerEmbedder; "
    "SentenceTransformerEmbedder().encode(['how do you cope with night-time lows']); "
    "print(round(time.perf_counter() - t, 3))"
)


def kindred_command() -> list[str]:
    script = Path(sys.executable).with_name("kindred")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from kindred.cli import app; sys.exit(app())"]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDRED_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def timed(argv: list[str], cwd: Path) -> tuple[float, str]:
    """Seconds a fresh process took, and its stdout; a failing process stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=clean_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise SystemExit(f"{' '.join(argv[:3])}... failed: {tail}")
    return seconds, done.stdout


def build_demo(data_dir: Path, cwd: Path) -> float:
    seconds, _ = timed([*kindred_command(), "demo", "--data-dir", str(data_dir)], cwd)
    return seconds


def run_rounds(data_dir: Path, rounds: int, cwd: Path) -> dict[str, list[float]]:
    kindred = kindred_command()
    data = ["--data-dir", str(data_dir)]
    export_to = cwd / "export.json"
    runs: dict[str, list[float]] = {"stats": [], "export": [], "help": [], "model_load": []}
    inner: list[float] = []
    for _ in range(rounds):
        runs["stats"].append(timed([*kindred, "stats", *data], cwd)[0])
        export = [*kindred, "privacy", "export", "--guild", DEMO_GUILD, "--member", DEMO_MEMBER]
        runs["export"].append(timed([*export, "--out", str(export_to), *data], cwd)[0])
        runs["help"].append(timed([*kindred, "--help"], cwd)[0])
        seconds, printed = timed([sys.executable, "-c", LOAD_MODEL], cwd)
        runs["model_load"].append(seconds)
        inner.append(float(printed.strip().splitlines()[-1]))
    runs["model_load_in_process"] = inner
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, help="a store that already holds the demo")
    parser.add_argument("--target", type=float, default=2.0, help="seconds, per command")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kindred-cli-bench-") as tmp:
        cwd = Path(tmp)
        data_dir = args.data_dir.resolve() if args.data_dir else cwd / "demo"
        build_seconds = None if args.data_dir else round(build_demo(data_dir, cwd), 2)
        runs = run_rounds(data_dir, args.rounds, cwd)
    medians = {name: round(statistics.median(values), 3) for name, values in runs.items()}
    load = medians["model_load"]
    checks = {
        "stats_within_target": medians["stats"] <= args.target,
        "export_within_target": medians["export"] <= args.target,
        "stats_faster_than_model_load": medians["stats"] < load,
        "export_faster_than_model_load": medians["export"] < load,
    }
    for name in ("stats", "export", "help", "model_load"):
        spread = ", ".join(f"{v:.2f}" for v in runs[name])
        print(f"{name:>11}: median {medians[name]:.2f} s  ({spread})")
    print(f"model load inside its process (import torch, load, one encode): "
          f"{medians['model_load_in_process']:.2f} s")  # fmt: skip
    summary = {
        "rounds": args.rounds,
        "demo_build_seconds": build_seconds,
        "median_seconds": medians,
        "stats_vs_model_load": round(medians["stats"] / load, 3),
        "export_vs_model_load": round(medians["export"] / load, 3),
        "target_seconds": args.target,
        "checks": checks,
        "ok": all(checks.values()),
    }
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
