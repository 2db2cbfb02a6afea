"""Odd input, typed or forged, is refused the normal way: never the internal-error path (issue 9).

A forged client can put anything in an option (``run_raw``); a member can type NUL or half of
a surrogate pair into any text box. Each case must get an ephemeral refusal (autocomplete: an
empty list), log nothing at ERROR and leave the database as it was.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.client import Bulletin
from bot.db.posts import get_user_posts
from bot.db.users import list_users
from sandbox import Emulator, MemberDriver, Reply

NAME = {"name": "name", "type": 3, "value": "Ann"}
AGE = {"name": "age", "type": 4, "value": 30}
TITLE = {"name": "title", "type": 3, "value": "Hello"}


async def _alice_with_a_post(emulator: Emulator) -> MemberDriver:
    alice = emulator.member("alice")
    assert "Welcome" in (await alice.run("/register", name="Ann", age=30)).content
    assert not (await alice.run("/post", title="Hello", body="first")).ephemeral
    return alice


async def _rows(bot: Bulletin, emulator: Emulator, member: MemberDriver) -> list[Any]:
    guild_id = emulator.guild().id
    users = await bot.db.read_one(list_users(guild_id))
    posts = await bot.db.read_one(get_user_posts(guild_id, member.user.id, limit=100))
    return [u.to_dict() for u in users] + [p.to_dict() for p in posts]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _refused(reply: Reply) -> str:
    assert reply.ephemeral, reply
    assert "error id" not in reply.text, reply.text
    return reply.text


@pytest.mark.parametrize(
    ("command", "options", "option"),
    [
        ("/profile", [{"name": "member", "type": 6, "value": "abc"}], "member"),
        ("/profile", [{"name": "member", "type": 6, "value": " 12"}], "member"),
        ("/profile", [{"name": "member", "type": 6, "value": "9" * 5000}], "member"),
        ("/profile", [{"name": "member", "type": 6, "value": 1234567}], "member"),
        # A well-formed id Discord did not resolve: discord.py hands over a bare Object.
        ("/profile", [{"name": "member", "type": 6, "value": "3356"}], "member"),
        ("/deletepost", [{"name": "post", "type": 3, "value": 1}], "post"),
        ("/register", [NAME, {"name": "age", "type": 4, "value": "30"}], "age"),
        ("/register", [NAME, {"name": "age", "type": 4, "value": 30.5}], "age"),
        ("/register", [NAME, {"name": "age", "type": 4, "value": True}], "age"),
        ("/register", [NAME, {"name": "age", "type": 4, "value": 2**60}], "age"),
        ("/register", [NAME, {"name": "age", "type": 3, "value": "30"}], "age"),
        ("/register", [{"name": "name", "type": 3, "value": ["Ann"]}, AGE], "name"),
        ("/rename", [{"name": "name", "type": 3, "value": None}], "name"),
        ("/rename", [{"name": "name", "type": 3}], "name"),
        ("/post", [TITLE, {"name": "body", "type": 3, "value": {"text": "x"}}], "body"),
        ("/post", [{"name": "title", "type": 3, "value": "a"}, TITLE], "title"),
    ],
)
async def test_a_forged_value_of_the_wrong_type_is_refused_by_name(
    bulletin: Bulletin,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    *,
    command: str,
    options: list[Any],
    option: str,
) -> None:
    alice = await _alice_with_a_post(emulator)
    before = await _rows(bulletin, emulator, alice)
    with caplog.at_level(logging.ERROR):
        reply = await alice.run_raw(command, options)
    assert f"That is not a valid value for `{option}`." in _refused(reply)
    assert _errors(caplog) == []
    assert await _rows(bulletin, emulator, alice) == before


def _case(number: Any, *more: dict[str, Any], sub: str = "case") -> list[dict[str, Any]]:
    return [
        {
            "name": sub,
            "type": 1,
            "options": [{"name": "number", "type": 4, "value": number}, *more],
        }
    ]


@pytest.mark.parametrize(
    "options",
    [
        _case(2**31),  # past the declared 2^31 - 1: PostgreSQL refused the statement
        _case(2**53),
        _case(0),
        _case(-1),
        _case(2**31, {"name": "text", "type": 3, "value": "x"}, sub="reason"),
    ],
)
async def test_a_forged_number_outside_its_declared_range_is_refused_by_name(
    bulletin: Bulletin, emulator: Emulator, caplog: pytest.LogCaptureFixture, options: Any
) -> None:
    """Found by ``make reliability``: ``/mod case number:2147483648`` from a forged client
    reached PostgreSQL, which refused it (int4), and the moderator got an error id."""
    moderator = emulator.member("moderator")
    with caplog.at_level(logging.ERROR):
        reply = await moderator.run_raw("/mod", options)
    assert "That is not a valid value for `number`." in _refused(reply)
    assert _errors(caplog) == []


def _mod(sub: str, *options: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": sub, "type": 1, "options": list(options)}]


def _reason(text: str) -> dict[str, Any]:
    return {"name": "reason", "type": 3, "value": text}


UNRESOLVED = {"name": "member", "type": 6, "value": "3356"}


@pytest.mark.parametrize(
    ("options", "option"),
    [
        # Found by make reliability: each of these took the internal-error path.
        (_mod("warn", UNRESOLVED, _reason("x")), "member"),
        (_mod("note", UNRESOLVED, {"name": "text", "type": 3, "value": "x"}), "member"),
        (_mod("block", UNRESOLVED, _reason("x")), "member"),
        (_mod("purgeposts", UNRESOLVED, _reason("x")), "member"),
        (_mod("removeprofile", UNRESOLVED, _reason("x")), "member"),
        # Past the declared 1,000 characters: PostgreSQL refused it (varchar(1000)).
        (
            _mod("deletepost", {"name": "post_id", "type": 4, "value": 1}, _reason("\\" * 1001)),
            "reason",
        ),
        (_mod("deletepost", {"name": "post_id", "type": 4, "value": 1}, _reason("")), "reason"),
    ],
)
async def test_a_forged_moderation_option_is_refused_by_name(
    bulletin: Bulletin,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    options: Any,
    option: str,
) -> None:
    alice = await _alice_with_a_post(emulator)
    before = await _rows(bulletin, emulator, alice)
    with caplog.at_level(logging.ERROR):
        reply = await emulator.member("moderator").run_raw("/mod", options)
    assert f"That is not a valid value for `{option}`." in _refused(reply)
    assert _errors(caplog) == []
    assert await _rows(bulletin, emulator, alice) == before


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("/post", [42]),
        ("/post", [{"type": 3, "value": "x"}]),
        ("/post", [{"name": "title", "value": "x"}]),
        ("/post", [{"name": ["title"], "type": 3, "value": "x"}]),
        ("/post", [{"name": "title", "type": "3", "value": "x"}]),
        ("/post", [TITLE, {"name": "@everyone <@1>", "type": 3, "value": "x"}]),
        ("/post", {"title": "x"}),
        ("/about", [{"name": "verbose", "type": 5, "value": True}]),
        ("/myposts", [{"name": "page", "type": 1, "options": [TITLE]}]),
        ("/leave", [{"name": "all", "type": 2, "options": 7}]),
    ],
)
async def test_an_option_list_discord_py_cannot_read_is_refused(
    bulletin: Bulletin,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    command: str,
    options: Any,
) -> None:
    alice = await _alice_with_a_post(emulator)
    before = await _rows(bulletin, emulator, alice)
    with caplog.at_level(logging.ERROR):
        reply = await alice.run_raw(command, options)
    text = _refused(reply)
    assert "not a valid" in text or "has changed" in text, text
    assert "everyone" not in text  # a forged name is never echoed
    assert _errors(caplog) == []
    assert await _rows(bulletin, emulator, alice) == before


@pytest.mark.parametrize(
    ("command", "options", "option", "why"),
    [
        ("/register", {"name": "A\x00nn", "age": 30}, "name", "NUL"),
        ("/register", {"name": "Ann\ud800", "age": 30}, "name", "surrogate"),
        ("/rename", {"name": "\udfff"}, "name", "surrogate"),
        ("/post", {"title": "a\x00"}, "title", "NUL"),
        ("/post", {"title": "ok", "body": "line\n\x00"}, "body", "NUL"),
        ("/post", {"title": "ok", "body": "x\ud83d"}, "body", "surrogate"),
        ("/deletepost", {"post": "4\x002"}, "post", "NUL"),
        ("/deletepost", {"post": "\udc00"}, "post", "surrogate"),
    ],
)
async def test_nul_and_lone_surrogates_are_refused_naming_the_option(
    bulletin: Bulletin,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    *,
    command: str,
    options: dict[str, Any],
    option: str,
    why: str,
) -> None:
    alice = await _alice_with_a_post(emulator)
    before = await _rows(bulletin, emulator, alice)
    with caplog.at_level(logging.ERROR):
        reply = await alice.run(command, options=options)
    text = _refused(reply)
    assert f"`{option}`" in text
    assert why in text
    assert _errors(caplog) == []
    assert await _rows(bulletin, emulator, alice) == before


async def test_a_surrogate_pair_is_one_character_and_welcome(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    alice = await _alice_with_a_post(emulator)
    reply = await alice.run("/rename", name="Ann \U0001f600")  # sent as \ud83d\ude00 in JSON
    assert "renamed" in reply.text
    assert reply.embeds[0]["title"] == "Ann \U0001f600"


@pytest.mark.parametrize("typed", ["\ud800", "a\x00b", "\udc00\ud800", "#\x00", "1\udfff"])
async def test_odd_text_in_autocomplete_offers_nothing_and_logs_nothing(
    bulletin: Bulletin, emulator: Emulator, caplog: pytest.LogCaptureFixture, typed: str
) -> None:
    alice = await _alice_with_a_post(emulator)
    with caplog.at_level(logging.ERROR):
        assert await alice.autocomplete("/deletepost", "post", typed) == []
    assert _errors(caplog) == []


@pytest.mark.parametrize(
    "options",
    [
        [{"name": "post", "type": 3, "value": 42, "focused": True}],
        [{"name": "post", "type": 3, "value": None, "focused": True}],
        [{"name": "post", "type": 3, "focused": True}],
        [{"name": "post", "type": 3, "value": "1"}],
        [{"name": "post", "type": 4, "value": "1", "focused": True}],
        [{"name": "nosuch", "type": 3, "value": "1", "focused": True}],
        ["post"],
        "post",
    ],
)
async def test_a_forged_autocomplete_offers_nothing_and_logs_nothing(
    bulletin: Bulletin, emulator: Emulator, caplog: pytest.LogCaptureFixture, options: Any
) -> None:
    alice = await _alice_with_a_post(emulator)
    with caplog.at_level(logging.ERROR):
        assert await alice.autocomplete_raw("/deletepost", options) == []
    assert _errors(caplog) == []


async def test_autocomplete_of_an_option_without_it_offers_nothing(
    bulletin: Bulletin, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await _alice_with_a_post(emulator)
    options = [{"name": "title", "type": 3, "value": "He", "focused": True}]
    with caplog.at_level(logging.ERROR):
        assert await alice.autocomplete_raw("/post", options) == []
    assert _errors(caplog) == []


async def test_a_well_formed_raw_command_still_works(
    bulletin: Bulletin, emulator: Emulator
) -> None:
    """The check lets through exactly what Discord's client sends."""
    alice = emulator.member("alice")
    reply = await alice.run_raw("/register", [NAME, AGE])
    assert "Welcome" in reply.content
    bob = emulator.member("bob")
    seen = await bob.run_raw(
        "/profile", [{"name": "member", "type": 6, "value": str(alice.user.id)}]
    )
    assert seen.embeds[0]["title"] == "Ann"
    await alice.run_raw("/post", [TITLE])
    (choice,) = await alice.autocomplete_raw(
        "/deletepost", [{"name": "post", "type": 3, "value": "He", "focused": True}]
    )
    assert choice.name.endswith("· Hello")
    deleted = await alice.run_raw(
        "/deletepost", [{"name": "post", "type": 3, "value": choice.value}]
    )
    assert "Deleted post" in deleted.text
