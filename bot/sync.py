"""Command sync on purpose: what the local tree holds, what Discord holds, and the difference.

Discord rate-limits command uploads, so nothing here syncs on every start. Start-up compares
a fingerprint of the local tree with the one recorded at the last sync (``bot.db``) and
uploads only on a difference; ``python -m bot sync`` shows exactly what will be added, removed
and changed before it uploads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from discord import app_commands
from discord.abc import Snowflake

# The fields that decide how a command looks and behaves; ids, versions and the like vary
# between Discord's copy and ours without meaning anything.
_COMMAND_DEFAULTS: dict[str, Any] = {
    "type": 1,
    "description": "",
    "options": [],
    "default_member_permissions": None,
    "nsfw": False,
    "contexts": None,
    "integration_types": None,
    "name_localizations": None,
    "description_localizations": None,
}
_OPTION_DEFAULTS: dict[str, Any] = {
    "description": "",
    "required": False,
    "autocomplete": False,
    "choices": [],
    "options": [],
    "channel_types": [],
    "min_value": None,
    "max_value": None,
    "min_length": None,
    "max_length": None,
    "name_localizations": None,
    "description_localizations": None,
}


def _normalize_option(option: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": option["type"], "name": option["name"]}
    for key, default in _OPTION_DEFAULTS.items():
        value = option.get(key)
        if key == "options":
            value = [_normalize_option(o) for o in value or []]
        elif key == "choices":
            value = [{"name": c["name"], "value": c["value"]} for c in value or []]
        elif key == "channel_types":
            value = sorted(value or [])
        elif key.endswith("localizations"):
            value = value or None
        out[key] = default if value is None else value
    return out


def normalize_command(command: Mapping[str, Any]) -> dict[str, Any]:
    """A command payload reduced to what matters, with Discord's defaults filled in."""
    out: dict[str, Any] = {"name": command["name"]}
    for key, default in _COMMAND_DEFAULTS.items():
        value = command.get(key)
        if key == "options":
            value = [_normalize_option(o) for o in value or []]
        elif key in ("contexts", "integration_types"):
            value = sorted(value) if value is not None else None
        elif key == "default_member_permissions" and value is not None:
            value = str(value)
        elif key.endswith("localizations"):
            value = value or None
        out[key] = default if value is None else value
    return out


def local_payload(
    tree: app_commands.CommandTree[Any], guild: Snowflake | None = None
) -> list[dict[str, Any]]:
    """What ``tree.sync(guild=…)`` would upload for that scope."""
    return [command.to_dict(tree) for command in tree.get_commands(guild=guild)]


def fingerprint(payload: Iterable[Mapping[str, Any]]) -> str:
    """A stable hash of a command list, independent of order and of Discord's defaults."""
    normalized = sorted(
        (normalize_command(c) for c in payload), key=lambda c: (c["type"], c["name"])
    )
    encoded = json.dumps(normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


@dataclass
class CommandDiff:
    """How the local command list differs from Discord's, by command name."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def describe(self, scope: str) -> str:
        """Lines a person reads before the upload."""
        if self.is_empty:
            return f"{scope}: {len(self.unchanged)} command(s), nothing to change."
        lines = [f"{scope}:"]
        lines += [f"  + add     {name}" for name in self.added]
        lines += [f"  - remove  {name}" for name in self.removed]
        lines += [f"  ~ change  {name}" for name in self.changed]
        if self.unchanged:
            lines.append(f"  = {len(self.unchanged)} unchanged")
        return "\n".join(lines)


def _label(command: Mapping[str, Any]) -> str:
    kind = command.get("type", 1)
    return f"/{command['name']}" if kind == 1 else f"{command['name']} (context menu)"


def diff_commands(
    local: Sequence[Mapping[str, Any]], remote: Sequence[Mapping[str, Any]]
) -> CommandDiff:
    """Compare what we would upload with what Discord holds."""

    def key(c: Mapping[str, Any]) -> tuple[int, str]:
        return (int(c.get("type", 1)), str(c["name"]))

    mine = {key(c): c for c in local}
    theirs = {key(c): c for c in remote}
    diff = CommandDiff()
    for k in sorted(mine.keys() | theirs.keys()):
        if k not in theirs:
            diff.added.append(_label(mine[k]))
        elif k not in mine:
            diff.removed.append(_label(theirs[k]))
        elif normalize_command(mine[k]) != normalize_command(theirs[k]):
            diff.changed.append(_label(mine[k]))
        else:
            diff.unchanged.append(_label(mine[k]))
    return diff
