"""Programs that stand on both the bot and the emulator, so that neither has to know the other.

``tools.sandbox_chat`` runs the real bot against ``sandbox/`` in a terminal chat
(``python -m bot sandbox``). The dependencies point one way, into this package: nothing in
``bot/`` or ``cogs/`` imports ``sandbox``, ``sandbox/`` imports neither ``bot`` nor ``tools``,
and ``bot/cli.py`` imports ``tools.sandbox_chat`` only inside its ``sandbox`` branch, so the
bot's runtime never loads the emulator (``tests/test_layers.py`` checks all three).
"""
