"""Kindred on Discord: the adapter between discord.py and the knowledge service."""
