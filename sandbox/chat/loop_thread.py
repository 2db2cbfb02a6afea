"""``LoopThread``: an event loop on a background thread, so the emulator and whatever answers it
keep running while the calling thread blocks on ``input()``."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """An event loop on a background thread, for a caller that blocks on ``input()``.

    ``input()`` and readline belong on the main thread: only there does Ctrl-C interrupt
    them and leave the terminal as it was. The emulator and whatever answers it run here
    instead, and the readline completer (called synchronously from ``input()``) reaches them
    with ``run_coroutine_threadsafe`` and a short timeout.
    """

    def __init__(self, name: str = "sandbox-loop") -> None:
        self.loop = asyncio.new_event_loop()
        # A daemon thread: if something hangs at exit, the process still ends.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.leftovers: list[str] = []

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> LoopThread:
        """Start the loop's thread."""
        self._thread.start()
        return self

    def call(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop and wait for its result (cancelled on timeout or Ctrl-C)."""
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Cancel whatever is left, shut the loop down and join its thread."""
        if self._thread.is_alive():
            with contextlib.suppress(TimeoutError):
                self.leftovers = self.call(self._finish(), timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()

    async def _finish(self) -> list[str]:
        current = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not current]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()
        return sorted(t.get_name() for t in left)

    def __enter__(self) -> LoopThread:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
