"""Configuration: read from the environment and ``.env``, checked once, frozen.

Every value can be wrong, so each one is parsed here and a bad one raises ``ConfigError``
naming the variable in one sentence; ``python -m bot`` prints it and exits with status 2. The
token is never part of any message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.parsing import NumberError, parse_int, parse_snowflake

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/bulletin.db"
# Far above what the largest bots run; a typo with extra digits should not start a million shards.
SHARD_COUNT_MAX = 65_536
AUTO = "auto"
_SHOWN_MAX = 40
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
# Operators paste URLs from hosting dashboards; map the plain schemes to the async drivers.
_DRIVER_FOR_SCHEME = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class ConfigError(Exception):
    """A configuration value is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment, already checked."""

    token: str | None = field(default=None, repr=False)
    database_url: str = DEFAULT_DATABASE_URL
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    sql_echo: bool = False
    # None: as many as Discord recommends (GET /gateway/bot), all run by this process.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    post_cooldown_seconds: float = 10.0
    confirm_timeout_seconds: float = 120.0
    defer_after_seconds: float = 1.5
    database_deadline_seconds: float = 2.0
    tempban_check_seconds: float = 30.0
    api_base_url: str | None = None
    gateway_url: str | None = None

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]


def _shown(raw: str) -> str:
    """A bad value as a message shows it: quoted, and cut short if it is long."""
    return repr(raw if len(raw) <= _SHOWN_MAX else raw[:_SHOWN_MAX] + "…")


def _text(env: Mapping[str, str | None], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _check_token(raw: str | None) -> str:
    if raw is None or not raw.strip():
        raise ConfigError(
            "DISCORD_TOKEN",
            "is not set: put the bot token from the Discord developer portal in .env",
        )
    words = raw.split()
    if len(words) > 1 and words[0].casefold() == "bot":
        # Copied from an Authorization header; discord.py adds "Bot " itself.
        raise ConfigError(
            "DISCORD_TOKEN",
            "is malformed: drop the 'Bot ' in front, the token is what follows it",
        )
    if any(ch.isspace() for ch in raw):
        raise ConfigError("DISCORD_TOKEN", "is malformed: it contains whitespace")
    parts = raw.split(".")
    if len(parts) != 3 or not all(parts):
        raise ConfigError(
            "DISCORD_TOKEN", "is malformed: a bot token has three dot-separated parts"
        )
    return raw


def _database_url(raw: str | None) -> str:
    if raw is None:
        return DEFAULT_DATABASE_URL
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL",
            "is not a database URL (expected e.g. sqlite+aiosqlite:///data/bulletin.db)",
        ) from None
    driver = _DRIVER_FOR_SCHEME.get(url.drivername)
    if driver is None:
        raise ConfigError(
            "DATABASE_URL",
            f"uses {url.drivername!r}; Bulletin supports sqlite+aiosqlite and postgresql+asyncpg",
        )
    url = url.set(drivername=driver)
    if driver.startswith("sqlite") and url.database in (None, "", ":memory:"):
        raise ConfigError("DATABASE_URL", "must name a SQLite file, not an in-memory database")
    return url.render_as_string(hide_password=False)


def _snowflake(name: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return parse_snowflake(raw)
    except NumberError:
        raise ConfigError(
            name, f"must be a Discord id (a positive whole number), not {_shown(raw)}"
        ) from None


def _log_level(raw: str | None) -> str:
    if raw is None:
        return "INFO"
    level = raw.upper()
    if level not in _LOG_LEVELS:
        raise ConfigError(
            "LOG_LEVEL", f"must be one of {', '.join(_LOG_LEVELS)}, not {_shown(raw)}"
        )
    return level


def _flag(name: str, raw: str | None) -> bool:
    value = (raw or "").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(name, f"must be 1 or 0 (true or false), not {_shown(raw or '')}")


def _shards(
    count_raw: str | None, ids_raw: str | None
) -> tuple[int | None, tuple[int, ...] | None]:
    """``SHARD_COUNT`` (``auto``, the default, is None) and ``SHARD_IDS``."""
    count: int | None = None
    if count_raw is not None and count_raw.lower() != AUTO:
        try:
            count = parse_int(count_raw, minimum=1, maximum=SHARD_COUNT_MAX)
        except NumberError:
            raise ConfigError(
                "SHARD_COUNT",
                f"must be auto or a whole number from 1 to {SHARD_COUNT_MAX}, "
                f"not {_shown(count_raw)}",
            ) from None
    if ids_raw is None:
        return count, None
    if count is None:
        # discord.py refuses shard_ids without a count, and rightly: which guilds a shard id
        # holds depends on the total, which must not change under a running cluster.
        raise ConfigError(
            "SHARD_IDS",
            "needs a SHARD_COUNT that is a number, not auto: a shard id only means something "
            "out of a fixed total",
        )
    ids: set[int] = set()
    for part in ids_raw.split(","):
        try:
            ids.add(parse_int(part.strip(), maximum=count - 1))
        except NumberError:
            raise ConfigError(
                "SHARD_IDS",
                "must be a comma-separated list of shard ids from 0 to "
                f"{count - 1}, not {_shown(ids_raw)}",
            ) from None
    return count, tuple(sorted(ids))


def _seconds(name: str, raw: str | None, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number of seconds, not {_shown(raw)}") from None
    if not 0 <= value <= 86_400:
        raise ConfigError(name, f"must be between 0 and 86400 seconds, not {_shown(raw)}")
    return value


def _confirm_timeout(raw: str | None) -> float:
    value = _seconds("CONFIRM_TIMEOUT_SECONDS", raw, 120.0)
    # Confirmation buttons must not stay live for long: at most ten minutes.
    if not 0 < value <= 600:
        raise ConfigError(
            "CONFIRM_TIMEOUT_SECONDS",
            f"must be more than 0 and at most 600, not {_shown(str(raw))}",
        )
    return value


def _defer_after(raw: str | None) -> float:
    value = _seconds("DEFER_AFTER_SECONDS", raw, 1.5)
    # Discord's deadline is 3 s from its side; a deferral later than 2.5 s risks missing it.
    if value > 2.5:
        raise ConfigError("DEFER_AFTER_SECONDS", f"must be at most 2.5 seconds, not {raw!r}")
    return value


def _database_deadline(raw: str | None) -> float:
    value = _seconds("DATABASE_DEADLINE_SECONDS", raw, 2.0)
    # Autocomplete shares it and must answer within Discord's 3 seconds.
    if not 0.1 <= value <= 2.5:
        raise ConfigError(
            "DATABASE_DEADLINE_SECONDS", f"must be between 0.1 and 2.5 seconds, not {raw!r}"
        )
    return value


def _tempban_check(raw: str | None) -> float:
    value = _seconds("TEMPBAN_CHECK_SECONDS", raw, 30.0)
    if not 1 <= value <= 3600:
        raise ConfigError(
            "TEMPBAN_CHECK_SECONDS", f"must be between 1 and 3600 seconds, not {raw!r}"
        )
    return value


def _endpoint(name: str, raw: str | None, schemes: tuple[str, ...]) -> str | None:
    if raw is None:
        return None
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme not in schemes or not rest or any(ch.isspace() for ch in raw):
        raise ConfigError(name, f"must be a {' or '.join(schemes)} URL, not {_shown(raw)}")
    if name != "DISCORD_API_BASE_URL":
        return raw
    # discord.py sends the token in an Authorization header, and aiohttp refuses every
    # request that has one and credentials in the URL as well.
    if "@" in rest.partition("/")[0]:
        raise ConfigError(name, "must not contain a user name or password (user:pass@)")
    return raw.rstrip("/")


def read_environment(env_file: str | Path | None = ".env") -> dict[str, str | None]:
    """The process environment over the values in ``env_file`` (the environment wins)."""
    values: dict[str, str | None] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update(dotenv_values(env_file))
    values.update(os.environ)
    return values


def load_settings(
    env: Mapping[str, str | None] | None = None, *, require_token: bool = True
) -> Settings:
    """Check and freeze the configuration; raises ConfigError on the first bad value."""
    source = read_environment() if env is None else env
    shard_count, shard_ids = _shards(_text(source, "SHARD_COUNT"), _text(source, "SHARD_IDS"))
    raw_token = source.get("DISCORD_TOKEN")
    return Settings(
        token=_check_token(raw_token) if require_token else (raw_token or None),
        database_url=_database_url(_text(source, "DATABASE_URL")),
        dev_guild_id=_snowflake("DEV_GUILD_ID", _text(source, "DEV_GUILD_ID")),
        log_level=_log_level(_text(source, "LOG_LEVEL")),
        sql_echo=_flag("SQL_ECHO", _text(source, "SQL_ECHO")),
        shard_count=shard_count,
        shard_ids=shard_ids,
        post_cooldown_seconds=_seconds(
            "POST_COOLDOWN_SECONDS", _text(source, "POST_COOLDOWN_SECONDS"), 10.0
        ),
        confirm_timeout_seconds=_confirm_timeout(_text(source, "CONFIRM_TIMEOUT_SECONDS")),
        defer_after_seconds=_defer_after(_text(source, "DEFER_AFTER_SECONDS")),
        database_deadline_seconds=_database_deadline(_text(source, "DATABASE_DEADLINE_SECONDS")),
        tempban_check_seconds=_tempban_check(_text(source, "TEMPBAN_CHECK_SECONDS")),
        api_base_url=_endpoint(
            "DISCORD_API_BASE_URL", _text(source, "DISCORD_API_BASE_URL"), ("http", "https")
        ),
        gateway_url=_endpoint(
            "DISCORD_GATEWAY_URL", _text(source, "DISCORD_GATEWAY_URL"), ("ws", "wss")
        ),
    )
