"""The learned layer of crisis detection: a linear classifier over sentence embeddings.

It is trained only on the project's own written examples (`knowledge/data/safety_examples_*.txt`):
crisis, concern and none (ordinary sadness, everyday chat, physical illness, idioms, negated,
third-person and past cases). Short examples are also joined into two- and three-sentence
pseudo-windows so that the classifier sees text shaped like the windows of a long post.

Training takes a few seconds with the packaged model, so the fitted weights ship in
`knowledge/data/safety_model.json` together with the embedder name and a hash of the examples;
they are used only when both match, otherwise the model is retrained lazily in memory.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from knowledge.embeddings import Embedder, Vectors

LABELS = ("none", "concern", "crisis")
EXAMPLE_FILES = {
    "none": "safety_examples_none.txt",
    "concern": "safety_examples_concern.txt",
    "crisis": "safety_examples_crisis.txt",
}
MODEL_FILE = "safety_model.json"
FORMAT_VERSION = 1
_SEED = 20240611


def _data_text(name: str) -> str:
    return resources.files("knowledge").joinpath(f"data/{name}").read_text("utf-8")


def load_examples() -> dict[str, list[str]]:
    """The shipped examples by label (comment and blank lines dropped)."""
    out: dict[str, list[str]] = {}
    for label, name in EXAMPLE_FILES.items():
        lines = (line.strip() for line in _data_text(name).splitlines())
        out[label] = [line for line in lines if line and not line.startswith("#")]
    return out


def examples_digest(examples: dict[str, list[str]]) -> str:
    """A stable hash of the training material, stored with the fitted weights."""
    digest = hashlib.sha256(str(FORMAT_VERSION).encode())
    for label in LABELS:
        for line in examples[label]:
            digest.update(f"{label}\t{line}\n".encode())
    return digest.hexdigest()[:16]


def training_set(
    examples: dict[str, list[str]], windows_per_label: int = 300
) -> tuple[list[str], list[int]]:
    """Single examples plus deterministic pseudo-windows: a signal sentence among ordinary ones."""
    rng = random.Random(_SEED)
    texts: list[str] = []
    labels: list[int] = []
    for index, label in enumerate(LABELS):
        texts.extend(examples[label])
        labels.extend([index] * len(examples[label]))
    plain = examples["none"]
    for index, label in enumerate(LABELS):
        for _ in range(windows_per_label):
            parts = [rng.choice(examples[label])]
            parts += rng.sample(plain, rng.choice((1, 2)))
            rng.shuffle(parts)
            texts.append(" ".join(parts))
            labels.append(index)
    return texts, labels


@dataclass(frozen=True)
class LinearSafetyModel:
    """Softmax over `LABELS` from a linear map of normalised embeddings."""

    embedder_name: str
    dimension: int
    digest: str
    coef: npt.NDArray[np.float32]  # (3, dimension)
    intercept: npt.NDArray[np.float32]  # (3,)

    def probabilities(self, vectors: Vectors) -> npt.NDArray[np.float32]:
        """(n, 3) probabilities of none, concern, crisis."""
        if vectors.shape[0] == 0:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        logits = vectors @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float32)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "embedder": self.embedder_name,
                "dimension": self.dimension,
                "examples_digest": self.digest,
                "labels": list(LABELS),
                "coef": [[round(float(x), 6) for x in row] for row in self.coef],
                "intercept": [round(float(x), 6) for x in self.intercept],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LinearSafetyModel:
        raw = json.loads(text)
        if raw.get("format") != FORMAT_VERSION or raw.get("labels") != list(LABELS):
            raise ValueError("unsupported safety model file")
        return cls(
            embedder_name=str(raw["embedder"]),
            dimension=int(raw["dimension"]),
            digest=str(raw["examples_digest"]),
            coef=np.asarray(raw["coef"], dtype=np.float32),
            intercept=np.asarray(raw["intercept"], dtype=np.float32),
        )


def train(
    embedder: Embedder, examples: dict[str, list[str]] | None = None, c: float = 0.05
) -> LinearSafetyModel:
    """Fit the classifier on the (shipped) examples with this embedder."""
    from sklearn.linear_model import LogisticRegression

    material = load_examples() if examples is None else examples
    texts, labels = training_set(material)
    vectors = embedder.encode(texts)
    classifier = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    classifier.fit(vectors, np.asarray(labels))
    return LinearSafetyModel(
        embedder_name=embedder.name,
        dimension=embedder.dimension,
        digest=examples_digest(material),
        coef=np.asarray(classifier.coef_, dtype=np.float32),
        intercept=np.asarray(classifier.intercept_, dtype=np.float32),
    )


def shipped_model() -> LinearSafetyModel | None:
    """The fitted weights that ship with the package, if present and readable."""
    try:
        return LinearSafetyModel.from_json(_data_text(MODEL_FILE))
    except (FileNotFoundError, ValueError, KeyError):
        return None


def model_for(embedder: Embedder) -> LinearSafetyModel:
    """Shipped weights when they were fitted with this embedder on these examples, else train."""
    shipped = shipped_model()
    if (
        shipped is not None
        and shipped.embedder_name == embedder.name
        and shipped.dimension == embedder.dimension
        and shipped.digest == examples_digest(load_examples())
    ):
        return shipped
    key = (embedder.name, embedder.dimension)
    with _TRAINED_LOCK:
        if key not in _TRAINED:
            _TRAINED[key] = train(embedder)
        return _TRAINED[key]


# Models trained in this process for embedders without shipped weights (e.g. the test fake).
_TRAINED: dict[tuple[str, int], LinearSafetyModel] = {}
_TRAINED_LOCK = threading.Lock()


def write_model(embedder: Embedder, path: Path | None = None) -> Path:
    """Retrain and write the shipped weights (run after editing the examples)."""
    target = path or Path(str(resources.files("knowledge").joinpath(f"data/{MODEL_FILE}")))
    target.write_text(train(embedder).to_json() + "\n", encoding="utf-8")
    return target
