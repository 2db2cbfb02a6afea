"""Services: what each command does, as units of work over the data layer.

A service opens one unit of work (``db.read_one``/``db.write_one`` for a single statement,
``db.read()``/``db.write()`` for several), runs queries from ``bot.db`` in it, applies the
rules that are not the database's to decide, and returns typed results. It knows members and
guilds by id and never imports ``discord`` (a test checks it); the cogs above turn its
results into replies.
"""
