"""Condition vocabulary and tagger: which health conditions a piece of member text talks about.

The vocabulary (``knowledge/data/conditions_lay.toml``) lists conditions with the words members
use for them. Matching is pure Python: the text is split into word tokens, each token is looked
up among the vocabulary's words and their generated inflections (plurals, -ing, -ed), and the
longest known phrase starting at each token wins. Words of seven letters or more one letter away
from a strong term ("schizophernia", "anxeity") match it too, unless they carry an ordinary word
ending ("depressing", "stemming").
Short forms that are ordinary words in lower case ("MS", "RA", "ED") are matched only with their
exact case, as whole tokens.

Every match is a :class:`Mention` read in its clause:

- **strong** evidence names the condition (its names, medicines and devices: ``terms`` and
  ``abbrev``); **weak** evidence is a shared symptom or a medicine used for many conditions
  (``related``);
- **negated**: "I don't have diabetes", "not anxiety, just tired", "ADHD was ruled out";
- **uncertain**: "could it be cancer?", "tested for lupus";
- **subject**: the member themself ("my crohn's", "I have ADHD"), another person ("my son has
  ADHD", "my mum's diabetes"), or people in general ("people with BPD").

Only strong evidence makes a :class:`ConditionTag`, the tag a member sees, a filter matches or
member matching uses: the member's own condition (role ``member``) or, for another person's, a
carer's experience of it (role ``carer``). Negated and uncertain mentions never make a tag. Weak,
uncertain, other-person and general mentions still count, with less weight, as ranking evidence
(:meth:`ConditionTagger.vector`): a post about a son's ADHD is still about ADHD.
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
from typing import Literal

import numpy as np
import numpy.typing as npt

READING_VERSION = 2
"""Bumped whenever the way mentions are read changes (negation, people, ...): stored tags are
then re-computed, as for a vocabulary change. 2: strong/weak, negated, uncertain, carer tags."""

DATA_PACKAGE = "knowledge"
DATA_FILE = "data/conditions_lay.toml"

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_TOKEN_OR_BREAK = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[.!?;:\n]|,")
_APOSTROPHES = re.compile(r"['’]")
_VOWELS = frozenset("aeiouy")

Subject = Literal["self", "other", "people"]
Role = Literal["member", "carer"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Clause reading. Apostrophes are removed before matching, so "don't" is "dont".
_CLAUSE_WORDS = frozenset(["but", "although", "though", "however", "whereas", "except"])
_NEGATORS = _words(
    """
    not no never dont doesnt didnt isnt wasnt arent werent havent hasnt hadnt wont without nor
    negative neither ruled
    """
)
_UNCERTAIN = _words(
    """
    maybe might possibly perhaps whether suspect suspected if could test tests tested testing
    screened screening checked think thought believe believed assumed wonder wondered worried
    scared afraid terrified convinced
    """
)
_QUESTION_VERBS = frozenset(["do", "does", "did", "could", "might", "may", "should", "can"])
_FIGURATIVE = frozenset(["bit", "little", "kinda", "sorta", "slightly", "totally", "super", "abit"])
_GAVE_ME = (("me", "gave"), ("me", "giving"), ("me", "gives"), ("me", "give"))
_TOPIC_BEFORE = frozenset(["about", "regarding"])
_TOPIC_AFTER = _words(
    """
    clinic clinics care research researcher researchers lab labs charity charities nurse
    nurses specialist specialists team teams ward awareness month foundation association
    society documentary documentaries article articles study studies trial trials unit centre
    center service services educator educators conference campaign fundraiser walk run drug
    drugs company
    """
)
_AFTER_NEGATED = (("ruled", "out"), ("was", "ruled", "out"), ("is", "ruled", "out"))
_SELF = _words(
    """
    i im ive id me my mine myself we were our ours us ourselves
    """
)
_OTHER = _words(
    """
    he hes him his she shes her hers himself herself son sons daughter daughters mum mums mom
    moms mother mothers mommy mummy dad dads father fathers daddy husband husbands wife wifes
    wives partner partners boyfriend boyfriends girlfriend girlfriends bf bfs gf gfs fiance
    fiances fiancee fiancees spouse spouses brother brothers sister sisters sibling siblings
    child childs children childrens kid kids baby babys babies toddler toddlers teen teens
    teenager teenagers grandma grandmas grandmother grandmothers grandpa grandpas grandfather
    grandfathers granddad granddads grandad grandads nan nans nana nanas gran grans aunt aunts
    auntie aunties uncle uncles cousin cousins nephew nephews niece nieces friend friends
    bestie roommate roommates flatmate flatmates colleague colleagues coworker coworkers
    stepson stepdaughter stepmom stepmum stepdad parent parents inlaw inlaws grandson
    granddaughter grandchild grandchildren student students pupil pupils patient patients
    client clients neighbour neighbor
    """
)
_OTHER = _OTHER | _words(
    """
    boy boys girl girls lad lads hubby hubbys twin twins kiddo kiddos dh ds dd
    """
)
_PEOPLE = _words(
    """
    people someone somebody anyone anybody everyone everybody they them their theyre person
    persons others folks those cat cats dog dogs puppy kitten pet pets horse plant plants
    """
)
_SUBJECT_WINDOW = 12
_CUE_WINDOW = 4
_FUZZY_MIN = 7
_WORD_ENDINGS = ("ing", "ed", "ly", "er", "ers", "ness", "ful", "ous", "ive", "able", "ment")


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
class Mention:
    """One match of the vocabulary in a text, read in its clause."""

    condition_id: str
    words: str
    """The matched words, as written (lower case)."""
    strong: bool
    negated: bool = False
    uncertain: bool = False
    subject: Subject = "self"

    @property
    def role(self) -> Role | None:
        """The tag this mention supports: the member's own, a carer's, or none."""
        if not self.strong or self.negated or self.uncertain or self.subject == "people":
            return None
        return "member" if self.subject == "self" else "carer"


@dataclass(frozen=True)
class ConditionTag:
    """A condition a text clearly names (strong evidence only): what members see and filter on.

    ``role`` is ``member`` for the writer's own condition and ``carer`` for another person's
    (their child's, partner's, parent's...), told as the writer's experience of caring."""

    condition_id: str
    role: Role
    weight: float
    """1 - exp(-strong mentions): one mention 0.63, two 0.86."""


@dataclass(frozen=True)
class TaggerSettings:
    """Knobs of the tagger (the defaults were measured on the project's benchmarks)."""

    related_weight: float = 0.35
    """Evidence of one weak ("related") word, relative to one strong term."""
    other_weight: float = 0.5
    """Ranking evidence of a mention about someone else or people in general, relative to the
    writer's own."""
    uncertain_weight: float = 0.5
    """Ranking evidence of an uncertain mention ("could it be lupus?")."""
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
    near: dict[str, str] = field(default_factory=dict)
    """One-letter deletions of long strong single-word terms -> the term's family key."""
    fuzzy_cache: dict[str, str] = field(default_factory=dict)


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
        key = (READING_VERSION, self._conditions, self.settings)
        digest = hashlib.sha256(repr(key).encode("utf-8"))
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

    def mentions(self, text: str) -> list[Mention]:
        """Every vocabulary match in ``text``, in order, read in its clause."""
        return [m for _, m in self._scan(text)]

    def evidence(self, text: str, *, strong_only: bool = False) -> dict[int, float]:
        """Ranking evidence per condition index: a strong mention of the writer's own counts 1,
        weak, uncertain, other-person and general mentions less, negated ones nothing."""
        st = self.settings
        found: dict[int, float] = {}
        for index, m in self._scan(text):
            if m.negated or (strong_only and not m.strong):
                continue
            weight = 1.0 if m.strong else st.related_weight
            if m.subject != "self":
                weight *= st.other_weight
            if m.uncertain:
                weight *= st.uncertain_weight
            found[index] = found.get(index, 0.0) + weight
        return found

    def tags(self, text: str) -> list[ConditionTag]:
        """The conditions ``text`` clearly names (strong, not negated, not uncertain), strongest
        first: the writer's own (``member``) and other people's (``carer``). Only these are shown
        to anyone, used as filters or used for matching members."""
        counts: dict[tuple[str, Role], int] = {}
        for m in self.mentions(text):
            role = m.role
            if role is not None:
                counts[(m.condition_id, role)] = counts.get((m.condition_id, role), 0) + 1
        scale = self.settings.saturation
        out = [
            ConditionTag(cid, role, 1.0 - math.exp(-n / scale))
            for (cid, role), n in counts.items()
            if role == "member" or (cid, "member") not in counts
        ]
        out.sort(key=lambda t: (t.role != "member", -t.weight, self._index[t.condition_id]))
        return out

    def tag(self, text: str) -> dict[str, float]:
        """Condition id -> ranking weight in (0, 1] for every condition the text touches, weak
        evidence included (use :meth:`tags` for what may be shown)."""
        scale = self.settings.saturation
        return {
            self._conditions[i].id: 1.0 - math.exp(-e / scale)
            for i, e in sorted(self.evidence(text).items())
            if e > 0
        }

    def top(
        self, text: str, *, limit: int = 3, min_weight: float = 0.5
    ) -> list[tuple[Condition, float]]:
        """The writer's own conditions the text clearly names (for labels), strongest first."""
        own = [t for t in self.tags(text) if t.role == "member" and t.weight >= min_weight]
        return [(self.get(t.condition_id), t.weight) for t in own[:limit]]

    def vector(self, text: str, *, strong_only: bool = False) -> npt.NDArray[np.float32]:
        """Evidence in vocabulary order, with parents credited; L2-normalised (or all zeros)."""
        power = self.settings.vector_power
        return self._to_vector(
            {
                self._conditions[i].id: e**power
                for i, e in self.evidence(text, strong_only=strong_only).items()
                if e > 0
            }
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

    # ------------------------------------------------------------------------ reading

    def _scan(self, text: str) -> list[tuple[int, Mention]]:
        tokens, clauses, phrases = _tokens_and_clauses(text)
        if not tokens:
            return []
        lex = self._lex
        lower = [t.lower() for t in tokens]
        stems = [lex.forms.get(t) or self._near(t) for t in lower]
        out: list[tuple[int, Mention]] = []
        i, n = 0, len(tokens)
        while i < n:
            hits: list[tuple[int, float]] | None = None
            step = 1
            if stems[i] in lex.firsts:
                for size in range(min(lex.longest, n - i), 0, -1):
                    if clauses[i + size - 1] != clauses[i]:
                        continue
                    hits = lex.phrases.get(tuple(stems[i : i + size]))
                    if hits is not None:
                        step = size
                        break
            if step == 1:  # an exact-case short form ("ALS") outranks a one-word weak match
                short = self._abbrev_hits(tokens, i)
                if short:
                    hits = [*short, *(h for h in hits or () if h[0] not in {s[0] for s in short})]
            context = _read_context(lower, clauses, phrases, i, i + step) if hits else None
            if hits and context is not None:
                words = " ".join(lower[i : i + step])
                for index, weight in hits:
                    cid = self._conditions[index].id
                    out.append((index, Mention(cid, words, weight >= 1.0, *context)))
            i += step
        return out

    def _near(self, token: str) -> str:
        """The family of a long strong term one letter away from ``token`` (or "")."""
        lex = self._lex
        if len(token) < _FUZZY_MIN or not token.isalpha() or token.endswith(_WORD_ENDINGS):
            return ""
        cached = lex.fuzzy_cache.get(token)
        if cached is not None:
            return cached
        found = lex.near.get(token, "")
        if not found:
            for k in range(len(token)):
                found = lex.near.get(token[:k] + token[k + 1 :], "") or lex.forms.get(
                    token[:k] + token[k + 1 :], ""
                )
                if found:
                    break
        if len(lex.fuzzy_cache) < 100_000:
            lex.fuzzy_cache[token] = found
        return found

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
        singles = {
            w
            for c in self._conditions
            for p in c.terms
            if len(key := phrase_key(p)) == 1
            for w in key
        }
        for word in sorted(singles):
            if len(word) >= _FUZZY_MIN and word.isalpha():
                for k in range(len(word) - 1):  # not the last letter: "concert" is no "concerta"
                    lex.near.setdefault(word[:k] + word[k + 1 :], lex.forms[word])
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


def _tokens_and_clauses(text: str) -> tuple[list[str], list[int], list[int]]:
    """Word tokens (case kept) and, for each, the number of its clause and of its phrase (a
    clause cut at commas) in the text."""
    tokens: list[str] = []
    clauses: list[int] = []
    phrases: list[int] = []
    clause = phrase = 0
    for match in _TOKEN_OR_BREAK.finditer(_fold(text)):
        token = match.group()
        if token == ",":
            phrase += 1
            continue
        if not token[0].isalnum():
            clause += 1
            phrase += 1
            continue
        if token.lower() in _CLAUSE_WORDS:
            clause += 1
            phrase += 1
        tokens.append(token)
        clauses.append(clause)
        phrases.append(phrase)
    return tokens, clauses, phrases


def _read_context(
    lower: list[str], clauses: list[int], phrases: list[int], start: int, end: int
) -> tuple[bool, bool, Subject] | None:
    """(negated, uncertain, subject) of the mention tokens[start:end], read in its clause;
    None when the words are not about a condition at all ("on the spectrum of opinions")."""
    clause, phrase = clauses[start], phrases[start]
    before = [
        j
        for j in range(start - 1, max(-1, start - 1 - _SUBJECT_WINDOW), -1)
        if clauses[j] == clause
    ]
    words = [lower[j] for j in before]
    after = [lower[j] for j in range(end, min(len(lower), end + 3)) if clauses[j] == clause]
    if lower[end - 1] == "spectrum" and after[:1] == ["of"]:
        return None
    if words[:1] in (["my"], ["our"]):
        return False, False, "self"  # "my diabetes": the writer's, whatever else the clause says
    general = bool((words and words[0] in _TOPIC_BEFORE) or (after and after[0] in _TOPIC_AFTER))
    subject: Subject = "people" if general else "self"
    negated = False
    uncertain = any(tuple(words[k : k + 2]) in _GAVE_ME for k in range(min(2, len(words))))
    for distance, (j, word) in enumerate(zip(before, words, strict=True)):
        found: Subject | None = None
        if word in _OTHER:
            found = "other"
        elif word in _PEOPLE:
            found = "self" if distance > 0 and words[distance - 1] == "else" else "people"
        elif word in _SELF:
            found = "self"
        if found is not None:
            subject = "people" if general else found
            if found == "self" and word == "i":
                # "do I have ...", "I don't think I have ...", "my therapist thinks I have ..."
                lead = words[distance + 1 : distance + 4]
                uncertain = uncertain or bool(lead[:1] and lead[0] in _QUESTION_VERBS)
                uncertain = uncertain or any(w in _UNCERTAIN for w in lead)
                negated = negated or (
                    any(w in _UNCERTAIN for w in lead) and any(w in _NEGATORS for w in lead)
                )
            break
        if distance < _CUE_WINDOW and phrases[j] == phrase:
            negated = negated or word in _NEGATORS
            uncertain = uncertain or word in _UNCERTAIN or word in _FIGURATIVE
    if words[:2] in (["this", "is"], ["it", "is"], ["that", "is"]) or words[:1] == ["its"]:
        uncertain = uncertain or (len(words) <= 2 or words[2] in _QUESTION_VERBS)
    if any(tuple(after[: len(cue)]) == cue for cue in _AFTER_NEGATED):
        negated = True
    return negated, uncertain, subject


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
