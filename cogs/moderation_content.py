"""Moderation of what the bot holds: ``/mod deletepost``, ``purgeposts``, ``removeprofile``,
``block``, ``unblock``, ``users``, and every member's ``/mydata``.

These subcommands join the ``/mod`` group of ``cogs.moderation`` (this extension loads after
it and adds them to that cog's group; they reach the bot through the interaction). Each checks Manage Messages
from the member's guild-wide permissions at run time (and the bot's where it deletes
messages); each change is a case, recorded in the change's own write unit
(``bot.services.content``). Purges and profile removals ask first with Confirm / Cancel that
outlive the process; the request waits in the database with its reason. Messages of deleted
posts go afterwards, purges in the background within Discord's rate limits.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import Bulletin
from bot.embeds import members_page_embed, success_embed
from bot.moderation import ModerationRefused, permission_label, post_to_modlog
from bot.parsing import SNOWFLAKE_MAX
from bot.replies import CUSTOM_ID_PREFIX, Reply, reply_to
from bot.services import content
from bot.services.posts import Announcement
from bot.ui import ConfirmButton, OwnedDynamicItem
from cogs.moderation import Moderation

log = logging.getLogger(__name__)

Reason = app_commands.Range[str, 1, 1000]
PostNumber = app_commands.Range[int, 1, SNOWFLAKE_MAX]
NamePart = app_commands.Range[str, 1, 32]
MANAGE = "manage_messages"


def _moderator(interaction: discord.Interaction[Any]) -> tuple[discord.Guild, discord.Member]:
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member):
        raise ModerationRefused("This only works inside a server.")
    if not member.guild_permissions.manage_messages:
        raise ModerationRefused(f"You need the {permission_label(MANAGE)} permission to do that.")
    return guild, member


def _bot_can_delete(guild: discord.Guild) -> None:
    if not guild.me.guild_permissions.manage_messages:
        raise ModerationRefused(f"I need the {permission_label(MANAGE)} permission to do that.")


class _Removal(ConfirmButton, action="x"):
    """The base of purge and profile-removal confirmations (never registered itself)."""

    async def on_confirm(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        guild, moderator = _moderator(interaction)  # checked again on the press
        _bot_can_delete(guild)
        bot = cast(Bulletin, interaction.client)
        removal = await self.perform(bot, guild.id, moderator.id)
        count = len(removal.announcements)
        await reply.send(
            embed=success_embed(self.done_text(count, removal.case.number), title="Done")
        )
        await post_to_modlog(bot.db, guild, removal.case)
        cog = bot.get_cog("ContentModeration")
        if isinstance(cog, ContentModeration):
            cog.clean_up_later(interaction, guild, removal.announcements)

    async def on_cancel(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        guild, moderator = _moderator(interaction)
        bot = cast(Bulletin, interaction.client)
        await content.cancel(bot.db, int(self.arg), guild.id, moderator.id, self.action)
        await reply.send(embed=success_embed("Nothing was deleted.", title="Cancelled"))

    async def perform(self, bot: Bulletin, guild_id: int, moderator_id: int) -> content.Removal:
        raise NotImplementedError

    def done_text(self, count: int, number: int) -> str:
        raise NotImplementedError


class PurgeButton(_Removal, action="purge", command="/mod purgeposts"):
    async def perform(self, bot: Bulletin, guild_id: int, moderator_id: int) -> content.Removal:
        return await content.purge_posts(bot.db, int(self.arg), guild_id, moderator_id, self.action)

    def done_text(self, count: int, number: int) -> str:
        return f"Case #{number}: {count} post{'s' if count != 1 else ''} deleted."


class RemoveProfileButton(_Removal, action="rmprofile", command="/mod removeprofile"):
    async def perform(self, bot: Bulletin, guild_id: int, moderator_id: int) -> content.Removal:
        return await content.remove_profile(
            bot.db, int(self.arg), guild_id, moderator_id, self.action
        )

    def done_text(self, count: int, number: int) -> str:
        return (
            f"Case #{number}: the profile and {count} post{'s' if count != 1 else ''} were deleted."
        )


USERS_TEMPLATE = re.compile(
    re.escape(CUSTOM_ID_PREFIX)
    + r"users:(?P<owner>\d{1,20}):(?P<after>\d{1,20}):(?P<page>\d{1,6}):(?P<name>.{0,32})"
)


class UsersPage(OwnedDynamicItem[discord.ui.Button[Any]], template=USERS_TEMPLATE):
    """Next / First on /mod users; the permission is checked again on each press."""

    def __init__(
        self, owner_id: int, after: int, page: int, name: str, *, label: str, disabled: bool = False
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"{CUSTOM_ID_PREFIX}users:{owner_id}:{after}:{page}:{name}",
                disabled=disabled,
            )
        )
        self.owner_id, self.after, self.page, self.name = owner_id, after, page, name

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> UsersPage:
        return cls(
            int(match["owner"]), int(match["after"]), int(match["page"]), match["name"], label=""
        )

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        guild, _ = _moderator(interaction)
        async with reply_to(interaction, update=True) as reply:
            embed, view = await render_users(
                cast(Bulletin, interaction.client),
                guild,
                self.owner_id,
                self.name,
                after_id=self.after,
                page=self.page,
            )
            await reply.send(embed=embed, view=view)


async def render_users(
    bot: Bulletin, guild: discord.Guild, owner_id: int, name: str, *, after_id: int, page: int
) -> tuple[discord.Embed, discord.ui.View | None]:
    found = await content.members(bot.db, guild.id, name_part=name, after_id=after_id or None)
    shown = found[: content.MEMBERS_PER_PAGE]
    more = len(found) > content.MEMBERS_PER_PAGE
    embed = members_page_embed([u.to_dict() for u in shown], page=page, name_part=name)
    if not more and page == 1:
        return embed, None
    view = discord.ui.View(timeout=None)
    view.add_item(UsersPage(owner_id, 0, 1, name, label="First", disabled=page == 1))
    last = shown[-1].id if shown else 0
    view.add_item(UsersPage(owner_id, last, page + 1, name, label="Next", disabled=not more))
    return embed, view


class ContentModeration(commands.Cog):
    """Posts, profiles and blocks under moderation, the member list, members' own data."""

    def __init__(self, bot: Bulletin) -> None:
        self.bot = bot
        self._cleanups: set[asyncio.Task[None]] = set()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PurgeButton, RemoveProfileButton, UsersPage)

    async def cog_unload(self) -> None:
        for task in list(self._cleanups):
            task.cancel()
        await asyncio.gather(*self._cleanups, return_exceptions=True)
        self.bot.remove_dynamic_items(PurgeButton, RemoveProfileButton, UsersPage)

    def clean_up_later(
        self,
        interaction: discord.Interaction[Any],
        guild: discord.Guild,
        announcements: list[Announcement],
    ) -> None:
        """Delete the messages in the background, then tell the moderator."""
        if not any(a.message_id for a in announcements):
            return

        async def clean() -> None:
            done = await self.bot.announcements.delete(guild, announcements)
            try:
                await interaction.followup.send(
                    embed=success_embed(f"{done} post message{'s' if done != 1 else ''} deleted."),
                    ephemeral=True,
                )
            except discord.HTTPException:
                log.info("Purge finished after the moderator's interaction expired")

        task = asyncio.create_task(clean(), name="bulletin-post-cleanup")
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    @app_commands.command(
        name="mydata", description="A file of everything the bot keeps about you here"
    )
    @app_commands.guild_only()
    async def mydata(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is None:
            raise ModerationRefused("This only works inside a server.")
        async with reply_to(interaction) as reply:
            files = await content.export(self.bot.db, interaction.guild_id, interaction.user.id)
            (name, data), rest = files[0], files[1:]
            split = f" It comes in {len(files)} files, each a part of the posts." if rest else ""
            await reply.send(
                embed=success_embed(
                    "Your profile, posts, blocks and cases in this server (format_version "
                    f"{content.EXPORT_FORMAT_VERSION}).{split}",
                    title="Your data",
                ),
                file=discord.File(io.BytesIO(data), filename=name),
            )
            # Discord's limit holds per request: one message for each further part.
            for name, data in rest:
                await interaction.followup.send(
                    file=discord.File(io.BytesIO(data), filename=name),
                    ephemeral=True,
                    allowed_mentions=discord.AllowedMentions.none(),
                )


def _bot(interaction: discord.Interaction[Any]) -> Bulletin:
    return cast(Bulletin, interaction.client)


@app_commands.command(name="deletepost", description="Delete any post of this server")
@app_commands.describe(post_id="The post's number", reason="Why (its author sees it)")
async def deletepost(
    interaction: discord.Interaction[Any], post_id: PostNumber, reason: Reason
) -> None:
    guild, moderator = _moderator(interaction)
    _bot_can_delete(guild)
    async with reply_to(interaction) as reply:
        removal = await content.remove_post(
            _bot(interaction).db, guild.id, post_id, moderator.id, reason
        )
        await reply.send(
            embed=success_embed(
                f"Case #{removal.case.number}: post #{post_id} of <@{removal.case.target_id}> was deleted.",
                title="Done",
            )
        )
    await post_to_modlog(_bot(interaction).db, guild, removal.case)
    await _bot(interaction).announcements.delete(guild, removal.announcements)


async def _ask(
    interaction: discord.Interaction[Any],
    button: type[_Removal],
    member: discord.User | discord.Member,
    reason: str,
    question: str,
) -> None:
    guild, moderator = _moderator(interaction)
    _bot_can_delete(guild)
    async with reply_to(interaction) as reply:
        request, count = await content.ask(
            _bot(interaction).db,
            guild.id,
            moderator.id,
            button.action,
            target_id=member.id,
            reason=reason,
        )
        posts = f"{count} post{'s' if count != 1 else ''}"
        view = button.question(
            moderator.id, _bot(interaction).settings.confirm_timeout_seconds, arg=str(request)
        )
        await reply.send(
            embed=discord.Embed(
                title=question.format(member=member.display_name)[:256],
                description=f"This deletes {posts} of {member.mention}. It cannot be undone.",
                colour=discord.Colour.red(),
            ),
            view=view,
        )


@app_commands.command(name="purgeposts", description="Delete all of a member's posts")
@app_commands.describe(member="Whose posts", reason="Why (they see it)")
async def purgeposts(
    interaction: discord.Interaction[Any], member: discord.User, reason: Reason
) -> None:
    await _ask(interaction, PurgeButton, member, reason, "Delete all posts?")


@app_commands.command(name="removeprofile", description="Delete a member's profile and posts")
@app_commands.describe(member="Whose profile", reason="Why (they see it)")
async def removeprofile(
    interaction: discord.Interaction[Any], member: discord.User, reason: Reason
) -> None:
    await _ask(interaction, RemoveProfileButton, member, reason, "Delete this profile?")


@app_commands.command(name="block", description="Stop a member using /register, /rename, /post")
@app_commands.describe(member="Who to block", reason="Why (they see it)")
async def block(
    interaction: discord.Interaction[Any], member: discord.User, reason: Reason
) -> None:
    guild, moderator = _moderator(interaction)
    if member.id == moderator.id:
        raise ModerationRefused("You can't do that to yourself.")
    async with reply_to(interaction) as reply:
        case = await content.block(_bot(interaction).db, guild.id, member.id, moderator.id, reason)
        await reply.send(
            embed=success_embed(f"Case #{case.number}: {member.mention} was blocked.", title="Done")
        )
    await post_to_modlog(_bot(interaction).db, guild, case)


@app_commands.command(name="unblock", description="Lift a member's block")
@app_commands.describe(member="Whose block", reason="Why (optional)")
async def unblock(
    interaction: discord.Interaction[Any], member: discord.User, reason: Reason | None = None
) -> None:
    guild, moderator = _moderator(interaction)
    async with reply_to(interaction) as reply:
        case = await content.unblock(
            _bot(interaction).db, guild.id, member.id, moderator.id, reason
        )
        await reply.send(
            embed=success_embed(
                f"Case #{case.number}: {member.mention} was unblocked.", title="Done"
            )
        )
    await post_to_modlog(_bot(interaction).db, guild, case)


@app_commands.command(name="users", description="Registered members, by name")
@app_commands.describe(name="Only names containing this (any case)")
async def users(interaction: discord.Interaction[Any], name: NamePart | None = None) -> None:
    guild, moderator = _moderator(interaction)
    async with reply_to(interaction) as reply:
        embed, view = await render_users(
            _bot(interaction), guild, moderator.id, name or "", after_id=0, page=1
        )
        await reply.send(embed=embed, view=view)


MOD_COMMANDS: tuple[app_commands.Command[Any, Any, Any], ...] = (
    deletepost,
    purgeposts,
    removeprofile,
    block,
    unblock,
    users,
)


async def setup(bot: Bulletin) -> None:
    moderation = bot.get_cog("Moderation")
    if not isinstance(moderation, Moderation):
        raise RuntimeError("cogs.moderation must load before cogs.moderation_content")
    for command in MOD_COMMANDS:
        moderation.mod.add_command(command)
    await bot.add_cog(ContentModeration(bot))
