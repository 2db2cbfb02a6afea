"""Message text as the Discord client shows it: mentions named, timestamps written out in the
reader's local time, markdown escapes removed. Plain strings; drawing them is ``render``'s job."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sandbox import World


@dataclass(frozen=True)
class Names:
    """Display names for ids, so ``<@id>`` reads ``@alice`` the way the client shows it."""

    users: Mapping[int, str] = field(default_factory=dict)
    roles: Mapping[int, str] = field(default_factory=dict)
    channels: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def from_world(cls, world: World) -> Names:
        """Every user, role and channel of every guild of the emulator's world."""
        users = {world.bot.id: world.bot.username}
        roles: dict[int, str] = {}
        channels: dict[int, str] = {}
        for guild in world.guilds:
            users.update({m.user.id: m.user.username for m in guild.members})
            roles.update({r.id: r.name.removeprefix("@") for r in guild.roles})
            channels.update({c.id: c.name for c in guild.channels})
        return cls(users, roles, channels)


_MENTION = re.compile(r"<(@!?|@&|#)(\d+)>")
_TIMESTAMP = re.compile(r"<t:(-?\d{1,13})(?::([tTdDfFR]))?>")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before ASCII punctuation


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def relative_time(moment: datetime, now: datetime) -> str:
    """``3 minutes ago`` / ``in 2 days``, as Discord shows ``<t:…:R>``."""
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 45:
        return "a few seconds ago" if seconds <= 0 else "in a few seconds"
    for limit, unit, span in (
        (3600, "minute", 60),
        (86400, "hour", 3600),
        (86400 * 30, "day", 86400),
        (86400 * 365, "month", 86400 * 30),
    ):
        if size < limit:
            amount = _plural(max(1, round(size / span)), unit)
            break
    else:
        amount = _plural(round(size / (86400 * 365)), "year")
    return f"{amount} ago" if seconds <= 0 else f"in {amount}"


def timestamp_text(seconds: int, style: str | None, now: datetime) -> str:
    """A Discord timestamp tag in the reader's local time, in the tag's style."""
    try:
        moment = datetime.fromtimestamp(seconds).astimezone()
    except (OverflowError, OSError, ValueError):
        return f"<t:{seconds}>"
    date = f"{moment.day} {moment:%B %Y}"
    return {
        "t": f"{moment:%H:%M}",
        "T": f"{moment:%H:%M:%S}",
        "d": f"{moment:%d/%m/%Y}",
        "D": date,
        "F": f"{moment:%A}, {date} {moment:%H:%M}",
        "R": relative_time(moment, now),
    }.get(style or "f", f"{date} {moment:%H:%M}")


def calendar_time(moment: datetime, now: datetime) -> str:
    """``today at 18:20`` / ``yesterday at 09:05`` / ``24/11/2026 18:20`` (an embed's timestamp)."""
    local, today = moment.astimezone(), now.astimezone()
    if local.date() == today.date():
        return f"today at {local:%H:%M}"
    if local.date() == (today - timedelta(days=1)).date():
        return f"yesterday at {local:%H:%M}"
    return f"{local:%d/%m/%Y %H:%M}"


def discord_text(text: str, names: Names, now: datetime | None = None) -> str:
    """Message or embed text as the client shows it: mentions named, timestamps written out,
    markdown escapes removed (the chat draws no markdown, so ``\\*`` is just ``*``)."""
    moment = now or datetime.now().astimezone()

    def mention(found: re.Match[str]) -> str:
        kind, ref = found[1], int(found[2])
        if kind == "#":
            return f"#{names.channels.get(ref, 'unknown-channel')}"
        if kind == "@&":
            return f"@{names.roles.get(ref, 'unknown-role')}"
        return f"@{names.users.get(ref, 'unknown-user')}"

    text = _MENTION.sub(mention, text)
    text = _TIMESTAMP.sub(lambda m: timestamp_text(int(m[1]), m[2], moment), text)
    return _ESCAPE.sub(r"\1", text)
