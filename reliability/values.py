"""Hostile values for every option type, as hypothesis strategies: shared by the property
tests (``tests/e2e/test_input_properties.py``) and ``make reliability``'s hostile phase.

Values mix valid ones, lengths at and past each limit, markdown, mentions, control
characters, NUL, lone surrogates, digit strings thousands of digits long, JSON of every type
for an option that expects another, and option lists no Discord client would send.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

# Discord's option types (ApplicationCommandOptionType).
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10

# Markup a member may type and the bot must show inert: accepted in any text option.
MARKUP = [
    *("@everyone", "@here", "<@464037661900931072>", "<@!1>", "<@&1>", "<#1>", "<t:0:R>"),  # alice
    *("**b**", "__u__", "~~s~~", "||s||", "`c`", "# h", "-# s", "> q", "1. l", "\\", "·"),
    *("[x](https://evil.example)", "https://ok.example/a_b", "<https://x.example>", "#1 · x"),
    *("\u202e", "\u2066", "\u200b", "\ufeff", "\u061c", "\U0001f600", "e\u0301", "٣", "²"),
]
# Control characters, which a one-line field refuses and a body partly keeps.
CONTROLS = ["\x07", "\x1b", "\x7f", "\x85", "\x9b", "\n", "\r\n", "\t", "\u2028"]
# What no database stores: NUL, and lone surrogates (a pair in reverse order is two of them).
BROKEN = ["\x00", "\ud800", "\udbff", "\udc00", "\udfff", "\udc00\ud800"]
any_char = st.characters(exclude_categories=[])  # surrogates and NUL included
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(MARKUP + CONTROLS + ["\ud83d\ude00", "-1", "+1", "1_0", "1e3"]),
        st.sampled_from(BROKEN),
        st.text(any_char, max_size=8),
    ),
    max_size=8,
).map("".join)


def _visible(text: str) -> bool:
    return any(unicodedata.category(c)[0] in "LNPS" for c in text)


def valid_text(limit: int, *, lines: bool = False) -> st.SearchStrategy[str]:
    """Text the bot takes for a field of ``limit`` characters, markup and mentions included."""
    shown = st.characters(categories=["L", "M", "N", "P", "S", "Zs", "Cf"])
    piece = st.one_of(st.sampled_from(MARKUP), st.text(shown, min_size=1, max_size=10))
    if lines:
        piece = st.one_of(piece, st.sampled_from(["\n", "\t", "\r\n"]))
    joined = st.lists(piece, min_size=1, max_size=8).map(lambda parts: "".join(parts)[:limit])
    return joined.filter(lambda text: _visible(text.strip()))


digit_strings = st.one_of(
    st.text("0123456789", min_size=1, max_size=40),
    st.integers(19, 6000).map(lambda n: "9" * n),
)


def at_lengths(*lengths: int) -> st.SearchStrategy[str]:
    """Text of exactly one of ``lengths`` characters (the limits and one past them)."""
    fills = st.sampled_from(["x", "*", "é", "\U0001f600", " ", "a b", "\\", "@"])
    return st.tuples(st.sampled_from(lengths), fills).map(lambda t: (t[1] * t[0])[: t[0]])


def text_for(*lengths: int) -> st.SearchStrategy[str]:
    """Hostile text, digit strings, and text of exactly the given lengths."""
    return st.one_of(hostile_text, digit_strings, at_lengths(*lengths), st.text(max_size=40))


# JSON of every type, for an option that expects another.
any_json = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(any_char, max_size=6),
    st.lists(st.integers(0, 9), max_size=2),
    st.dictionaries(st.sampled_from(["value", "id"]), st.integers(0, 9), max_size=2),
)


def forged_lists(declared: Mapping[str, int]) -> st.SearchStrategy[Any]:
    """Option lists a forged client could send for a command whose options are ``declared``
    (name: Discord option type): anything JSON can hold."""
    entry = st.fixed_dictionaries(
        {
            "name": st.sampled_from([*declared, "x", "@everyone"]),
            "type": st.one_of(
                st.sampled_from([*declared.values(), STRING, INTEGER, BOOLEAN, USER, NUMBER, 1]),
                any_json,
            ),
            "value": st.one_of(any_json, hostile_text, digit_strings),
        },
        optional={"focused": st.booleans(), "options": st.just([])},
    )
    return st.one_of(st.lists(st.one_of(entry, any_json), max_size=3), any_json)


def integers_for(low: int | None, high: int | None) -> st.SearchStrategy[Any]:
    """Values for an INTEGER option between ``low`` and ``high``: inside, at and past each
    bound, past JSON's safe integers, digit strings and other JSON."""
    edges = [0, -1, 1, 2**53, 2**53 + 1, -(2**53) - 1]
    for bound in (low, high):
        if bound is not None:
            edges += [bound - 1, bound, bound + 1]
    inside = st.integers(low if low is not None else -(2**53), high if high is not None else 2**53)
    return st.one_of(
        inside, st.sampled_from(edges), st.integers(-(2**64), 2**64), digit_strings, any_json
    )


__all__ = [
    "BOOLEAN",
    "BROKEN",
    "CHANNEL",
    "CONTROLS",
    "INTEGER",
    "MARKUP",
    "MENTIONABLE",
    "NUMBER",
    "ROLE",
    "STRING",
    "SUB_COMMAND",
    "SUB_COMMAND_GROUP",
    "USER",
    "any_char",
    "any_json",
    "at_lengths",
    "digit_strings",
    "forged_lists",
    "hostile_text",
    "integers_for",
    "text_for",
    "valid_text",
]
