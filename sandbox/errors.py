"""Exceptions the driver raises to a test."""

from __future__ import annotations


class SandboxError(Exception):
    """Base class for everything the sandbox raises on purpose."""


class DriverError(SandboxError):
    """The Discord client would not let a member do this (pass force=True to do it anyway)."""


class UnknownCommandError(DriverError):
    """No synced command (guild or global) has that name."""


class OptionError(DriverError):
    """An option value the Discord client would refuse to send."""


class MissingPermissionsError(DriverError):
    """The member lacks the command's default_member_permissions."""


class ComponentError(DriverError):
    """No such button or menu, or the member could not use it."""


class NoAnswerError(SandboxError):
    """The bot did not answer in time ("The application did not respond")."""


class NotConnectedError(SandboxError):
    """No gateway session owns the guild: the bot is not connected (yet)."""
