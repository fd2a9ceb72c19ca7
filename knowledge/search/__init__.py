"""Ranking: dense, full-text and condition evidence, fused; snippets."""
