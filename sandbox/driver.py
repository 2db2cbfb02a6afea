"""The driver: members typing slash commands, clicking buttons, filling modals.

``reply = await emu.member("alice").run("/register", name="Ann", age=30)`` sends
the INTERACTION_CREATE Discord would send, waits until the bot's answer has
settled, and returns a `Reply`: what the member sees.

When is a reply "done"? Once the interaction has a visible result (a message, an
update, a modal, or a deferral that was then edited or followed up) and nothing
more has happened for `quiet_period` seconds. A deferred *update* with no edit
counts as done after `deferred_update_grace`. If the bot never acknowledges
within the acknowledgement deadline, or defers and never follows up within
`answer_timeout`, NoAnswerError says so.

``run`` and ``autocomplete`` check options as the Discord client does (``force`` skips
that); ``run_raw`` and ``autocomplete_raw`` send an option list exactly as given, as a forged
client can.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.commands import RegisteredCommand
from sandbox.errors import (
    ComponentError,
    DriverError,
    MissingPermissionsError,
    NoAnswerError,
    NotConnectedError,
    UnknownCommandError,
)
from sandbox.gateway import Gateway
from sandbox.interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    Interaction,
)
from sandbox.messages import Button, Message, SelectMenu
from sandbox.options import SUB_COMMAND, SUB_COMMAND_GROUP, OptionBuilder, Resolved
from sandbox.permissions import Permission, has_all
from sandbox.snowflakes import interaction_token
from sandbox.state import State
from sandbox.world import Channel, Guild, GuildMember, User

JSON = dict[str, Any]


@dataclass(frozen=True)
class Choice:
    """One autocomplete suggestion."""

    name: str
    value: str | int | float


@dataclass(frozen=True)
class ModalField:
    """One input of a modal (a text input, or a select inside a label)."""

    custom_id: str
    label: str | None
    type: int
    style: int
    required: bool
    min_length: int | None
    max_length: int | None
    value: str | None
    placeholder: str | None


@dataclass(frozen=True)
class Modal:
    """A modal the bot opened."""

    custom_id: str
    title: str
    fields: tuple[ModalField, ...]
    raw: JSON


def _modal_fields(data: JSON) -> tuple[ModalField, ...]:
    fields: list[ModalField] = []
    for row in data.get("components") or []:
        if row.get("type") == 1:
            children = [(c, c.get("label")) for c in row.get("components") or []]
        elif row.get("type") == 18:
            children = [(row["component"], row.get("label"))]
        else:
            continue
        for child, label in children:
            fields.append(
                ModalField(
                    custom_id=str(child.get("custom_id")),
                    label=label,
                    type=int(child.get("type", 4)),
                    style=int(child.get("style", 1)),
                    required=bool(child.get("required", True)),
                    min_length=child.get("min_length"),
                    max_length=child.get("max_length"),
                    value=child.get("value"),
                    placeholder=child.get("placeholder"),
                )
            )
    return tuple(fields)


class Reply:
    """What a member saw after one interaction: its message(s), a modal, or nothing."""

    def __init__(self, driver: MemberDriver, interaction: Interaction) -> None:
        self.driver = driver
        self.interaction = interaction
        state = driver.state
        seen = [
            state.messages[i].snapshot() for i in interaction.message_ids if i in state.messages
        ]
        self.messages: list[Message] = [m for m in seen if not m.deleted]
        original = state.messages.get(interaction.original_message_id or 0)
        self.deleted: bool = original is not None and original.deleted
        self.response_type: int | None = interaction.response_type
        self.modal: Modal | None = None
        if interaction.modal is not None:
            raw = interaction.modal
            self.modal = Modal(
                str(raw.get("custom_id")), str(raw.get("title")), _modal_fields(raw), raw
            )
        self.message: Message | None = None
        if original is not None and not original.deleted:
            self.message = original.snapshot()
        elif self.messages:
            self.message = self.messages[-1]

    def __repr__(self) -> str:
        return (
            f"<Reply {self.interaction.name!r} type={self.response_type} content={self.content!r} "
            f"embeds={len(self.embeds)} ephemeral={self.ephemeral} messages={len(self.messages)}"
            f"{' deleted' if self.deleted else ''}{' modal' if self.modal else ''}>"
        )

    @property
    def content(self) -> str:
        """The main message's text ("" when there is none)."""
        return self.message.content if self.message else ""

    @property
    def embeds(self) -> list[JSON]:
        """The main message's embeds."""
        return self.message.embeds if self.message else []

    @property
    def ephemeral(self) -> bool:
        """Whether the main message is visible only to the member."""
        return self.message.ephemeral if self.message else False

    @property
    def components(self) -> list[JSON]:
        """The main message's components as sent."""
        return self.message.components if self.message else []

    @property
    def buttons(self) -> list[Button]:
        """The main message's buttons."""
        return self.message.buttons if self.message else []

    @property
    def selects(self) -> list[SelectMenu]:
        """The main message's select menus."""
        return self.message.selects if self.message else []

    @property
    def followups(self) -> list[Message]:
        """Follow-up messages (not the original response)."""
        ids = set(self.interaction.followup_ids)
        return [m for m in self.messages if m.id in ids]

    @property
    def text(self) -> str:
        """All visible text of the main message: content, embed titles, descriptions, fields."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [str(embed.get(k) or "") for k in ("title", "description")]
            for item in embed.get("fields") or []:
                parts += [str(item.get("name") or ""), str(item.get("value") or "")]
            parts.append(str((embed.get("footer") or {}).get("text") or ""))
        return "\n".join(p for p in parts if p)

    def refresh(self) -> Reply:
        """The same interaction as it looks now (without waiting)."""
        return Reply(self.driver, self.interaction)

    async def wait(self, condition: Callable[[Reply], bool], *, timeout: float = 2.0) -> Reply:  # noqa: ASYNC109 - a wait budget, not a cancel scope
        """Wait for something that comes after the quiet period (a slow follow-up, a timeout edit).

        Returns the reply as it is once `condition` holds; NoAnswerError after `timeout` seconds.
        """
        interaction = self.interaction
        try:
            async with asyncio.timeout(timeout):
                while True:
                    current = self.refresh()
                    if condition(current):
                        return current
                    interaction.changed.clear()
                    await interaction.changed.wait()
        except TimeoutError as exc:
            raise NoAnswerError(
                f"{interaction.name!r}: the awaited change did not happen within {timeout} s; now {self.refresh()!r}"
            ) from exc

    def _candidates(self) -> list[Message]:
        state = self.driver.state
        ordered = ([self.message] if self.message else []) + list(reversed(self.messages))
        current: list[Message] = []
        for snapshot in ordered:
            live = state.messages.get(snapshot.id)
            if live is not None and live not in current:
                current.append(live)
        return current

    async def click(
        self,
        label: str | None = None,
        *,
        custom_id: str | None = None,
        by: MemberDriver | None = None,
        force: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> Reply:
        """Press a button by label (or custom_id) on this reply's message, as it is now."""
        if label is None and custom_id is None:
            raise ValueError("click() needs a label or a custom_id")
        clicker = by or self.driver
        for message in self._candidates():
            for button in message.buttons:
                if (label is not None and button.label == label) or (
                    custom_id is not None and button.custom_id == custom_id
                ):
                    return await clicker.press(message, button, force=force, timeout=timeout)
        shown = [b.label or b.custom_id for m in self._candidates() for b in m.buttons]
        raise ComponentError(f"no button {label or custom_id!r} on this reply (buttons: {shown})")

    async def select(
        self,
        menu: str,
        *values: str,
        by: MemberDriver | None = None,
        force: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> Reply:
        """Choose values in a select menu named by custom_id or placeholder."""
        clicker = by or self.driver
        for message in self._candidates():
            for select in message.selects:
                if menu in (select.custom_id, select.placeholder):
                    return await clicker.choose(
                        message, select, list(values), force=force, timeout=timeout
                    )
        raise ComponentError(f"no select menu {menu!r} on this reply")

    async def submit(
        self,
        values: Mapping[str, str | Sequence[str]],
        *,
        by: MemberDriver | None = None,
        force: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> Reply:
        """Fill and submit the modal this reply opened; keys are labels or custom_ids."""
        if self.modal is None:
            raise ComponentError(f"the bot opened no modal for {self.interaction.name!r}")
        return await (by or self.driver).submit_modal(
            self.interaction, self.modal, values, force=force, timeout=timeout
        )


class MemberDriver:
    """One member of one guild, acting through the Discord client."""

    def __init__(self, state: State, gateway: Gateway, guild: Guild, member: GuildMember) -> None:
        self.state = state
        self.gateway = gateway
        self.guild = guild
        self.member = member

    def __repr__(self) -> str:
        return f"<MemberDriver {self.member.key} in {self.guild.key}>"

    @property
    def user(self) -> User:
        """The member's user."""
        return self.member.user

    @property
    def name(self) -> str:
        """The member's username."""
        return self.member.key

    @property
    def mention(self) -> str:
        """The member's mention markup."""
        return self.member.user.mention

    def permissions(self, channel: str | int | None = None) -> int:
        """The member's permissions in a channel (the default channel if none given)."""
        return self.guild.permissions_in(self.member, self._channel(channel))

    def _channel(self, ref: str | int | Channel | None) -> Channel:
        if isinstance(ref, Channel):
            return ref
        return self.guild.default_channel if ref is None else self.guild.channel(ref)

    # slash commands

    def _command(
        self, command: str, *, force: bool
    ) -> tuple[RegisteredCommand | None, str, list[str]]:
        parts = command.strip().removeprefix("/").split()
        if not parts:
            raise DriverError("empty command")
        name, path = parts[0], parts[1:]
        found = self.state.commands.lookup(self.guild.id, name)
        if found is None and not force:
            synced = sorted(
                {
                    c.name
                    for c in self.state.commands.list(None)
                    + self.state.commands.list(self.guild.id)
                }
            )
            raise UnknownCommandError(
                f"/{name} is not synced for guild {self.guild.key!r} (synced: {synced})"
            )
        return found, name, path

    def _check_allowed(self, command: RegisteredCommand, channel: Channel) -> None:
        contexts = command.data.get("contexts")
        if isinstance(contexts, list) and 0 not in contexts:
            raise UnknownCommandError(
                f"/{command.name} is not available in guilds (contexts {contexts})"
            )
        required = command.default_member_permissions
        perms = self.guild.guild_permissions(self.member)
        if required is not None and not (
            perms & Permission.ADMINISTRATOR or (required and has_all(perms, required))
        ):
            raise MissingPermissionsError(
                f"{self.name} lacks default_member_permissions {required} for /{command.name} (has {perms})"
            )
        in_channel = self.guild.permissions_in(self.member, channel)
        need = int(Permission.VIEW_CHANNEL | Permission.USE_APPLICATION_COMMANDS)
        if not has_all(in_channel, need):
            raise MissingPermissionsError(
                f"{self.name} cannot use application commands in #{channel.name}"
            )

    def _command_data(
        self,
        command: str,
        values: dict[str, Any],
        *,
        force: bool,
        channel: Channel,
        focused: str | None = None,
    ) -> tuple[JSON, str]:
        found, name, path = self._command(command, force=force)
        builder = OptionBuilder(self.state.world, self.guild, channel, self.member)
        full_name = " ".join([name, *path])
        if found is None:
            leaf = builder.build(full_name, [], values, force=True, focused=focused)
            data: JSON = {"id": str(self.state.ids.next()), "name": name, "type": 1}
            options = _nest(path, [], leaf)
        else:
            if not force:
                self._check_allowed(found, channel)
            try:
                walked, schema = found.resolve(path)
            except LookupError as exc:
                if not force:
                    raise UnknownCommandError(
                        f"/{full_name}: no sub-command {exc.args[0]!r}"
                    ) from exc
                walked, schema = path, []
            leaf = builder.build(full_name, schema, values, force=force, focused=focused)
            data = {"id": str(found.id), "name": found.name, "type": found.type}
            if found.guild_id is not None:
                data["guild_id"] = str(found.guild_id)
            options = _nest(walked, found.options, leaf)
        data["options"] = options
        resolved = builder.resolved.payload()
        if resolved:
            data["resolved"] = resolved
        return data, full_name

    async def run(
        self,
        command: str,
        /,
        *,
        force: bool = False,
        in_channel: str | int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
        locale: str = "en-US",
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Reply:
        """Type a slash command (``"/post create"`` for sub-commands) and return what the member sees.

        Options come as keyword arguments, or in `options` when a name clashes with
        this method's own parameters. USER options take a username, id, member or
        driver; CHANNEL and ROLE options a name or id. Raises DriverError subclasses
        for what the Discord client would refuse, unless `force`.
        """
        values = {**dict(options or {}), **kwargs}
        values = {k: (v.member if isinstance(v, MemberDriver) else v) for k, v in values.items()}
        channel = self._channel(in_channel)
        data, full_name = self._command_data(command, values, force=force, channel=channel)
        interaction = await self._dispatch(
            APPLICATION_COMMAND, data, channel, name=full_name, locale=locale
        )
        await self._settle(interaction, timeout)
        return Reply(self, interaction)

    async def run_raw(
        self,
        command: str,
        options: Any,
        /,
        *,
        in_channel: str | int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
        locale: str = "en-US",
    ) -> Reply:
        """Send a slash command whose ``data.options`` is ``options``, exactly as given.

        What a forged client can do: nothing in it is checked or converted, so wrong JSON
        types, unknown, missing or repeated options, entries that are not options at all, even
        something other than a list, reach the bot as they are (they must only be JSON).
        Sub-commands are part of the list, as Discord nests them. The command must still be
        synced and allowed to the member, which Discord checks whatever the client sends, and
        snowflake options whose value is the id of a user, role or channel Discord knows get
        their ``resolved`` entry, as Discord adds it.
        """
        channel = self._channel(in_channel)
        data, full_name = self._raw_data(command, options, channel)
        interaction = await self._dispatch(
            APPLICATION_COMMAND, data, channel, name=full_name, locale=locale
        )
        await self._settle(interaction, timeout)
        return Reply(self, interaction)

    async def autocomplete_raw(
        self,
        command: str,
        options: Any,
        /,
        *,
        in_channel: str | int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> list[Choice]:
        """An autocomplete request with ``options`` exactly as given (see ``run_raw``).

        The list should mark one option ``"focused": true``; that is not checked either.
        Returns the suggestions shown.
        """
        channel = self._channel(in_channel)
        data, full_name = self._raw_data(command, options, channel)
        interaction = await self._dispatch(AUTOCOMPLETE, data, channel, name=full_name)
        await self._settle(interaction, timeout)
        return [Choice(name=str(c["name"]), value=c["value"]) for c in interaction.choices or []]

    def _raw_data(self, command: str, options: Any, channel: Channel) -> tuple[JSON, str]:
        found, name, path = self._command(command, force=False)
        assert found is not None  # _command raises for an unknown command unless forced
        if path:
            raise DriverError(
                f"{command!r}: give a sub-command inside the options list in raw mode"
            )
        self._check_allowed(found, channel)
        builder = OptionBuilder(self.state.world, self.guild, channel, self.member)
        builder.resolve_ids(options)
        data: JSON = {"id": str(found.id), "name": found.name, "type": found.type}
        if found.guild_id is not None:
            data["guild_id"] = str(found.guild_id)
        data["options"] = options
        resolved = builder.resolved.payload()
        if resolved:
            data["resolved"] = resolved
        return data, name

    async def autocomplete(
        self,
        command: str,
        option: str,
        typed: str,
        /,
        *,
        force: bool = False,
        in_channel: str | int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Choice]:
        """Type `typed` into an option with autocomplete; return the suggestions shown."""
        values = {**dict(options or {}), **kwargs, option: typed}
        values = {k: (v.member if isinstance(v, MemberDriver) else v) for k, v in values.items()}
        channel = self._channel(in_channel)
        data, full_name = self._command_data(
            command, values, force=force, channel=channel, focused=option
        )
        interaction = await self._dispatch(AUTOCOMPLETE, data, channel, name=full_name)
        await self._settle(interaction, timeout)
        return [Choice(name=str(c["name"]), value=c["value"]) for c in interaction.choices or []]

    # components and modals

    async def press(
        self,
        message: Message,
        button: Button,
        *,
        force: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> Reply:
        """Click a button on a message."""
        self._check_component_use(message, force=force)
        if button.url is not None:
            raise ComponentError(
                f"{button.label!r} is a link button; clicking it opens {button.url}"
            )
        if button.disabled and not force:
            raise ComponentError(f"button {button.label or button.custom_id!r} is disabled")
        data: JSON = {"custom_id": button.custom_id, "component_type": 2}
        return await self._component(message, data, str(button.custom_id), timeout)

    async def choose(
        self,
        message: Message,
        select: SelectMenu,
        values: list[str],
        *,
        force: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> Reply:
        """Pick values in a select menu on a message."""
        self._check_component_use(message, force=force)
        if not force:
            if select.disabled:
                raise ComponentError(f"select {select.custom_id!r} is disabled")
            if not select.min_values <= len(values) <= select.max_values:
                raise ComponentError(
                    f"select {select.custom_id!r} takes {select.min_values}-{select.max_values} values, got {len(values)}"
                )
            if select.type == 3:
                offered = [str(o.get("value")) for o in select.options]
                bad = [v for v in values if v not in offered]
                if bad:
                    raise ComponentError(f"select {select.custom_id!r} offers {offered}, not {bad}")
        data: JSON = {
            "custom_id": select.custom_id,
            "component_type": select.type,
            "values": values,
        }
        if select.type != 3:
            builder = OptionBuilder(
                self.state.world, self.guild, self._channel(message.channel_id), self.member
            )
            kind = {5: 6, 6: 8, 7: 9, 8: 7}[select.type]
            option: JSON = {"name": select.custom_id, "type": kind}
            data["values"] = [
                builder.build("select", [option], {select.custom_id: v}, force=force)[0]["value"]
                for v in values
            ]
            resolved = builder.resolved.payload()
            if resolved:
                data["resolved"] = resolved
        return await self._component(message, data, select.custom_id, timeout)

    def _check_component_use(self, message: Message, *, force: bool) -> None:
        live = self.state.messages.get(message.id)
        if live is None or live.deleted:
            raise ComponentError("that message was deleted")
        if live.guild_id != self.guild.id:
            raise ComponentError(
                f"{self.name} is acting in guild {self.guild.key!r}, the message is elsewhere"
            )
        if not live.visible_to(self.member.id) and not force:
            raise ComponentError(f"{self.name} cannot see that ephemeral message")

    async def _component(
        self,
        message: Message,
        data: JSON,
        name: str,
        timeout: float | None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> Reply:
        live = self.state.messages[message.id]
        channel = self._channel(live.channel_id)
        interaction = await self._dispatch(
            MESSAGE_COMPONENT, data, channel, name=name, message=live
        )
        await self._settle(interaction, timeout)
        return Reply(self, interaction)

    async def submit_modal(
        self,
        opener: Interaction,
        modal: Modal,
        values: Mapping[str, str | Sequence[str]],
        *,
        force: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait budget, not a cancel scope
    ) -> Reply:
        """Submit a modal opened by `opener`, its inputs filled from `values`."""
        by_key: dict[str, ModalField] = {}
        for item in modal.fields:
            by_key[item.custom_id] = item
            if item.label:
                by_key[item.label] = item
        filled: dict[str, str | Sequence[str]] = {}
        for key, value in values.items():
            found = by_key.get(key)
            if found is None:
                raise ComponentError(
                    f"modal {modal.title!r} has no input {key!r} (inputs: {list(by_key)})"
                )
            filled[found.custom_id] = value
        if not force:
            for item in modal.fields:
                text = filled.get(item.custom_id, item.value or "")
                if item.type != 4 or not isinstance(text, str):
                    continue
                if item.required and not text:
                    raise ComponentError(
                        f"modal input {item.label or item.custom_id!r} is required"
                    )
                if text and item.min_length is not None and len(text) < item.min_length:
                    raise ComponentError(
                        f"modal input {item.label!r} needs at least {item.min_length} characters"
                    )
                if item.max_length is not None and len(text) > item.max_length:
                    raise ComponentError(
                        f"modal input {item.label!r} takes at most {item.max_length} characters"
                    )
        data: JSON = {"custom_id": modal.custom_id, "components": _modal_answer(modal.raw, filled)}
        source = self.state.messages.get(opener.source_message_id or 0)
        channel = self._channel(opener.channel_id)
        interaction = await self._dispatch(
            MODAL_SUBMIT, data, channel, name=modal.custom_id, message=source
        )
        await self._settle(interaction, timeout)
        return Reply(self, interaction)

    # dispatch and waiting

    def _payload(
        self,
        interaction: Interaction,
        channel: Channel,
        data: JSON,
        message: Message | None,
        locale: str,
    ) -> JSON:
        guild = self.guild
        world = self.state.world
        perms = guild.permissions_in(self.member, channel)
        bot_perms = guild.permissions_in(world.bot_member(guild), channel)
        payload: JSON = {
            "id": str(interaction.id),
            "application_id": str(world.application_id),
            "type": interaction.type,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "channel_id": str(channel.id),
            "channel": channel.payload(guild.id) | {"permissions": str(perms)},
            "member": self.member.payload() | {"permissions": str(perms)},
            "token": interaction.token,
            "version": 1,
            "app_permissions": str(bot_perms),
            "locale": locale,
            "guild_locale": guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": self.state.settings.attachment_size_limit,
        }
        if message is not None:
            payload["message"] = self.state.message_payload(message)
        return payload

    async def _dispatch(
        self,
        kind: int,
        data: JSON,
        channel: Channel,
        *,
        name: str,
        message: Message | None = None,
        locale: str = "en-US",
    ) -> Interaction:
        settings = self.state.settings
        interaction_id = self.state.ids.next()
        interaction = Interaction(
            id=interaction_id,
            token=interaction_token(interaction_id),
            type=kind,
            guild_id=self.guild.id,
            channel_id=channel.id,
            user=self.member.user,
            payload={},
            name=name,
            ack_deadline=settings.ack_deadline,
            token_lifetime=settings.token_lifetime,
            source_message_id=None if message is None else message.id,
        )
        if self.guild.find_member(self.member.id) is None:
            raise DriverError(
                f"{self.name} is no longer a member of guild {self.guild.key!r} (left, kicked or banned)"
            )
        if self.gateway.session_for_guild(self.guild.id) is None:
            raise NotConnectedError(
                f"no bot session owns guild {self.guild.key!r}; is the bot connected?"
            )
        interaction.payload = self._payload(interaction, channel, data, message, locale)
        self.state.add_interaction(interaction)
        interaction.dispatched_at = time.monotonic()
        interaction.last_change = interaction.dispatched_at
        await self.gateway.dispatch_to_guild(
            self.guild.id, "INTERACTION_CREATE", interaction.payload
        )
        return interaction

    def _status(self, interaction: Interaction, now: float) -> str:
        """Where the interaction stands: "dead", "pending" or "visible"."""
        if not interaction.acknowledged:
            return (
                "dead" if now - interaction.dispatched_at > interaction.ack_deadline else "pending"
            )
        kind = interaction.response_type
        if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL):
            return "visible"
        if interaction.followup_ids:
            return "visible"
        if kind == DEFERRED_CHANNEL_MESSAGE:
            original = self.state.messages.get(interaction.original_message_id or 0)
            return (
                "visible"
                if original is not None and not original.loading and not original.deleted
                else "pending"
            )
        if kind == DEFERRED_UPDATE_MESSAGE:
            acked = interaction.acked_at or now
            if (
                interaction.source_updated
                or now - acked >= self.state.settings.deferred_update_grace
            ):
                return "visible"
        return "pending"

    def _rejections(self, interaction: Interaction) -> str:
        found = [
            v
            for v in self.state.violations
            if str(interaction.id) in v.path or interaction.token in v.path
        ]
        if not found:
            return ""
        shown = "; ".join(
            f"{v.method} → {v.status} {v.code} {v.message} {list(v.paths)}" for v in found
        )
        return f" The bot's attempts were rejected: {shown}"

    async def _settle(self, interaction: Interaction, timeout: float | None) -> None:  # noqa: ASYNC109 - a wait budget, not a cancel scope
        settings = self.state.settings
        quiet = 0.0 if interaction.type == AUTOCOMPLETE else settings.quiet_period
        hard_deadline = interaction.dispatched_at + (
            timeout if timeout is not None else settings.answer_timeout
        )
        what = f"{interaction.name!r} by {self.name}"
        while True:
            now = time.monotonic()
            status = self._status(interaction, now)
            if status == "dead":
                raise NoAnswerError(
                    f"the bot never answered {what}: no acknowledgement within {interaction.ack_deadline:.2f} s "
                    f'(Discord shows "The application did not respond").{self._rejections(interaction)}'
                )
            if status == "visible":
                quiet_until = interaction.last_change + quiet
                if now >= quiet_until or now >= hard_deadline:
                    return
                wait = quiet_until - now
            else:
                if now >= hard_deadline:
                    original = self.state.messages.get(interaction.original_message_id or 0)
                    if original is not None and original.deleted:
                        return
                    if not interaction.acknowledged:
                        raise NoAnswerError(
                            f"the bot did not answer {what} within the driver's timeout."
                        )
                    raise NoAnswerError(
                        f"the bot deferred {what} but never edited or followed up within "
                        f"{hard_deadline - interaction.dispatched_at:.2f} s.{self._rejections(interaction)}"
                    )
                wait = hard_deadline - now
                if not interaction.acknowledged:
                    wait = min(
                        wait, interaction.dispatched_at + interaction.ack_deadline - now + 0.001
                    )
                elif interaction.response_type == DEFERRED_UPDATE_MESSAGE:
                    acked = interaction.acked_at or now
                    wait = min(wait, acked + settings.deferred_update_grace - now + 0.001)
            interaction.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interaction.changed.wait(), max(wait, 0.001))


def _nest(path: list[str], schema: list[JSON], leaf: list[JSON]) -> list[JSON]:
    """Wrap leaf options in their sub-command (and group) the way Discord nests them."""
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    match = next((o for o in schema if o.get("name") == head), None)
    kind = int(match["type"]) if match else (SUB_COMMAND_GROUP if rest else SUB_COMMAND)
    children = list(match.get("options") or []) if match else []
    return [{"name": head, "type": kind, "options": _nest(rest, children, leaf)}]


def _modal_answer(raw: JSON, filled: Mapping[str, str | Sequence[str]]) -> list[JSON]:
    """The submitted components, mirroring the modal's layout (rows or labels)."""

    def answer(child: JSON) -> JSON:
        custom_id = str(child.get("custom_id"))
        value = filled.get(custom_id, child.get("value") or "")
        if child.get("type", 4) == 4:
            return {
                "type": 4,
                "custom_id": custom_id,
                "value": value if isinstance(value, str) else ",".join(value),
            }
        values = [value] if isinstance(value, str) else list(value)
        return {"type": child["type"], "custom_id": custom_id, "values": values}

    rows: list[JSON] = []
    for row in raw.get("components") or []:
        if row.get("type") == 1:
            rows.append({"type": 1, "components": [answer(c) for c in row.get("components") or []]})
        elif row.get("type") == 18:
            rows.append({"type": 18, "component": answer(row["component"])})
    return rows


__all__ = ["Choice", "MemberDriver", "Modal", "ModalField", "Reply", "Resolved"]
