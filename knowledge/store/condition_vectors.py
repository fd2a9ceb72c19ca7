"""Per-post condition vectors, sparse in memory for ranking (SQL `postcondition` is the truth).

One `postcondition` row per nonzero entry, with the storage schema unchanged; the sign of
``weight`` says what a row may be used for:

- ``weight > 0``: a condition the post clearly names as the writer's own (strong evidence, not
  negated, not about someone else). These rows, and only these, are tags: shown to members (the
  privacy export, ``/privacy view``), used as filters and for matching members.
- ``condition_id`` ``"carer:<id>"`` (``weight > 0``, the tag's weight): the post tells of caring
  for someone with that condition (another person's condition, strong evidence). Shown as such.
- ``weight < 0``: ranking evidence only (weak words, a parent's credit, uncertain mentions,
  mentions of other people or of people in general); never shown, never a filter.

For ranking, ``abs(weight)`` is the entry of the post's normalised condition vector; ``carer:``
rows are not part of it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from knowledge.conditions import ConditionTagger

Sparse = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]

CARER_PREFIX = "carer:"


def sparse_entries(tagger: ConditionTagger, text: str) -> dict[str, float]:
    """The `postcondition` rows of a text: condition id -> signed weight (see the module doc)."""
    vector = tagger.vector(text)
    ids = tagger.ids
    tags = tagger.tags(text)
    own = {t.condition_id for t in tags if t.role == "member"}
    out = {
        ids[i]: float(vector[i]) if ids[i] in own else -float(vector[i])
        for i in np.flatnonzero(vector)
    }
    for t in tags:
        if t.role == "carer":
            out[CARER_PREFIX + t.condition_id] = float(t.weight)
    return out


def is_shown(weight: float) -> bool:
    """Whether a `postcondition` row is a tag (a member may see it; filters may use it)."""
    return weight > 0


class ConditionVectors:
    """post id -> sparse condition vector, for one guild."""

    def __init__(self, tagger: ConditionTagger) -> None:
        self.tagger = tagger
        self._position = {cid: i for i, cid in enumerate(tagger.ids)}
        self._rows: dict[int, Sparse] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def set(self, post_id: int, entries: dict[str, float]) -> None:
        known = [
            (self._position[c], abs(w)) for c, w in entries.items() if c in self._position and w
        ]
        if not known:
            self._rows.pop(post_id, None)
            return
        index, weight = zip(*known, strict=True)
        self._rows[post_id] = (
            np.asarray(index, dtype=np.int32),
            np.asarray(weight, dtype=np.float32),
        )

    def remove(self, post_ids: Iterable[int]) -> None:
        for post_id in post_ids:
            self._rows.pop(post_id, None)

    def matrix(self, post_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(post_ids), self.tagger.dimension), dtype=np.float32)
        for row, post_id in enumerate(post_ids.tolist()):
            entry = self._rows.get(post_id)
            if entry is not None:
                out[row, entry[0]] = entry[1]
        return out
