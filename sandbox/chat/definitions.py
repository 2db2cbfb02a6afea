"""Synced command definitions as the chat reads them: the slash commands a member can type,
one found by name, and the usage line that shows how to type each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sandbox.chat.errors import ChatError
from sandbox.commands import CHAT_INPUT
from sandbox.options import (
    ATTACHMENT,
    BOOLEAN,
    CHANNEL,
    INTEGER,
    MENTIONABLE,
    NUMBER,
    ROLE,
    STRING,
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
    USER,
)

JSON = dict[str, Any]

_TYPE_WORDS = {
    STRING: "text",
    INTEGER: "whole number",
    BOOLEAN: "true/false",
    USER: "member",
    CHANNEL: "channel",
    ROLE: "role",
    MENTIONABLE: "member or role",
    NUMBER: "number",
    ATTACHMENT: "file",
}


def chat_commands(commands: Iterable[JSON]) -> list[JSON]:
    """Slash commands only (not context menus), by name; later entries win (guild over global)."""
    by_name: dict[str, JSON] = {}
    for data in commands:
        if int(data.get("type", CHAT_INPUT)) == CHAT_INPUT:
            by_name[str(data["name"])] = data
    return [by_name[n] for n in sorted(by_name)]


def _is_group(options: Sequence[JSON]) -> bool:
    return any(int(o.get("type", STRING)) in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in options)


def find_command(name: str, commands: Sequence[JSON]) -> JSON:
    """The synced command called ``name``; ChatError listing the commands when there is none."""
    for data in commands:
        if str(data["name"]) == name:
            return data
    listed = ", ".join(f"/{c['name']}" for c in commands) or "none are synced yet"
    raise ChatError(f"there is no command /{name} (commands: {listed})")


def _limits(option: JSON) -> str:
    low = option.get("min_value", option.get("min_length"))
    high = option.get("max_value", option.get("max_length"))
    if low is not None and high is not None:
        return f" {low}–{high}"
    if high is not None:
        return f" ≤{high}"
    if low is not None:
        return f" ≥{low}"
    return ""


def usage(path: Sequence[str], options: Sequence[JSON]) -> str:
    """``/post title:<text 1–256> [body:<text 1–4000>]``."""
    parts = ["/" + " ".join(path)]
    for option in options:
        kind = int(option.get("type", STRING))
        if option.get("choices"):
            shape = "|".join(str(c.get("name")) for c in option["choices"])
        else:
            shape = _TYPE_WORDS.get(kind, "value") + _limits(option)
        piece = f"{option['name']}:<{shape}>"
        parts.append(piece if option.get("required") else f"[{piece}]")
    return " ".join(parts)


def describe_commands(commands: Sequence[JSON]) -> list[tuple[str, str]]:
    """Each command's usage line (one per sub-command) and description."""
    lines: list[tuple[str, str]] = []

    def visit(path: list[str], options: list[JSON], description: str) -> None:
        if _is_group(options):
            for sub in options:
                visit(
                    [*path, str(sub["name"])],
                    list(sub.get("options") or []),
                    str(sub.get("description") or ""),
                )
        else:
            lines.append((usage(path, options), description))

    for data in commands:
        visit(
            [str(data["name"])],
            list(data.get("options") or []),
            str(data.get("description") or ""),
        )
    return lines
