"""The App Home tab: bound channels the user can see, their workspace, alerts and running work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import Block, DividerBlock, HeaderBlock, PlainTextObject
from slack_sdk.models.views import View

from bot.services.models import ChannelBinding, WatchedRun
from bot.slack.messages.bindings import watch_line, workspace_label
from bot.slack.messages.common import MAX_VIEW_BLOCKS, context, section
from bot.slack.messages.mrkdwn import channel_mention, escape_mrkdwn, format_count, plural

_WATCHES_PER_CHANNEL = 5
_BLOCKS_PER_CHANNEL = 3  # section, watches, divider
_FIXED_BLOCKS = 4  # header, intro, overflow note, footer


def home_view(
    bindings: Sequence[ChannelBinding], watches_by_channel: Mapping[str, Sequence[WatchedRun]]
) -> View:
    """The Home tab; the caller has already filtered `bindings` to channels the user can see."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Skyvia Backup Bot")),
        section(
            f"*Connected channels you can see:* {format_count(len(bindings))}"
            if bindings
            else escape_mrkdwn(
                "No channel you can see is connected yet. Invite the bot to a channel and "
                "run `/skyvia connect <workspaceId>` there."
            )
        ),
    ]
    room = (MAX_VIEW_BLOCKS - _FIXED_BLOCKS) // _BLOCKS_PER_CHANNEL
    for binding in bindings[:room]:
        blocks.append(section(_channel_text(binding)))
        watches = watches_by_channel.get(binding.channel_id, ())
        if watches:
            blocks.append(section(_watches_text(watches)))
        blocks.append(DividerBlock())
    if len(bindings) > room:
        blocks.append(
            context(f"… and {plural(len(bindings) - room, 'more channel')} not shown here.")
        )
    blocks.append(context("Type `/skyvia help` in a connected channel for every command."))
    return View(type="home", blocks=blocks)


def _channel_text(binding: ChannelBinding) -> str:
    if binding.paused:
        alerts = ":double_vertical_bar: paused"
    elif binding.alerts_enabled:
        alerts = ":bell: alerts on"
    else:
        alerts = ":no_bell: alerts off"
    if binding.muted_backup_ids:
        alerts += f", {plural(len(binding.muted_backup_ids), 'backup')} muted"
    workspace = workspace_label(binding.workspace_id, binding.workspace_name)
    return f"{channel_mention(binding.channel_id)} · workspace {workspace} · {alerts}"


def _watches_text(watches: Sequence[WatchedRun]) -> str:
    lines = [f"*In progress:* {plural(len(watches), 'snapshot')}"]
    lines += [watch_line(watch) for watch in watches[:_WATCHES_PER_CHANNEL]]
    if len(watches) > _WATCHES_PER_CHANNEL:
        lines.append(f"… and {format_count(len(watches) - _WATCHES_PER_CHANNEL)} more")
    return "\n".join(lines)
