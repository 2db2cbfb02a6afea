"""Database faults injected for real while members keep using the bot.

For each fault: inject it; have every fault member run a mix of commands at once (reads,
writes, autocomplete); keep the fault for at least ``hold`` seconds; clear it; then run one
write and one read every 0.1 s until both are answered normally (that time is the
recovery), and the whole mix once more, which must all be answered normally.

Survived means: during the fault every interaction was acknowledged within Discord's three
seconds, none showed an error id and the bot logged no ERROR, every write said the database
is temporarily unavailable (autocomplete offered nothing, in time) and none was stored, at
least one command was told so (the fault was felt); reads that did not need what was broken
may be served; after it, the same process (same pid, no restart) serves again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from reliability.process import BotProcess
from reliability.replies import (
    internal_errors,
    published_post_id,
    says_unavailable,
    says_unconfirmed,
    shown_error_ids,
)
from reliability.report import FaultResult
from reliability.store import stored_posts
from sandbox import Emulator, MemberDriver, NoAnswerError, Reply

RECOVERY_LIMIT = 30.0


@dataclass
class Fault:
    """A fault this run can inject: how, and whether here."""

    name: str
    how: str
    inject: Callable[[], Awaitable[None]]
    clear: Callable[[], Awaitable[None]]
    unsupported: str | None = None


@dataclass
class _Outcome:
    command: str
    write: bool
    reply: Reply | None = None
    choices: int | None = None  # autocomplete: how many suggestions
    title: str | None = None  # /post: the title sent


async def _mix(member: MemberDriver, tag: str) -> list[_Outcome]:
    """One of each kind of command, from one member, one after another."""
    commands: list[tuple[str, bool, dict[str, Any]]] = [
        ("/post", True, {"title": f"{tag} {member.name}"}),
        ("/profile", False, {}),
        ("/rename", True, {"name": f"{tag[:20]} {member.name}"[:32]}),
        ("/myposts", False, {}),
        ("/deletepost autocomplete", False, {}),
        ("/mycases", False, {}),
    ]
    outcomes: list[_Outcome] = []
    for command, write, options in commands:
        outcome = _Outcome(command, write, title=options.get("title"))
        with contextlib.suppress(NoAnswerError):
            if command.endswith("autocomplete"):
                outcome.choices = len(await member.autocomplete("/deletepost", "post", ""))
            else:
                outcome.reply = await member.run(command, options=options)
        outcomes.append(outcome)
    return outcomes


def _normal(outcome: _Outcome) -> bool:
    """Answered as on a good day."""
    if outcome.command.endswith("autocomplete"):
        return bool(outcome.choices)
    reply = outcome.reply
    if reply is None or says_unavailable(reply) or "error id" in reply.text:
        return False
    if outcome.command == "/post":
        return published_post_id(reply) is not None
    return True


async def run_fault(
    emulator: Emulator,
    bot: BotProcess,
    members: list[MemberDriver],
    fault: Fault,
    *,
    hold: float,
    database_url: str,
) -> FaultResult:
    """Inject ``fault`` under commands from ``members``; see the module's docstring."""
    result = FaultResult(fault.name, fault.how, unsupported=fault.unsupported)
    if fault.unsupported is not None:
        return result
    pid = bot.pid
    first_interaction = len(emulator.interactions)
    first_message = len(emulator.messages)
    logged = len(bot.log.problems)
    tag = f"fault {first_interaction}"

    await fault.inject()
    try:
        started = time.monotonic()
        rounds = await asyncio.gather(*(_mix(m, tag) for m in members))
        await asyncio.sleep(max(0.0, hold - (time.monotonic() - started)))
    finally:
        await fault.clear()
    cleared_at = time.monotonic()
    during = [o for outcomes in rounds for o in outcomes]
    _judge(result, during)
    result.late = sum(
        1 for r in emulator.interactions[first_interaction:] if not r.answered_in_time
    )
    await bot.settle_log()
    shown = shown_error_ids(emulator.messages[first_message:])
    result.internal_errors = internal_errors(shown, bot.log.since(logged))
    result.problems += [f"logged: {line[:200]}" for line in bot.log.since(logged)[:3]]

    result.recovered_after = await _recovery(members[0], f"{tag} recovery", cleared_at)
    if result.recovered_after is not None:
        after = await asyncio.gather(*(_mix(m, f"{tag} after") for m in members))
        failed = [o.command for outcomes in after for o in outcomes if not _normal(o)]
        if failed:
            result.problems.append(f"not served after the fault: {sorted(set(failed))}")
    result.restarted = bot.pid != pid or bot.process is None or bot.process.returncode is not None
    # A post told "may still have been saved" may be stored without contradicting its reply.
    titles = {
        o.title
        for o in during
        if o.title and not (o.reply is not None and says_unconfirmed(o.reply))
    }
    result.writes_stored = sum(1 for _, t in await stored_posts(database_url) if t in titles)
    return result


def _judge(result: FaultResult, during: list[_Outcome]) -> None:
    """Count what members were told during the fault."""
    result.commands = len(during)
    for outcome in during:
        if outcome.command.endswith("autocomplete"):
            if outcome.choices == 0:
                result.told_unavailable += 1
            elif outcome.choices is not None:
                result.served += 1
            continue
        reply = outcome.reply
        if reply is None:
            continue  # no answer: counted as late from the emulator's records
        if says_unavailable(reply):
            result.told_unavailable += 1
            if says_unconfirmed(reply):
                result.writes_unconfirmed += 1
        elif "error id" not in reply.text:
            result.served += 1
            if outcome.write:
                result.writes_claimed += 1


async def _recovery(member: MemberDriver, tag: str, cleared_at: float) -> float | None:
    """Seconds from ``cleared_at`` until one write and one read are answered normally."""
    n = 0
    while time.monotonic() < cleared_at + RECOVERY_LIMIT:
        n += 1
        try:
            posted = await member.run("/post", title=f"{tag} {n}")
            profile = await member.run("/profile")
        except NoAnswerError:
            continue
        if published_post_id(posted) is not None and not (
            says_unavailable(profile) or "error id" in profile.text
        ):
            return time.monotonic() - cleared_at
        await asyncio.sleep(0.1)
    return None
