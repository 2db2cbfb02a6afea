"""Member profiles: /register, /profile, /rename and /leave.

Each command is one call into ``bot.services.profiles`` and one reply built from
``to_dict()``; every reply is ephemeral. /leave asks first, with Confirm / Cancel buttons
(``LeaveButton``) that only its invoker can press, that expire after
``CONFIRM_TIMEOUT_SECONDS``, and that keep working across restarts and shards.
"""

from __future__ import annotations

from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import Bulletin
from bot.context import guild_id_of
from bot.embeds import profile_embed, success_embed
from bot.errors import NotFound, NotRegistered
from bot.replies import Reply, reply_to
from bot.services import profiles
from bot.ui import ConfirmButton

NameOption = app_commands.Range[str, 1, 32]
AgeOption = app_commands.Range[int, 13, 120]


class LeaveButton(ConfirmButton, action="leave"):
    """Confirm (delete the owner's profile and posts in this server) or Cancel, under /leave."""

    cancelled_text = "Nothing was deleted."

    async def on_confirm(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        bot = cast(Bulletin, interaction.client)
        deleted, announcements = await profiles.leave(
            bot.db, guild_id_of(interaction), self.owner_id
        )
        posts = f"{deleted} post{'s' if deleted != 1 else ''}"
        await reply.send(
            embed=success_embed(
                f"Your profile and {posts} were deleted. You can /register again any time.",
                title="Profile deleted",
            )
        )
        if interaction.guild is not None:
            await bot.announcements.delete(interaction.guild, announcements)


class Profiles(commands.Cog):
    """A member's profile in this server."""

    def __init__(self, bot: Bulletin) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(LeaveButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(LeaveButton)

    @app_commands.command(name="register", description="Create your profile in this server")
    @app_commands.describe(
        name="The name to show on your profile (1–32 characters)",
        age="Your age in years (13–120); only you can see it",
    )
    async def register(
        self, interaction: discord.Interaction[Any], name: NameOption, age: AgeOption
    ) -> None:
        guild_id = guild_id_of(interaction)
        async with reply_to(interaction) as reply:
            user = await profiles.register(self.bot.db, guild_id, interaction.user.id, name, age)
            await reply.send(
                content="Welcome! This is your profile.",
                embed=profile_embed(user.to_dict(), show_posts=True, show_age=True),
            )

    @app_commands.command(name="profile", description="Show your profile, or another member's")
    @app_commands.describe(member="Whose profile to show (leave empty for your own)")
    async def profile(
        self, interaction: discord.Interaction[Any], member: discord.Member | None = None
    ) -> None:
        guild_id = guild_id_of(interaction)
        target = member or interaction.user
        own = target.id == interaction.user.id
        async with reply_to(interaction) as reply:
            try:
                user = await profiles.profile(self.bot.db, guild_id, target.id)
            except NotRegistered:
                if own:
                    raise
                raise NotFound(f"{target.mention} has no profile in this server.") from None
            await reply.send(embed=profile_embed(user.to_dict(), show_posts=True, show_age=own))

    @app_commands.command(name="rename", description="Change the name on your profile")
    @app_commands.describe(name="Your new name (1–32 characters)")
    async def rename(self, interaction: discord.Interaction[Any], name: NameOption) -> None:
        guild_id = guild_id_of(interaction)
        async with reply_to(interaction) as reply:
            user = await profiles.rename(self.bot.db, guild_id, interaction.user.id, name)
            await reply.send(
                content="Your profile was renamed.",
                embed=profile_embed(user.to_dict(), show_posts=False, show_age=True),
            )

    @app_commands.command(
        name="leave", description="Delete your profile and all your posts in this server"
    )
    async def leave(self, interaction: discord.Interaction[Any]) -> None:
        guild_id = guild_id_of(interaction)
        async with reply_to(interaction) as reply:
            user = await profiles.profile(self.bot.db, guild_id, interaction.user.id)
            view = LeaveButton.question(
                interaction.user.id, self.bot.settings.confirm_timeout_seconds
            )
            count = user.post_count
            posts = f"{count} post{'s' if count != 1 else ''}"
            what = f"your profile and your {posts}" if count else "your profile"
            await reply.send(
                embed=discord.Embed(
                    title="Delete your profile?",
                    description=f"This deletes {what} in this server. It cannot be undone.",
                    colour=discord.Colour.red(),
                ),
                view=view,
            )


async def setup(bot: Bulletin) -> None:
    await bot.add_cog(Profiles(bot))
