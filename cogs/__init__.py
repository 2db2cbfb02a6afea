"""The bot's extensions: each module here is a discord.py extension with a ``setup`` function.

``bot.client.Bulletin.setup_hook`` loads every module of this package, so adding a feature is
adding a module.
"""
