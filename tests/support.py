"""Helpers shared by the test folders (fixtures stay in each folder's conftest)."""

from __future__ import annotations

import asyncio
from typing import Any


async def assert_no_leaked_tasks(before: set[asyncio.Task[Any]]) -> None:
    """Every task started since ``before`` has ended (waits up to a second for stragglers)."""
    current = asyncio.current_task()
    leaked: list[asyncio.Task[Any]] = []
    for _ in range(100):
        leaked = [
            t for t in asyncio.all_tasks() if t not in before and t is not current and not t.done()
        ]
        if not leaked:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"tasks left running after teardown: {leaked}")
