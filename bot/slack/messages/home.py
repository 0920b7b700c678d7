"""The App Home tab: recent failures, runs in progress and each visible channel's alert settings.

Everything here comes from the bot's own tables (the delivery ledger, the watches, the
bindings), never from Skyvia, so opening the tab costs no Skyvia call. The view is cut to
Slack's 100-block limit: failures first (a bounded number), then as many channels as fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from slack_sdk.models.blocks import (
    Block,
    ConfirmObject,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.services.digests import DigestSetting
from bot.services.models import ChannelBinding, OverdueRun, RecentFailure, WatchedRun
from bot.slack.messages.bindings import pause_reason, watch_line, workspace_label
from bot.slack.messages.common import (
    MAX_VIEW_BLOCKS,
    actions,
    button,
    confirm_dialog,
    context,
    fit_lines,
    section,
)
from bot.slack.messages.episodes import streak_phrase
from bot.slack.messages.ids import ActionId
from bot.slack.messages.mrkdwn import (
    backup_label,
    channel_mention,
    escape_mrkdwn,
    format_count,
    format_duration,
    plural,
    slack_date,
)
from bot.slack.messages.payloads import HomeFailureRef
from bot.slack.messages.settings import limits_lines, mentioned

MAX_FAILURES = 10
_WATCHES_PER_CHANNEL = 5
_MUTES_SHOWN = 5
_LIMITS_SHOWN = 5
_BLOCKS_PER_FAILURE = 2  # the line, its buttons
_BLOCKS_PER_CHANNEL = 3  # settings, watches, divider
_FIXED_BLOCKS = 6  # header, intro, failures title, failures overflow note, channels note, footer


@dataclass(frozen=True)
class HomeChannel:
    """One visible channel as the tab shows it."""

    binding: ChannelBinding
    watches: Sequence[WatchedRun] = ()
    backup_names: Mapping[int, str] = field(default_factory=dict)
    digest: DigestSetting | None = None
    subscribed: Sequence[int] = ()
    """The backups the viewer follows by DM from this channel (0: every backup)."""
    overdue: Sequence[OverdueRun] = ()
    """Runs going that the channel was told take unusually long."""


def home_view(channels: Sequence[HomeChannel], failures: Sequence[RecentFailure] = ()) -> View:
    """The Home tab; the caller has already filtered both to channels the user can see."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Skyvia Backup Bot")),
        section(
            f"*Connected channels you can see:* {format_count(len(channels))}"
            if channels
            else escape_mrkdwn(
                "No channel you can see is connected yet. Invite the bot to a channel and "
                "run `/skyvia connect <workspaceId>` there."
            )
        ),
    ]
    if failures:
        blocks.append(section("*Recent failures*"))
        for failure in failures[:MAX_FAILURES]:
            blocks += _failure_blocks(failure)
        blocks.append(DividerBlock())
    room = max(0, (MAX_VIEW_BLOCKS - len(blocks) - 2) // _BLOCKS_PER_CHANNEL)
    for channel in channels[:room]:
        blocks.append(section(_channel_text(channel)))
        if channel.watches or channel.overdue:
            blocks.append(section(_in_progress_text(channel)))
        blocks.append(DividerBlock())
    if len(channels) > room:
        blocks.append(
            context(f"… and {plural(len(channels) - room, 'more channel')} not shown here.")
        )
    blocks.append(context("Type `/skyvia help` in a connected channel for every command."))
    return View(type="home", blocks=blocks[:MAX_VIEW_BLOCKS])


def _failure_blocks(failure: RecentFailure) -> list[Block]:
    """The alert's episode as it is now: still failing (the buttons act on its latest failure),
    or recovered (nothing left to retry); the alert alone when its episode is not known."""
    latest = failure.latest_snapshot_id or failure.snapshot_id
    ref = HomeFailureRef(
        channel_id=failure.channel_id,
        backup_id=failure.backup_id,
        snapshot_id=latest,
        alert_ts=failure.message_ts,
    )
    label = backup_label(failure.backup_name, failure.backup_id)
    where = (
        f"{channel_mention(failure.channel_id)} · alerted {slack_date(failure.alerted_at, '{ago}')}"
    )
    if failure.failures is None or failure.failing_since is None:
        line = f":x: {label} · snapshot {failure.snapshot_id} failed · {where}"
    elif failure.recovered_at is None:
        line = (
            f":x: {label} is failing — {streak_phrase(failure.failures)} since "
            f"{slack_date(failure.failing_since)} · latest: snapshot {latest} · {where}"
        )
    else:
        line = (
            f":white_check_mark: {label} recovered after {plural(failure.failures, 'failure')} · "
            f"{slack_date(failure.recovered_at)} · first failure: snapshot "
            f"{failure.snapshot_id} · {where}"
        )
    run = button("Run snapshot", ActionId.HOME_RUN_SNAPSHOT, ref, confirm=_confirm(label))
    buttons = actions(
        None if failure.recovered_at is not None else run,
        button("Show log", ActionId.HOME_SHOW_LOG, ref),
    )
    return [section(line), *([buttons] if buttons is not None else [])]


def _confirm(label: str) -> ConfirmObject:
    return confirm_dialog(
        title="Run a snapshot?",
        text=f"Start a snapshot of {label} now? Its card goes to the alert's thread.",
        confirm="Run snapshot",
    )


def _channel_text(channel: HomeChannel) -> str:
    binding = channel.binding
    if binding.paused:
        reason = pause_reason(binding, "the bot cannot post there")
        alerts = f":double_vertical_bar: paused: {reason}"
    elif binding.alerts_enabled:
        alerts = ":bell: alerts on"
    else:
        alerts = ":no_bell: alerts off"
    workspace = workspace_label(binding.workspace_id, binding.workspace_name)
    lines = [f"{channel_mention(binding.channel_id)} · workspace {workspace} · {alerts}"]
    muted = binding.muted_backup_ids
    if muted:
        names = [backup_label(channel.backup_names.get(b), b) for b in muted[:_MUTES_SHOWN]]
        more = len(muted) - _MUTES_SHOWN
        lines.append(
            f":mute: muted: {', '.join(names)}"
            + (f" and {format_count(more)} more" if more > 0 else "")
        )
    if binding.mention_ids:
        lines.append(f":mega: alerts mention {mentioned(binding.mention_ids)}")
    lines += _limits_lines(binding, channel.backup_names)
    if channel.digest is not None:
        lines.append(f":clipboard: daily digest at {channel.digest.words}")
    if channel.subscribed:
        followed = (
            "every backup"
            if 0 in channel.subscribed
            else ", ".join(backup_label(channel.backup_names.get(b), b) for b in channel.subscribed)
        )
        lines.append(f":envelope: you get failures and recoveries of {followed} by DM")
    return fit_lines(lines)


def _limits_lines(binding: ChannelBinding, names: Mapping[int, str]) -> list[str]:
    """The stale and overdue limits set by hand in the channel, a few backups of them."""
    shown = [
        f":straight_ruler: {line}" for line in limits_lines(binding.limits[:_LIMITS_SHOWN], names)
    ]
    more = len(binding.limits) - _LIMITS_SHOWN
    if more > 0:
        shown.append(f":straight_ruler: … and limits of {plural(more, 'more backup')}")
    return shown


def _in_progress_text(channel: HomeChannel) -> str:
    """Runs taking unusually long first (docs/reference/messages.md#runs-that-take-unusually-long),
    then the snapshots watched there."""
    lines = [_overdue_line(run) for run in channel.overdue[:_WATCHES_PER_CHANNEL]]
    watches = channel.watches
    if watches:
        lines.append(f"*In progress:* {plural(len(watches), 'snapshot')}")
        lines += [watch_line(watch, "{ago}") for watch in watches[:_WATCHES_PER_CHANNEL]]
        if len(watches) > _WATCHES_PER_CHANNEL:
            lines.append(f"… and {format_count(len(watches) - _WATCHES_PER_CHANNEL)} more")
    return fit_lines(lines)


def _overdue_line(run: OverdueRun) -> str:
    usual = (
        f" — usually {format_duration(run.usual_seconds)}" if run.usual_seconds is not None else ""
    )
    return (
        f":hourglass_flowing_sand: {backup_label(run.backup_name, run.backup_id)} running "
        f"{format_duration(run.running_seconds)}{usual} · snapshot {run.snapshot_id}"
    )
