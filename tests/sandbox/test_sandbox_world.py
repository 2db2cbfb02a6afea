"""The default world: realistic ids, shard placement, computed permissions, token shapes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from sandbox import INTERACTION_TOKEN_PREFIX, Permission, default_world, shard_for
from sandbox.permissions import ALL_PERMISSIONS
from sandbox.snowflakes import SnowflakeFactory, interaction_token, snowflake_time


def test_guilds_land_on_different_shards() -> None:
    world = default_world()
    alpha, beta = world.guild("alpha"), world.guild("beta")
    assert shard_for(alpha.id, 2) != shard_for(beta.id, 2)
    assert shard_for(alpha.id, 1) == shard_for(beta.id, 1) == 0
    assert snowflake_time(alpha.id).year == 2021
    assert alpha.everyone.id == alpha.id
    assert default_world().guild("alpha").id == alpha.id  # stable across runs


def test_members_and_permissions() -> None:
    world = default_world(token="fixed")
    assert world.token == "fixed"
    alpha = world.guild("alpha")
    general, mod_log = alpha.channel("general"), alpha.channel("#mod-log")
    assert alpha.guild_permissions(alpha.member("owner")) == ALL_PERMISSIONS
    assert alpha.guild_permissions(alpha.member("admin")) == ALL_PERMISSIONS
    moderator = alpha.guild_permissions(alpha.member("moderator"))
    for flag in (
        Permission.KICK_MEMBERS,
        Permission.BAN_MEMBERS,
        Permission.MODERATE_MEMBERS,
        Permission.MANAGE_MESSAGES,
    ):
        assert moderator & flag
    alice = alpha.member("alice")
    assert not alpha.guild_permissions(alice) & Permission.BAN_MEMBERS
    assert alpha.permissions_in(alice, general) & Permission.SEND_MESSAGES
    assert not alpha.permissions_in(alice, mod_log) & Permission.VIEW_CHANNEL
    assert alpha.permissions_in(alpha.member("moderator"), mod_log) & Permission.VIEW_CHANNEL
    assert alpha.permissions_in(world.bot_member(alpha), mod_log) & Permission.VIEW_CHANNEL
    assert alpha.top_role(alpha.member("admin")).name == "Admin"
    assert (
        alpha.top_role(world.bot_member(alpha)).position
        > alpha.top_role(alpha.member("moderator")).position
    )

    alice.communication_disabled_until = datetime.now(UTC) + timedelta(minutes=5)
    assert not alpha.permissions_in(alice, general) & Permission.SEND_MESSAGES
    assert alpha.permissions_in(alice, general) & Permission.VIEW_CHANNEL


def test_same_person_same_id_in_both_guilds() -> None:
    world = default_world()
    assert world.guild("alpha").member("alice").id == world.guild("beta").member("alice").id
    assert world.guild("beta").find_member("bob") is None
    assert world.user("erin").username == "erin"


def test_snowflakes_increase_and_tokens_have_discords_shape() -> None:
    factory = SnowflakeFactory()
    ids = [factory.next() for _ in range(5000)]
    assert ids == sorted(set(ids))
    token = interaction_token(ids[0])
    assert token.startswith(INTERACTION_TOKEN_PREFIX)
    assert "/" not in token
    assert "=" not in token
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    assert decoded.startswith(f"interaction:{ids[0]}:")
