"""Base classes for buttons, views and autocomplete, all reporting errors one way.

discord.py routes failures differently for each kind of component, and some routes reach no
one: a ``DynamicItem`` runs inside a throwaway view whose ``on_error`` is never called, and its
``interaction_check`` returning False sends nothing (the member sees "This interaction
failed"); an autocomplete callback's exception is logged by discord.py and never reaches
``tree.on_error``. These bases close each gap by calling ``bot.reporting.report_error``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import discord
from discord import app_commands

from bot.client import Bulletin
from bot.db import DEFAULT_DEADLINE_SECONDS, deadline_in
from bot.db.errors import DatabaseUnavailable
from bot.reporting import new_error_id, notice_embed, report_error, send_private

log = logging.getLogger(__name__)

P = ParamSpec("P")
ChoiceT = TypeVar("ChoiceT", str, int, float)
ItemT = TypeVar("ItemT", bound=discord.ui.Item[Any])


def only_owner_text(owner_id: int) -> str:
    # A mention renders as the member's name; allowed_mentions=none keeps it from pinging.
    return f"Only <@{owner_id}> can use these buttons."


class BaseView(discord.ui.View):
    """A view whose errors reach the member, optionally usable by one member only.

    On timeout its items are disabled on the message it was sent with (``attach`` records the
    interaction that sent it); a message already gone is fine.
    """

    def __init__(self, *, owner_id: int | None = None, timeout: float | None = 180.0) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self._origin: discord.Interaction[Any] | None = None

    def attach(self, interaction: discord.Interaction[Any]) -> None:
        """Remember the interaction whose response carries this view.

        The bot also learns of the view, so that shutting down stops its timer.
        """
        self._origin = interaction
        if isinstance(interaction.client, Bulletin):
            interaction.client.open_views.add(self)

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if self.owner_id is None or interaction.user.id == self.owner_id:
            return True
        await send_private(interaction, notice_embed(only_owner_text(self.owner_id)))
        return False

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_error(interaction, error)

    def disable_all(self) -> None:
        for item in self.children:
            if isinstance(item, (discord.ui.Button, discord.ui.Select)):
                item.disabled = True

    async def on_timeout(self) -> None:
        self.disable_all()
        if self._origin is None:
            return
        try:
            await self._origin.edit_original_response(view=self)
        except discord.NotFound:
            pass  # the message, or the interaction's 15-minute webhook, is gone
        except discord.HTTPException:
            log.warning("Could not disable the buttons of an expired view", exc_info=True)


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
