"""Domain errors: failures a member can be told about in one sentence.

Each error carries ``user_message``, the sentence shown to the member. The data layer raises
them and the Discord-facing code turns them into an ephemeral reply, so this module must stay
free of ``discord`` (a test checks it).
"""

from __future__ import annotations


class BulletinError(Exception):
    """Base of every error whose message is safe and meant to be shown to a member."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class InvalidInput(BulletinError):
    """A value a member typed breaks a rule (length, range, forbidden characters)."""

    def __init__(self, field: str, user_message: str) -> None:
        super().__init__(user_message)
        self.field = field


class NotFound(BulletinError):
    """The thing asked for does not exist in this guild (or is not the member's own)."""


class NotRegistered(NotFound):
    """The member has no profile in this guild yet."""

    def __init__(
        self, user_message: str = "You have no profile here yet. Use /register first."
    ) -> None:
        super().__init__(user_message)


class PostNotFound(NotFound):
    """No post with that id belongs to the member (``anyone``: to anybody) in this guild."""

    def __init__(self, post_id: int | None = None, *, anyone: bool = False) -> None:
        what = f"post #{post_id}" if post_id is not None else "that post"
        if anyone:
            text = f"There is no {what} in this server."
        else:
            text = f"You have no {what} here. Use /myposts to see your posts."
        super().__init__(text)
        self.post_id = post_id


class AlreadyRegistered(BulletinError):
    """A second profile for the same member in the same guild: the unique constraint said no."""

    def __init__(self) -> None:
        super().__init__(
            "You already have a profile here. Use /profile to see it or /rename to change your name."
        )


class CaseNotFound(NotFound):
    """No case with that number in this guild."""

    def __init__(self, number: int | None = None) -> None:
        what = f"case #{number}" if number is not None else "that case"
        super().__init__(f"There is no {what} in this server.")
        self.number = number


class NotAllowed(BulletinError):
    """The member may not do this (a rule of the bot's, not a Discord permission)."""


class Blocked(BulletinError):
    """A moderator stopped this member from using the bot's member commands here."""

    def __init__(self) -> None:
        super().__init__(
            "A moderator has stopped you from using /register, /rename and /post in this server."
        )
