"""Every option of every command, driven with hostile values through the emulator (hypothesis).

One test per command, and one for /deletepost's autocomplete. Values mix valid ones, lengths
at and past each limit, markdown, mentions, control characters, NUL, lone surrogates, digit
strings thousands of digits long and, through the driver's raw mode, JSON of the wrong type
and option lists no Discord client would send. A value the Discord client would refuse goes
out raw, as a forged client would send it. After every example: no internal error (no error
id shown, nothing logged at ERROR), no body Discord would refuse, no ping, every interaction
answered in time, and the database as it was whenever the input was refused.

The emulator, the bot and the database are module-scoped (one per backend), so the
examples share one event loop and each costs one interaction. The hostile values live in
``reliability/values.py``, which `make reliability` draws from too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bot.client import Bulletin
from bot.db.posts import count_posts, get_user_posts
from bot.db.users import list_users
from bot.errors import AlreadyRegistered, NotRegistered
from bot.services import posts, profiles
from reliability.values import (
    INTEGER,
    STRING,
    USER,
    any_json,
    digit_strings,
    forged_lists,
    hostile_text,
    text_for,
    valid_text,
)
from sandbox import Emulator, MemberDriver, OptionError, Reply
from tests.conftest import BACKENDS, empty_database, require_backend
from tests.e2e.conftest import BotRunner
from tests.support import assert_no_leaked_tasks

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = 50
# bot.reporting.error_embed's title: an expected refusal, as opposed to an answer.
REFUSED = "That didn't work"
# Each command's options as declared (name: Discord option type).
DECLARED: dict[str, dict[str, int]] = {
    "/register": {"name": STRING, "age": INTEGER},
    "/profile": {"member": USER},
    "/rename": {"name": STRING},
    "/leave": {},
    "/post": {"title": STRING, "body": STRING},
    "/myposts": {},
    "/deletepost": {"post": STRING},
    "/about": {},
}


def as_delivered(value: str) -> str:
    """A value as the bot receives it: through JSON, where two surrogates that form a pair
    (``"\\ud83d\\ude00"``, sent on purpose) arrive as the one character they encode."""
    decoded: str = json.loads(json.dumps(value))
    return decoded


class ErrorLog(logging.Handler):
    """Every record logged at ERROR or above, by anyone."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Mark:
    """How far each recording had got when an example started."""

    errors: int
    violations: int
    pings: int
    interactions: int


@dataclass
class Harness:
    """The module's emulator and bot, and what every example checks."""

    emulator: Emulator
    bot: Bulletin
    errors: ErrorLog
    alice: MemberDriver
    bob: MemberDriver

    @property
    def guild_id(self) -> int:
        return self.emulator.guild().id

    def mark(self) -> Mark:
        return Mark(
            len(self.errors.records),
            len(self.emulator.violations),
            len(self.emulator.pings()),
            len(self.emulator.interactions),
        )

    def check(self, mark: Mark, shown: str) -> None:
        """No internal error, nothing Discord would refuse, no ping, every interaction answered."""
        logged = [r.getMessage() for r in self.errors.records[mark.errors :]]
        assert logged == [], logged
        assert "error id" not in shown, shown
        assert self.emulator.violations[mark.violations :] == []
        assert len(self.emulator.pings()) == mark.pings, self.emulator.pings()[mark.pings :]
        sent = self.emulator.interactions[mark.interactions :]
        assert len(sent) == 1
        assert sent[0].answered_in_time, sent[0]

    async def rows(self) -> list[Any]:
        """What the members have in the database, read through the data layer."""
        db, guild_id = self.bot.db, self.guild_id
        users = await db.read_one(list_users(guild_id))
        found: list[Any] = [u.to_dict() for u in users]
        for member in (self.alice, self.bob):
            member_id = member.user.id
            found.append(await db.read_one(count_posts(guild_id, member_id)))
            page = await db.read_one(get_user_posts(guild_id, member_id, limit=100))
            found += [p.to_dict() for p in page]
        return found

    async def registered(self, member: MemberDriver) -> None:
        with contextlib.suppress(AlreadyRegistered):
            await profiles.register(self.bot.db, self.guild_id, member.user.id, "Ann", 30)

    async def unregistered(self, member: MemberDriver) -> None:
        with contextlib.suppress(NotRegistered):
            await profiles.leave(self.bot.db, self.guild_id, member.user.id)

    async def post_ids(self, member: MemberDriver) -> list[tuple[int, str]]:
        page = await self.bot.db.read_one(get_user_posts(self.guild_id, member.user.id, limit=5))
        if not page:
            await posts.publish(self.bot.db, self.guild_id, member.user.id, "A post", None)
            page = await self.bot.db.read_one(get_user_posts(self.guild_id, member.user.id))
        return [(p.id, p.title) for p in page]

    async def send(self, command: str, values: Any) -> Reply:
        """As the Discord client sends it when it would; otherwise raw, as a forged client."""
        if isinstance(values, dict):
            try:
                return await self.alice.run(command, options=values)
            except OptionError:
                declared = DECLARED[command]
                values = [
                    {"name": name, "type": declared.get(name, STRING), "value": value}
                    for name, value in values.items()
                ]
        return await self.alice.run_raw(command, values)

    async def exchange(self, command: str, values: Any, *, changes: bool = True) -> Reply:
        """Send one example; a refusal (or a command that never writes) leaves the rows alone."""
        before = await self.rows()
        mark = self.mark()
        reply = await self.send(command, values)
        self.check(mark, reply.text)
        refused = reply.ephemeral and any(e.get("title") == REFUSED for e in reply.embeds)
        event("refused" if refused else "answered")  # --hypothesis-show-statistics
        if refused or not changes:
            assert await self.rows() == before, reply.text
        return reply


@contextlib.contextmanager
def errors_logged() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=BACKENDS)
async def harness(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    backend = require_backend(request.param)
    folder = tmp_path_factory.mktemp(f"inputs-{backend}")
    url = await empty_database(backend, f"sqlite+aiosqlite:///{folder / 'bulletin.db'}")
    before = asyncio.all_tasks()
    with errors_logged() as errors:
        async with Emulator(quiet_period=0.02) as emulator:
            runner = BotRunner(emulator, url)
            try:
                # Confirmation views that outlive the module, not an example.
                bot = await runner.start(confirm_timeout_seconds=600)
                harness = Harness(
                    emulator, bot, errors, emulator.member("alice"), emulator.member("bob")
                )
                await harness.registered(harness.bob)
                await harness.post_ids(harness.bob)
                yield harness
            finally:
                await runner.stop_all()
            assert emulator.internal_errors == [], "the emulator itself failed"
            assert emulator.unknown_routes == [], "the bot called a route Discord does not have"
    await assert_no_leaked_tasks(before)


members = st.sampled_from(["alice", "bob", "carol", "owner", "erin"])
ages = st.one_of(
    st.integers(13, 120),
    st.sampled_from([0, 12, 13, 120, 121, -1, 2**53, 2**53 + 1]),
    st.integers(-(2**64), 2**64),
    digit_strings,
    any_json,
)
names = text_for(0, 1, 32, 33, 100)
titles = text_for(0, 1, 256, 257)
bodies = text_for(0, 1, 4000, 4001)
no_options: st.SearchStrategy[Any] = st.one_of(
    st.just({}), st.just([]), forged_lists(DECLARED["/leave"])
)


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@example(values=[42])  # discord.py called .get() on it in a task nobody awaited
@given(
    values=st.one_of(
        st.fixed_dictionaries({"name": valid_text(32), "age": st.integers(13, 120)}),
        st.fixed_dictionaries({"name": names, "age": ages}),
        st.fixed_dictionaries({}, optional={"name": names, "age": ages}),
        forged_lists(DECLARED["/register"]),
    )
)
async def test_register(harness: Harness, values: Any) -> None:
    await harness.unregistered(harness.alice)
    reply = await harness.exchange("/register", values)
    if "Welcome" in reply.content and isinstance(values, dict):
        stored = await profiles.profile(harness.bot.db, harness.guild_id, harness.alice.user.id)
        assert stored.name == as_delivered(values["name"]).strip()


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@example(values={"member": "<@1>"})  # not a snowflake: discord.py's int() failed, no answer
@given(
    values=st.one_of(
        st.fixed_dictionaries({}, optional={"member": members}),
        st.fixed_dictionaries(
            {"member": st.one_of(hostile_text, digit_strings, any_json, st.sampled_from(["<@1>"]))}
        ),
        forged_lists(DECLARED["/profile"]),
    )
)
async def test_profile(harness: Harness, values: Any) -> None:
    await harness.registered(harness.alice)
    await harness.exchange("/profile", values, changes=False)


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.one_of(
        st.fixed_dictionaries({"name": valid_text(32)}),
        st.fixed_dictionaries({"name": names}),
        st.fixed_dictionaries({"name": any_json}),
        forged_lists(DECLARED["/rename"]),
    )
)
async def test_rename(harness: Harness, values: Any) -> None:
    await harness.registered(harness.alice)
    reply = await harness.exchange("/rename", values)
    if "renamed" in reply.content and isinstance(values, dict):
        stored = await profiles.profile(harness.bot.db, harness.guild_id, harness.alice.user.id)
        assert stored.name == as_delivered(values["name"]).strip()


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(values=no_options, registered=st.booleans())
async def test_leave(harness: Harness, values: Any, registered: bool) -> None:
    await (harness.registered if registered else harness.unregistered)(harness.alice)
    await harness.exchange("/leave", values, changes=False)  # nothing goes before Confirm


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.one_of(
        st.fixed_dictionaries(
            {"title": valid_text(256)}, optional={"body": valid_text(4000, lines=True)}
        ),
        st.fixed_dictionaries({"title": titles}, optional={"body": bodies}),
        st.fixed_dictionaries({"title": st.one_of(titles, any_json)}, optional={"body": any_json}),
        forged_lists(DECLARED["/post"]),
    )
)
async def test_post(harness: Harness, values: Any) -> None:
    await harness.registered(harness.alice)
    reply = await harness.exchange("/post", values)
    if not reply.ephemeral and isinstance(values, dict):
        newest = await harness.post_ids(harness.alice)
        assert newest[0][1] == values["title"].strip()


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(values=no_options, registered=st.booleans())
async def test_myposts(harness: Harness, values: Any, registered: bool) -> None:
    await (harness.registered if registered else harness.unregistered)(harness.alice)
    await harness.exchange("/myposts", values, changes=False)


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
async def test_deletepost(harness: Harness, data: st.DataObject) -> None:
    await harness.registered(harness.alice)
    (mine, title), *_ = await harness.post_ids(harness.alice)
    (bobs, _), *_ = await harness.post_ids(harness.bob)
    valid = st.sampled_from([str(mine), f"#{mine}", f" #{mine} ", f"#{mine} · {title}"])
    values = data.draw(
        st.one_of(
            st.fixed_dictionaries({"post": valid}),
            st.fixed_dictionaries(
                {
                    "post": st.one_of(
                        st.sampled_from([str(bobs), f"#{bobs}", str(mine) + "0" * 30]),
                        text_for(0, 1, 100, 101),
                    )
                }
            ),
            st.fixed_dictionaries({"post": st.one_of(any_json, st.integers(mine, mine))}),
            forged_lists(DECLARED["/deletepost"]),
        ),
        label="values",
    )
    reply = await harness.exchange("/deletepost", values)
    if "Deleted post" in reply.text:
        page = await harness.bot.db.read_one(
            get_user_posts(harness.guild_id, harness.alice.user.id, limit=100)
        )
        assert mine not in [p.id for p in page]


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(values=no_options)
async def test_about(harness: Harness, values: Any) -> None:
    await harness.exchange("/about", values, changes=False)


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@example(typed="\ud800", forged=None)  # an encoding traceback per keystroke (issue 9)
@example(typed="a\x00b", forged=None)  # PostgreSQL refuses NUL in text
@example(typed="", forged=[])  # nothing focused
@given(
    typed=st.one_of(hostile_text, text_for(0, 1, 100, 101), st.just("")),
    forged=st.one_of(st.none(), forged_lists(DECLARED["/deletepost"])),
)
async def test_deletepost_autocomplete(harness: Harness, typed: str, forged: Any) -> None:
    await harness.registered(harness.alice)
    await harness.post_ids(harness.alice)
    before = await harness.rows()
    mark = harness.mark()
    if forged is None:
        choices = await harness.alice.autocomplete("/deletepost", "post", typed)
    else:
        choices = await harness.alice.autocomplete_raw("/deletepost", forged)
    harness.check(mark, "")
    # Only the member's own posts are offered.
    page = await harness.bot.db.read_one(
        get_user_posts(harness.guild_id, harness.alice.user.id, limit=100)
    )
    assert {str(c.value) for c in choices} <= {str(p.id) for p in page}
    assert await harness.rows() == before
