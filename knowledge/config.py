"""Typed configuration: one pydantic model per TOML table, loaded from a file or defaults.

Secrets never live here: the bot token comes from the `DISCORD_TOKEN` environment variable only.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from knowledge.errors import ConfigError
from knowledge.safety.assessment import SafetySettings
from knowledge.search.fusion import FusionSettings

CONFIG_ENV = "KINDRED_CONFIG"
DATA_DIR_ENV = "KINDRED_DATA_DIR"


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSettings(_Table):
    """Where Kindred keeps its database and index files."""

    data_dir: Path = Field(Path("kindred-data"), description="Folder for the database and indexes.")
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL; default is a SQLite file inside data_dir. PostgreSQL: "
            "postgresql+psycopg://user:password@host/dbname (pip install 'kindred[postgresql]')."
        ),
    )
    pool_size: int = Field(
        5, ge=1, le=100, description="PostgreSQL connections kept open per process."
    )
    max_overflow: int = Field(
        5, ge=0, le=100, description="Extra PostgreSQL connections allowed under load."
    )


class EmbeddingSettings(_Table):
    """The sentence embedding model."""

    model_path: str | None = Field(
        None, description="Local model folder; default is the packaged all-MiniLM-L6-v2."
    )
    model_name: str = Field("all-MiniLM-L6-v2", description="Name recorded with every index.")
    batch_size: int = Field(32, ge=1, le=512, description="Texts per encode batch.")
    threads: int = Field(
        1,
        ge=0,
        description="CPU threads for the model (0 = torch's default, all cores). One is "
        "fastest on small or shared machines: measured on 2 busy cores, a query took 14 ms with "
        "one thread and 480 ms with two.",
    )
    backend: Literal["torch", "onnx"] = Field(
        "torch",
        description="torch (sentence-transformers) or onnx: ONNX Runtime on an export made "
        "locally from the same weights on first use (into data_dir/models; pip install "
        "'kindred[onnx]').",
    )
    quantize: Literal["none", "int8"] = Field(
        "none",
        description="onnx only: int8 quantises the MatMul weights (faster, vectors differ a "
        "little, so the index records its own model name and is rebuilt on a switch).",
    )
    bulk_threads: int = Field(
        0,
        ge=0,
        description="CPU cores for bulk batches: backfill, import, reindex (0 = every core, 1 = "
        "all in this process). torch splits them across one-thread worker processes (its thread "
        "setting is process-global); onnx runs a second session with this many threads. Queries "
        "keep `threads`.",
    )
    bulk_min_texts: int = Field(
        64, ge=1, description="An encode of at least this many texts is a bulk batch."
    )


class IngestSettings(_Table):
    """Limits applied to incoming posts."""

    max_post_chars: int = Field(
        16_000, ge=100, description="Longer posts are stored truncated to this many characters."
    )
    batch_size: int = Field(256, ge=1, le=10_000, description="Posts per ingest transaction.")
    yield_budget_seconds: float = Field(
        2.0,
        ge=0,
        description="While searches run, an ingest batch pauses between posts to let them go "
        "first, for at most this long in total per batch (0: never).",
    )


class VectorIndexSettings(_Table):
    """The faiss index kept per guild."""

    ivf_threshold: int = Field(
        20_000, ge=1_000, description="Above this many vectors a guild's index becomes IVF."
    )
    ivf_nprobe: int = Field(
        24, ge=1, description="IVF lists scanned per query, at least (large indexes: 1/12 of them)."
    )
    save_every_seconds: float = Field(
        30.0, ge=0, description="Live ingest saves dirty indexes at most this often."
    )


class SearchSettings(_Table):
    """Query limits and the hybrid fusion weights."""

    max_query_chars: int = Field(2_000, ge=10, description="Longer queries are refused.")
    page_size: int = Field(5, ge=1, le=25, description="Results per page in Discord.")
    relevance_floor: float = Field(
        0.40,
        ge=-1,
        le=1,
        description="A hit whose cosine similarity to the query is below this is not shown as "
        'an answer ("nothing close"). At 0.40, 0.1-6% of the dev queries that have a relevant '
        "post in their top 10 are cut, depending on the set (benchmarks/retrieval.py).",
    )
    full_text_budget: int = Field(
        5_000,
        ge=0,
        description="Full-text search ranks at most about this many matching posts: when a "
        "query's terms together match more, the commonest are left to the dense half (0: no "
        "bound). Ranking every match is what makes full text slow in a large guild.",
    )
    fusion: FusionSettings = FusionSettings()


DEFAULT_CRISIS_RESOURCES = """\
If you are in danger right now, please call your local emergency number \
(112 in the EU, 911 in the US and Canada, 999 in the UK, 000 in Australia).
Free, confidential crisis lines by country: https://findahelpline.com
US: call or text 988 · UK and Ireland: Samaritans 116 123 · Canada: call or text 988 · \
Australia: Lifeline 13 11 14 · elsewhere: https://www.iasp.info/crisis-centres-helplines/
You matter, and you don't have to go through this alone."""


class CrisisResponseSettings(_Table):
    """What Kindred does when a post may come from someone in danger (defaults for every guild)."""

    resources: str = Field(
        DEFAULT_CRISIS_RESOURCES,
        description="Crisis resources sent to the member; an admin can set a guild's own.",
    )
    reply_mode: Literal["channel", "dm"] = Field(
        "channel", description="Answer in the channel (a reply) or by direct message."
    )
    concern_alerts: bool = Field(
        True, description="Alert moderators quietly (no ping, no reply) for `concern` posts."
    )
    alert_window_seconds: float = Field(
        900,
        ge=0,
        description="Further alerts about the same member within this window are "
        "recorded but do not notify moderators again.",
    )
    alert_recent_hours: float = Field(
        24, ge=0, description="Older posts (found by a backfill) are excluded but not alerted."
    )
    escalate_after_minutes: float = Field(
        15,
        gt=0,
        description="A crisis alert or report nobody claims within this many minutes is raised "
        "again once (to the escalation channel or role, else the moderator role); unclaimed "
        "alerts older than this are also listed in a daily digest.",
    )


class SuggestionSettings(_Table):
    """Similar threads offered when someone asks, and routing unanswered questions to helpers."""

    max_items: int = Field(3, ge=1, le=3, description="Prior threads in one suggestion reply.")
    relevance_floor: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="Cosine similarity a prior thread needs to be suggested; unset = "
        "search.relevance_floor. Nothing is posted when no thread reaches it.",
    )
    min_question_chars: int = Field(
        20, ge=1, description="Shorter messages in text channels are never taken as questions."
    )
    route_after_minutes: float = Field(
        60,
        gt=0,
        description="A question with no reply from another member after this long "
        "is sent to helpers.",
    )
    route_max_age_hours: float = Field(
        24, gt=0, description="Older unanswered questions are no longer sent to helpers."
    )
    max_helpers: int = Field(3, ge=1, le=10, description="Helpers asked about one question.")
    helper_daily_limit: int = Field(
        3, ge=1, description="Questions one helper is asked about in 24 hours, at most."
    )


class IntroductionSettings(_Table):
    """`/connect`: match cards and introductions between members who both agree."""

    cards: int = Field(5, ge=1, le=25, description="Match cards one /connect shows, at most.")
    requests_per_day: int = Field(
        3, ge=1, description="Introduction requests one member may send in 24 hours."
    )
    expire_hours: float = Field(
        72, gt=0, description="A request with no answer after this long expires (silently)."
    )
    cooldown_days: float = Field(
        30,
        ge=0,
        description="After a decline or expiry the same two members are not suggested to each "
        "other, nor introduced, for this many days.",
    )
    card_hours: float = Field(
        24, gt=0, description="Match cards (their buttons) work this long after /connect."
    )
    sample_chars: int = Field(
        300, ge=50, le=1000, description="A card's sample post is cut to this many characters."
    )
    check_minutes: float = Field(
        10, gt=0, description="How often expired requests and cards are cleared."
    )


class ReportSettings(_Table):
    """Members' reports of messages (the moderators' queue) and what keeps them from abuse."""

    per_member_per_day: int = Field(
        5,
        ge=1,
        le=100,
        description="Reports one member may file in 24 hours; more are politely refused and "
        "moderators are not told again.",
    )


class KindredSettings(_Table):
    """The whole configuration file."""

    storage: StorageSettings = StorageSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    ingest: IngestSettings = IngestSettings()
    vector_index: VectorIndexSettings = VectorIndexSettings()
    search: SearchSettings = SearchSettings()
    safety: SafetySettings = SafetySettings()
    crisis_response: CrisisResponseSettings = CrisisResponseSettings()
    suggestions: SuggestionSettings = SuggestionSettings()
    introductions: IntroductionSettings = IntroductionSettings()
    reports: ReportSettings = ReportSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def with_data_dir(self, data_dir: Path | None) -> Self:
        """A copy pointed at another data folder (the CLI's `--data-dir`)."""
        if data_dir is None:
            return self
        storage = self.storage.model_copy(update={"data_dir": data_dir})
        return self.model_copy(update={"storage": storage})


_KIND_WORDS = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text in quotes",
    "path_type": "must be a path in quotes",
    "model_type": "must be a table",
    "dict_type": "must be a table",
    "missing": "is required",
}


def _first_error(exc: ValidationError) -> str:
    """The first problem in plain words: `setting search.page_size must be at least 1 (it is 0)`."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "extra_forbidden":
        return (
            f"{where} is not a setting Kindred knows (check its spelling and its [table] "
            "against config.example.toml)"
        )
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        rule = f"must be {words} {ctx.get(key)}"
    elif kind == "literal_error":
        rule = f"must be {ctx.get('expected')}"
    else:
        rule = _KIND_WORDS.get(kind) or str(err["msg"]).replace("Input should be", "must be")
    shown = repr(value) if isinstance(value, str | int | float | bool) else ""
    return f"setting {where} {rule}" + (f" (it is {shown})" if shown and len(shown) < 60 else "")


SettingsT = TypeVar("SettingsT", bound=KindredSettings)


def parse_settings(
    raw: dict[str, Any],
    model: type[SettingsT] = KindredSettings,  # type: ignore[assignment]
    source: Path | None = None,
) -> SettingsT:
    """Validate a parsed TOML mapping; raise ConfigError naming the file and the first bad
    setting in plain words."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        prefix = f"{source}: " if source is not None else "invalid "
        raise ConfigError(prefix + _first_error(exc)) from exc


ADAPTER_TABLES = frozenset({"discord"})  # tables of config.example.toml that only bot/ reads


def load_settings(
    path: Path | None = None,
    model: type[SettingsT] = KindredSettings,  # type: ignore[assignment]
) -> SettingsT:
    """Load settings from `path`, `$KINDRED_CONFIG`, or `./kindred.toml`; else defaults."""
    explicit = path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    candidate = explicit or Path("kindred.toml")
    if not candidate.exists():
        if explicit is not None:
            via = f" (from ${CONFIG_ENV})" if path is None else ""
            raise ConfigError(f"config file {candidate}{via} does not exist")
        settings = model()
    else:
        try:
            raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"cannot read config file {candidate}: not valid TOML ({exc})"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"cannot read config file {candidate}: {reason}") from exc
        # One file serves the bot and the command line: a table only an adapter reads (the
        # bot's [discord]) is left to the model that has it, while any other unknown key fails.
        kept = {k: v for k, v in raw.items() if k in model.model_fields or k not in ADAPTER_TABLES}
        settings = parse_settings(kept, model, candidate)
    if os.environ.get(DATA_DIR_ENV):
        settings = settings.with_data_dir(Path(os.environ[DATA_DIR_ENV]))
    return settings
