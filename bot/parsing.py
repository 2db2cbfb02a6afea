"""Whole numbers and Discord ids from text: one strict parser for configuration, the command
line and what members type.

``parse_int`` accepts the ASCII digits 0-9 and nothing else: no sign, no spaces, no ``_``, no
other script's digits (``²`` or ``٣`` pass ``str.isdigit()``, and ``int()`` then raises or
accepts them). It checks the number of significant digits against the maximum before
converting, so a string of thousands of digits is refused without ever reaching ``int()``,
then checks the range. ``parse_snowflake`` is ``parse_int`` over Discord's ids as the database
stores them: 1 to ``SNOWFLAKE_MAX`` (a signed 64-bit integer). ``parse_version`` reads a
Bulletin version (``0.1.0``: whole numbers joined by dots) into a tuple that compares as
versions do. A refusal raises ``NumberError``, a ``ValueError`` whose message says why in words
that follow the value's name.

This module imports nothing from discord or sqlalchemy, so any layer may use it.
"""

from __future__ import annotations

SNOWFLAKE_MAX = 2**63 - 1


class NumberError(ValueError):
    """Text that is not a whole number within the allowed range; ``str()`` says which."""


def parse_int(text: str, *, minimum: int = 0, maximum: int) -> int:
    """The whole number ``text`` spells in ASCII digits, if ``minimum <= it <= maximum``.

    Leading zeros are allowed (``007`` is 7). Raises NumberError otherwise, and ValueError if
    the bounds themselves are not ``0 <= minimum <= maximum``.
    """
    if not 0 <= minimum <= maximum:
        raise ValueError(f"the bounds must satisfy 0 <= minimum <= maximum: {minimum}, {maximum}")
    if not text or not (text.isascii() and text.isdigit()):
        raise NumberError("is not a whole number written with the digits 0-9")
    significant = text.lstrip("0") or "0"
    # Longer than the maximum means larger than it: refuse before int() has to read it all.
    if len(significant) > len(str(maximum)):
        raise NumberError(f"is not between {minimum} and {maximum}")
    value = int(significant)
    if not minimum <= value <= maximum:
        raise NumberError(f"is not between {minimum} and {maximum}")
    return value


def parse_snowflake(text: str) -> int:
    """A Discord id (1 to ``SNOWFLAKE_MAX``) written in ASCII digits; NumberError otherwise."""
    return parse_int(text, minimum=1, maximum=SNOWFLAKE_MAX)


# Far beyond any real version part; bounds the work a hostile string could cause.
VERSION_PART_MAX = 999_999
VERSION_PARTS_MAX = 4


def parse_version(text: str) -> tuple[int, ...]:
    """A version such as ``0.1.0`` as a tuple that compares as versions do: ``(0, 1, 0)``.

    Only whole numbers joined by dots, 1 to ``VERSION_PARTS_MAX`` of them; trailing zero parts
    are dropped so that ``1.0`` and ``1.0.0`` are equal. NumberError otherwise.
    """
    parts = text.split(".")
    if len(parts) > VERSION_PARTS_MAX:
        raise NumberError(f"is not a version of at most {VERSION_PARTS_MAX} parts such as 1.2.3")
    try:
        numbers = [parse_int(part, maximum=VERSION_PART_MAX) for part in parts]
    except NumberError:
        raise NumberError("is not a version such as 1.2.3 (whole numbers joined by dots)") from None
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


__all__ = ["SNOWFLAKE_MAX", "NumberError", "parse_int", "parse_snowflake", "parse_version"]
