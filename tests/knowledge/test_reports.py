"""A member's report becomes a flag: always an alert, crisis only when the text reads as one."""

from __future__ import annotations

import pytest

from knowledge.records import Flag
from knowledge.safety.assessment import SafetyAssessment, SafetyLevel
from knowledge.safety.reports import flag_for_report, report_level


def assessment(level: SafetyLevel, *reasons: str) -> SafetyAssessment:
    return SafetyAssessment(level, reasons, 0.0)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (SafetyLevel.CRISIS, "crisis"),
        (SafetyLevel.CONCERN, "concern"),
        (SafetyLevel.NONE, "concern"),  # a report is never dismissed as "none"
    ],
)
def test_report_level(level: SafetyLevel, expected: str) -> None:
    assert report_level(assessment(level)) == expected


def test_flag_for_a_post_in_a_thread_keeps_place_author_and_reasons() -> None:
    found = assessment(SafetyLevel.CRISIS, "plan and means", "goodbye")
    flag = flag_for_report(
        found, guild_id=1, external_id="555", channel_id=10, thread_id=11, author_id=7
    )
    assert flag == Flag(1, "555", 10, 11, 7, "crisis", ("plan and means", "goodbye"))


def test_flag_for_an_unremarkable_post_is_a_concern_without_reasons() -> None:
    flag = flag_for_report(
        assessment(SafetyLevel.NONE),
        guild_id=1,
        external_id="556",
        channel_id=10,
        thread_id=None,
        author_id=8,
    )
    assert (flag.level, flag.reasons, flag.thread_id) == ("concern", (), None)
