"""Bulletin's PostgreSQL advisory lock keys, in one place so that no two purposes share one.

Every lock here uses PostgreSQL's two-key form, ``(namespace, key)`` as two int4: one
namespace per purpose, spelled in ASCII so it shows what it is in ``pg_locks``. The two-key
space does not overlap the single-bigint space of the migration lock (``env.py``), as
PostgreSQL documents. All are transaction-scoped (``…_xact_lock``): the bot's pooled
connections keep no session state, and a lock dies with its transaction or its connection.
"""

from __future__ import annotations

import zlib

# "BLTS": the command sync of one application and scope.
SYNC_NAMESPACE = 0x424C5453
# "BLTI": the IDENTIFY pace of one gateway rate-limit bucket.
IDENTIFY_NAMESPACE = 0x424C5449

_INT4 = 2**31


def int4_key(text: str) -> int:
    """A stable signed 32-bit key for ``text`` (CRC-32; a rare collision only serialises two
    unrelated syncs, it never lets two of one through)."""
    value = zlib.crc32(text.encode())
    return value - 2**32 if value >= _INT4 else value
