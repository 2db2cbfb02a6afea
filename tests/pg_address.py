"""Where the test suite looks for a PostgreSQL server: the one default and what moves it.

``127.0.0.1:5432`` unless ``TEST_PG_HOST`` or ``TEST_PG_PORT`` say otherwise (``make test
PG_HOST=… PG_PORT=…`` sets them). ``tests/conftest.py`` connects there; ``.ci/run`` asks this
file (``python3 tests/pg_address.py`` prints ``host port``) which server to start and wait
for. Standard library only, so any Python can run it before ``.venv`` exists.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5432


class AddressError(ValueError):
    """TEST_PG_HOST or TEST_PG_PORT holds something that is no address."""


def pg_address(env: Mapping[str, str] = os.environ) -> tuple[str, int]:
    """The host and port of the test PostgreSQL server; AddressError for a malformed port."""
    host = env.get("TEST_PG_HOST", "").strip() or DEFAULT_HOST
    raw = env.get("TEST_PG_PORT", "").strip()
    if not raw:
        return host, DEFAULT_PORT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5 and 0 < int(raw) < 65536):
        raise AddressError(f"TEST_PG_PORT must be a port number from 1 to 65535, not {raw[:20]!r}")
    return host, int(raw)


if __name__ == "__main__":
    try:
        found_host, found_port = pg_address()
    except AddressError as error:
        sys.exit(str(error))
    sys.stdout.write(f"{found_host} {found_port}\n")
