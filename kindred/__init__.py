"""The application around the domain: command line, file imports, evaluation, demo."""
