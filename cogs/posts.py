"""Posts: /post publishes in the channel, /myposts pages through one's own posts, /deletepost
removes one (with autocomplete over one's posts).

The page buttons of /myposts keep their owner and cursor in their ``custom_id``
(``PageButton``, a DynamicItem), so old pages keep turning after a restart and on any shard.
Their custom_id is ``b1:myposts:<owner>:<n|o>:<cursor>:<page>``; buttons sent before the
common prefix (``myposts:…``) still turn.
"""

from __future__ import annotations

import re
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import Bulletin
from bot.context import guild_id_of
from bot.display import display_text
from bot.embeds import (
    CHOICE_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    member_text,
    post_embed,
    posts_page_embed,
    success_embed,
)
from bot.errors import InvalidInput
from bot.inputs import NumberText
from bot.parsing import NumberError, parse_snowflake
from bot.replies import CUSTOM_ID_PREFIX, reply_to
from bot.services import posts
from bot.services.posts import Announcement, Direction
from bot.ui import OwnedDynamicItem, safe_autocomplete

TitleOption = app_commands.Range[str, 1, 256]
BodyOption = app_commands.Range[str, 1, 4000]

# The prefix is optional: pages sent before it was introduced are still on members' screens.
PAGE_TEMPLATE = re.compile(
    f"(?:{re.escape(CUSTOM_ID_PREFIX)})?"
    + r"myposts:(?P<owner>\d{1,20}):(?P<direction>[no]):(?P<cursor>\d{1,19}):(?P<page>\d{1,7})"
)


def post_cooldown(interaction: discord.Interaction[Any]) -> app_commands.Cooldown | None:
    """One /post per member per guild every POST_COOLDOWN_SECONDS (none when it is 0).

    Kept in this process's memory, not the database: every command of a guild reaches the
    one process running its shard, so no other process needs to see it. That stays true only
    while every process of a deployment uses the same SHARD_COUNT.
    """
    seconds = cast(Bulletin, interaction.client).settings.post_cooldown_seconds
    return app_commands.Cooldown(1, seconds) if seconds > 0 else None


def cooldown_key(interaction: discord.Interaction[Any]) -> tuple[int | None, int]:
    # The default key is the user alone, which would let one guild's cooldown block another.
    return (interaction.guild_id, interaction.user.id)


ID_MAX = 2**63 - 1  # the database's 64-bit ids; anything larger cannot be a post


def parse_post_id(value: str) -> int:
    """The post id in what was typed: ``42``, ``#42``, or ``#42 · title`` as the list shows it."""
    number = value.partition("·")[0].strip().removeprefix("#")
    try:
        return parse_snowflake(number)
    except NumberError:
        raise InvalidInput(
            "post", "Pick one of your posts from the list, or type its number (like 42)."
        ) from None


# The post as typed or picked from the list, a post id once the command receives it.
PostOption = app_commands.Transform[int, NumberText(parse_post_id, max_length=100)]


def choice_name(post_id: int, title: str) -> str:
    """``#id · title`` for the autocomplete list, which Discord shows as plain text."""
    prefix = f"#{post_id} · "
    return prefix + display_text(title, CHOICE_NAME_LIMIT - len(prefix), markdown=False)


class PageButton(OwnedDynamicItem[discord.ui.Button[Any]], template=PAGE_TEMPLATE):
    """Previous (newer posts) or Next (older posts) on a /myposts page."""

    def __init__(
        self, owner_id: int, direction: Direction, cursor: int, page: int, *, disabled: bool = False
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label="Previous" if direction is Direction.NEWER else "Next",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{CUSTOM_ID_PREFIX}myposts:{owner_id}:{direction.value}:{cursor}:{page}",
                disabled=disabled,
            )
        )
        self.owner_id = owner_id
        self.direction = direction
        self.cursor = cursor
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PageButton:
        # Our own custom_ids never exceed a 64-bit id; a forged one is clamped, not trusted.
        cursor = min(int(match["cursor"]), ID_MAX)
        direction = Direction(match["direction"])
        return cls(int(match["owner"]), direction, cursor, int(match["page"]))

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        guild_id = guild_id_of(interaction)
        async with reply_to(interaction, update=True) as reply:
            embed, view = await render_page(
                cast(Bulletin, interaction.client),
                guild_id,
                self.owner_id,
                direction=self.direction,
                cursor=self.cursor,
                page=self.page,
            )
            await reply.send(embed=embed, view=view)


async def render_page(
    bot: Bulletin,
    guild_id: int,
    owner_id: int,
    *,
    direction: Direction | None = None,
    cursor: int = 0,
    page: int = 1,
) -> tuple[discord.Embed, discord.ui.View | None]:
    """One page of a member's posts as an embed, with its page buttons."""
    found = await posts.page_of_posts(
        bot.db, guild_id, owner_id, direction=direction, cursor=cursor, page=page
    )
    embed = posts_page_embed(
        [p.to_dict() for p in found.posts],
        owner_name=found.owner.name,
        page=found.page,
        pages=found.pages,
        total=found.total,
    )
    if not (found.has_newer or found.has_older):
        return embed, None
    # Only DynamicItems and no timeout: a view that mixes them with ordinary buttons
    # unregisters the DynamicItem class for the whole process when it times out.
    newest, oldest = found.posts[0].id, found.posts[-1].id
    view = discord.ui.View(timeout=None)
    view.add_item(
        PageButton(owner_id, Direction.NEWER, newest, found.page, disabled=not found.has_newer)
    )
    view.add_item(
        PageButton(owner_id, Direction.OLDER, oldest, found.page, disabled=not found.has_older)
    )
    return embed, view


class Posts(commands.Cog):
    """Publishing and managing one's posts."""

    def __init__(self, bot: Bulletin) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PageButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PageButton)

    @app_commands.command(name="post", description="Publish a post in this channel")
    @app_commands.describe(
        title="The post's title (1–256 characters)",
        body="The post's text (up to 4000 characters)",
    )
    @app_commands.checks.dynamic_cooldown(post_cooldown, key=cooldown_key)
    async def post(
        self,
        interaction: discord.Interaction[Any],
        title: TitleOption,
        body: BodyOption | None = None,
    ) -> None:
        guild_id = guild_id_of(interaction)
        async with reply_to(interaction, ephemeral=False) as reply:
            created = await posts.publish(self.bot.db, guild_id, interaction.user.id, title, body)
            message_id = await reply.send(
                embed=post_embed(created.to_dict(), author_name=interaction.user.display_name)
            )
        if message_id is not None and interaction.channel_id is not None:
            # So the message can go with the post (/deletepost, /leave, moderators).
            await posts.announced(
                self.bot.db, guild_id, created.id, interaction.channel_id, message_id
            )

    @app_commands.command(name="myposts", description="Page through your posts, newest first")
    async def myposts(self, interaction: discord.Interaction[Any]) -> None:
        guild_id = guild_id_of(interaction)
        async with reply_to(interaction) as reply:
            embed, view = await render_page(self.bot, guild_id, interaction.user.id)
            await reply.send(embed=embed, view=view)

    @app_commands.command(name="deletepost", description="Delete one of your posts")
    @app_commands.describe(post="The post to delete: pick it from the list or type its number")
    async def deletepost(self, interaction: discord.Interaction[Any], post: PostOption) -> None:
        guild_id = guild_id_of(interaction)
        async with reply_to(interaction) as reply:
            deleted = await posts.delete(self.bot.db, guild_id, interaction.user.id, post)
            await reply.send(
                embed=success_embed(f"Deleted post #{deleted.id}.", title="Post deleted").add_field(
                    name="Title", value=member_text(deleted.title, FIELD_VALUE_LIMIT)
                )
            )
        if interaction.guild is not None:
            announcement = Announcement(deleted.id, deleted.channel_id, deleted.message_id)
            await self.bot.announcements.delete(interaction.guild, [announcement])

    @deletepost.autocomplete("post")
    @safe_autocomplete
    async def deletepost_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        found = await posts.suggestions(
            self.bot.db, interaction.guild_id, interaction.user.id, current
        )
        return [
            app_commands.Choice(name=choice_name(post_id, title), value=str(post_id))
            for post_id, title in found
        ]


async def setup(bot: Bulletin) -> None:
    await bot.add_cog(Posts(bot))
