"""Workflow Builder steps end to end: `function_executed` events sent to the real app.

docs/reference/commands.md#workflow-builder-steps. The step *Run Skyvia snapshot* posts the
lifecycle card, replies in its thread like a command-started run, and completes when the run
ends (`functions.completeSuccess` with its outputs, `functions.completeError` with the log's first
line), through the outbox: once, whatever restarts, retried events or replicas happen. Bad input
fails at once. *Open a maintenance window* does what `schedule 456 off for 2h` does.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.devtools.slack_standin import StepCompletion
from bot.devtools.waiting import wait_until
from tests.constants import ADMIN, BACKUP, CHANNEL, MEMBER, OTHER_CHANNEL, WORKSPACE
from tests.e2e.backup_kit import connect, rendered
from tests.e2e.bot_fixtures import Stack, StartBot
from tests.e2e.process_kit import ProcessStack
from tests.e2e.worker_kit import finished_watch, thread_replies

RUN = "run_skyvia_snapshot"
WINDOW = "open_maintenance_window"


@pytest.fixture
async def bound(stack: Stack) -> Stack:
    await connect(stack)
    return stack


async def run_step(
    stack: Stack,
    execution_id: str,
    *,
    backup: str = str(BACKUP),
    channel: str = CHANNEL,
    user: str = MEMBER,
    retry_num: int | None = None,
    event_id: str | None = None,
) -> None:
    token = stack.slack.step_token(execution_id)
    response = await stack.send.function_executed(
        RUN,
        {"channel": channel, "backup": backup, "user": user, "workflow": "Nightly checks"},
        execution_id=execution_id,
        bot_access_token=token,
        title="Run Skyvia snapshot",
        retry_num=retry_num,
        event_id=event_id,
    )
    assert response.status_code == 200, response.text


async def completed(
    stack: Stack | ProcessStack, execution_id: str, timeout: float = 30.0
) -> StepCompletion:
    done = await wait_until(
        lambda: stack.slack.completions(execution_id), timeout=timeout, what="the step's completion"
    )
    return done[0]


def card_of_step(stack: Stack | ProcessStack, snapshot_id: int, channel: str = CHANNEL) -> str:
    posted = [
        c
        for c in stack.slack.calls_to("chat.postMessage")
        if c.ok and c.args["channel"] == channel and f"snapshot {snapshot_id}" in rendered(c.args)
    ]
    assert posted, "no card"
    return str(posted[0].response["ts"])


async def test_run_step_posts_the_card_replies_in_its_thread_and_completes_with_outputs(
    bound: Stack,
) -> None:
    stack = bound
    before = len(stack.sim.state.snapshots_of(BACKUP))
    await run_step(stack, "Fx1")
    run = await wait_until(lambda: stack.sim.state.snapshots_of(BACKUP)[before:], what="the run")
    watch = await finished_watch(stack.bot.container.db, run[0].id, CHANNEL)
    assert watch.outcome == "Succeeded"
    card_ts = card_of_step(stack, run[0].id)
    card = stack.slack.message(CHANNEL, card_ts)
    assert "Started by workflow *Nightly checks*" in rendered(card.__dict__)
    assert len(thread_replies(stack.slack, CHANNEL, card_ts)) == 1

    done = await completed(stack, "Fx1")
    assert done.ok and done.outputs is not None
    assert done.outputs["snapshot_id"] == run[0].id
    assert done.outputs["state"] == "Succeeded"
    assert isinstance(done.outputs["rows"], int)
    assert isinstance(done.outputs["duration_seconds"], int | float)
    assert card_ts.replace(".", "") in done.outputs["card_permalink"]
    # The outcome reply went before the completion (the workflow's next step may read it).
    reply_at = next(
        c.at for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")
    )
    complete_at = stack.slack.calls_to("functions.completeSuccess")[0].at
    assert reply_at <= complete_at
    await stack.bot.after_ticks(3)
    assert len(stack.slack.completions("Fx1")) == 1
    assert len(stack.slack.calls_to("functions.completeSuccess")) == 1


async def test_a_failed_run_completes_the_step_with_its_logs_first_line(bound: Stack) -> None:
    stack = bound
    stack.sim.state.fail_next(BACKUP, "Error: INVALID_SESSION_ID on object Account\nat line 2")
    await run_step(stack, "Fx2")
    done = await completed(stack, "Fx2")
    assert not done.ok and done.error is not None
    assert "INVALID_SESSION_ID on object Account" in done.error
    assert "at line 2" not in done.error
    run = stack.sim.state.snapshots_of(BACKUP)[-1]
    card_ts = card_of_step(stack, run.id)
    replies = thread_replies(stack.slack, CHANNEL, card_ts)
    assert len(replies) == 1 and replies[0].reply_broadcast


@pytest.mark.parametrize(
    ("backup", "channel", "user", "says"),
    [
        ("999999", CHANNEL, MEMBER, "999999"),
        ("no such backup", CHANNEL, MEMBER, "no such backup"),
        (str(BACKUP), OTHER_CHANNEL, MEMBER, "not connected"),
        (str(BACKUP), CHANNEL, "U0GUEST", "guest"),
        (str(BACKUP), CHANNEL, "", "who runs"),
    ],
)
async def test_bad_input_fails_the_step_at_once_and_starts_nothing(
    bound: Stack, backup: str, channel: str, user: str, says: str
) -> None:
    stack = bound
    stack.slack.add_user("U0GUEST", name="gus", guest="multi")
    before = len(stack.sim.state.snapshots_of(BACKUP))
    await run_step(stack, "Fx3", backup=backup, channel=channel, user=user)
    done = await completed(stack, "Fx3")
    assert not done.ok and done.error is not None
    assert says.casefold() in done.error.casefold(), done.error
    assert len(stack.sim.state.snapshots_of(BACKUP)) == before


async def test_a_reader_may_not_run_the_step_when_operators_are_named(
    start_bot: StartBot,
) -> None:
    stack = await start_bot(SKYVIA_BOT_OPERATORS=ADMIN)
    await connect(stack)
    before = len(stack.sim.state.snapshots_of(BACKUP))
    await run_step(stack, "Fx4", user=MEMBER)
    done = await completed(stack, "Fx4")
    assert not done.ok and done.error is not None and "operator" in done.error.casefold()
    assert len(stack.sim.state.snapshots_of(BACKUP)) == before


async def test_a_retried_or_repeated_event_acts_once(bound: Stack) -> None:
    stack = bound
    before = len(stack.sim.state.snapshots_of(BACKUP))
    await run_step(stack, "Fx5", event_id="Ev5")
    # Slack's retry of the same event, and the same execution delivered again.
    await run_step(stack, "Fx5", event_id="Ev5", retry_num=1)
    await run_step(stack, "Fx5", event_id="Ev6")
    await completed(stack, "Fx5")
    await stack.bot.after_ticks(3)
    assert len(stack.sim.state.snapshots_of(BACKUP)) == before + 1
    assert len(stack.slack.completions("Fx5")) == 1


async def test_a_run_that_outlives_the_step_limit_completes_with_where_to_follow_it(
    start_bot: StartBot,
) -> None:
    stack = await start_bot(SKYVIA_BOT_STEP_LIMIT="1")
    await connect(stack)
    stack.sim.state.set_speed(1)  # stays running until finished by hand
    await run_step(stack, "Fx6")
    done = await completed(stack, "Fx6")
    run = stack.sim.state.snapshots_of(BACKUP)[-1]
    card_ts = card_of_step(stack, run.id)
    assert not done.ok and done.error is not None
    assert "still running" in done.error and card_ts.replace(".", "") in done.error
    # The run itself is still watched to its end, in its thread; the step is not completed again.
    stack.sim.state.finish_snapshot(run.id)
    await finished_watch(stack.bot.container.db, run.id, CHANNEL)
    assert len(thread_replies(stack.slack, CHANNEL, card_ts)) == 1
    await stack.bot.after_ticks(2)
    assert len(stack.slack.completions("Fx6")) == 1


async def test_the_window_step_turns_the_schedule_off_until_the_end(bound: Stack) -> None:
    stack = bound
    stack.sim.state.set_schedule(WORKSPACE, BACKUP, True)
    token = stack.slack.step_token("Fx7")
    response = await stack.send.function_executed(
        WINDOW,
        {"channel": CHANNEL, "backup": str(BACKUP), "duration": "2h", "user": MEMBER},
        execution_id="Fx7",
        bot_access_token=token,
    )
    assert response.status_code == 200
    done = await completed(stack, "Fx7")
    assert done.ok and done.outputs is not None, done
    ends_at = datetime.fromtimestamp(done.outputs["ends_at"], UTC)
    assert 7100 < (ends_at - datetime.now(UTC)).total_seconds() <= 7200
    assert not stack.sim.state.backup(WORKSPACE, BACKUP).scheduled
    note = await stack.slack.wait_for(
        "chat.postMessage",
        lambda c: c.ok and "off" in c.args["text"] and f"<@{MEMBER}>" in rendered(c.args),
    )
    assert note


async def test_the_window_step_refuses_a_bad_duration(bound: Stack) -> None:
    stack = bound
    token = stack.slack.step_token("Fx8")
    await stack.send.function_executed(
        WINDOW,
        {"channel": CHANNEL, "backup": str(BACKUP), "duration": "soon", "user": MEMBER},
        execution_id="Fx8",
        bot_access_token=token,
    )
    done = await completed(stack, "Fx8")
    assert not done.ok and done.error is not None and "soon" in done.error


async def test_killed_during_a_steps_run_completes_it_once_after_restart(
    procs: ProcessStack,
) -> None:
    bot, send = await procs.start()
    await procs.connect(send)
    procs.sim.state.set_speed(1)
    token = procs.slack.step_token("Fx9")
    await send.function_executed(
        RUN,
        {"channel": CHANNEL, "backup": str(BACKUP), "user": MEMBER, "workflow": "Nightly"},
        execution_id="Fx9",
        bot_access_token=token,
    )
    run = await wait_until(
        lambda: next((s for s in procs.sim.state.snapshots_of(BACKUP) if s.id >= 7001), None),
        what="the run",
    )
    await procs.slack.wait_for("chat.update", lambda c: c.ok)
    bot.kill()

    procs.sim.state.finish_snapshot(run.id, "Failed")
    await procs.start()
    # After a SIGKILL the watch and the team's sending lease of the dead process run out first
    # (several seconds each, more on a loaded CI machine).
    done = await completed(procs, "Fx9", timeout=90.0)
    assert not done.ok
    await procs.after_ticks()
    assert len(procs.slack.completions("Fx9")) == 1
    card_ts = card_of_step(procs, run.id)
    assert len(thread_replies(procs.slack, CHANNEL, card_ts)) == 1


async def test_two_replicas_given_the_same_execution_act_once(
    procs: ProcessStack, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database (SQLite is the single-process option)")
    _first, send_a = await procs.start()
    _second, send_b = await procs.start()
    await procs.connect(send_a)
    before = len(procs.sim.state.snapshots_of(BACKUP))
    token = procs.slack.step_token("Fx10")
    inputs = {"channel": CHANNEL, "backup": str(BACKUP), "user": MEMBER}
    for send in (send_a, send_b):  # the same execution reaches both replicas
        response = await send.function_executed(
            RUN, inputs, execution_id="Fx10", bot_access_token=token
        )
        assert response.status_code == 200
    done = await completed(procs, "Fx10")
    assert done.ok
    await procs.after_ticks()
    assert len(procs.sim.state.snapshots_of(BACKUP)) == before + 1
    assert len(procs.slack.completions("Fx10")) == 1
    run = procs.sim.state.snapshots_of(BACKUP)[-1]
    card_ts = card_of_step(procs, run.id)
    assert len(thread_replies(procs.slack, CHANNEL, card_ts)) == 1
