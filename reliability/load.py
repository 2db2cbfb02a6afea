"""Many members acting at once: each plays a mix of commands back to back for a while.

Every member first registers and publishes a post (not timed). Then each one, in its own
task, picks a command from ``MIX`` at random and runs it, and the next as soon as the answer
has settled, until the time is up: a closed loop with no pause, so the figures are those of a
bot kept busy by ``members`` people at once. Latencies come from the emulator's record of
each interaction, as in ``bench/stack.py``: acknowledgement = dispatch → the first response
Discord accepted; final answer = dispatch → the last visible change (the answer that replaced
a "thinking…", or the first response when there was none).
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from reliability.replies import error_id, says_unavailable
from reliability.report import LoadResult
from sandbox import Emulator, MemberDriver, NoAnswerError, Reply

LAG_PROBE = 0.01
Act = Callable[[MemberDriver, random.Random, int, list[MemberDriver]], Awaitable[Any]]


async def _post(member: MemberDriver, rng: random.Random, n: int, _: list[MemberDriver]) -> Reply:
    body = " ".join(rng.choice(["lorem", "ipsum", "dolor", "sit", "amet"]) for _ in range(30))
    return await member.run("/post", title=f"load {member.name} {n}", body=body)


async def _rename(member: MemberDriver, rng: random.Random, n: int, _: list[MemberDriver]) -> Reply:
    return await member.run("/rename", name=f"{member.name} {n % 10}")


async def _profile_of(
    member: MemberDriver, rng: random.Random, n: int, everyone: list[MemberDriver]
) -> Reply:
    return await member.run("/profile", member=rng.choice(everyone).user.id)


async def _complete(member: MemberDriver, rng: random.Random, n: int, _: list[MemberDriver]) -> Any:
    return await member.autocomplete("/deletepost", "post", rng.choice(["", "1", "load", "#2"]))


def _plain(command: str) -> Act:
    async def act(member: MemberDriver, rng: random.Random, n: int, _: list[MemberDriver]) -> Reply:
        return await member.run(command)

    return act


# What members do, and how often (weights).
MIX: dict[str, tuple[Act, int]] = {
    "/profile": (_plain("/profile"), 20),
    "/profile member": (_profile_of, 10),
    "/myposts": (_plain("/myposts"), 15),
    "/post": (_post, 20),
    "/rename": (_rename, 10),
    "/deletepost autocomplete": (_complete, 10),
    "/mycases": (_plain("/mycases"), 5),
    "/about": (_plain("/about"), 10),
}


async def prepare(members: list[MemberDriver]) -> None:
    """Register every member and give each a post (in batches, untimed)."""
    for start in range(0, len(members), 50):
        batch = members[start : start + 50]
        await asyncio.gather(*(m.run("/register", name=m.name, age=30) for m in batch))
        await asyncio.gather(*(m.run("/post", title=f"first post of {m.name}") for m in batch))


async def run_load(
    emulator: Emulator, members: list[MemberDriver], seconds: float, seed: int
) -> LoadResult:
    """``members`` acting at once for ``seconds``; the interactions' timings and outcomes."""
    result = LoadResult(members=len(members))
    names = list(MIX)
    weights = [MIX[name][1] for name in names]
    # The harness's own garbage collector stays out of the timed window: with the emulator's
    # records in memory, its full collections paused this process for up to 0.8 s, which
    # the members' latencies then counted. The bot's collector runs as usual.
    gc.collect()
    gc.freeze()
    first = len(emulator.interactions)
    started = time.monotonic()
    until = started + seconds

    async def play(index: int, member: MemberDriver) -> None:
        rng = random.Random(seed * 1_000_003 + index)  # noqa: S311 - reproducible, not a secret
        n = 0
        while time.monotonic() < until:
            name = rng.choices(names, weights)[0]
            result.mix[name] = result.mix.get(name, 0) + 1
            try:
                outcome = await MIX[name][0](member, rng, n, members)
            except NoAnswerError:
                outcome = None  # counted from the emulator's records
            if isinstance(outcome, Reply):
                if says_unavailable(outcome):
                    result.unavailable += 1
                if error_id(outcome.text) is not None:
                    result.internal_errors += 1
            n += 1

    async def watch_lag() -> None:
        # How late the harness's own event loop (the emulator and every member) wakes up:
        # the part of the latencies that may be the harness's, not the bot's.
        while time.monotonic() < until:
            before = time.monotonic()
            await asyncio.sleep(LAG_PROBE)
            result.harness_lag.append(time.monotonic() - before - LAG_PROBE)

    gc.disable()
    try:
        await asyncio.gather(watch_lag(), *(play(i, m) for i, m in enumerate(members)))
    finally:
        gc.enable()
    result.seconds = time.monotonic() - started
    ids = {m.user.id for m in members}
    records = [i for i in emulator.interactions[first:] if i.user.id in ids]
    result.interactions = len(records)
    for record in records:
        if record.acked_at is not None:
            result.ack.append(record.acked_at - record.dispatched_at)
            result.final.append(record.last_change - record.dispatched_at)
    return result
