"""Embeds built from the models' ``to_dict()``, and the one way member text enters them.

Every piece of text a member typed passes ``member_text``: markdown is escaped first, then the
result is cut to the field's limit without splitting an escape (escaping can double a text:
256 ``*`` become 512 characters, and a cut between ``\\`` and ``*`` would leave a stray
backslash that swallows the ellipsis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import discord

# Discord's limits for embeds (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
CHOICE_NAME_LIMIT = 100
ELLIPSIS = "…"

PROFILE_COLOUR = discord.Colour.blurple()
POST_COLOUR = discord.Colour.green()
SUCCESS_COLOUR = discord.Colour.green()
EXCERPT_LENGTH = 200
POSTS_PER_PAGE = 5


def clip(text: str, limit: int) -> str:
    """Cut plain text to ``limit`` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def member_text(text: str, limit: int) -> str:
    """Text a member typed, safe to show in an embed field of at most ``limit`` characters."""
    escaped = discord.utils.escape_markdown(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - len(ELLIPSIS)]
    # An odd run of trailing backslashes ends in a half escape: drop its backslash.
    if (len(cut) - len(cut.rstrip("\\"))) % 2 == 1:
        cut = cut[:-1]
    return cut + ELLIPSIS


def discord_time(iso: str, style: str = "R") -> str:
    """A Discord timestamp tag, shown in each reader's own time zone."""
    return f"<t:{int(datetime.fromisoformat(iso).timestamp())}:{style}>"


def one_line(text: str) -> str:
    return " ".join(text.split())


def post_heading(post: Mapping[str, Any], limit: int) -> str:
    """``#id · title``, with only the member's title escaped."""
    prefix = f"#{post['id']} · "
    return prefix + member_text(post["title"], limit - len(prefix))


def profile_embed(
    user: Mapping[str, Any], *, post_count: int | None, show_age: bool
) -> discord.Embed:
    embed = discord.Embed(title=member_text(user["name"], TITLE_LIMIT), colour=PROFILE_COLOUR)
    embed.add_field(name="Member", value=f"<@{user['discord_id']}>")
    if show_age:
        embed.add_field(name="Age", value=str(user["age"]))
    if post_count is not None:
        embed.add_field(name="Posts", value=str(post_count))
    embed.add_field(name="Joined", value=discord_time(user["created_at"], "D"))
    return embed


def post_embed(post: Mapping[str, Any], *, author_name: str) -> discord.Embed:
    embed = discord.Embed(
        title=post_heading(post, TITLE_LIMIT),
        description=member_text(post["body"], DESCRIPTION_LIMIT) if post["body"] else None,
        colour=POST_COLOUR,
        timestamp=datetime.fromisoformat(post["created_at"]),
    )
    embed.set_author(name=clip(author_name, AUTHOR_LIMIT))
    embed.set_footer(text=f"Post #{post['id']}")
    return embed


def posts_page_embed(
    posts: Sequence[Mapping[str, Any]], *, owner_name: str, page: int, pages: int, total: int
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
            value=member_text(clip(excerpt, EXCERPT_LENGTH), FIELD_VALUE_LIMIT)
            + f"\n{discord_time(post['created_at'])}",
            inline=False,
        )
    embed.set_footer(text=f"Page {page} of {pages} · {total} post{'s' if total != 1 else ''}")
    return embed


def success_embed(text: str, *, title: str | None = None) -> discord.Embed:
    return discord.Embed(title=title, description=text, colour=SUCCESS_COLOUR)
