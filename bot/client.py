"""The bot itself: a ``commands.AutoShardedBot`` that owns its database and its command sync.

One process may run several shards (``SHARD_COUNT``/``SHARD_IDS``), so scaling out later needs
no change here. The bot asks for no privileged intent, never lets a message ping anyone
(``AllowedMentions.none()``), and registers commands for guilds only. Beside the DynamicItem
classes its cogs register, it keeps one fallback that answers any other prefixed component
as expired (``bot.ui.expired_fallback``).
"""

from __future__ import annotations

import logging
import pkgutil
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

import cogs
from bot.announcements import AnnouncementCleaner
from bot.config import Settings
from bot.db import Database
from bot.db.types import utcnow
from bot.inputs import admit
from bot.reporting import ReportingTree
from bot.services import command_sync
from bot.sync import fingerprint, local_payload
from bot.ui import ExpiredComponent, expired_fallback

log = logging.getLogger(__name__)


def configure_endpoints(settings: Settings) -> None:
    """Send discord.py's HTTP and gateway traffic where the settings say (a proxy, the emulator).

    Both are process-wide class attributes of discord.py.
    """
    if settings.api_base_url is not None:
        discord.http.Route.BASE = settings.api_base_url
    if settings.gateway_url is not None:
        # discord.py calls .with_query() on it: it must be a yarl.URL, not a string.
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


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
        **options: Any,
    ) -> None:
        if settings.shard_ids is not None:
            options.setdefault("shard_ids", list(settings.shard_ids))
        intents = discord.Intents.none()
        intents.guilds = True  # guild and channel cache; not privileged
        intents.moderation = True  # ban and unban events; not privileged
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
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
        if self.sync_on_start:
            await self.sync_commands_if_changed(force=self.force_sync)

    def sync_scope(self) -> discord.Object | None:
        """The guild commands go to at start-up (``DEV_GUILD_ID``), or None for global."""
        if self.settings.dev_guild_id is None:
            return None
        return discord.Object(id=self.settings.dev_guild_id)

    async def sync_commands_if_changed(self, *, force: bool = False) -> bool:
        """Upload the command tree only if it differs from what was last uploaded.

        With ``DEV_GUILD_ID`` the global commands are copied to that guild and synced there
        (where changes show at once); otherwise they are synced globally. Returns whether an
        upload happened; ``force`` uploads whatever was recorded. A failed upload is logged
        and the bot keeps running.
        """
        assert self.application_id is not None, "setup_hook runs after login"
        guild = self.sync_scope()
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        scope = guild.id if guild is not None else command_sync.GLOBAL_SCOPE
        where = f"guild {scope}" if guild is not None else "global"
        wanted = fingerprint(local_payload(self.tree, guild))
        recorded = await command_sync.recorded(self.db, self.application_id, scope)
        if recorded == wanted and not force:
            log.info("Commands unchanged since the last sync (%s); not syncing", where)
            return False
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException:
            log.exception("Syncing commands (%s) failed; the previous commands stay", where)
            return False
        await command_sync.record(self.db, self.application_id, scope, wanted)
        log.info("Synced %d command(s) (%s)", len(synced), where)
        return True

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info(
            "Ready as %s (id %s) in %d guild(s), shards %s",
            self.user,
            self.user.id,
            len(self.guilds),
            sorted(self.shards),
        )

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.db.close()
