"""``python -m bot run`` as a real process against the emulator, and what it logged.

The process runs exactly as in production (its own migration child, its own logging to
stderr), configured through the environment. Every line it writes to stderr is kept; the
ones that say something went wrong inside the bot are picked out: records at ERROR or
CRITICAL, and tracebacks written outside any such record (an exception nobody logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import Emulator

ROOT = Path(__file__).resolve().parent.parent
# A record's first line, as discord.utils.setup_logging formats it: "[date time] [LEVEL   ]
# name: message", or in colour (it decides by the stream and by whether it runs in a
# container) "date time LEVEL    name message" once the colour codes are removed.
_RECORD = re.compile(
    r"^\[?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]? \[?(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\b"
)
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_SERIOUS = frozenset({"ERROR", "CRITICAL"})
TRACEBACK = "Traceback (most recent call last):"


# What Python itself writes to stderr before a traceback no logger saw.
_UNLOGGED = ("Exception ignored in", "Exception in thread", "Error in atexit", "Fatal Python error")


@dataclass
class LogProblems:
    """What a stream of log lines says went wrong.

    A problem is a record at ERROR or CRITICAL, or a traceback that Python wrote itself,
    outside logging ("Exception ignored in: …", "Exception in thread …", or one before any
    record). A traceback after a record's line belongs to that record (its exc_info). Lines
    are kept without colour codes.
    """

    lines: list[str] = field(default_factory=list)
    # Indexes into ``lines``: the first line of each problem.
    problems: list[int] = field(default_factory=list)
    _records: int = 0
    _last_text: str = ""  # the last line that was not blank

    def add(self, line: str) -> None:
        line = _COLOUR.sub("", line)
        index = len(self.lines)
        self.lines.append(line)
        record = _RECORD.match(line)
        if record is not None:
            self._records += 1
            if record["level"] in _SERIOUS:
                self.problems.append(index)
        elif line.startswith(TRACEBACK) and (
            self._records == 0 or self._last_text.startswith(_UNLOGGED)
        ):
            self.problems.append(index)
        if line.strip():
            self._last_text = line

    def since(self, mark: int) -> list[str]:
        """The problems logged since ``mark`` (a length of ``problems``), each as its first
        line, and the exception its traceback ended with, if any."""
        return [self.block(i) for i in self.problems[mark:]]

    def block(self, index: int) -> str:
        """A problem's first line and the last line of what follows it up to the next record."""
        end = index + 1
        while end < len(self.lines) and _RECORD.match(self.lines[end]) is None:
            end += 1
        last = self.lines[end - 1] if end - 1 > index else ""
        return self.lines[index] + (f" … {last.strip()}" if last.strip() else "")

    def text(self, index: int) -> str:
        """A problem's whole text, traceback included."""
        end = index + 1
        while end < len(self.lines) and _RECORD.match(self.lines[end]) is None:
            end += 1
        return "\n".join(self.lines[index:end])


class BotProcess:
    """One ``python -m bot run`` against ``emulator`` and ``database_url``."""

    def __init__(
        self, emulator: Emulator, database_url: str, environment: dict[str, str] | None = None
    ) -> None:
        self.emulator = emulator
        self.database_url = database_url
        self.environment = environment or {}
        self.log = LogProblems()
        self.process: asyncio.subprocess.Process | None = None
        self.ready_at: float | None = None  # time.monotonic() when the emulator saw it ready
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self, *, sessions: int, timeout: float = 60.0) -> None:  # noqa: ASYNC109 - a wait budget
        """Start the process; returns once the emulator has seen ``sessions`` READY sessions
        in all (restarts count), or raises with what the process wrote."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DEV_GUILD"))}
        env.update(
            DISCORD_TOKEN=self.emulator.token,
            DATABASE_URL=self.database_url,
            DISCORD_API_BASE_URL=self.emulator.api_url,
            DISCORD_GATEWAY_URL=self.emulator.gateway_url,
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
            **self.environment,
        )
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        ready = asyncio.create_task(self.emulator.wait_until_ready(sessions, timeout=timeout))
        ended = asyncio.create_task(self.process.wait())
        done, _ = await asyncio.wait({ready, ended}, return_when=asyncio.FIRST_COMPLETED)
        for task in (ready, ended):
            task.cancel()
        if ended in done:
            await self._drain()
            raise RuntimeError(
                f"the bot exited with status {self.process.returncode} before it was ready:\n"
                + "\n".join(self.log.lines[-30:])
            )
        if ready.cancelled() or ready.exception() is not None:
            await self.kill()
            raise RuntimeError("the bot did not become ready:\n" + "\n".join(self.log.lines[-30:]))
        self.ready_at = time.monotonic()

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        while True:
            raw = await self.process.stderr.readline()
            if not raw:
                return
            self.log.add(raw.decode(errors="replace").rstrip("\n"))

    async def _drain(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._reader, timeout=10)

    async def settle_log(self, seconds: float = 0.2) -> None:
        """Give lines already written a moment to be read."""
        await asyncio.sleep(seconds)

    async def stop(self) -> int:
        """SIGTERM, as an operator stops it; returns the exit status."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = await asyncio.wait_for(self.process.wait(), timeout=30)
        except TimeoutError:
            self.process.kill()
            status = await self.process.wait()
        await self._drain()
        return status

    async def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-whatever it was doing."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._drain()
