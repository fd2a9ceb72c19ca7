"""One cog per feature: admin, sync, backfill, search, safety, privacy."""
