"""The SQL store (the truth) and the indexes derived from it."""
