"""Bulletin: a Discord community bot where members keep a profile and publish posts.

The package is layered one way: the Discord-facing code (``bot.client``, ``bot.reporting``,
``bot.ui``, ``cogs/``) calls the data layer (``bot.db``), which never imports ``discord``.
"""

__version__ = "0.1.0"
