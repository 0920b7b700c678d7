"""Button values and modal state: round trips, refusal of anything the bot did not write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack.grammar.backup_refs import MAX_ID
from bot.slack.grammar.parsing import MAX_PAGE
from bot.slack.messages.ids import ActionId, BlockId
from bot.slack.messages.payloads import (
    MAX_VALUE_LENGTH,
    BackupRef,
    BackupsPageRef,
    ConnectModalMeta,
    ConnectRef,
    ModalInputError,
    Payload,
    PayloadError,
    ScheduleRef,
    Screen,
    SnapshotFilters,
    SnapshotRef,
    SnapshotsPageRef,
    parse_connect_submission,
)

_ids = st.integers(min_value=1, max_value=MAX_ID)
_moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@st.composite
def _filters(draw: st.DrawFn) -> SnapshotFilters:
    since, until = sorted(draw(st.lists(_moments, min_size=2, max_size=2)))
    return SnapshotFilters(
        failed=draw(st.booleans()),
        since=since if draw(st.booleans()) else None,
        until=until if draw(st.booleans()) else None,
    )


_payloads: st.SearchStrategy[Payload] = st.one_of(
    st.builds(BackupRef, backup_id=_ids),
    st.builds(SnapshotRef, backup_id=_ids, snapshot_id=_ids),
    st.builds(ScheduleRef, backup_id=_ids, enable=st.booleans(), screen=st.sampled_from(Screen)),
    st.builds(
        ScheduleRef,
        backup_id=_ids,
        enable=st.booleans(),
        screen=st.just(Screen.BACKUPS),
        page=st.integers(min_value=1, max_value=MAX_PAGE),
    ),
    st.builds(BackupsPageRef, page=st.integers(min_value=1, max_value=MAX_PAGE)),
    st.builds(
        SnapshotsPageRef,
        backup_id=_ids,
        page=st.integers(min_value=1, max_value=MAX_PAGE),
        filters=_filters(),
    ),
    st.builds(ConnectModalMeta, channel_id=st.from_regex(r"\AC[A-Z0-9]{8,12}\Z")),
)


@settings(max_examples=200, deadline=None)
@given(_payloads)
def test_dump_load_round_trip(payload: Payload) -> None:
    raw = payload.dump()
    assert len(raw) <= MAX_VALUE_LENGTH
    assert " " not in raw  # compact JSON
    assert type(payload).load(raw) == payload


def test_defaults_are_left_out_of_the_value() -> None:
    assert SnapshotsPageRef(backup_id=4).dump() == '{"backup_id":4}'
    # Toggles posted before the screen travelled in the value still load (as the schedule).
    assert ScheduleRef.load('{"backup_id":4,"enable":true}').screen is Screen.SCHEDULE


def test_no_payload_can_carry_a_workspace_or_a_token() -> None:
    """The workspace comes from the channel's binding, never from a button.

    The one exception is the Confirm of "connect to another workspace?": it asks to bind that
    workspace, an admin-only act checked like a typed `connect`; it carries nothing else.
    See docs/reference/commands.md#buttons.
    """
    models: list[type[Payload]] = Payload.__subclasses__()
    assert {BackupRef, SnapshotRef, ScheduleRef, SnapshotsPageRef, ConnectRef} <= set(models)
    for model in models:
        assert not any("token" in name for name in model.model_fields)
        if model is ConnectRef:
            assert set(model.model_fields) == {"workspace_id"}
            continue
        assert not any("workspace" in name for name in model.model_fields)
    with pytest.raises(PayloadError):
        BackupRef.load('{"backup_id":4,"workspace_id":9}')


@pytest.mark.parametrize(
    ("model", "raw"),
    [
        (BackupRef, None),
        (BackupRef, ""),
        (BackupRef, "not json"),
        (BackupRef, "[4]"),
        (BackupRef, '{"backup_id":"4"}'),  # strict: the bot never writes a string id
        (BackupRef, '{"backup_id":0}'),
        (BackupRef, f'{{"backup_id":{MAX_ID + 1}}}'),
        (BackupRef, '{"backup_id":4.5}'),
        (BackupRef, '{"backup_id":4,"snapshot_id":5}'),  # another payload type
        (SnapshotRef, '{"backup_id":4}'),
        (ScheduleRef, '{"backup_id":4,"enable":"yes"}'),
        (ScheduleRef, '{"backup_id":4,"enable":true,"screen":"home"}'),
        (ScheduleRef, '{"backup_id":4,"enable":true,"screen":"details","page":2}'),
        (BackupsPageRef, f'{{"page":{MAX_PAGE + 1}}}'),
        (SnapshotsPageRef, '{"backup_id":4,"filters":{"since":"2024-05-01T00:00:00"}}'),
        (
            SnapshotsPageRef,
            '{"backup_id":4,"filters":{"since":"2024-05-02T00:00:00Z",'
            '"until":"2024-05-01T00:00:00Z"}}',
        ),
        (ConnectModalMeta, '{"channel_id":"not-a-channel"}'),
        (BackupRef, '{"backup_id":4}' + " " * MAX_VALUE_LENGTH),
    ],
)
def test_tampered_values_are_refused_with_a_typed_error(model: type[Payload], raw: str) -> None:
    with pytest.raises(PayloadError):
        model.load(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_load_raises_only_payload_error(raw: str) -> None:
    for model in (BackupRef, SnapshotsPageRef, ConnectModalMeta):
        try:
            model.load(raw)
        except PayloadError:
            pass


def _state(workspace: str | None, token: str | None) -> dict[str, dict[str, dict[str, object]]]:
    """`view.state.values` as Slack sends it for the connect modal."""
    return {
        BlockId.CONNECT_WORKSPACE: {
            ActionId.CONNECT_WORKSPACE_INPUT: {"type": "plain_text_input", "value": workspace}
        },
        BlockId.CONNECT_TOKEN: {
            ActionId.CONNECT_TOKEN_INPUT: {"type": "plain_text_input", "value": token}
        },
    }


def test_connect_submission_reads_both_fields() -> None:
    submission = parse_connect_submission(_state(" #123 ", " secret-token "))
    assert submission.workspace_id == 123
    assert submission.token is not None
    assert submission.token.get_secret_value() == "secret-token"
    assert "secret-token" not in repr(submission)


def test_connect_submission_errors_are_keyed_by_block_id() -> None:
    with pytest.raises(ModalInputError) as caught:
        parse_connect_submission(_state("abc", None))
    errors = caught.value.errors
    assert set(errors) == {BlockId.CONNECT_WORKSPACE, BlockId.CONNECT_TOKEN}
    assert "abc" in errors[BlockId.CONNECT_WORKSPACE]

    with pytest.raises(ModalInputError) as caught:
        parse_connect_submission(_state(str(MAX_ID + 1), "has space"))
    assert "out of range" in caught.value.errors[BlockId.CONNECT_WORKSPACE]
    assert "spaces" in caught.value.errors[BlockId.CONNECT_TOKEN]
    assert "has space" not in str(caught.value)


def test_connect_submission_token_optional_with_a_default_token() -> None:
    submission = parse_connect_submission(_state("5", ""), token_required=False)
    assert submission.workspace_id == 5
    assert submission.token is None
    with pytest.raises(ModalInputError):
        parse_connect_submission({}, token_required=False)  # workspace id still required
