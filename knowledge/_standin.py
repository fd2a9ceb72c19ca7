"""TEMPORARY stand-ins for fts_query/fusion until the retrieval research lands (lead removes)."""
from __future__ import annotations
import re
from typing import Any
import numpy as np
from knowledge.config import SearchSettings

_W = re.compile(r"[^\W_]+")
_STOP = {"the","and","for","that","this","with","have","was","are","but","not","you","all","can","her","his","they","she","him","had","has","its","our","out","who","get","got","just","what","when","been","from","them","then","than","were","will","would","there","their","about","into","like","very","really","because","myself","some","how","any","dont","don","im","ive"}

def build_match_expression(text: str, max_terms: int = 32) -> str | None:
    seen: list[str] = []
    for w in _W.findall(text.lower()):
        if len(w) < 2 or w in _STOP or w in seen:
            continue
        seen.append(w)
    if not seen:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in seen[:max_terms])

class HybridRanker:
    def __init__(self, lexical_weight: float, dense_weight: float, candidates: int) -> None:
        self.lw, self.dw, self.n = lexical_weight, dense_weight, candidates
    @classmethod
    def from_settings(cls, s: SearchSettings) -> HybridRanker:
        return cls(s.lexical_weight, s.dense_weight, s.candidates)
    def rank(self, query_text: str, query_vector: Any, source: Any, k: int, mode: str) -> list[tuple[int, float]]:
        n = max(k, self.n)
        if mode == "bm25":
            ids, sc = source.lexical(query_text, k)
            return list(zip(ids.tolist(), sc.tolist()))
        dids, dsc = source.dense(query_vector, n)
        if mode == "dense":
            return list(zip(dids.tolist(), dsc.tolist()))[:k]
        lids, lsc = source.lexical(query_text, n)
        cand = np.unique(np.concatenate([dids, lids]))
        if len(cand) == 0:
            return []
        vec = source.vectors(cand)
        dense = vec @ query_vector
        lex = np.zeros(len(cand), dtype=np.float32)
        pos = {c: i for i, c in enumerate(cand.tolist())}
        if len(lsc):
            norm = (lsc - lsc.min()) / (lsc.max() - lsc.min() + 1e-9)
            for i, s in zip(lids.tolist(), norm.tolist()):
                lex[pos[i]] = s
        score = self.dw * dense + self.lw * 0.1 * lex
        order = np.argsort(-score)[:k]
        return [(int(cand[i]), float(score[i])) for i in order]
