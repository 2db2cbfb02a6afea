"""The loops that feed the chat: ``run_script`` (lines from a file or a pipe, echoed) and
``run_interactive`` (``input()`` with readline Tab completion). Both block on I/O in the
calling thread while the emulator and whatever answers it run on a ``LoopThread``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

from rich.text import Text

from sandbox.chat.completion import COMPLETE_TIMEOUT, Suggestion
from sandbox.chat.errors import ChatQuit
from sandbox.chat.loop_thread import LoopThread
from sandbox.chat.session import Chat

readline: ModuleType | None
try:
    import readline
except ImportError:  # not on every platform; the chat then works without Tab completion
    readline = None

log = logging.getLogger(__name__)


def script_lines(source: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Numbered lines to run: blank lines and ``#`` comments skipped, read lazily."""
    for number, raw in enumerate(source, start=1):
        text = raw.strip()
        if text and not text.startswith("#"):
            yield number, text


def run_script(chat: Chat, runner: LoopThread, source: Iterable[str]) -> int:
    """Run lines as if typed, echoing each after the prompt; 1 if any line failed, else 0."""
    ran = 0
    failed: list[int] = []
    for number, text in script_lines(source):
        chat.console.print(Text(chat.prompt + text, style="bold"))
        ran += 1
        try:
            ok = runner.call(chat.handle(text))
        except ChatQuit:
            break
        if not ok:
            failed.append(number)
    if failed:
        where = ", ".join(str(n) for n in failed)
        chat.say(
            f"Ran {ran} line{'s' if ran != 1 else ''}: {len(failed)} failed "
            f"(line{'s' if len(failed) != 1 else ''} {where}).",
            "bold red",
        )
        return 1
    chat.say(f"Ran {ran} line{'s' if ran != 1 else ''}: all worked.", "bold")
    return 0


def _install_completion(chat: Chat, runner: LoopThread, history: Path | None) -> None:
    if readline is None:
        return
    rl = readline
    offered: list[Suggestion] = []

    def complete(text: str, state: int) -> str | None:
        if state == 0:
            try:
                offered[:] = runner.call(chat.suggestions(text), timeout=COMPLETE_TIMEOUT)
            except Exception:
                # A slow or failing answer must never break typing: offer nothing this time.
                log.debug("Completion of %r failed", text, exc_info=True)
                offered[:] = []
        return offered[state].line if state < len(offered) else None

    def display(_substitution: str, matches: Sequence[str], _longest: int) -> None:
        # readline would print whole lines; show the piece and its label instead, like the
        # client's pop-up, then redraw the prompt and what was typed.
        shown = [s for s in offered if s.line in matches]
        width = max((len(s.insert.strip()) for s in shown), default=0)
        lines = [f"  {s.insert.strip():<{width}}   {s.label}".rstrip() for s in shown]
        print("\n" + "\n".join(lines))  # noqa: T201 - readline draws on the raw terminal
        print(chat.prompt + rl.get_line_buffer(), end="", flush=True)  # noqa: T201

    # No delimiters: the completer sees the whole line, so a value with spaces
    # (post:Hello th) can be completed as a whole.
    rl.set_completer_delims("")
    rl.set_completer(complete)
    rl.set_completion_display_matches_hook(display)
    rl.parse_and_bind("tab: complete")
    # Names differ in case (@bob, @Bulletin): without this the common prefix readline
    # inserts can be shorter than what was typed. The list shows at the first Tab, like
    # the client's pop-up.
    rl.parse_and_bind("set completion-ignore-case on")
    rl.parse_and_bind("set show-all-if-ambiguous on")
    if history is not None:
        with contextlib.suppress(OSError):
            rl.read_history_file(history)
        rl.set_history_length(1000)


def _save_history(history: Path | None) -> None:
    if readline is not None and history is not None:
        with contextlib.suppress(OSError):
            readline.write_history_file(history)


def run_interactive(
    chat: Chat,
    runner: LoopThread,
    *,
    history: Path | None = None,
    read: Callable[[str], str] = input,
) -> int:
    """The REPL: read a line, run it, draw the reply; ``:quit``, Ctrl-D or Ctrl-C leave (0)."""
    _install_completion(chat, runner, history)
    try:
        while True:
            try:
                line = read(chat.prompt)
            except (EOFError, KeyboardInterrupt):
                chat.console.print()
                break
            try:
                runner.call(chat.handle(line))
            except ChatQuit:
                break
            except KeyboardInterrupt:
                chat.console.print()
                break
    finally:
        _save_history(history)
    return 0
