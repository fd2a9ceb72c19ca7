"""`kindred eval`: retrieval and crisis evaluation on files."""
