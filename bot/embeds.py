"""Embeds built from the models' ``to_dict()``, and the one way member text enters them.

Every piece of text a member typed passes ``bot.display.display_text`` (through ``member_text``
for fields that render markdown): controls removed, markdown, links and mentions made inert,
then clipped to the field's limit.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord
from discord.utils import format_dt

from bot.db.models import CaseDict, PostDict, UserDict
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


CASE_COLOUR = discord.Colour.dark_orange()
CASE_TITLES = {
    "warn": "Warning",
    "note": "Note",
    "timeout": "Timeout",
    "untimeout": "Timeout lifted",
    "kick": "Kick",
    "ban": "Ban",
    "unban": "Unban",
    "post_removed": "Post removed",
    "posts_purged": "Posts purged",
    "profile_removed": "Profile removed",
    "block": "Blocked",
    "unblock": "Unblocked",
}


def case_title(case: CaseDict) -> str:
    return f"Case #{case['number']} · {CASE_TITLES.get(case['kind'], case['kind'])}"


def case_embed(
    case: CaseDict,
    *,
    guild_name: str,
    show_moderator: bool = True,
    previous_reasons: Sequence[str | None] = (),
) -> discord.Embed:
    """A case in full; members' own view leaves out who the moderator was."""
    embed = discord.Embed(title=case_title(case), colour=CASE_COLOUR, timestamp=case["created_at"])
    embed.add_field(name="Member", value=f"<@{case['target_id']}>")
    if show_moderator:
        moderator = case["moderator_id"]
        embed.add_field(name="Moderator", value=f"<@{moderator}>" if moderator else "unknown")
    if case["expires_at"] is not None:
        state = "lifted" if case["lifted_at"] is not None else "ends"
        embed.add_field(name="Until", value=f"{format_dt(case['expires_at'], 'f')} ({state})")
    reason = case["reason"]
    embed.add_field(
        name="Reason",
        value=member_text(reason, FIELD_VALUE_LIMIT, multiline=True) if reason else "none given",
        inline=False,
    )
    for index, previous in enumerate(previous_reasons[-5:], start=1):
        embed.add_field(
            name=f"Earlier reason {index}",
            value=member_text(previous, FIELD_VALUE_LIMIT) if previous else "none given",
            inline=False,
        )
    embed.set_footer(text=display_text(guild_name, FOOTER_LIMIT, markdown=False))
    return embed


def cases_page_embed(
    found: Sequence[CaseDict], *, title: str, show_moderator: bool, empty: str
) -> discord.Embed:
    """A page of cases, newest first, one line each."""
    embed = discord.Embed(title=member_text(title, TITLE_LIMIT), colour=CASE_COLOUR)
    if not found:
        embed.description = empty
        return embed
    lines = []
    for case in found:
        who = ""
        if show_moderator:
            who = f" by <@{case['moderator_id']}>" if case["moderator_id"] else " by unknown"
        reason = case["reason"] or "no reason given"
        lines.append(
            f"**{case_title(case)}**{who} · {format_dt(case['created_at'], 'R')}\n"
            f"{member_text(reason, 300)}"
        )
    embed.description = "\n".join(lines)[:DESCRIPTION_LIMIT]
    return embed


def members_page_embed(members: Sequence[UserDict], *, page: int, name_part: str) -> discord.Embed:
    """A page of registered members, by name."""
    title = "Registered members" + (f" matching “{name_part}”" if name_part else "")
    embed = discord.Embed(title=member_text(title, TITLE_LIMIT), colour=PROFILE_COLOUR)
    if not members:
        embed.description = "Nobody." if page == 1 else "No more."
    else:
        embed.description = "\n".join(
            f"{member_text(m['name'], 64)} · <@{m['discord_id']}> · {m['post_count']} posts"
            for m in members
        )
    embed.set_footer(text=f"Page {page}")
    return embed
