"""The bot's buttons, each defined once: the same label, payload and confirm wherever it appears.

Buttons that change something (run a snapshot, toggle a schedule, mute) always carry a confirm
dialog, and their payloads name a backup or snapshot but never a workspace
(docs/reference/commands.md#buttons).
"""

from __future__ import annotations

from slack_sdk.models.blocks import ButtonElement, Option, OverflowMenuElement, StaticSelectElement

from bot.slack.messages.common import button, confirm_dialog
from bot.slack.messages.ids import ActionId
from bot.slack.messages.mrkdwn import backup_label
from bot.slack.messages.payloads import (
    BackupRef,
    BackupsPageRef,
    HealthPageRef,
    MuteForRef,
    RowAction,
    RowChoice,
    RunAnywayRef,
    RunRef,
    ScheduleRef,
    Screen,
    SnapshotFilters,
    SnapshotRef,
    SnapshotsPageRef,
    TakeRef,
)

ENABLE_SCHEDULE = "Enable schedule"
DISABLE_SCHEDULE = "Disable schedule"


def run_snapshot_button(
    backup_id: int,
    backup_name: str | None,
    *,
    retry_of: int | None = None,
    primary: bool = False,
) -> ButtonElement:
    """`retry_of`: on a failure (alert, failed card or reply), the failed snapshot's id, so the
    new run's card joins that message's thread. `primary` where running again is the obvious
    next step (a failure alert)."""
    return button(
        "Run snapshot",
        ActionId.RUN_SNAPSHOT,
        RunRef(backup_id=backup_id, retry_of=retry_of),
        primary=primary,
        confirm=confirm_dialog(
            title="Run a snapshot?",
            text=f"Start a snapshot of {backup_label(backup_name, backup_id)} now?",
            confirm="Run snapshot",
        ),
    )


def run_anyway_button(backup_id: int, backup_name: str | None, active_id: int) -> ButtonElement:
    return button(
        "Start another anyway",
        ActionId.RUN_SNAPSHOT_ANYWAY,
        RunAnywayRef(backup_id=backup_id, active_id=active_id),
        confirm=confirm_dialog(
            title="Start a second snapshot?",
            text=f"Snapshot {active_id} of {backup_label(backup_name, backup_id)} was running "
            "when this was shown. If it still runs, start a second one anyway?",
            confirm="Start another",
        ),
    )


def schedule_button(
    backup_id: int,
    backup_name: str | None,
    active: bool | None,
    *,
    screen: Screen = Screen.SCHEDULE,
    page: int = 1,
) -> ButtonElement:
    """`Disable schedule` when active, `Enable schedule` when not, `Schedule` when unknown.

    The payload carries the state asked for, so a click on a stale message does what it said,
    and the `screen` (and `page`) the button is on, which the toggle redraws.
    """
    if active is None:
        return button("Schedule", ActionId.SHOW_SCHEDULE, BackupRef(backup_id=backup_id))
    label = backup_label(backup_name, backup_id)
    if active:
        confirm = confirm_dialog(
            title="Disable the schedule?",
            text=f"Scheduled snapshots of {label} stop until someone enables the schedule again.",
            confirm="Disable schedule",
            danger=True,
        )
    else:
        confirm = confirm_dialog(
            title="Enable the schedule?",
            text=f"{label} will run on its Skyvia schedule again.",
            confirm="Enable schedule",
        )
    return button(
        DISABLE_SCHEDULE if active else ENABLE_SCHEDULE,
        ActionId.SCHEDULE_TOGGLE,
        ScheduleRef(backup_id=backup_id, enable=not active, screen=screen, page=page),
        confirm=confirm,
    )


def undo_schedule_button(
    backup_id: int, active: bool, backup_name: str | None = None
) -> ButtonElement:
    """On a schedule notice: asks for the state before the change (not a flip), so an Undo
    clicked after someone else already switched back is answered "already …"."""
    label = backup_label(backup_name, backup_id)
    return button(
        "Undo",
        ActionId.SCHEDULE_UNDO,
        ScheduleRef(backup_id=backup_id, enable=not active),
        confirm=confirm_dialog(
            title="Undo the change?",
            text=f"Switch the schedule of {label} back {'off' if active else 'on'}?",
            confirm="Undo",
            danger=not active,
        ),
    )


def details_button(backup_id: int) -> ButtonElement:
    return button("Details", ActionId.BACKUP_DETAILS, BackupRef(backup_id=backup_id))


def snapshots_button(backup_id: int, filters: SnapshotFilters | None = None) -> ButtonElement:
    ref = SnapshotsPageRef(backup_id=backup_id, filters=filters or SnapshotFilters())
    return button("Snapshots", ActionId.SHOW_SNAPSHOTS, ref)


def show_log_button(backup_id: int, snapshot_id: int) -> ButtonElement:
    return button(
        "Show log",
        ActionId.SHOW_LOG,
        SnapshotRef(backup_id=backup_id, snapshot_id=snapshot_id),
    )


def mute_button(backup_id: int, backup_name: str | None) -> ButtonElement:
    return button(
        "Mute this backup",
        ActionId.MUTE_BACKUP,
        BackupRef(backup_id=backup_id),
        confirm=confirm_dialog(
            title="Mute this backup?",
            text=f"This channel stops getting failure alerts for "
            f"{backup_label(backup_name, backup_id)}. Undo with "
            f"`/skyvia alerts unmute {backup_id}`.",
            confirm="Mute",
        ),
    )


MUTE_FOR_HOURS = (1, 4, 24, 0)
"""The mute menu's choices in hours; 0 is "until unmuted"."""


def mute_menu(backup_id: int, backup_name: str | None) -> StaticSelectElement:
    """The failure alert's "Mute this backup" as a menu: 1 h, 4 h, 24 h or until unmuted.

    A timed mute ends by itself with a note, so the common "quiet while I fix it" needs no
    second step; "until unmuted" is the old button's meaning.
    """
    options = [
        Option(
            text=f"Mute for {hours} h" if hours else "Mute until unmuted",
            value=MuteForRef(backup_id=backup_id, hours=hours).dump(),
        )
        for hours in MUTE_FOR_HOURS
    ]
    return StaticSelectElement(
        placeholder="Mute this backup",
        action_id=str(ActionId.MUTE_BACKUP_FOR),
        options=options,
        confirm=confirm_dialog(
            title="Mute this backup?",
            text=f"This channel stops getting failure alerts for "
            f"{backup_label(backup_name, backup_id)}. Undo with "
            f"`/skyvia alerts unmute {backup_id}`.",
            confirm="Mute",
        ),
    )


def unmute_button(backup_id: int, backup_name: str | None = None) -> ButtonElement:
    return button(
        "Unmute",
        ActionId.UNMUTE_BACKUP,
        BackupRef(backup_id=backup_id),
        confirm=confirm_dialog(
            title="Unmute this backup?",
            text="This channel gets failure alerts for "
            f"{backup_label(backup_name, backup_id)} again.",
            confirm="Unmute",
        ),
    )


def end_window_button(backup_id: int, backup_name: str | None = None) -> ButtonElement:
    return button(
        "End window now",
        ActionId.END_WINDOW,
        BackupRef(backup_id=backup_id),
        confirm=confirm_dialog(
            title="End the window now?",
            text=f"The maintenance window of {backup_label(backup_name, backup_id)} ends now, "
            "as it would have at its end: its schedule is switched back on.",
            confirm="End window",
        ),
    )


def row_menu(
    backup_id: int,
    scheduled: bool | None,
    *,
    page: int = 1,
    text: str | None = None,
    backup_name: str | None = None,
    muted: bool = False,
) -> OverflowMenuElement:
    """The one menu of a backups list row: Run snapshot, the schedule toggle, Details, and
    Mute, or Unmute when the backup is `muted` in this channel.

    Each option's value is a `RowChoice`, which `handlers.topics.snapshots` turns into the
    matching button's own payload, so a choice does exactly what that button does (the same
    claim, the same listener). The schedule option names the state asked for, like the toggle
    button. Slack confirms a whole overflow menu or none of it: three of its options change
    something, so every pick is confirmed, naming what each does.
    """
    if scheduled is None:
        schedule = ("Schedule", RowAction.SCHEDULE)
    elif scheduled:
        schedule = (DISABLE_SCHEDULE, RowAction.DISABLE)
    else:
        schedule = (ENABLE_SCHEDULE, RowAction.ENABLE)
    choices = [
        ("Run snapshot", RowAction.RUN),
        schedule,
        ("Details", RowAction.DETAILS),
        ("Unmute", RowAction.UNMUTE) if muted else ("Mute", RowAction.MUTE),
    ]
    mute_words = (
        "*Unmute* lets this channel's alerts for it through again"
        if muted
        else "*Mute* stops this channel's alerts for it"
    )
    return OverflowMenuElement(
        action_id=ActionId.BACKUP_ROW_MENU,
        confirm=confirm_dialog(
            title="Go ahead?",
            text=f"For {backup_label(backup_name, backup_id)}: *Run snapshot* starts one now, "
            + (f"*{schedule[0]}* switches its schedule, " if scheduled is not None else "")
            + f"{mute_words}; *Details* only shows it.",
            confirm="Go ahead",
        ),
        options=[
            Option(
                text=label,
                value=RowChoice(do=do, backup_id=backup_id, page=page, text=text).dump(),
            )
            for label, do in choices
        ],
    )


def backups_nav(page: int, has_more: bool, text: str | None = None) -> list[ButtonElement]:
    nav = []
    if page > 1:
        ref = BackupsPageRef(page=page - 1, text=text)
        nav.append(button("Previous", ActionId.BACKUPS_PAGE_PREV, ref))
    if has_more:
        ref = BackupsPageRef(page=page + 1, text=text)
        nav.append(button("Next", ActionId.BACKUPS_PAGE_NEXT, ref))
    return nav


def health_nav(page: int, has_more: bool) -> list[ButtonElement]:
    nav = []
    if page > 1:
        nav.append(button("Previous", ActionId.HEALTH_PAGE_PREV, HealthPageRef(page=page - 1)))
    if has_more:
        nav.append(button("Next", ActionId.HEALTH_PAGE_NEXT, HealthPageRef(page=page + 1)))
    return nav


def share_health_button(page: int) -> ButtonElement:
    """Posts the same page, read afresh, to the channel for everyone."""
    return button("Share in channel", ActionId.SHARE_HEALTH, HealthPageRef(page=page))


def snapshots_nav(
    backup_id: int, page: int, has_more: bool, filters: SnapshotFilters
) -> list[ButtonElement]:
    nav = []
    if page > 1:
        ref = SnapshotsPageRef(backup_id=backup_id, page=page - 1, filters=filters)
        nav.append(button("Previous", ActionId.SNAPSHOTS_PAGE_PREV, ref))
    if has_more:
        ref = SnapshotsPageRef(backup_id=backup_id, page=page + 1, filters=filters)
        nav.append(button("Next", ActionId.SNAPSHOTS_PAGE_NEXT, ref))
    return nav


def take_button(backup_id: int, snapshot_id: int) -> ButtonElement:
    """`I'm on it` on a failure or stale alert: the same button takes it for whoever clicks and,
    clicked again by them, gives it back (a Slack button is the same for everyone). No confirm:
    it changes nothing in Skyvia and undoes with one more click."""
    return button(
        "I'm on it", ActionId.TAKE_ALERT, TakeRef(backup_id=backup_id, snapshot_id=snapshot_id)
    )
