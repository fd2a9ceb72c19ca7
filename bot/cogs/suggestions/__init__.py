"""Similar threads when someone asks, `/similar`, and unanswered questions sent to helpers.

`_cog.py` is the Discord glue (listener, `/similar`, the routing loop), `_admin.py` the
`/suggestions` commands, `buttons.py` the persistent "Not helpful" button and `messages.py`
what the bot says; the decisions are in `knowledge.matching.suggestions` and `.routing`.
"""

from __future__ import annotations

from bot.client import KindredBot
from bot.cogs.suggestions._admin import SuggestionsAdminCog
from bot.cogs.suggestions._cog import SuggestionsCog


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(SuggestionsCog(bot))
    await bot.add_cog(SuggestionsAdminCog(bot))
