"""Synthetic peer-support chat for size benchmarks (written for the project; not real posts)."""

from __future__ import annotations

import random

OPENERS = [
    "Has anyone else noticed",
    "I keep wondering about",
    "Quick question about",
    "Update on",
    "Does anyone have tips for",
    "Struggling a lot with",
    "Small win with",
    "Finally talked to my doctor about",
    "Venting a bit about",
    "Three months into",
]
TOPICS = [
    "night time lows and the fear of not waking up",
    "brain fog that gets worse after work",
    "panic attacks in the supermarket queue",
    "flare ups after eating bread",
    "migraines that start behind my left eye",
    "sleeping only four hours a night",
    "crashing two days after a short walk",
    "forgetting appointments and losing keys",
    "joint pain every morning before the meds kick in",
    "feeling lonely since the diagnosis",
    "my insulin pump alarm going off at 3am",
    "heart racing when I stand up",
    "the side effects of the new medication",
    "explaining my illness to my family",
    "pacing my energy with a heart rate watch",
    "tinnitus that never stops",
]
DETAILS = [
    "It started last spring and nothing seems to help.",
    "My partner has been great but I feel like a burden.",
    "Breathing exercises helped a little, journaling helped more.",
    "The waiting list for the specialist is eight months.",
    "I tried cutting caffeine and it made a small difference.",
    "Some days are fine and then out of nowhere it hits again.",
    "Work has been understanding, mostly.",
    "I'm scared it will never get better, but this group helps.",
    "What worked for me was writing everything down for a week.",
    "My sugar was all over the place for days.",
    "Resting before I feel tired seems to be the trick for me.",
    "The fatigue is the hardest part to describe to people.",
]


def synthetic_post(rng: random.Random, words: int = 60) -> str:
    parts = [f"{rng.choice(OPENERS)} {rng.choice(TOPICS)}."]
    while sum(len(p.split()) for p in parts) < words:
        parts.append(rng.choice(DETAILS))
    return " ".join(parts)


def synthetic_posts(n: int, seed: int = 0, words: int = 60) -> list[str]:
    rng = random.Random(seed)
    return [synthetic_post(rng, rng.randint(words // 3, words * 2)) for _ in range(n)]


QUERIES = [
    "how do you deal with fear of lows at night",
    "brain fog after work",
    "panic in shops",
    "does gluten cause your flares",
    "energy pacing with a watch",
    "side effects of new meds",
    "telling family about my illness",
    "can't sleep more than a few hours",
    "pain in the morning before medication",
    "feeling alone after diagnosis",
]
