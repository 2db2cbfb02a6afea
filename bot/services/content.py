"""Moderation of what the bot holds: posts, profiles, blocks, the member list, and each
member's copy of their data.

Every change and its case are one write unit, so a case exists exactly when its change
happened. What must then happen on Discord (deleting the posts' announcements) is returned
as data for the caller, after the unit: no unit is held across an HTTP call.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.db import Database, Unit, User, confirmations
from bot.db import blocks as block_queries
from bot.db import posts as post_queries
from bot.db import users as user_queries
from bot.db.cases import all_visible_cases
from bot.db.models import Case, CaseKind, PendingConfirmation
from bot.db.posts import Announcement
from bot.errors import BulletinError, NotFound, NotRegistered
from bot.services.cases import record_in

MEMBERS_PER_PAGE = 10
EXPORT_FORMAT_VERSION = 1
# Discord's attachment limit for a server without boosts; the export is compressed past this.
ATTACHMENT_LIMIT = 10 * 1024 * 1024
# Past the limit even compressed, the posts are split across this many files at most (each
# its own message: the limit holds per request).
EXPORT_PARTS_MAX = 10


class AlreadyBlocked(BulletinError):
    def __init__(self) -> None:
        super().__init__("That member is already blocked here.")


class NotBlocked(BulletinError):
    def __init__(self) -> None:
        super().__init__("That member is not blocked here.")


class ExportTooLarge(BulletinError):
    def __init__(self) -> None:
        super().__init__(
            "Your data here is larger than the files Discord lets a bot attach, even "
            "compressed and split. Ask this server's admins or the bot's operators for a copy."
        )


class ConfirmationGone(BulletinError):
    def __init__(self) -> None:
        super().__init__("This request was already confirmed or cancelled.")


@dataclass(frozen=True, slots=True)
class Removal:
    """What a moderation of content removed, and its case."""

    case: Case
    announcements: list[Announcement]


async def remove_post(
    db: Database, guild_id: int, post_id: int, moderator_id: int, reason: str
) -> Removal:
    """Delete any post of this guild, with a case on its author; raises PostNotFound."""
    async with db.write() as unit:
        post = await unit.run(post_queries.take_post(guild_id, post_id))
        author = await unit.run(post_queries.post_author(post.user_id))
        if author is None:  # the profile went meanwhile: its posts went with it
            raise NotFound(f"There is no post #{post_id} in this server.")
        case = await record_in(
            unit,
            guild_id,
            CaseKind.POST_REMOVED,
            target_id=author,
            moderator_id=moderator_id,
            reason=reason,
        )
    return Removal(case, [Announcement(post.id, post.channel_id, post.message_id)])


async def ask(
    db: Database,
    guild_id: int,
    moderator_id: int,
    action: str,
    *,
    target_id: int,
    reason: str | None,
) -> tuple[int, int]:
    """Keep a request for Confirm; its id, and the member's post count (for the question).

    Requests whose buttons expired unpressed are dropped here, so the table holds only
    the last hour's."""
    async with db.write() as unit:
        await unit.run(confirmations.forget_stale(guild_id))
        count = await unit.run(post_queries.count_posts(guild_id, target_id))
        request = await unit.run(
            confirmations.add_confirmation(guild_id, moderator_id, action, target_id, reason)
        )
    return request, count


async def cancel(db: Database, request_id: int, guild_id: int, owner_id: int, action: str) -> None:
    await db.write_one(confirmations.take_confirmation(request_id, guild_id, owner_id, action))


async def _take(
    unit: Unit, request_id: int, guild_id: int, moderator_id: int, action: str
) -> PendingConfirmation:
    """The request being confirmed, taken in the unit that acts on it (so it acts once)."""
    request = await unit.run(
        confirmations.take_confirmation(request_id, guild_id, moderator_id, action)
    )
    if request is None:
        raise ConfirmationGone
    return request


async def purge_posts(
    db: Database, request_id: int, guild_id: int, moderator_id: int, action: str
) -> Removal:
    """Confirmed: delete every post of the member in one statement, with one case."""
    async with db.write() as unit:
        request = await _take(unit, request_id, guild_id, moderator_id, action)
        gone = await unit.run(post_queries.delete_member_posts(guild_id, request.target_id))
        case = await record_in(
            unit,
            guild_id,
            CaseKind.POSTS_PURGED,
            target_id=request.target_id,
            moderator_id=moderator_id,
            reason=request.reason,
        )
    return Removal(case, gone)


async def remove_profile(
    db: Database, request_id: int, guild_id: int, moderator_id: int, action: str
) -> Removal:
    """Confirmed: delete the member's profile and posts (as /leave does), with one case."""
    async with db.write() as unit:
        request = await _take(unit, request_id, guild_id, moderator_id, action)
        gone = await unit.run(post_queries.delete_member_posts(guild_id, request.target_id))
        try:
            await unit.run(user_queries.delete_user(guild_id, request.target_id))
        except NotRegistered:
            raise NotFound(f"<@{request.target_id}> has no profile here.") from None
        case = await record_in(
            unit,
            guild_id,
            CaseKind.PROFILE_REMOVED,
            target_id=request.target_id,
            moderator_id=moderator_id,
            reason=request.reason,
        )
    return Removal(case, gone)


async def block(
    db: Database, guild_id: int, member_id: int, moderator_id: int, reason: str
) -> Case:
    async with db.write() as unit:
        if await unit.run(block_queries.add_block(guild_id, member_id, moderator_id)) is None:
            raise AlreadyBlocked
        return await record_in(
            unit,
            guild_id,
            CaseKind.BLOCK,
            target_id=member_id,
            moderator_id=moderator_id,
            reason=reason,
        )


async def unblock(
    db: Database, guild_id: int, member_id: int, moderator_id: int, reason: str | None
) -> Case:
    async with db.write() as unit:
        if await unit.run(block_queries.remove_block(guild_id, member_id)) is None:
            raise NotBlocked
        return await record_in(
            unit,
            guild_id,
            CaseKind.UNBLOCK,
            target_id=member_id,
            moderator_id=moderator_id,
            reason=reason,
        )


async def members(
    db: Database, guild_id: int, *, name_part: str = "", after_id: int | None = None
) -> list[User]:
    """One page of registered members by name after the member ``after_id`` (one more than a
    page: more follow). A cursor whose member left starts again from the first page."""
    if after_id is None:
        return await db.read_one(
            user_queries.list_members(guild_id, name_part=name_part, limit=MEMBERS_PER_PAGE + 1)
        )
    async with db.read() as unit:
        cursor = await unit.run(user_queries.get_user_by_row(guild_id, after_id))
        after = (cursor.name, cursor.id) if cursor is not None else None
        return await unit.run(
            user_queries.list_members(
                guild_id, name_part=name_part, after=after, limit=MEMBERS_PER_PAGE + 1
            )
        )


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


async def export(db: Database, guild_id: int, member_id: int) -> list[tuple[str, bytes]]:
    """Everything the bot stores about a member here, as JSON files: their names and bytes.

    One snapshot. Cases are those the member may see, without who the moderator was. One
    file, gzip-compressed when larger than Discord's attachment limit; larger even then, the
    posts are split across files that each fit (every file a whole document with ``part``
    and ``parts``, the profile, blocks and cases in each), up to ``EXPORT_PARTS_MAX``;
    past that, ``ExportTooLarge`` says so.
    """
    async with db.read() as unit:
        profile = await unit.run(user_queries.get_user_or_none(guild_id, member_id))
        posts = await unit.run(post_queries.all_member_posts(guild_id, member_id))
        blocked = await unit.run(block_queries.get_block(guild_id, member_id))
        cases = await unit.run(all_visible_cases(guild_id, member_id))
    data: dict[str, Any] = {
        "format_version": EXPORT_FORMAT_VERSION,
        "guild_id": str(guild_id),
        "member_id": str(member_id),
        "profile": None
        if profile is None
        else {
            "name": profile.name,
            "age": profile.age,
            "post_count": profile.post_count,
            "created_at": _stamp(profile.created_at),
            "updated_at": _stamp(profile.updated_at),
        },
        "posts": [
            {
                "id": post.id,
                "title": post.title,
                "body": post.body,
                "created_at": _stamp(post.created_at),
            }
            for post in posts
        ],
        "blocks": [] if blocked is None else [{"created_at": _stamp(blocked.created_at)}],
        "cases": [
            {
                "number": case.number,
                "kind": case.kind,
                "reason": case.reason,
                "created_at": _stamp(case.created_at),
                "expires_at": _stamp(case.expires_at),
                "lifted_at": _stamp(case.lifted_at),
            }
            for case in cases
        ],
    }
    # Tens of megabytes for a member with 100,000 posts: encoded on a worker thread, so the
    # event loop (every other member's command) never waits on it.
    return await asyncio.to_thread(_encode, data)


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def _encode(data: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The files of an export, each within Discord's attachment limit."""
    raw = _json(data)
    if len(raw) <= ATTACHMENT_LIMIT:
        return [("bulletin-data.json", raw)]
    packed = gzip.compress(raw, compresslevel=6)
    if len(packed) <= ATTACHMENT_LIMIT:
        return [("bulletin-data.json.gz", packed)]
    posts: list[Any] = data["posts"]
    # A first guess from the whole, with room for parts compressing unevenly.
    parts = max(2, math.ceil(len(packed) / (ATTACHMENT_LIMIT * 0.9)))
    while parts <= min(EXPORT_PARTS_MAX, max(len(posts), 1)):
        size = math.ceil(len(posts) / parts)
        files = []
        for number in range(1, parts + 1):
            chunk = posts[(number - 1) * size : number * size]
            document = {**data, "part": number, "parts": parts, "posts": chunk}
            packed = gzip.compress(_json(document), compresslevel=6)
            if len(packed) > ATTACHMENT_LIMIT:
                break
            files.append((f"bulletin-data-part-{number}-of-{parts}.json.gz", packed))
        else:
            return files
        parts += 1
    raise ExportTooLarge
