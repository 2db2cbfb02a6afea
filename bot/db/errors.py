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
