"""The one whole-number parser: ASCII digits only, the length bounded before ``int()``, the
range checked; by example and with hypothesis against a reference written another way."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import __version__, parsing
from bot.errors import InvalidInput
from bot.parsing import SNOWFLAKE_MAX, NumberError, parse_int, parse_snowflake, parse_version
from cogs.posts import parse_post_id

ROOT = Path(__file__).resolve().parent.parent
ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def reference(text: str, minimum: int, maximum: int) -> int | None:
    """What parse_int should give, computed the slow, obvious way (None: refused)."""
    if not ASCII_DIGITS.fullmatch(text):
        return None
    value = sum(int(ch) * 10**power for power, ch in enumerate(reversed(text)))
    return value if minimum <= value <= maximum else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("007", 7), ("9223372036854775807", SNOWFLAKE_MAX), ("0" * 5000 + "42", 42)],
)
def test_ids_in_ascii_digits(text: str, expected: int) -> None:
    assert parse_snowflake(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0",
        "9223372036854775808",
        "18446744073709551615",
        "²",
        "١٢٣",
        "１２",
        "+5",
        "-5",
        " 5",
        "5 ",
        "1_000",
        "0x10",
        "9" * 5000,
    ],
)
def test_everything_else_is_refused(text: str) -> None:
    with pytest.raises(NumberError):
        parse_snowflake(text)


def test_the_range_is_inclusive() -> None:
    assert parse_int("0", maximum=3) == 0
    assert parse_int("3", minimum=1, maximum=3) == 3
    with pytest.raises(NumberError, match="between 1 and 3"):
        parse_int("4", minimum=1, maximum=3)
    with pytest.raises(NumberError, match="between 1 and 3"):
        parse_int("0", minimum=1, maximum=3)


def test_bounds_that_make_no_sense_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="bounds") as caught:
        parse_int("1", minimum=5, maximum=3)
    assert not isinstance(caught.value, NumberError)


def test_thousands_of_digits_never_reach_int(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def spying_int(text: str) -> int:
        seen.append(text)
        return int(text)

    # A module global shadows the builtin for the code of that module only.
    monkeypatch.setattr(parsing, "int", spying_int, raising=False)
    with pytest.raises(NumberError):
        parse_snowflake("9" * 5000)
    assert parse_snowflake("0" * 5000 + "12") == 12
    assert seen == ["12"]


@given(st.integers(min_value=1, max_value=SNOWFLAKE_MAX), st.integers(0, 30))
def test_every_id_round_trips_with_or_without_leading_zeros(value: int, zeros: int) -> None:
    assert parse_snowflake("0" * zeros + str(value)) == value


@given(
    st.text(max_size=40)
    | st.text(alphabet="0123456789", max_size=40)
    | st.text(alphabet=st.characters(categories=["Nd", "No"]), max_size=5),
    st.integers(0, 2**70),
    st.integers(0, 2**70),
)
def test_agrees_with_the_reference_and_raises_nothing_but_number_error(
    text: str, low: int, high: int
) -> None:
    minimum, maximum = min(low, high), max(low, high)
    expected = reference(text, minimum, maximum)
    if expected is None:
        with pytest.raises(NumberError):
            parse_int(text, minimum=minimum, maximum=maximum)
    else:
        assert parse_int(text, minimum=minimum, maximum=maximum) == expected


@pytest.mark.parametrize(
    ("typed", "post_id"),
    [("42", 42), ("#42", 42), (" #42 ", 42), ("#42 · Hello there", 42), ("7 · a · b", 7)],
)
def test_a_post_id_as_typed_or_as_the_list_shows_it(typed: str, post_id: int) -> None:
    assert parse_post_id(typed) == post_id


@pytest.mark.parametrize("typed", ["", "#", "hello", "#²", "٣", "0", "#-1", "· 42", "9" * 100])
def test_anything_else_gets_the_members_explanation(typed: str) -> None:
    with pytest.raises(InvalidInput, match="Pick one of your posts from the list"):
        parse_post_id(typed)


@pytest.mark.parametrize(
    ("older", "newer"),
    [("0.1.0", "0.2.0"), ("0.9.0", "0.10.0"), ("1.2", "1.2.1"), ("0.1.9", "1.0"), ("2", "10")],
)
def test_versions_compare_as_versions(older: str, newer: str) -> None:
    assert parse_version(older) < parse_version(newer)


def test_trailing_zero_parts_do_not_count() -> None:
    assert parse_version("1.0.0") == parse_version("1.0") == parse_version("1") == (1,)
    assert parse_version("0.0") == (0,)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.",
        ".1",
        "1..2",
        "v1.2",
        "1.2.3rc1",
        "1.2.3+local",
        "1 .2",
        "1.²",
        "1.2.3.4.5",
        "9" * 50,
    ],
)
def test_anything_but_dotted_numbers_is_not_a_version(text: str) -> None:
    with pytest.raises(NumberError):
        parse_version(text)


def test_the_bots_own_version_parses() -> None:
    # The command sync compares versions recorded by other processes with this one.
    assert parse_version(__version__) >= (0, 1)


def test_importing_it_loads_neither_discord_nor_sqlalchemy() -> None:
    code = (
        "import sys, bot.parsing; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'discord', 'sqlalchemy'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
