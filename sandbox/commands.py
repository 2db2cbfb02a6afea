"""Application commands the bot registered, kept like Discord keeps them."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sandbox.snowflakes import SnowflakeFactory

JSON = dict[str, Any]

CHAT_INPUT = 1
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2


@dataclass
class RegisteredCommand:
    """A command as Discord stores it after a sync."""

    id: int
    application_id: int
    guild_id: int | None
    version: int
    data: JSON

    @property
    def name(self) -> str:
        """The command's name."""
        return str(self.data["name"])

    @property
    def type(self) -> int:
        """1 slash, 2 user context menu, 3 message context menu."""
        return int(self.data.get("type", CHAT_INPUT))

    @property
    def options(self) -> list[JSON]:
        """Top-level options (sub-commands included)."""
        return list(self.data.get("options") or [])

    @property
    def default_member_permissions(self) -> int | None:
        """Permissions a member needs to see the command; None means everyone."""
        value = self.data.get("default_member_permissions")
        return None if value is None else int(value)

    def payload(self) -> JSON:
        """The command as Discord echoes it."""
        data = copy.deepcopy(self.data)
        data.setdefault("type", CHAT_INPUT)
        data.setdefault("description", "")
        data.setdefault("options", [])
        data.setdefault("nsfw", False)
        data.setdefault("contexts", None)
        data.setdefault("integration_types", [0])
        permissions = data.get("default_member_permissions")
        data["default_member_permissions"] = None if permissions is None else str(permissions)
        data.update(
            id=str(self.id),
            application_id=str(self.application_id),
            version=str(self.version),
        )
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        else:
            data.pop("guild_id", None)
        return data

    def resolve(self, path: list[str]) -> tuple[list[str], list[JSON]]:
        """Follow sub-command names; return the path found and the leaf's options.

        Raises LookupError naming the part that does not exist.
        """
        options = self.options
        walked: list[str] = []
        for part in path:
            match = next(
                (
                    o
                    for o in options
                    if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) and o.get("name") == part
                ),
                None,
            )
            if match is None:
                raise LookupError(part)
            walked.append(part)
            options = list(match.get("options") or [])
        if any(o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in options):
            raise LookupError("<sub-command required>")
        return walked, options


def _comparable(data: JSON) -> JSON:
    return {
        k: v for k, v in data.items() if k not in ("id", "application_id", "version", "guild_id")
    }


class CommandRegistry:
    """Global and per-guild commands; ids stay stable across syncs for unchanged names."""

    def __init__(self, application_id: int, ids: SnowflakeFactory) -> None:
        self.application_id = application_id
        self._ids = ids
        self._scopes: dict[int | None, dict[tuple[int, str], RegisteredCommand]] = {}

    def _scope(self, guild_id: int | None) -> dict[tuple[int, str], RegisteredCommand]:
        return self._scopes.setdefault(guild_id, {})

    def _store(
        self, guild_id: int | None, data: JSON, previous: RegisteredCommand | None
    ) -> RegisteredCommand:
        data = copy.deepcopy(data)
        data.setdefault("type", CHAT_INPUT)
        if previous is not None:
            if _comparable(previous.data) == _comparable(data):
                return previous
            return RegisteredCommand(
                previous.id, self.application_id, guild_id, self._ids.next(), data
            )
        new_id = self._ids.next()
        return RegisteredCommand(new_id, self.application_id, guild_id, new_id, data)

    def overwrite(self, guild_id: int | None, commands: list[JSON]) -> list[RegisteredCommand]:
        """Bulk overwrite: the given list replaces the scope's commands."""
        old = self._scope(guild_id)
        new: dict[tuple[int, str], RegisteredCommand] = {}
        for data in commands:
            key = (int(data.get("type", CHAT_INPUT)), str(data["name"]))
            new[key] = self._store(guild_id, data, old.get(key))
        self._scopes[guild_id] = new
        return list(new.values())

    def upsert(self, guild_id: int | None, data: JSON) -> tuple[RegisteredCommand, bool]:
        """Create or replace one command; True when it was new."""
        scope = self._scope(guild_id)
        key = (int(data.get("type", CHAT_INPUT)), str(data["name"]))
        previous = scope.get(key)
        scope[key] = self._store(guild_id, data, previous)
        return scope[key], previous is None

    def get(self, guild_id: int | None, command_id: int) -> RegisteredCommand | None:
        """One command of a scope by id."""
        return next((c for c in self._scope(guild_id).values() if c.id == command_id), None)

    def edit(
        self, guild_id: int | None, command_id: int, changes: JSON
    ) -> RegisteredCommand | None:
        """Apply a partial edit to one command."""
        found = self.get(guild_id, command_id)
        if found is None:
            return None
        data = {**found.data, **changes}
        updated = self._store(guild_id, data, found)
        scope = self._scope(guild_id)
        scope.pop((found.type, found.name))
        scope[(updated.type, updated.name)] = updated
        return updated

    def delete(self, guild_id: int | None, command_id: int) -> bool:
        """Remove one command; False if it did not exist."""
        scope = self._scope(guild_id)
        for key, command in list(scope.items()):
            if command.id == command_id:
                del scope[key]
                return True
        return False

    def list(self, guild_id: int | None) -> list[RegisteredCommand]:
        """A scope's commands (guild_id None for global)."""
        return list(self._scope(guild_id).values())

    def lookup(self, guild_id: int, name: str, kind: int = CHAT_INPUT) -> RegisteredCommand | None:
        """What a member of `guild_id` gets when typing `name`: guild command first, then global."""
        found = self._scopes.get(guild_id, {}).get((kind, name))
        if found is None:
            found = self._scopes.get(None, {}).get((kind, name))
        return found
