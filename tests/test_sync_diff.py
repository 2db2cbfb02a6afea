"""Command sync bookkeeping: the fingerprint and the diff the ``sync`` command prints."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands

from bot.db import Database
from bot.db.command_syncs import GLOBAL_SCOPE, get_synced_fingerprint, record_sync
from bot.services import command_sync
from bot.sync import diff_commands, fingerprint, local_payload


def _tree(
    with_extra: bool = False, description: str = "Say hello"
) -> app_commands.CommandTree[Any]:
    client = discord.Client(intents=discord.Intents.none())
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)

    @tree.command(name="hello", description=description)
    @app_commands.describe(name="Who to greet")
    async def hello(interaction: discord.Interaction[Any], name: str) -> None:
        del interaction, name

    @tree.command(name="age", description="Set an age")
    async def age(
        interaction: discord.Interaction[Any], years: app_commands.Range[int, 13, 120]
    ) -> None:
        del interaction, years

    if with_extra:

        @tree.command(name="extra", description="Only sometimes")
        async def extra(interaction: discord.Interaction[Any]) -> None:
            del interaction

    return tree


def _as_discord_returns(payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Discord answers: our payload plus ids, versions and omitted defaults."""
    echoed = []
    for i, command in enumerate(payload):
        copy = {k: v for k, v in command.items() if v not in (False, None, [])}
        copy.update(id=str(1000 + i), application_id="42", version="7", dm_permission=True)
        echoed.append(copy)
    return echoed


def test_fingerprint_ignores_order_and_discords_additions() -> None:
    payload = local_payload(_tree())
    assert fingerprint(payload) == fingerprint(list(reversed(payload)))
    assert fingerprint(payload) == fingerprint(_as_discord_returns(payload))
    assert fingerprint(payload) != fingerprint(local_payload(_tree(description="Say hi")))
    assert fingerprint(payload) != fingerprint(local_payload(_tree(with_extra=True)))


def test_diff_names_added_removed_and_changed() -> None:
    remote = _as_discord_returns(local_payload(_tree(with_extra=True)))
    local = local_payload(_tree(description="Say hi"))
    diff = diff_commands(local, remote)
    assert (diff.added, diff.removed, diff.changed, diff.unchanged) == (
        [],
        ["/extra"],
        ["/hello"],
        ["/age"],
    )
    text = diff.describe("Global commands")
    assert "- remove  /extra" in text
    assert "~ change  /hello" in text
    assert "1 unchanged" in text
    fresh = diff_commands(local, [])
    assert fresh.added == ["/age", "/hello"]
    same = diff_commands(local, _as_discord_returns(local))
    assert same.is_empty
    assert "nothing to change" in same.describe("Global commands")


async def test_sync_record_round_trip(db: Database) -> None:
    assert await command_sync.recorded(db, 42, GLOBAL_SCOPE) is None
    await command_sync.record(db, 42, GLOBAL_SCOPE, "a" * 64)
    await command_sync.record(db, 42, GLOBAL_SCOPE, "b" * 64)  # an upsert, not a duplicate key
    await command_sync.record(db, 42, 99, "c" * 64)
    assert await command_sync.recorded(db, 42, GLOBAL_SCOPE) == "b" * 64
    assert await command_sync.recorded(db, 42, 99) == "c" * 64
    assert await command_sync.recorded(db, 43, GLOBAL_SCOPE) is None
    assert await db.read_one(get_synced_fingerprint(42, 99)) == "c" * 64


async def test_concurrent_records_of_one_scope_all_succeed(db: Database) -> None:
    """Several shard processes may record the same scope at once: the upsert takes them all."""
    outcomes = await asyncio.gather(
        *(db.write_one(record_sync(42, GLOBAL_SCOPE, f"{i:064d}")) for i in range(20)),
        return_exceptions=True,
    )
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert await command_sync.recorded(db, 42, GLOBAL_SCOPE) in {f"{i:064d}" for i in range(20)}
