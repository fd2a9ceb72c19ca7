"""Condition vocabulary and tagger: which health conditions a piece of member text talks about.

The vocabulary (``knowledge/data/conditions_lay.toml``) lists conditions with the words members
use for them. Matching is pure Python: the text is split into word tokens, each token is looked
up among the vocabulary's words and their generated inflections (plurals, -ing, -ed), and the
longest known phrase starting at each token wins.
Short forms that are ordinary words in lower case ("MS", "RA", "ED") are matched only with their
exact case, as whole tokens.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

DATA_PACKAGE = "knowledge"
DATA_FILE = "data/conditions_lay.toml"

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_APOSTROPHES = re.compile(r"['’]")
_VOWELS = frozenset("aeiouy")


@dataclass(frozen=True)
class Condition:
    """One entry of the vocabulary."""

    id: str
    name: str
    group: str
    parent: str | None = None
    terms: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    abbrev: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaggerSettings:
    """Knobs of the tagger (the defaults were measured on the project's benchmarks)."""

    related_weight: float = 0.35
    """Evidence of one weak ("related") word, relative to one strong term."""
    saturation: float = 1.0
    """Evidence at which a condition's weight reaches 1 - 1/e; weights saturate towards 1."""
    parent_share: float = 0.5
    """Share of a child's weight that also counts for its parent in vectors."""
    vector_power: float = 1.0
    """Vectors use evidence ** power (1: proportional to how much the text says about each)."""


@dataclass
class _Lexicon:
    phrases: dict[tuple[str, ...], list[tuple[int, float]]] = field(default_factory=dict)
    abbrevs: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    firsts: set[str] = field(default_factory=set)
    longest: int = 1
    forms: dict[str, str] = field(default_factory=dict)
    """Every inflected form of a vocabulary word -> that word's family key."""


def inflections(word: str) -> set[str]:
    """The word with its simple plural, -ing and -ed forms (lower case, no apostrophes)."""
    w = word
    forms = {w}
    if len(w) <= 2 or not w.isalpha():
        return forms | {w + "s"}
    if w.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(w + "es")
        if len(w) > 4 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
            forms.add(w[:-1])
    else:
        forms.add(w + "s")
    if w.endswith("y") and w[-2] not in _VOWELS:
        forms |= {w[:-1] + "ies", w[:-1] + "ied", w + "ing"}
    elif w.endswith("e"):
        forms |= {w + "d", w[:-1] + "ing", w + "ing"}
    elif not w.endswith(("ing", "ed")):
        forms |= {w + "ing", w + "ed", w + w[-1] + "ing", w + w[-1] + "ed"}
    return forms


def _fold(text: str) -> str:
    """Remove diacritics and apostrophes so that "Sjögren's" and "sjogrens" compare equal."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _APOSTROPHES.sub("", text)


def tokenize(text: str) -> list[str]:
    """Word tokens of ``text`` with their case kept (apostrophes and diacritics removed)."""
    return _TOKEN.findall(_fold(text))


def phrase_key(phrase: str) -> tuple[str, ...]:
    """The lower-case token tuple of a phrase."""
    return tuple(t.lower() for t in tokenize(phrase))


class ConditionTagger:
    """Finds conditions in text and turns them into weights and fixed-order vectors."""

    def __init__(
        self, conditions: Sequence[Condition], settings: TaggerSettings | None = None
    ) -> None:
        ids = [c.id for c in conditions]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate condition ids in the vocabulary")
        unknown = {c.parent for c in conditions if c.parent and c.parent not in ids}
        if unknown:
            raise ValueError(f"unknown parent ids: {sorted(unknown)}")
        self.settings = settings or TaggerSettings()
        self._conditions: tuple[Condition, ...] = tuple(conditions)
        self._index = {c.id: i for i, c in enumerate(self._conditions)}
        self._ancestors = [self._chain(c) for c in self._conditions]
        self._lex = self._build()

    # ------------------------------------------------------------------ vocabulary access

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self._conditions

    @property
    def ids(self) -> tuple[str, ...]:
        """Condition ids in vector order."""
        return tuple(c.id for c in self._conditions)

    @property
    def dimension(self) -> int:
        return len(self._conditions)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the vocabulary or settings change: stored vectors must be re-tagged."""
        digest = hashlib.sha256(repr((self._conditions, self.settings)).encode("utf-8"))
        return digest.hexdigest()[:16]

    def get(self, condition_id: str) -> Condition:
        """The condition with this id (KeyError when unknown)."""
        return self._conditions[self._index[condition_id]]

    def name(self, condition_id: str) -> str:
        return self.get(condition_id).name

    def search_names(self, prefix: str, limit: int = 25) -> list[Condition]:
        """Conditions for autocomplete: name or id prefix first, then word or synonym prefix."""
        key = " ".join(t.lower() for t in tokenize(prefix))
        if not key:
            return list(self._conditions[:limit])
        ranked: list[tuple[int, int, Condition]] = []
        for pos, c in enumerate(self._conditions):
            name = " ".join(t.lower() for t in tokenize(c.name))
            words = name.split()
            if name.startswith(key) or c.id.startswith(key.replace(" ", "_")):
                rank = 0
            elif any(" ".join(words[i:]).startswith(key) for i in range(len(words))):
                rank = 1
            elif any(
                " ".join(t.lower() for t in tokenize(s)).startswith(key)
                for s in (*c.terms, *c.abbrev)
            ):
                rank = 2
            else:
                continue
            ranked.append((rank, pos, c))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [c for _, _, c in ranked[:limit]]

    # ------------------------------------------------------------------------ tagging

    def evidence(self, text: str) -> dict[int, float]:
        """Raw evidence per condition index: strong terms count 1, related words less."""
        tokens = tokenize(text)
        if not tokens:
            return {}
        lex = self._lex
        forms = lex.forms
        stems = [forms.get(t.lower(), "") for t in tokens]
        found: dict[int, float] = {}
        i, n = 0, len(tokens)
        while i < n:
            hits: list[tuple[int, float]] | None = None
            step = 1
            if stems[i] in lex.firsts:
                for size in range(min(lex.longest, n - i), 0, -1):
                    hits = lex.phrases.get(tuple(stems[i : i + size]))
                    if hits is not None:
                        step = size
                        break
            if hits is None:
                hits = self._abbrev_hits(tokens, i)
            for index, weight in hits or ():
                found[index] = found.get(index, 0.0) + weight
            i += step
        return found

    def tag(self, text: str) -> dict[str, float]:
        """Condition id -> weight in (0, 1] for the conditions the text talks about."""
        scale = self.settings.saturation
        return {
            self._conditions[i].id: 1.0 - math.exp(-e / scale)
            for i, e in sorted(self.evidence(text).items())
        }

    def top(
        self, text: str, *, limit: int = 3, min_weight: float = 0.5
    ) -> list[tuple[Condition, float]]:
        """The conditions a text is clearly about (for labels and filters), strongest first."""
        ranked = sorted(self.tag(text).items(), key=lambda kv: (-kv[1], kv[0]))
        return [(self.get(cid), w) for cid, w in ranked if w >= min_weight][:limit]

    def vector(self, text: str) -> npt.NDArray[np.float32]:
        """Evidence in vocabulary order, with parents credited; L2-normalised (or all zeros)."""
        power = self.settings.vector_power
        return self._to_vector(
            {self._conditions[i].id: e**power for i, e in self.evidence(text).items()}
        )

    def vectors(self, texts: Iterable[str]) -> npt.NDArray[np.float32]:
        """One normalised row per text, shape (n, dimension)."""
        rows = [self.vector(t) for t in texts]
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack(rows).astype(np.float32, copy=False)

    def vector_from_ids(self, condition_ids: Iterable[str]) -> npt.NDArray[np.float32]:
        """A normalised vector for conditions chosen explicitly (a filter or a member profile)."""
        return self._to_vector({cid: 1.0 for cid in condition_ids if cid in self._index})

    # ------------------------------------------------------------------------ building

    def with_synonyms(self, extra: Mapping[str, Iterable[str]]) -> ConditionTagger:
        """A new tagger with extra strong terms added to existing conditions."""
        conditions = []
        for c in self._conditions:
            added = tuple(s for s in extra.get(c.id, ()) if s not in c.terms)
            conditions.append(Condition(**{**c.__dict__, "terms": c.terms + added}))
        return ConditionTagger(conditions, self.settings)

    def _chain(self, condition: Condition) -> list[int]:
        chain: list[int] = []
        parent = condition.parent
        while parent is not None and self._index[parent] not in chain:
            chain.append(self._index[parent])
            parent = self._conditions[self._index[parent]].parent
        return chain

    def _build(self) -> _Lexicon:
        lex = _Lexicon()
        weak = self.settings.related_weight
        lex.forms = _word_families(
            w for c in self._conditions for p in (*c.terms, *c.related) for w in phrase_key(p)
        )
        for index, c in enumerate(self._conditions):
            for phrases, weight in ((c.terms, 1.0), (c.related, weak)):
                for phrase in phrases:
                    key = tuple(lex.forms[w] for w in phrase_key(phrase))
                    if key:
                        _add(lex.phrases.setdefault(key, []), index, weight)
                        lex.firsts.add(key[0])
                        lex.longest = max(lex.longest, len(key))
            for abbrev in c.abbrev:
                _add(lex.abbrevs.setdefault(_fold(abbrev), []), index, 1.0)
        return lex

    def _abbrev_hits(self, tokens: list[str], i: int) -> list[tuple[int, float]] | None:
        token = tokens[i]
        hits = self._lex.abbrevs.get(token)
        if hits is None and len(token) > 2 and token.endswith("s"):
            hits = self._lex.abbrevs.get(token[:-1])
        if hits is None or not token.isupper():
            return hits
        # An upper-case short form inside shouted text ("AS SOON AS") is not an abbreviation.
        for j in (i - 1, i + 1):
            if 0 <= j < len(tokens) and len(tokens[j]) > 1 and tokens[j].isupper():
                return None
        return hits

    def _to_vector(self, weights: Mapping[str, float]) -> npt.NDArray[np.float32]:
        out = np.zeros(self.dimension, dtype=np.float32)
        share = self.settings.parent_share
        for cid, weight in weights.items():
            index = self._index[cid]
            out[index] = max(out[index], weight)
            credit = weight
            for parent in self._ancestors[index]:
                credit *= share
                out[parent] = max(out[parent], credit)
        norm = float(np.linalg.norm(out))
        return out / norm if norm > 0 else out


def _word_families(words: Iterable[str]) -> dict[str, str]:
    """Map each inflected form to one key per family (words whose forms overlap share it)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, str] = {}
    for word in sorted(set(words)):
        parent.setdefault(word, word)
        for form in inflections(word):
            if form in owner:
                a, b = find(owner[form]), find(word)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[form] = word
    return {form: find(word) for form, word in owner.items()}


def _add(bucket: list[tuple[int, float]], index: int, weight: float) -> None:
    for k, (existing, w) in enumerate(bucket):
        if existing == index:
            bucket[k] = (index, max(w, weight))
            return
    bucket.append((index, weight))


def parse_conditions(text: str) -> list[Condition]:
    """Parse the TOML vocabulary format (see the packaged data file for its documentation)."""
    data = tomllib.loads(text)
    out = []
    for raw in data.get("conditions", []):
        out.append(
            Condition(
                id=str(raw["id"]),
                name=str(raw["name"]),
                group=str(raw.get("group", "other")),
                parent=raw.get("parent") or None,
                terms=tuple(raw.get("terms", ())),
                related=tuple(raw.get("related", ())),
                abbrev=tuple(raw.get("abbrev", ())),
            )
        )
    return out


def load_conditions(path: str | Path | None = None) -> list[Condition]:
    """The vocabulary from ``path``, or the one packaged with Kindred."""
    if path is not None:
        return parse_conditions(Path(path).read_text(encoding="utf-8"))
    packaged = resources.files(DATA_PACKAGE).joinpath(DATA_FILE)
    return parse_conditions(packaged.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def default_tagger() -> ConditionTagger:
    """The tagger over the packaged vocabulary with default settings (built once)."""
    return ConditionTagger(load_conditions())


def lexicon_synonyms(
    path: str | Path, tagger: ConditionTagger, *, max_words: int = 5
) -> dict[str, list[str]]:
    """Extra synonyms from an ontology lexicon (JSON lines with ``name`` and ``synonyms``).

    An entry is attached to a condition when its name is already one of that condition's terms;
    its short exact synonyms then become extra terms. Meant for an optional admin import:
    ``tagger.with_synonyms(lexicon_synonyms(path, tagger))``.
    """
    owners: dict[tuple[str, ...], str] = {}
    for c in tagger.conditions:
        for phrase in (c.name, *c.terms):
            owners.setdefault(phrase_key(phrase), c.id)
    extra: dict[str, list[str]] = {}
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            entry = json.loads(line)
            owner = owners.get(phrase_key(str(entry.get("name", ""))))
            if owner is None:
                continue
            for synonym in entry.get("synonyms", []):
                text = str(synonym.get("text", "")) if isinstance(synonym, dict) else str(synonym)
                scope = synonym.get("scope", "EXACT") if isinstance(synonym, dict) else "EXACT"
                words = tokenize(text)
                annotated = any(mark in text for mark in "([") or text.endswith(" NOS")
                if (
                    scope == "EXACT"
                    and 0 < len(words) <= max_words
                    and len(text) > 3
                    and not annotated
                ):
                    extra.setdefault(owner, []).append(text)
    return extra
