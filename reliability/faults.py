"""Faults between the bot and its database, made for real (used by ``make reliability`` and
by the tests; the bot itself never imports this).

- ``StallRelay`` listens on 127.0.0.1 and forwards every connection to a PostgreSQL server.
  ``stall()`` makes it stop reading and forwarding in both directions without closing
  anything, as a partitioned network does (packets dropped, not refused); ``resume()`` lets
  the bytes flow again; ``refuse()`` resets every connection and refuses new ones, as a
  server that went away does.
- ``SQLiteLock`` is another process holding a SQLite file's write lock (``BEGIN EXCLUSIVE``)
  until it is released.
- ``ImmutableFiles`` makes files immutable (``chattr +i``, the ``FS_IOC_SETFLAGS`` ioctl): the
  kernel then refuses every write to them, root's included and through file descriptors
  opened before, which ``chmod`` does not do for root. ``immutable_files_unsupported`` says
  why a place cannot take the flag (a filesystem without it, no ``CAP_LINUX_IMMUTABLE``).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import os
import socket
import struct
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import make_url


class StallRelay:
    """A relay in front of a PostgreSQL server whose traffic a test can stall."""

    def __init__(self, target_url: str) -> None:
        url = make_url(target_url)
        self.target_host = url.host or "127.0.0.1"
        self.target_port = url.port or 5432
        self._target_url = url
        self._open = asyncio.Event()
        self._open.set()
        self._refusing = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def __aenter__(self) -> StallRelay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._open.set()
        if self._server is not None:
            self._server.close()
        self._drop_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """The target database's URL, reached through the relay."""
        relayed = self._target_url.set(host="127.0.0.1", port=self.port)
        return relayed.render_as_string(hide_password=False)

    def stall(self) -> None:
        """Stop reading and forwarding, both ways, closing nothing."""
        self._open.clear()

    def resume(self) -> None:
        self._refusing = False
        self._open.set()

    def refuse(self) -> None:
        """Reset every open connection and refuse new ones until ``resume()``."""
        self._refusing = True
        self._open.set()
        self._drop_all()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER 0: close with a reset, as a vanished server's host does.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.close()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            self._writers.add(writer)
            self._drop_all()
            return
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.close()
            return
        self._writers.update({writer, upstream_writer})
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._open.wait()
                data = await source.read(65536)
                if not data:
                    break
                await self._open.wait()
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(sink)
            sink.close()


_LOCK_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
connection.close()
"""


class SQLiteLock:
    """Another process that holds a SQLite database's write lock until ``release()``.

    In WAL mode (the bot's) an exclusive transaction blocks writers only: readers go on.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def hold(self) -> None:
        """Start the process; returns once it holds the lock."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _LOCK_HOLDER,
            str(self.path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), timeout=30)
        if line.strip() != b"locked":
            await self.release()
            raise RuntimeError(f"the lock holder did not take the lock on {self.path}")

    async def release(self) -> None:
        """Roll back and let the process end."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            assert process.stdin is not None
            with contextlib.suppress(ConnectionError):
                process.stdin.write(b"release\n")
                await process.stdin.drain()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()

    async def __aenter__(self) -> SQLiteLock:
        await self.hold()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


# linux/fs.h: FS_IOC_GETFLAGS, FS_IOC_SETFLAGS (the long-sized encodings every 64-bit
# kernel uses; the flags themselves are an int) and FS_IMMUTABLE_FL.
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_IMMUTABLE_FL = 0x00000010


def _set_immutable(path: Path, on: bool) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(descriptor, _FS_IOC_GETFLAGS, flags, True)
        flags[0] = flags[0] | _FS_IMMUTABLE_FL if on else flags[0] & ~_FS_IMMUTABLE_FL
        fcntl.ioctl(descriptor, _FS_IOC_SETFLAGS, flags, True)
    finally:
        os.close(descriptor)


def immutable_files_unsupported(folder: Path) -> str | None:
    """None when files in ``folder`` can be made immutable here, else why not."""
    if sys.platform != "linux":
        return f"immutable files need Linux's FS_IOC_SETFLAGS (this is {sys.platform})"
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".immutable-probe-") as probe:
        path = Path(probe.name)
        try:
            _set_immutable(path, True)
        except OSError as error:
            return f"chattr +i refused in {folder}: {os.strerror(error.errno or 0)}"
        try:
            with path.open("ab") as handle:
                handle.write(b"x")
        except PermissionError:
            refused = True
        else:
            refused = False
        finally:
            _set_immutable(path, False)
    if not refused:
        return f"an immutable file in {folder} could still be written"
    return None


class ImmutableFiles:
    """``chattr +i`` on some files until ``release()`` (or the end of the block)."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = [p for p in paths if p.exists()]
        self._done: list[Path] = []

    def hold(self) -> None:
        try:
            for path in self.paths:
                _set_immutable(path, True)
                self._done.append(path)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        while self._done:
            _set_immutable(self._done.pop(), False)

    def __enter__(self) -> ImmutableFiles:
        self.hold()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
