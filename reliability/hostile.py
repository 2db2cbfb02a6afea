"""Hostile input to every command the bot synced, and to every autocomplete.

The commands are read from what the bot uploaded to the emulator, so a new command is
driven without a change here. For each leaf command (``/mod warn`` is one) hypothesis draws
``examples`` cases from ``reliability.values``: plausible values, hostile values for each
option's declared type (lengths at and past the limits, markup, NUL, lone surrogates, digit
strings thousands long, JSON of another type), required options left out, and option lists
no Discord client would send. A case the Discord client would refuse goes out through the
driver's raw mode, as a forged client sends it. Each option with autocomplete gets as many
typed values and forged requests.

Commands run as the first of alice, moderator and admin whose permissions the command's
``default_member_permissions`` admit (as Discord checks). alice is registered or not at
random before each case; members a moderation case removed, banned or timed out are put
back after it, so every case finds the same server.

Each case is counted once: refused (an ephemeral "That didn't work"; for autocomplete, no
suggestions), answered, an internal error (an error id shown to the member), or unanswered.
Internal errors also include every ERROR the bot logged during the phase that no error id
shown accounts for.

Hypothesis runs in a worker thread; each case is handed to the event loop that runs the
emulator, and waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from bot.db import Database
from bot.db.blocks import remove_block
from bot.db.posts import get_user_posts
from bot.errors import AlreadyRegistered, NotRegistered
from bot.services import posts, profiles
from reliability.process import BotProcess
from reliability.replies import error_id, is_refusal, shown_error_ids
from reliability.report import Tally
from reliability.values import (
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
    any_json,
    digit_strings,
    forged_lists,
    hostile_text,
    integers_for,
    text_for,
    valid_text,
)
from sandbox import DriverError, Emulator, NoAnswerError, OptionError, Permission, Reply
from sandbox.permissions import has_all

T = TypeVar("T")
JSON = dict[str, Any]

# Who may be the target of a case: members moderation can act on, members it must refuse
# (the owner, an admin, the moderator themself, the bot), a user in no guild of the bot's,
# and one only in the other guild.
TARGETS = ["carol", "dave", "alice", "bob", "owner", "admin", "moderator", "Bulletin", "erin"]
GHOST = "ghost"  # a Discord account in no guild of the bot's, added for the run
# Members of alpha a moderation case may remove; they are put back after each case.
PUT_BACK = ("alice", "bob", "carol", "dave")
INVOKERS = ("alice", "moderator", "admin")
DURATIONS = [
    *("90s", "10m", "1h30m", "7d", "4w", "28d", "29d", "365d", "366d", "0s", "0"),
    *("1h 30m", "-5m", "1e3s", "10 minutes", "٣m", "9" * 30 + "d", "1d1d", "m10"),
]
# Values that reach the command's success path for options whose meaning the type does not
# give (the rest of each option's values come from its declared type).
HINTS: dict[str, st.SearchStrategy[Any]] = {
    "duration": st.sampled_from(DURATIONS),
    "number": st.integers(1, 30),
    "age": st.integers(13, 120),
}
CASE_SECONDS = 60.0


@dataclass
class Leaf:
    """A command that runs: a top-level command, or a sub-command inside it."""

    command: str  # the top-level name
    route: list[tuple[str, int]]  # sub-command group and sub-command names, with their types
    options: list[JSON]
    permissions: int | None

    @property
    def path(self) -> str:
        return " ".join(["/" + self.command, *(name for name, _ in self.route)])

    @property
    def declared(self) -> dict[str, int]:
        return {str(o["name"]): int(o["type"]) for o in self.options}

    def nest(self, options: Any) -> Any:
        """The leaf's options inside its sub-command (group), as Discord sends them."""
        for name, kind in reversed(self.route):
            options = [{"name": name, "type": kind, "options": options}]
        return options


def _walk(
    options: list[JSON], route: list[tuple[str, int]], top: str, perms: int | None
) -> list[Leaf]:
    subs = [o for o in options if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if not subs:
        return [Leaf(top, route, options, perms)]
    found: list[Leaf] = []
    for sub in subs:
        inner = list(sub.get("options") or [])
        found += _walk(inner, [*route, (str(sub["name"]), int(sub["type"]))], top, perms)
    return found


def leaves(emulator: Emulator) -> list[Leaf]:
    """Every slash command the bot synced (globally and to the guild), leaf by leaf."""
    found: list[Leaf] = []
    for command in [*emulator.commands(), *emulator.commands(emulator.guild().id)]:
        if command.type == 1:
            found += _walk(command.options, [], command.name, command.default_member_permissions)
    return sorted(found, key=lambda leaf: leaf.path)


def _lengths(option: JSON) -> list[int]:
    low, high = option.get("min_length"), option.get("max_length")
    lengths = {0, 1, 100, 101}
    for bound in (low, high):
        if isinstance(bound, int):
            lengths |= {max(0, bound - 1), bound, bound + 1}
    return sorted(lengths)


@dataclass
class Dynamic:
    """What the cases draw from that changes as they run: posts, channels."""

    own_posts: list[int] = field(default_factory=list)
    others_posts: list[int] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)


def option_values(
    option: JSON, dynamic: Dynamic
) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """(plausible values, hostile values) for one declared option."""
    kind, name = int(option["type"]), str(option["name"])
    hint = HINTS.get(name)
    if kind == STRING:
        high = option.get("max_length")
        plausible: st.SearchStrategy[Any] = valid_text(high if isinstance(high, int) else 100)
        if name == "post":
            ids = dynamic.own_posts or [1]
            plausible = st.sampled_from([*map(str, ids), *(f"#{i}" for i in ids)])
            others = [str(i) for i in dynamic.others_posts] or ["1"]
            hostile: st.SearchStrategy[Any] = st.one_of(
                st.sampled_from([*others, str(ids[0]) + "0" * 30]), text_for(*_lengths(option))
            )
        else:
            hostile = text_for(*_lengths(option))
    elif kind == INTEGER:
        low, high = option.get("min_value"), option.get("max_value")
        plausible = st.integers(low if low is not None else 0, high if high is not None else 100)
        hostile = integers_for(low, high)
    elif kind == NUMBER:
        plausible = st.floats(0, 100)
        hostile = st.one_of(st.floats(allow_nan=False), st.integers(-(2**64), 2**64), any_json)
    elif kind == BOOLEAN:
        plausible = st.booleans()
        hostile = any_json
    elif kind in (USER, MENTIONABLE):
        plausible = st.sampled_from([*TARGETS, GHOST])
        hostile = st.one_of(
            hostile_text, digit_strings, any_json, st.sampled_from(["<@1>", "0", "-1", str(2**64)])
        )
    elif kind in (CHANNEL, ROLE):
        plausible = st.sampled_from(dynamic.channels or ["general"])
        hostile = st.one_of(hostile_text, digit_strings, any_json)
    else:
        plausible = any_json
        hostile = any_json
    if hint is not None:
        plausible = st.one_of(hint, plausible)
    return plausible, hostile


def case_values(leaf: Leaf, dynamic: Dynamic) -> st.SearchStrategy[Any]:
    """The options of one case: a dict to send as the client would, or a forged list."""
    if not leaf.options:
        return st.one_of(st.just({}), st.just([]), forged_lists({}))
    plausible: dict[str, st.SearchStrategy[Any]] = {}
    mixed: dict[str, st.SearchStrategy[Any]] = {}
    for option in leaf.options:
        good, bad = option_values(option, dynamic)
        plausible[str(option["name"])] = good
        mixed[str(option["name"])] = st.one_of(good, bad)
    required = {str(o["name"]) for o in leaf.options if o.get("required")}

    def split(values: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {k: v for k, v in values.items() if k in required},
            optional={k: v for k, v in values.items() if k not in required},
        )

    return st.one_of(
        split(plausible),
        split(mixed),
        st.fixed_dictionaries({}, optional=mixed),
        forged_lists(leaf.declared),
    )


class HostilePhase:
    """Drives the cases; ``run`` is called in a worker thread, the rest runs on ``loop``."""

    def __init__(
        self,
        emulator: Emulator,
        bot: BotProcess,
        db: Database,
        loop: asyncio.AbstractEventLoop,
        *,
        examples: int,
        seed: int,
    ) -> None:
        self.emulator = emulator
        self.bot = bot
        self.db = db
        self.loop = loop
        self.examples = examples
        self.seed = seed
        self.tally = Tally()
        self.guild = emulator.guild()

    # --- on the event loop -----------------------------------------------------------------

    async def prepare(self) -> None:
        """A user in no guild, bob registered with a post, alice with one."""
        with contextlib.suppress(ValueError):
            self.emulator.add_user(GHOST)
        for name in ("bob", "alice"):
            await self._registered(name, True)
            await self._post_ids(name)

    def _member_id(self, name: str) -> int:
        return self.emulator.user(name).id

    async def _registered(self, name: str, registered: bool) -> None:
        member_id = self._member_id(name)
        if registered:
            with contextlib.suppress(AlreadyRegistered):
                await profiles.register(self.db, self.guild.id, member_id, name.title(), 30)
        else:
            with contextlib.suppress(NotRegistered):
                await profiles.leave(self.db, self.guild.id, member_id)

    async def _post_ids(self, name: str) -> list[int]:
        member_id = self._member_id(name)
        page = await self.db.read_one(get_user_posts(self.guild.id, member_id, limit=5))
        if not page:
            with contextlib.suppress(NotRegistered):
                await posts.publish(self.db, self.guild.id, member_id, "A post", None)
            page = await self.db.read_one(get_user_posts(self.guild.id, member_id, limit=5))
        return [p.id for p in page]

    async def _dynamic(self) -> Dynamic:
        own = await self._post_ids("alice")
        others = await self._post_ids("bob")
        return Dynamic(own, others, [c.name for c in self.guild.channels])

    async def _put_back(self) -> None:
        """Undo what a moderation case did to members, as the owner would: a member left
        blocked by ``/mod block`` would turn every later case of theirs into that refusal."""
        banned = {ban.user.id for ban in self.emulator.bans()}
        for name in (*PUT_BACK, GHOST, "erin"):
            user = self.emulator.user(name)
            await self.db.write_one(remove_block(self.guild.id, user.id))
            if user.id in banned:
                await self.emulator.unban(name)
            if name in PUT_BACK and self.guild.find_member(user.id) is None:
                await self.emulator.join(name)

    async def _send(self, leaf: Leaf, invoker: str, values: Any) -> Reply:
        member = self.emulator.member(invoker)
        if isinstance(values, dict):
            try:
                return await member.run(leaf.path, options=values)
            except OptionError:
                # What the Discord client would not send goes out as a forged client sends it.
                values = [
                    {"name": name, "type": leaf.declared.get(name, STRING), "value": value}
                    for name, value in values.items()
                ]
        return await member.run_raw("/" + leaf.command, leaf.nest(values))

    def _count(self, command: str) -> None:
        self.tally.tried += 1
        self.tally.by_command[command] = self.tally.by_command.get(command, 0) + 1

    async def _exchange(self, leaf: Leaf, invoker: str, values: Any) -> None:
        violations = len(self.emulator.violations)
        try:
            reply = await self._send(leaf, invoker, values)
        except NoAnswerError:
            self._count(leaf.path)
            self.tally.unanswered += 1
            self.tally.problems.append(f"{leaf.path} {values!r:.200}: no answer")
        except DriverError as error:
            # The emulator refused to send it at all: not a case (a gap in the harness).
            self.tally.problems.append(f"{leaf.path} {values!r:.200}: not sent ({error})")
        else:
            self._count(leaf.path)
            shown = error_id(reply.text)
            if shown is not None:
                self.tally.error_ids += 1
                self.tally.problems.append(f"{leaf.path} {values!r:.200}: error id {shown}")
            elif is_refusal(reply):
                self.tally.refused += 1
            else:
                self.tally.answered += 1
        finally:
            self.tally.rejected_bodies += len(self.emulator.violations) - violations
            if invoker != "alice":
                await self._put_back()

    async def _complete(self, leaf: Leaf, option: str, typed: str | None, forged: Any) -> None:
        member = self.emulator.member("alice")
        label = f"{leaf.path} {option} (autocomplete)"
        try:
            if forged is None:
                assert typed is not None
                choices = await member.autocomplete(leaf.path, option, typed)
            else:
                choices = await member.autocomplete_raw("/" + leaf.command, leaf.nest(forged))
        except NoAnswerError:
            self._count(label)
            self.tally.unanswered += 1
            self.tally.problems.append(f"{label} {typed!r:.100} {forged!r:.100}: no answer")
            return
        except DriverError as error:
            self.tally.problems.append(f"{label}: not sent ({error})")
            return
        self._count(label)
        if choices:
            self.tally.answered += 1
        else:
            self.tally.refused += 1

    # --- in the worker thread --------------------------------------------------------------

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self.loop)
        return future.result(timeout=CASE_SECONDS)

    def _drive(self, body: Callable[[st.DataObject], None]) -> None:
        @settings(
            max_examples=self.examples,
            deadline=None,
            database=None,
            derandomize=False,
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
        )
        @hypothesis_seed(self.seed)
        @given(data=st.data())
        def cases(data: st.DataObject) -> None:
            body(data)

        cases()

    def _invoker(self, leaf: Leaf) -> str:
        for name in INVOKERS:
            perms = self.guild.guild_permissions(self.guild.member(name))
            required = leaf.permissions
            if (
                required is None
                or perms & Permission.ADMINISTRATOR
                or (required and has_all(perms, required))
            ):
                return name
        return INVOKERS[-1]

    def run(self) -> Tally:
        """Every leaf's cases, then every autocomplete's."""
        for leaf in leaves(self.emulator):
            invoker = self._invoker(leaf)

            def command_case(
                data: st.DataObject, leaf: Leaf = leaf, invoker: str = invoker
            ) -> None:
                if invoker == "alice":
                    registered = data.draw(st.booleans(), label="registered")
                    self._call(self._registered("alice", registered))
                dynamic = self._call(self._dynamic())
                values = data.draw(case_values(leaf, dynamic), label="values")
                self._call(self._exchange(leaf, invoker, values))

            self._drive(command_case)
            for option in leaf.options:
                if not option.get("autocomplete"):
                    continue
                name = str(option["name"])

                def complete_case(data: st.DataObject, leaf: Leaf = leaf, name: str = name) -> None:
                    self._call(self._registered("alice", True))
                    dynamic = self._call(self._dynamic())
                    typed = data.draw(
                        st.one_of(
                            hostile_text,
                            text_for(0, 1, 100, 101),
                            st.just(""),
                            st.sampled_from([str(i) for i in dynamic.own_posts] or ["1"]),
                        ),
                        label="typed",
                    )
                    forged = data.draw(
                        st.one_of(st.none(), forged_lists(leaf.declared)), label="forged"
                    )
                    self._call(self._complete(leaf, name, typed, forged))

                self._drive(complete_case)
        return self.tally


async def run_hostile(
    emulator: Emulator, bot: BotProcess, db: Database, *, examples: int, seed: int
) -> Tally:
    """The hostile phase on the running ``bot``; see the module's docstring."""
    phase = HostilePhase(
        emulator, bot, db, asyncio.get_running_loop(), examples=examples, seed=seed
    )
    await phase.prepare()
    pings = len(emulator.pings())
    first_message = len(emulator.messages)
    logged = len(bot.log.problems)
    tally = await asyncio.to_thread(phase.run)
    await bot.settle_log()
    shown = shown_error_ids(emulator.messages[first_message:])
    lines = bot.log.since(logged)
    unexplained = [line for line in lines if not any(i in line for i in shown)]
    tally.logged_errors = len(unexplained)
    tally.pings = len(emulator.pings()) - pings
    tally.problems += [f"logged: {line[:300]}" for line in unexplained[:5]]
    return tally
