"""The gateway: a WebSocket speaking Discord's v10 protocol, with zlib-stream if asked.

HELLO, heartbeats (acknowledged after a short delay, as across a network), IDENTIFY (4004
for a wrong token), READY and one GUILD_CREATE per guild the shard owns, RESUME with replay
of missed dispatches, and dispatch of events (INTERACTION_CREATE) to the shard owning the
guild.

The resilience paths discord.py has are reachable too: op 7 RECONNECT (the bot
resumes at READY's resume_gateway_url, served at ``/resume/``), op 9 INVALID_SESSION,
4009 for a connection that stops heartbeating, and "zombie" connections that stop
answering heartbeats so the client's own zombie detection has to reconnect.
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

from sandbox.records import FROM_BOT, TO_BOT, GatewayConnection, GatewayFrame
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
SESSION_TIMED_OUT = 4009
INVALID_SHARD = 4010
SHARDING_REQUIRED = 4011
DISALLOWED_INTENTS = 4014

# Gateway intents (IDENTIFY's ``intents`` bits) that decide which events a session receives.
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1  # privileged
GUILD_MODERATION = 1 << 2  # discord.py's Intents.moderation (formerly "bans")
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15  # privileged
GUILD_PRESENCES = 1 << 8  # privileged
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
INTENT_NAMES = {
    "members": GUILD_MEMBERS,
    "presences": GUILD_PRESENCES,
    "message_content": MESSAGE_CONTENT,
}
SESSION_START_WINDOW = 24 * 3600.0

REPLAY_BUFFER = 1000
RESUME_PATH = "/resume/"
SERVER = "server"
BOT = "bot"


class Connection:
    """One WebSocket: serialises sends so the zlib stream stays in order."""

    def __init__(self, ws: web.WebSocketResponse, record: GatewayConnection) -> None:
        self.ws = ws
        self.record = record
        # One compressor per connection, flushed with Z_SYNC_FLUSH per message: the
        # client keeps one inflater and waits for the 00 00 ff ff suffix.
        self.compressor = zlib.compressobj() if record.compress == "zlib-stream" else None
        self.lock = asyncio.Lock()
        self.session: Session | None = None
        self.last_heartbeat = time.monotonic()
        self.server_closing: asyncio.Task[None] | None = None
        self.pending_acks: set[asyncio.Task[None]] = set()

    @property
    def zombie(self) -> bool:
        """A dead link: nothing reaches the client, not even heartbeat ACKs."""
        return self.record.zombie

    async def send(self, frame: JSON) -> bool:
        """Send one gateway message; False when the socket is gone (or a zombie)."""
        text = json.dumps(frame, separators=(",", ":"))
        async with self.lock:
            if self.ws.closed or self.zombie:
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
        # When each rate-limit bucket (shard_id % max_concurrency) last IDENTIFYed (monotonic).
        self.bucket_identified: dict[int, float] = {}
        # Wall-clock times of the IDENTIFYs that started a session, for session_start_limit.
        self.session_starts: list[float] = []
        self.refused_identifies = 0

    @property
    def url(self) -> str:
        """The ws:// URL of the gateway (DEFAULT_GATEWAY)."""
        return self.state.base_url.replace("http://", "ws://", 1) + "/"

    @property
    def resume_url(self) -> str:
        """READY's resume_gateway_url: the same server under another path, so a test can
        tell a resume that followed it from one that went back to the default gateway."""
        return self.state.base_url.replace("http://", "ws://", 1) + RESUME_PATH

    def recommended_shards(self) -> int:
        """What GET /gateway/bot recommends: at least ``shard_count``, and the fewest shards
        none of which holds more than ``max_guilds_per_shard`` guilds."""
        settings = self.state.settings
        per_shard = max(settings.max_guilds_per_shard, 1)
        ids = [g.id for g in self.state.world.guilds]
        count = max(settings.shard_count, -(-len(ids) // per_shard), 1)
        while count < len(ids) and max(self.shard_loads(count)) > per_shard:
            count += 1
        return count

    def shard_loads(self, shard_count: int) -> list[int]:
        """How many guilds each of `shard_count` shards would hold."""
        loads = [0] * shard_count
        for guild in self.state.world.guilds:
            loads[shard_for(guild.id, shard_count)] += 1
        return loads

    def session_start_limit(self) -> JSON:
        """GET /gateway/bot's ``session_start_limit``: IDENTIFYs left in the 24 h window."""
        settings = self.state.settings
        now = time.time()
        recent = [t for t in self.session_starts if now - t < SESSION_START_WINDOW]
        reset_after = SESSION_START_WINDOW - (now - recent[0]) if recent else SESSION_START_WINDOW
        return {
            "total": settings.session_start_total,
            "remaining": max(settings.session_start_total - len(recent), 0),
            "reset_after": int(reset_after * 1000),
            "max_concurrency": settings.max_concurrency,
        }

    def heartbeat_timeout(self) -> float | None:
        """Seconds without a heartbeat after which a connection is closed with 4009."""
        settings = self.state.settings
        if settings.heartbeat_timeout_factor <= 0:
            return None
        return settings.heartbeat_interval_ms / 1000 * settings.heartbeat_timeout_factor

    # receiving

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one WebSocket connection until it closes."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        record = GatewayConnection(
            number=len(self.state.connections) + 1,
            path=request.path,
            compress=request.query.get("compress"),
            opened_at=time.time(),
        )
        self.state.connections.append(record)
        connection = Connection(ws, record)
        self.connections.add(connection)
        watchdog = asyncio.create_task(self._watch_heartbeats(connection))
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
                    await self._close(connection, DECODE_ERROR, "Error while decoding payload.")
                    break
                await self._receive(connection, frame)
        finally:
            helpers = [watchdog, *connection.pending_acks]
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if connection.server_closing is not None:
                # A close started from another task waits for the client's answer; let it
                # finish rather than cut the handshake short.
                with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
                    await connection.server_closing
            self.connections.discard(connection)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
            record.closed_at = time.time()
            if record.closed_by is None:
                record.closed_by = BOT
                record.close_code = ws.close_code
            self._notify()
        return ws

    async def _close(self, connection: Connection, code: int, message: str) -> None:
        """Close a connection from the server side, noting the code."""
        record = connection.record
        if record.closed_by is None and not connection.ws.closed:
            record.closed_by = SERVER
            record.close_code = code
        with contextlib.suppress(ConnectionError, RuntimeError):
            await connection.ws.close(code=code, message=message.encode())

    def _close_elsewhere(self, connection: Connection, code: int, message: str) -> None:
        """Close a connection whose own task is busy reading; its handler awaits the close."""
        if connection.server_closing is None:
            connection.server_closing = asyncio.create_task(self._close(connection, code, message))

    async def _watch_heartbeats(self, connection: Connection) -> None:
        """Discord's side of heartbeating: silence for too long ends the session with 4009."""
        timeout = self.heartbeat_timeout()
        if timeout is None:
            return
        while not connection.ws.closed:
            left = connection.last_heartbeat + timeout - time.monotonic()
            if left > 0:
                await asyncio.sleep(left)
                continue
            session = connection.session
            if session is not None:
                # The session is gone with the connection: a RESUME gets op 9 false.
                self.sessions.pop(session.id, None)
            self._close_elsewhere(connection, SESSION_TIMED_OUT, "Session timed out.")
            return

    async def _receive(self, connection: Connection, frame: JSON) -> None:
        session = connection.session
        self._record(FROM_BOT, session.shard_id if session else None, frame)
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            connection.last_heartbeat = time.monotonic()
            connection.record.heartbeats += 1
            # Later, from a task of its own, so the connection goes on reading meanwhile. A
            # zombie link swallows the ACK (_send drops it): the client's own zombie
            # detection is what must notice.
            ack = asyncio.create_task(self._acknowledge(connection))
            connection.pending_acks.add(ack)
            ack.add_done_callback(connection.pending_acks.discard)
        elif op == IDENTIFY:
            await self._identify(connection, data if isinstance(data, dict) else {})
        elif op == RESUME:
            await self._resume(connection, data if isinstance(data, dict) else {})
        elif session is None and op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE, REQUEST_GUILD_MEMBERS):
            await self._close(connection, NOT_AUTHENTICATED, "Not authenticated.")
        elif op == REQUEST_GUILD_MEMBERS and session is not None:
            await self._members_chunk(session, data if isinstance(data, dict) else {})
        elif op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
            pass
        else:
            await self._close(connection, UNKNOWN_OPCODE, "Unknown opcode.")

    async def _acknowledge(self, connection: Connection) -> None:
        """HEARTBEAT_ACK after the configured delay (``Settings.heartbeat_ack_delay``)."""
        await asyncio.sleep(self.state.settings.heartbeat_ack_delay)
        await self._send(connection, {"op": HEARTBEAT_ACK})

    async def _authenticate(self, connection: Connection, data: JSON) -> bool:
        """IDENTIFY and RESUME alike: a connection authenticates once, with the bot's token."""
        if connection.session is not None:
            await self._close(connection, ALREADY_AUTHENTICATED, "Already authenticated.")
            return False
        if data.get("token") != self.state.world.token:
            await self._close(connection, AUTHENTICATION_FAILED, "Authentication failed.")
            return False
        return True

    async def _identify(self, connection: Connection, data: JSON) -> None:
        if not await self._authenticate(connection, data):
            return
        shard = data.get("shard") or [0, 1]
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(n, int) for n in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            await self._close(connection, INVALID_SHARD, "Invalid shard.")
            return
        if not await self._identify_allowed(connection, data, shard):
            return
        session = Session(
            id=secrets.token_hex(16),
            shard_id=shard[0],
            shard_count=shard[1],
            intents=int(data.get("intents") or 0),
            connection=connection,
        )
        connection.session = session
        connection.record.shard_id = session.shard_id
        connection.record.session_id = session.id
        connection.record.identified = True
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
                "resume_gateway_url": self.resume_url,
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

    async def _identify_allowed(self, connection: Connection, data: JSON, shard: list[int]) -> bool:
        """Discord's gates on an IDENTIFY: privileged intents, guilds per shard, the rate limit."""
        settings = self.state.settings
        try:
            intents = int(data.get("intents") or 0)
        except (TypeError, ValueError):
            intents = 0
        if intents & PRIVILEGED_INTENTS & ~settings.privileged_intents:
            await self._close(connection, DISALLOWED_INTENTS, "Disallowed intent(s).")
            return False
        shard_id, shard_count = shard
        if self.shard_loads(shard_count)[shard_id] > settings.max_guilds_per_shard:
            await self._close(connection, SHARDING_REQUIRED, "Sharding required.")
            return False
        bucket = shard_id % max(settings.max_concurrency, 1)
        now = time.monotonic()
        last = self.bucket_identified.get(bucket)
        if last is not None and now - last < settings.identify_interval:
            # Too early for its bucket: Discord answers with an invalid session, not a close.
            self.refused_identifies += 1
            await self._send(connection, {"op": INVALID_SESSION, "d": False})
            return False
        self.bucket_identified[bucket] = now
        self.session_starts.append(time.time())
        return True

    async def _resume(self, connection: Connection, data: JSON) -> None:
        if not await self._authenticate(connection, data):
            return
        session = self.sessions.get(str(data.get("session_id")))
        try:
            last = int(data.get("seq") or 0)
        except (TypeError, ValueError):
            last = -1
        oldest = int(session.buffer[0]["s"]) if session is not None and session.buffer else 1
        if session is None or not oldest - 1 <= last <= session.seq:
            # Unknown, invalidated or timed-out session, or a sequence the replay buffer
            # cannot bridge: Discord answers "start over" (op 9, not resumable).
            if session is not None:
                self.sessions.pop(session.id, None)
            await self._send(connection, {"op": INVALID_SESSION, "d": False})
            return
        old = session.connection
        session.connection = connection
        connection.session = session
        record = connection.record
        record.shard_id = session.shard_id
        record.session_id = session.id
        record.resumed = True
        if old is not None and old is not connection:
            self._close_elsewhere(old, WSCloseCode.GOING_AWAY, "Resumed elsewhere.")
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
        if connection.zombie:
            # Lost on a dead link: not recorded as sent. Dispatches stay in the
            # session's buffer, so the RESUME that follows replays them.
            return False
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
        self.state.notify()

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

    async def dispatch_to_guild(
        self, guild_id: int, event: str, data: JSON, *, intent: int | None = None
    ) -> Session | None:
        """Dispatch to the shard owning the guild; None when nothing was sent.

        With `intent`, only a session that IDENTIFYed with that intent bit gets the
        event, as on Discord (a bot without GUILD_MODERATION hears of no ban).
        """
        session = self.session_for_guild(guild_id)
        if session is None or (intent is not None and not session.intents & intent):
            return None
        await self.dispatch(session, event, data)
        return session

    # control from tests

    def _notify(self) -> None:
        self.state.notify()

    async def wait_ready(self, count: int = 1, *, timeout: float = 10.0) -> list[Session]:  # noqa: ASYNC109 - a wait budget, not a cancel scope
        """Wait until `count` sessions in all have IDENTIFYed and had READY and their GUILD_CREATEs.

        Sessions count cumulatively, so after a bot restart ``count=2`` waits for the
        new one. Returns them in order.
        """
        await self.state.wait_until(lambda: len(self.identified) >= count, timeout=timeout)
        return list(self.identified)

    def resumes(self, shard_id: int) -> int:
        """How many RESUMEs of that shard's sessions succeeded, in all."""
        return sum(s.resumed for s in self.identified if s.shard_id == shard_id)

    async def wait_resumed(
        self,
        shard_id: int = 0,
        count: int = 1,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> Session:
        """Wait until that shard has resumed `count` times in all; returns the session."""
        await self.state.wait_until(lambda: self.resumes(shard_id) >= count, timeout=timeout)
        return [s for s in self.identified if s.shard_id == shard_id and s.resumed][-1]

    def _live(self, shard_id: int) -> list[Connection]:
        return [
            c
            for c in self.connections
            if c.session is not None
            and c.session.shard_id == shard_id
            and c.session.connection is c
            and not c.ws.closed
        ]

    async def request_reconnect(self, shard_id: int = 0) -> None:
        """Send op 7 RECONNECT to a shard; the bot should come back with RESUME."""
        for connection in self._live(shard_id):
            await self._send(connection, {"op": RECONNECT, "d": None})

    async def invalidate_session(self, shard_id: int = 0, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION to a shard; non-resumable makes the bot IDENTIFY again."""
        for connection in self._live(shard_id):
            session = connection.session
            if not resumable and session is not None:
                self.sessions.pop(session.id, None)
            await self._send(connection, {"op": INVALID_SESSION, "d": resumable})

    async def request_heartbeat(self, shard_id: int = 0) -> None:
        """Send op 1 HEARTBEAT to a shard: Discord asking for a heartbeat at once."""
        for connection in self._live(shard_id):
            await self._send(connection, {"op": HEARTBEAT, "d": None})

    def stall_heartbeat_acks(self, shard_id: int = 0) -> list[GatewayConnection]:
        """Turn the shard's current connection into a zombie: no ACK, no frame reaches it.

        The session lives on and its dispatches are buffered; the connection the
        client opens next is healthy again. Returns the stalled connections' records.
        """
        stalled = []
        for connection in self._live(shard_id):
            connection.record.zombie = True
            stalled.append(connection.record)
        self._notify()
        return stalled

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for connection in list(self.connections):
            await self._close(connection, WSCloseCode.GOING_AWAY, "Server shutdown")
