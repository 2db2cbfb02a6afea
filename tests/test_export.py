"""A member's copy of their data (``/mydata``): whole, and a file Discord will take."""

from __future__ import annotations

import gzip
import json
import random
import string
from typing import Any

import pytest

from bot.db import Database
from bot.db import users as user_queries
from bot.services import content
from tests.support import add_posts

GUILD = 7
MEMBER = 42


def _words(rng: random.Random, vocabulary: list[str], count: int) -> str:
    return " ".join(rng.choice(vocabulary) for _ in range(count))


async def _member_with_posts(db: Database, count: int, *, words: int = 45) -> None:
    """A member and ``count`` posts of varied text: a title of 6 words, a body of ``words``
    (about 300 characters), drawn from 3,000 made-up words as a community's posts would be."""
    user = await db.write_one(user_queries.add_user(GUILD, MEMBER, "Ann", 30))
    rng = random.Random(1)  # noqa: S311 - made-up text, not a secret
    vocabulary = [
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 10)))
        for _ in range(3000)
    ]
    rows = [
        {
            "user_id": user.id,
            "guild_id": GUILD,
            "title": _words(rng, vocabulary, 6)[:256],
            "body": _words(rng, vocabulary, words)[:4000],
        }
        for _ in range(count)
    ]
    await add_posts(db, rows)


def _documents(files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    return [
        json.loads(gzip.decompress(data) if name.endswith(".gz") else data) for name, data in files
    ]


async def test_a_member_with_100000_posts_gets_files_discord_takes(db: Database) -> None:
    """About 40 MB of JSON, 15 MB compressed: split into parts that each fit one message."""
    await _member_with_posts(db, 100_000)
    files = await content.export(db, GUILD, MEMBER)
    assert 2 <= len(files) <= content.EXPORT_PARTS_MAX
    assert all(len(data) <= content.ATTACHMENT_LIMIT for _, data in files)
    documents = _documents(files)
    count = len(files)
    assert [name for name, _ in files] == [
        f"bulletin-data-part-{n}-of-{count}.json.gz" for n in range(1, count + 1)
    ]
    assert [(d["part"], d["parts"]) for d in documents] == [(n, count) for n in range(1, count + 1)]
    ids = [p["id"] for d in documents for p in d["posts"]]
    assert len(ids) == len(set(ids)) == 100_000
    assert ids == sorted(ids)  # oldest first, across the parts in order
    for document in documents:
        assert document["format_version"] == content.EXPORT_FORMAT_VERSION
        assert document["profile"]["post_count"] == 100_000


async def test_a_small_export_is_one_plain_file(db: Database) -> None:
    await _member_with_posts(db, 3)
    [(name, data)] = await content.export(db, GUILD, MEMBER)
    assert name == "bulletin-data.json"
    assert "part" not in json.loads(data)


async def test_an_export_that_cannot_fit_even_split_is_refused_with_a_reason(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _member_with_posts(db, 50)
    monkeypatch.setattr(content, "ATTACHMENT_LIMIT", 300)  # less than one post compressed
    with pytest.raises(content.ExportTooLarge) as refused:
        await content.export(db, GUILD, MEMBER)
    assert "larger than the files Discord lets a bot attach" in refused.value.user_message
