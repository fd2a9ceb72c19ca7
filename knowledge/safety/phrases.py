"""The transparent layer of crisis detection: reviewed phrase rules with deliberate guards.

Rules live in `knowledge/data/safety_phrases.toml` (see the header there). A rule fires on one
clause unless a guard silences it: a negation just before it ("I'm not going to kill myself"), a
habitual or distant past ("I used to want to die", "when I was 15 I tried..."), another person as
the subject ("my friend wants to die" fires only the `other_person` rule, at concern level), an
idiom ("die of embarrassment", "I'd rather die than..."), or a recovery ("two years clean from
self harm"). A joke marker (lol, haha, 😂) lowers a crisis rule to concern rather than silencing it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from knowledge.safety.text import sentences

Level = Literal["concern", "crisis"]
PastGuard = Literal["none", "habit", "distant"]

MAX_HITS = 64
"""A post stops being scanned after this many hits (the verdict is settled long before)."""
_PREFIX_CHARS = 120
_MACRO = re.compile(r"<<([A-Z_]+)>>")
_CLAUSE = re.compile(r"[,;:()\"“”]|\s[-–—]\s|\b(?:but|because|though|although|however|and then)\b")
_TOKEN = re.compile(r"[a-z0-9']+")
_NEGATION = frozenset(
    str.split(
        "not never no nobody don't dont won't wont wouldn't wouldnt didn't didnt isn't isnt aren't "
        "arent ain't can't cant cannot couldn't couldnt shouldn't shouldnt nor neither"
    )
)
_HABIT = re.compile(r"\b(?:used to|use to|back then|would often|in the past)\s+(?:\w+\s+){0,2}$")
_DISTANT = re.compile(
    r"\b(?:\d+|a few|few|several|many|two|three|four|five|ten) (?:years|yrs|months) ago\b"
    r"|\b(?:years|decades) ago\b|\b(?:a|one) (?:year|decade) ago\b|\blast year\b|\bwhen i was\b"
    r"|\bas a (?:kid|teen|teenager|child)\b|\bin (?:high|middle|primary|elementary) school\b"
    r"|\bback in\b|\bin (?:19|20)\d\d\b|\bgrowing up\b"
    r"|\bat (?:age )?1\d\b|\bin the past\b|\bused to\b"
)
_JOKE = re.compile(r"\b(?:lol|lmao|lmfao|rofl|haha\w*|jk)\b|/s\b|😂|🤣|😆")
_IDIOM_AFTER = re.compile(
    r"^\W{0,3}(?:of (?:embarrassment|boredom|shame|laughter|cringe|cuteness|happiness)|laughing"
    r"|for (?:a|some|that|this|the|one)\b|than\b)"
)
_RECOVERY = re.compile(r"\b(?:clean|recovered|recovering|recovery|free from|stopped|quit)\b")
_FIRST = frozenset(str.split("i i'm im i've ive i'll ill i'd id me my myself"))
_OTHER = frozenset(
    str.split(
        "he she they he's she's they're hes shes theyre him them you you're youre someone "
        "somebody people he'll she'll they'll friend friends brother sister son daughter partner "
        "boyfriend girlfriend bf gf husband wife mom mum mother dad father roommate flatmate "
        "cousin kid child uncle aunt grandma grandpa classmate coworker colleague character guy "
        "girl man woman teen teenager student students patient patients client clients"
    )
)


@dataclass(frozen=True)
class PhraseRule:
    """One reviewed rule from the phrase file."""

    id: str
    level: Level
    category: str
    pattern: re.Pattern[str]
    person: Literal["first", "any"] = "first"
    negatable: bool = True
    past: PastGuard = "none"
    needs: re.Pattern[str] | None = None


@dataclass(frozen=True)
class PhraseHit:
    """A rule that fired (or was silenced, with the guard that silenced it)."""

    rule: str
    level: Level
    category: str
    phrase: str
    silenced_by: str | None = None
    sentence: int = 0
    softened: bool = False

    @property
    def reason(self) -> str:
        return f'{self.category} ({self.rule}): "{self.phrase}"'


def _expand(pattern: str, macros: dict[str, str]) -> str:
    for _ in range(3):
        pattern = _MACRO.sub(lambda m: macros[m.group(1)], pattern)
    return pattern


def parse_rules(document: dict[str, Any]) -> tuple[PhraseRule, ...]:
    """Build rules from a parsed phrase document (the TOML layout)."""
    macros = {str(k): str(v) for k, v in document.get("macros", {}).items()}
    rules: list[PhraseRule] = []
    for raw in document.get("rule", []):
        needs = raw.get("needs")
        rules.append(
            PhraseRule(
                id=str(raw["id"]),
                level=raw["level"],
                category=str(raw["category"]),
                pattern=re.compile(_expand(str(raw["pattern"]), macros)),
                person=raw.get("person", "first"),
                negatable=bool(raw.get("negatable", True)),
                past=raw.get("past", "none"),
                needs=re.compile(_expand(str(needs), macros)) if needs else None,
            )
        )
    return tuple(rules)


@lru_cache(maxsize=1)
def default_rules() -> tuple[PhraseRule, ...]:
    """The rules shipped with the package."""
    source = resources.files("knowledge").joinpath("data/safety_phrases.toml").read_text("utf-8")
    return parse_rules(tomllib.loads(source))


def _clauses(sentence: str) -> list[str]:
    return [part for part in _CLAUSE.split(sentence) if part and part.strip()]


def _subject_is_other(prefix: str) -> bool:
    for token in reversed(_TOKEN.findall(prefix)):
        if token in _FIRST:
            return False
        if token in _OTHER:
            return True
    return False


def _guard(rule: PhraseRule, clause: str, distant: bool, match: re.Match[str]) -> str | None:
    prefix = clause[max(0, match.start() - _PREFIX_CHARS) : match.start()]
    before = _TOKEN.findall(prefix)[-3:]
    core = _TOKEN.findall(match.group(0))[:2]
    if rule.negatable and any(t in _NEGATION for t in before + core):
        return "negation"
    if rule.past != "none" and _HABIT.search(prefix):
        return "past"
    if rule.past == "distant" and distant:
        return "past"
    if rule.category == "self_harm" and _RECOVERY.search(clause):
        return "recovery"
    if rule.person == "first" and _subject_is_other(prefix):
        return "third_person"
    if _IDIOM_AFTER.match(clause[match.end() :]):
        return "idiom"
    return None


def scan_phrases(text: str, rules: tuple[PhraseRule, ...] | None = None) -> list[PhraseHit]:
    """Every rule hit in a cleaned text, silenced ones included (they have `silenced_by`)."""
    active = default_rules() if rules is None else rules
    lowered = text.lower()
    hits: list[PhraseHit] = []
    context: dict[str, bool] = {}
    for number, sentence in enumerate(sentences(lowered)):
        if len(hits) >= MAX_HITS:
            break
        joking = bool(_JOKE.search(sentence))
        distant = bool(_DISTANT.search(sentence))
        for clause in _clauses(sentence):
            for rule in active:
                for match in rule.pattern.finditer(clause):
                    if len(hits) >= MAX_HITS:
                        break
                    if rule.needs is not None and not context.setdefault(
                        rule.id, bool(rule.needs.search(lowered))
                    ):
                        continue
                    level: Level = rule.level
                    softened = joking and level == "crisis"
                    if softened:
                        level = "concern"
                    hits.append(
                        PhraseHit(
                            rule=rule.id,
                            level=level,
                            category=rule.category,
                            phrase=match.group(0).strip()[:80],
                            silenced_by=_guard(rule, clause, distant, match),
                            sentence=number,
                            softened=softened,
                        )
                    )
    return hits


_TIMING = re.compile(
    r"\b(?:tonight|today|tomorrow|right now|rn|this (?:weekend|week|evening)|soon|in a few hours)\b"
)
_MEANS = re.compile(
    r"\b(?:pills|tablets|meds|rope|noose|gun|pistol|blade|razor|bridge|ledge|rooftop|overdose)\b"
)
_FINAL = re.compile(
    r"\b(?:tonight|today) is the (?:night|day)\b|\bit's time (?:for me )?to go\b|\bthis is it\b"
    r"|\bit (?:all )?ends (?:tonight|today)\b"
)
_ESCALATES = frozenset({"ideation", "self_harm"})


def escalations(text: str, hits: list[PhraseHit]) -> list[str]:
    """Concern-level hits that together amount to a crisis: a death wish or self-harm stated with
    timing or means in the same or the next sentence, or with farewell language in the post, or a
    death wish or farewell with a final moment ("tonight is the night")."""
    live = [hit for hit in hits if hit.silenced_by is None]
    wishes = [hit for hit in live if hit.category in _ESCALATES]
    farewell = any(hit.category == "farewell" for hit in live)
    found: list[str] = []
    if (wishes or farewell) and _FINAL.search(text.lower()):
        found.append("combined: death wish or farewell with a final moment")
    if not wishes:
        return found
    parts = sentences(text.lower())
    for hit in {hit.sentence: hit for hit in wishes}.values():
        near = " ".join(parts[hit.sentence : hit.sentence + 2])
        if _TIMING.search(near):
            found.append(f"combined: {hit.category} with timing")
        if _MEANS.search(near):
            found.append(f"combined: {hit.category} with means")
    if farewell:
        found.append("combined: death wish with farewell")
    return list(dict.fromkeys(found))


_IDIOM = re.compile(
    r"\b(?:die|kill) for (?:a|an|some|that|this)\b|\b(?:is|are|was|were|it's|its) killing me\b"
    r"|\bdying (?:to|for)\b|\bto death\b|\bdied laughing\b|\bdying (?:of|from) laughter\b"
    r"|\b(?:going to|gonna|will|'ll) kill (?:me|us|him|her|them|it)\b|\bi'm dead\b(?! serious)"
)


def has_idiom(text: str) -> bool:
    """Whether the text uses death words in a figure of speech ("this traffic is killing me")."""
    return bool(_IDIOM.search(text.lower()))
