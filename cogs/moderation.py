"""Moderation: ``/mod`` (warn, note, timeout, untimeout, kick, ban, unban, cases, case,
reason), ``/config`` (modlog, check) and ``/mycases``.

Every action goes through ``bot.moderation.ModerationPipeline``; this module only turns
options into a ``Context`` and the outcome into a reply. ``default_permissions`` on the groups
is a hint Discord shows; the real checks run on every use, from the member's guild-wide
permissions. Temporary bans are lifted by a loop over the database, each expiry claimed once,
by the process whose shards own the guild (``(guild_id >> 22) % shard_count``, in the query);
bans and unbans made in Discord's own menu become cases with an unknown moderator.
"""

from __future__ import annotations

import logging
import re
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.client import Bulletin
from bot.db.errors import DatabaseUnavailable
from bot.db.models import Case, CaseKind
from bot.db.types import utcnow
from bot.durations import parse_duration
from bot.embeds import case_embed, cases_page_embed, success_embed
from bot.moderation import (
    MISSING_PERMISSIONS,
    TEMPBAN_MAX,
    TIMEOUT_MARGIN,
    TIMEOUT_MAX,
    UNKNOWN_BAN,
    Action,
    Context,
    ExpectedEvents,
    ModerationPipeline,
    ModerationRefused,
    Outcome,
    Target,
    audit_reason,
    edit_modlog,
    permission_label,
    post_to_modlog,
)
from bot.replies import CUSTOM_ID_PREFIX, reply_to
from bot.services import cases
from bot.ui import OwnedDynamicItem

log = logging.getLogger(__name__)

Reason = app_commands.Range[str, 1, 1000]
CaseNumber = app_commands.Range[int, 1, 2_147_483_647]
MessageDays = app_commands.Range[int, 0, 7]


async def _timeout(context: Context) -> None:
    assert context.target.member is not None
    await context.target.member.timeout(context.until, reason=context.audit)


async def _untimeout(context: Context) -> None:
    assert context.target.member is not None
    await context.target.member.timeout(None, reason=context.audit)


async def _kick(context: Context) -> None:
    assert context.target.member is not None
    await context.target.member.kick(reason=context.audit)


async def _ban(context: Context) -> None:
    await context.guild.ban(
        context.target.user,
        reason=context.audit,
        delete_message_seconds=context.delete_message_seconds,
    )


async def _unban(context: Context) -> None:
    await context.guild.unban(context.target.user, reason=context.audit)


WARN = Action(
    CaseKind.WARN,
    "moderate_members",
    "warned",
    acts_on_discord=False,
    dm="You received a warning in {guild}.",
    dm_first=False,
)
NOTE = Action(CaseKind.NOTE, "moderate_members", "noted", acts_on_discord=False)
TIMEOUT = Action(
    CaseKind.TIMEOUT, "moderate_members", "timed out", needs_member=True, perform=_timeout
)
UNTIMEOUT = Action(
    CaseKind.UNTIMEOUT,
    "moderate_members",
    "released from timeout",
    needs_member=True,
    perform=_untimeout,
)
KICK = Action(
    CaseKind.KICK,
    "kick_members",
    "kicked",
    needs_member=True,
    dm="You were kicked from {guild}.",
    perform=_kick,
)
BAN = Action(
    CaseKind.BAN, "ban_members", "banned", dm="You were banned from {guild}.", perform=_ban
)
UNBAN = Action(CaseKind.UNBAN, "ban_members", "unbanned", perform=_unban)
ACTIONS = (WARN, NOTE, TIMEOUT, UNTIMEOUT, KICK, BAN, UNBAN)


def _require(
    interaction: discord.Interaction[Any], permission: str
) -> tuple[discord.Guild, discord.Member]:
    """The guild and the member, if the member has ``permission`` guild-wide."""
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member):
        raise ModerationRefused("This only works inside a server.")
    if not getattr(member.guild_permissions, permission):
        raise ModerationRefused(
            f"You need the {permission_label(permission)} permission to do that."
        )
    return guild, member


def _confirmation(
    outcome: Outcome, action: Action, target: Target, extra: str = ""
) -> discord.Embed:
    text = f"Case #{outcome.case.number}: {target.user.mention} was {action.verb}{extra}."
    if outcome.dm_delivered is False:
        text += " They could not be told by DM (their DMs are closed)."
    return success_embed(text, title="Done")


CASES_TEMPLATE = re.compile(
    re.escape(CUSTOM_ID_PREFIX)
    + r"cases:(?P<who>[ms]):(?P<owner>\d{1,20}):(?P<target>\d{1,20}):(?P<before>\d{1,10}):(?P<page>\d{1,6})"
)


class CasesPage(OwnedDynamicItem[discord.ui.Button[Any]], template=CASES_TEMPLATE):
    """Older / Newest on a page of cases; a moderator's view re-checks the permission."""

    def __init__(
        self,
        who: str,
        owner_id: int,
        target_id: int,
        before: int,
        page: int,
        *,
        label: str,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"{CUSTOM_ID_PREFIX}cases:{who}:{owner_id}:{target_id}:{before}:{page}",
                disabled=disabled,
            )
        )
        self.who, self.owner_id, self.target_id = who, owner_id, target_id
        self.before, self.page = before, page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CasesPage:
        return cls(
            match["who"],
            int(match["owner"]),
            int(match["target"]),
            int(match["before"]),
            int(match["page"]),
            label="",
        )

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        if self.who == "m":
            guild, _ = _require(interaction, "moderate_members")
        elif interaction.guild is None:
            raise ModerationRefused("This only works inside a server.")
        else:
            guild = interaction.guild
        async with reply_to(interaction, update=True) as reply:
            embed, view = await render_cases(
                cast(Bulletin, interaction.client),
                guild,
                who=self.who,
                owner_id=self.owner_id,
                target_id=self.target_id,
                before=self.before or None,
                page=self.page,
            )
            await reply.send(embed=embed, view=view)


async def render_cases(
    bot: Bulletin,
    guild: discord.Guild,
    *,
    who: str,
    owner_id: int,
    target_id: int,
    before: int | None = None,
    page: int = 1,
) -> tuple[discord.Embed, discord.ui.View | None]:
    member_view = who == "s"
    found = await cases.history(bot.db, guild.id, target_id, before=before, member_view=member_view)
    shown = found[: cases.CASES_PER_PAGE]
    more = len(found) > cases.CASES_PER_PAGE
    title = "Your cases" if member_view else f"Cases of {target_id}"
    embed = cases_page_embed(
        [c.to_dict() for c in shown],
        title=title,
        show_moderator=not member_view,
        empty="Nothing on record." if page == 1 else "No older cases.",
    )
    if not member_view:
        embed.description = f"<@{target_id}>\n\n" + (embed.description or "")
    embed.set_footer(text=f"Page {page}")
    if not more and page == 1:
        return embed, None
    view = discord.ui.View(timeout=None)
    view.add_item(CasesPage(who, owner_id, target_id, 0, 1, label="Newest", disabled=page == 1))
    older = shown[-1].number if shown else 0
    view.add_item(
        CasesPage(who, owner_id, target_id, older, page + 1, label="Older", disabled=not more)
    )
    return embed, view


class Moderation(commands.Cog):
    """Moderators' actions on members, as numbered cases with a mod log."""

    mod = app_commands.Group(
        name="mod",
        description="Moderate members of this server",
        guild_only=True,
        default_permissions=discord.Permissions(moderate_members=True),
    )
    config = app_commands.Group(
        name="config",
        description="Set the bot up for this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: Bulletin) -> None:
        self.bot = bot
        self.expected = ExpectedEvents()
        self.pipeline = ModerationPipeline(bot.db, self.expected)
        self.expiries = tasks.loop(seconds=bot.settings.tempban_check_seconds)(self._lift_due)
        self._backoff: dict[int, tuple[float, float]] = {}

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(CasesPage)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # Only once the shards are up does the bot know which guilds are its own.
        if not self.expiries.is_running():
            self.expiries.start()

    async def cog_unload(self) -> None:
        self.expiries.cancel()
        self.bot.remove_dynamic_items(CasesPage)

    def _context(
        self,
        interaction: discord.Interaction[Any],
        user: discord.User | discord.Member,
        reason: str | None,
    ) -> Context:
        guild, moderator = interaction.guild, interaction.user
        if guild is None or not isinstance(moderator, discord.Member):
            raise ModerationRefused("This only works inside a server.")
        return Context(
            interaction, guild, moderator, Target.of(user), reason, audit_reason(moderator, reason)
        )

    async def _act(
        self,
        interaction: discord.Interaction[Any],
        action: Action,
        context: Context,
        extra: str = "",
    ) -> None:
        async with reply_to(interaction) as reply:
            outcome = await self.pipeline.run(action, context)
            await reply.send(embed=_confirmation(outcome, action, context.target, extra))

    @mod.command(name="warn", description="Warn a member (they are told by DM)")
    @app_commands.describe(member="Who to warn", reason="Why (they see it)")
    async def warn(
        self, interaction: discord.Interaction[Any], member: discord.User, reason: Reason
    ) -> None:
        await self._act(interaction, WARN, self._context(interaction, member, reason))

    @mod.command(name="note", description="Add a note about a member (they never see it)")
    @app_commands.describe(member="Who the note is about", text="The note")
    async def note(
        self, interaction: discord.Interaction[Any], member: discord.User, text: Reason
    ) -> None:
        await self._act(interaction, NOTE, self._context(interaction, member, text))

    @mod.command(name="timeout", description="Time a member out (at most 28 days)")
    @app_commands.describe(
        member="Who to time out", duration="How long: 90s, 10m, 1h30m, 7d, 4w", reason="Why"
    )
    async def timeout(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        duration: str,
        reason: Reason,
    ) -> None:
        length = parse_duration(duration, maximum=TIMEOUT_MAX)
        if member.guild_permissions.administrator:
            raise ModerationRefused("Discord does not let anyone time out an administrator.")
        context = self._context(interaction, member, reason)
        # At exactly 28 days, send a few seconds less: Discord counts from its own clock.
        context.until = utcnow() + min(length, TIMEOUT_MAX - TIMEOUT_MARGIN)
        await self._act(
            interaction, TIMEOUT, context, f" until {discord.utils.format_dt(context.until, 'f')}"
        )

    @mod.command(name="untimeout", description="Lift a member's timeout")
    @app_commands.describe(member="Whose timeout to lift", reason="Why (optional)")
    async def untimeout(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        reason: Reason | None = None,
    ) -> None:
        context = self._context(interaction, member, reason)
        if not member.is_timed_out():
            raise ModerationRefused(f"{member.mention} is not timed out.")
        await self._act(interaction, UNTIMEOUT, context)

    @mod.command(name="kick", description="Kick a member (told by DM first)")
    @app_commands.describe(member="Who to kick", reason="Why (they see it)")
    async def kick(
        self, interaction: discord.Interaction[Any], member: discord.Member, reason: Reason
    ) -> None:
        await self._act(interaction, KICK, self._context(interaction, member, reason))

    @mod.command(name="ban", description="Ban a user, for good or for a time")
    @app_commands.describe(
        member="Who to ban (also someone who already left)",
        reason="Why (they see it)",
        duration="For how long, up to 365d (empty: for good)",
        delete_message_days="Days of their messages to delete (0-7)",
    )
    async def ban(
        self,
        interaction: discord.Interaction[Any],
        member: discord.User,
        reason: Reason,
        duration: str | None = None,
        delete_message_days: MessageDays = 0,
    ) -> None:
        context = self._context(interaction, member, reason)
        context.delete_message_seconds = delete_message_days * 86_400
        extra = ""
        if duration is not None:
            context.until = utcnow() + parse_duration(duration, maximum=TEMPBAN_MAX)
            extra = f" until {discord.utils.format_dt(context.until, 'f')}"
        await self._act(interaction, BAN, context, extra)

    @mod.command(name="unban", description="Lift a ban")
    @app_commands.describe(user="Who to unban", reason="Why")
    async def unban(
        self, interaction: discord.Interaction[Any], user: discord.User, reason: Reason
    ) -> None:
        await self._act(interaction, UNBAN, self._context(interaction, user, reason))

    @mod.command(name="cases", description="A member's cases, newest first")
    @app_commands.describe(member="Whose cases")
    async def list_cases(self, interaction: discord.Interaction[Any], member: discord.User) -> None:
        guild, moderator = _require(interaction, "moderate_members")
        async with reply_to(interaction) as reply:
            embed, view = await render_cases(
                self.bot, guild, who="m", owner_id=moderator.id, target_id=member.id
            )
            await reply.send(embed=embed, view=view)

    @mod.command(name="case", description="One case in full")
    @app_commands.describe(number="The case number")
    async def show_case(self, interaction: discord.Interaction[Any], number: CaseNumber) -> None:
        guild, _ = _require(interaction, "moderate_members")
        async with reply_to(interaction) as reply:
            record = await cases.case(self.bot.db, guild.id, number)
            embed = case_embed(
                record.case.to_dict(),
                guild_name=guild.name,
                previous_reasons=[a.previous_reason for a in record.amendments],
            )
            await reply.send(embed=embed)

    @mod.command(name="reason", description="Change a case's reason (the old one is kept)")
    @app_commands.describe(number="The case number", text="The new reason")
    async def reason(
        self, interaction: discord.Interaction[Any], number: CaseNumber, text: Reason
    ) -> None:
        guild, moderator = _require(interaction, "moderate_members")
        async with reply_to(interaction) as reply:
            case = await cases.amend(
                self.bot.db,
                guild.id,
                number,
                text,
                moderator.id,
                manages_server=moderator.guild_permissions.manage_guild,
            )
            await reply.send(
                embed=success_embed(f"Case #{number}'s reason was changed.", title="Done")
            )
        await edit_modlog(guild, case)

    @app_commands.command(
        name="mycases", description="Your warnings, timeouts, kicks and bans here"
    )
    @app_commands.guild_only()
    async def mycases(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild is None:
            raise ModerationRefused("This only works inside a server.")
        async with reply_to(interaction) as reply:
            embed, view = await render_cases(
                self.bot,
                interaction.guild,
                who="s",
                owner_id=interaction.user.id,
                target_id=interaction.user.id,
            )
            await reply.send(embed=embed, view=view)

    @config.command(name="modlog", description="Set the mod-log channel (empty turns it off)")
    @app_commands.describe(channel="Where cases are posted")
    async def modlog(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None = None
    ) -> None:
        guild, _ = _require(interaction, "manage_guild")
        if channel is not None:
            mine = channel.permissions_for(guild.me)
            missing = [
                permission_label(name)
                for name in ("view_channel", "send_messages", "embed_links")
                if not getattr(mine, name)
            ]
            if missing:
                raise ModerationRefused(
                    f"I can't post in {channel.mention}: I need {', '.join(missing)} there."
                )
        async with reply_to(interaction) as reply:
            await cases.set_modlog_channel(self.bot.db, guild.id, channel.id if channel else None)
            text = (
                f"Cases will be posted in {channel.mention}." if channel else "The mod log is off."
            )
            await reply.send(embed=success_embed(text, title="Done"))

    @config.command(name="check", description="What the bot lacks in this server")
    async def check(self, interaction: discord.Interaction[Any]) -> None:
        guild, _ = _require(interaction, "manage_guild")
        me = guild.me
        lines = []
        for action in ACTIONS:
            if action.acts_on_discord and not getattr(me.guild_permissions, action.permission):
                lines.append(
                    f"❌ /mod {action.kind.value}: I need {permission_label(action.permission)}"
                )
        async with reply_to(interaction) as reply:
            channel_id = await cases.modlog_channel(self.bot.db, guild.id)
            if channel_id is None:
                lines.append("ℹ️ No mod-log channel: /config modlog sets one.")
            else:
                channel = guild.get_channel(channel_id)
                if not isinstance(channel, discord.TextChannel):
                    lines.append("❌ The mod-log channel is gone: set another with /config modlog.")
                else:
                    mine = channel.permissions_for(me)
                    if not (mine.view_channel and mine.send_messages and mine.embed_links):
                        lines.append(
                            f"❌ I can't post in {channel.mention} (View, Send, Embed Links)."
                        )
            if me.top_role.position == 0:
                lines.append(
                    "❌ My only role is @everyone: I can't act on anyone. Give me a role above members'."
                )
            else:
                lines.append(
                    f"ℹ️ I can act on members whose highest role is below {me.top_role.mention}."
                )
            ok = not any(line.startswith("❌") for line in lines)
            await reply.send(
                embed=success_embed(
                    "\n".join(lines), title="All set" if ok else "Something is missing"
                )
            )

    @commands.Cog.listener()
    async def on_member_ban(
        self, guild: discord.Guild, user: discord.User | discord.Member
    ) -> None:
        if self.expected.consume(guild.id, user.id, CaseKind.BAN):
            return
        case = await cases.record(
            self.bot.db, guild.id, CaseKind.BAN, target_id=user.id, moderator_id=None, reason=None
        )
        await post_to_modlog(self.bot.db, guild, case)

    @commands.Cog.listener()
    async def on_member_unban(self, guild: discord.Guild, user: discord.User) -> None:
        if self.expected.consume(guild.id, user.id, CaseKind.UNBAN):
            return
        case = await cases.record(
            self.bot.db, guild.id, CaseKind.UNBAN, target_id=user.id, moderator_id=None, reason=None
        )
        await post_to_modlog(self.bot.db, guild, case)

    async def _lift_due(self) -> None:
        """Lift the temporary bans that are due, in the guilds of this process's shards.

        Never raises: discord.py's task loop would stop for good on an exception it does not
        expect, and no temporary ban would be lifted again until a restart. An unavailable
        database is logged once by the database itself; the next round tries again.
        """
        try:
            # Only this process's shards' guilds: the due bans of other processes' guilds, and
            # their number, never delay these.
            due = await cases.due_expiries(
                self.bot.db,
                utcnow(),
                shard_count=self.bot.shard_count or 1,
                shard_ids=self.bot.shard_ids,
            )
        except DatabaseUnavailable:
            return
        except Exception:
            log.exception("Could not read the due temporary bans")
            return
        now = self.bot.loop.time()
        for case in due:
            guild = self.bot.get_guild(case.guild_id)
            if guild is None:
                # One of our shards' guilds the bot is not in (it left or was removed): the
                # ban stays due, for when the bot is back there.
                continue
            retry_at, _ = self._backoff.get(case.id, (0.0, 0.0))
            if retry_at > now:
                continue
            try:
                await self._lift(guild, case)
            except DatabaseUnavailable:
                return  # the others wait for the next round, as this one does
            except Exception:
                log.exception("Could not lift case #%s's ban in guild %s", case.number, guild.id)

    async def _lift(self, guild: discord.Guild, case: Case) -> None:
        # Held, not closed, until Discord answers: if this process dies or the database
        # fails in between, the lease runs out and a later round lifts the ban.
        claimed = await cases.claim_expiry(self.bot.db, case.id)
        if claimed is None:
            return  # another process holds it, or it was closed meanwhile
        self.expected.expect(guild.id, case.target_id, CaseKind.UNBAN)
        try:
            await guild.unban(
                discord.Object(case.target_id), reason=f"Temporary ban ended (case #{case.number})"
            )
        except discord.HTTPException as error:
            self.expected.forget(guild.id, case.target_id, CaseKind.UNBAN)
            if error.code == UNKNOWN_BAN:
                self._backoff.pop(case.id, None)
                await cases.mark_expiry_lifted(self.bot.db, case.id)
                await edit_modlog(guild, claimed, note="Already lifted.")
                return
            await cases.release_expiry(self.bot.db, case.id)
            _, delay = self._backoff.get(case.id, (0.0, 30.0))
            self._backoff[case.id] = (self.bot.loop.time() + delay, min(delay * 2, 3600.0))
            if error.code == MISSING_PERMISSIONS:
                await edit_modlog(
                    guild, claimed, note="Could not lift the ban: I lack Ban Members."
                )
            log.warning(
                "Could not lift case #%s's ban in guild %s: %s", case.number, guild.id, error
            )
            return
        self._backoff.pop(case.id, None)
        if await cases.mark_expiry_lifted(self.bot.db, case.id) is None:
            # A ban or unban by a moderator closed the case while the call was under way;
            # if it was a new ban, this unban may have landed after it.
            log.warning(
                "Case #%s in guild %s was closed by a later case while its ban was being "
                "lifted; check that member %s's ban is as the moderators left it",
                case.number,
                guild.id,
                case.target_id,
            )
            return
        await edit_modlog(guild, claimed, note="The temporary ban ended and was lifted.")


async def setup(bot: Bulletin) -> None:
    await bot.add_cog(Moderation(bot))
