"""Discord's shards: which process serves which guilds.

Discord sends a guild's events to shard `(guild_id >> 22) % shard_count`. Several bot processes
share one PostgreSQL database, each running a set of shards and owning the vector indexes of
their guilds (it loads only those); changes made elsewhere reach it through the change log.
"""

from __future__ import annotations

from dataclasses import dataclass


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord routes this guild to."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class ShardSet:
    """The shards one process runs, out of `count`."""

    ids: tuple[int, ...]
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("the shard count must be at least 1")
        if not self.ids:
            raise ValueError("name at least one shard")
        bad = [i for i in self.ids if not 0 <= i < self.count]
        if bad:
            raise ValueError(f"shard ids must be from 0 to {self.count - 1}; got {bad}")

    def owns(self, guild_id: int) -> bool:
        return shard_of(guild_id, self.count) in self.ids

    @classmethod
    def parse(cls, spec: str, count: int) -> ShardSet:
        """`"0-3"`, `"5"` or `"0,2,4-5"` out of `count` shards (ValueError, in plain words)."""
        ids: set[int] = set()
        for part in spec.replace(" ", "").split(","):
            if not part:
                continue
            low, _, high = part.partition("-")
            try:
                start, end = int(low), int(high or low)
            except ValueError:
                raise ValueError(f"not a shard range: {part!r} (try 0-3 or 0,2,5)") from None
            if end < start:
                raise ValueError(f"not a shard range: {part!r} (the end is before the start)")
            ids.update(range(start, end + 1))
        return cls(tuple(sorted(ids)), count)
