"""HTTP plumbing shared by the API handlers: Discord-style errors, bodies, JSON answers."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.rules import FormErrors
from sandbox.state import UploadedFile

JSON = dict[str, Any]

AUDIT_LOG_REASON_MAX = 512


class ApiError(Exception):
    """An error answer in Discord's shape: ``{"message": ..., "code": ...}``.

    `violation` says whether the bot should have known better (a body Discord rejects, a
    permission it lacks: recorded in ``emu.violations``) or whether it is an ordinary
    answer every bot must handle (the member left, DMs closed: recorded only as a request).
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: JSON | None = None,
        *,
        violation: bool = True,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or {}
        self.paths: tuple[str, ...] = ()
        self.violation = violation

    @classmethod
    def invalid_form(cls, errors: FormErrors) -> ApiError:
        """The 50035 answer for a body that breaks Discord's rules."""
        error = cls(400, 50035, "Invalid Form Body", errors.tree)
        error.paths = tuple(errors.paths)
        return error

    def body(self) -> JSON:
        """The JSON Discord sends with this error."""
        data: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


def unknown_interaction() -> ApiError:
    """Discord's answer to a callback for an interaction it forgot (or never knew)."""
    return ApiError(404, 10062, "Unknown interaction")


def already_acknowledged() -> ApiError:
    """Discord's answer to a second initial response."""
    return ApiError(400, 40060, "Interaction has already been acknowledged.")


def unknown_message(*, violation: bool = True) -> ApiError:
    """Discord's answer for a message that does not exist (or is not reachable that way).

    An ordinary answer (not a violation) when someone other than the bot deleted it.
    """
    return ApiError(404, 10008, "Unknown Message", violation=violation)


def entity_too_large() -> ApiError:
    """Discord's answer to uploads past the size limit."""
    return ApiError(413, 40005, "Request entity too large")


def unknown_webhook() -> ApiError:
    """Discord's answer for a follow-up on an interaction not yet acknowledged."""
    return ApiError(404, 10015, "Unknown Webhook")


def invalid_webhook_token() -> ApiError:
    """Discord's answer once an interaction token has expired."""
    return ApiError(401, 50027, "Invalid Webhook Token")


def missing_access() -> ApiError:
    """Discord's answer when the bot cannot see the channel (no View Channel)."""
    return ApiError(403, 50001, "Missing Access")


def missing_permissions() -> ApiError:
    """Discord's answer when the bot lacks a permission, or the target outranks it."""
    return ApiError(403, 50013, "Missing Permissions")


def unknown_channel(*, violation: bool = True) -> ApiError:
    """Discord's answer for a channel that does not exist (or no longer does)."""
    return ApiError(404, 10003, "Unknown Channel", violation=violation)


def unknown_member() -> ApiError:
    """Discord's answer for a user who is not (or no longer) a member: a normal answer."""
    return ApiError(404, 10007, "Unknown Member", violation=False)


def unknown_user() -> ApiError:
    """Discord's answer for a user id it does not know: a normal answer."""
    return ApiError(404, 10013, "Unknown User", violation=False)


def unknown_ban() -> ApiError:
    """Discord's answer for an unban, or a ban look-up, of someone not banned: a normal answer."""
    return ApiError(404, 10026, "Unknown Ban", violation=False)


def cannot_dm() -> ApiError:
    """Discord's answer to a DM the user does not accept: a normal answer."""
    return ApiError(403, 50007, "Cannot send messages to this user", violation=False)


def invalid_recipient() -> ApiError:
    """Discord's answer to opening a DM with a user it does not know: a normal answer."""
    return ApiError(400, 50033, "Invalid Recipient(s)", violation=False)


def form_error(field: str, code: str, message: str) -> ApiError:
    """A 50035 for one field."""
    errors = FormErrors()
    errors.add((field,), code, message)
    return ApiError.invalid_form(errors)


def empty_message() -> ApiError:
    """Discord's answer to a message with nothing in it."""
    return ApiError(400, 50006, "Cannot send an empty message")


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON answer whose Content-Type is exactly ``application/json``.

    discord.py parses a body only on that exact value; aiohttp's json_response adds
    a charset, which makes discord.py treat the body as text.
    """
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


@dataclass
class Body:
    """A request body: the JSON (or payload_json) plus uploaded files."""

    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)

    def object(self) -> JSON:
        """The JSON body as an object, or a 50035 naming the body."""
        if isinstance(self.json, dict):
            return self.json
        errors = FormErrors()
        errors.add(("_body",), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        raise ApiError.invalid_form(errors)


async def read_body(request: web.Request) -> Body:
    """Parse JSON or multipart/form-data (payload_json + files[n]) the way Discord accepts them."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        body = Body()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                body.files.append(
                    UploadedFile(
                        field=name,
                        filename=value.filename,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                )
            elif name == "payload_json":
                body.json = _decode(str(value))
        return body
    raw = await request.read()
    if not raw:
        return Body()
    return Body(json=_decode(raw.decode("utf-8", errors="replace")))


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from exc


def truthy(value: str | None) -> bool:
    """How Discord reads boolean query parameters."""
    return value is not None and value.lower() in ("1", "true")


BODY_KEY = web.RequestKey("sandbox_body", Body)
REASON_KEY = web.RequestKey("sandbox_reason", str)


def body_of(request: web.Request) -> Body:
    """The body the middleware already parsed."""
    return request[BODY_KEY]


def reason_of(request: web.Request) -> str | None:
    """The request's X-Audit-Log-Reason, percent-decoded (the middleware checked its length)."""
    return request.get(REASON_KEY)


def decode_reason(request: web.Request) -> str | None:
    """X-Audit-Log-Reason decoded as Discord does (percent-encoded UTF-8), or None."""
    raw = request.headers.get("X-Audit-Log-Reason")
    if raw is None:
        return None
    return urllib.parse.unquote(raw, encoding="utf-8", errors="replace")


def check_reason(reason: str | None) -> None:
    """Discord's 50035 for an audit-log reason over 512 characters (after decoding)."""
    if reason is not None and len(reason) > AUDIT_LOG_REASON_MAX:
        raise form_error(
            "audit_log_reason",
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {AUDIT_LOG_REASON_MAX} or fewer in length.",
        )


def snowflake_param(value: str, field: str) -> int:
    """A snowflake from a query parameter, or Discord's 50035 for it."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number < 2**64:
        raise form_error(field, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
    return number


def int_param(value: object, field: str, low: int, high: int) -> int:
    """A whole number within [low, high] from a query or body field, or Discord's 50035."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise form_error(field, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
    try:
        number = int(value)
    except ValueError as exc:
        raise form_error(field, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.') from exc
    if number < low:
        raise form_error(
            field, "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}."
        )
    if number > high:
        raise form_error(
            field, "NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}."
        )
    return number
