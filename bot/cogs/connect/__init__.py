"""Connecting people: `/profile` (what members show and whether they help), `/connect` (match
cards without identities), introductions that open a private thread only when both agree.

`render` draws cards and profiles; `card_buttons` and `prompt_buttons` hold the persistent
buttons; `prompts` gets prompts to members (DM, else their next command); `delivery` opens the
private thread and words the crisis resources; `_cog` is the glue.
"""

from __future__ import annotations

from bot.client import KindredBot
from bot.cogs.connect._cog import ConnectCog, ProfileCog


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(ProfileCog(bot))
    await bot.add_cog(ConnectCog(bot))
