"""The bot itself: a ``commands.AutoShardedBot`` that owns its database and its command sync.

One process runs some or all of the shards (``SHARD_COUNT``, ``SHARD_IDS``); several such
processes, on one machine or many, share one PostgreSQL database as a cluster:

- ``SHARD_COUNT=auto`` (None) takes Discord's recommended count from ``GET /gateway/bot``,
  which is fetched in any case for ``session_start_limit`` and its ``max_concurrency``.
- On PostgreSQL every IDENTIFY waits for its turn in its rate-limit bucket (``shard_id %
  max_concurrency``), one per ``identify_interval`` (+ a margin) across all processes
  (``bot.services.gateway``): ``launch_shard`` waits before it connects, and
  ``before_identify_hook`` until the very moment (or, for a reconnect, the whole wait). On
  SQLite, one process, discord.py's own pause.
- Command sync at start-up only in the process that runs shard 0, through
  ``bot.services.command_sync.sync_once`` (one lock, one transaction, never by an older
  version than the one recorded).

The bot asks for no privileged intent, never lets a message ping anyone
(``AllowedMentions.none()``), and registers commands for guilds only. Beside the DynamicItem
classes its cogs register, it keeps one fallback that answers any other prefixed component
as expired (``bot.ui.expired_fallback``).
"""

from __future__ import annotations

import asyncio
import logging
import pkgutil
from typing import Any, cast

import discord
import yarl
from discord import app_commands
from discord.ext import commands

import cogs
from bot import __version__
from bot.announcements import AnnouncementCleaner
from bot.config import Settings
from bot.db import Database
from bot.db.errors import DatabaseError
from bot.db.types import utcnow
from bot.inputs import admit
from bot.reporting import ReportingTree
from bot.services import command_sync, gateway
from bot.services.command_sync import SyncOutcome
from bot.sync import fingerprint, local_payload
from bot.ui import ExpiredComponent, expired_fallback

log = logging.getLogger(__name__)

# Discord's pace: one IDENTIFY per rate-limit bucket every 5 seconds, for the application.
IDENTIFY_INTERVAL = 5.0
# Added to the interval across processes: an IDENTIFY goes out a little after its turn (an
# event loop's delay, a send), by a different amount in each process.
IDENTIFY_MARGIN = 0.5
# A turn missed by more than this is given up for the next one: later, the IDENTIFY could
# come too close to the turn after it.
IDENTIFY_LATE = IDENTIFY_MARGIN / 2
# How long before its turn a launching shard opens its connection (connect and HELLO).
IDENTIFY_LEAD = 1.0


def configure_endpoints(settings: Settings) -> None:
    """Send discord.py's HTTP and gateway traffic where the settings say (a proxy, the emulator).

    Both are process-wide class attributes of discord.py.
    """
    if settings.api_base_url is not None:
        discord.http.Route.BASE = settings.api_base_url
    if settings.gateway_url is not None:
        # discord.py calls .with_query() on it: it must be a yarl.URL, not a string.
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


def bulletin_intents() -> discord.Intents:
    """The gateway intents the bot asks for: none of them privileged."""
    intents = discord.Intents.none()
    intents.guilds = True  # guild and channel cache
    intents.moderation = True  # ban and unban events
    return intents


def extension_names() -> list[str]:
    """Every extension module in the ``cogs`` package, in a stable order."""
    return sorted(f"{cogs.__name__}.{m.name}" for m in pkgutil.iter_modules(cogs.__path__))


class BulletinTree(ReportingTree):
    """The command tree: input goes through ``bot.inputs`` first, errors to ``report_error``.

    ``interaction_check`` is discord.py's one hook that runs before it reads any option of a
    slash command or an autocomplete request.
    """

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await admit(interaction)


class Bulletin(commands.AutoShardedBot):
    """The Bulletin bot: cogs on top, ``self.db`` underneath."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        sync_on_start: bool = True,
        force_sync: bool = False,
        identify_interval: float = IDENTIFY_INTERVAL,
        **options: Any,
    ) -> None:
        """``identify_interval`` is Discord's; a test against an emulator that paces IDENTIFYs
        otherwise (or not at all) passes that emulator's."""
        if settings.shard_ids is not None:
            options.setdefault("shard_ids", list(settings.shard_ids))
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=bulletin_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=settings.shard_count,
            tree_cls=BulletinTree,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
            **options,
        )
        self.settings = settings
        self.announcements = AnnouncementCleaner()
        self.db = (
            db
            if db is not None
            else Database(
                settings.database_url,
                echo=settings.sql_echo,
                deadline=settings.database_deadline_seconds,
            )
        )
        self.sync_on_start = sync_on_start
        # For a Discord that forgets its commands between runs (the sandbox's emulator).
        self.force_sync = force_sync
        self.started_at = utcnow()
        self.identify_interval = identify_interval
        # From GET /gateway/bot, fetched when the shards are launched.
        self.recommended_shards: int | None = None
        self.max_concurrency = 1
        # Reserved IDENTIFY turns not used yet, per shard id, in event-loop time.
        self._turns: dict[int, float] = {}
        self._dynamic_items: dict[type[discord.ui.DynamicItem[discord.ui.Item[Any]]], None] = {}
        self._expired_fallback: type[ExpiredComponent] | None = None
        self._refresh_expired_fallback()

    def add_dynamic_items(self, *items: type[discord.ui.DynamicItem[discord.ui.Item[Any]]]) -> None:
        super().add_dynamic_items(*items)
        self._dynamic_items.update(dict.fromkeys(items))
        self._refresh_expired_fallback()

    def remove_dynamic_items(
        self, *items: type[discord.ui.DynamicItem[discord.ui.Item[Any]]]
    ) -> None:
        super().remove_dynamic_items(*items)
        for item in items:
            self._dynamic_items.pop(item, None)
        self._refresh_expired_fallback()

    def _refresh_expired_fallback(self) -> None:
        """Register a fallback whose template leaves out every item registered now."""
        if self._expired_fallback is not None:
            super().remove_dynamic_items(self._expired_fallback)
        self._expired_fallback = expired_fallback(self._dynamic_items)
        super().add_dynamic_items(self._expired_fallback)

    async def setup_hook(self) -> None:
        for name in extension_names():
            await self.load_extension(name)
        log.info("Loaded extensions: %s", ", ".join(extension_names()) or "none")
        if not self.sync_on_start:
            return
        if self.runs_shard_zero:
            await self.sync_commands_if_changed(force=self.force_sync)
        else:
            log.info("Commands are synced by the process that runs shard 0; not syncing here")

    @property
    def runs_shard_zero(self) -> bool:
        """Whether this process runs shard 0 (all shards, when ``shard_ids`` is not set)."""
        return self.shard_ids is None or 0 in self.shard_ids

    def sync_scope(self) -> discord.Object | None:
        """The guild commands go to at start-up (``DEV_GUILD_ID``), or None for global."""
        if self.settings.dev_guild_id is None:
            return None
        return discord.Object(id=self.settings.dev_guild_id)

    async def sync_commands_if_changed(self, *, force: bool = False) -> bool:
        """Upload the command tree only if it differs from what was last uploaded.

        With ``DEV_GUILD_ID`` the global commands are copied to that guild and synced there
        (where changes show at once); otherwise they are synced globally. Nothing is uploaded
        while another process syncs, or when a newer version recorded the last sync. Returns
        whether an upload happened; ``force`` uploads whatever was recorded. A failed upload
        is logged and the bot keeps running.
        """
        assert self.application_id is not None, "setup_hook runs after login"
        guild = self.sync_scope()
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        scope = guild.id if guild is not None else command_sync.GLOBAL_SCOPE
        where = f"guild {scope}" if guild is not None else "global"
        wanted = fingerprint(local_payload(self.tree, guild))

        async def upload() -> int:
            return len(await self.tree.sync(guild=guild))

        try:
            result = await command_sync.sync_once(
                self.db,
                self.application_id,
                scope,
                wanted,
                version=__version__,
                upload=upload,
                force=force,
            )
        except discord.HTTPException:
            log.exception("Syncing commands (%s) failed; the previous commands stay", where)
            return False
        if result.outcome is SyncOutcome.UPLOADED:
            log.info("Synced %d command(s) (%s)", result.uploaded, where)
        elif result.outcome is SyncOutcome.UNCHANGED:
            log.info("Commands unchanged since the last sync (%s); not syncing", where)
        elif result.outcome is SyncOutcome.NEWER_RECORDED:
            log.warning(
                "Commands (%s) were last synced by Bulletin %s, newer than this process's %s; "
                "not syncing (an older version must not replace them)",
                where,
                result.recorded_version,
                __version__,
            )
        else:
            log.info("Another process is syncing the commands (%s); not syncing here", where)
        return result.outcome is SyncOutcome.UPLOADED

    async def launch_shards(self) -> None:
        """Learn Discord's recommendation and limits, then launch as discord.py does.

        discord.py reads ``GET /gateway/bot`` only when no shard count is given, and then drops
        ``session_start_limit``; the IDENTIFY pace needs its ``max_concurrency`` either way.
        """
        if self.is_closed():
            return
        recommended, _url, limits = await self.http.get_bot_gateway()
        self.recommended_shards = recommended
        self.max_concurrency = max(1, int(limits.get("max_concurrency", 1)))
        # discord.py annotates it as int, though None (auto) is what it starts as here.
        if cast(int | None, self.shard_count) is None:
            self.shard_count = recommended
            log.info("SHARD_COUNT=auto: Discord recommends %d shard(s)", recommended)
        elif self.shard_count < recommended:
            log.warning(
                "SHARD_COUNT=%d is fewer than the %d shard(s) Discord recommends; Discord "
                "refuses a shard that would hold too many guilds (close code 4011)",
                self.shard_count,
                recommended,
            )
        mine = list(self.shard_ids or range(self.shard_count))
        remaining = int(limits.get("remaining", len(mine)))
        log.info(
            "Running shard(s) %s of %d; %d session start(s) left in Discord's daily allowance "
            "of %s; IDENTIFY buckets (max_concurrency): %d",
            mine,
            self.shard_count,
            remaining,
            limits.get("total", "?"),
            self.max_concurrency,
        )
        if remaining < len(mine):
            log.error(
                "Only %d session start(s) are left today for %d shard(s): Discord resets the "
                "token of a bot that IDENTIFYs past its allowance",
                remaining,
                len(mine),
            )
        await super().launch_shards()

    @property
    def paces_identifies_in_database(self) -> bool:
        """Whether IDENTIFY turns are shared through the database (PostgreSQL: a cluster)."""
        return not self.db.is_sqlite

    async def _reserve_turn(self, shard_id: int) -> float:
        """Reserve the shard's next IDENTIFY turn; when it comes, in event-loop time."""
        bucket = shard_id % self.max_concurrency
        spacing = self.identify_interval + IDENTIFY_MARGIN if self.identify_interval > 0 else 0.0
        try:
            wait = await gateway.reserve_identify(self.db, bucket, spacing)
        except DatabaseError as error:
            # Never IDENTIFY sooner than Discord allows just because the database is away.
            log.warning(
                "Could not reserve shard %s's IDENTIFY turn (%s); waiting %.1f s instead",
                shard_id,
                error,
                spacing,
            )
            wait = spacing
        if wait > IDENTIFY_LEAD:
            log.info("Shard %s IDENTIFYs in %.1f s (bucket %d's next turn)", shard_id, wait, bucket)
        return self.loop.time() + wait

    def _fresh_turn(self, shard_id: int) -> float | None:
        """The shard's reserved turn, unless it was missed (a connection slower than
        ``IDENTIFY_LEAD``, a launch that failed and is retried 5 s later)."""
        turn = self._turns.pop(shard_id, None)
        if turn is None or self.loop.time() > turn + IDENTIFY_LATE:
            return None
        return turn

    async def launch_shard(self, url: yarl.URL, shard_id: int, *, initial: bool = False) -> None:
        """Wait for the shard's turn before connecting: discord.py reads nothing from a
        connection while ``before_identify_hook`` waits, so the long wait happens here, and
        the connection opens ``IDENTIFY_LEAD`` seconds before the turn."""
        if self.paces_identifies_in_database:
            turn = self._fresh_turn(shard_id)
            if turn is None:
                turn = await self._reserve_turn(shard_id)
            early = turn - self.loop.time() - IDENTIFY_LEAD
            if early > 0:
                await asyncio.sleep(early)
            self._turns[shard_id] = turn
        await super().launch_shard(url, shard_id, initial=initial)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait for this shard's IDENTIFY turn, across every process of the deployment.

        A launch reserved it already (``launch_shard``); a shard that reconnects later, or
        IDENTIFYs again after an invalid session, reserves one now.
        """
        if not self.paces_identifies_in_database or shard_id is None:
            # SQLite means one process: discord.py's own 5 s pause between its IDENTIFYs.
            await super().before_identify_hook(shard_id, initial=initial)
            return
        turn = self._fresh_turn(shard_id)
        if turn is None:
            turn = await self._reserve_turn(shard_id)
        wait = turn - self.loop.time()
        if wait > 0:
            await asyncio.sleep(wait)

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info(
            "Ready as %s (id %s) in %d guild(s), shards %s of %s",
            self.user,
            self.user.id,
            len(self.guilds),
            sorted(self.shards),
            self.shard_count,
        )

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.db.close()
