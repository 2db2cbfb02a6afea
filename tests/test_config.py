"""Configuration: each value parsed and checked, one clear line for a bad one, the token never
shown; the command line's exit statuses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, ConfigError, load_settings, read_environment

ROOT = Path(__file__).resolve().parent.parent
# Made up, in the three dot-separated parts a token has (not shaped like a real one).
TOKEN = "fake-bot-token-for-tests.not-real.abcdefghijklmnopqrstuvwxyz0123456789"


def test_defaults() -> None:
    settings = load_settings({"DISCORD_TOKEN": TOKEN})
    assert settings.token == TOKEN
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.dev_guild_id is None
    assert (settings.log_level, settings.sql_echo) == ("INFO", False)
    assert (settings.shard_count, settings.shard_ids) == (None, None)  # auto
    assert settings.post_cooldown_seconds == 10.0
    assert (settings.api_base_url, settings.gateway_url) == (None, None)
    assert TOKEN not in repr(settings)


def test_every_value_parsed() -> None:
    settings = load_settings(
        {
            "DISCORD_TOKEN": TOKEN,
            "DATABASE_URL": "postgresql://bot:p%40ss@db.example:5432/bulletin",
            "DEV_GUILD_ID": "123456789012345678",
            "LOG_LEVEL": "debug",
            "SQL_ECHO": "true",
            "SHARD_COUNT": "4",
            "SHARD_IDS": "3, 1,1",
            "POST_COOLDOWN_SECONDS": "0",
            "DISCORD_API_BASE_URL": "http://127.0.0.1:8080/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:8080/",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://bot:p%40ss@db.example:5432/bulletin"
    assert settings.dev_guild_id == 123456789012345678
    assert (settings.log_level, settings.sql_echo) == ("DEBUG", True)
    assert (settings.shard_count, settings.shard_ids) == (4, (1, 3))
    assert settings.post_cooldown_seconds == 0
    assert settings.api_base_url == "http://127.0.0.1:8080/api/v10"
    assert settings.gateway_url == "ws://127.0.0.1:8080/"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "   "}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "only.two"}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "a..c"}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "a.b c.d"}, "DISCORD_TOKEN"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite+aiosqlite://"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite+aiosqlite:///:memory:"}, "DATABASE_URL"),
        ({"DEV_GUILD_ID": "abc"}, "DEV_GUILD_ID"),
        ({"DEV_GUILD_ID": "0"}, "DEV_GUILD_ID"),
        ({"DEV_GUILD_ID": str(2**64)}, "DEV_GUILD_ID"),
        ({"DEV_GUILD_ID": "²"}, "DEV_GUILD_ID"),
        ({"DEV_GUILD_ID": "١٢٣"}, "DEV_GUILD_ID"),
        ({"DEV_GUILD_ID": "9" * 5000}, "DEV_GUILD_ID"),
        ({"DEV_GUILD_ID": "+123"}, "DEV_GUILD_ID"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"SQL_ECHO": "maybe"}, "SQL_ECHO"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT"),
        ({"SHARD_COUNT": "two"}, "SHARD_COUNT"),
        ({"SHARD_COUNT": "²"}, "SHARD_COUNT"),
        ({"SHARD_COUNT": "9" * 5000}, "SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,¹"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "9" * 5000}, "SHARD_IDS"),
        ({"SHARD_IDS": "0"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "auto", "SHARD_IDS": "0"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "AUTO", "SHARD_IDS": "0,1"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "automatic"}, "SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,x"}, "SHARD_IDS"),
        ({"POST_COOLDOWN_SECONDS": "-1"}, "POST_COOLDOWN_SECONDS"),
        ({"POST_COOLDOWN_SECONDS": "soon"}, "POST_COOLDOWN_SECONDS"),
        ({"DISCORD_API_BASE_URL": "ftp://x"}, "DISCORD_API_BASE_URL"),
        ({"DISCORD_API_BASE_URL": "http://u:p@proxy/api/v10"}, "DISCORD_API_BASE_URL"),
        ({"DISCORD_GATEWAY_URL": "http://x/"}, "DISCORD_GATEWAY_URL"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], variable: str) -> None:
    source = {"DISCORD_TOKEN": TOKEN, **env}
    if variable == "DISCORD_TOKEN" and "DISCORD_TOKEN" not in env:
        source.pop("DISCORD_TOKEN")
    with pytest.raises(ConfigError) as caught:
        load_settings(source)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("written", ["auto", "Auto", " auto ", ""])
def test_shard_count_auto_asks_discord(written: str) -> None:
    settings = load_settings({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": written})
    assert (settings.shard_count, settings.shard_ids) == (None, None)


def test_an_explicit_shard_count_runs_every_shard_of_it() -> None:
    settings = load_settings({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "3"})
    assert (settings.shard_count, settings.shard_ids) == (3, None)


def test_shard_ids_with_auto_says_why() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "auto", "SHARD_IDS": "1"})
    assert "not auto" in str(caught.value)


def test_a_long_bad_value_is_shown_shortened() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"DISCORD_TOKEN": TOKEN, "DEV_GUILD_ID": "9" * 5000})
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("pasted", [f"Bot {TOKEN}", f"bot  {TOKEN}", f"Bot\t{TOKEN}"])
def test_a_token_pasted_with_its_bot_prefix_says_to_drop_it(pasted: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"DISCORD_TOKEN": pasted})
    assert str(caught.value) == (
        "DISCORD_TOKEN is malformed: drop the 'Bot ' in front, the token is what follows it"
    )


def test_token_optional_when_not_required() -> None:
    assert load_settings({}, require_token=False).token is None


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=DEBUG\nSQL_ECHO=1\n")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    values = read_environment(env_file)
    assert values["LOG_LEVEL"] == "WARNING"
    assert values["SQL_ECHO"] == "1"
    assert read_environment(tmp_path / "missing.env")["LOG_LEVEL"] == "WARNING"


def _run_bot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "DATABASE_", "DEV_GUILD", "SHARD_", "LOG_LEVEL"))
    }
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_token_exits_2_naming_discord_token(tmp_path: Path) -> None:
    result = _run_bot(cwd=tmp_path)
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _run_bot("sync", cwd=tmp_path).returncode == 2


def test_a_malformed_token_is_never_printed(tmp_path: Path) -> None:
    secret = "secret-part-one secret-part-two"
    result = _run_bot(cwd=tmp_path, DISCORD_TOKEN=secret)
    assert result.returncode == 2
    assert "DISCORD_TOKEN is malformed" in result.stderr
    assert "secret-part" not in result.stdout + result.stderr


def test_a_token_in_dotenv_is_read_and_never_printed(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nSHARD_COUNT=zero\n")
    result = _run_bot(cwd=tmp_path)
    assert result.returncode == 2
    assert "SHARD_COUNT" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("variable", ["DEV_GUILD_ID", "SHARD_COUNT"])
def test_a_non_ascii_digit_is_one_line_and_exit_2(tmp_path: Path, variable: str) -> None:
    result = _run_bot("migrate", cwd=tmp_path, **{variable: "²"})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"bulletin: configuration error: {variable} must be")


def test_migrate_needs_no_token(tmp_path: Path) -> None:
    result = _run_bot("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "bulletin.db").exists()  # the default, folder created


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    result = _run_bot(
        "migrate",
        cwd=tmp_path,
        DATABASE_URL="postgresql://nobody:hunter2@127.0.0.1:1/none",
    )
    assert result.returncode == 1
    assert "Database error at postgresql+asyncpg://nobody:***@127.0.0.1:1/none" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["²", "0", "-1", "9" * 5000, "9223372036854775808"])
def test_a_guild_option_that_is_no_id_is_refused_by_name(tmp_path: Path, value: str) -> None:
    for option in ("--guild", "--clear-guild"):
        result = _run_bot("sync", option, value, cwd=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].endswith(" is not a Discord id")
        assert len(result.stderr) < 1000


@pytest.mark.parametrize(
    "command", [("run",), ("sync",), ("sync", "--clear-guild", "123456789012345678")]
)
def test_an_unreachable_discord_is_not_called_a_database_error(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # Bound but not listening: every connection to it is refused, and no one else can take it.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        api = f"http://127.0.0.1:{port}/api/v10"
        result = _run_bot(*command, cwd=tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE_URL=api)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Database error" not in result.stderr
    assert f"Cannot reach Discord at {api} (DISCORD_API_BASE_URL): " in result.stderr
    assert f"Cannot connect to host 127.0.0.1:{port}" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_help_describes_the_commands(tmp_path: Path) -> None:
    result = _run_bot("--help", cwd=tmp_path)
    assert result.returncode == 0
    for word in ("run", "migrate", "sync"):
        assert word in result.stdout
    sync_help = _run_bot("sync", "--help", cwd=tmp_path)
    assert "--guild" in sync_help.stdout
    assert "--clear-guild" in sync_help.stdout
