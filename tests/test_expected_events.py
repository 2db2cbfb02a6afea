"""The bans and unbans the bot expects to hear back about: each consumed once, never forever."""

from __future__ import annotations

from bot.db.models import CaseKind
from bot.moderation import ExpectedEvents


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_expected_event_is_consumed_once_for_its_guild_member_and_kind() -> None:
    events = ExpectedEvents(expect_for=60, clock=Clock())
    events.expect(1, 7, CaseKind.BAN)
    assert not events.consume(2, 7, CaseKind.BAN)
    assert not events.consume(1, 8, CaseKind.BAN)
    assert not events.consume(1, 7, CaseKind.UNBAN)
    assert events.consume(1, 7, CaseKind.BAN)
    assert not events.consume(1, 7, CaseKind.BAN)
    assert len(events) == 0


def test_an_event_that_never_came_does_not_swallow_a_later_ban_by_hand() -> None:
    clock = Clock()
    events = ExpectedEvents(expect_for=60, clock=clock)
    events.expect(1, 7, CaseKind.BAN)  # the gateway dropped the event
    clock.now += 61
    # A moderator bans the member in Discord's own menu: that one needs a case.
    assert not events.consume(1, 7, CaseKind.BAN)
    assert len(events) == 0


def test_forgetting_a_failed_call_leaves_the_other_expectations() -> None:
    events = ExpectedEvents(expect_for=60, clock=Clock())
    events.expect(1, 7, CaseKind.BAN)
    events.expect(1, 7, CaseKind.BAN)
    events.forget(1, 7, CaseKind.BAN)
    assert events.consume(1, 7, CaseKind.BAN)
    assert not events.consume(1, 7, CaseKind.BAN)


def test_lapsed_expectations_of_many_members_do_not_pile_up() -> None:
    clock = Clock()
    events = ExpectedEvents(expect_for=60, clock=clock)
    held = []
    for member in range(5000):  # one ban a second, and none of their events ever arrives
        events.expect(1, member, CaseKind.BAN)
        held.append(len(events))
        clock.now += 1
    # Swept once 256 members are pending: never more than that, not the 5,000 expected.
    assert max(held) <= 256
