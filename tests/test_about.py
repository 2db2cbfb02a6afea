"""/about's latency figure: shown in milliseconds only when it can be believed."""

from __future__ import annotations

import math

import pytest

from cogs.about import latency_text


@pytest.mark.parametrize(
    ("latency", "interval", "shown"),
    [
        (0.0424, 41.25, "42 ms"),
        (41.25, 41.25, "41250 ms"),
        (41.3, 41.25, "measuring…"),
        (math.inf, 41.25, "measuring…"),
        (math.nan, 41.25, "measuring…"),
        (-0.001, 41.25, "measuring…"),
        (0.0424, None, "42 ms"),
        (math.inf, None, "measuring…"),
    ],
)
def test_latency_text(latency: float, interval: float | None, shown: str) -> None:
    assert latency_text(latency, interval) == shown
