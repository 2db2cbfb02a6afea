"""Interaction callbacks and the interaction webhook: follow-ups, and the original response.

This is where Discord's interaction rules live: one initial response within the
acknowledgement deadline, follow-ups and edits for as long as the token lives, a
first follow-up after a deferral replacing the "thinking..." placeholder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox.http_util import (
    ApiError,
    Body,
    already_acknowledged,
    empty_message,
    invalid_webhook_token,
    json_response,
    truthy,
    unknown_interaction,
    unknown_message,
    unknown_webhook,
)
from sandbox.interactions import (
    ALLOWED_CALLBACKS,
    APPLICATION_COMMAND,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MODAL,
    UPDATE_MESSAGE,
    Interaction,
)
from sandbox.messages import CHAT_INPUT_COMMAND, DEFAULT, Message
from sandbox.rules import (
    EPHEMERAL,
    FormErrors,
    check_autocomplete,
    check_message,
    check_modal,
    is_empty_message,
)
from sandbox.state import State

JSON = dict[str, Any]


class Webhooks:
    """Handlers for /interactions/{id}/{token}/callback and /webhooks/{app}/{token}/..."""

    def __init__(self, state: State, body_of: Callable[[web.Request], Body]) -> None:
        self.state = state
        self.body_of = body_of

    # the initial response

    async def callback(self, request: web.Request) -> web.Response:
        """Accept or refuse an initial response exactly as Discord would."""
        try:
            interaction_id = int(request.match_info["interaction"])
        except ValueError as exc:
            raise unknown_interaction() from exc
        interaction = self.state.interaction(interaction_id)
        if interaction is None or interaction.token != request.match_info["token"]:
            raise unknown_interaction()
        if interaction.acknowledged:
            raise already_acknowledged()
        if interaction.deadline_passed():
            interaction.late_callbacks += 1
            raise unknown_interaction()

        body = self.body_of(request)
        data = body.object()
        callback_type = data.get("type")
        payload = data.get("data")
        self._validate(interaction, callback_type, payload, body)
        assert isinstance(callback_type, int)
        message = self._accept(interaction, callback_type, payload or {}, body)

        if not truthy(request.query.get("with_response")):
            return web.Response(status=204)
        return json_response(self._callback_answer(interaction, callback_type, message))

    def _validate(
        self, interaction: Interaction, callback_type: object, payload: object, body: Body
    ) -> None:
        allowed = set(ALLOWED_CALLBACKS[interaction.type])
        if interaction.source_message_id is None:
            allowed -= {DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
        errors = FormErrors()
        if callback_type not in allowed:
            choices = ", ".join(str(t) for t in sorted(allowed))
            errors.add(("type",), "BASE_TYPE_CHOICES", f"Value must be one of {{{choices}}}.")
            raise ApiError.invalid_form(errors)
        if payload is not None and not isinstance(payload, dict):
            errors.add(
                ("data",), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"
            )
            raise ApiError.invalid_form(errors)
        data: JSON = payload or {}
        if callback_type in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            check_message(data, errors, ("data",))
        elif callback_type == AUTOCOMPLETE_RESULT:
            check_autocomplete(payload, errors, ("data",))
        elif callback_type == MODAL:
            check_modal(payload, errors, ("data",))
        if errors:
            raise ApiError.invalid_form(errors)
        if callback_type == CHANNEL_MESSAGE and is_empty_message(data, has_files=bool(body.files)):
            raise empty_message()
        if callback_type in (UPDATE_MESSAGE, DEFERRED_UPDATE_MESSAGE):
            source = self.state.messages.get(interaction.source_message_id or 0)
            if source is None or source.deleted:
                raise unknown_message()

    def _accept(
        self, interaction: Interaction, callback_type: int, data: JSON, body: Body
    ) -> Message | None:
        state = self.state
        interaction.acked_at = time.monotonic()
        interaction.response_type = callback_type
        message: Message | None = None
        kind = CHAT_INPUT_COMMAND if interaction.type == APPLICATION_COMMAND else DEFAULT
        if callback_type == CHANNEL_MESSAGE:
            message = state.interaction_message(interaction, data, body.files, message_type=kind)
        elif callback_type == DEFERRED_CHANNEL_MESSAGE:
            message = state.interaction_message(
                interaction,
                {"flags": int(data.get("flags") or 0) & EPHEMERAL},
                [],
                message_type=kind,
                loading=True,
            )
        elif callback_type in (UPDATE_MESSAGE, DEFERRED_UPDATE_MESSAGE):
            message = state.messages[interaction.source_message_id or 0]
            if callback_type == UPDATE_MESSAGE:
                state.edit_message(message, data, body.files)
        elif callback_type == AUTOCOMPLETE_RESULT:
            interaction.choices = list(data.get("choices") or [])
        elif callback_type == MODAL:
            interaction.modal = data
        if message is not None:
            interaction.original_message_id = message.id
        if callback_type == UPDATE_MESSAGE and message is not None:
            state.message_changed(message, interaction)
        elif callback_type == DEFERRED_UPDATE_MESSAGE:
            interaction.touch()
        else:
            state.shown(interaction, None if message is None else message.id)
        return message

    def _callback_answer(
        self, interaction: Interaction, callback_type: int, message: Message | None
    ) -> JSON:
        """The ``?with_response=1`` body: ``{"interaction": {...}, "resource": {...}}``."""
        part: JSON = {
            "id": str(interaction.id),
            "type": interaction.type,
            "activity_instance_id": None,
            "channel_id": str(interaction.channel_id),
            "guild_id": str(interaction.guild_id),
        }
        answer: JSON = {"interaction": part}
        if message is not None and callback_type != DEFERRED_UPDATE_MESSAGE:
            part["response_message_id"] = str(message.id)
            part["response_message_loading"] = message.loading
            part["response_message_ephemeral"] = message.ephemeral
        if message is not None and callback_type in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            answer["resource"] = {
                "type": callback_type,
                "message": self.state.message_payload(message),
            }
        return answer

    # the webhook

    def _interaction(self, request: web.Request) -> Interaction:
        if request.match_info["app"] != str(self.state.world.application_id):
            raise unknown_webhook()
        interaction = self.state.interaction_by_token(request.match_info["token"])
        if interaction is None:
            raise unknown_webhook()
        if interaction.token_expired():
            raise invalid_webhook_token()
        if not interaction.acknowledged or interaction.response_type == AUTOCOMPLETE_RESULT:
            raise unknown_webhook()
        return interaction

    def _message(self, request: web.Request, interaction: Interaction) -> Message:
        ref = request.match_info["message"]
        if ref == "@original":
            message_id = interaction.original_message_id
        else:
            try:
                message_id = int(ref)
            except ValueError as exc:
                raise unknown_message() from exc
            if (
                message_id != interaction.original_message_id
                and message_id not in interaction.followup_ids
            ):
                raise unknown_message()
        message = self.state.messages.get(message_id or 0)
        if message is None or message.deleted:
            raise unknown_message()
        return message

    async def followup(self, request: web.Request) -> web.Response:
        """A follow-up message; the first one after a deferral fills the placeholder."""
        interaction = self._interaction(request)
        body = self.body_of(request)
        data = body.object()
        errors = FormErrors()
        check_message(data, errors)
        if errors:
            raise ApiError.invalid_form(errors)
        if is_empty_message(data, has_files=bool(body.files)):
            raise empty_message()
        state = self.state
        original = state.messages.get(interaction.original_message_id or 0)
        if (
            interaction.response_type == DEFERRED_CHANNEL_MESSAGE
            and original is not None
            and original.loading
            and not original.deleted
        ):
            if state.fill_placeholder(original, data, body.files):
                interaction.ephemeral_followup_ignored = True
            message = original
        else:
            message = state.interaction_message(interaction, data, body.files, message_type=DEFAULT)
            interaction.followup_ids.append(message.id)
        state.message_changed(message, interaction)
        if truthy(request.query.get("wait")):
            return json_response(state.message_payload(message))
        return web.Response(status=204)

    async def get_message(self, request: web.Request) -> web.Response:
        """The original response or a follow-up."""
        interaction = self._interaction(request)
        return json_response(self.state.message_payload(self._message(request, interaction)))

    async def edit_message(self, request: web.Request) -> web.Response:
        """Edit the original response (the clicked message after a deferred update) or a follow-up."""
        interaction = self._interaction(request)
        message = self._message(request, interaction)
        return edit_message(self.state, message, self.body_of(request), interaction)

    async def delete_message(self, request: web.Request) -> web.Response:
        """Delete the original response or a follow-up."""
        interaction = self._interaction(request)
        return delete_message(self.state, self._message(request, interaction), interaction)


def edit_message(
    state: State, message: Message, body: Body, via: Interaction | None
) -> web.Response:
    """Check an edit as Discord would, apply it, and wake whoever shows the message."""
    data = body.object()
    errors = FormErrors()
    check_message(data, errors)
    if errors:
        raise ApiError.invalid_form(errors)
    state.edit_message(message, data, body.files)
    state.message_changed(message, via)
    return json_response(state.message_payload(message))


def delete_message(state: State, message: Message, via: Interaction | None) -> web.Response:
    """Delete a message (the bot deleting it) and wake whoever shows it."""
    message.deleted = True
    message.deleted_by = state.world.bot.id
    state.message_changed(message, via)
    return web.Response(status=204)
