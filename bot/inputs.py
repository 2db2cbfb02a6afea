"""The one step every slash command's and autocomplete's input passes before any work.

Discord's client sends only what a command declares, but a forged client can send anything
Discord passes on, and discord.py trusts it: a USER option that is not a snowflake makes its
``Namespace`` call ``int()`` in a task nobody awaits (the member gets no answer at all), a
string where an integer is declared reaches the command, and a focused option without
autocomplete, or no focused option, fails inside discord.py with nothing sent. Text may hold
NUL, which PostgreSQL refuses in text, or half of a surrogate pair, which no UTF-8 encoder
takes (``json.loads`` joins proper pairs, so any surrogate left is a lone one).

``admit`` runs as the command tree's ``interaction_check``, before discord.py reads a single
option, and checks the options against what the command declares: each one a JSON object
with a declared name, the declared type and one value of the JSON type Discord sends for it
(snowflakes through ``bot.parsing``), a number within the range it declares, every string free
of NUL and lone surrogates. A command with bad input gets an ephemeral refusal naming the
option; an autocomplete request gets an empty list, at once. Discord enforces declared ranges,
so a number outside one comes from a forged client (and may not fit the column: a case number
past 2^31 made PostgreSQL fail the statement); the same holds for text longer or shorter than
its declared length (a 1,001-character reason failed PostgreSQL's varchar(1000)). Lengths
within what Discord allows are left to the data layer's rules, which explain them better. A
user, channel, role, mentionable or attachment must be one Discord resolved in the payload:
for an id it did not, discord.py hands the command a bare ``discord.Object``, with no name or
mention to show.

A whole number typed as text (``/deletepost``'s post) is an option of type string annotated
with ``NumberText``: a transformer that parses it with a parser built on ``bot.parsing``, so
the command receives an ``int`` or the member the parser's explanation.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands

from bot.errors import InvalidInput
from bot.parsing import NumberError, parse_snowflake
from bot.reporting import error_embed, explain, send_private

log = logging.getLogger(__name__)

# Discord's option types (ApplicationCommandOptionType).
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
NUMBER = 10
SNOWFLAKE_TYPES = frozenset({6, 7, 8, 9, 11})  # user, channel, role, mentionable, attachment
# Discord's INTEGER and NUMBER options lie between -2^53 and 2^53.
NUMBER_LIMIT = 2**53

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class RefusedInput(InvalidInput, app_commands.AppCommandError):
    """Input refused with a sentence for the member.

    An ``AppCommandError``, so discord.py hands it from a transformer to the tree's error
    handler as it is, and a ``BulletinError``, so that handler shows its sentence.
    """


class _Refusal(Exception):
    """Why the input is refused: ``sentence`` for a command, an empty list for autocomplete."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def _invalid(name: str) -> _Refusal:
    # Only declared names reach here: they are ours, safe to show as they are.
    return _Refusal(f"That is not a valid value for `{name}`.")


def text_problem(name: str, text: str) -> str | None:
    """Why ``text`` cannot be taken for option ``name`` at all, or None."""
    if "\x00" in text:
        return f"`{name}` cannot contain control characters such as NUL."
    if _LONE_SURROGATE.search(text):
        return (
            f"`{name}` contains a broken character (half of a surrogate pair, an unpaired "
            f"surrogate). Type it again without it."
        )
    return None


def _is_integer(value: object) -> bool:
    # JSON true is no number, whatever Python says.
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= NUMBER_LIMIT


def _is_number(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) <= NUMBER_LIMIT
    return _is_integer(value)


def _is_snowflake(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_snowflake(value)
    except NumberError:
        return False
    return True


# What Discord sends as the value of each option type.
_JSON_TYPES: dict[int, Callable[[object], bool]] = {
    STRING: lambda value: isinstance(value, str),
    BOOLEAN: lambda value: isinstance(value, bool),
    INTEGER: _is_integer,
    NUMBER: _is_number,
    **dict.fromkeys(SNOWFLAKE_TYPES, _is_snowflake),
}


def _has_json_type(kind: int, value: object) -> bool:
    check = _JSON_TYPES.get(kind)
    return check is not None and check(value)


def _within(parameter: app_commands.Parameter, value: object) -> bool:
    """Whether a number lies in the range the option declares (Discord enforces it, so only
    a forged client sends one outside; past it the value may not even fit the column)."""
    if parameter.type.value not in (INTEGER, NUMBER) or not isinstance(value, int | float):
        return True
    low, high = parameter.min_value, parameter.max_value
    return (low is None or value >= low) and (high is None or value <= high)


def _long_enough(parameter: app_commands.Parameter, value: object) -> bool:
    """Whether text has the length its option declares (Discord's client enforces it; its
    count is never below Python's count of code points, so a real client always passes)."""
    if parameter.type.value != STRING or not isinstance(value, str):
        return True
    low, high = parameter.min_value, parameter.max_value
    return (low is None or len(value) >= low) and (high is None or len(value) <= high)


# Where Discord puts what a snowflake option names, by option type.
_RESOLVED_IN: dict[int, tuple[str, ...]] = {
    6: ("users",),
    7: ("channels",),
    8: ("roles",),
    9: ("users", "roles"),
    11: ("attachments",),
}


def _resolved(kind: int, value: object, resolved: object) -> bool:
    sections = _RESOLVED_IN.get(kind)
    if sections is None:
        return True
    if not isinstance(resolved, dict):
        return False
    return any(
        isinstance(resolved.get(section), dict) and value in resolved[section]
        for section in sections
    )


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_type(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _leaf_options(data: object) -> list[dict[str, Any]]:
    """The options given to the command that runs, below any sub-command and group.

    Raises ``_Refusal`` unless every level has the shape discord.py reads without failing: a
    list of objects, each with a name and an integer type, a sub-command alone at its level.
    """
    if not isinstance(data, dict) or not _is_name(data.get("name")):
        raise _Refusal("That is not a command this bot knows.")
    options = data.get("options", [])
    while True:
        if not isinstance(options, list):
            raise _Refusal("That is not a valid use of this command.")
        for option in options:
            if not (
                isinstance(option, dict)
                and _is_name(option.get("name"))
                and _is_type(option.get("type"))
            ):
                raise _Refusal("That is not a valid use of this command.")
        if not options or options[0]["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            return options
        if len(options) > 1:
            raise _Refusal("That is not a valid use of this command.")
        options = options[0].get("options", [])


def _check_options(
    command: app_commands.Command[Any, ..., Any],
    options: list[dict[str, Any]],
    *,
    autocomplete: bool,
    resolved: object = None,
) -> None:
    """Check a command's options against its parameters; raises ``_Refusal``."""
    parameters = {p.display_name: p for p in command.parameters}
    seen: set[str] = set()
    focused: list[str] = []
    for option in options:
        name = str(option["name"])
        parameter = parameters.get(name)
        if parameter is None:
            # An option the command lacks: a client that knows an older version of it.
            raise _Refusal(
                explain(app_commands.CommandSignatureMismatch(command))
                or "This command has changed. Please try again in a minute."
            )
        if name in seen or option["type"] != parameter.type.value or "value" not in option:
            raise _invalid(name)
        seen.add(name)
        value = option["value"]
        # Truthy, not just true: discord.py takes the first truthy "focused" as the focus.
        if autocomplete and option.get("focused"):
            focused.append(name)
            # What is being typed comes as text, whatever the option's type.
            if not isinstance(value, str) or not parameter.autocomplete:
                raise _invalid(name)
        elif not (
            _has_json_type(parameter.type.value, value)
            and _within(parameter, value)
            and _long_enough(parameter, value)
            # Autocomplete requests need not carry what the other options name.
            and (autocomplete or _resolved(parameter.type.value, value, resolved))
        ):
            raise _invalid(name)
        if isinstance(value, str):
            problem = text_problem(name, value)
            if problem is not None:
                raise _Refusal(problem)
    if autocomplete and len(focused) != 1:
        raise _Refusal("Nothing to complete.")


def _check(interaction: discord.Interaction[Any]) -> None:
    autocomplete = interaction.type is discord.InteractionType.autocomplete
    data: object = interaction.data
    if isinstance(data, dict) and data.get("type", 1) != 1 and not autocomplete:
        return  # a context menu: its target comes from Discord, never typed
    options = _leaf_options(data)
    # The shape is sound, so discord.py's own lookup cannot fail on it.
    command = interaction.command
    if not isinstance(command, app_commands.Command):
        if autocomplete:
            raise _Refusal("No such command.")
        return  # discord.py refuses an unknown command the usual way
    resolved = data.get("resolved") if isinstance(data, dict) else None
    _check_options(command, options, autocomplete=autocomplete, resolved=resolved)


def _describe(interaction: discord.Interaction[Any]) -> str:
    data: object = interaction.data
    name = data.get("name") if isinstance(data, dict) else None
    return f"/{name}" if isinstance(name, str) else interaction.type.name


async def admit(interaction: discord.Interaction[Any]) -> bool:
    """Whether the interaction's input may go on to discord.py and the command.

    If not, the member has been answered: an ephemeral refusal, or no suggestions.
    """
    kinds = (discord.InteractionType.application_command, discord.InteractionType.autocomplete)
    if interaction.type not in kinds:
        return True
    try:
        _check(interaction)
    except _Refusal as refusal:
        log.debug(
            "Input to %s refused for %s: %s",
            _describe(interaction),
            interaction.user.id,
            refusal.sentence,
        )
        if interaction.type is discord.InteractionType.autocomplete:
            try:
                await interaction.response.autocomplete([])
            except discord.HTTPException as error:
                log.warning("Could not answer autocomplete %s: %s", interaction.id, error)
        else:
            await send_private(interaction, error_embed(refusal.sentence))
        return False
    return True


class NumberText(app_commands.Transformer[Any]):
    """An option of type string that holds a whole number, parsed by ``parse``.

    ``parse`` is built on ``bot.parsing`` and raises ``InvalidInput`` with the member's
    explanation, which the member gets as a normal refusal.
    """

    def __init__(self, parse: Callable[[str], int], *, max_length: int) -> None:
        super().__init__()
        self._parse = parse
        self._max_length = max_length

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.string

    @property
    def min_value(self) -> int:
        return 1

    @property
    def max_value(self) -> int:
        return self._max_length

    async def transform(self, interaction: discord.Interaction[Any], value: Any, /) -> int:
        try:
            return self._parse(value)
        except InvalidInput as error:
            raise RefusedInput(error.field, error.user_message) from None


__all__ = ["NumberText", "RefusedInput", "admit", "text_problem"]
