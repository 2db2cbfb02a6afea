"""`python -m sandbox.server` runs the emulator as its own process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


async def test_standalone_server_prints_its_urls(http: aiohttp.ClientSession) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.server",
        "--port",
        "0",
        "--token",
        "standalone-token",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        lines = [
            (await asyncio.wait_for(process.stdout.readline(), 10)).decode().split()
            for _ in range(4)
        ]
        printed = {line[0]: line[1] for line in lines}
        assert printed["token"] == "standalone-token"
        assert printed["gateway"].startswith("ws://127.0.0.1:")
        headers = {"Authorization": "Bot standalone-token"}
        async with http.get(printed["api"] + "/users/@me", headers=headers) as response:
            assert response.status == 200
            assert (await response.json())["username"] == "Bulletin"
    finally:
        process.terminate()
        await process.wait()
