"""Moderators' requests waiting for Confirm: taken once, and never left to pile up."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update

from bot.db import Database, confirmations
from bot.db.models import PendingConfirmation
from bot.db.statements import ModelShape, Query, Statement, nothing
from bot.db.types import utcnow
from bot.services import content

_ALL = Statement(select(PendingConfirmation).order_by(PendingConfirmation.id), name="all")
_ALL_SHAPE = ModelShape(PendingConfirmation, _ALL)
_BACKDATE = Statement(
    update(PendingConfirmation)
    .where(PendingConfirmation.id == bindparam("request"))
    .values(created_at=bindparam("when", type_=PendingConfirmation.created_at.type)),
    name="backdate",
)


def _backdate(request: int, when: datetime) -> Query[None]:
    return Query(_BACKDATE, {"request": request, "when": when}, nothing)


async def _ids(db: Database) -> list[tuple[int, int]]:
    rows = await db.read_one(Query(_ALL, {}, _ALL_SHAPE.all))
    return [(r.guild_id, r.id) for r in rows]


async def test_a_request_is_taken_once_and_only_by_its_owner(db: Database) -> None:
    request, count = await content.ask(db, 1, 10, "purge", target_id=20, reason="spam")
    assert count == 0
    stranger = await db.write_one(confirmations.take_confirmation(request, 1, 11, "purge"))
    other_guild = await db.write_one(confirmations.take_confirmation(request, 2, 10, "purge"))
    assert stranger is None
    assert other_guild is None
    taken = await db.write_one(confirmations.take_confirmation(request, 1, 10, "purge"))
    assert taken is not None
    assert (taken.target_id, taken.reason) == (20, "spam")
    again = await db.write_one(confirmations.take_confirmation(request, 1, 10, "purge"))
    assert again is None


async def test_requests_left_unpressed_are_forgotten_when_the_guild_asks_again(
    db: Database,
) -> None:
    old = utcnow() - confirmations.KEPT_FOR - timedelta(minutes=1)
    recent = utcnow() - confirmations.KEPT_FOR + timedelta(minutes=5)
    stale_here = await db.write_one(confirmations.add_confirmation(1, 10, "purge", 20, None))
    young_here = await db.write_one(confirmations.add_confirmation(1, 10, "purge", 21, None))
    stale_elsewhere = await db.write_one(confirmations.add_confirmation(2, 10, "purge", 20, None))
    async with db.write() as unit:
        for request, when in ((stale_here, old), (young_here, recent), (stale_elsewhere, old)):
            await unit.run(_backdate(request, when))

    asked, _count = await content.ask(db, 1, 10, "remove", target_id=22, reason=None)

    # The expired request of this guild went; a live one and another guild's stayed.
    assert await _ids(db) == [(1, young_here), (2, stale_elsewhere), (1, asked)]
