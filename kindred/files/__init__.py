"""Loading communities from files: JSON Lines, and DiscordChatExporter JSON exports."""
