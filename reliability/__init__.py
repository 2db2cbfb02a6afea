"""``make reliability``: the bot tried as a hostile member and a bad day in production would.

Hostile input to every command, real database faults, ``kill -9`` under write load, and
latency with many members at once, on SQLite and on PostgreSQL, printed as one table
(``python -m reliability``; ``reliability.cli``). ``tests/test_reliability.py`` runs a small
size of it in the test suite. The bot never imports this package; the tests do
(``reliability.faults``, ``reliability.values``).
"""
