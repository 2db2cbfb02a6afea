"""What the bot shows of text a member typed: the one function every name, title, body and quoted
value passes on its way into a reply.

``display_text`` cleans, escapes and clips, in that order:

1. **Clean.** Bidirectional controls (Unicode's Bidi_Control set: they make text read in a
   different order from what it is, ``txt.exe`` shown as ``exe.txt``), other control characters
   and lone surrogates are removed; a surrogate pair is joined into its character first. Line
   breaks become a space, or ``\\n`` where the field holds several lines (tabs likewise).
2. **Escape.** Every character Discord's markdown gives meaning to gets a backslash, so
   formatting, headings, lists, quotes, code, spoilers, masked links and mentions of any kind
   (``@everyone``, ``<@id>``, ``<t:…>``, custom emoji) show as typed. discord.py's
   ``escape_markdown`` is not enough: it escapes only the first masked link of a line and no
   mention at all. Plain ``http(s)`` URLs are left exactly as typed and stay clickable: their
   target is what the reader sees.
3. **Clip** to the field's limit, after escaping (escaping can double a text), never inside an
   escape, and mark the cut with an ellipsis.

The client reads a bare URL up to the next whitespace or ``<``, escapes included. So an escape
right after a URL can be swallowed into the link: harmless (the link just shows a backslash),
except before ``<``, where the link stops and the ``<`` would be live again. A zero-width space
after such a ``<`` keeps it from opening a tag.

The database keeps what the member typed; this runs only when text is shown. No ``discord``
import: it is plain text in, plain text out.
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"
# A value quoted inside a sentence (an error naming what the member picked).
QUOTE_LIMIT = 100
ZERO_WIDTH_SPACE = "\u200b"

# Unicode's Bidi_Control property: ALM, LRM, RLM, the embeddings and overrides (LRE…RLO), and
# the isolates (LRI…PDI).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Cc: C0/C1 controls; Cs: surrogates (only lone ones are left once pairs are joined).
_REMOVED_CATEGORIES = frozenset({"Cc", "Cs"})
# Everything Python's str.splitlines() breaks on, with CRLF as one break.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# Escaped wherever they appear: inline formatting (* _ ~ | `), the backslash itself, the
# opening of a masked link ([), of every tag (<), and of @everyone/@here (@).
_ALWAYS_ESCAPED = frozenset("\\*_~|`[<@")
# Block markers, escaped at the start of a line (after any indentation): headings and subtext
# (# and -#), lists (- + and "1." / "1)"), block quotes (>).
_BLOCK_MARKER = re.compile(r"^[^\S\n]*(?:([-+>#])|\d+([.)]))", re.MULTILINE)

# A plain URL we leave as typed: a scheme, a host name with a top-level domain, then only
# characters valid in a URL (non-ASCII allowed, as browsers accept IRIs). Not "[", "]", "\",
# "|", "^", "{", "}", "<", ">", '"' or a backtick: they are not valid in a URL, and ending the
# URL before them means they get escaped. U+FEFF is excluded because the client counts it as
# whitespace and would end the link there.
_URL_CHAR = r"[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]|[^\x00-\x7f\s\ufeff]"
_URL = re.compile(
    rf"(?<!\w)https?://(?:[^\W_][\w-]*\.)+[^\W\d_]{{2,}}(?::\d{{1,5}})?(?:[/?#](?:{_URL_CHAR})*)?"
)
_AUTOLINK = re.compile(rf"<(https?://(?:{_URL_CHAR})+)>")
# The client ends a URL before trailing punctuation like this.
_URL_TRAILING = ".,:;\"')"
_EVERYONE = re.compile(r"@(?:everyone|here)")


def _join_surrogates(text: str) -> str:
    """Turn surrogate pairs into their characters and drop lone surrogates."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")


def _clean(text: str, *, multiline: bool) -> str:
    text = _LINE_BREAK.sub("\n" if multiline else " ", _join_surrogates(text))
    if not multiline:
        text = text.replace("\t", " ")
    return "".join(
        char
        for char in text
        if char in "\n\t"
        or (char not in BIDI_CONTROLS and unicodedata.category(char) not in _REMOVED_CATEGORIES)
    )


def _url_end(text: str, start: int) -> int | None:
    """Where a plain URL starting at ``start`` ends, or None if none starts there."""
    found = _URL.match(text, start)
    if found is None:
        return None
    # A URL that says @everyone ends before it, so the mention is escaped even for a client
    # that would not take the whole as a link.
    everyone = _EVERYONE.search(text, start, found.end())
    end, depth = (everyone.start() if everyone else found.end()), 0
    # Stop at a ")" that closes nothing, so a client that balances parentheses ends the link
    # where we do; and leave out trailing punctuation, as the client does.
    for index in range(start, end):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            if depth == 0:
                end = index
                break
            depth -= 1
    while end > start and text[end - 1] in _URL_TRAILING:
        end -= 1
    return end if _URL.fullmatch(text, start, end) else None


def _escaped_units(text: str) -> list[str]:
    """``text`` as markdown-inert pieces; a cut between two pieces leaves every escape whole."""
    block_markers = {m.start(m.lastindex or 0) for m in _BLOCK_MARKER.finditer(text)}
    units: list[str] = []
    run_has_url = False  # the client may be inside a bare URL: "://" since the last whitespace
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            run_has_url = False
        elif text.startswith("://", pos):
            run_has_url = True
        autolink = _AUTOLINK.match(text, pos) if char == "<" else None
        if autolink and _url_end(autolink[1], 0) == len(autolink[1]):
            units.append(autolink.group())  # <https://…>: a link without a preview, kept whole
            pos = autolink.end()
            continue
        url_end = _url_end(text, pos) if char == "h" else None
        if url_end is not None:
            run_has_url = True
            units.extend(text[pos:url_end])  # as typed; a cut may shorten it, never alter it
            pos = url_end
            continue
        if char == "<" and run_has_url:
            units.append("\\<" + ZERO_WIDTH_SPACE)
        elif char in _ALWAYS_ESCAPED or pos in block_markers:
            units.append("\\" + char)
        else:
            units.append(char)
        pos += 1
    return units


def _clip(units: list[str], limit: int) -> str:
    if sum(map(len, units)) <= limit:
        return "".join(units)
    budget = limit - len(ELLIPSIS)
    if budget < 0:
        return ""
    kept: list[str] = []
    size = 0
    for unit in units:
        if size + len(unit) > budget:
            break
        kept.append(unit)
        size += len(unit)
    return "".join(kept).rstrip() + ELLIPSIS


def display_text(text: str, limit: int, *, multiline: bool = False, markdown: bool = True) -> str:
    """Member text as the bot shows it in a field of at most ``limit`` characters.

    ``multiline`` keeps line breaks and tabs (a post's body); otherwise they become spaces.
    ``markdown=False`` is for fields Discord shows as plain text (an embed's author name, an
    autocomplete choice, a button label): cleaned and clipped, nothing to escape.
    """
    cleaned = _clean(text, multiline=multiline)
    return _clip(_escaped_units(cleaned) if markdown else list(cleaned), limit)
