"""/about: what this bot is, its version, uptime and gateway latency.

It touches no database, which also makes it the baseline that ``make bench`` measures the
database-backed commands against.
"""

from __future__ import annotations

import math
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import __version__
from bot.client import Bulletin
from bot.db.types import utcnow
from bot.replies import reply_to


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value] or ["0s"]
    return " ".join(shown[:2])


def heartbeat_interval(shard: discord.ShardInfo) -> float | None:
    """Seconds between the shard's heartbeats, as Discord's HELLO set them; None before HELLO."""
    # discord.py keeps the interval only on the shard's keep-alive handler and exposes it
    # nowhere public: read it defensively, so that a change there loses the check, not /about.
    connection = getattr(getattr(shard, "_parent", None), "ws", None)
    interval = getattr(getattr(connection, "_keep_alive", None), "interval", None)
    return float(interval) if isinstance(interval, int | float) else None


def latency_text(latency: float, interval: float | None) -> str:
    """``42 ms``, or ``measuring…`` while there is no believable figure.

    The latency is infinite until the shard's first heartbeat is acknowledged. It exceeds the
    heartbeat interval when an ACK arrived before discord.py's keep-alive thread recorded the
    send of its heartbeat: the ACK is then measured from the heartbeat before, an interval ago.
    """
    if not math.isfinite(latency) or latency < 0 or (interval is not None and latency > interval):
        return "measuring…"
    return f"{latency * 1000:.0f} ms"


class About(commands.Cog):
    """Facts about the running bot."""

    def __init__(self, bot: Bulletin) -> None:
        self.bot = bot

    @app_commands.command(name="about", description="What this bot is, its version and its health")
    async def about(self, interaction: discord.Interaction[Any]) -> None:
        shard_id = interaction.guild.shard_id if interaction.guild is not None else 0
        shard = self.bot.get_shard(shard_id)
        latency = shard.latency if shard is not None else math.nan
        interval = heartbeat_interval(shard) if shard is not None else None
        embed = discord.Embed(
            title="Bulletin",
            description="Member profiles and posts for this server. Start with /register.",
            colour=discord.Colour.blurple(),
        )
        embed.add_field(name="Version", value=__version__)
        embed.add_field(
            name="Uptime", value=_duration((utcnow() - self.bot.started_at).total_seconds())
        )
        embed.add_field(name="Gateway latency", value=latency_text(latency, interval))
        embed.add_field(name="Shard", value=f"{shard_id + 1} of {self.bot.shard_count or 1}")
        async with reply_to(interaction) as reply:
            await reply.send(embed=embed)


async def setup(bot: Bulletin) -> None:
    await bot.add_cog(About(bot))
