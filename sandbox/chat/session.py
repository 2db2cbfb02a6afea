"""``Chat``: the state of one session (who acts where, the last reply each saw) and the ``:``
verbs that change it; a typed line is parsed, run through the emulator and its reply drawn."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sandbox import Emulator, MemberDriver, Reply, SandboxError
from sandbox.chat.completion import TabCompletion
from sandbox.chat.definitions import JSON, chat_commands, describe_commands
from sandbox.chat.errors import ChatError, ChatQuit
from sandbox.chat.parse import Directory, parse_command
from sandbox.chat.render import render_reply
from sandbox.chat.text import Names
from sandbox.chat.verbs import VERBS

_ALIASES = {"mod": "moderator"}


class Chat(TabCompletion):
    """One person at the keyboard: who they act as, where, and the last reply each member saw."""

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
        # Per member and server, as each person's client keeps its own: switching with :as or
        # :guild and back finds the buttons where they were.
        self._replies: dict[tuple[str, str], Reply] = {}
        self.names = Names.from_world(emulator.world)

    # where and who

    @property
    def prompt(self) -> str:
        """``alice@alpha> ``."""
        return f"{self.member_name}@{self.guild_key}> "

    @property
    def last_reply(self) -> Reply | None:
        """The last reply the acting member saw in this server: what ``:click`` presses."""
        return self._replies.get((self.member_name, self.guild_key))

    @last_reply.setter
    def last_reply(self, reply: Reply | None) -> None:
        if reply is None:
            self._replies.pop((self.member_name, self.guild_key), None)
        else:
            self._replies[(self.member_name, self.guild_key)] = reply

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
