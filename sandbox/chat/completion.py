"""Tab completion: what the Discord client's pop-up would offer for a line typed so far —
commands, sub-commands, option names, and values (choices, members, roles, channels, or the
bot's own autocomplete answers) — and the ``:`` verbs with their arguments."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox import Emulator, MemberDriver, Reply, SandboxError
from sandbox.chat.definitions import JSON, _is_group, find_command
from sandbox.chat.errors import ChatError
from sandbox.chat.parse import Directory, _separator, convert, split_options
from sandbox.chat.verbs import VERBS
from sandbox.options import BOOLEAN, CHANNEL, MENTIONABLE, ROLE, STRING, USER

COMPLETE_TIMEOUT = 2.0


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


class TabCompletion:
    """The completion half of ``Chat``: suggestions for the line typed so far."""

    # Chat provides these; declared here so the completion methods type-check on their own.
    emulator: Emulator
    guild_key: str
    last_reply: Reply | None

    @property
    def member(self) -> MemberDriver:
        """The driver for the acting member."""
        raise NotImplementedError

    def commands(self) -> list[JSON]:
        """The slash commands a member of this guild gets."""
        raise NotImplementedError

    def directory(self) -> Directory:
        """The names that can be typed for members, roles and channels of this guild."""
        raise NotImplementedError

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
