"""Base classes for buttons and autocomplete that outlive the process and report errors one way.

Every button is a ``DynamicItem``: its state lives in its ``custom_id``, so it works after a
restart and on any shard, with no view kept in memory. ``ConfirmButton`` is the family of
Confirm / Cancel pairs that carry their owner and their expiry. Every custom_id starts with
``CUSTOM_ID_PREFIX``; a press of one that no known item claims (a feature since removed, a
format since changed) is answered by ``ExpiredComponent``, which the bot keeps registered
beside the others (``expired_fallback``).

discord.py routes failures differently for each kind of component, and some routes reach no
one: a ``DynamicItem`` runs inside a throwaway view whose ``on_error`` is never called, and its
``interaction_check`` returning False sends nothing (the member sees "This interaction
failed"); an autocomplete callback's exception is logged by discord.py and never reaches
``tree.on_error``. These bases close each gap by calling ``bot.reporting.report_error``.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ClassVar, ParamSpec, Self, TypeVar

import discord
from discord import app_commands

from bot.db import DEFAULT_DEADLINE_SECONDS, deadline_in
from bot.db.errors import DatabaseUnavailable
from bot.embeds import success_embed
from bot.replies import CUSTOM_ID_LIMIT, CUSTOM_ID_PREFIX, Reply, reply_to
from bot.reporting import new_error_id, notice_embed, report_error, send_private

log = logging.getLogger(__name__)

P = ParamSpec("P")
ChoiceT = TypeVar("ChoiceT", str, int, float)
ItemT = TypeVar("ItemT", bound=discord.ui.Item[Any])


def only_owner_text(owner_id: int) -> str:
    # A mention renders as the member's name; allowed_mentions=none keeps it from pinging.
    return f"Only <@{owner_id}> can use these buttons."


class OwnedDynamicItem(discord.ui.DynamicItem[ItemT], template=r"(?!)"):
    """A component that keeps its state in its ``custom_id`` and belongs to one member.

    Subclasses give their own ``template`` (capturing the owner's id), parse it in
    ``from_custom_id`` without any I/O (an exception there is only logged by discord.py), set
    ``owner_id``, and put their work in ``on_press``. The base answers anyone else with "only
    <name> can use these" and sends every error from ``on_press`` to ``report_error``.
    """

    owner_id: int

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await send_private(interaction, notice_embed(only_owner_text(self.owner_id)))
        return False

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.on_press(interaction)
        except Exception as error:
            await report_error(interaction, error)

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError


# Unix seconds written by one process are read by another (a restart, another shard), whose
# clock may differ a little: a confirmation counts as expired only this much after its expiry.
CLOCK_MARGIN_SECONDS = 5
_ACTION = re.compile(r"[a-z][a-z0-9-]{0,15}")
_ARG = re.compile(r"[0-9A-Za-z_.:-]*")


def unix_now() -> float:
    """The wall clock, in Unix seconds (what a confirmation's expiry is compared with)."""
    return time.time()


def _confirm_template(action: str) -> str:
    return (
        re.escape(f"{CUSTOM_ID_PREFIX}{action}:")
        + r"(?P<choice>[yn]):(?P<owner>\d{1,20}):(?P<expires>\d{1,11})"
        + r"(?::(?P<arg>[0-9A-Za-z_.:-]{1,80}))?"
    )


class ConfirmButton(OwnedDynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """Confirm or Cancel under a question that only its owner may answer, until it expires.

    The ``custom_id`` is ``b1:<action>:<y|n>:<owner id>:<expiry>[:<arg>]``: ``y`` is Confirm,
    ``n`` Cancel; the expiry is in Unix seconds; ``arg`` (letters, digits, ``_.:-``) is the
    subclass's own, such as the member a moderator acts on. Everything is checked again on
    each press, in whatever process receives it: someone else is told only the owner may press;
    past the expiry (and ``CLOCK_MARGIN_SECONDS``) the buttons are disabled and the owner is
    told privately to run the command again.

    A subclass names its action, ``class LeaveButton(ConfirmButton, action="leave")``, keeps
    this constructor, implements ``on_confirm`` (which answers through the ``Reply`` it gets,
    replacing the question), may set ``cancelled_text``, and is registered with
    ``bot.add_dynamic_items``. An exception from ``on_confirm`` reaches the member through
    ``report_error`` and leaves the question and its buttons as they were, usable again.
    """

    action: ClassVar[str]
    # The command to run again, in the notice an expired press gets.
    command: ClassVar[str]
    cancelled_text: ClassVar[str] = "Nothing was done."

    def __init_subclass__(cls, *, action: str, command: str | None = None) -> None:
        if not _ACTION.fullmatch(action):
            raise ValueError(f"action {action!r} must match {_ACTION.pattern}")
        super().__init_subclass__(template=_confirm_template(action))
        cls.action = action
        cls.command = command or f"/{action}"

    def __init__(
        self,
        owner_id: int,
        expires_at: int,
        *,
        confirm: bool,
        arg: str = "",
        disabled: bool = False,
    ) -> None:
        if not _ARG.fullmatch(arg):
            raise ValueError(f"arg {arg!r} must match {_ARG.pattern}")
        custom_id = f"{CUSTOM_ID_PREFIX}{self.action}:{'y' if confirm else 'n'}"
        custom_id += f":{owner_id}:{expires_at}" + (f":{arg}" if arg else "")
        if len(custom_id) > CUSTOM_ID_LIMIT:
            raise ValueError(f"custom_id {custom_id!r} is longer than {CUSTOM_ID_LIMIT}")
        super().__init__(
            discord.ui.Button(
                label="Confirm" if confirm else "Cancel",
                style=discord.ButtonStyle.danger if confirm else discord.ButtonStyle.secondary,
                custom_id=custom_id,
                disabled=disabled,
            )
        )
        self.owner_id = owner_id
        self.expires_at = expires_at
        self.confirm = confirm
        self.arg = arg

    @classmethod
    def question(cls, owner_id: int, lifetime: float, *, arg: str = "") -> discord.ui.View:
        """Confirm and Cancel for a new question, usable for ``lifetime`` seconds."""
        return cls.pair(owner_id, math.ceil(unix_now() + lifetime), arg=arg)

    @classmethod
    def pair(
        cls, owner_id: int, expires_at: int, *, arg: str = "", disabled: bool = False
    ) -> discord.ui.View:
        """Confirm and Cancel in a view holding nothing else (``bot.replies`` stops it)."""
        view = discord.ui.View(timeout=None)
        for confirm in (True, False):
            view.add_item(cls(owner_id, expires_at, confirm=confirm, arg=arg, disabled=disabled))
        return view

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(
            int(match["owner"]),
            int(match["expires"]),
            confirm=match["choice"] == "y",
            arg=match["arg"] or "",
        )

    def expired(self) -> bool:
        return unix_now() > self.expires_at + CLOCK_MARGIN_SECONDS

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        if self.expired():
            await self._refuse_expired(interaction)
            return
        # Nothing is stopped or unregistered before the action: if it fails, the same
        # buttons still work for a second try.
        async with reply_to(interaction, update=True) as reply:
            if self.confirm:
                await self.on_confirm(interaction, reply)
            else:
                await self.on_cancel(interaction, reply)

    async def _refuse_expired(self, interaction: discord.Interaction[Any]) -> None:
        async with reply_to(interaction, update=True) as reply:
            # The question stays readable; its buttons go off.
            await reply.edit_components(
                self.pair(self.owner_id, self.expires_at, arg=self.arg, disabled=True)
            )
            await send_private(
                interaction,
                notice_embed(f"These buttons have expired. Run {self.command} again."),
            )

    async def on_confirm(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        raise NotImplementedError

    async def on_cancel(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        await reply.send(embed=success_embed(self.cancelled_text, title="Cancelled"))


EXPIRED_TEXT = "This button has expired. Run the command again."
_GROUP_NAME = re.compile(r"\(\?P<\w+>")


class ExpiredComponent(discord.ui.DynamicItem[discord.ui.Item[Any]], template=r"(?!)"):
    """The private answer to a press of a component that no known item claims.

    discord.py has no hook for a component nobody handles, and it calls *every* DynamicItem
    class whose template matches a custom_id (``ViewStore.dispatch_dynamic_items``), not the
    first: a template matching the whole prefix would also answer the presses a known item
    answers. So the registered class comes from ``expired_fallback``, whose template leaves
    out every known template.
    """

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(item)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        log.info("A press of unknown component %r was answered as expired", self.custom_id)
        try:
            async with reply_to(interaction) as reply:
                await reply.send(embed=notice_embed(EXPIRED_TEXT))
        except Exception as error:
            await report_error(interaction, error)


def _anonymous(template: re.Pattern[str]) -> str:
    """A template's pattern with its groups unnamed, so that several fit in one pattern
    (Python refuses a group name twice)."""
    if template.flags & ~re.UNICODE or "(?P=" in template.pattern:
        raise ValueError(f"{template.pattern!r}: a template with flags or backreferences")
    return _GROUP_NAME.sub("(?:", template.pattern)


def expired_fallback(
    known: Iterable[type[discord.ui.DynamicItem[Any]]],
) -> type[ExpiredComponent]:
    """An ``ExpiredComponent`` class matching every custom_id that starts with the prefix and
    that no ``known`` item's template matches whole (discord.py uses ``fullmatch``)."""
    excluded = "|".join(
        f"(?:{_anonymous(item.__discord_ui_compiled_template__)})" for item in known
    )
    guard = f"(?!(?:{excluded})\\Z)" if excluded else ""
    template = re.compile(guard + re.escape(CUSTOM_ID_PREFIX) + r"[\s\S]*")

    class Fallback(ExpiredComponent, template=template):
        pass

    return Fallback


def safe_autocomplete(
    func: Callable[P, Coroutine[Any, Any, list[app_commands.Choice[ChoiceT]]]],
) -> Callable[P, Coroutine[Any, Any, list[app_commands.Choice[ChoiceT]]]]:
    """Wrap an autocomplete callback so that a failure offers no choices, in time.

    Its units of work share the command's database deadline (Discord drops suggestions that
    come after three seconds). An unavailable database offers nothing (the outage is logged
    once by the database); any other failure logs an error id. discord.py would log the
    exception itself and leave the member's menu spinning.
    """

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> list[app_commands.Choice[ChoiceT]]:
        interaction = next((a for a in args if isinstance(a, discord.Interaction)), None)
        settings = getattr(getattr(interaction, "client", None), "settings", None)
        deadline = getattr(settings, "database_deadline_seconds", DEFAULT_DEADLINE_SECONDS)
        try:
            with deadline_in(deadline):
                return await func(*args, **kwargs)
        except DatabaseUnavailable:
            return []
        except Exception:
            log.exception("Error %s in autocomplete %s", new_error_id(), func.__qualname__)
            return []

    return wrapper
