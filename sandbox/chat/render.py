"""Drawing what a member sees with ``rich``: a message's content, its embeds with a bar in their
colour, its buttons and the ephemeral marker; a whole reply with follow-ups or a modal."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from sandbox import Button, Message, Reply, SelectMenu
from sandbox.chat.definitions import JSON
from sandbox.chat.text import Names, calendar_time, discord_text

DEFAULT_EMBED_COLOUR = 0x4E5058  # Discord's grey bar for an embed without a colour


class LeftBar:
    """A block of text with a bar in the embed's colour down its left side, like the client.

    It is as wide as the space it is drawn in (the terminal's width), or ``width`` if that is
    narrower.
    """

    def __init__(self, body: RenderableType, colour: int, *, width: int | None = None) -> None:
        self.body = body
        self.style = Style(color=f"#{colour:06x}")
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        room = options.max_width if self.width is None else min(options.max_width, self.width)
        inner = max(10, room - 2)
        lines = console.render_lines(self.body, options.update(width=inner), pad=False)
        bar = Segment("┃ ", self.style)
        for line in lines:
            yield bar
            yield from line
            yield Segment.line()


def _field_cell(item: JSON, names: Names, now: datetime) -> Text:
    return Text.assemble(
        (discord_text(str(item.get("name") or ""), names, now), "bold"),
        "\n",
        discord_text(str(item.get("value") or ""), names, now),
    )


def render_embed(embed: JSON, names: Names, now: datetime | None = None) -> RenderableType:
    """One embed: author, title, description, fields (inline ones three to a row), footer."""
    moment = now or datetime.now().astimezone()
    parts: list[RenderableType] = []
    author = (embed.get("author") or {}).get("name")
    if author:
        parts.append(Text(discord_text(str(author), names, moment), style="bold dim"))
    if embed.get("title"):
        parts.append(Text(discord_text(str(embed["title"]), names, moment), style="bold"))
    if embed.get("description"):
        parts.append(Text(discord_text(str(embed["description"]), names, moment)))
    row: list[JSON] = []

    def flush() -> None:
        if row:
            grid = Table.grid(padding=(0, 3))
            for _ in row:
                grid.add_column()
            grid.add_row(*(_field_cell(item, names, moment) for item in row))
            parts.append(grid)
            row.clear()

    for item in embed.get("fields") or []:
        if item.get("inline"):
            row.append(item)
            if len(row) == 3:
                flush()
        else:
            flush()
            parts.append(_field_cell(item, names, moment))
    flush()
    footer = [discord_text(str((embed.get("footer") or {}).get("text") or ""), names, moment)]
    if embed.get("timestamp"):
        with contextlib.suppress(ValueError):
            footer.append(calendar_time(datetime.fromisoformat(str(embed["timestamp"])), moment))
    footer_text = " • ".join(p for p in footer if p)
    if footer_text:
        parts.append(Text(footer_text, style="dim"))
    if embed.get("image") or embed.get("thumbnail"):
        parts.append(Text("[image]", style="dim"))
    colour = embed.get("color")
    return LeftBar(Group(*parts), int(colour) if isinstance(colour, int) else DEFAULT_EMBED_COLOUR)


_BUTTON_STYLES = {1: "white on #5865f2", 3: "white on #248046", 4: "white on #da373c"}


def render_buttons(
    buttons: Sequence[Button], selects: Sequence[SelectMenu] = (), *, plain: bool = False
) -> Text:
    """``[ Previous ] [ Next ]``; a disabled one dim, or marked in words when there is no colour."""
    out = Text()
    for button in buttons:
        label = button.label or (button.emoji or {}).get("name") or button.custom_id or "?"
        if button.url:
            label += " ↗"
        if button.disabled and plain:
            label += " (disabled)"
        style = "dim" if button.disabled else _BUTTON_STYLES.get(button.style, "reverse")
        if out:
            out.append(" ")
        out.append(f"[ {label} ]", style=style)
    for select in selects:
        if out:
            out.append(" ")
        out.append(f"[ {select.placeholder or 'Make a selection'} ▾ ]", style="reverse")
    return out


def render_message(
    message: Message,
    names: Names,
    *,
    now: datetime | None = None,
    plain: bool = False,
) -> RenderableType:
    """One message: who sent it and who sees it, content, embeds, then buttons."""
    header = Text("Bulletin", style="bold")
    if message.ephemeral:
        header.append("  (only you can see this)", style="dim italic")
    else:
        channel = names.channels.get(message.channel_id)
        header.append(f"  in #{channel}" if channel else "", style="dim")
    parts: list[RenderableType] = [header]
    if message.content:
        parts.append(Text(discord_text(message.content, names, now)))
    parts.extend(render_embed(embed, names, now) for embed in message.embeds)
    buttons = render_buttons(message.buttons, message.selects, plain=plain)
    if buttons:
        parts.append(buttons)
    return Group(*parts)


def render_reply(
    reply: Reply, names: Names, *, now: datetime | None = None, plain: bool = False
) -> RenderableType:
    """Everything one interaction showed: its message, follow-ups, or a modal."""
    shown: list[Message] = []
    if reply.message is not None:
        shown.append(reply.message)
    shown += [m for m in reply.followups if all(m.id != s.id for s in shown)]
    parts: list[RenderableType] = [render_message(m, names, now=now, plain=plain) for m in shown]
    if reply.modal is not None:
        fields = ", ".join(f.label or f.custom_id for f in reply.modal.fields)
        parts.append(
            Text(
                f"The bot opened a form “{reply.modal.title}” ({fields}); "
                "the chat cannot fill in forms yet.",
                style="italic",
            )
        )
    if not parts:
        parts.append(Text("(nothing visible changed)", style="dim italic"))
    return Group(*parts)
