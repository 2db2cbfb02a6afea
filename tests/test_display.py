"""Member text as the bot shows it: nothing live, nothing invisible that misleads, within limits.

The hostile examples from issue 9 first, then properties over any text (hypothesis), judged by
``tests.discord_markdown``, a model of how the Discord client parses markdown.
"""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import discord
import pytest
from discord import app_commands
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.display import ELLIPSIS, QUOTE_LIMIT, ZERO_WIDTH_SPACE, display_text
from bot.embeds import DESCRIPTION_LIMIT, TITLE_LIMIT, member_text
from bot.reporting import explain
from tests.discord_markdown import GREEDY_URLS, STRICT_URLS, live_markup, unescaped

HOSTILE_BODY = "[docs](https://a.example) [Claim Nitro](https://evil.example)"

# Derived from Unicode, not copied from the code under test: every explicit embedding,
# override and isolate, plus the three invisible direction marks (ALM, LRM, RLM).
EXPLICIT_BIDI_CLASSES = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}
BIDI = frozenset(
    {
        chr(c)
        for c in range(sys.maxunicode + 1)
        if unicodedata.bidirectional(chr(c)) in EXPLICIT_BIDI_CLASSES
    }
    | {"\u061c", "\u200e", "\u200f"}
)
# Whatever Python's str.splitlines() breaks a line on.
LINE_BREAKS = frozenset(chr(c) for c in range(0x3000) if len(f"a{chr(c)}b".splitlines()) == 2)


def reference_clean(text: str, *, multiline: bool) -> str:
    """What a member should read: the text less invisible controls, line breaks as allowed."""
    out: list[str] = []
    for char in text.replace("\r\n", "\n"):
        if char in LINE_BREAKS:
            out.append("\n" if multiline else " ")
        elif char == "\t":
            out.append("\t" if multiline else " ")
        elif char not in BIDI and unicodedata.category(char) not in ("Cc", "Cs"):
            out.append(char)
    return "".join(out)


def forbidden_characters(text: str, *, multiline: bool) -> list[str]:
    allowed = "\n\t" if multiline else ""
    return [
        c
        for c in text
        if c not in allowed and (c in BIDI or unicodedata.category(c) in ("Cc", "Cs"))
    ]


def live(text: str) -> list[object]:
    """Everything live under either model of how far a bare URL reaches."""
    return [*live_markup(text, GREEDY_URLS), *live_markup(text, STRICT_URLS)]


def seen(text: str) -> str:
    return unescaped(text).replace(ZERO_WIDTH_SPACE, "")


def test_the_display_module_needs_no_discord() -> None:
    code = (
        "import sys, bot.display; print(sorted(m for m in sys.modules if m.startswith('discord')))"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- The checker can tell: what it flags in raw text --------------------------------------


def test_the_checker_sees_the_second_link_that_escape_markdown_leaves_live() -> None:
    escaped = discord.utils.escape_markdown(HOSTILE_BODY)
    kinds = [found.kind for found in live_markup(escaped)]
    assert kinds == ["masked link"]
    assert escaped[live_markup(escaped)[0].at :].startswith("[Claim Nitro]")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("@everyone", "mention"),
        ("a@here", "mention"),
        ("<@1>", "mention"),
        ("<t:1700000000:R>", "mention"),
        ("https://a.example\\<@1>", "mention"),  # the URL swallows the backslash
        ("[x](https://evil.example)", "masked link"),
        ("**bold**", "formatting"),
        ("x\n> quote", "block"),
        ("-# small", "block"),
    ],
)
def test_the_checker_flags_raw_markup(raw: str, kind: str) -> None:
    assert kind in [found.kind for found in live_markup(raw)]


# --- The hostile examples ------------------------------------------------------------------


def test_no_masked_link_in_a_post_body() -> None:
    shown = member_text(HOSTILE_BODY, DESCRIPTION_LIMIT, multiline=True)
    assert live(shown) == []
    assert seen(shown) == HOSTILE_BODY
    # The plain URLs stay as typed, so they stay clickable.
    assert "https://a.example)" in shown
    assert "https://evil.example)" in shown


@pytest.mark.parametrize(
    "mention",
    [
        "@everyone",
        "@here",
        "<@123456789012345678>",
        "<@!123456789012345678>",
        "<@&123456789012345678>",
        "<#123456789012345678>",
        "</post:123456789012345678>",
        "<t:1700000000:R>",
        "<:blob:123456789012345678>",
        "<a:blob:123456789012345678>",
        "<id:customize>",
    ],
)
def test_mentions_tags_and_timestamps_show_as_typed(mention: str) -> None:
    assert live_markup(mention) != []
    shown = member_text(f"hi {mention}!", TITLE_LIMIT)
    assert live(shown) == []
    assert seen(shown) == f"hi {mention}!"


@pytest.mark.parametrize(
    "markup",
    [
        "**bold** *it* __under__ _it_ ~~strike~~ ||spoiler|| `code`",
        "```py\nprint(1)\n```",
        "# Heading\n## Heading\n### Heading\n-# subtext",
        "> quote\n>>> rest",
        "- one\n* two\n+ three\n1. four\n2) five\n  - nested",
        "\\*already escaped\\* \\",
    ],
)
def test_formatting_shows_as_typed(markup: str) -> None:
    shown = member_text(markup, DESCRIPTION_LIMIT, multiline=True)
    assert live(shown) == []
    assert seen(shown) == markup


def test_a_url_right_before_a_mention_cannot_swallow_its_escape() -> None:
    shown = member_text("https://a.example<@123> https://b.example<t:1:R>", TITLE_LIMIT)
    assert live(shown) == []
    assert seen(shown) == "https://a.example<@123> https://b.example<t:1:R>"


@pytest.mark.parametrize(
    "text",
    [
        "xhttps://a.example/*x* _y_",  # not a link for a client that wants a word boundary
        "https://a.example/)*x*",  # nor past a ")" that closes nothing
        "https://a.example/[x](https://evil.example)",  # nor past a "["
        "https://a.example/x|*y*|",
    ],
)
def test_markup_where_a_strict_client_ends_the_url_stays_escaped(text: str) -> None:
    shown = member_text(text, TITLE_LIMIT)
    assert live(shown) == []
    assert seen(shown) == text


def test_everyone_inside_a_url_is_escaped() -> None:
    shown = member_text("https://a.example/@everyone", TITLE_LIMIT)
    assert "\\@everyone" in shown
    assert live(shown) == []


def test_urls_stay_as_typed() -> None:
    for url in (
        "https://en.wikipedia.org/wiki/Foo_(bar)",
        "https://a.example/path_with_underscores?q=*x*&y=~z#frag",
        "http://例え.jp/パス",
    ):
        shown = member_text(f"see {url}.", TITLE_LIMIT)
        assert shown == f"see {url}."
    assert member_text("<https://a.example/x_y>", TITLE_LIMIT) == "<https://a.example/x_y>"


def test_right_to_left_override_and_other_bidi_controls_are_removed() -> None:
    assert len(BIDI) == 12
    name = "Ann\u202eexe.txt\u202c" + "".join(sorted(BIDI))
    assert member_text(name, TITLE_LIMIT) == "Annexe.txt"


def test_control_characters_and_line_breaks() -> None:
    assert member_text("a\x00b\x07c\x7f\x9b", TITLE_LIMIT) == "abc"
    assert member_text("one\ntwo\tthree\r\nfour\u2028five", TITLE_LIMIT) == (
        "one two three four five"
    )
    assert member_text("one\ntwo\tthree\r\nfour\u2028five", DESCRIPTION_LIMIT, multiline=True) == (
        "one\ntwo\tthree\nfour\nfive"
    )


def test_surrogates_are_joined_or_dropped() -> None:
    assert display_text("a\ud83d\ude00b", 10) == "a\U0001f600b"
    assert display_text("a\ud83db\ude00", 10) == "ab"


def test_clipping_keeps_every_escape_whole() -> None:
    shown = member_text("*" * 256, TITLE_LIMIT)
    assert len(shown) <= TITLE_LIMIT
    assert shown == "\\*" * 127 + ELLIPSIS
    tags = member_text("https://a.example" + "<" * 300, 20)
    assert len(tags) <= 20
    assert live(tags) == []


def test_plain_fields_are_cleaned_and_clipped_but_not_escaped() -> None:
    assert display_text("**Ann**\u202e @everyone", 100, markdown=False) == "**Ann** @everyone"
    assert display_text("x" * 300, 100, markdown=False) == "x" * 99 + ELLIPSIS


# --- Error messages quote values through it -------------------------------------------------


class _AnyValue(app_commands.Transformer[discord.Client]):
    async def transform(
        self, interaction: discord.Interaction[discord.Client], value: object
    ) -> object:
        return value


def _refused(value: object) -> str:
    error = app_commands.TransformerError(value, discord.AppCommandOptionType.string, _AnyValue())
    sentence = explain(error)
    assert sentence is not None
    return sentence


def test_a_refused_value_is_quoted_inert_and_clipped() -> None:
    typed = "[Claim Nitro](https://evil.example) @everyone\u202e" + "x" * 5000
    sentence = _refused(typed)
    assert sentence.endswith(f"{ELLIPSIS} is not a valid value for that option.")
    quoted = sentence.removesuffix(" is not a valid value for that option.")
    assert len(quoted) <= QUOTE_LIMIT
    assert live(sentence) == []
    assert "'" not in sentence  # no repr quotes
    assert seen(quoted).startswith("[Claim Nitro](https://evil.example) @everyonexxx")


def test_a_refused_object_is_never_shown_as_a_repr() -> None:
    assert _refused(object()) == "That is not a valid value for that option."


# --- Properties over any text ---------------------------------------------------------------

FRAGMENTS = [
    *("[", "]", "(", ")", "<", ">", "@", ":", "/", ".", "\\", "#", "-", "+", "1", "*"),
    *("_", "~", "|", "`", "**", "__", "~~", "||", "```", " ", "  ", "a", "é", "…"),
    *("\n", "\t", "\r", "\r\n", "\x00", "\x07", "\x1b", "\x85", "\u2028", "\u2029"),
    *("\u202e", "\u202d", "\u2066", "\u2067", "\u2069", "\u200e", "\u200f", "\u061c"),
    *("\u200b", "\u200d", "\ufeff", "\ud83d", "\ude00", "\ud83d\ude00", "\U0001f600"),
    *("# ", "## ", "-# ", "- ", "> ", ">>> ", "1. ", "2) ", "\n- ", "\n> "),
    *("http://", "https://", "steam://", "https://a.example", "https://evil.example/x"),
    *("https://a.example/(x)", "https://a.example/)", "<https://a.example>", "xhttps://b.example"),
    *("/*x*", "/_y_", "/[z]", "?q=|p|"),
    *("[docs](https://a.example)", "[Claim Nitro](https://evil.example)", "](", "[x]"),
    *("@everyone", "@here", "everyone", "here", "<@1>", "<@!1>", "<@&1>", "<#1>"),
    *("</post:1>", "<t:1700000000:R>", "<:e:1>", "<a:e:1>", "<id:home>"),
]
member_texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=40
).map("".join)
typed_texts = member_texts.filter(lambda text: not any("\ud800" <= c <= "\udfff" for c in text))
limits = st.one_of(st.integers(min_value=1, max_value=300), st.sampled_from([256, 1024, 4096]))


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(member_texts, st.text()), limit=limits, multiline=st.booleans())
@example(text=HOSTILE_BODY, limit=4096, multiline=True)
@example(text="https://a.example<@1>", limit=100, multiline=False)
@example(text="*" * 256, limit=256, multiline=False)
def test_nothing_shown_is_live_invisible_or_too_long(
    text: str, limit: int, multiline: bool
) -> None:
    shown = display_text(text, limit, multiline=multiline)
    assert len(shown) <= limit
    assert forbidden_characters(shown, multiline=multiline) == []
    assert live(shown) == []
    if not multiline:
        assert "\n" not in shown
    whole = display_text(text, sys.maxsize, multiline=multiline)
    if len(whole) > limit:
        assert shown.endswith(ELLIPSIS)
        kept = shown[: -len(ELLIPSIS)]
        # Cut between two pieces of the whole: no half escape is left to swallow the ellipsis.
        assert whole.startswith(kept)
        assert (len(kept) - len(kept.rstrip("\\"))) % 2 == 0
    else:
        assert shown == whole


@settings(max_examples=300, deadline=None)
@given(text=typed_texts, limit=limits, multiline=st.booleans())
def test_what_the_reader_sees_is_what_was_typed(text: str, limit: int, multiline: bool) -> None:
    """Escaping adds no character a reader sees and loses none; a cut keeps the beginning."""
    expected = reference_clean(text, multiline=multiline).replace(ZERO_WIDTH_SPACE, "")
    whole = display_text(text, sys.maxsize, multiline=multiline)
    assert seen(whole) == expected
    shown = display_text(text, limit, multiline=multiline)
    if shown != whole:
        assert expected.startswith(seen(shown.removesuffix(ELLIPSIS)))


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(member_texts, st.text()), limit=limits)
def test_plain_fields_hold_no_control_character_and_fit(text: str, limit: int) -> None:
    shown = display_text(text, limit, markdown=False)
    assert len(shown) <= limit
    assert forbidden_characters(shown, multiline=False) == []
    typed = display_text(text, sys.maxsize, markdown=False)
    assert shown == typed or typed.startswith(shown.removesuffix(ELLIPSIS))
