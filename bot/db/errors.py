"""Database failures in the data layer's own terms, whichever driver raised them.

The drivers report the same event differently (``sqlite3.IntegrityError`` with an extended
result code, an ``asyncpg`` exception class per SQLSTATE); ``Database`` turns them into these
classes by code, never by the text of a message, and keeps the driver's error as the cause.
"""

from __future__ import annotations


class DatabaseError(Exception):
    """The database refused or failed a statement."""


class UniqueViolation(DatabaseError):
    """A unique or primary-key constraint refused a row."""


class ForeignKeyViolation(DatabaseError):
    """A foreign key refused a row: what it points at does not exist (any more)."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached, or the connection to it was lost."""


class WriteOutcomeUnknown(DatabaseUnavailable):
    """A write (or its COMMIT) may have reached the database, but no answer came in time.

    The connection is dropped, so nothing more happens on it; what was sent may still
    commit on a server that was slow or behind a stalled network. A reply must not say the
    change failed, only that it is unconfirmed.
    """
