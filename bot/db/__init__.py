"""The data layer: connections and units of work, models, queries and migrations.

It never imports ``discord``: it speaks in guild and member ids and raises the domain errors
of ``bot.errors``, and the layers above turn those into replies.
"""

from bot.db.database import Database, Unit
from bot.db.models import Base, CommandSync, Post, User

__all__ = ["Base", "CommandSync", "Database", "Post", "Unit", "User"]
