"""Embeds built from the models' ``to_dict()``, and the one way member text enters them.

Every piece of text a member typed passes ``bot.display.display_text`` (through ``member_text``
for fields that render markdown): controls removed, markdown, links and mentions made inert,
then clipped to the field's limit.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord
from discord.utils import format_dt

from bot.db.models import PostDict, UserDict
from bot.display import display_text

# Discord's limits for embeds (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
CHOICE_NAME_LIMIT = 100

PROFILE_COLOUR = discord.Colour.blurple()
POST_COLOUR = discord.Colour.green()
SUCCESS_COLOUR = discord.Colour.green()
EXCERPT_LENGTH = 200


def member_text(text: str, limit: int, *, multiline: bool = False) -> str:
    """Text a member typed, safe to show in an embed field of at most ``limit`` characters."""
    return display_text(text, limit, multiline=multiline)


def one_line(text: str) -> str:
    return " ".join(text.split())


def post_heading(post: PostDict, limit: int) -> str:
    """``#id · title``, with only the member's title escaped."""
    prefix = f"#{post['id']} · "
    return prefix + member_text(post["title"], limit - len(prefix))


def profile_embed(user: UserDict, *, show_posts: bool, show_age: bool) -> discord.Embed:
    embed = discord.Embed(title=member_text(user["name"], TITLE_LIMIT), colour=PROFILE_COLOUR)
    embed.add_field(name="Member", value=f"<@{user['discord_id']}>")
    if show_age:
        embed.add_field(name="Age", value=str(user["age"]))
    if show_posts:
        embed.add_field(name="Posts", value=str(user["post_count"]))
    embed.add_field(name="Joined", value=format_dt(user["created_at"], "D"))
    return embed


def post_embed(post: PostDict, *, author_name: str) -> discord.Embed:
    embed = discord.Embed(
        title=post_heading(post, TITLE_LIMIT),
        description=member_text(post["body"], DESCRIPTION_LIMIT, multiline=True)
        if post["body"]
        else None,
        colour=POST_COLOUR,
        timestamp=post["created_at"],
    )
    # An author name is shown as plain text: nothing to escape, but bidi controls still mislead.
    embed.set_author(name=display_text(author_name, AUTHOR_LIMIT, markdown=False))
    embed.set_footer(text=f"Post #{post['id']}")
    return embed


def posts_page_embed(
    posts: Sequence[PostDict], *, owner_name: str, page: int, pages: int, total: int
) -> discord.Embed:
    embed = discord.Embed(
        title=member_text(f"{owner_name}'s posts", TITLE_LIMIT), colour=POST_COLOUR
    )
    if not posts:
        embed.description = "You have no posts yet. Publish one with /post."
        return embed
    for post in posts:
        excerpt = one_line(post["body"] or "") or "(no body)"
        embed.add_field(
            name=post_heading(post, FIELD_NAME_LIMIT),
            value=member_text(excerpt, EXCERPT_LENGTH) + f"\n{format_dt(post['created_at'], 'R')}",
            inline=False,
        )
    embed.set_footer(text=f"Page {page} of {pages} · {total} post{'s' if total != 1 else ''}")
    return embed


def success_embed(text: str, *, title: str | None = None) -> discord.Embed:
    return discord.Embed(title=title, description=text, colour=SUCCESS_COLOUR)
