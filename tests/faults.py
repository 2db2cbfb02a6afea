"""Faults between the bot and its database, made for real: a TCP relay that can stall.

``StallRelay`` listens on 127.0.0.1 and forwards every connection to a PostgreSQL server.
``stall()`` makes it stop reading and forwarding in both directions without closing
anything, as a partitioned network does (packets dropped, not refused); ``resume()`` lets the
bytes flow again; ``refuse()`` resets every connection and refuses new ones, as a server that
went away does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

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
