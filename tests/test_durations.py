"""Durations for timeouts and temporary bans: every valid spelling, and clear refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.durations import UNITS, describe, parse_duration
from bot.errors import InvalidInput

DAYS_28 = timedelta(days=28)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("10m", 600),
        ("1h30m", 5400),
        ("7d", 604_800),
        ("4w", 2_419_200),
        ("28d", 2_419_200),
        ("3s", 3),
        (" 1H 30M ", 5400),
        ("1w2d3h4m5s", 604_800 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5),
        ("007m", 420),
    ],
)
def test_valid_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, maximum=DAYS_28) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not a duration"),
        ("10", "not a duration"),
        ("m", "not a duration"),
        ("ten minutes", "not a duration"),
        ("10x", "not a duration"),
        ("1.5h", "not a duration"),
        ("-5m", "not a duration"),
        ("10m extra", "not a duration"),
        ("30m1h", "largest first"),
        ("1h1h", "largest first"),
        ("0s", "more than zero"),
        ("0h0m", "more than zero"),
        ("28d1s", "at most 4w"),
        ("5w", "at most 4w"),
        ("9" * 5000 + "s", "at most 4w"),
        ("１０m", "not a duration"),
        ("٣m", "not a duration"),
    ],
)
def test_refused_durations_say_why(text: str, why: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_duration(text, maximum=DAYS_28)
    assert why in refused.value.user_message


_parts = st.lists(
    st.tuples(st.sampled_from(list(UNITS)), st.integers(min_value=0, max_value=500)),
    min_size=1,
    max_size=5,
    unique_by=lambda part: part[0],
)


@given(_parts)
def test_any_well_formed_duration_is_its_sum_or_a_clear_refusal(
    parts: list[tuple[str, int]],
) -> None:
    ordered = sorted(parts, key=lambda part: list(UNITS).index(part[0]))
    text = "".join(f"{amount}{unit}" for unit, amount in ordered)
    total = sum(amount * UNITS[unit] for unit, amount in ordered)
    maximum = timedelta(days=365)
    if 0 < total <= maximum.total_seconds():
        assert parse_duration(text, maximum=maximum) == timedelta(seconds=total)
    else:
        with pytest.raises(InvalidInput):
            parse_duration(text, maximum=maximum)


@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_with_a_short_sentence(text: str) -> None:
    message = None
    try:
        result = parse_duration(text, maximum=DAYS_28)
    except InvalidInput as refused:
        message = refused.user_message
    if message is None:
        assert timedelta(0) < result <= DAYS_28
    else:
        assert 0 < len(message) <= 200
        assert "\n" not in message


def test_describe() -> None:
    assert describe(5400) == "1h 30m"
    assert describe(2_419_200) == "4w"
    assert describe(0) == "0s"
