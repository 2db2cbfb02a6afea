"""The moderation pipeline: one path for every action on a member, written once.

Each action is data (``Action``): the permission it needs, whether it needs the target in the
server, whether the member is told by DM and whether before the action, the Discord call,
and the case kind. ``ModerationPipeline.run`` does, in order: checks (the moderator's and
the bot's guild-wide permissions, not a channel's; nobody acts on themselves, the owner or
the bot; role hierarchy as Discord decides it) → the DM → the Discord call with an audit-log
reason → the case, recorded in its own write unit only if the call succeeded → the
confirmation → the mod-log post. No write unit is held across an HTTP call.

The bot's own bans and unbans come back as gateway events, sometimes before the HTTP call
returns: the pipeline registers each expected event before the call (``ExpectedEvents``) and
the listener consumes it, so one action makes one case.
"""

from __future__ import annotations

import collections
import logging
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.db import Database
from bot.db.models import Case, CaseKind
from bot.embeds import case_embed
from bot.errors import BulletinError
from bot.services import cases

log = logging.getLogger(__name__)

AUDIT_REASON_LIMIT = 512
TIMEOUT_MAX = timedelta(days=28)
# Discord measures 28 days from its own clock; a few seconds less keeps us inside it.
TIMEOUT_MARGIN = timedelta(seconds=5)
TEMPBAN_MAX = timedelta(days=365)

MISSING_PERMISSIONS = 50013
UNKNOWN_MEMBER = 10007
UNKNOWN_USER = 10013
UNKNOWN_BAN = 10026
CANNOT_DM = 50007
# Discord sends the ban event within moments of the call; a minute covers a slow gateway.
EXPECT_EVENT_SECONDS = 60.0
# Keys of events that never came are swept once this many are pending.
_PRUNE_PAST = 256


class ModerationRefused(BulletinError):
    """A check said no: the member is told why, and nothing happened."""


def permission_label(name: str) -> str:
    return name.replace("_", " ").title().replace("Guild", "Server")


def audit_reason(moderator: discord.abc.User, reason: str | None) -> str:
    """``moderator_username (id): reason`` for Discord's audit log, at most 512 characters.

    Control characters are dropped from the header (a username cannot be trusted either);
    the database keeps the reason as typed, this is only the audit log's copy.
    """
    name = "".join(ch for ch in moderator.name if unicodedata.category(ch)[0] != "C")
    text = f"{name} ({moderator.id}): {reason or 'no reason given'}"
    text = "".join(ch if unicodedata.category(ch) != "Cc" else " " for ch in text)
    if len(text) > AUDIT_REASON_LIMIT:
        text = text[: AUDIT_REASON_LIMIT - 1] + "…"
    return text


@dataclass(frozen=True)
class Target:
    """Who an action is on: a member of the server, or a user who may have left."""

    user: discord.User | discord.Member
    member: discord.Member | None

    @classmethod
    def of(cls, user: discord.User | discord.Member) -> Target:
        return cls(user, user if isinstance(user, discord.Member) else None)


@dataclass(frozen=True)
class Outcome:
    """What happened, for the confirmation."""

    case: Case
    dm_delivered: bool | None  # None: no DM was due


Perform = Callable[["Context"], Awaitable[None]]


@dataclass(frozen=True)
class Action:
    """One kind of moderation action, as data."""

    kind: CaseKind
    permission: str
    verb: str  # "warned", "kicked": what the confirmation says happened
    needs_member: bool = False
    acts_on_discord: bool = True
    dm: str | None = None  # what the member is told, "You were {verb} in {guild}"
    dm_first: bool = True
    perform: Perform | None = None


@dataclass
class Context:
    """One run of an action: who, on whom, why, and what the call needs."""

    interaction: discord.Interaction[Any]
    guild: discord.Guild
    moderator: discord.Member
    target: Target
    reason: str | None
    audit: str
    until: datetime | None = None
    delete_message_seconds: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class ExpectedEvents:
    """Ban and unban events the bot caused itself, so the listener records no second case.

    An expectation lasts ``expect_for`` seconds: an event that never comes (a dropped
    gateway connection, the intent turned off) must not make a later ban by hand, in
    Discord's own menu, pass for the bot's and go without a case.
    """

    def __init__(
        self,
        *,
        expect_for: float = EXPECT_EVENT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._expect_for = expect_for
        self._clock = clock
        self._pending: dict[tuple[int, int, str], collections.deque[float]] = {}

    def __len__(self) -> int:
        return sum(len(until) for until in self._pending.values())

    def expect(self, guild_id: int, user_id: int, kind: CaseKind) -> None:
        now = self._clock()
        if len(self._pending) >= _PRUNE_PAST:
            for key in list(self._pending):
                self._live(key, now)
        key = (guild_id, user_id, kind.value)
        self._pending.setdefault(key, collections.deque()).append(now + self._expect_for)

    def forget(self, guild_id: int, user_id: int, kind: CaseKind) -> None:
        self.consume(guild_id, user_id, kind)

    def consume(self, guild_id: int, user_id: int, kind: CaseKind) -> bool:
        key = (guild_id, user_id, kind.value)
        until = self._live(key, self._clock())
        if not until:
            return False
        until.popleft()
        if not until:
            del self._pending[key]
        return True

    def _live(self, key: tuple[int, int, str], now: float) -> collections.deque[float] | None:
        """The key's expectations still in time, the lapsed ones dropped."""
        until = self._pending.get(key)
        if until is None:
            return None
        while until and until[0] <= now:
            until.popleft()
        if not until:
            del self._pending[key]
            return None
        return until


def check_hierarchy(
    guild: discord.Guild, moderator: discord.Member, target: discord.Member, *, me: discord.Member
) -> None:
    """Refuse, with the reason, what Discord's role hierarchy would refuse."""
    if target.id == moderator.id:
        raise ModerationRefused("You can't do that to yourself.")
    if target.id == guild.owner_id:
        raise ModerationRefused("Nobody can do that to the server's owner.")
    if target.id == me.id:
        raise ModerationRefused("I won't do that to myself.")
    # discord.py's Role ordering is Discord's: position, then the lower id ranks higher.
    if moderator.id != guild.owner_id and not moderator.top_role > target.top_role:
        raise ModerationRefused(f"Your highest role must be above {target.mention}'s to do that.")
    if not me.top_role > target.top_role:
        raise ModerationRefused(
            f"My highest role must be above {target.mention}'s to do that. Ask an admin to "
            "move my role up."
        )


def check_self_and_owner(
    guild: discord.Guild, moderator: discord.Member, user_id: int, me_id: int
) -> None:
    if user_id == moderator.id:
        raise ModerationRefused("You can't do that to yourself.")
    if user_id == guild.owner_id:
        raise ModerationRefused("Nobody can do that to the server's owner.")
    if user_id == me_id:
        raise ModerationRefused("I won't do that to myself.")


def explain_http(error: discord.HTTPException, target: Target) -> str:
    """The sentence for a Discord refusal of a moderation call."""
    if error.code == MISSING_PERMISSIONS:
        return (
            "Discord refused: I lack the permission, or my role is not above theirs. "
            "/config check says what is missing."
        )
    if error.code == UNKNOWN_MEMBER:
        return f"{target.user.mention} is no longer in this server."
    if error.code == UNKNOWN_USER:
        return "Discord doesn't know that user."
    if error.code == UNKNOWN_BAN:
        return f"{target.user.mention} is not banned."
    return "Discord refused the action. Nothing was recorded."


class ModerationPipeline:
    """Runs actions; the cog gives it the bot's database and its expected events."""

    def __init__(self, db: Database, expected: ExpectedEvents) -> None:
        self.db = db
        self.expected = expected

    def check(self, action: Action, context: Context) -> None:
        guild, moderator = context.guild, context.moderator
        me = guild.me
        # Guild-wide permissions: a channel overwrite must not grant moderation.
        if not getattr(moderator.guild_permissions, action.permission):
            raise ModerationRefused(
                f"You need the {permission_label(action.permission)} permission to do that."
            )
        if action.acts_on_discord and not getattr(me.guild_permissions, action.permission):
            raise ModerationRefused(
                f"I need the {permission_label(action.permission)} permission to do that."
            )
        member = context.target.member
        if action.needs_member and member is None:
            raise ModerationRefused(f"{context.target.user.mention} is not in this server.")
        if member is not None:
            check_hierarchy(guild, moderator, member, me=me)
        else:
            check_self_and_owner(guild, moderator, context.target.user.id, me.id)

    async def run(self, action: Action, context: Context) -> Outcome:
        """Checks, DM, the Discord call, the case, the mod-log post; raises on refusal."""
        self.check(action, context)
        delivered: bool | None = None
        if action.dm is not None and action.dm_first and context.target.member is not None:
            delivered = await self._dm(action, context)
        if action.perform is not None:
            await self._perform(action, context)
        if action.dm is not None and not action.dm_first:
            delivered = await self._dm(action, context)
        case = await cases.record(
            self.db,
            context.guild.id,
            action.kind,
            target_id=context.target.user.id,
            moderator_id=context.moderator.id,
            reason=context.reason,
            expires_at=context.until if action.kind is CaseKind.BAN else None,
        )
        await post_to_modlog(self.db, context.guild, case)
        return Outcome(case, delivered)

    async def _perform(self, action: Action, context: Context) -> None:
        assert action.perform is not None
        guild_id, user_id = context.guild.id, context.target.user.id
        expects = action.kind in (CaseKind.BAN, CaseKind.UNBAN)
        if expects:
            self.expected.expect(guild_id, user_id, action.kind)
        try:
            await action.perform(context)
        except discord.HTTPException as error:
            if expects:
                self.expected.forget(guild_id, user_id, action.kind)
            raise ModerationRefused(explain_http(error, context.target)) from error

    async def _dm(self, action: Action, context: Context) -> bool:
        assert action.dm is not None
        text = action.dm.format(guild=context.guild.name)
        embed = discord.Embed(description=text, colour=discord.Colour.orange())
        if context.reason:
            embed.add_field(name="Reason", value=context.reason[:1024])
        try:
            await context.target.user.send(embed=embed)
        except discord.HTTPException as error:
            # Closed DMs (50007) are the member's choice, not a failure of the action.
            if error.code != CANNOT_DM:
                log.warning("Could not DM %s: %s", context.target.user.id, error)
            return False
        return True


async def post_to_modlog(db: Database, guild: discord.Guild, case: Case) -> None:
    """Post a case in the guild's mod log; a missing or closed channel only logs a warning."""
    channel_id = await cases.modlog_channel(db, guild.id)
    if channel_id is None:
        return
    channel = guild.get_channel(channel_id)
    if not isinstance(channel, discord.TextChannel):
        log.warning(
            "Mod log channel %s of guild %s is gone; case #%s not posted",
            channel_id,
            guild.id,
            case.number,
        )
        return
    try:
        message = await channel.send(embed=case_embed(case.to_dict(), guild_name=guild.name))
    except discord.HTTPException as error:
        log.warning(
            "Could not post case #%s in guild %s's mod log: %s", case.number, guild.id, error
        )
        return
    await cases.logged(db, guild.id, case.number, channel.id, message.id)


async def edit_modlog(guild: discord.Guild, case: Case, *, note: str | None = None) -> None:
    """Update a case's mod-log entry after an amendment or an expiry; best effort."""
    if case.modlog_channel_id is None or case.modlog_message_id is None:
        return
    channel = guild.get_channel(case.modlog_channel_id)
    if not isinstance(channel, discord.TextChannel):
        return
    embed = case_embed(case.to_dict(), guild_name=guild.name)
    if note:
        embed.add_field(name="Update", value=note, inline=False)
    try:
        await channel.get_partial_message(case.modlog_message_id).edit(embed=embed)
    except discord.HTTPException as error:
        log.warning("Could not edit case #%s's mod-log entry: %s", case.number, error)
