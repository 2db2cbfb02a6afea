"""The rules for what members may store, checked before anything reaches the database.

Each check returns the cleaned value or raises ``InvalidInput`` with a sentence the member can
read. Lengths count characters (code points), as Discord's own option limits do.
"""

from __future__ import annotations

import unicodedata

from bot.db.models import BODY_MAX, NAME_MAX, TITLE_MAX
from bot.errors import InvalidInput

AGE_MIN = 13
AGE_MAX = 120

# Cc: control characters (line breaks included); Zl/Zp: Unicode line and paragraph separators;
# Cs: lone surrogates, which no database encodes.
_FORBIDDEN_ONE_LINE = frozenset({"Cc", "Zl", "Zp", "Cs"})
# A body may hold line breaks and tabs, nothing else from those categories.
_BODY_ALLOWED_CONTROLS = frozenset({"\n", "\t"})


def _has_forbidden(text: str, *, allow: frozenset[str] = frozenset()) -> bool:
    return any(ch not in allow and unicodedata.category(ch) in _FORBIDDEN_ONE_LINE for ch in text)


def _has_visible(text: str) -> bool:
    # Letters, numbers, punctuation or symbols; zero-width and combining marks alone show nothing.
    return any(unicodedata.category(ch)[0] in "LNPS" for ch in text)


def _one_line(field: str, label: str, value: str, maximum: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, f"The {label} must be text.")
    cleaned = value.strip()
    if cleaned.isascii() and cleaned.isprintable() and 0 < len(cleaned) <= maximum:
        # Printable ASCII has no control characters, and after strip() it is visible.
        return cleaned
    if not cleaned:
        raise InvalidInput(field, f"The {label} cannot be empty.")
    if len(cleaned) > maximum:
        raise InvalidInput(
            field, f"The {label} can be at most {maximum} characters (yours has {len(cleaned)})."
        )
    if _has_forbidden(cleaned):
        raise InvalidInput(field, f"The {label} must be a single line without control characters.")
    if not _has_visible(cleaned):
        raise InvalidInput(field, f"The {label} must contain something visible.")
    return cleaned


def clean_name(name: str) -> str:
    """A profile name: 1–32 characters after trimming, one line, no control characters."""
    return _one_line("name", "name", name, NAME_MAX)


def clean_title(title: str) -> str:
    """A post title: 1–256 characters after trimming, one line, no control characters."""
    return _one_line("title", "title", title, TITLE_MAX)


def clean_age(age: int) -> int:
    """An age in years, 13–120 (Discord's own minimum age is 13)."""
    if isinstance(age, bool) or not isinstance(age, int):
        raise InvalidInput("age", "The age must be a whole number.")
    if not AGE_MIN <= age <= AGE_MAX:
        raise InvalidInput("age", f"The age must be between {AGE_MIN} and {AGE_MAX}.")
    return age


def clean_body(body: str | None) -> str | None:
    """A post body: optional, at most 4000 characters, line breaks and tabs allowed."""
    if body is None:
        return None
    if not isinstance(body, str):
        raise InvalidInput("body", "The body must be text.")
    cleaned = body.replace("\r\n", "\n").strip()
    if not cleaned:
        return None
    if len(cleaned) > BODY_MAX:
        raise InvalidInput(
            "body", f"The body can be at most {BODY_MAX} characters (yours has {len(cleaned)})."
        )
    if _has_forbidden(cleaned, allow=_BODY_ALLOWED_CONTROLS):
        raise InvalidInput("body", "The body cannot contain control characters.")
    return cleaned
