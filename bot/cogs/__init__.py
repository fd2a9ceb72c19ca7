"""One cog per feature, each an extension (`async def setup(bot)`) the client loads by name:
admin, live_index, catch_up, search, safety, privacy."""
