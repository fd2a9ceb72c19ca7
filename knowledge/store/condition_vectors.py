"""Per-post condition vectors, sparse in memory for ranking (SQL `postcondition` is the truth)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from knowledge.conditions import ConditionTagger

Sparse = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]


def sparse_entries(tagger: ConditionTagger, text: str) -> dict[str, float]:
    """The nonzero entries of a text's condition vector, by condition id."""
    vector = tagger.vector(text)
    ids = tagger.ids
    return {ids[i]: float(vector[i]) for i in np.flatnonzero(vector)}


class ConditionVectors:
    """post id -> sparse condition vector, for one guild."""

    def __init__(self, tagger: ConditionTagger) -> None:
        self.tagger = tagger
        self._position = {cid: i for i, cid in enumerate(tagger.ids)}
        self._rows: dict[int, Sparse] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def set(self, post_id: int, entries: dict[str, float]) -> None:
        known = [(self._position[c], w) for c, w in entries.items() if c in self._position]
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
