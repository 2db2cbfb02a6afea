"""How the harness reads what members saw: a refusal, the outage message, an internal error.

These are the bot's own member-facing sentences (``bot/reporting.py``), matched as a member
would read them, never the bot's internals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sandbox import Message, Reply

# bot.reporting.error_embed's title: an expected refusal, as opposed to an answer.
REFUSED_TITLE = "That didn't work"
UNAVAILABLE = "temporarily unavailable"
# A write that may have reached the database before it stopped answering: not a failure.
UNCONFIRMED = "may still have been saved"
_ERROR_ID = re.compile(r"error id `([0-9a-f]+)`")
_POST_TITLE = re.compile(r"^#(\d+) · ")


def is_refusal(reply: Reply) -> bool:
    return reply.ephemeral and any(e.get("title") == REFUSED_TITLE for e in reply.embeds)


def says_unavailable(reply: Reply) -> bool:
    return reply.ephemeral and UNAVAILABLE in reply.text


def says_unconfirmed(reply: Reply) -> bool:
    return says_unavailable(reply) and UNCONFIRMED in reply.text


def error_id(text: str) -> str | None:
    """The error id an internal error showed, if the text is one."""
    found = _ERROR_ID.search(text)
    return None if found is None else found[1]


def message_text(message: Message) -> str:
    parts = [message.content]
    for embed in message.embeds:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [str(f.get("value") or "") for f in embed.get("fields") or []]
    return "\n".join(parts)


def shown_error_ids(messages: Iterable[Message]) -> set[str]:
    """Every error id the bot showed in these messages (any version of them)."""
    found: set[str] = set()
    for message in messages:
        shown = error_id(message_text(message))
        if shown is not None:
            found.add(shown)
    return found


def published_post_id(reply: Reply) -> int | None:
    """The post's id when the reply is /post's public confirmation, else None."""
    if reply.ephemeral or not reply.embeds:
        return None
    found = _POST_TITLE.match(str(reply.embeds[0].get("title") or ""))
    return None if found is None else int(found[1])


def internal_errors(shown: set[str], logged: list[str]) -> int:
    """Distinct internal errors: each logged problem, and each id shown that no log line has
    (every id shown is logged once, with its traceback, when all is well)."""
    unlogged = [i for i in shown if not any(i in line for line in logged)]
    return len(logged) + len(unlogged)
