"""An optional ONNX Runtime embedder, exported locally from the packaged weights (no download).

The first encode exports the sentence-transformers model (transformer plus pooling) with
`torch.onnx.export` into `<data_dir>/models/<name>-<variant>.onnx`, next to a JSON sidecar that
records a fingerprint of the source weights and the export's own checksum. A later start checks
both and rebuilds an export that is missing, corrupt or made from other weights. The `int8`
variant quantises the MatMul weights per channel (`onnxruntime.quantization.quantize_dynamic`);
its vectors differ slightly, so it records its own model name and indexes re-embed on a switch.

Two sessions share the model file: queries and small batches run on `threads` (default one),
bulk batches (backfill, import, reindex: `bulk_min_texts` or more texts) on `bulk_threads`
(0 = every core). ONNX Runtime's threads belong to each session, unlike torch's process-global
setting, so a query never waits on the bulk pool. Needs `pip install 'kindred[onnx]'`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from knowledge.embeddings import (
    DEFAULT_MODEL_NAME,
    Vectors,
    _normalise,
    _read_json,
    describe_model_dir,
    packaged_model_path,
    resolve_threads,
)
from knowledge.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

Quantize = Literal["none", "int8"]
EXPORT_FORMAT = 1  # bump when the exported graph changes: old exports are rebuilt
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_POOLING_MODES = ("mean", "cls", "max")


def onnx_available() -> bool:
    """Whether onnxruntime is installed (the `kindred[onnx]` extra)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_POOLING_KEYS = {
    "mean": "pooling_mode_mean_tokens",
    "cls": "pooling_mode_cls_token",
    "max": "pooling_mode_max_tokens",
    "mean_sqrt_len": "pooling_mode_mean_sqrt_len_tokens",
}


def _pooling_dir(root: Path) -> Path:
    """The Pooling module's folder of a Transformer + Pooling (+ Normalize) model; ConfigError for
    any other layout (a Dense layer, for one), which only the torch backend runs."""
    modules = _read_json(root / "modules.json")
    entries = [m for m in modules if isinstance(m, dict)] if isinstance(modules, list) else []
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in entries]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise ConfigError(
            '[embedding] backend = "onnx" supports Transformer + Pooling (+ Normalize) models; '
            f'{root} has {kinds or "no modules.json"} (use backend = "torch")'
        )
    return root / str(entries[1].get("path", ""))


def pooling_mode(model_path: str | Path) -> str:
    """The pooling (mean, cls or max) of a model folder the ONNX backend can run."""
    folder = _pooling_dir(Path(model_path))
    config = _read_json(folder / "config.json")
    modes = [m for m, key in _POOLING_KEYS.items() if isinstance(config, dict) and config.get(key)]
    if len(modes) != 1 or modes[0] not in _POOLING_MODES:
        raise ConfigError(
            '[embedding] backend = "onnx" needs exactly one of mean, cls or max pooling; '
            f'{folder} has {modes or "none"} (use backend = "torch")'
        )
    return modes[0]


def source_fingerprint(model_path: str | Path, quantize: Quantize) -> str:
    """A digest of what an export is made from: the weights, the model and pooling configs, the
    variant and the export format."""
    root = Path(model_path)
    digest = hashlib.sha256(f"kindred-onnx/{EXPORT_FORMAT}/{quantize}".encode())
    weights = [root / name for name in WEIGHT_FILES if (root / name).is_file()]
    if not weights:
        raise ConfigError(f"no model weights ({' or '.join(WEIGHT_FILES)}) in {root}")
    for path in [weights[0], root / "config.json", _pooling_dir(root) / "config.json"]:
        digest.update(path.name.encode())
        digest.update(_sha256(path).encode() if path.is_file() else b"-")
    digest.update(pooling_mode(root).encode())
    return digest.hexdigest()


def _sidecar(target: Path) -> Path:
    return target.with_suffix(".json")


def export_is_current(target: Path, fingerprint: str) -> bool:
    """Whether `target` exists, matches its sidecar's checksum and was made from `fingerprint`."""
    meta = _read_json(_sidecar(target))
    if not isinstance(meta, dict) or meta.get("fingerprint") != fingerprint:
        return False
    try:
        return target.is_file() and _sha256(target) == meta.get("sha256")
    except OSError:
        return False


def _write_export(target: Path, build: Any, fingerprint: str, **meta: object) -> None:
    """Build into a temporary file in the same folder, then rename it into place (atomic: a
    concurrent reader sees the old file or the new one), and write the sidecar last."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    try:
        build(partial)
        checksum = _sha256(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    record = {"fingerprint": fingerprint, "sha256": checksum, "format": EXPORT_FORMAT, **meta}
    sidecar = _sidecar(target)
    scratch = sidecar.with_name(f".{sidecar.name}.{uuid.uuid4().hex}.partial")
    scratch.write_text(json.dumps(record, indent=2), encoding="utf-8")
    os.replace(scratch, sidecar)


def _export_fp32(model_path: str, pooling: str, destination: Path) -> None:
    """The transformer and its pooling as one ONNX graph: (input_ids, attention_mask,
    token_type_ids) -> pooled sentence vectors (normalised afterwards, in numpy)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        model_path, local_files_only=True, attn_implementation="eager"
    ).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled: torch.Tensor
            if pooling == "cls":
                pooled = hidden[:, 0]
            elif pooling == "max":
                pooled = (hidden - (1 - mask) * 1e9).max(dim=1).values
            else:
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return pooled

    sample = torch.ones((2, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes: expected, not actionable
        torch.onnx.export(
            Pooled(),
            (sample, sample, torch.zeros_like(sample)),
            str(destination),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )


def _quantize_int8(source: Path, destination: Path) -> None:
    """Dynamic int8: MatMul weights quantised per output channel, activations at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    quiet = _DropRecords("pre-processing before quantization")
    root.addFilter(quiet)  # onnxruntime's advice to preprocess, logged on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(destination),
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
        )
    finally:
        root.removeFilter(quiet)


class _DropRecords(logging.Filter):
    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


def ensure_export(model_path: str, models_dir: Path, name: str, quantize: Quantize) -> Path:
    """The ONNX file for this model and variant, exported (or rebuilt) first when needed."""
    fp32 = models_dir / f"{name}-fp32.onnx"
    fp32_print = source_fingerprint(model_path, "none")
    pooling = pooling_mode(model_path)
    if not export_is_current(fp32, fp32_print):
        log.info("exporting %s to ONNX (once; about a minute)", name)
        _write_export(
            fp32,
            lambda path: _export_fp32(model_path, pooling, path),
            fp32_print,
            pooling=pooling,
            quantize="none",
        )
    if quantize == "none":
        return fp32
    target = models_dir / f"{name}-{quantize}.onnx"
    target_print = source_fingerprint(model_path, quantize)
    if not export_is_current(target, target_print):
        log.info("quantising the ONNX export of %s to %s", name, quantize)
        _write_export(
            target,
            lambda path: _quantize_int8(fp32, path),
            target_print,
            pooling=pooling,
            quantize=quantize,
        )
    return target


class OnnxEmbedder:
    """The packaged model run by ONNX Runtime: fp32 (vectors as torch's) or int8.

    Constructing one costs nothing; the first encode exports the model if needed, loads the
    tokenizer (the model folder's tokenizer.json, same truncation as sentence-transformers) and
    the query session; the bulk session is created on the first bulk batch.
    """

    def __init__(
        self,
        model_path: str | None = None,
        *,
        models_dir: Path,
        name: str = DEFAULT_MODEL_NAME,
        quantize: Quantize = "none",
        batch_size: int = 32,
        threads: int = 1,
        bulk_threads: int = 0,
        bulk_min_texts: int = 64,
    ) -> None:
        self._model_path = model_path
        self._models_dir = Path(models_dir)
        self._base_name = name
        self._quantize: Quantize = quantize
        self._batch_size = batch_size
        self._threads = resolve_threads(threads)
        self._bulk_threads = resolve_threads(bulk_threads)
        self._bulk_min_texts = bulk_min_texts
        self._dimension: int | None = None
        self._max_tokens: int | None = None
        self._tokenizer: Tokenizer | None = None
        self._sessions: dict[str, onnxruntime.InferenceSession] = {}
        self._inputs: list[str] = []
        self._path: Path | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """fp32 vectors match torch's (cosine 1.0 to 6 places), so they share its name and index;
        int8 vectors differ a little, so int8 records its own and indexes re-embed on a switch."""
        return self._base_name if self._quantize == "none" else f"{self._base_name}-int8"

    @property
    def source_name(self) -> str:
        """The model these vectors come from (int8 approximates it: mean cosine 0.994), for
        weights fitted on that model's vectors, such as the shipped crisis classifier."""
        return self._base_name

    @property
    def model_path(self) -> str:
        return self._model_path or packaged_model_path()

    @property
    def quantize(self) -> Quantize:
        return self._quantize

    @property
    def threads(self) -> int:
        return self._threads

    @property
    def bulk_threads(self) -> int:
        return self._bulk_threads

    @property
    def bulk_min_texts(self) -> int:
        return self._bulk_min_texts

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._describe()
        return self._dimension or 0

    @property
    def max_tokens(self) -> int:
        if self._max_tokens is None:
            self._describe()
        return self._max_tokens or 256

    @property
    def export_path(self) -> Path:
        """The ONNX file, exported first if needed."""
        self._prepare()
        assert self._path is not None
        return self._path

    def close(self) -> None:
        """Drop the sessions (their memory and threads); a later encode opens them again."""
        with self._lock:
            self._sessions.clear()

    def _describe(self) -> None:
        dimension, max_tokens = describe_model_dir(self.model_path)
        if dimension is None:
            raise ConfigError(f"cannot tell the vector size of the model in {self.model_path}")
        self._dimension, self._max_tokens = dimension, max_tokens or 256

    def _prepare(self) -> None:
        if self._path is not None:
            return
        with self._lock:
            if self._path is None:
                path = ensure_export(
                    self.model_path, self._models_dir, self._base_name, self._quantize
                )
                self._tokenizer = self._load_tokenizer()
                self._path = path

    def _load_tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        root = Path(self.model_path)
        tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        config = _read_json(root / "tokenizer_config.json")
        pad = config.get("pad_token", "[PAD]") if isinstance(config, dict) else "[PAD]"
        pad_token = pad if isinstance(pad, str) else "[PAD]"
        pad_id = tokenizer.token_to_id(pad_token)
        tokenizer.enable_truncation(max_length=self.max_tokens)
        tokenizer.enable_padding(pad_id=pad_id or 0, pad_token=pad_token)
        return tokenizer

    def session(self, kind: Literal["query", "bulk"]) -> onnxruntime.InferenceSession:
        """The session for queries (`threads`) or bulk batches (`bulk_threads`), created once."""
        existing = self._sessions.get(kind)
        if existing is not None:
            return existing
        self._prepare()
        with self._lock:
            if kind not in self._sessions:
                threads = self._threads if kind == "query" else self._bulk_threads
                self._sessions[kind] = self._open(threads)
            return self._sessions[kind]

    def _open(self, threads: int) -> onnxruntime.InferenceSession:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_mem_pattern = False  # shapes vary with every batch
        # Idle workers sleep instead of spinning: on shared cores a spinning pool steals the CPU
        # a query (or the bot) needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        assert self._path is not None
        try:
            session = ort.InferenceSession(
                str(self._path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            raise ConfigError(f"cannot load the ONNX model {self._path}: {exc}") from exc
        self._inputs = [i.name for i in session.get_inputs()]
        return session

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        kind: Literal["query", "bulk"] = (
            "bulk"
            if len(texts) >= self._bulk_min_texts and self._bulk_threads != self._threads
            else "query"
        )
        session = self.session(kind)
        tokenizer = self._tokenizer
        assert tokenizer is not None
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            encodings = tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (pooled,) = session.run(["embedding"], {k: feeds[k] for k in self._inputs})
            result[np.asarray(rows)] = _normalise(pooled)
        return result
