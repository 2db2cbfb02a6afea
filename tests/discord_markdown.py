"""A reader of Discord's markdown, just enough to tell whether text shows anything live.

It walks text the way Discord's client parses it (rules tried in order at each position, as in
the simple-markdown parser the client grew from) and reports every construct that would render
as more than its characters: a masked link, a mention, a timestamp or custom emoji, inline
formatting, or a block marker at the start of a line. A backslash before punctuation escapes
it, and a bare URL is one link token whose inside is not parsed further.

How far a bare URL reaches is the one rule a bot cannot see, so it is a parameter:
``GREEDY_URLS`` is the published rule (everything up to whitespace or ``<``, minus trailing
punctuation) and ``STRICT_URLS`` a stricter client (a real host name at a word boundary, no
character a URL cannot hold, parentheses balanced). Safe text is safe under both.

This is a model for tests, deliberately stricter than the client where it is unsure: any
unescaped ``*``, ``_``, ``~``, ``|`` or backtick counts as formatting even where Discord would
show it as is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

UrlRule = Callable[[str, int], int | None]

_GREEDY_URL = re.compile(r"(?:https?|steam)://[^\s<]+[^<.,:;\"')\]\s]")
# Characters RFC 3986 does not allow in a URL; a strict client may end the link before one.
_NOT_IN_URL = r"\s<>\[\]\\^{}|\"`"
_STRICT_URL = re.compile(
    rf"(?<!\w)https?://(?:[^\W_][\w-]*\.)+[^\W\d_]{{2,}}(?::\d{{1,5}})?(?:[/?#][^{_NOT_IN_URL}]*)?"
)
_URL_END_TRIM = ".,:;\"')]"
# The client's link rule (simple-markdown's), and a looser one so that near misses count too.
_MASKED_LINK = re.compile(
    r"\[((?:\[[^\]]*\]|[^\[\]]|\](?=[^\[]*\]))*)\]\(\s*<?((?:\([^)]*\)|[^\s\\]|\\.)*?)>?"
    r"(?:\s+['\"]([\s\S]*?)['\"])?\s*\)"
)
_LOOSE_MASKED_LINK = re.compile(r"\[[\s\S]*?\]\s*\(")
# Everything Discord draws from an angle-bracket tag: users, roles, channels, slash commands,
# timestamps, custom emoji, guild navigation. Only the opening is checked: stricter than needed.
_TAG = re.compile(r"<(?:@|#|/|a?:|t:|id:)")
_EVERYONE = re.compile(r"@(?:everyone|here)")
_AUTOLINK = re.compile(r"<((?:https?|steam)://[^\s>]+)>")
# Headings, subtext, block quotes and lists, each at the start of a line.
_BLOCK = re.compile(r"[^\S\n]*(?:#{1,3}\s|-#\s|>|[-*+]\s|\d+[.)]\s)")
_FORMATTING = frozenset("*_~|`")


def greedy_urls(text: str, at: int) -> int | None:
    """Where a bare URL starting at ``at`` ends under the published rule, or None."""
    found = _GREEDY_URL.match(text, at)
    return found.end() if found else None


def strict_urls(text: str, at: int) -> int | None:
    """A stricter client: needs a host name, stops at an unbalanced ``)``, trims punctuation."""
    found = _STRICT_URL.match(text, at)
    if found is None:
        return None
    end, depth = found.end(), 0
    for index in range(at, found.end()):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            if depth == 0:
                end = index
                break
            depth -= 1
    while end > at and text[end - 1] in _URL_END_TRIM:
        end -= 1
    return end if _STRICT_URL.fullmatch(text, at, end) else None


GREEDY_URLS: UrlRule = greedy_urls
STRICT_URLS: UrlRule = strict_urls


@dataclass(frozen=True)
class Live:
    """One construct that would render as more than its characters."""

    kind: str  # "masked link", "mention", "formatting" or "block"
    at: int
    text: str


def _is_escapable(char: str) -> bool:
    # The client's escape rule: a backslash before anything but an ASCII letter, digit or space.
    return not (char.isascii() and char.isalnum()) and not char.isspace()


def live_markup(text: str, urls: UrlRule = GREEDY_URLS) -> list[Live]:
    """Every live construct in ``text`` as the client would parse it."""
    found: list[Live] = []
    pos = 0
    while pos < len(text):
        if pos == 0 or text[pos - 1] == "\n":
            block = _BLOCK.match(text, pos)
            if block:
                found.append(Live("block", pos, block.group()))
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and _is_escapable(text[pos + 1]):
            pos += 2
            continue
        autolink = _AUTOLINK.match(text, pos)
        if autolink:
            pos = autolink.end()
            continue
        url_end = urls(text, pos)
        if url_end is not None:
            pos = url_end
            continue
        for kind, pattern in (
            ("masked link", _MASKED_LINK),
            ("masked link", _LOOSE_MASKED_LINK),
            ("mention", _TAG),
            ("mention", _EVERYONE),
        ):
            match = pattern.match(text, pos)
            if match:
                found.append(Live(kind, pos, match.group()[:40]))
                break
        else:
            if char in _FORMATTING:
                found.append(Live("formatting", pos, char))
        pos += 1
    return found


def unescaped(text: str) -> str:
    """The characters a reader sees outside links: escaping backslashes dropped."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "\\" and pos + 1 < len(text) and _is_escapable(text[pos + 1]):
            pos += 1
        out.append(text[pos])
        pos += 1
    return "".join(out)
