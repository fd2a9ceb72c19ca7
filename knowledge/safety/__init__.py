"""Crisis-language assessment and the moderators' safety desk."""
