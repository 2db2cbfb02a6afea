"""Small facts about an interaction that every command needs."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands


def guild_id_of(interaction: discord.Interaction[Any]) -> int:
    """The guild the interaction came from; commands are registered for guilds only."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage
    return interaction.guild_id
