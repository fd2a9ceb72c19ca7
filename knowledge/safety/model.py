"""The learned layer of crisis detection: a logistic regression over the post's sentence embedding.

It reads the normalised MiniLM vector ingest already computes for a post (so scoring costs one dot
product) and returns a calibrated probability that the post reads like a crisis post.

Training material (`write_model`, run by a developer with `../shared` present):

- real posts from rmhd27-dev (the Reddit Mental Health Dataset, Low et al. 2020, Apache-2.0):
  r/suicidewatch posts are positive, the ten control communities negative. Posts from the other
  mental-health communities are left out of training: many of them do speak of wanting to die, so
  they are neither a clean positive nor a clean negative (their flag rate is measured and reported
  by `benchmarks/crisis.py`);
- the project's own written examples (`knowledge/data/safety_examples_*.txt`: crisis and concern
  positive, none negative) for what Reddit lacks: short chat messages, negations, third person,
  idioms, jokes.

Messages shorter than `SafetySettings.min_words_for_similarity_crisis` words are scored by a
second head fitted on the written examples alone (they are short and chat-like, Reddit posts are
not); its threshold is the `short` entry, set by cross-validation on the written `none` examples.
On the project's chat set (`tests/knowledge/data/chat_crisis.tsv`, never trained on, but looked
at when this head was chosen) the Reddit-trained head flagged 0.20 of the short hard negatives
("i'd kill for a nap") for 0.98 recall; this head flags 0.13 for 0.95.

Only the learned weights ship (`knowledge/data/safety_model.json`), never the posts. The file also
records the decision thresholds, chosen by cross-validation so that no post scored its own
threshold: out-of-fold scores of the control posts set `concern` at `CONCERN_FPR` and `crisis` at
`CRISIS_FPR` false alarms; `corroborated` (a concern phrase plus this score makes a crisis) lies
half-way between. `SafetySettings` defaults equal them (a test keeps them in step).

Measured and dropped (stratified 5-fold CV on rmhd27-dev, see `benchmarks/crisis.py`): the phrase
rules as extra features of the regression (crisis recall 0.80 against 0.87 with the rules kept as
overrides: the written examples nearly all match a rule, so the model leant on them), the other
mental-health communities as weighted negatives (weight 0.3: recall 0.86 / 0.76 against 0.93 /
0.87), a second model separating suicidewatch from the other communities as a gate for crisis
(other communities' crisis rate 0.18 to 0.15 for no gain on the targets), and 3x weight on the
written examples (recall 0.89 / 0.83).

Without shipped weights for the embedder in use (the test fake, another model) the classifier is
trained lazily in memory on the written examples alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
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
FORMAT_VERSION = 2
C = 1.0
"""Inverse regularisation of the logistic regression (0.3 and 4.0 measured no better)."""
CONCERN_FPR = 0.015
"""Out-of-fold false-alarm rate on control posts that sets the concern threshold (target 0.03:
the phrase rules and the corroborated rule add about half a point on top)."""
CRISIS_FPR = 0.004
"""Out-of-fold false-alarm rate on control posts that sets the crisis threshold (target 0.01)."""
SHORT_FPR = 0.10
"""Out-of-fold false-alarm rate on the written `none` examples (hard negatives by design: idioms,
negations, past, third person) that sets the short-message threshold."""
FOLDS = 5
SEED = 20261129
POSITIVE_COMMUNITY = "suicidewatch"
CONTROL_GROUP = "control"


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
    """A stable hash of the written training material, stored with the fitted weights."""
    digest = hashlib.sha256(str(FORMAT_VERSION).encode())
    for label in LABELS:
        for line in examples[label]:
            digest.update(f"{label}\t{line}\n".encode())
    return digest.hexdigest()[:16]


def example_rows(examples: dict[str, list[str]]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Texts and binary labels (crisis and concern 1, none 0) of the written examples."""
    texts: list[str] = []
    labels: list[int] = []
    for label in LABELS:
        texts.extend(examples[label])
        labels.extend([int(label != "none")] * len(examples[label]))
    return texts, np.asarray(labels, dtype=np.int64)


@dataclass(frozen=True)
class LinearSafetyModel:
    """P(crisis-like) = sigmoid(vector . coef + intercept) over normalised embeddings."""

    embedder_name: str
    dimension: int
    digest: str
    coef: npt.NDArray[np.float32]  # (dimension,)
    intercept: float
    thresholds: dict[str, float] = field(default_factory=dict)
    trained_on: str = "written examples"
    short_coef: npt.NDArray[np.float32] | None = None  # the short-message head, if any
    short_intercept: float = 0.0

    def scores(self, vectors: Vectors) -> npt.NDArray[np.float32]:
        """(n,) probabilities that each text reads like a crisis post."""
        return _sigmoid(vectors, self.coef, self.intercept)

    def short_scores(self, vectors: Vectors) -> npt.NDArray[np.float32]:
        """(n,) probabilities from the head trained on the written (chat-like) examples alone."""
        if self.short_coef is None:
            return self.scores(vectors)
        return _sigmoid(vectors, self.short_coef, self.short_intercept)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "embedder": self.embedder_name,
                "dimension": self.dimension,
                "examples_digest": self.digest,
                "trained_on": self.trained_on,
                "thresholds": self.thresholds,
                "coef": [round(float(x), 6) for x in self.coef],
                "intercept": round(float(self.intercept), 6),
                "short_coef": None
                if self.short_coef is None
                else [round(float(x), 6) for x in self.short_coef],
                "short_intercept": round(float(self.short_intercept), 6),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LinearSafetyModel:
        raw = json.loads(text)
        if raw.get("format") != FORMAT_VERSION:
            raise ValueError("unsupported safety model file")
        return cls(
            embedder_name=str(raw["embedder"]),
            dimension=int(raw["dimension"]),
            digest=str(raw["examples_digest"]),
            coef=np.asarray(raw["coef"], dtype=np.float32),
            intercept=float(raw["intercept"]),
            thresholds={str(k): float(v) for k, v in raw.get("thresholds", {}).items()},
            trained_on=str(raw.get("trained_on", "")),
            short_coef=None
            if raw.get("short_coef") is None
            else np.asarray(raw["short_coef"], dtype=np.float32),
            short_intercept=float(raw.get("short_intercept", 0.0)),
        )


def _sigmoid(
    vectors: Vectors, coef: npt.NDArray[np.float32], intercept: float
) -> npt.NDArray[np.float32]:
    if vectors.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    logits = np.asarray(vectors, dtype=np.float64) @ coef.astype(np.float64)
    logits = np.clip(logits + intercept, -50.0, 50.0)
    return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float32)


def fit(
    vectors: Vectors, labels: npt.NDArray[np.int64], weights: npt.NDArray[np.float64] | None = None
) -> tuple[npt.NDArray[np.float32], float]:
    """(coef, intercept) of a logistic regression, classes balanced by weight."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    positives = max(float(w[y == 1].sum()), 1e-9)
    balance = np.where(y == 1, float(w[y == 0].sum()) / positives, 1.0)
    classifier = LogisticRegression(C=C, max_iter=3000)
    classifier.fit(vectors, y, sample_weight=w * balance)
    return np.asarray(classifier.coef_[0], dtype=np.float32), float(classifier.intercept_[0])


def threshold_at(control_scores: npt.NDArray[np.floating], fpr: float) -> float:
    """The lowest score that flags at most `fpr` of these control scores."""
    ranked = np.sort(np.asarray(control_scores, dtype=np.float64))[::-1]
    allowed = math.floor(fpr * len(ranked))
    if allowed >= len(ranked):
        return 0.0
    return float(np.nextafter(ranked[allowed], np.inf))


@dataclass(frozen=True)
class Corpus:
    """Real posts for training: vectors, which are positive, which are controls (rest unused)."""

    vectors: Vectors
    positive: npt.NDArray[np.bool_]
    control: npt.NDArray[np.bool_]


def _fit_on(
    corpus: Corpus, rows: npt.NDArray[np.int64], extra: tuple[Vectors, npt.NDArray[np.int64]]
) -> tuple[npt.NDArray[np.float32], float]:
    used = rows[corpus.positive[rows] | corpus.control[rows]]
    vectors = np.vstack([corpus.vectors[used], extra[0]])
    labels = np.concatenate([corpus.positive[used].astype(np.int64), extra[1]])
    return fit(vectors, labels)


def cv_thresholds(
    corpus: Corpus,
    rows: npt.NDArray[np.int64],
    extra: tuple[Vectors, npt.NDArray[np.int64]],
    folds: int = FOLDS,
    seed: int = SEED,
) -> dict[str, float]:
    """Thresholds from out-of-fold scores of the control posts among `rows` (never in-sample)."""
    from sklearn.model_selection import StratifiedKFold

    strata = np.where(corpus.positive[rows], 2, np.where(corpus.control[rows], 0, 1))
    oof = np.zeros(len(rows))
    for train_at, test_at in StratifiedKFold(folds, shuffle=True, random_state=seed).split(
        rows, strata
    ):
        coef, intercept = _fit_on(corpus, rows[train_at], extra)
        held = corpus.vectors[rows[test_at]].astype(np.float64) @ coef + intercept
        oof[test_at] = 1.0 / (1.0 + np.exp(-held))
    controls = oof[corpus.control[rows]]
    concern = round(threshold_at(controls, CONCERN_FPR), 4)
    crisis = round(threshold_at(controls, CRISIS_FPR), 4)
    return {"concern": concern, "corroborated": round((concern + crisis) / 2, 4), "crisis": crisis}


def short_head(
    extra: tuple[Vectors, npt.NDArray[np.int64]], folds: int = FOLDS, seed: int = SEED
) -> tuple[npt.NDArray[np.float32], float, float]:
    """(coef, intercept, threshold) of the short-message head: fitted on the written examples,
    threshold at `SHORT_FPR` of out-of-fold scores of the `none` examples."""
    from sklearn.model_selection import StratifiedKFold

    vectors, labels = extra
    oof = np.zeros(len(labels))
    for train_at, test_at in StratifiedKFold(folds, shuffle=True, random_state=seed).split(
        vectors, labels
    ):
        coef, intercept = fit(vectors[train_at], labels[train_at])
        oof[test_at] = _sigmoid(vectors[test_at], coef, intercept)
    coef, intercept = fit(vectors, labels)
    return coef, intercept, round(threshold_at(oof[labels == 0], SHORT_FPR), 4)


def train_with_corpus(
    embedder_name: str,
    corpus: Corpus,
    rows: npt.NDArray[np.int64],
    extra: tuple[Vectors, npt.NDArray[np.int64]],
    digest: str,
    trained_on: str,
) -> LinearSafetyModel:
    """Fit on `rows` of the corpus plus the written examples; thresholds by CV within `rows`."""
    coef, intercept = _fit_on(corpus, rows, extra)
    short_coef, short_intercept, short_threshold = short_head(extra)
    return LinearSafetyModel(
        embedder_name=embedder_name,
        dimension=int(corpus.vectors.shape[1]),
        digest=digest,
        coef=coef,
        intercept=intercept,
        thresholds={**cv_thresholds(corpus, rows, extra), "short": short_threshold},
        trained_on=trained_on,
        short_coef=short_coef,
        short_intercept=short_intercept,
    )


def train(embedder: Embedder, examples: dict[str, list[str]] | None = None) -> LinearSafetyModel:
    """Fit on the written examples alone (for embedders without shipped weights)."""
    material = load_examples() if examples is None else examples
    texts, labels = example_rows(material)
    coef, intercept = fit(embedder.encode(texts), labels)
    return LinearSafetyModel(
        embedder_name=embedder.name,
        dimension=embedder.dimension,
        digest=examples_digest(material),
        coef=coef,
        intercept=intercept,
    )


def shipped_model() -> LinearSafetyModel | None:
    """The fitted weights that ship with the package, if present and readable."""
    try:
        return LinearSafetyModel.from_json(_data_text(MODEL_FILE))
    except (FileNotFoundError, ValueError, KeyError):
        return None


def model_for(embedder: Embedder) -> LinearSafetyModel:
    """Shipped weights when they were fitted with this embedder on these examples, else train.

    An embedder quantised from the same weights (ONNX int8) names its source model in
    `source_name`: its vectors agree with the source's (mean cosine 0.994, and 99% of crisis
    decisions agree on rmhd27-dev), so the shipped weights serve it too.
    """
    shipped = shipped_model()
    names = {embedder.name, str(getattr(embedder, "source_name", embedder.name))}
    if (
        shipped is not None
        and shipped.embedder_name in names
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


def corpus_labels(
    communities: Sequence[str], groups: Sequence[str]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(positive, control) masks of rmhd27 posts by community and group."""
    positive = np.asarray([c == POSITIVE_COMMUNITY for c in communities])
    control = np.asarray([g == CONTROL_GROUP for g in groups])
    return positive, control


def write_model(
    embedder: Embedder,
    corpus: Corpus,
    path: Path | None = None,
    trained_on: str = "rmhd27-dev suicidewatch vs control posts + written examples",
) -> Path:
    """Train on the whole corpus and the examples and write the shipped weights (weights only).

    `corpus` is built by `benchmarks/crisis.py --write-model` from ../shared/data/rmhd27-dev.
    """
    examples = load_examples()
    texts, labels = example_rows(examples)
    extra = (embedder.encode(texts), labels)
    rows = np.arange(len(corpus.vectors))
    model = train_with_corpus(
        embedder.name, corpus, rows, extra, examples_digest(examples), trained_on
    )
    target = path or Path(str(resources.files("knowledge").joinpath(f"data/{MODEL_FILE}")))
    target.write_text(model.to_json() + "\n", encoding="utf-8")
    return target
