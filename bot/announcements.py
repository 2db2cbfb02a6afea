"""Deleting the messages that announced posts, when the posts go.

A message already gone (10008) is fine. A missing permission (50013, 50001) is logged once
per guild, not once per message, and never undoes the database change, which came first. Up
to 100 messages of one channel younger than 14 days go in one bulk delete; older ones one by
one. discord.py's HTTP client keeps every call within Discord's rate limits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import discord

from bot.services.posts import Announcement

log = logging.getLogger(__name__)

UNKNOWN_MESSAGE = 10008
BULK_MAX = 100
BULK_AGE = timedelta(days=14) - timedelta(minutes=5)  # a margin for clocks


class AnnouncementCleaner:
    """Deletes announcements; remembers which guilds already had a permission warning."""

    def __init__(self) -> None:
        self._warned: set[int] = set()

    async def delete(self, guild: discord.Guild, announcements: Iterable[Announcement]) -> int:
        """Delete the messages; how many were really deleted (or were gone already)."""
        by_channel: dict[int, list[int]] = defaultdict(list)
        for item in announcements:
            if item.channel_id is not None and item.message_id is not None:
                by_channel[item.channel_id].append(item.message_id)
        done = 0
        for channel_id, message_ids in by_channel.items():
            channel = guild.get_channel(channel_id)
            if not isinstance(channel, discord.TextChannel):
                continue  # the channel went, and its messages with it
            done += await self._delete_in(guild, channel, message_ids)
        return done

    async def _delete_in(
        self, guild: discord.Guild, channel: discord.TextChannel, message_ids: list[int]
    ) -> int:
        young_after = datetime.now(UTC) - BULK_AGE
        young = [m for m in message_ids if discord.utils.snowflake_time(m) > young_after]
        old = [m for m in message_ids if m not in set(young)]
        done = 0
        while len(young) >= 2:
            batch, young = young[:BULK_MAX], young[BULK_MAX:]
            try:
                await channel.delete_messages([discord.Object(m) for m in batch])
                done += len(batch)
            except discord.HTTPException as error:
                self._note(guild, error)
                old.extend(batch)  # bulk refused (e.g. one too old): one by one
        for message_id in [*young, *old]:
            try:
                await channel.get_partial_message(message_id).delete()
                done += 1
            except discord.HTTPException as error:
                if error.code == UNKNOWN_MESSAGE:
                    done += 1
                else:
                    self._note(guild, error)
        return done

    def _note(self, guild: discord.Guild, error: discord.HTTPException) -> None:
        if not isinstance(error, discord.Forbidden):
            log.info("Could not delete a post announcement in guild %s: %s", guild.id, error)
        elif guild.id not in self._warned:
            self._warned.add(guild.id)
            log.warning(
                "Cannot delete post announcements in guild %s (%s): the posts are deleted, "
                "their messages stay. Give the bot Manage Messages to fix it.",
                guild.id,
                error.text or error.status,
            )
