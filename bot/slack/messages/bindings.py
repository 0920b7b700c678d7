"""Connecting a channel to a workspace, disconnecting it, and the channel's status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.services.models import ChannelBinding, Reconnect, WatchedRun
from bot.services.timers import PendingEnd
from bot.slack.messages.common import (
    MAX_MESSAGE_BLOCKS,
    Message,
    actions,
    button,
    compact,
    context,
    fallback,
    fit_lines,
    section,
)
from bot.slack.messages.ids import ActionId, BlockId, CallbackId
from bot.slack.messages.mrkdwn import (
    backup_label,
    channel_mention,
    escape_cut,
    escape_mrkdwn,
    escape_name_cut,
    format_count,
    format_duration,
    plural,
    slack_date,
    state_emoji,
    state_name,
    user_mention,
)
from bot.slack.messages.payloads import ConnectModalMeta, ConnectRef, DisconnectRef
from bot.slack.messages.settings import limits_lines, mentioned

_WORKSPACE_NAME_LIMIT = 100
_STATUS_MUTES_SHOWN = 50
_STATUS_MUTES_CHARS = 2_000
"""Room for the muted backups' names in `status`'s alerts section (Slack's limit is 3,000)."""


def workspace_label(workspace_id: int, workspace_name: str | None) -> str:
    """`*Sales* (123)`, or `123` when Skyvia gave no name."""
    if workspace_name:
        return f"*{escape_name_cut(workspace_name, _WORKSPACE_NAME_LIMIT)}* ({workspace_id})"
    return str(workspace_id)


OWN_TOKEN_NOTE = (
    ":information_source: This bot's default Skyvia token serves only its operator's Slack "
    "workspaces, so this workspace connects with an access token of its own Skyvia account."
)


def connect_modal(
    *,
    channel_id: str,
    workspace_id: int | None = None,
    token_required: bool = True,
    own_token_required: bool = False,
) -> View:
    """Asks for the workspace id and an access token; read it back with
    `payloads.parse_connect_submission`. The token field never has an initial value.

    `own_token_required`: the bot has a default token, but not for this Slack team; say so, or
    `/skyvia connect <id>` opening a form would look like a bug.
    """
    token_hint = (
        "Stored encrypted, never shown again."
        if token_required
        else "Leave empty to use the bot's default token. Stored encrypted, never shown again."
    )
    return View(
        type="modal",
        callback_id=str(CallbackId.CONNECT_MODAL),
        private_metadata=ConnectModalMeta(channel_id=channel_id).dump(),
        title=PlainTextObject(text="Connect Skyvia"),
        submit=PlainTextObject(text="Connect"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            *([section(OWN_TOKEN_NOTE)] if own_token_required else []),
            section(
                f"Connect {channel_mention(channel_id)} to a Skyvia workspace. Create an access "
                "token in Skyvia under *Account Settings → API Settings*."
            ),
            InputBlock(
                block_id=str(BlockId.CONNECT_WORKSPACE),
                label=PlainTextObject(text="Workspace id"),
                element=PlainTextInputElement(
                    action_id=str(ActionId.CONNECT_WORKSPACE_INPUT),
                    placeholder=PlainTextObject(text="e.g. 123"),
                    initial_value=str(workspace_id) if workspace_id is not None else None,
                    max_length=11,
                ),
                hint=PlainTextObject(text="The number in the workspace's URL in Skyvia."),
            ),
            InputBlock(
                block_id=str(BlockId.CONNECT_TOKEN),
                label=PlainTextObject(text="Access token"),
                element=PlainTextInputElement(
                    action_id=str(ActionId.CONNECT_TOKEN_INPUT),
                    placeholder=PlainTextObject(text="Paste the token"),
                    max_length=4096,
                ),
                hint=PlainTextObject(text=token_hint),
                optional=not token_required,
            ),
        ],
    )


def connected_message(binding: ChannelBinding, user_id: str) -> Message:
    """Posted in the channel, so everyone learns who connected it to what.

    A re-connect to the same workspace keeps the channel's alert settings, so the message says
    what they are rather than promising alerts that are off.
    """
    line = (
        f":link: This channel is now connected to Skyvia workspace "
        f"{workspace_label(binding.workspace_id, binding.workspace_name)}, "
        f"by {user_mention(user_id)}."
    )
    tips = ["try `/skyvia backups`"]
    if binding.alerts_enabled:
        tips.append("`/skyvia alerts off` to stop alerts")
    return Message(
        text=fallback(line), blocks=[section(line), context(*_alert_facts(binding), *tips)]
    )


def _alert_facts(binding: ChannelBinding) -> list[str]:
    """What is true of the channel's alerts, for (re)connect: never a promise of alerts that
    are off."""
    if binding.alerts_enabled:
        alerts = ["Failed snapshots of this workspace will be announced here"]
    else:
        alerts = ["Failure alerts are off here", "`/skyvia alerts on` to turn them on"]
    if binding.muted_backup_ids:
        alerts.append(f"{plural(len(binding.muted_backup_ids), 'backup')} muted")
    return alerts


def already_connected_message(binding: ChannelBinding) -> Message:
    """Told to the admin only: `connect` to the workspace the channel is connected to already,
    with the same default token and no pause to lift, changes nothing
    (docs/reference/messages.md#channel-notices)."""
    line = (
        f":link: This channel is already connected to Skyvia workspace "
        f"{workspace_label(binding.workspace_id, binding.workspace_name)} "
        f"(by {user_mention(binding.connected_by)}); nothing changed."
    )
    facts = context(*_alert_facts(binding), "`/skyvia status` shows more")
    return Message(text=fallback(line), blocks=[section(line), facts])


def replace_binding_message(
    current: ChannelBinding,
    watches: int,
    workspace_id: int,
    names: Mapping[int, str] | None = None,
) -> Message:
    """Asks an admin before `connect` replaces the channel's workspace with another one.

    Replacing drops what belongs to the old workspace: its mutes and the watched snapshots,
    so the user is told exactly that, and the Confirm button carries only the new id.
    """
    old = workspace_label(current.workspace_id, current.workspace_name)
    line = (
        f":warning: This channel is connected to Skyvia workspace {old}. "
        f"Connect it to workspace {workspace_id} instead?"
    )
    dropped = []
    if current.muted_backup_ids:
        dropped.append(f"the mutes of backups {_muted_labels(current.muted_backup_ids, names)}")
    if watches:
        dropped.append(f"{plural(watches, 'watched snapshot')} (not reported any more)")
    drop_line = (
        "This drops " + " and ".join(dropped) + "."
        if dropped
        else "No mutes or watched snapshots will be dropped."
    )
    return Message(
        text=fallback(f"{line} {drop_line}"),
        blocks=compact(
            [
                section(line),
                context(drop_line),
                actions(
                    button(
                        f"Connect to {workspace_id}",
                        ActionId.CONFIRM_CONNECT,
                        ConnectRef(workspace_id=workspace_id),
                        danger=True,
                    )
                ),
            ]
        ),
    )


def disconnect_question(
    binding: ChannelBinding, windows: Sequence[PendingEnd], digest: str | None
) -> Message:
    """Asks an admin before `disconnect` leaves anything behind, and lists it: the windows
    (which still end on time, and say so here), the mutes and the digest (which go)."""
    label = workspace_label(binding.workspace_id, binding.workspace_name)
    line = f":warning: Disconnect this channel from Skyvia workspace {label}?"
    lines = [
        f"The maintenance window of {backup_label(w.backup_name, w.backup_id)} still ends "
        f"{slack_date(w.due_at)} and turns its schedule back on."
        for w in windows
    ]
    if binding.muted_backup_ids:
        muted = ", ".join(str(i) for i in binding.muted_backup_ids[:_STATUS_MUTES_SHOWN])
        hidden = len(binding.muted_backup_ids) - _STATUS_MUTES_SHOWN
        more = f" and {format_count(hidden)} more" if hidden > 0 else ""
        lines.append(f"The mutes of backups {muted}{more} are dropped.")
    if digest is not None:
        lines.append(f"The daily digest at {escape_mrkdwn(digest)} stops.")
    ref = DisconnectRef(bound_at=int(binding.connected_at.timestamp()))
    return Message(
        text=fallback(" ".join([line, *lines])),
        blocks=compact(
            [
                section(line),
                section(fit_lines(lines)) if lines else None,
                actions(button("Disconnect", ActionId.CONFIRM_DISCONNECT, ref, danger=True)),
            ]
        ),
    )


def watch_ended_card(watch: WatchedRun, reason: str) -> Message:
    """The final update of a lifecycle card whose watch was stopped (`reason` is mrkdwn)."""
    label = backup_label(watch.backup_name, watch.backup_id)
    line = f":black_square_for_stop: Snapshot of {label}: no longer watched: {reason}."
    return Message(
        text=fallback(line),
        blocks=[
            section(line),
            context(
                f"Started by {user_mention(watch.started_by)}",
                f"snapshot {watch.snapshot_id}",
                slack_date(watch.started_at),
                "its outcome will not be posted here",
            ),
        ],
    )


def disconnected_message(
    workspace_id: int, user_id: str, stopped_watches: int = 0, workspace_name: str | None = None
) -> Message:
    """Posted in the channel: the binding is gone and watched snapshots will not be reported."""
    line = (
        f":broken_chain: This channel was disconnected from Skyvia workspace "
        f"{workspace_label(workspace_id, workspace_name)} by {user_mention(user_id)}."
    )
    details = ["No more failure alerts here"]
    if stopped_watches:
        details.append(f"{plural(stopped_watches, 'watched snapshot')} will not be reported")
    details.append(escape_mrkdwn("`/skyvia connect <workspaceId>` to connect again"))
    return Message(text=fallback(line), blocks=[section(line), context(*details)])


QUEUED_NOTICE_AFTER = 10.0
"""Seconds the oldest queued message must have waited before `status` mentions the queue."""


def status_message(
    binding: ChannelBinding | None,
    watches: Sequence[WatchedRun],
    names: Mapping[int, str] | None = None,
    *,
    queued: int = 0,
    queued_for: float | None = None,
) -> Message:
    """The channel's binding, its alert settings (who alerts mention, muted backups, limits set
    by hand), what is being watched, and whether messages for it wait behind Slack's rate
    limits (`queued`, the oldest for `queued_for` seconds); `names` name the muted backups and
    those with limits (the id alone for one it lacks)."""
    if binding is None:
        line = "This channel is not connected to a Skyvia workspace."
        fix = "An admin can run `/skyvia connect &lt;workspaceId&gt;`."
        return Message(text=fallback(f"{line} {fix}"), blocks=[section(f"{line} {fix}")])

    line = (
        f":link: This channel is connected to Skyvia workspace "
        f"{workspace_label(binding.workspace_id, binding.workspace_name)}"
    )
    blocks: list[Block | None] = [
        section(line),
        context(
            f"Connected by {user_mention(binding.connected_by)}",
            slack_date(binding.connected_at),
            "default token" if binding.uses_default_token else "own token",
        ),
        section(_alerts_line(binding, names or {})),
        _limits_section(binding, names or {}),
        section(_watches_text(watches)),
        _queue_line(queued, queued_for),
    ]
    return Message(text=fallback(line), blocks=compact(blocks)[:MAX_MESSAGE_BLOCKS])


def _queue_line(queued: int, queued_for: float | None) -> Block | None:
    if queued <= 0 or queued_for is None or queued_for < QUEUED_NOTICE_AFTER:
        return None
    return context(
        f":hourglass_flowing_sand: {plural(queued, 'message')} for this channel "
        f"{'is' if queued == 1 else 'are'} queued behind Slack's rate limits (the oldest for "
        f"{format_duration(queued_for)}); they go out in order as Slack allows"
    )


_RECONNECT_HINTS = {
    Reconnect.WITH_A_WORKING_TOKEN: "an admin can reconnect with `/skyvia connect`",
    Reconnect.WITH_ITS_OWN_TOKEN: (
        "an admin can reconnect with the workspace's own token (`/skyvia connect`)"
    ),
}


def pause_reason(binding: ChannelBinding, unsaid: str) -> str:
    """Why the channel is paused, escaped and cut, with how to lift it when a `connect` does;
    `unsaid`: the words for a pause stored without a reason."""
    reason = binding.paused_reason or unsaid
    if binding.reconnect is not None:
        reason = f"{reason}; {_RECONNECT_HINTS[binding.reconnect]}"
    return escape_cut(reason, 300)


def _alerts_line(binding: ChannelBinding, names: Mapping[int, str]) -> str:
    if binding.paused:
        reason = pause_reason(binding, "the bot cannot post here")
        return f":double_vertical_bar: Paused: {reason}. Alerts and thread replies are on hold."
    if not binding.alerts_enabled:
        alerts = ":no_bell: Failure alerts are *off* (`/skyvia alerts on`)."
    else:
        alerts = ":bell: Failure alerts are *on*."
    muted = binding.muted_backup_ids
    if muted:
        alerts += f" Muted backups: {_muted_labels(muted, names)}."
    if binding.mention_ids:
        alerts += f" Alerts here mention {mentioned(binding.mention_ids)}."
    return alerts


def _limits_section(binding: ChannelBinding, names: Mapping[int, str]) -> Block | None:
    """The stale and overdue limits set by hand here, one backup a line (`auto` is unsaid)."""
    if binding.paused or not binding.limits:
        return None
    return section(fit_lines(["*Limits set here:*", *limits_lines(binding.limits, names)]))


def _muted_labels(muted: Sequence[int], names: Mapping[int, str] | None) -> str:
    """`*Nightly CRM* (456), *Jira* (462) and 3 more`: as many as fit the section's room."""
    labels: list[str] = []
    for backup_id in muted[:_STATUS_MUTES_SHOWN]:
        label = backup_label((names or {}).get(backup_id), backup_id)
        if sum(len(x) + 2 for x in labels) + len(label) > _STATUS_MUTES_CHARS:
            break  # long names: the rest are counted, so the section stays whole
        labels.append(label)
    hidden = len(muted) - len(labels)
    return ", ".join(labels) + (f" and {format_count(hidden)} more" if hidden > 0 else "")


def _watches_text(watches: Sequence[WatchedRun]) -> str:
    if not watches:
        return "No snapshot started from this channel is running."
    header = f"*Watching {plural(len(watches), 'snapshot')}:*"
    return fit_lines([header, *(watch_line(watch) for watch in watches)])


def watch_line(watch: WatchedRun, started: str = "{date_short_pretty} at {time}") -> str:
    """`🔄 Snapshot 7001 of *Nightly CRM* (456) · Running · started by @dana at …`: the state the
    last poll saw; `started` is the Slack date format of the start (`{ago}` in App Home)."""
    state = (
        f"{state_emoji(watch.state)} {state_name(watch.state)}"
        if watch.state is not None
        else ":hourglass_flowing_sand: waiting for the first check"
    )
    return (
        f"• Snapshot {watch.snapshot_id} of {backup_label(watch.backup_name, watch.backup_id)}"
        f" · {state} · started by {user_mention(watch.started_by)}"
        f" {slack_date(watch.started_at, started)}"
    )
