"""How errors reach members: one path for every command, button, modal and menu.

``report_error`` is the single error handler (behind ``tree.on_error`` and the callbacks of
the persistent buttons in ``bot.ui``). Domain errors become an ephemeral embed with
their sentence; failed checks and cooldowns an ephemeral explanation; anything else is
logged with its traceback and an error id, and the member sees a short apology with that id.
The message goes through the interaction's ``Reply`` (``bot.replies``) when one is open, so
it never races the answer or a deferral.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.db.errors import DatabaseUnavailable, WriteOutcomeUnknown
from bot.display import QUOTE_LIMIT, display_text
from bot.errors import BulletinError
from bot.replies import current_reply

log = logging.getLogger(__name__)

UNKNOWN_INTERACTION = 10062
ALREADY_ACKNOWLEDGED = 40060

ERROR_COLOUR = discord.Colour.red()
NOTICE_COLOUR = discord.Colour.orange()


def new_error_id() -> str:
    """A short id that ties what a member saw to one log line."""
    return secrets.token_hex(4)


def error_embed(text: str, *, title: str = "That didn't work") -> discord.Embed:
    return discord.Embed(title=title, description=text, colour=ERROR_COLOUR)


def notice_embed(text: str) -> discord.Embed:
    return discord.Embed(description=text, colour=NOTICE_COLOUR)


async def send_private(interaction: discord.Interaction[Any], embed: discord.Embed) -> None:
    """Tell only the member something, whatever state the interaction is in.

    Never raises: an expired interaction (10062) is a warning in the log, any other HTTP
    failure an error in the log.
    """
    try:
        reply = current_reply(interaction)
        if reply is not None:
            await reply.fail(embed)
        elif interaction.response.is_done():
            await interaction.followup.send(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True)
    except discord.InteractionResponded:
        # Answered by someone else between our check and our call: a follow-up still reaches.
        try:
            await interaction.followup.send(embed=embed, ephemeral=True)
        except discord.HTTPException:
            log.exception("Could not send a follow-up to interaction %s", interaction.id)
    except discord.NotFound as error:
        if error.code == UNKNOWN_INTERACTION:
            log.warning(
                "Interaction %s expired before the bot answered (command %s)",
                interaction.id,
                _describe(interaction),
            )
        else:
            log.warning("Could not answer interaction %s: %s", interaction.id, error)
    except discord.HTTPException as error:
        if error.code == ALREADY_ACKNOWLEDGED:
            # Someone answered between our check and our call; a follow-up still reaches them.
            try:
                await interaction.followup.send(embed=embed, ephemeral=True)
            except discord.HTTPException:
                log.exception("Could not send a follow-up to interaction %s", interaction.id)
        else:
            log.exception("Could not answer interaction %s", interaction.id)


def _describe(interaction: discord.Interaction[Any]) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data: dict[str, Any] = dict(interaction.data or {})
    return str(data.get("custom_id") or data.get("name") or interaction.type.name)


def _retry_text(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    return f"{whole} second{'s' if whole != 1 else ''}"


UNAVAILABLE = "The database is temporarily unavailable. Please try again in a moment."
# A change sent before the database stopped answering may still be applied when it comes
# back: the member is told it is unconfirmed, never that it failed.
UNCONFIRMED = (
    "The database is temporarily unavailable and did not confirm this change in time, so it "
    "may still have been saved. Please check before trying again."
)


def explain(error: Exception) -> str | None:  # noqa: PLR0911 - one case per error class
    """The sentence a member gets for an expected failure, or None for an unexpected one."""
    if isinstance(error, BulletinError):
        return error.user_message
    if isinstance(error, DatabaseUnavailable):
        # Logged once per outage by the database itself, not once per command.
        return UNCONFIRMED if isinstance(error, WriteOutcomeUnknown) else UNAVAILABLE
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"You're doing that too often. Try again in {_retry_text(error.retry_after)}."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works inside a server."
    if isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"You need the {needed} permission to do that."
    if isinstance(error, app_commands.BotMissingPermissions):
        needed = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"I need the {needed} permission to do that here."
    if isinstance(error, (app_commands.MissingRole, app_commands.MissingAnyRole)):
        return "You don't have the role this command needs."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    if isinstance(error, app_commands.TransformerError):
        # Quote what the member picked through the text function, never as a Python repr.
        if isinstance(error.value, discord.abc.User):
            name = display_text(error.value.display_name, QUOTE_LIMIT)
            return f"{name} is not a member of this server."
        if isinstance(error.value, str | int | float):
            value = display_text(str(error.value), QUOTE_LIMIT)
            return f"{value} is not a valid value for that option."
        return "That is not a valid value for that option."
    if isinstance(error, (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch)):
        return "This command has changed since your app last saw it. Please try again in a minute."
    return None


async def report_error(interaction: discord.Interaction[Any], error: Exception) -> None:
    """Tell the member what went wrong, privately, and log what the operator must see."""
    original = error
    while isinstance(original, app_commands.CommandInvokeError):
        original = original.original
    if isinstance(original, discord.NotFound) and original.code == UNKNOWN_INTERACTION:
        log.warning(
            "Interaction %s (%s) expired: the first answer came after Discord's deadline",
            interaction.id,
            _describe(interaction),
        )
        return
    sentence = explain(original)
    if sentence is not None:
        log.debug("%s refused for %s: %s", _describe(interaction), interaction.user.id, sentence)
        await send_private(interaction, error_embed(sentence))
        return
    error_id = new_error_id()
    log.error(
        "Error %s in %s (user %s, guild %s)",
        error_id,
        _describe(interaction),
        interaction.user.id,
        interaction.guild_id,
        exc_info=(type(original), original, original.__traceback__),
    )
    await send_private(
        interaction,
        error_embed(
            f"Something went wrong on our side. If it keeps happening, tell the server's "
            f"admins and quote error id `{error_id}`.",
            title="Sorry, that failed",
        ),
    )


class ReportingTree(app_commands.CommandTree[Any]):
    """The command tree whose errors all go through ``report_error``."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)
