"""The redaction filter: no token survives into a log line, whatever logged it and how."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator

import pytest

from bot.log import REDACTED, RedactingFilter, setup_logging

BOT_TOKEN = "fake-bot-token-for-tests.not-real.abcdefghijklmnopqrstuvwxyz0123456789"
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246" + base64.urlsafe_b64encode(
    b":1234567890123456789:" + b"x" * 90
).decode().rstrip("=")
WEBHOOK_TOKEN = "Zx9_wQ-abc123DEF456ghi789JKL012mno345PQR678stu901VWX234yz_-AbCdEf"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    handler = setup_logging(logging.DEBUG, secrets=[BOT_TOKEN, None], stream=stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(before[0])
    assert root.handlers == before[1]


def _text(stream: io.StringIO) -> str:
    return stream.getvalue()


def test_bot_token_is_removed_from_messages_and_arguments(output: io.StringIO) -> None:
    log = logging.getLogger("discord.http")
    log.info("token %s in an argument", BOT_TOKEN)
    log.info(f"token {BOT_TOKEN} in the message itself")
    text = _text(output)
    assert BOT_TOKEN not in text
    assert text.count(REDACTED) == 2


def test_interaction_tokens_in_webhook_and_callback_urls(output: io.StringIO) -> None:
    log = logging.getLogger("discord.webhook.async_")
    log.debug(
        "Webhook ID %s with %s %s has returned status code %s",
        123,
        "POST",
        f"https://discord.com/api/v10/webhooks/987654321/{INTERACTION_TOKEN}?wait=1",
        200,
    )
    logging.getLogger("discord.http").debug(
        "POST http://127.0.0.1:8080/api/v10/interactions/1234/%s/callback?with_response=1",
        INTERACTION_TOKEN,
    )
    logging.getLogger("discord.webhook").debug(
        "PATCH /api/v10/webhooks/55/%s/messages/@original", WEBHOOK_TOKEN
    )
    text = _text(output)
    assert INTERACTION_TOKEN not in text
    assert WEBHOOK_TOKEN not in text
    assert "aW50ZXJhY3Rpb246" not in text
    assert f"/webhooks/987654321/{REDACTED}?wait=1" in text
    assert f"/interactions/1234/{REDACTED}/callback" in text
    assert f"/webhooks/55/{REDACTED}/messages/@original" in text


def test_interaction_token_inside_a_logged_gateway_event(output: io.StringIO) -> None:
    event = {
        "op": 0,
        "t": "INTERACTION_CREATE",
        "d": {"id": "1", "token": INTERACTION_TOKEN, "data": {"name": "register"}},
    }
    logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", 0, event)
    text = _text(output)
    assert INTERACTION_TOKEN not in text
    assert "INTERACTION_CREATE" in text
    assert "register" in text


def test_tracebacks_are_redacted_too(output: io.StringIO) -> None:
    try:
        raise RuntimeError(f"failed calling /webhooks/1/{INTERACTION_TOKEN} with {BOT_TOKEN}")
    except RuntimeError:
        logging.getLogger("bot.reporting").exception("boom")
    text = _text(output)
    assert "RuntimeError" in text
    assert "Traceback" in text
    assert INTERACTION_TOKEN not in text
    assert BOT_TOKEN not in text


def test_child_logger_records_pass_through_the_handler_filter(output: io.StringIO) -> None:
    logging.getLogger("some.deep.child.logger").warning("leak %s", BOT_TOKEN)
    assert BOT_TOKEN not in _text(output)
    assert "leak" in _text(output)


def test_unformattable_records_are_still_written_and_redacted() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d " + BOT_TOKEN, ("nope",), None)
    assert RedactingFilter([BOT_TOKEN]).filter(record)
    assert BOT_TOKEN not in record.getMessage()
    assert record.args is None
