"""What the Discord client checks before it sends a slash command, and the options it sends.

The client only offers what the synced command allows: right types, values within
min/max, one of the choices, required options filled. The builder refuses anything
else with OptionError (unless forced) and produces the interaction's `options` and
`resolved` data exactly as Discord would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import OptionError
from sandbox.world import Channel, Guild, GuildMember, Role, User, World

JSON = dict[str, Any]

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
ROLE = 8
MENTIONABLE = 9
NUMBER = 10
ATTACHMENT = 11

TYPE_NAMES = {
    STRING: "string",
    INTEGER: "integer",
    BOOLEAN: "boolean",
    USER: "user",
    CHANNEL: "channel",
    ROLE: "role",
    MENTIONABLE: "mentionable",
    NUMBER: "number",
    ATTACHMENT: "attachment",
}
SAFE_INTEGER = 2**53


@dataclass
class Resolved:
    """The `resolved` map of an interaction's data."""

    users: JSON = field(default_factory=dict)
    members: JSON = field(default_factory=dict)
    roles: JSON = field(default_factory=dict)
    channels: JSON = field(default_factory=dict)

    def payload(self) -> JSON:
        """Only the non-empty parts, as Discord sends them."""
        parts = {
            "users": self.users,
            "members": self.members,
            "roles": self.roles,
            "channels": self.channels,
        }
        return {k: v for k, v in parts.items() if v}


def _has_type(kind: int, value: Any) -> bool:
    """Whether a value has the JSON type Discord sends for an option type (bool is no number)."""
    if kind == STRING:
        return isinstance(value, str)
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == INTEGER:
        return isinstance(value, int) and abs(value) <= SAFE_INTEGER
    if kind == NUMBER:
        return isinstance(value, int | float)
    return True


class OptionBuilder:
    """Turns a test's keyword arguments into a command's options, checking them like the client."""

    def __init__(self, world: World, guild: Guild, channel: Channel, invoker: GuildMember) -> None:
        self.world = world
        self.guild = guild
        self.channel = channel
        self.invoker = invoker
        self.resolved = Resolved()

    def build(
        self,
        command_name: str,
        schema: list[JSON],
        values: dict[str, Any],
        *,
        force: bool,
        focused: str | None = None,
    ) -> list[JSON]:
        """Options for the leaf command; `focused` marks the option being autocompleted."""
        by_name = {str(o["name"]): o for o in schema}
        unknown = [name for name in values if name not in by_name]
        if unknown and not force:
            known = ", ".join(by_name) or "none"
            raise OptionError(f"/{command_name} has no option {unknown[0]!r} (options: {known})")
        if focused is None and not force:
            missing = [
                str(o["name"]) for o in schema if o.get("required") and o["name"] not in values
            ]
            if missing:
                raise OptionError(f"/{command_name} needs option {missing[0]!r}")
        built: list[JSON] = []
        # The client sends options in the command's order, whatever order they were typed in.
        ordered = [n for n in by_name if n in values] + [n for n in values if n not in by_name]
        for name in ordered:
            option = by_name.get(name, {"name": name, "type": STRING})
            value = values[name]
            if name == focused:
                built.append(self._focused(command_name, option, value, force=force))
            else:
                built.append(self._one(command_name, option, value, force=force))
        return built

    def resolve_ids(self, options: Any) -> None:
        """Add ``resolved`` entries for a raw option list, as Discord does for what it sends.

        Only snowflake-typed options (nested ones included) whose value is the id of a known
        user, role or channel are resolved; anything else in the list is left alone.
        """
        if not isinstance(options, list):
            return
        for option in options:
            if not isinstance(option, dict):
                continue
            self.resolve_ids(option.get("options"))
            kind, value = option.get("type"), option.get("value")
            if isinstance(kind, bool) or kind not in (USER, CHANNEL, ROLE, MENTIONABLE):
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                continue
            text = str(value)
            if not (text.isascii() and text.isdigit()) or len(text) > 20:
                continue
            snowflake = int(text)
            if kind in (USER, MENTIONABLE):
                user = self._find_user(snowflake)
                if user is not None:
                    self._resolve_user(user)
                    continue
            if kind in (ROLE, MENTIONABLE):
                role = self._find(self.guild.role, snowflake, Role)
                if role is not None:
                    self.resolved.roles[str(role.id)] = role.payload()
            if kind == CHANNEL:
                channel = self._find(self.guild.channel, snowflake, Channel)
                if channel is not None:
                    self._resolve_channel(channel)

    def _focused(self, command_name: str, option: JSON, value: Any, *, force: bool) -> JSON:
        kind = int(option["type"])
        typed = str(value)
        if not force:
            if not option.get("autocomplete"):
                raise OptionError(f"/{command_name} option {option['name']!r} has no autocomplete")
            if kind in (INTEGER, NUMBER) and typed:
                try:
                    float(typed)
                except ValueError as exc:
                    # The client sends autocomplete for numeric options only when what was typed is a number.
                    raise OptionError(
                        f"/{command_name} option {option['name']!r} is numeric; the client sends no autocomplete for {typed!r}"
                    ) from exc
        return {"name": option["name"], "type": kind, "value": typed, "focused": True}

    def _one(self, command_name: str, option: JSON, value: Any, *, force: bool) -> JSON:
        kind = int(option["type"])
        name = str(option["name"])
        where = f"/{command_name} option {name!r}"
        if kind in (USER, CHANNEL, ROLE, MENTIONABLE):
            return {
                "name": name,
                "type": kind,
                "value": self._snowflake(where, kind, option, value, force=force),
            }
        if not force:
            self._check_scalar(where, kind, option, value)
        return {"name": name, "type": kind, "value": value}

    @staticmethod
    def _check_scalar(where: str, kind: int, option: JSON, value: Any) -> None:
        if kind == ATTACHMENT:
            raise OptionError(
                f"{where}: attachment options are not supported by the sandbox driver"
            )
        if not _has_type(kind, value):
            article = "an" if kind == INTEGER else "a"
            raise OptionError(
                f"{where} must be {article} {TYPE_NAMES.get(kind, kind)}, got {value!r}"
            )
        if kind == STRING:
            low, high = option.get("min_length"), option.get("max_length")
            if low is not None and len(value) < low:
                raise OptionError(f"{where} must be at least {low} characters, got {len(value)}")
            if high is not None and len(value) > high:
                raise OptionError(f"{where} must be at most {high} characters, got {len(value)}")
        if kind in (INTEGER, NUMBER):
            low, high = option.get("min_value"), option.get("max_value")
            if low is not None and value < low:
                raise OptionError(f"{where} must be at least {low}, got {value}")
            if high is not None and value > high:
                raise OptionError(f"{where} must be at most {high}, got {value}")
        choices = option.get("choices")
        if choices and value not in [c.get("value") for c in choices]:
            names = ", ".join(repr(c.get("value")) for c in choices)
            raise OptionError(f"{where} must be one of the choices ({names}), got {value!r}")

    def _snowflake(self, where: str, kind: int, option: JSON, value: Any, *, force: bool) -> str:
        if kind in (USER, MENTIONABLE):
            user = self._find_user(value)
            if user is not None:
                self._resolve_user(user)
                return str(user.id)
        if kind in (ROLE, MENTIONABLE):
            role = self._find(self.guild.role, value, Role)
            if role is not None:
                self.resolved.roles[str(role.id)] = role.payload()
                return str(role.id)
        if kind == CHANNEL:
            channel = self._find(self.guild.channel, value, Channel)
            if channel is not None:
                allowed = option.get("channel_types")
                if allowed and channel.type not in allowed and not force:
                    raise OptionError(
                        f"{where} accepts channel types {allowed}, #{channel.name} is type {channel.type}"
                    )
                self._resolve_channel(channel)
                return str(channel.id)
        if force:
            return str(value)
        raise OptionError(f"{where}: no {TYPE_NAMES[kind]} {value!r} in guild {self.guild.key!r}")

    @staticmethod
    def _find(lookup: Any, value: Any, kind: type[Any]) -> Any:
        if isinstance(value, kind):
            return value
        if isinstance(value, str | int) and not isinstance(value, bool):
            try:
                return lookup(value)
            except LookupError:
                return None
        return None

    def _find_user(self, value: Any) -> User | None:
        if isinstance(value, GuildMember):
            return value.user
        if isinstance(value, User):
            return value
        if isinstance(value, str) and value.startswith("<@") and value.endswith(">"):
            value = value.strip("<@!>")
            value = int(value) if value.isdigit() else value
        if isinstance(value, str | int) and not isinstance(value, bool):
            try:
                return self.world.user(value)
            except LookupError:
                return None
        return None

    def _resolve_user(self, user: User) -> None:
        self.resolved.users[str(user.id)] = user.payload()
        member = self.guild.find_member(user.id)
        if member is not None:
            data = member.payload(with_user=False)
            data["permissions"] = str(self.guild.permissions_in(member, self.channel))
            self.resolved.members[str(user.id)] = data

    def _resolve_channel(self, channel: Channel) -> None:
        self.resolved.channels[str(channel.id)] = {
            "id": str(channel.id),
            "name": channel.name,
            "type": channel.type,
            "parent_id": None if channel.parent_id is None else str(channel.parent_id),
            "permissions": str(self.guild.permissions_in(self.invoker, channel)),
            "guild_id": str(self.guild.id),
            "flags": 0,
        }
