"""Parsing a typed slash command: ``/post title:Hello there body:my first post`` becomes a
command path and option values, checked and converted against the synced definitions (a
value runs to the next ``option:`` of *that* command)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.chat.definitions import JSON, _is_group, find_command, usage
from sandbox.chat.errors import ChatError
from sandbox.options import (
    ATTACHMENT,
    BOOLEAN,
    CHANNEL,
    INTEGER,
    MENTIONABLE,
    NUMBER,
    ROLE,
    STRING,
    USER,
)

_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


@dataclass(frozen=True)
class ParsedCommand:
    """A typed slash command: its path (``post`` or ``group sub``) and converted option values."""

    path: str
    values: dict[str, Any]

    @property
    def command(self) -> str:
        """What the driver's ``run`` takes: ``/name`` plus any sub-command words."""
        return "/" + self.path


@dataclass(frozen=True)
class Directory:
    """The names a member can type for users, roles and channels of one guild."""

    members: Mapping[str, int] = field(default_factory=dict)
    roles: Mapping[str, int] = field(default_factory=dict)
    channels: Mapping[str, int] = field(default_factory=dict)

    def member(self, text: str) -> int | None:
        """A member's user id from ``@bob``, ``bob``, ``<@id>`` or an id."""
        ref = text.strip()
        mention = re.fullmatch(r"<@!?(\d+)>", ref)
        if mention:
            return int(mention[1])
        ref = ref.removeprefix("@")
        if ref.isdigit() and int(ref) in self.members.values():
            return int(ref)
        wanted = ref.casefold()
        return next((i for n, i in self.members.items() if n.casefold() == wanted), None)

    def role(self, text: str) -> int | None:
        """A role's id from ``@Moderator``, ``Moderator``, ``<@&id>`` or an id."""
        ref = text.strip()
        mention = re.fullmatch(r"<@&(\d+)>", ref)
        if mention:
            return int(mention[1])
        ref = ref.removeprefix("@")
        if ref.isdigit() and int(ref) in self.roles.values():
            return int(ref)
        wanted = ref.casefold()
        return next((i for n, i in self.roles.items() if n.casefold() == wanted), None)

    def channel(self, text: str) -> int | None:
        """A channel's id from ``#general``, ``general``, ``<#id>`` or an id."""
        ref = text.strip()
        mention = re.fullmatch(r"<#(\d+)>", ref)
        if mention:
            return int(mention[1])
        ref = ref.removeprefix("#")
        if ref.isdigit() and int(ref) in self.channels.values():
            return int(ref)
        wanted = ref.casefold()
        return next((i for n, i in self.channels.items() if n.casefold() == wanted), None)


def _walk(command: JSON, rest: str) -> tuple[list[str], list[JSON], str]:
    """Follow sub-command words at the start of ``rest``; the path, the leaf's options, the rest."""
    path = [str(command["name"])]
    options: list[JSON] = list(command.get("options") or [])
    while _is_group(options):
        word, _, remainder = rest.strip().partition(" ")
        subs = [str(o["name"]) for o in options]
        if not word:
            raise ChatError(f"/{' '.join(path)} needs a sub-command: {', '.join(subs)}")
        match = next((o for o in options if o["name"] == word), None)
        if match is None:
            raise ChatError(
                f"/{' '.join(path)} has no sub-command {word!r} (sub-commands: {', '.join(subs)})"
            )
        path.append(word)
        options = list(match.get("options") or [])
        rest = remainder
    return path, options, rest


def _separator(names: Sequence[str]) -> re.Pattern[str]:
    # Longest first, so "body" never stops a match of "bodytext"; a name counts only at the
    # start or after whitespace, so "http://x" or "a: b" inside a value stay in the value.
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?:^|(?<=\s))({alternatives}):", re.IGNORECASE)


def split_options(text: str, names: Sequence[str]) -> list[tuple[str, str]]:
    """Split ``title:a b body:c`` into ``[("title", "a b"), ("body", "c")]``.

    Only ``names`` (the command's own options) separate values, so ``title:a: b`` keeps
    ``a: b``. A value in matching quotes is taken as written, separators inside included.
    """
    text = text.strip()
    if not text:
        return []
    if not names:
        raise ChatError(f"this command takes no options, but {text!r} was typed after it")
    canonical = {n.casefold(): n for n in names}
    pattern = _separator(names)
    found = pattern.match(text)
    if found is None:
        _complain_about_leading(text, names)
    pairs: list[tuple[str, str]] = []
    while found is not None:
        name = canonical[found[1].casefold()]
        start = found.end()
        while start < len(text) and text[start] == " ":
            start += 1
        if start < len(text) and text[start] in "\"'":
            quote = text[start]
            close = start + 1
            while True:
                close = text.find(quote, close)
                if close == -1:
                    raise ChatError(f"the quote that opens the value of {name!r} is never closed")
                if close + 1 == len(text) or text[close + 1].isspace():
                    break
                close += 1
            value = text[start + 1 : close]
            following = pattern.search(text, close + 1)
            stray = text[close + 1 : following.start() if following else len(text)].strip()
            if stray:
                raise ChatError(f"unexpected {stray!r} after the quoted value of {name!r}")
        else:
            following = pattern.search(text, start)
            value = text[start : following.start() if following else len(text)].strip()
        if any(n == name for n, _ in pairs):
            raise ChatError(f"option {name!r} is given twice")
        pairs.append((name, value))
        found = following
    return pairs


def _complain_about_leading(text: str, names: Sequence[str]) -> None:
    known = ", ".join(names)
    word = re.match(r"([\w-]+):", text)
    if word:
        raise ChatError(f"there is no option {word[1]!r} (options: {known})")
    raise ChatError(f"expected option:value, not {text.split(maxsplit=1)[0]!r} (options: {known})")


def convert(option: JSON, raw: str, directory: Directory) -> Any:
    """A typed value as the Discord client would send it for this option."""
    kind = int(option.get("type", STRING))
    name = str(option["name"])
    for choice in option.get("choices") or []:
        # The client lists choices by name; the value is what it sends.
        if raw.casefold() in (str(choice.get("name")).casefold(), str(choice.get("value"))):
            return choice.get("value")
    if kind in (USER, MENTIONABLE, ROLE, CHANNEL):
        return _reference(kind, name, raw, directory)
    if kind == ATTACHMENT:
        raise ChatError(f"option {name!r} takes a file, which the chat cannot send")
    return _scalar(kind, name, raw)


def _scalar(kind: int, name: str, raw: str) -> Any:
    if kind == INTEGER:
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise ChatError(f"option {name!r} takes a whole number, not {raw!r}")
        return int(raw)
    if kind == NUMBER:
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ChatError(f"option {name!r} takes a number, not {raw!r}")
        return number
    if kind == BOOLEAN:
        if raw.casefold() not in _TRUE | _FALSE:
            raise ChatError(f"option {name!r} takes true or false, not {raw!r}")
        return raw.casefold() in _TRUE
    return raw


def _reference(kind: int, name: str, raw: str, directory: Directory) -> int:
    """The id of the member, role or channel typed (``@bob``, ``#general``, a mention, an id)."""
    found: int | None = None
    if kind in (USER, MENTIONABLE):
        found = directory.member(raw)
    if found is None and kind in (ROLE, MENTIONABLE):
        found = directory.role(raw)
    if kind == CHANNEL:
        found = directory.channel(raw)
    if found is not None:
        return found
    if kind == CHANNEL:
        what, known = "channel", ", ".join(f"#{n}" for n in directory.channels)
    elif kind == ROLE:
        what, known = "role", ", ".join(f"@{n}" for n in directory.roles)
    else:
        what, known = "member", ", ".join(f"@{n}" for n in directory.members)
    raise ChatError(f"option {name!r}: no {what} {raw!r} here (try one of {known})")


def parse_command(
    line: str, commands: Sequence[JSON], directory: Directory | None = None
) -> ParsedCommand:
    """Parse a typed slash command against the synced definitions; ChatError says what is wrong."""
    text = line.strip()
    if not text.startswith("/") or len(text) == 1:
        raise ChatError("a command starts with / and its name, like /profile")
    name, _, rest = text[1:].partition(" ")
    command = find_command(name, commands)
    path, options, rest = _walk(command, rest)
    by_name = {str(o["name"]): o for o in options}
    values: dict[str, Any] = {}
    where = "/" + " ".join(path)
    for option_name, raw in split_options(rest, list(by_name)):
        if not raw:
            raise ChatError(f"{where}: option {option_name!r} has no value")
        values[option_name] = convert(by_name[option_name], raw, directory or Directory())
    missing = [n for n, o in by_name.items() if o.get("required") and n not in values]
    if missing:
        raise ChatError(f"{where} needs option {missing[0]!r} ({usage(path, options)})")
    return ParsedCommand(" ".join(path), values)
