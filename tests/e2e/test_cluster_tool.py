"""``make cluster`` (``python -m tools.cluster``) as a user runs it: the emulator, a database
and the shard processes started, a script run across the shards, everything stopped on Ctrl-C;
and one line, with nothing started, when no PostgreSQL server answers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest

from tests.conftest import empty_postgres

ROOT = Path(__file__).resolve().parents[2]


def _environment(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "SHARD_", "TEST_PG_", "TEST_DATABASE"))
        and k not in ("DATABASE_URL", "DEV_GUILD_ID")
    }
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


async def _cluster(
    *args: str, env: dict[str, str], stdin: bytes | None = None, sigint_ignored: bool = False
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tools.cluster",
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # As a shell starts a job in the background (`make cluster &`, a CI step): SIGINT
        # ignored, which a Python program inherits and keeps unless it says otherwise.
        preexec_fn=_ignore_sigint if sigint_ignored else None,
    )


def _pids(out: str) -> list[int]:
    return [int(n) for n in re.findall(r": pid (\d+),", out)]


def _logs(data: Path, lines: int = 15) -> str:
    """The last lines of every log the cluster wrote."""
    parts = []
    for log in sorted(data.rglob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"== {log.name}\n" + "\n".join(tail))
    return "\n".join(parts)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_without_a_postgresql_server_it_says_so_in_one_line(tmp_path: Path) -> None:
    env = _environment(TEST_PG_PORT=str(_closed_port()))
    process = await _cluster("--serve", "--data", str(tmp_path), env=env)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, err.decode()
    assert lines[0].startswith("make cluster: no PostgreSQL server answers at 127.0.0.1:")
    assert "pid" not in out.decode()  # nothing was started


async def test_a_script_runs_across_both_shard_processes(tmp_path: Path, postgres_url: str) -> None:
    await empty_postgres(postgres_url)
    env = _environment(TEST_DATABASE_URL=postgres_url)
    script = b"/about\n:guild beta\n/about\n/register name:Bea age:22\n"
    process = await _cluster("--script", "-", "--data", str(tmp_path), env=env, stdin=script)
    out_bytes, err = await asyncio.wait_for(process.communicate(script), timeout=120)
    out = out_bytes.decode()
    assert process.returncode == 0, out + err.decode()
    assert "1 of 2" in out
    assert "2 of 2" in out
    assert "Ran 4 lines: all worked." in out
    assert "process 1 (shard 0): stopped (exit 0)" in out
    assert "process 2 (shard 1): stopped (exit 0)" in out
    for shard in (0, 1):
        assert f"log {tmp_path / f'shard-{shard}.log'}" in out
        assert f"Running shard(s) [{shard}] of 2" in (tmp_path / f"shard-{shard}.log").read_text()
    pids = _pids(out)
    assert len(pids) == 2
    assert not any(_alive(pid) for pid in pids)


@pytest.mark.parametrize("sigint_ignored", [False, True])
async def test_ctrl_c_stops_every_process(
    tmp_path: Path, postgres_url: str, sigint_ignored: bool
) -> None:
    """Found by two full runs started in the background: the tool inherited SIGINT ignored,
    and Ctrl-C (here SIGINT from the test) did nothing."""
    await empty_postgres(postgres_url)
    env = _environment(TEST_DATABASE_URL=postgres_url)
    process = await _cluster(
        "--serve", "--data", str(tmp_path), env=env, sigint_ignored=sigint_ignored
    )
    assert process.stdout is not None
    seen: list[str] = []
    async with asyncio.timeout(90):
        while not seen or "Serving" not in seen[-1]:
            line = await process.stdout.readline()
            assert line, "".join(seen)
            seen.append(line.decode())
    pids = _pids("".join(seen))
    assert len(pids) == 2
    assert all(_alive(pid) for pid in pids)
    process.send_signal(signal.SIGINT)
    try:
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        # Seen twice in full runs, never alone: keep every thread's stack and the logs.
        process.send_signal(signal.SIGUSR1)
        await asyncio.sleep(1)
        process.kill()
        rest, errors = await process.communicate()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError(
            f"Ctrl-C did not stop the cluster\n{''.join(seen)}{rest.decode()}\n"
            f"{errors.decode()}\n{_logs(tmp_path)}"
        ) from None
    out = "".join(seen) + rest.decode()
    assert process.returncode == 0, out
    assert "process 1 (shard 0): stopped (exit 0)" in out
    assert "process 2 (shard 1): stopped (exit 0)" in out
    assert not any(_alive(pid) for pid in pids)
