"""The words of every expected refusal: what went wrong, and how to put it right.

Services raise a refusal as its kind and its facts (`bot.services.errors` and the errors beside
the services that raise them); they are worded here, once, whether the words end up in an
ephemeral ⚠️ message, on a modal's field or in a Workflow Builder step's error. A refusal worded
where it was raised (`WordedRefusal`: the authorizer's rules, a step's inputs) keeps its words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from bot.services.backup_names import NoBackupMatches
from bot.services.clicks import AlreadyClicked
from bot.services.errors import (
    DefaultTokenRefused,
    DomainError,
    NoDefaultToken,
    NotBound,
    NotInChannel,
    SlackBusy,
    TokenRejected,
    WordedRefusal,
    WorkspaceNotFound,
)
from bot.services.snapshots import NothingStarted, StartedUnwatched

Words = tuple[str, str]
"""(what went wrong, how to fix it)."""

E = TypeVar("E", bound=DomainError)

_WORDING: dict[type[DomainError], Callable[[Any], Words]] = {}

QUOTED_LIMIT = 40
"""Typed text is quoted back cut to this (docs/reference/commands.md#input-rules)."""


def quoted(typed: str) -> str:
    """What the person typed, as an error quotes it: 40 characters at most, then "…"."""
    return typed if len(typed) <= QUOTED_LIMIT else typed[: QUOTED_LIMIT - 1] + "…"


def refusal_words(error: DomainError) -> Words:
    """The words of a refusal, by its kind (the nearest worded class up its hierarchy)."""
    for kind in type(error).__mro__:
        wording = _WORDING.get(kind)
        if wording is not None:
            return wording(error)
    return "That could not be done.", "Try again in a minute."


def worded(kind: type[E]) -> Callable[[Callable[[E], Words]], Callable[[E], Words]]:
    """Registers the words of one kind of refusal (a test checks that every kind has them)."""

    def register(wording: Callable[[E], Words]) -> Callable[[E], Words]:
        _WORDING[kind] = wording
        return wording

    return register


def worded_kinds() -> frozenset[type[DomainError]]:
    return frozenset(_WORDING)


@worded(WordedRefusal)
def _as_raised(error: WordedRefusal) -> Words:
    return error.what, error.fix


@worded(NotBound)
def _not_bound(_: NotBound) -> Words:
    return (
        "This channel is not connected to a Skyvia workspace.",
        "An admin can run `/skyvia connect <workspaceId>` here.",
    )


@worded(NotInChannel)
def _not_in_channel(_: NotInChannel) -> Words:
    return (
        "I can't post in this channel: it is private and I am not a member.",
        "Invite me with `/invite @Skyvia Backup Bot`, then try again.",
    )


@worded(SlackBusy)
def _slack_busy(error: SlackBusy) -> Words:
    return (
        "Slack is limiting how fast I may post here right now, so that message was not sent.",
        f"Try again in {max(1, round(error.retry_after))} seconds.",
    )


@worded(NoDefaultToken)
def _no_default_token(_: NoDefaultToken) -> Words:
    return (
        "No default Skyvia token is configured for this bot.",
        "Run `/skyvia connect` without an id to enter the workspace id and an access token.",
    )


@worded(DefaultTokenRefused)
def _default_token_refused(_: DefaultTokenRefused) -> Words:
    return (
        "This bot's default Skyvia token does not serve this Slack workspace.",
        "Connect with an access token of your own Skyvia account: run `/skyvia connect` "
        "and paste it in the form.",
    )


@worded(TokenRejected)
def _token_rejected(error: TokenRejected) -> Words:
    return (
        f"Skyvia rejected the access token for workspace {error.workspace_id}.",
        "Check the token (Skyvia → Account Settings → API Settings) and that it covers "
        "this workspace, then run `/skyvia connect` again.",
    )


@worded(WorkspaceNotFound)
def _workspace_not_found(error: WorkspaceNotFound) -> Words:
    return (
        f"Workspace {error.workspace_id} was not found in Skyvia.",
        "Check the id in the Skyvia URL of the workspace and run `/skyvia connect` again.",
    )


@worded(NoBackupMatches)
def _no_backup_matches(error: NoBackupMatches) -> Words:
    hint = "Did you mean " + ", ".join(f"“{name}”" for name in error.closest) + "?"
    return (
        f"No backup matches “{quoted(error.typed)}”.",
        hint if error.closest else "Type `/skyvia backups` to see this workspace's backups.",
    )


@worded(AlreadyClicked)
def _already_clicked(_: AlreadyClicked) -> Words:
    return (
        "That button was clicked a moment ago, so it was not acted on twice.",
        "Wait for the first click's result; click again in a minute to really repeat it.",
    )


@worded(NothingStarted)
def _nothing_started(error: NothingStarted) -> Words:
    backup = error.backup
    return (
        f"I cannot record a snapshot of {backup.display_name} ({backup.id}) right now (the "
        "bot's database is unavailable), so nothing was started.",
        "Try again in a minute.",
    )


@worded(StartedUnwatched)
def _started_unwatched(error: StartedUnwatched) -> Words:
    started = error.started
    backup = started.backup
    return (
        f"Snapshot {started.run.run_id} of {backup.display_name} ({backup.id}) was started, "
        "but I could not record it (the bot's database is unavailable), so I will not "
        "follow it or post its outcome here.",
        f"Follow it with `/skyvia backup {backup.id}`; a failure is still alerted in "
        "channels with alerts on.",
    )
