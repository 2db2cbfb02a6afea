"""The data layer: engine and units of work, models, CRUD operations and migrations.

It never imports ``discord``: it speaks in guild and member ids and raises the domain errors
of ``bot.errors``, and the Discord-facing code above it turns those into replies.
"""

from bot.db.database import Database
from bot.db.models import Base, CommandSync, Post, User

__all__ = ["Base", "CommandSync", "Database", "Post", "User"]
