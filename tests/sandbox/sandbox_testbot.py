"""A small discord.py bot the sandbox tests drive: one command per behaviour under test.

It knows nothing of the emulator; it is an ordinary bot with app commands that
reply with embeds, defer, follow up, show buttons, open modals and autocomplete.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

# What the start_bot fixture gives a test: start a SandboxBot with these options.
BotFactory = Callable[..., Awaitable["SandboxBot"]]

POSTS = ["Hello world", "Help wanted", "Harvest festival", "Weekly digest", "Welcome thread"]
NO_PINGS = discord.AllowedMentions.none()


class Pager(discord.ui.View):
    """Two pages; only the member who ran the command may turn them."""

    def __init__(self, owner_id: int) -> None:
        super().__init__(timeout=60)
        self.owner_id = owner_id
        self.page = 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "Only the member who ran /pager can use these.", ephemeral=True
            )
            return False
        return True

    @discord.ui.button(label="Next", style=discord.ButtonStyle.primary)
    async def next_page(
        self, interaction: discord.Interaction, button: discord.ui.Button[Pager]
    ) -> None:
        self.page += 1
        button.disabled = self.page >= 2
        await interaction.response.edit_message(content=f"Page {self.page}", view=self)

    @discord.ui.button(label="Later", style=discord.ButtonStyle.secondary)
    async def later(
        self, interaction: discord.Interaction, button: discord.ui.Button[Pager]
    ) -> None:
        await interaction.response.defer()
        await asyncio.sleep(0.01)
        await interaction.edit_original_response(
            content="Edited after a deferred update", view=None
        )


class Feedback(discord.ui.Modal, title="Feedback"):
    """A one-field modal."""

    topic: discord.ui.TextInput[Feedback] = discord.ui.TextInput(
        label="Topic", custom_id="topic", max_length=50
    )
    body: discord.ui.TextInput[Feedback] = discord.ui.TextInput(
        label="Body", style=discord.TextStyle.paragraph, required=False
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"Thanks for {self.topic.value!r}: {self.body.value or '(no body)'}", ephemeral=True
        )


class SandboxBot(commands.AutoShardedBot):
    """The bot under the sandbox tests."""

    def __init__(
        self,
        *,
        sync_guild_id: int | None = None,
        intents: discord.Intents | None = None,
        identify_pause: float = 0.0,
        **options: Any,
    ) -> None:
        options.setdefault("guild_ready_timeout", 0.05)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default() if intents is None else intents,
            **options,
        )
        self.sync_guild_id = sync_guild_id
        self.identify_pause = identify_pause
        # What discord.py made of the gateway's events: (event, id of the user or channel).
        self.events: list[tuple[str, int]] = []
        self.errors: list[BaseException] = []
        self.http_errors: list[discord.HTTPException] = []
        self.views: list[discord.ui.View] = []
        add_commands(self)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py sleeps 5 s before every non-initial IDENTIFY, Discord's pace; the sandbox
        # tests turn the emulator's identify limit off and pause `identify_pause` instead.
        if not initial and self.identify_pause:
            await asyncio.sleep(self.identify_pause)

    async def close(self) -> None:
        # discord.py leaves a view's timeout task running after close(); stop them ourselves.
        for view in self.views:
            view.stop()
        await super().close()

    async def setup_hook(self) -> None:
        self.tree.error(self.on_app_command_error)
        await self.tree.sync()
        if self.sync_guild_id is not None:
            await self.tree.sync(guild=discord.Object(self.sync_guild_id))

    async def on_member_ban(self, guild: discord.Guild, user: discord.abc.User) -> None:
        self.events.append(("member_ban", user.id))

    async def on_member_unban(self, guild: discord.Guild, user: discord.User) -> None:
        self.events.append(("member_unban", user.id))

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        self.events.append(("member_remove", payload.user.id))

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        self.events.append(("channel_delete", channel.id))

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self.errors.append(error)


def add_commands(bot: SandboxBot) -> None:
    """Register the test commands on the bot's tree."""
    tree = bot.tree

    @tree.command(name="profile", description="Show a profile card")
    @app_commands.describe(name="Display name", age="Age in years")
    async def profile(
        interaction: discord.Interaction,
        name: str,
        age: app_commands.Range[int, 13, 120],
        motto: str | None = None,
    ) -> None:
        embed = discord.Embed(title=f"Profile of {name}", description=motto or "No motto yet.")
        embed.add_field(name="Age", value=str(age))
        embed.set_footer(text=f"Requested by {interaction.user.name}")
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_PINGS)

    @tree.command(name="slow", description="Think, then answer")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await asyncio.sleep(0.02)
        await interaction.edit_original_response(content="Done thinking.")

    @tree.command(name="secret", description="Public defer, then a private answer")
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.delete_original_response()
        await interaction.followup.send("Only you can see this.", ephemeral=True)

    @tree.command(name="leaky", description="Public defer, then an 'ephemeral' follow-up")
    async def leaky(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.followup.send("Meant to be private.", ephemeral=True)

    @tree.command(name="pager", description="Pages with buttons")
    async def pager(interaction: discord.Interaction, private: bool = False) -> None:
        view = Pager(interaction.user.id)
        bot.views.append(view)
        await interaction.response.send_message("Page 1", view=view, ephemeral=private)

    @tree.command(name="deletepost", description="Delete a post")
    async def deletepost(interaction: discord.Interaction, post: str) -> None:
        await interaction.response.send_message(f"Deleted {post!r}.", ephemeral=True)

    @deletepost.autocomplete("post")
    async def deletepost_post(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=title, value=str(index))
            for index, title in enumerate(POSTS)
            if title.lower().startswith(current.lower())
        ][:25]

    @tree.command(name="whois", description="Who is that member?")
    async def whois(interaction: discord.Interaction, member: discord.Member) -> None:
        await interaction.response.send_message(
            f"{member.mention} is {member.display_name} ({member.id}).", allowed_mentions=NO_PINGS
        )

    @tree.command(name="shout", description="Echo text without suppressing mentions")
    async def shout(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text)

    @tree.command(name="ban", description="Ban someone (moderators)")
    @app_commands.default_permissions(ban_members=True)
    @app_commands.guild_only()
    async def ban(interaction: discord.Interaction, member: discord.Member) -> None:
        await interaction.response.send_message(f"Would ban {member.display_name}.", ephemeral=True)

    @tree.command(name="feedback", description="Send feedback through a form")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Feedback())

    @tree.command(
        name="echo", description="Send an embed with the given title; report Discord's error"
    )
    async def echo(interaction: discord.Interaction, title: str, fields: int = 0) -> None:
        embed = discord.Embed(title=title)
        for index in range(fields):
            embed.add_field(name=f"f{index}", value="v")
        try:
            await interaction.response.send_message(embed=embed)
        except discord.HTTPException as error:
            bot.http_errors.append(error)
            await interaction.response.send_message(f"Discord said {error.code}", ephemeral=True)

    @tree.command(
        name="export", description="Send a file of the given size; report Discord's error"
    )
    async def export(interaction: discord.Interaction, size: int, followup: bool = False) -> None:
        data = bytes(index % 251 for index in range(size))
        file = discord.File(io.BytesIO(data), filename="export.bin")
        try:
            if followup:
                await interaction.response.defer(ephemeral=True)
                await interaction.followup.send("Your export (follow-up)", file=file)
            else:
                await interaction.response.send_message("Your export", file=file, ephemeral=True)
        except discord.HTTPException as error:
            bot.http_errors.append(error)
            text = f"Discord said {error.code}"
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)

    @tree.command(name="sleepy", description="Answer too late")
    async def sleepy(interaction: discord.Interaction, seconds: float) -> None:
        await asyncio.sleep(seconds)
        try:
            await interaction.response.send_message("Finally awake.")
        except discord.HTTPException as error:
            bot.http_errors.append(error)

    @tree.command(name="choose", description="Pick a colour")
    @app_commands.choices(
        colour=[
            app_commands.Choice(name="Red", value="red"),
            app_commands.Choice(name="Blue", value="blue"),
        ]
    )
    async def choose(
        interaction: discord.Interaction, colour: app_commands.Choice[str], shout: bool = False
    ) -> None:
        text = f"You chose {colour.name}"
        await interaction.response.send_message(text.upper() if shout else text)

    @tree.command(name="where", description="Which channel and role?")
    async def where(
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        role: discord.Role | None = None,
        ratio: app_commands.Range[float, 0.0, 1.0] = 0.5,
        nick: app_commands.Range[str, 2, 8] = "xx",
    ) -> None:
        await interaction.response.send_message(
            f"#{channel.name} {role.name if role else '-'} {ratio} {nick}",
            allowed_mentions=NO_PINGS,
        )

    post = app_commands.Group(name="post", description="Posts")

    @post.command(name="create", description="Create a post")
    async def post_create(interaction: discord.Interaction, title: str) -> None:
        await interaction.response.send_message(f"Created {title!r}.")

    tree.add_command(post)

    @app_commands.command(name="alphaonly", description="A guild command")
    async def alphaonly(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"Hello from {interaction.guild.name if interaction.guild else '?'}."
        )

    if bot.sync_guild_id is not None:
        tree.add_command(alphaonly, guild=discord.Object(bot.sync_guild_id))
