"""The data layer: connections and units of work, models, queries and migrations.

It never imports ``discord``: it speaks in guild and member ids and raises the domain errors
of ``bot.errors``, and the layers above turn those into replies.
"""

from bot.db.database import DEFAULT_DEADLINE_SECONDS, Database, Unit, deadline_in
from bot.db.models import Base, CommandSync, IdentifyBucket, Post, User

__all__ = [
    "DEFAULT_DEADLINE_SECONDS",
    "Base",
    "CommandSync",
    "Database",
    "IdentifyBucket",
    "Post",
    "Unit",
    "User",
    "deadline_in",
]
