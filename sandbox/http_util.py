"""HTTP plumbing shared by the API handlers: Discord-style errors, bodies, JSON answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.rules import FormErrors
from sandbox.state import UploadedFile

JSON = dict[str, Any]


class ApiError(Exception):
    """An error answer in Discord's shape: ``{"message": ..., "code": ...}``."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or {}
        self.paths: tuple[str, ...] = ()

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


def unknown_message() -> ApiError:
    """Discord's answer for a message that does not exist (or is not reachable that way)."""
    return ApiError(404, 10008, "Unknown Message")


def unknown_webhook() -> ApiError:
    """Discord's answer for a follow-up on an interaction not yet acknowledged."""
    return ApiError(404, 10015, "Unknown Webhook")


def invalid_webhook_token() -> ApiError:
    """Discord's answer once an interaction token has expired."""
    return ApiError(401, 50027, "Invalid Webhook Token")


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
