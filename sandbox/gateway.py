"""The gateway: a WebSocket speaking Discord's v10 protocol, with zlib-stream if asked.

HELLO, heartbeats, IDENTIFY (4004 for a wrong token), READY and one GUILD_CREATE
per guild the shard owns, RESUME with replay of missed dispatches, and dispatch of
events (INTERACTION_CREATE) to the shard owning the guild.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from sandbox.records import FROM_BOT, TO_BOT, GatewayFrame
from sandbox.snowflakes import shard_for
from sandbox.state import State

JSON = dict[str, Any]

DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

UNKNOWN_OPCODE = 4001
DECODE_ERROR = 4002
NOT_AUTHENTICATED = 4003
AUTHENTICATION_FAILED = 4004
ALREADY_AUTHENTICATED = 4005
INVALID_SHARD = 4010

REPLAY_BUFFER = 1000


class Connection:
    """One WebSocket: serialises sends so the zlib stream stays in order."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        # One compressor per connection, flushed with Z_SYNC_FLUSH per message: the
        # client keeps one inflater and waits for the 00 00 ff ff suffix.
        self.compressor = zlib.compressobj() if compress else None
        self.lock = asyncio.Lock()
        self.session: Session | None = None

    async def send(self, frame: JSON) -> bool:
        """Send one gateway message; False when the socket is gone."""
        text = json.dumps(frame, separators=(",", ":"))
        async with self.lock:
            if self.ws.closed:
                return False
            try:
                if self.compressor is not None:
                    data = self.compressor.compress(text.encode()) + self.compressor.flush(
                        zlib.Z_SYNC_FLUSH
                    )
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return False
        return True


@dataclass
class Session:
    """A gateway session: survives a dropped connection so the bot can RESUME."""

    id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    connection: Connection | None = None
    buffer: list[JSON] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    resumed: int = 0

    def owns(self, guild_id: int) -> bool:
        """Whether this session's shard receives the guild's events."""
        return shard_for(guild_id, self.shard_count) == self.shard_id


class Gateway:
    """Accepts gateway connections and dispatches events to sessions."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        # Every session that got READY and its GUILD_CREATEs, in order, disconnected ones included.
        self.identified: list[Session] = []
        self._changed = asyncio.Event()

    @property
    def url(self) -> str:
        """The ws:// URL of the gateway (also READY's resume_gateway_url)."""
        return self.state.base_url.replace("http://", "ws://", 1) + "/"

    # receiving

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one WebSocket connection until it closes."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = Connection(ws, compress=request.query.get("compress") == "zlib-stream")
        self.connections.add(connection)
        try:
            await self._send(
                connection,
                {
                    "op": HELLO,
                    "d": {"heartbeat_interval": self.state.settings.heartbeat_interval_ms},
                },
            )
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    await ws.close(code=DECODE_ERROR, message=b"Error while decoding payload.")
                    break
                await self._receive(connection, frame)
        finally:
            self.connections.discard(connection)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
            self._notify()
        return ws

    async def _receive(self, connection: Connection, frame: JSON) -> None:
        session = connection.session
        self._record(FROM_BOT, session.shard_id if session else None, frame)
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            await self._send(connection, {"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(connection, data if isinstance(data, dict) else {})
        elif op == RESUME:
            await self._resume(connection, data if isinstance(data, dict) else {})
        elif session is None and op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE, REQUEST_GUILD_MEMBERS):
            await connection.ws.close(code=NOT_AUTHENTICATED, message=b"Not authenticated.")
        elif op == REQUEST_GUILD_MEMBERS and session is not None:
            await self._members_chunk(session, data if isinstance(data, dict) else {})
        elif op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
            pass
        else:
            await connection.ws.close(code=UNKNOWN_OPCODE, message=b"Unknown opcode.")

    async def _identify(self, connection: Connection, data: JSON) -> None:
        if connection.session is not None:
            await connection.ws.close(code=ALREADY_AUTHENTICATED, message=b"Already authenticated.")
            return
        if data.get("token") != self.state.world.token:
            await connection.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        shard = data.get("shard") or [0, 1]
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(n, int) for n in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            await connection.ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        session = Session(
            id=secrets.token_hex(16),
            shard_id=shard[0],
            shard_count=shard[1],
            intents=int(data.get("intents") or 0),
            connection=connection,
        )
        connection.session = session
        self.sessions[session.id] = session
        world = self.state.world
        owned = [g for g in world.guilds if session.owns(g.id)]
        await self.dispatch(
            session,
            "READY",
            {
                "v": 10,
                "user": world.bot.payload() | {"verified": True, "mfa_enabled": False},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in owned],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.url,
                "shard": [session.shard_id, session.shard_count],
                "application": {"id": str(world.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "auth": {},
            },
        )
        for guild in owned:
            await self.dispatch(
                session, "GUILD_CREATE", guild.payload(joined_at=world.bot_member(guild).joined_at)
            )
        session.ready.set()
        self.identified.append(session)
        self._notify()

    async def _resume(self, connection: Connection, data: JSON) -> None:
        if data.get("token") != self.state.world.token:
            await connection.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        session = self.sessions.get(str(data.get("session_id")))
        if session is None:
            await self._send(connection, {"op": INVALID_SESSION, "d": False})
            return
        old = session.connection
        session.connection = connection
        connection.session = session
        if old is not None and old is not connection:
            await old.ws.close(code=WSCloseCode.GOING_AWAY)
        last = int(data.get("seq") or 0)
        for frame in [f for f in session.buffer if int(f["s"]) > last]:
            await self._send(connection, frame)
        session.resumed += 1
        await self.dispatch(session, "RESUMED", {})
        self._notify()

    async def _members_chunk(self, session: Session, data: JSON) -> None:
        try:
            guild = self.state.world.guild(int(data.get("guild_id") or 0))
        except (LookupError, ValueError):
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [m for m in guild.members if not wanted or m.id in wanted]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self.dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    # sending

    async def _send(self, connection: Connection, frame: JSON) -> bool:
        session = connection.session
        self._record(TO_BOT, session.shard_id if session else None, frame)
        return await connection.send(frame)

    def _record(self, direction: str, shard_id: int | None, frame: JSON) -> None:
        self.state.frames.append(
            GatewayFrame(
                direction=direction,
                shard_id=shard_id,
                op=frame.get("op"),
                t=frame.get("t"),
                s=frame.get("s"),
                d=frame.get("d"),
                at=time.time(),
            )
        )

    async def dispatch(self, session: Session, event: str, data: JSON) -> None:
        """Send a DISPATCH to a session, kept for replay if it is disconnected."""
        session.seq += 1
        frame: JSON = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.buffer.append(frame)
        del session.buffer[:-REPLAY_BUFFER]
        if session.connection is not None:
            await self._send(session.connection, frame)

    def session_for_guild(self, guild_id: int) -> Session | None:
        """The newest session whose shard owns the guild (connected ones first)."""
        owning = [s for s in self.sessions.values() if s.owns(guild_id)]
        connected = [s for s in owning if s.connection is not None]
        candidates = connected or owning
        return candidates[-1] if candidates else None

    async def dispatch_to_guild(self, guild_id: int, event: str, data: JSON) -> Session | None:
        """Dispatch to the shard owning the guild; None when no bot session owns it."""
        session = self.session_for_guild(guild_id)
        if session is not None:
            await self.dispatch(session, event, data)
        return session

    # control from tests

    def _notify(self) -> None:
        self._changed.set()

    async def wait_ready(self, count: int = 1, *, timeout: float = 10.0) -> list[Session]:  # noqa: ASYNC109 - a wait budget, not a cancel scope
        """Wait until `count` sessions in all have IDENTIFYed and had READY and their GUILD_CREATEs.

        Sessions count cumulatively, so after a bot restart ``count=2`` waits for the
        new one. Returns them in order.
        """
        async with asyncio.timeout(timeout):
            while len(self.identified) < count:
                self._changed.clear()
                await self._changed.wait()
        return list(self.identified)

    async def request_reconnect(self, shard_id: int = 0) -> None:
        """Send op 7 RECONNECT to a shard; the bot should come back with RESUME."""
        for session in list(self.sessions.values()):
            if session.shard_id == shard_id and session.connection is not None:
                await self._send(session.connection, {"op": RECONNECT, "d": None})

    async def invalidate_session(self, shard_id: int = 0, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION to a shard; non-resumable makes the bot IDENTIFY again."""
        for session in list(self.sessions.values()):
            if session.shard_id == shard_id and session.connection is not None:
                if not resumable:
                    del self.sessions[session.id]
                await self._send(session.connection, {"op": INVALID_SESSION, "d": resumable})

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for connection in list(self.connections):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")
