"""A member's report of a post, as the safety desk's flag.

A report always reaches the moderators: the assessment of the reported text decides only how
urgent the alert is (crisis when it reads as a crisis, concern otherwise, even when the assessment
found nothing: the member saw something worth a look).
"""

from __future__ import annotations

from knowledge.records import Flag
from knowledge.safety.assessment import SafetyAssessment, SafetyLevel


def report_level(assessment: SafetyAssessment) -> str:
    """The alert level of a reported post: "crisis" or "concern", never "none"."""
    crisis = assessment.level is SafetyLevel.CRISIS
    return SafetyLevel.CRISIS.value if crisis else SafetyLevel.CONCERN.value


def flag_for_report(
    assessment: SafetyAssessment,
    *,
    guild_id: int,
    external_id: str,
    channel_id: int,
    thread_id: int | None,
    author_id: int,
) -> Flag:
    """The flag a report opens an alert with (the reporter is recorded by the desk, not here)."""
    return Flag(
        guild_id=guild_id,
        external_id=external_id,
        channel_id=channel_id,
        thread_id=thread_id,
        author_id=author_id,
        level=report_level(assessment),
        reasons=assessment.reasons,
    )
