"""``python -m bot sandbox`` for real: a subprocess runs the emulator, the bot and the chat.

Each run starts in a temporary directory, so ``data/sandbox.db`` and ``data/sandbox.log`` are
created there; a real-looking token and database URL in the environment and in ``.env`` must
be ignored.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox import default_world
from tools.sandbox_chat import (
    DATABASE_FILE,
    LOG_FILE,
    describe_data,
    remove_sqlite,
    sandbox_environment,
    sandbox_settings,
)

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[2]
FAKE_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake00.not-a-real-token-at-all"
EMULATOR_TOKEN = default_world().token

SCRIPT = """\
# A newcomer's first session.
/register name:Ann age:30
/post title:Hello there body:my first post
/post title:a: b body:"quoted body: kept"
/post title:three
/post title:four
/post title:five
/post title:six

/myposts
:click next
:as bob
/profile member:@alice
:as alice
:click previous
:complete /deletepost post:Hel
/post titel:oops
/deletepost post:1
"""
INVALID_LINE = SCRIPT.splitlines().index("/post titel:oops") + 1


def _environment(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    # What a real set-up has; the sandbox must use none of it.
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={FAKE_TOKEN}\nDEV_GUILD_ID=123456789012345678\n")
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": FAKE_TOKEN,
        "DATABASE_URL": "sqlite+aiosqlite:///real/bulletin.db",
        "POST_COOLDOWN_SECONDS": "0",
        "NO_COLOR": "1",
    }


def _sandbox(
    tmp_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", *args],
        cwd=tmp_path,
        env=_environment(tmp_path),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _after(output: str, prompt_line: str) -> str:
    """What was printed after one echoed line, up to the next echoed line or the summary."""
    rest = output.split(prompt_line + "\n", 1)[1]
    return re.split(r"^(?:\w+@\w+> |Ran \d+ line)", rest, maxsplit=1, flags=re.MULTILINE)[0]


def _check_clean(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> str:
    log = (tmp_path / "data" / "sandbox.log").read_text()
    for text in (result.stdout, result.stderr, log):
        assert "Traceback" not in text
        assert EMULATOR_TOKEN not in text
        assert FAKE_TOKEN not in text
        assert "\x1b[" not in text  # no colour codes when captured or in the log file
    assert result.stderr == ""
    assert "Sandbox stopped" in log
    assert "still running at exit" not in log
    assert not (tmp_path / "real").exists(), "DATABASE_URL from the environment was used"
    return log


def _check_session(output: str) -> None:
    assert "alice@alpha> /register name:Ann age:30" in output
    registered = _after(output, "alice@alpha> /register name:Ann age:30")
    assert "Bulletin  (only you can see this)" in registered
    assert "Welcome! This is your profile." in registered
    assert "┃ Ann" in registered
    assert "@alice" in registered
    assert "<@" not in output  # every mention is drawn as @name

    posted = _after(output, "alice@alpha> /post title:Hello there body:my first post")
    assert "Bulletin  in #general" in posted
    assert "┃ #1 · Hello there" in posted
    assert "┃ my first post" in posted
    assert "┃ #2 · a: b" in output
    assert "┃ quoted body: kept" in output

    page = _after(output, "alice@alpha> /myposts")
    assert "Page 1 of 2 · 7 posts" not in page  # six posts
    assert "Page 1 of 2 · 6 posts" in page
    assert "[ Previous (disabled) ] [ Next ]" in page
    assert "#6 · six" in page

    clicked = _after(output, "alice@alpha> :click next")
    assert "Page 2 of 2 · 6 posts" in clicked
    assert "#1 · Hello there" in clicked
    assert "[ Previous ] [ Next (disabled) ]" in clicked

    assert "You are now bob in alpha." in output
    seen_by_bob = _after(output, "bob@alpha> /profile member:@alice")
    assert "@alice" in seen_by_bob
    assert "Posts" in seen_by_bob
    assert "Age" not in seen_by_bob  # another member's age is private
    # Back as alice, her page of posts is still the reply her :click presses.
    back = _after(output, "alice@alpha> :click previous")
    assert "Page 1 of 2 · 6 posts" in back
    assert "[ Previous (disabled) ] [ Next ]" in back

    suggested = _after(output, "alice@alpha> :complete /deletepost post:Hel")
    assert "post:1" in suggested
    assert "#1 · Hello there" in suggested

    invalid = _after(output, "alice@alpha> /post titel:oops")
    assert invalid.strip() == "✗ there is no option 'titel' (options: title, body)"

    deleted = _after(output, "alice@alpha> /deletepost post:1")
    assert "Deleted post #1." in deleted
    assert f"Ran 16 lines: 1 failed (line {INVALID_LINE})." in output


def test_a_script_runs_against_the_real_bot_and_exits_1_for_the_invalid_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "session.txt").write_text(SCRIPT)
    result = _sandbox(tmp_path, "--script", "session.txt", "--fresh")
    _check_session(result.stdout)
    assert result.returncode == 1
    log = _check_clean(tmp_path, result)
    assert "Synced" in log
    assert (tmp_path / "data" / "sandbox.db").is_file()


def test_the_same_lines_piped_on_stdin(tmp_path: Path) -> None:
    # Not a terminal: the chat reads a script from stdin without being told.
    result = _sandbox(tmp_path, "--fresh", stdin=SCRIPT)
    _check_session(result.stdout)
    assert result.returncode == 1
    _check_clean(tmp_path, result)


def test_data_is_kept_between_runs_unless_fresh(tmp_path: Path) -> None:
    first = _sandbox(tmp_path, "--script", "-", stdin="/register name:Ann age:30\n")
    assert "Welcome! This is your profile." in first.stdout
    assert "Ran 1 line: all worked." in first.stdout
    assert first.returncode == 0

    again = _sandbox(tmp_path, "--script", "-", stdin="/register name:Ann age:30\n:quit\n/x\n")
    assert "You already have a profile here." in again.stdout
    assert "/x" not in again.stdout  # nothing runs after :quit
    assert again.returncode == 0

    fresh = _sandbox(tmp_path, "--fresh", "--script", "-", stdin="/register name:Ann age:30\n")
    assert "Welcome! This is your profile." in fresh.stdout
    assert fresh.returncode == 0
    _check_clean(tmp_path, fresh)


def test_help_explains_the_chat(tmp_path: Path) -> None:
    result = _sandbox(tmp_path, "--help")
    assert result.returncode == 0
    for text in ("--script", "--fresh", "--database", ":click Next", ":as bob"):
        assert text in result.stdout
    # The help is written in bot/cli.py, the paths are decided in tools/sandbox_chat.py.
    assert DATABASE_FILE.as_posix() in result.stdout
    assert LOG_FILE.as_posix() in result.stdout
    assert not (tmp_path / "data").exists()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a pseudo-terminal")
def test_the_interactive_chat_completes_with_tab_and_leaves_on_ctrl_d(tmp_path: Path) -> None:
    import pty

    env = _environment(tmp_path) | {"TERM": "dumb", "COLUMNS": "100"}
    pid, terminal = pty.fork()
    if pid == 0:  # the child: becomes the sandbox, on the pseudo-terminal
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.chdir(tmp_path)
        command = [sys.executable, "-m", "bot", "sandbox", "--fresh"]
        os.execve(sys.executable, command, env)  # noqa: S606 - exec in place, no shell wanted
    seen = b""

    def expect(text: str, *, after: int = 0, timeout: float = 20) -> int:
        """Read until ``text`` shows past offset ``after``; where it ends."""
        nonlocal seen
        deadline = time.monotonic() + timeout
        while text.encode() not in seen[after:]:
            assert time.monotonic() < deadline, f"never saw {text!r} in {seen.decode()!r}"
            ready, _, _ = select.select([terminal], [], [], 0.1)
            if ready:
                seen += os.read(terminal, 65536)
        return seen.index(text.encode(), after) + len(text)

    exited = False
    try:
        expect("Data: data/sandbox.db (emptied by --fresh;")
        expect("alice@alpha> ")
        os.write(terminal, b"/regi\t")
        expect("/register ")
        os.write(terminal, b"name:Ann age:30\r")
        answered = expect("Welcome! This is your profile.")
        # Ctrl-D means end of input only while the prompt is reading.
        expect("alice@alpha> ", after=answered)
        os.write(terminal, b"\x04")
        deadline = time.monotonic() + 20
        while (waited := os.waitpid(pid, os.WNOHANG))[0] == 0:
            assert time.monotonic() < deadline, "the sandbox did not exit on Ctrl-D"
            if select.select([terminal], [], [], 0.1)[0]:
                with contextlib.suppress(OSError):
                    seen += os.read(terminal, 65536)
        exited = True
        assert os.waitstatus_to_exitcode(waited[1]) == 0
    finally:
        if not exited:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)
    assert b"Traceback" not in seen


def test_the_sandbox_ignores_settings_that_point_at_real_things(tmp_path: Path) -> None:
    env = {
        "DISCORD_TOKEN": FAKE_TOKEN,
        "DISCORD_API_BASE_URL": "https://proxy.example/api/v10",
        "DEV_GUILD_ID": "123456789012345678",
        "DATABASE_URL": "postgresql://bulletin@db/bulletin",
        "SHARD_COUNT": "4",
        "POST_COOLDOWN_SECONDS": "3",
    }
    assert sandbox_environment(env) == {"POST_COOLDOWN_SECONDS": "3"}
    settings = sandbox_settings(env, None)
    assert settings.token is None
    assert settings.database_url == "sqlite+aiosqlite:///data/sandbox.db"
    assert settings.dev_guild_id is None
    assert settings.api_base_url is None
    assert settings.shard_count is None  # auto: the emulator decides, as Discord would
    assert settings.post_cooldown_seconds == 3
    other = sandbox_settings(env, "sqlite:///elsewhere.db")
    assert other.database_url == "sqlite+aiosqlite:///elsewhere.db"

    db = tmp_path / "x.db"
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).write_text("")
    assert remove_sqlite(f"sqlite+aiosqlite:///{db}")
    assert list(tmp_path.iterdir()) == []
    assert not remove_sqlite("postgresql+asyncpg://u@h/db")


def test_the_banner_says_what_happens_to_the_data() -> None:
    where = DATABASE_FILE.as_posix()
    assert describe_data(where, fresh=True, sqlite=True) == (
        "data/sandbox.db (emptied by --fresh; kept from now on)"
    )
    assert describe_data(where, fresh=False, sqlite=True) == (
        "data/sandbox.db (kept between runs; --fresh starts over)"
    )
    # --fresh cannot empty another database, so the banner does not offer it.
    assert describe_data("postgresql+asyncpg://u@h/db", fresh=False, sqlite=False) == (
        "postgresql+asyncpg://u@h/db (kept between runs)"
    )
