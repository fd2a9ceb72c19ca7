"""The small vocabulary of errors the knowledge layer raises; the bot maps each to a short reply."""

from __future__ import annotations


class KindredError(Exception):
    """Base of every error Kindred raises on purpose. `user_message` is safe to show a member."""

    user_message = "Something went wrong in Kindred."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.user_message)
        self.detail = detail or self.user_message


class InvalidInput(KindredError):
    """Input that cannot be used: empty, binary, too large, malformed; has a reason code."""

    user_message = "That input can't be used."

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(detail or reason)
        self.reason = reason


class EmptyQuery(InvalidInput):
    """A search query with nothing searchable left after cleaning."""

    user_message = "Please type a few words to search for."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__("empty_query", detail or self.user_message)


class QueryTooLong(InvalidInput):
    """A search query longer than the configured limit."""

    user_message = "That query is too long; please shorten it."

    def __init__(self, limit: int) -> None:
        super().__init__("query_too_long", f"Queries are limited to {limit} characters.")
        self.limit = limit


class NotFound(KindredError):
    """A post, channel or guild Kindred does not hold."""

    user_message = "Kindred has nothing stored for that."


class ChannelNotEnabled(KindredError):
    """A write for a channel an admin has not enabled for indexing."""

    user_message = "That channel is not enabled for Kindred."


class IndexMismatch(KindredError):
    """A saved vector index was built by another model or dimension than the one configured."""

    user_message = "The search index needs rebuilding; an admin can run `kindred reindex`."


class ConfigError(KindredError):
    """The configuration file is missing, unreadable or invalid."""

    user_message = "Kindred's configuration is invalid."


class StoreDamaged(KindredError):
    """The database file is empty, malformed or not a Kindred store; it was refused untouched."""

    user_message = "Kindred's database is damaged; an admin needs to restore it from a backup."


class StoreUnwritable(KindredError):
    """The data folder, its database or its disk cannot be written; reading may still work."""

    user_message = "Kindred can't save changes right now; an admin needs to check its data folder."


class StoreTooNew(KindredError):
    """The database was migrated by a newer Kindred than this one."""

    user_message = "Kindred's database is from a newer version; an admin needs to upgrade Kindred."
