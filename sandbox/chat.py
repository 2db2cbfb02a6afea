"""A terminal chat over the emulator: type slash commands as in Discord's client, see the replies.

This module knows Discord's protocol and the emulator's public API, never the bot. It has four
parts:

- parsing: ``parse_command`` turns ``/post title:Hello there body:my first post`` into a
  command path and option values, checked and converted against the synced command
  definitions (a value runs to the next ``option:`` of *that* command);
- rendering: ``render_reply`` draws what a member sees (content, embeds with a bar in their
  colour, buttons, the ephemeral marker) with ``rich``, mentions and timestamps resolved;
- ``Chat``: the state of one session (who acts where, the last reply) and the ``:`` verbs;
- the loops: ``run_script`` (lines from a file or a pipe, echoed) and ``run_interactive``
  (``input()`` with readline Tab completion). Both block on I/O in the calling thread while
  the emulator and whatever answers it run on a ``LoopThread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from sandbox import (
    Button,
    Emulator,
    MemberDriver,
    Message,
    Reply,
    SandboxError,
    SelectMenu,
    World,
)
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

readline: ModuleType | None
try:
    import readline
except ImportError:  # not on every platform; the chat then works without Tab completion
    readline = None

log = logging.getLogger(__name__)

JSON = dict[str, Any]
T = TypeVar("T")


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
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})
_ALIASES = {"mod": "moderator"}
COMPLETE_TIMEOUT = 2.0
EMBED_WIDTH = 80
DEFAULT_EMBED_COLOUR = 0x4E5058  # Discord's grey bar for an embed without a colour

VERBS: dict[str, str] = {
    ":as": "act as another member, e.g. :as bob (or :as mod)",
    ":guild": "switch server, e.g. :guild beta",
    ":click": "press a button on the last reply, e.g. :click Next",
    ":complete": "show what Tab would offer, e.g. :complete /deletepost post:Hel",
    ":members": "list the members of this server",
    ":commands": "list the slash commands and their options",
    ":help": "this help",
    ":quit": "leave (Ctrl-D and Ctrl-C too)",
}


class ChatError(Exception):
    """A line the chat cannot run; the message is one sentence for the person typing."""


class ChatQuit(Exception):
    """The person asked to leave."""


# parsing


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


def chat_commands(commands: Iterable[JSON]) -> list[JSON]:
    """Slash commands only (not context menus), by name; later entries win (guild over global)."""
    by_name: dict[str, JSON] = {}
    for data in commands:
        if int(data.get("type", CHAT_INPUT)) == CHAT_INPUT:
            by_name[str(data["name"])] = data
    return [by_name[n] for n in sorted(by_name)]


def _is_group(options: Sequence[JSON]) -> bool:
    return any(int(o.get("type", STRING)) in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in options)


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


def find_command(name: str, commands: Sequence[JSON]) -> JSON:
    """The synced command called ``name``; ChatError listing the commands when there is none."""
    for data in commands:
        if str(data["name"]) == name:
            return data
    listed = ", ".join(f"/{c['name']}" for c in commands) or "none are synced yet"
    raise ChatError(f"there is no command /{name} (commands: {listed})")


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


# rendering


@dataclass(frozen=True)
class Names:
    """Display names for ids, so ``<@id>`` reads ``@alice`` the way the client shows it."""

    users: Mapping[int, str] = field(default_factory=dict)
    roles: Mapping[int, str] = field(default_factory=dict)
    channels: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def from_world(cls, world: World) -> Names:
        """Every user, role and channel of every guild of the emulator's world."""
        users = {world.bot.id: world.bot.username}
        roles: dict[int, str] = {}
        channels: dict[int, str] = {}
        for guild in world.guilds:
            users.update({m.user.id: m.user.username for m in guild.members})
            roles.update({r.id: r.name.removeprefix("@") for r in guild.roles})
            channels.update({c.id: c.name for c in guild.channels})
        return cls(users, roles, channels)


_MENTION = re.compile(r"<(@!?|@&|#)(\d+)>")
_TIMESTAMP = re.compile(r"<t:(-?\d{1,13})(?::([tTdDfFR]))?>")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before ASCII punctuation


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def relative_time(moment: datetime, now: datetime) -> str:
    """``3 minutes ago`` / ``in 2 days``, as Discord shows ``<t:…:R>``."""
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 45:
        return "a few seconds ago" if seconds <= 0 else "in a few seconds"
    for limit, unit, span in (
        (3600, "minute", 60),
        (86400, "hour", 3600),
        (86400 * 30, "day", 86400),
        (86400 * 365, "month", 86400 * 30),
    ):
        if size < limit:
            amount = _plural(max(1, round(size / span)), unit)
            break
    else:
        amount = _plural(round(size / (86400 * 365)), "year")
    return f"{amount} ago" if seconds <= 0 else f"in {amount}"


def timestamp_text(seconds: int, style: str | None, now: datetime) -> str:
    """A Discord timestamp tag in the reader's local time, in the tag's style."""
    try:
        moment = datetime.fromtimestamp(seconds).astimezone()
    except (OverflowError, OSError, ValueError):
        return f"<t:{seconds}>"
    date = f"{moment.day} {moment:%B %Y}"
    return {
        "t": f"{moment:%H:%M}",
        "T": f"{moment:%H:%M:%S}",
        "d": f"{moment:%d/%m/%Y}",
        "D": date,
        "F": f"{moment:%A}, {date} {moment:%H:%M}",
        "R": relative_time(moment, now),
    }.get(style or "f", f"{date} {moment:%H:%M}")


def calendar_time(moment: datetime, now: datetime) -> str:
    """``today at 18:20`` / ``yesterday at 09:05`` / ``24/11/2026 18:20`` (an embed's timestamp)."""
    local, today = moment.astimezone(), now.astimezone()
    if local.date() == today.date():
        return f"today at {local:%H:%M}"
    if local.date() == (today - timedelta(days=1)).date():
        return f"yesterday at {local:%H:%M}"
    return f"{local:%d/%m/%Y %H:%M}"


def discord_text(text: str, names: Names, now: datetime | None = None) -> str:
    """Message or embed text as the client shows it: mentions named, timestamps written out,
    markdown escapes removed (the chat draws no markdown, so ``\\*`` is just ``*``)."""
    moment = now or datetime.now().astimezone()

    def mention(found: re.Match[str]) -> str:
        kind, ref = found[1], int(found[2])
        if kind == "#":
            return f"#{names.channels.get(ref, 'unknown-channel')}"
        if kind == "@&":
            return f"@{names.roles.get(ref, 'unknown-role')}"
        return f"@{names.users.get(ref, 'unknown-user')}"

    text = _MENTION.sub(mention, text)
    text = _TIMESTAMP.sub(lambda m: timestamp_text(int(m[1]), m[2], moment), text)
    return _ESCAPE.sub(r"\1", text)


class LeftBar:
    """A block of text with a bar in the embed's colour down its left side, like the client."""

    def __init__(self, body: RenderableType, colour: int, *, width: int = EMBED_WIDTH) -> None:
        self.body = body
        self.style = Style(color=f"#{colour:06x}")
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        inner = max(10, min(options.max_width, self.width) - 2)
        lines = console.render_lines(self.body, options.update(width=inner), pad=False)
        bar = Segment("┃ ", self.style)
        for line in lines:
            yield bar
            yield from line
            yield Segment.line()


def _field_cell(item: JSON, names: Names, now: datetime) -> Text:
    return Text.assemble(
        (discord_text(str(item.get("name") or ""), names, now), "bold"),
        "\n",
        discord_text(str(item.get("value") or ""), names, now),
    )


def render_embed(embed: JSON, names: Names, now: datetime | None = None) -> RenderableType:
    """One embed: author, title, description, fields (inline ones three to a row), footer."""
    moment = now or datetime.now().astimezone()
    parts: list[RenderableType] = []
    author = (embed.get("author") or {}).get("name")
    if author:
        parts.append(Text(discord_text(str(author), names, moment), style="bold dim"))
    if embed.get("title"):
        parts.append(Text(discord_text(str(embed["title"]), names, moment), style="bold"))
    if embed.get("description"):
        parts.append(Text(discord_text(str(embed["description"]), names, moment)))
    row: list[JSON] = []

    def flush() -> None:
        if row:
            grid = Table.grid(padding=(0, 3))
            for _ in row:
                grid.add_column()
            grid.add_row(*(_field_cell(item, names, moment) for item in row))
            parts.append(grid)
            row.clear()

    for item in embed.get("fields") or []:
        if item.get("inline"):
            row.append(item)
            if len(row) == 3:
                flush()
        else:
            flush()
            parts.append(_field_cell(item, names, moment))
    flush()
    footer = [discord_text(str((embed.get("footer") or {}).get("text") or ""), names, moment)]
    if embed.get("timestamp"):
        with contextlib.suppress(ValueError):
            footer.append(calendar_time(datetime.fromisoformat(str(embed["timestamp"])), moment))
    footer_text = " • ".join(p for p in footer if p)
    if footer_text:
        parts.append(Text(footer_text, style="dim"))
    if embed.get("image") or embed.get("thumbnail"):
        parts.append(Text("[image]", style="dim"))
    colour = embed.get("color")
    return LeftBar(Group(*parts), int(colour) if isinstance(colour, int) else DEFAULT_EMBED_COLOUR)


_BUTTON_STYLES = {1: "white on #5865f2", 3: "white on #248046", 4: "white on #da373c"}


def render_buttons(
    buttons: Sequence[Button], selects: Sequence[SelectMenu] = (), *, plain: bool = False
) -> Text:
    """``[ Previous ] [ Next ]``; a disabled one dim, or marked in words when there is no colour."""
    out = Text()
    for button in buttons:
        label = button.label or (button.emoji or {}).get("name") or button.custom_id or "?"
        if button.url:
            label += " ↗"
        if button.disabled and plain:
            label += " (disabled)"
        style = "dim" if button.disabled else _BUTTON_STYLES.get(button.style, "reverse")
        if out:
            out.append(" ")
        out.append(f"[ {label} ]", style=style)
    for select in selects:
        if out:
            out.append(" ")
        out.append(f"[ {select.placeholder or 'Make a selection'} ▾ ]", style="reverse")
    return out


def render_message(
    message: Message,
    names: Names,
    *,
    now: datetime | None = None,
    plain: bool = False,
) -> RenderableType:
    """One message: who sent it and who sees it, content, embeds, then buttons."""
    header = Text("Bulletin", style="bold")
    if message.ephemeral:
        header.append("  (only you can see this)", style="dim italic")
    else:
        channel = names.channels.get(message.channel_id)
        header.append(f"  in #{channel}" if channel else "", style="dim")
    parts: list[RenderableType] = [header]
    if message.content:
        parts.append(Text(discord_text(message.content, names, now)))
    parts.extend(render_embed(embed, names, now) for embed in message.embeds)
    buttons = render_buttons(message.buttons, message.selects, plain=plain)
    if buttons:
        parts.append(buttons)
    return Group(*parts)


def render_reply(
    reply: Reply, names: Names, *, now: datetime | None = None, plain: bool = False
) -> RenderableType:
    """Everything one interaction showed: its message, follow-ups, or a modal."""
    shown: list[Message] = []
    if reply.message is not None:
        shown.append(reply.message)
    shown += [m for m in reply.followups if all(m.id != s.id for s in shown)]
    parts: list[RenderableType] = [render_message(m, names, now=now, plain=plain) for m in shown]
    if reply.modal is not None:
        fields = ", ".join(f.label or f.custom_id for f in reply.modal.fields)
        parts.append(
            Text(
                f"The bot opened a form “{reply.modal.title}” ({fields}); "
                "the chat cannot fill in forms yet.",
                style="italic",
            )
        )
    if not parts:
        parts.append(Text("(nothing visible changed)", style="dim italic"))
    return Group(*parts)


# the chat


@dataclass(frozen=True)
class Suggestion:
    """One Tab completion: the whole new line, the piece it inserts, and what to show beside it."""

    line: str
    insert: str
    label: str = ""


def _quoted(value: str) -> str:
    # A value holding a colon could be cut by a later option name; quotes keep it whole.
    if ":" in value or value != value.strip() or value[:1] in "\"'":
        return f'"{value}"'
    return value


class Chat:
    """One person at the keyboard: who they act as, where, and the last reply they saw."""

    def __init__(
        self,
        emulator: Emulator,
        console: Console,
        *,
        member: str = "alice",
        guild: str | None = None,
    ) -> None:
        self.emulator = emulator
        self.console = console
        self.guild_key = emulator.guild(guild).key
        self.member_name = emulator.guild(guild).member(member).key
        self.last_reply: Reply | None = None
        self.names = Names.from_world(emulator.world)

    # where and who

    @property
    def prompt(self) -> str:
        """``alice@alpha> ``."""
        return f"{self.member_name}@{self.guild_key}> "

    @property
    def member(self) -> MemberDriver:
        """The driver for the acting member."""
        return self.emulator.member(self.member_name, guild=self.guild_key)

    @property
    def plain(self) -> bool:
        """No colour on the console: states like "disabled" must be said in words."""
        return self.console.no_color or self.console.color_system is None

    def commands(self) -> list[JSON]:
        """The slash commands a member of this guild gets: global, then guild ones over them."""
        synced = self.emulator.commands() + self.emulator.commands(self.guild_key)
        return chat_commands(c.payload() for c in synced)

    def directory(self) -> Directory:
        """The names that can be typed for members, roles and channels of this guild."""
        guild = self.emulator.guild(self.guild_key)
        return Directory(
            members={m.user.username: m.user.id for m in guild.members},
            roles={r.name.removeprefix("@"): r.id for r in guild.roles},
            channels={c.name: c.id for c in guild.channels},
        )

    def _find_member(self, ref: str, guild_key: str) -> str:
        guild = self.emulator.guild(guild_key)
        wanted = ref.strip().removeprefix("@").casefold()
        wanted = _ALIASES.get(wanted, wanted)
        names = [m.key for m in guild.members if not m.user.bot]
        exact = [n for n in names if n.casefold() == wanted]
        starting = [n for n in names if n.casefold().startswith(wanted)]
        found = exact or (starting if len(starting) == 1 else [])
        if not wanted or not found:
            raise ChatError(f"no member {ref!r} in {guild_key} (members: {', '.join(names)})")
        return found[0]

    # one line

    async def handle(self, line: str) -> bool:
        """Run one line; False (after saying why) when it could not run. ChatQuit to leave."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        try:
            if text.startswith(":"):
                await self._verb(text)
            elif text.startswith("/"):
                await self._command(text)
            else:
                raise ChatError("type a slash command such as /profile, or :help")
        except ChatError as error:
            self.fail(str(error))
            return False
        except SandboxError as error:
            # What the Discord client would refuse, or the bot not answering: say it, go on.
            self.fail(str(error))
            return False
        return True

    def fail(self, text: str) -> None:
        """Say in one line why something did not work."""
        self.console.print(Text(f"✗ {text}", style="red"))

    def say(self, text: str, style: str = "") -> None:
        """Print a plain line (never read as markup)."""
        self.console.print(Text(text, style=style))

    def show(self, reply: Reply) -> None:
        """Draw a reply and remember it for :click."""
        self.last_reply = reply
        self.console.print(render_reply(reply, self.names, plain=self.plain))

    async def _command(self, text: str) -> None:
        parsed = parse_command(text, self.commands(), self.directory())
        reply = await self.member.run(parsed.command, options=parsed.values)
        self.show(reply)

    async def _verb(self, text: str) -> None:
        verb, _, argument = text.partition(" ")
        argument = argument.strip()
        verb = verb.casefold()
        if verb in (":quit", ":q", ":exit"):
            raise ChatQuit
        if verb == ":as":
            self.member_name = self._find_member(argument, self.guild_key)
            self.say(f"You are now {self.member_name} in {self.guild_key}.", "dim")
        elif verb == ":guild":
            self._switch_guild(argument)
        elif verb == ":click":
            await self._click(argument)
        elif verb == ":members":
            self._list_members()
        elif verb == ":commands":
            self._list_commands()
        elif verb == ":help":
            self._help()
        elif verb == ":complete":
            await self._complete(argument)
        else:
            raise ChatError(f"unknown {verb}; the verbs are {', '.join(VERBS)}")

    def _switch_guild(self, argument: str) -> None:
        keys = [g.key for g in self.emulator.world.guilds]
        match = next((k for k in keys if k.casefold() == argument.casefold()), None)
        if match is None:
            raise ChatError(f"no server {argument!r} (servers: {', '.join(keys)})")
        guild = self.emulator.guild(match)
        if guild.find_member(self.member_name) is None:
            names = ", ".join(m.key for m in guild.members if not m.user.bot)
            raise ChatError(
                f"{self.member_name} is not a member of {match}; :as one of {names} first"
            )
        self.guild_key = match
        self.say(f"You are now {self.member_name} in {self.guild_key}.", "dim")

    async def _click(self, argument: str) -> None:
        if self.last_reply is None:
            raise ChatError("there is no reply to click on yet")
        buttons = self.last_reply.refresh().buttons
        labels = [b.label for b in buttons if b.label]
        if not labels:
            raise ChatError("the last reply has no buttons")
        label = next((lb for lb in labels if lb.casefold() == argument.casefold()), None)
        if label is None:
            raise ChatError(
                f"no button {argument!r} on the last reply (buttons: {', '.join(labels)})"
            )
        reply = await self.last_reply.click(label, by=self.member)
        self.show(reply)

    def _list_members(self) -> None:
        guild = self.emulator.guild(self.guild_key)
        table = Table.grid(padding=(0, 2))
        for member in guild.members:
            roles = [guild.role(r).name for r in member.role_ids if r != guild.id]
            what = "the bot" if member.user.bot else (member.user.global_name or "")
            table.add_row(
                Text(f"@{member.key}", style="bold"),
                Text(what),
                Text(", ".join(roles), style="dim"),
            )
        self.say(f"Members of {guild.name} ({guild.key}):")
        self.console.print(table)

    def _list_commands(self) -> None:
        commands = self.commands()
        if not commands:
            self.say("No commands are synced yet.")
            return
        table = Table.grid(padding=(0, 2))
        for shape, description in describe_commands(commands):
            table.add_row(Text(shape, style="bold"), Text(description, style="dim"))
        self.console.print(table)

    def _help(self) -> None:
        guild = self.emulator.guild(self.guild_key)
        people = ", ".join(m.key for m in guild.members if not m.user.bot)
        servers = ", ".join(g.key for g in self.emulator.world.guilds)
        self.say(
            "Type slash commands as in Discord: /register name:Ann age:30. A value runs to the "
            'next option name of that command; quotes are optional (title:"a b").'
        )
        self.say(f"You are {self.member_name} in {self.guild_key}. Members here: {people}.")
        self.say(f"Servers: {servers}.")
        self._list_commands()
        table = Table.grid(padding=(0, 2))
        for verb, what in VERBS.items():
            table.add_row(Text(verb, style="bold"), Text(what, style="dim"))
        self.console.print(table)
        self.say("Tab completes commands, options and values; # starts a comment.", "dim")

    async def _complete(self, argument: str) -> None:
        found = await self.suggestions(argument)
        if not found:
            self.say("(no suggestions)", "dim")
            return
        table = Table.grid(padding=(0, 3))
        for suggestion in found:
            table.add_row(
                Text(suggestion.insert.strip(), style="bold"),
                Text(suggestion.label, style="dim"),
            )
        self.console.print(table)

    # Tab completion

    async def suggestions(self, buffer: str) -> list[Suggestion]:
        """What Tab offers for a line typed so far (the bot is asked for autocomplete options)."""
        if buffer.startswith(":"):
            return await self._verb_suggestions(buffer)
        if not buffer.startswith("/"):
            return []
        name, space, rest = buffer[1:].partition(" ")
        commands = self.commands()
        if not space:
            return [
                Suggestion(f"/{c['name']} ", f"/{c['name']} ", str(c.get("description") or ""))
                for c in commands
                if str(c["name"]).startswith(name)
            ]
        try:
            command = find_command(name, commands)
            path, options, tail = _walk_partial(command, rest)
        except ChatError:
            return []
        head = buffer[: len(buffer) - len(tail)]
        if options is None:
            # Still choosing a sub-command.
            subs = list(command.get("options") or [])
            for part in path[1:]:
                subs = next(list(o.get("options") or []) for o in subs if o["name"] == part)
            return [
                Suggestion(f"{head}{o['name']} ", f"{o['name']} ", str(o.get("description") or ""))
                for o in subs
                if str(o["name"]).startswith(tail)
            ]
        return await self._option_suggestions(path, options, head, tail)

    async def _option_suggestions(
        self, path: list[str], options: list[JSON], head: str, tail: str
    ) -> list[Suggestion]:
        names = [str(o["name"]) for o in options]
        if not names:
            return []
        by_name = {str(o["name"]): o for o in options}
        found: list[Suggestion] = []
        separators = list(_separator(names).finditer(tail))
        word = "" if not tail or tail[-1].isspace() else tail.rsplit(maxsplit=1)[-1]
        if separators:
            last = separators[-1]
            option = by_name[next(n for n in names if n.casefold() == last[1].casefold())]
            typed = tail[last.end() :].lstrip().lstrip("\"'")
            before = head + tail[: last.start()]
            others: dict[str, str] = {}
            with contextlib.suppress(ChatError):
                others = dict(split_options(tail[: last.start()], names))
            for value, label in await self._values(path, option, typed, others):
                insert = f"{option['name']}:{_quoted(value)} "
                found.append(Suggestion(before + insert, insert, label))
        if ":" not in word:
            used = {m[1].casefold() for m in separators}
            start = head + tail[: len(tail) - len(word)]
            for name in names:
                if name.casefold() not in used and name.startswith(word.casefold()):
                    option = by_name[name]
                    needed = "" if option.get("required") else "optional · "
                    label = needed + str(option.get("description") or "")
                    found.append(Suggestion(f"{start}{name}:", f"{name}:", label))
        return found

    async def _values(
        self, path: list[str], option: JSON, typed: str, others: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        """(value to insert, label) pairs for an option's value being typed."""
        kind = int(option.get("type", STRING))
        folded = typed.casefold()
        if option.get("autocomplete"):
            return await self._ask_bot(path, option, typed, others)
        if option.get("choices"):
            return [
                (str(c.get("name")), f"= {c.get('value')}")
                for c in option["choices"]
                if str(c.get("name")).casefold().startswith(folded)
            ]
        if kind == BOOLEAN:
            return [(v, "") for v in ("true", "false") if v.startswith(folded)]
        guild = self.emulator.guild(self.guild_key)
        known: list[tuple[str, str]] = []
        if kind in (USER, MENTIONABLE):
            known += [(f"@{m.key}", m.user.global_name or "") for m in guild.members]
        if kind in (ROLE, MENTIONABLE):
            known += [(f"@{r.name.removeprefix('@')}", "role") for r in guild.roles]
        if kind == CHANNEL:
            known += [(f"#{c.name}", c.topic or "") for c in guild.channels]
        bare = folded.lstrip("@#")
        return [(v, label) for v, label in known if v[1:].casefold().startswith(bare)]

    async def _ask_bot(
        self, path: list[str], option: JSON, typed: str, others: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        # The client sends the other options filled so far; send those that convert.
        values: dict[str, Any] = {}
        directory = self.directory()
        leaf = {str(o["name"]): o for o in self._leaf(path)}
        for name, raw in others.items():
            if name in leaf and raw:
                with contextlib.suppress(ChatError):
                    values[name] = convert(leaf[name], raw, directory)
        try:
            choices = await asyncio.wait_for(
                self.member.autocomplete(
                    "/" + " ".join(path), str(option["name"]), typed, options=values
                ),
                COMPLETE_TIMEOUT,
            )
        except (SandboxError, TimeoutError):
            return []
        return [(str(c.value), c.name) for c in choices]

    def _leaf(self, path: list[str]) -> list[JSON]:
        options = list(find_command(path[0], self.commands()).get("options") or [])
        for part in path[1:]:
            options = next(list(o.get("options") or []) for o in options if o["name"] == part)
        return options

    async def _verb_suggestions(self, buffer: str) -> list[Suggestion]:
        verb, space, argument = buffer.partition(" ")
        if not space:
            return [
                Suggestion(f"{v} ", f"{v} ", what)
                for v, what in VERBS.items()
                if v.startswith(verb)
            ]
        head = f"{verb} "
        folded = argument.casefold()
        options: list[tuple[str, str]] = []
        if verb == ":as":
            guild = self.emulator.guild(self.guild_key)
            options = [(m.key, m.user.global_name or "") for m in guild.members if not m.user.bot]
        elif verb == ":guild":
            options = [(g.key, g.name) for g in self.emulator.world.guilds]
        elif verb == ":click" and self.last_reply is not None:
            options = [(b.label, "") for b in self.last_reply.refresh().buttons if b.label]
        elif verb == ":complete":
            inner = await self.suggestions(argument)
            return [Suggestion(head + s.line, s.insert, s.label) for s in inner]
        return [
            Suggestion(head + value, value, label)
            for value, label in options
            if value.casefold().startswith(folded)
        ]


def _walk_partial(command: JSON, rest: str) -> tuple[list[str], list[JSON] | None, str]:
    """Like ``_walk`` for a line still being typed: None options while a sub-command is chosen."""
    path = [str(command["name"])]
    options: list[JSON] = list(command.get("options") or [])
    while _is_group(options):
        word, space, remainder = rest.lstrip().partition(" ")
        if not space:
            return path, None, rest.lstrip()
        match = next((o for o in options if o["name"] == word), None)
        if match is None:
            raise ChatError(word)
        path.append(word)
        options = list(match.get("options") or [])
        rest = remainder
    return path, options, rest


# the loops


class LoopThread:
    """An event loop on a background thread, for a caller that blocks on ``input()``.

    ``input()`` and readline belong on the main thread: only there does Ctrl-C interrupt
    them and leave the terminal as it was. The emulator and whatever answers it run here
    instead, and the readline completer (called synchronously from ``input()``) reaches them
    with ``run_coroutine_threadsafe`` and a short timeout.
    """

    def __init__(self, name: str = "sandbox-loop") -> None:
        self.loop = asyncio.new_event_loop()
        # A daemon thread: if something hangs at exit, the process still ends.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.leftovers: list[str] = []

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> LoopThread:
        """Start the loop's thread."""
        self._thread.start()
        return self

    def call(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop and wait for its result (cancelled on timeout or Ctrl-C)."""
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Cancel whatever is left, shut the loop down and join its thread."""
        if self._thread.is_alive():
            with contextlib.suppress(TimeoutError):
                self.leftovers = self.call(self._finish(), timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()

    async def _finish(self) -> list[str]:
        current = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not current]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()
        return sorted(t.get_name() for t in left)

    def __enter__(self) -> LoopThread:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


def script_lines(source: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Numbered lines to run: blank lines and ``#`` comments skipped, read lazily."""
    for number, raw in enumerate(source, start=1):
        text = raw.strip()
        if text and not text.startswith("#"):
            yield number, text


def run_script(chat: Chat, runner: LoopThread, source: Iterable[str]) -> int:
    """Run lines as if typed, echoing each after the prompt; 1 if any line failed, else 0."""
    ran = 0
    failed: list[int] = []
    for number, text in script_lines(source):
        chat.console.print(Text(chat.prompt + text, style="bold"))
        ran += 1
        try:
            ok = runner.call(chat.handle(text))
        except ChatQuit:
            break
        if not ok:
            failed.append(number)
    if failed:
        where = ", ".join(str(n) for n in failed)
        chat.say(
            f"Ran {ran} line{'s' if ran != 1 else ''}: {len(failed)} failed "
            f"(line{'s' if len(failed) != 1 else ''} {where}).",
            "bold red",
        )
        return 1
    chat.say(f"Ran {ran} line{'s' if ran != 1 else ''}: all worked.", "bold")
    return 0


def _install_completion(chat: Chat, runner: LoopThread, history: Path | None) -> None:
    if readline is None:
        return
    rl = readline
    offered: list[Suggestion] = []

    def complete(text: str, state: int) -> str | None:
        if state == 0:
            try:
                offered[:] = runner.call(chat.suggestions(text), timeout=COMPLETE_TIMEOUT)
            except Exception:
                # A slow or failing answer must never break typing: offer nothing this time.
                log.debug("Completion of %r failed", text, exc_info=True)
                offered[:] = []
        return offered[state].line if state < len(offered) else None

    def display(_substitution: str, matches: Sequence[str], _longest: int) -> None:
        # readline would print whole lines; show the piece and its label instead, like the
        # client's pop-up, then redraw the prompt and what was typed.
        shown = [s for s in offered if s.line in matches]
        width = max((len(s.insert.strip()) for s in shown), default=0)
        lines = [f"  {s.insert.strip():<{width}}   {s.label}".rstrip() for s in shown]
        print("\n" + "\n".join(lines))  # noqa: T201 - readline draws on the raw terminal
        print(chat.prompt + rl.get_line_buffer(), end="", flush=True)  # noqa: T201

    # No delimiters: the completer sees the whole line, so a value with spaces
    # (post:Hello th) can be completed as a whole.
    rl.set_completer_delims("")
    rl.set_completer(complete)
    rl.set_completion_display_matches_hook(display)
    rl.parse_and_bind("tab: complete")
    # Names differ in case (@bob, @Bulletin): without this the common prefix readline
    # inserts can be shorter than what was typed. The list shows at the first Tab, like
    # the client's pop-up.
    rl.parse_and_bind("set completion-ignore-case on")
    rl.parse_and_bind("set show-all-if-ambiguous on")
    if history is not None:
        with contextlib.suppress(OSError):
            rl.read_history_file(history)
        rl.set_history_length(1000)


def _save_history(history: Path | None) -> None:
    if readline is not None and history is not None:
        with contextlib.suppress(OSError):
            readline.write_history_file(history)


def run_interactive(
    chat: Chat,
    runner: LoopThread,
    *,
    history: Path | None = None,
    read: Callable[[str], str] = input,
) -> int:
    """The REPL: read a line, run it, draw the reply; ``:quit``, Ctrl-D or Ctrl-C leave (0)."""
    _install_completion(chat, runner, history)
    try:
        while True:
            try:
                line = read(chat.prompt)
            except (EOFError, KeyboardInterrupt):
                chat.console.print()
                break
            try:
                runner.call(chat.handle(line))
            except ChatQuit:
                break
            except KeyboardInterrupt:
                chat.console.print()
                break
    finally:
        _save_history(history)
    return 0


__all__ = [
    "VERBS",
    "Chat",
    "ChatError",
    "ChatQuit",
    "Directory",
    "LeftBar",
    "LoopThread",
    "Names",
    "ParsedCommand",
    "Suggestion",
    "chat_commands",
    "convert",
    "describe_commands",
    "discord_text",
    "find_command",
    "parse_command",
    "relative_time",
    "render_buttons",
    "render_embed",
    "render_message",
    "render_reply",
    "run_interactive",
    "run_script",
    "script_lines",
    "split_options",
    "timestamp_text",
    "usage",
]
