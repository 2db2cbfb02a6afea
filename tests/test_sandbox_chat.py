"""The sandbox chat's line parser and renderer, without a bot: typed lines against command
definitions as Discord syncs them, and replies drawn to a captured rich console."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console, RenderableType

from sandbox import Button, Message, User
from sandbox.chat import (
    ChatError,
    Directory,
    LoopThread,
    Names,
    chat_commands,
    describe_commands,
    discord_text,
    parse_command,
    relative_time,
    render_buttons,
    render_embed,
    render_message,
    script_lines,
    split_options,
)

JSON = dict[str, Any]
ALICE, BOB, BOT = 464037661900931072, 545000000000000000, 1196423538278531072
GENERAL, MOD_ROLE = 820000000000000001, 820000000000000002
EPHEMERAL = 1 << 6

REGISTER: JSON = {
    "name": "register",
    "type": 1,
    "description": "Create your profile in this server",
    "options": [
        {"type": 3, "name": "name", "required": True, "min_length": 1, "max_length": 32},
        {"type": 4, "name": "age", "required": True, "min_value": 13, "max_value": 120},
    ],
}
POST: JSON = {
    "name": "post",
    "type": 1,
    "description": "Publish a post in this channel",
    "options": [
        {"type": 3, "name": "title", "required": True, "max_length": 256},
        {"type": 3, "name": "body", "required": False},
    ],
}
PROFILE: JSON = {
    "name": "profile",
    "type": 1,
    "description": "Show a profile",
    "options": [{"type": 6, "name": "member", "required": False}],
}
SETTINGS: JSON = {
    "name": "settings",
    "type": 1,
    "description": "Everything else",
    "options": [
        {
            "type": 1,
            "name": "set",
            "description": "Change one",
            "options": [
                {"type": 10, "name": "ratio", "required": False},
                {"type": 5, "name": "public", "required": False},
                {"type": 7, "name": "channel", "required": False},
                {"type": 8, "name": "role", "required": False},
                {
                    "type": 3,
                    "name": "colour",
                    "required": False,
                    "choices": [{"name": "Red", "value": "r"}, {"name": "Blue", "value": "b"}],
                },
            ],
        }
    ],
}
USER_MENU: JSON = {"name": "Report", "type": 2}
COMMANDS = chat_commands([REGISTER, POST, PROFILE, SETTINGS, USER_MENU])
DIRECTORY = Directory(
    members={"alice": ALICE, "bob": BOB},
    roles={"Moderator": MOD_ROLE},
    channels={"general": GENERAL},
)
NAMES = Names(
    users={ALICE: "alice", BOB: "bob", BOT: "Bulletin"},
    roles={MOD_ROLE: "Moderator"},
    channels={GENERAL: "general"},
)
NOW = datetime(2026, 11, 25, 18, 20, tzinfo=UTC)


def _parse(line: str) -> tuple[str, dict[str, Any]]:
    parsed = parse_command(line, COMMANDS, DIRECTORY)
    return parsed.command, parsed.values


def _text(renderable: RenderableType, width: int = 100) -> str:
    console = Console(
        file=io.StringIO(), width=width, color_system=None, highlight=False, markup=False
    )
    console.print(renderable)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


# parsing


def test_a_value_runs_to_the_next_option_of_that_command() -> None:
    assert _parse("/post title:Hello there body:my first post") == (
        "/post",
        {"title": "Hello there", "body": "my first post"},
    )
    assert _parse("/register name:Ann age:30") == ("/register", {"name": "Ann", "age": 30})
    # Options may come in any order.
    assert _parse("/register age:30 name:Ann Lee")[1] == {"age": 30, "name": "Ann Lee"}


def test_only_the_commands_own_option_names_separate_values() -> None:
    assert _parse("/post title:a: b")[1] == {"title": "a: b"}
    assert _parse("/post title:see http://x.org name:y")[1] == {"title": "see http://x.org name:y"}
    # "titlebody:" is not "body:"; a name counts only at the start of a word.
    assert _parse("/post title:xbody:y")[1] == {"title": "xbody:y"}
    assert _parse("/post Title:x BODY:y")[1] == {"title": "x", "body": "y"}


def test_quotes_are_optional_and_keep_separators() -> None:
    assert _parse('/post title:"x y"')[1] == {"title": "x y"}
    assert _parse("/post title:'it body: no' body:yes")[1] == {
        "title": "it body: no",
        "body": "yes",
    }
    assert _parse('/post title:say "hi" body:x')[1] == {"title": 'say "hi"', "body": "x"}
    assert split_options('title: "spaced"', ["title"]) == [("title", "spaced")]


@pytest.mark.parametrize(
    ("line", "values"),
    [
        ("/settings set ratio:2.5", {"ratio": 2.5}),
        ("/settings set public:yes", {"public": True}),
        ("/settings set public:False", {"public": False}),
        ("/settings set channel:#general", {"channel": GENERAL}),
        ("/settings set role:@moderator", {"role": MOD_ROLE}),
        ("/settings set colour:blue", {"colour": "b"}),
        ("/profile member:@bob", {"member": BOB}),
        ("/profile member:alice", {"member": ALICE}),
        (f"/profile member:<@{BOB}>", {"member": BOB}),
        (f"/profile member:{ALICE}", {"member": ALICE}),
        ("/profile", {}),
    ],
)
def test_values_are_converted_per_the_option_type(line: str, values: dict[str, Any]) -> None:
    assert _parse(line)[1] == values


def test_sub_commands_are_part_of_the_command_path() -> None:
    assert _parse("/settings set public:on") == ("/settings set", {"public": True})


@pytest.mark.parametrize(
    ("line", "explanation"),
    [
        ("/nope", "there is no command /nope (commands: /post, /profile, /register, /settings)"),
        ("/post titel:x", "there is no option 'titel' (options: title, body)"),
        ("/post hello", "expected option:value, not 'hello' (options: title, body)"),
        ("/post body:x", "/post needs option 'title' (/post title:<text ≤256> [body:<text>])"),
        ("/post title:", "/post: option 'title' has no value"),
        ("/post title:a title:b", "option 'title' is given twice"),
        ('/post title:"open', "the quote that opens the value of 'title' is never closed"),
        ('/post title:"a" b', "unexpected 'b' after the quoted value of 'title'"),
        ("/register name:Ann age:thirty", "option 'age' takes a whole number, not 'thirty'"),
        ("/register name:Ann age:3.5", "option 'age' takes a whole number, not '3.5'"),
        ("/settings set ratio:nan", "option 'ratio' takes a number, not 'nan'"),
        ("/settings set public:maybe", "option 'public' takes true or false, not 'maybe'"),
        ("/profile member:@zed", "option 'member': no member '@zed' here"),
        ("/settings set channel:#nowhere", "option 'channel': no channel '#nowhere' here"),
        ("/settings", "/settings needs a sub-command: set"),
        ("/settings get", "/settings has no sub-command 'get' (sub-commands: set)"),
        ("/profile x:y member:@bob", "there is no option 'x' (options: member)"),
        ("post title:x", "a command starts with / and its name"),
    ],
)
def test_an_invalid_line_gets_a_one_line_explanation(line: str, explanation: str) -> None:
    with pytest.raises(ChatError) as caught:
        parse_command(line, COMMANDS, DIRECTORY)
    assert explanation in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_command_without_options_refuses_text_after_it() -> None:
    commands = chat_commands([{"name": "myposts", "type": 1, "options": []}])
    with pytest.raises(ChatError, match="takes no options"):
        parse_command("/myposts page:2", commands)


def test_context_menu_commands_are_not_slash_commands() -> None:
    assert [c["name"] for c in COMMANDS] == ["post", "profile", "register", "settings"]


def test_usage_lines_show_types_limits_and_optional_options() -> None:
    lines = dict(describe_commands(COMMANDS))
    assert "/register name:<text 1–32> age:<whole number 13–120>" in lines
    assert "/post title:<text ≤256> [body:<text>]" in lines
    assert any(u.startswith("/settings set [ratio:<number>]") for u in lines)
    assert any("[colour:<Red|Blue>]" in u for u in lines)


def test_script_lines_skip_blanks_and_comments_and_keep_numbers() -> None:
    source = ["# setup\n", "\n", "/register name:Ann age:30\n", "  # indented comment\n", ":as bob"]
    assert list(script_lines(source)) == [(3, "/register name:Ann age:30"), (5, ":as bob")]


# rendering


def test_mentions_timestamps_and_escapes_read_as_in_the_client() -> None:
    moment = int((NOW - timedelta(minutes=3)).timestamp())
    text = discord_text(
        f"<@{ALICE}> and <@!{BOB}> in <#{GENERAL}> pinged <@&{MOD_ROLE}>, <@1> left, "
        f"posted <t:{moment}:R> \\*not bold\\* \\_x\\_",
        NAMES,
        NOW,
    )
    assert text == (
        "@alice and @bob in #general pinged @Moderator, @unknown-user left, "
        "posted 3 minutes ago *not bold* _x_"
    )
    day = int(datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp())
    assert discord_text(f"<t:{day}:D>", NAMES, NOW) == "25 November 2026"


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(seconds=-5), "a few seconds ago"),
        (timedelta(minutes=-1), "1 minute ago"),
        (timedelta(hours=-2), "2 hours ago"),
        (timedelta(days=3), "in 3 days"),
        (timedelta(days=-800), "2 years ago"),
    ],
)
def test_relative_times(delta: timedelta, shown: str) -> None:
    assert relative_time(NOW + delta, NOW) == shown


def test_an_embed_shows_title_description_fields_and_footer() -> None:
    embed: JSON = {
        "type": "rich",
        "title": "Ann",
        "description": "A \\*careful\\* member",
        "color": 0x5865F2,
        "author": {"name": "alice"},
        "fields": [
            {"name": "Member", "value": f"<@{ALICE}>", "inline": True},
            {"name": "Age", "value": "30", "inline": True},
            {"name": "Posts", "value": "2", "inline": True},
            {"name": "About", "value": "long text here", "inline": False},
        ],
        "footer": {"text": "Post #1"},
        "timestamp": NOW.isoformat(),
    }
    lines = _text(render_embed(embed, NAMES, NOW)).splitlines()
    assert all(line.startswith("┃ ") for line in lines)
    body = [line[2:].rstrip() for line in lines]
    assert body[:3] == ["alice", "Ann", "A *careful* member"]
    # Inline fields sit side by side: names on one line, values on the next.
    assert body[3].split() == ["Member", "Age", "Posts"]
    assert body[4].split() == ["@alice", "30", "2"]
    assert body[5:7] == ["About", "long text here"]
    assert body[7].startswith("Post #1 • ")


@pytest.mark.parametrize("width", [60, 100, 160])
def test_an_embed_uses_the_terminals_width(width: int) -> None:
    words = " ".join(f"word{i:02}" for i in range(30))  # 209 characters
    lines = _text(render_embed({"description": words}, NAMES, NOW), width).splitlines()
    assert all(line.startswith("┃ ") for line in lines)
    assert " ".join(line[2:].strip() for line in lines) == words
    assert max(len(line) for line in lines) > width - 12
    assert all(len(line) <= width for line in lines)


def test_buttons_in_a_row_and_disabled_ones_said_in_words_without_colour() -> None:
    buttons = [
        Button(label="Previous", custom_id="p", style=2, disabled=True),
        Button(label="Next", custom_id="n", style=2, disabled=False),
    ]
    assert render_buttons(buttons, plain=True).plain == "[ Previous (disabled) ] [ Next ]"
    coloured = render_buttons(buttons)
    assert coloured.plain == "[ Previous ] [ Next ]"
    assert any("dim" in str(span.style) for span in coloured.spans)


def _message(**changes: Any) -> Message:
    bot = User(id=BOT, username="Bulletin", bot=True)
    return Message(id=1, channel_id=GENERAL, guild_id=2, author=bot, **changes)


def test_an_ephemeral_message_says_so_and_shows_content_embed_and_buttons() -> None:
    message = _message(
        content=f"Only <@{ALICE}> can use these buttons.",
        embeds=[{"title": "Ann's posts", "footer": {"text": "Page 1 of 2 · 6 posts"}}],
        components=[
            {
                "type": 1,
                "components": [
                    {
                        "type": 2,
                        "label": "Previous",
                        "custom_id": "a",
                        "style": 2,
                        "disabled": True,
                    },
                    {"type": 2, "label": "Next", "custom_id": "b", "style": 2},
                ],
            }
        ],
        flags=EPHEMERAL,
    )
    text = _text(render_message(message, NAMES, now=NOW, plain=True))
    assert text.splitlines() == [
        "Bulletin  (only you can see this)",
        "Only @alice can use these buttons.",
        "┃ Ann's posts",
        "┃ Page 1 of 2 · 6 posts",
        "[ Previous (disabled) ] [ Next ]",
    ]


def test_a_public_message_names_its_channel() -> None:
    text = _text(render_message(_message(content="hi"), NAMES, now=NOW))
    assert text.splitlines()[0] == "Bulletin  in #general"
    assert "only you" not in text


def test_member_text_is_never_read_as_rich_markup() -> None:
    embed: JSON = {"title": "[bold]x[/bold]", "description": "[red]y"}
    assert "[bold]x[/bold]" in _text(render_embed(embed, NAMES, NOW))


# the loop thread


def test_the_loop_thread_runs_coroutines_and_cancels_leftovers() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def forget() -> None:
        asyncio.get_running_loop().create_task(asyncio.sleep(60), name="forgotten")

    runner = LoopThread().start()
    try:
        assert runner.call(answer()) == 42
        runner.call(forget())
        with pytest.raises(TimeoutError):
            runner.call(asyncio.sleep(5), timeout=0.05)
    finally:
        runner.close()
    assert runner.leftovers == ["forgotten"]
    assert runner.loop.is_closed()
