"""Loading communities from files (JSON Lines)."""
