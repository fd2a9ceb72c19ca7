"""Consent, export and the one erase path, driven by one table registry."""
