"""``kill -9`` under write load: no post whose reply said "published" may be lost.

Members publish posts back to back, each with a title of its own; at a moment that falls
mid-load the bot's process gets SIGKILL (no shutdown, no flush: what a crash, the OOM killer
or a power-cut container does to the process). A new process is started on the same
database, and the database is read directly: every post a member saw confirmed must be
there, under the id the reply showed, and no title may be stored twice. Posts that were in
flight at the kill (sent, never answered) may or may not be stored: the member was never
told either way. Then the new process must publish and confirm again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from reliability.process import BotProcess
from reliability.replies import published_post_id
from reliability.report import CrashResult
from reliability.store import stored_posts
from sandbox import DriverError, MemberDriver, NoAnswerError

PREFIX = "crash"


async def run_crash(
    bot: BotProcess,
    members: list[MemberDriver],
    *,
    seconds: float,
    seed: int,
    restart: Callable[[], Awaitable[BotProcess]],
    database_url: str,
) -> tuple[CrashResult, BotProcess, float]:
    """Post from every member, kill the process after about ``seconds``, restart, check.

    Returns the result, the new process and the moment of the kill (``time.monotonic()``).
    """
    result = CrashResult(members=len(members))
    confirmed: dict[str, int] = {}
    in_flight: list[str] = []

    async def publish(member: MemberDriver) -> None:
        # Members do not know when the bot dies: each goes on until a post gets no answer
        # (it was in flight, or sent to the dead process) or the emulator has no bot to send
        # it to.
        n = 0
        while True:
            title = f"{PREFIX} {member.name} {n}"
            n += 1
            try:
                reply = await member.run("/post", title=title, body="written under load")
            except NoAnswerError:
                result.attempted += 1
                in_flight.append(title)
                return
            except DriverError:
                return  # not sent: the emulator saw no bot session
            result.attempted += 1
            post_id = published_post_id(reply)
            if post_id is not None:
                confirmed[title] = post_id
            else:
                result.problems.append(f"/post answered without publishing: {reply.text[:120]}")

    tasks = [asyncio.create_task(publish(m)) for m in members]
    # A moment of its own in each run, from the seed: mid-load, not at a round figure.
    moment = random.Random(seed).uniform(0.6, 1.0)  # noqa: S311 - reproducible, not a secret
    await asyncio.sleep(seconds * moment)
    killed_at = time.monotonic()
    await bot.kill()
    await asyncio.gather(*tasks)

    new = await restart()
    stored = [(i, t) for i, t in await stored_posts(database_url) if t.startswith(PREFIX + " ")]
    by_title = Counter(title for _, title in stored)
    ids = {title: post_id for post_id, title in stored}
    result.confirmed = len(confirmed)
    result.lost = sum(1 for title, post_id in confirmed.items() if ids.get(title) != post_id)
    result.duplicated = sum(count - 1 for count in by_title.values() if count > 1)
    result.in_flight = len(in_flight)
    result.stored_unconfirmed = sum(1 for title in in_flight if title in ids)

    # The same database, a new process: it publishes, confirms, and the row is there.
    some = members[:3]
    after = await asyncio.gather(*(m.run("/post", title=f"after the crash {m.name}") for m in some))
    again = {
        f"after the crash {m.name}": published_post_id(r) for m, r in zip(some, after, strict=True)
    }
    rows = {title: post_id for post_id, title in await stored_posts(database_url)}
    result.served_after = all(
        post_id is not None and rows.get(title) == post_id for title, post_id in again.items()
    )
    return result, new, killed_at
