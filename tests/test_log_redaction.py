"""Log redaction: no token survives into a log line, whatever logged it and how.

Tokens are found by where they sit (the ``token`` field of a payload, the token segment of a
webhook or interaction URL), not by what they look like, so the properties below try tokens of
any shape from the token alphabet. Redaction happens when the line is formatted: the shared
record is left alone, so other handlers still get the exception.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.log import REDACTED, RedactingFormatter, setup_logging
from tools.sandbox_chat import _log_to

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
    text = RedactingFormatter(secrets=[BOT_TOKEN]).format(record)
    assert BOT_TOKEN not in text
    assert "unformattable arguments ('nope',)" in text
    assert record.args == ("nope",)


def test_the_formatter_leaves_the_record_as_it_was() -> None:
    try:
        raise RuntimeError(f"/webhooks/1/{WEBHOOK_TOKEN}")
    except RuntimeError as error:
        exc_info = (type(error), error, error.__traceback__)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "%s", (BOT_TOKEN,), exc_info)
    text = RedactingFormatter(secrets=[BOT_TOKEN]).format(record)
    assert BOT_TOKEN not in text
    assert WEBHOOK_TOKEN not in text
    assert (record.msg, record.args, record.exc_info) == ("%s", (BOT_TOKEN,), exc_info)


# --- Tokens found by position, whatever their shape -----------------------------------------

UNUSUAL_TOKEN = "Zm9vYmFyLWJheg.not-the-usual-prefix_0123456789"


def _gateway_event(token: str) -> dict[str, object]:
    return {
        "op": 0,
        "s": 7,
        "t": "INTERACTION_CREATE",
        "d": {"id": "11", "application_id": "22", "type": 2, "token": token, "version": 1},
    }


def _log_payload(token: str, where: str) -> None:
    event = _gateway_event(token)
    gateway = logging.getLogger("discord.gateway")
    if where == "dict repr":
        gateway.debug("For Shard ID %s: WebSocket Event: %s", 0, event)
    elif where == "json":
        gateway.debug("Received %s", json.dumps(event))
    elif where == "compact json":
        gateway.debug("Received %s", json.dumps(event, separators=(",", ":")))
    elif where == "repr of json":
        gateway.debug("Received %r", json.dumps(event))
    elif where == "json inside json":
        logging.getLogger("discord.http").debug("Body: %s", json.dumps({"raw": json.dumps(event)}))
    elif where == "webhook url":
        logging.getLogger("discord.webhook.async_").debug(
            "Webhook ID %s with %s %s has returned status code %s",
            22,
            "PATCH",
            f"https://discord.com/api/v10/webhooks/22/{token}/messages/@original?wait=1",
            200,
        )
    elif where == "callback url":
        logging.getLogger("discord.http").debug(
            "POST https://discord.com/api/v10/interactions/11/%s/callback?with_response=1 has "
            "returned 204",
            token,
        )
    elif where == "traceback":
        try:
            raise ValueError(f"bad event {event} from /interactions/11/{token}/callback")
        except ValueError:
            logging.getLogger("discord.client").exception("Ignoring exception in on_socket")
    else:
        raise AssertionError(where)


PLACES = [
    "dict repr",
    "json",
    "compact json",
    "repr of json",
    "json inside json",
    "webhook url",
    "callback url",
    "traceback",
]


@contextlib.contextmanager
def _captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = setup_logging(logging.DEBUG, secrets=[BOT_TOKEN], stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _logged(token: str, where: str) -> str:
    with _captured() as stream:
        _log_payload(token, where)
    return stream.getvalue()


@pytest.mark.parametrize("where", PLACES)
def test_a_token_without_the_usual_prefix_is_redacted(where: str) -> None:
    text = _logged(UNUSUAL_TOKEN, where)
    assert UNUSUAL_TOKEN not in text
    assert REDACTED in text
    if where == "traceback":
        assert "Traceback" in text
        assert "ValueError: bad event" in text


TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_.="


@settings(max_examples=300, deadline=None)
@given(
    token=st.text(alphabet=TOKEN_ALPHABET, min_size=16, max_size=200),
    where=st.sampled_from(PLACES),
)
def test_no_token_of_any_shape_reaches_the_debug_log(token: str, where: str) -> None:
    # A token that happens to spell part of the log line itself (a logger name) proves nothing.
    assume(token not in _logged("t", where))
    text = _logged(token, where)
    assert token not in text
    assert REDACTED in text


def test_other_fields_of_the_payload_stay_readable() -> None:
    text = _logged(UNUSUAL_TOKEN, "dict repr")
    assert "'token': '[redacted]'" in text
    assert "'t': 'INTERACTION_CREATE'" in text
    assert "'application_id': '22'" in text
    assert '"token": "[redacted]"' in _logged(UNUSUAL_TOKEN, "json")


# --- Other handlers and other formatters ----------------------------------------------------


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


def test_a_second_handler_still_gets_the_exception() -> None:
    second = _Keep()
    root = logging.getLogger()
    with _captured() as stream:
        root.addHandler(second)  # after the redacting handler, so it sees the record last
        try:
            _log_payload(UNUSUAL_TOKEN, "traceback")
        finally:
            root.removeHandler(second)
    assert UNUSUAL_TOKEN not in stream.getvalue()
    (record,) = second.records
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError
    assert "Traceback" in second.lines[0]
    assert "ValueError: bad event" in second.lines[0]


def test_redaction_survives_a_new_formatter() -> None:
    with _captured() as stream:
        handler = logging.getLogger().handlers[-1]
        handler.setFormatter(logging.Formatter("%(levelname)s|%(message)s"))
        logging.getLogger("discord.gateway").debug("%s", _gateway_event(UNUSUAL_TOKEN))
        handler.setFormatter(None)
        logging.getLogger("discord.gateway").debug("%s", _gateway_event(UNUSUAL_TOKEN))
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("DEBUG|{")
    assert UNUSUAL_TOKEN not in stream.getvalue()
    assert stream.getvalue().count(REDACTED) == 2


def test_the_sandbox_log_file_is_redacted_in_its_own_format(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.log"
    root = logging.getLogger()
    level = root.level
    try:
        with _log_to(path, logging.DEBUG, [BOT_TOKEN]):
            _log_payload(UNUSUAL_TOKEN, "dict repr")
            _log_payload(UNUSUAL_TOKEN, "traceback")
    finally:
        root.setLevel(level)
    text = path.read_text(encoding="utf-8")
    assert UNUSUAL_TOKEN not in text
    assert "Traceback" in text
    assert re.match(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[DEBUG   \] discord\.gateway: ", text)
    assert "\x1b[" not in text
