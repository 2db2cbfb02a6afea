"""What ``make reliability`` is built from, and what the tests share with it: real faults
between the bot and its database (``reliability.faults``) and hostile input values
(``reliability.values``). The bot never imports this package.
"""
