"""Where the suite looks for PostgreSQL: one default (``tests/pg_address.py``), moved by
``TEST_PG_HOST``/``TEST_PG_PORT``, which ``make test PG_HOST=… PG_PORT=…`` sets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg_address import DEFAULT_PORT, AddressError, pg_address

ROOT = Path(__file__).resolve().parent.parent


def _environment(**changes: str) -> dict[str, str]:
    unrelated = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("CI", "TEST_DATABASE_URL", "TEST_PG_HOST", "TEST_PG_PORT", "PG_HOST", "PG_PORT")
        and not k.startswith(("PYTEST_", "MAKE"))
    }
    return unrelated | changes


def test_the_suite_looks_where_the_variables_say() -> None:
    # Bound but not listening: a connection there is refused at once.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_about.py"],
            cwd=ROOT,
            env=_environment(TEST_PG_HOST="localhost", TEST_PG_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no PostgreSQL server at localhost:{port}" in result.stdout


def test_one_default_moved_by_each_variable() -> None:
    assert pg_address({}) == ("127.0.0.1", 5432)
    assert pg_address({"TEST_PG_PORT": "5433"}) == ("127.0.0.1", 5433)
    assert pg_address({"TEST_PG_HOST": "db", "TEST_PG_PORT": " "}) == ("db", 5432)


@pytest.mark.parametrize("port", ["0", "65536", "²", "54 32", "9" * 5000, "pg"])
def test_a_port_that_is_no_port_is_refused(port: str) -> None:
    with pytest.raises(AddressError, match="TEST_PG_PORT"):
        pg_address({"TEST_PG_PORT": port})


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_passes_its_variables_on_and_keeps_no_default_of_its_own() -> None:
    def dry_run(*variables: str) -> str:
        return subprocess.run(
            ["make", "--dry-run", "--no-print-directory", "test", *variables],
            cwd=ROOT,
            env=_environment(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert "TEST_PG_HOST=db TEST_PG_PORT=5433 .venv/bin/pytest" in dry_run(
        "PG_HOST=db", "PG_PORT=5433"
    )
    assert "TEST_PG_PORT=5433 .venv/bin/pytest" in dry_run("PG_PORT=5433")
    plain = dry_run()
    assert "TEST_PG_" not in plain
    assert str(DEFAULT_PORT) not in plain
