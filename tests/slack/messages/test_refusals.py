"""Services raise refusals as facts; every kind is worded here, in the words users know."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime

import pytest

import bot.services
from bot.services.backup_names import NoBackupMatches
from bot.services.channel_pauses import (
    DEFAULT_TOKEN_REFUSED_REASON,
    OWN_TOKEN_REJECTED_REASON,
    UNDECRYPTABLE_REASON,
    reconnect_lifts,
    token_rejected_reason,
)
from bot.services.clicks import AlreadyClicked
from bot.services.errors import (
    ConnectRefused,
    DefaultTokenRefused,
    DomainError,
    NoDefaultToken,
    NotAllowed,
    NotBound,
    NotInChannel,
    TokenRejected,
    WordedRefusal,
    WorkspaceNotFound,
)
from bot.services.models import ChannelBinding
from bot.services.snapshots import NothingStarted, StartedSnapshot, StartedUnwatched
from bot.skyvia.models import ActiveRun, Backup
from bot.slack.messages import status_message
from bot.slack.messages.bindings import pause_reason
from bot.slack.messages.refusals import refusal_words, worded_kinds
from tests.slack.messages.blockkit import all_text, message_dict

T0 = datetime(2024, 5, 1, tzinfo=UTC)
BASES = {DomainError, ConnectRefused}
"""Kinds only ever raised as one of their subclasses."""


def _kinds(kind: type[DomainError]) -> set[type[DomainError]]:
    found = set(kind.__subclasses__())
    for sub in list(found):
        found |= _kinds(sub)
    return found


def test_every_kind_of_refusal_a_service_raises_has_its_words() -> None:
    for module in pkgutil.walk_packages(bot.services.__path__, "bot.services."):
        importlib.import_module(module.name)
    kinds = {k for k in _kinds(DomainError) if k.__module__.startswith("bot.services")}
    unworded = {
        k.__name__
        for k in kinds - BASES
        if not any(base in worded_kinds() for base in k.__mro__[: k.__mro__.index(DomainError)])
    }
    assert not unworded


CRM = Backup(id=456, name="Nightly CRM")
STARTED = StartedSnapshot(backup=CRM, run=ActiveRun(runId=7001), started_by="U1", started_at=T0)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            NotBound(),
            (
                "This channel is not connected to a Skyvia workspace.",
                "An admin can run `/skyvia connect <workspaceId>` here.",
            ),
        ),
        (
            NotInChannel(),
            (
                "I can't post in this channel: it is private and I am not a member.",
                "Invite me with `/invite @Skyvia Backup Bot`, then try again.",
            ),
        ),
        (
            NoDefaultToken(),
            (
                "No default Skyvia token is configured for this bot.",
                "Run `/skyvia connect` without an id to enter the workspace id and an access "
                "token.",
            ),
        ),
        (
            DefaultTokenRefused(),
            (
                "This bot's default Skyvia token does not serve this Slack workspace.",
                "Connect with an access token of your own Skyvia account: run `/skyvia connect` "
                "and paste it in the form.",
            ),
        ),
        (
            TokenRejected(124),
            (
                "Skyvia rejected the access token for workspace 124.",
                "Check the token (Skyvia → Account Settings → API Settings) and that it covers "
                "this workspace, then run `/skyvia connect` again.",
            ),
        ),
        (
            WorkspaceNotFound(999),
            (
                "Workspace 999 was not found in Skyvia.",
                "Check the id in the Skyvia URL of the workspace and run `/skyvia connect` again.",
            ),
        ),
        (
            NoBackupMatches("zendsek", []),
            (
                "No backup matches “zendsek”.",
                "Type `/skyvia backups` to see this workspace's backups.",
            ),
        ),
        (
            NoBackupMatches("x" * 50, ["Zendesk", "CRM"]),
            (f"No backup matches “{'x' * 39}…”.", "Did you mean “Zendesk”, “CRM”?"),
        ),
        (
            AlreadyClicked(),
            (
                "That button was clicked a moment ago, so it was not acted on twice.",
                "Wait for the first click's result; click again in a minute to really repeat it.",
            ),
        ),
        (
            NothingStarted(CRM),
            (
                "I cannot record a snapshot of Nightly CRM (456) right now (the bot's database "
                "is unavailable), so nothing was started.",
                "Try again in a minute.",
            ),
        ),
        (
            StartedUnwatched(STARTED),
            (
                "Snapshot 7001 of Nightly CRM (456) was started, but I could not record it (the "
                "bot's database is unavailable), so I will not follow it or post its outcome "
                "here.",
                "Follow it with `/skyvia backup 456`; a failure is still alerted in channels "
                "with alerts on.",
            ),
        ),
        (NotAllowed("Only admins can connect a channel."), ("Only admins can connect a channel.",
                                                            "Ask a Slack workspace admin.")),
        (WordedRefusal("The step needs a channel.", "Set it."), ("The step needs a channel.",
                                                                 "Set it.")),
    ],
)  # fmt: skip
def test_each_refusal_reads_as_it_always_has(error: DomainError, words: tuple[str, str]) -> None:
    assert refusal_words(error) == words


def test_a_refusal_logs_its_kind_and_facts_never_words() -> None:
    assert str(TokenRejected(124)) == "TokenRejected(workspace_id=124)"
    assert str(NotBound()) == "NotBound()"


ANY_TOKEN = "; an admin can reconnect with `/skyvia connect`"


OWN_REJECTED = "Skyvia rejected this channel's access token"
UNDECRYPTABLE = (
    "the stored Skyvia token of this channel could not be decrypted (was the encryption key "
    "changed?)"
)
DEFAULT_REFUSED = (
    "the bot's default Skyvia token no longer serves this Slack workspace; an admin can "
    "reconnect with the workspace's own token (`/skyvia connect`)"
)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (OWN_TOKEN_REJECTED_REASON, OWN_REJECTED + ANY_TOKEN),
        (
            token_rejected_reason(123),
            "Skyvia rejected the access token of workspace 123" + ANY_TOKEN,
        ),
        (UNDECRYPTABLE_REASON, UNDECRYPTABLE + ANY_TOKEN),
        (DEFAULT_TOKEN_REFUSED_REASON, DEFAULT_REFUSED),
        # Stored before the hint moved to the messages: shown as stored, the hint not repeated.
        (OWN_REJECTED + ANY_TOKEN, OWN_REJECTED + ANY_TOKEN),
        ("the channel is archived", "the channel is archived"),
    ],
)
def test_a_pause_over_the_token_says_how_to_lift_it(stored: str, shown: str) -> None:
    binding = ChannelBinding(
        "C1", 123, "U1", T0, paused=True, paused_reason=stored, reconnect=reconnect_lifts(stored)
    )
    assert pause_reason(binding, "unsaid") == shown
    text = all_text(message_dict(status_message(binding, [])))
    assert f"Paused: {shown}. Alerts and thread replies are on hold." in text
