"""`/insights` through the real client: exact figures for a fixture guild, masked small counts,
jump links to the oldest unanswered questions, and a PNG chart the test opens (size, pixels);
only moderators may ask."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from knowledge.service import KnowledgeService
from tests.knowledge.test_insights import fixture_guild

from .conftest import QuickBot, Server, eventually


async def test_insights_gives_exact_counts_and_a_chart(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    guild = server.guild.id
    async with server.fake.running(bot):
        fixture_guild(kservice, datetime.now(UTC), guild)
        ix = await server.fake.slash_command(
            "insights", user=server.admin, channel=server.general, options={"period": 7}
        )
        deferred = await ix.wait_response()
        assert deferred["type"] == 5 and deferred["data"]["flags"] & 64
        await eventually(lambda: any(m.get("embeds") for m in ix.followups), what="insights")
    (message,) = [m for m in ix.followups if m.get("embeds")]
    embed = message["embeds"][0]
    assert embed["title"] == "Insights: last 7 days"
    text = embed["description"] + "".join(f["name"] + f["value"] for f in embed["fields"])
    assert "Questions asked: **10**" in text
    assert "Answered by another member within 24 h: **5 (50%)**" in text
    assert "Solved: **2 (20%)**" in text
    assert "Sent to helpers: **3**" in text
    assert "Answered after being sent to helpers: **2**" in text
    assert "Median time to first answer: **3.5 h**" in text
    assert "**7 — +2 (was 5)**" in text and "**fewer than 5 — was 0**" in text
    assert f"https://discord.com/channels/{guild}/1007/1007" in text
    assert embed["image"]["url"] == "attachment://insights.png"
    (upload,) = [
        f for call in server.fake.rest_calls for f in call.files if f.filename == "insights.png"
    ]
    image = Image.open(io.BytesIO(upload.data))
    assert image.format == "PNG" and image.size == (900, 500)
    grey = np.asarray(image.convert("L"))
    assert (grey < 200).mean() > 0.01  # not a blank page


async def test_insights_are_for_moderators_only(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        ix = await server.fake.slash_command("insights", user=server.bob, channel=server.general)
        body = await ix.wait_response()
    assert body["data"]["flags"] & 64 and "for moderators" in body["data"]["content"]
    assert not any(call.files for call in server.fake.rest_calls)
