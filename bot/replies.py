"""One owner for each interaction's response: the answer comes first, a deferral only if late.

Discord lets an interaction be answered once, within three seconds; a deferral ("thinking…")
buys fifteen minutes but costs a second HTTP call and shows a placeholder. A ``Reply`` is
opened when a command or button starts: it answers directly when the answer is ready, and
only if it is not ready ``DEFER_AFTER_SECONDS`` after the reply was opened (default 1.5 s)
does a timer defer, with the answer's own visibility, so that the answer can then replace
the placeholder. The timer and the answer take one lock, so they never both respond.

The visibility is fixed when the reply is opened and ``send`` cannot change it, so a public
answer can never land in a private placeholder or the reverse. Errors are always private:
``fail`` removes a public placeholder and sends the error privately.

Every component sent is a ``DynamicItem`` (or a link button), so that it outlives the
process, and its view is stopped before it is sent: discord.py would otherwise keep it
(fifteen minutes for an ephemeral first response) and, when it timed out, unregister the
DynamicItem classes for the whole process. DynamicItems need no stored view to work.

Every ``custom_id`` sent starts with ``CUSTOM_ID_PREFIX``, so that one fallback
(``bot.ui.ExpiredComponent``) can answer a press that no known item claims (discord.py has no
hook for a component nobody handles).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord

from bot.db import DEFAULT_DEADLINE_SECONDS, deadline_in

log = logging.getLogger(__name__)

DEFAULT_DEFER_AFTER = 1.5
# "b" for Bulletin, "1" for the first format: a later, incompatible format can take "b2:".
CUSTOM_ID_PREFIX = "b1:"
CUSTOM_ID_LIMIT = 100  # Discord's
# interaction.extras key under which the open Reply can be found (by the error path).
REPLY_KEY = "bulletin_reply"


class _State(enum.Enum):
    PENDING = "pending"
    DEFERRED = "deferred"
    ANSWERED = "answered"


class Reply:
    """The response to one interaction: a new message, or (``update``) an edit of the
    message whose component was pressed."""

    def __init__(
        self,
        interaction: discord.Interaction[Any],
        *,
        ephemeral: bool,
        update: bool = False,
        defer_after: float = DEFAULT_DEFER_AFTER,
    ) -> None:
        self.interaction = interaction
        self.ephemeral = ephemeral
        self.update = update
        self.defer_after = defer_after
        self._state = _State.PENDING
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._deferring: asyncio.Task[None] | None = None
        self._was_deferred = False

    @property
    def deferred(self) -> bool:
        """Whether the interaction was deferred (the answer replaces a placeholder)."""
        return self._was_deferred

    def start(self) -> None:
        """Start the deferral timer (when the interaction can still be answered)."""
        self.interaction.extras[REPLY_KEY] = self
        if self.interaction.response.is_done():
            # Acknowledged before us (a check that answered): only follow-ups are left.
            self._state = _State.ANSWERED
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.defer_after, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._deferring = asyncio.create_task(self._defer(), name="bulletin-defer")

    async def _defer(self) -> None:
        async with self._lock:
            if self._state is not _State.PENDING:
                return
            try:
                if self.update:
                    await self.interaction.response.defer()
                else:
                    await self.interaction.response.defer(ephemeral=self.ephemeral, thinking=True)
            except discord.HTTPException as error:
                log.warning("Could not defer interaction %s: %s", self.interaction.id, error)
                return
            self._state = _State.DEFERRED
            self._was_deferred = True

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def send(
        self,
        *,
        embed: discord.Embed | None = None,
        content: str | None = None,
        view: discord.ui.View | None = None,
        file: discord.File | None = None,
    ) -> int | None:
        """The answer, with the visibility the reply was opened with; only once.

        Returns the id of the message that shows the answer, when Discord says it.
        """
        kwargs: dict[str, Any] = {"embed": embed, "content": content}
        if view is not None:
            kwargs["view"] = view
        elif self.update:
            kwargs["view"] = None  # the answer replaces the message and its buttons
        return await self._respond(kwargs, file)

    async def edit_components(self, view: discord.ui.View) -> None:
        """The answer of a button that changes only its message's components (``update``),
        keeping its text and embeds; only once."""
        if not self.update:
            raise RuntimeError("only a reply that updates its message can edit its components")
        await self._respond({"view": view})

    async def _respond(
        self, kwargs: dict[str, Any], file: discord.File | None = None
    ) -> int | None:
        self._stop_timer()
        view = kwargs.get("view")
        if view is not None:
            _stop_if_dynamic(view)
        async with self._lock:
            if self._state is _State.ANSWERED:
                raise RuntimeError("this interaction was already answered")
            if self._state is _State.PENDING:
                if file is not None:
                    kwargs["file"] = file
                if self.update:
                    sent = await self.interaction.response.edit_message(**kwargs)
                else:
                    sent = await self.interaction.response.send_message(
                        **kwargs, ephemeral=self.ephemeral
                    )
                message_id = sent.message_id if sent is not None else None
            else:
                if file is not None:
                    kwargs["attachments"] = [file]
                message_id = (await self.interaction.edit_original_response(**kwargs)).id
            self._state = _State.ANSWERED
            return message_id

    async def fail(self, embed: discord.Embed) -> None:
        """Tell only the member something went wrong, whatever happened so far."""
        self._stop_timer()
        async with self._lock:
            state, self._state = self._state, _State.ANSWERED
            response = self.interaction.response
            if state is _State.PENDING:
                await response.send_message(embed=embed, ephemeral=True)
            elif state is _State.DEFERRED and self.ephemeral and not self.update:
                await self.interaction.edit_original_response(embed=embed, content=None, view=None)
            else:
                if state is _State.DEFERRED and not self.ephemeral and not self.update:
                    # A public "thinking…" must not stay, nor turn into a public error.
                    with contextlib.suppress(discord.NotFound):
                        await self.interaction.delete_original_response()
                await self.interaction.followup.send(embed=embed, ephemeral=True)

    async def close(self) -> None:
        """Stop the timer and wait for a deferral already on its way."""
        self._stop_timer()
        if self._deferring is not None:
            await self._deferring


def _stop_if_dynamic(view: discord.ui.View) -> None:
    """Check that every component of a view outlives the process, then stop the view so that
    discord.py keeps no copy that could time out.

    Refused: an ordinary button or menu (it dies with the process, and when a view holding it
    with DynamicItems times out, discord.py unregisters their classes for the whole process),
    and a custom_id without ``CUSTOM_ID_PREFIX`` (once unknown, nothing would answer it). Link
    buttons have no custom_id and are fine.
    """
    for item in view.walk_children():
        if isinstance(item, discord.ui.Button) and item.url is not None:
            continue
        if not isinstance(item, discord.ui.DynamicItem):
            raise ValueError(
                f"{item!r} would die with the process: send only DynamicItems (or link buttons)"
            )
        custom_id = item.custom_id
        if not custom_id.startswith(CUSTOM_ID_PREFIX) or len(custom_id) > CUSTOM_ID_LIMIT:
            raise ValueError(
                f"custom_id {custom_id!r} must start with {CUSTOM_ID_PREFIX!r} "
                f"and have at most {CUSTOM_ID_LIMIT} characters"
            )
    view.stop()


def current_reply(interaction: discord.Interaction[Any]) -> Reply | None:
    """The reply opened for this interaction, if any."""
    reply = interaction.extras.get(REPLY_KEY)
    return reply if isinstance(reply, Reply) else None


@contextlib.asynccontextmanager
async def reply_to(
    interaction: discord.Interaction[Any], *, ephemeral: bool = True, update: bool = False
) -> AsyncIterator[Reply]:
    """Open the reply of a command (``update=True``: of a button that edits its message).

    The deferral delay comes from the bot's ``DEFER_AFTER_SECONDS`` setting; 0 defers
    before any work, every time. Units of work started inside have until
    ``DATABASE_DEADLINE_SECONDS`` from now.
    """
    settings = getattr(interaction.client, "settings", None)
    delay = getattr(settings, "defer_after_seconds", DEFAULT_DEFER_AFTER)
    deadline = getattr(settings, "database_deadline_seconds", DEFAULT_DEADLINE_SECONDS)
    reply = Reply(interaction, ephemeral=ephemeral, update=update, defer_after=delay)
    with deadline_in(deadline):
        if delay <= 0:
            interaction.extras[REPLY_KEY] = reply
            await reply._defer()
        else:
            reply.start()
        try:
            yield reply
        finally:
            await reply.close()
