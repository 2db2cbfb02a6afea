"""Durations typed by moderators: ``90s``, ``10m``, ``1h30m``, ``7d``, ``4w``.

A duration is one or more ``<number><unit>`` parts, units ``s``, ``m``, ``h``, ``d``, ``w``,
each unit at most once and from the largest down (``1h30m``, not ``30m1h``); spaces between
parts and upper case are accepted. Numbers go through ``bot.parsing`` (ASCII digits, length
checked before conversion), so ``9999…9w`` is refused without building a huge number. The
result must be more than zero and at most the caller's maximum; anything else raises
``InvalidInput`` with a sentence the moderator can act on. No discord, no SQLAlchemy here.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import InvalidInput
from bot.parsing import NumberError, parse_int

UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)\s*([wdhms])", re.ASCII)
# No single part can exceed this many seconds' worth of digits (366 days in seconds).
_PART_MAX = 10**8
EXAMPLES = "90s, 10m, 1h30m, 7d or 4w"


def describe(seconds: int) -> str:
    """``1h 30m`` for 5400: the largest units, at most two of them."""
    parts = []
    for unit, size in UNITS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts[:2]) or "0s"


def parse_duration(text: str, *, maximum: timedelta, field: str = "duration") -> timedelta:
    """The duration ``text`` spells, if it is more than zero and at most ``maximum``."""
    compact = text.strip().lower()
    position = 0
    total = 0
    seen: list[str] = []
    for match in _PART.finditer(compact):
        between = compact[position : match.start()]
        if between.strip():
            break
        digits, unit = match.groups()
        if seen and list(UNITS).index(unit) <= list(UNITS).index(seen[-1]):
            raise InvalidInput(
                field, f"Give each unit once, largest first (like 1h30m), not {_quote(text)}."
            )
        try:
            amount = parse_int(digits, maximum=_PART_MAX)
        except NumberError:
            raise InvalidInput(field, _too_long(maximum)) from None
        seen.append(unit)
        total += amount * UNITS[unit]
        position = match.end()
    if not seen or compact[position:].strip():
        raise InvalidInput(
            field, f"{_quote(text)} is not a duration. Use a number and a unit: {EXAMPLES}."
        )
    if total == 0:
        raise InvalidInput(field, "The duration must be more than zero.")
    if total > maximum.total_seconds():
        raise InvalidInput(field, _too_long(maximum))
    return timedelta(seconds=total)


def _too_long(maximum: timedelta) -> str:
    return f"The duration can be at most {describe(int(maximum.total_seconds()))}."


def _quote(text: str) -> str:
    shown = text.strip()
    if len(shown) > 40:
        shown = shown[:39] + "…"
    # Shown in an embed: keep it to characters that cannot format anything.
    safe = "".join(ch for ch in shown if ch.isalnum() or ch in " …")
    return f"“{safe}”" if safe else "That"
