"""Workflow Builder steps (Bolt custom functions): *Run Skyvia snapshot*, *Open a maintenance
window*.

Slack runs a step by sending `function_executed` with the step's inputs, its execution id and
a token of its own (`bot_access_token`; Bolt puts it in `context.function_bot_access_token` and
gives the listener a client, `complete` and `fail` that use it). Bolt acknowledges the event
itself; then, in order:

1. The execution is taken on (`StepExecutions.take`, keyed by its id, committed first): a
   retried or repeated event, on any replica, stops here and does nothing.
2. The inputs are checked as a command's would be: the channel must be connected (workspace and
   token come from its binding, never from the inputs), the person running the workflow must
   be allowed to do the same by command (an operator; never a guest or an outsider), the
   backup must exist. Any refusal fails the step at once, with the refusal's words.
3. *Run Skyvia snapshot* starts the run as `/skyvia snapshot` does, card and watch included,
   and records the step on the watch: the watcher completes it when the run ends
   (`bot.slack.delivery.steps`, through the outbox). *Open a maintenance window* opens the window as
   `schedule <backup> off for <duration>` does and completes at once with its end.

docs/reference/commands.md#workflow-builder-steps has the inputs and outputs; manifest.yml
declares the same.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.backup_names import Ambiguous
from bot.services.bindings import BoundWorkspace
from bot.services.errors import DomainError, NotBound, WordedRefusal
from bot.services.models import RunStep
from bot.services.snapshots import AlreadyActive
from bot.skyvia.errors import SkyviaError
from bot.slack.authz import Role
from bot.slack.grammar.deadlines import Deadline, DeadlineError, parse_duration
from bot.slack.grammar.usage import UsageError
from bot.slack.messages.refusals import refusal_words
from handlers.context import Services, SlackContext
from handlers.deadlines import SWITCH_SCHEDULE, maintenance_window
from handlers.errors import skyvia_refusal
from handlers.snapshot_start import START_SNAPSHOT, post_snapshot_card
from handlers.topic import Topic

log = logging.getLogger(__name__)

RUN_SNAPSHOT = "run_skyvia_snapshot"
OPEN_WINDOW = "open_maintenance_window"
NO_RUNNER = (
    "The step needs to know who runs it: set its “Run by” input to the person who used the "
    "workflow."
)


@dataclass(frozen=True)
class StepRun:
    """One execution as the listener got it: the inputs and who runs it, in which channel."""

    ctx: SlackContext
    inputs: dict[str, Any]
    step: RunStep
    complete: AsyncComplete


Work = Callable[[StepRun], Awaitable[None]]


def _text(value: Any) -> str:
    """An input as text; a `user_context` input arrives as an object with the user's `id`."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value).strip() if value is not None else ""


def step_error(error: Exception) -> str:
    """What a refused step says in Workflow Builder's activity: the refusal's own words."""
    if isinstance(error, NotBound):
        return (
            "That channel is not connected to a Skyvia workspace: an admin can run "
            "`/skyvia connect <workspaceId>` there."
        )
    if isinstance(error, DomainError):
        return " ".join(refusal_words(error))
    if isinstance(error, UsageError):
        return str(error)
    if isinstance(error, SkyviaError):
        return " ".join(skyvia_refusal(error))
    return "Something went wrong in the Skyvia bot; its log has the details."


async def _backup_id(ctx: SlackContext, bound: BoundWorkspace, typed: str) -> int:
    """The backup an input names, by id or whole name; several or a partial match is refused."""
    if not typed:
        raise WordedRefusal("The step needs a backup.", "Set its “Backup” input (an id or name).")
    found = await ctx.services.backups.resolve(
        bound, int(typed) if typed.isdigit() else typed, whole_name=True
    )
    if isinstance(found, Ambiguous):
        names = ", ".join(f"{b.name} ({b.id})" for b in found.candidates[:5])
        raise WordedRefusal(
            f"“{found.typed}” does not name one backup exactly: {names}.",
            "Set the step's “Backup” input to an id or a whole name.",
        )
    return found


async def _run_snapshot(run: StepRun) -> None:
    ctx = run.ctx
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, START_SNAPSHOT)
    backup_id = await _backup_id(ctx, bound, _text(run.inputs.get("backup")))
    title = run.step.workflow_title
    result = await ctx.services.snapshots.start(
        bound,
        backup_id,
        user_id=ctx.user_id,
        post_card=partial(post_snapshot_card, ctx, None, workflow=title),
        step=run.step,
    )
    if isinstance(result, AlreadyActive):
        backup = result.backup
        raise WordedRefusal(
            f"{backup.display_name} ({backup.id}) is already running snapshot "
            f"{result.active_run.run_id}, so none was started.",
            "Run the workflow again once it has finished.",
        )
    log.info(
        "step %s started snapshot %s", run.step.execution_id, result.started.run.run_id
    )  # the watcher completes the step when the run ends


async def _open_window(run: StepRun) -> None:
    ctx = run.ctx
    bound = await ctx.workspace()
    await ctx.require(Role.OPERATOR, SWITCH_SCHEDULE)
    backup_id = await _backup_id(ctx, bound, _text(run.inputs.get("backup")))
    word = _text(run.inputs.get("duration"))
    try:
        span = parse_duration(word)
    except DeadlineError as error:
        raise WordedRefusal(f"“{word}” is not a duration: {error}.", "Set it like `2h`.") from None
    until = await maintenance_window(ctx, bound, backup_id, Deadline(word, span=span))
    await run.complete(outputs={"ends_at": int(until.timestamp())})


def _listener(services: Services, callback_id: str, work: Work) -> Callable[..., Awaitable[None]]:
    async def listener(
        event: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        complete: AsyncComplete,
        fail: AsyncFail,
    ) -> None:
        execution_id = str(event.get("function_execution_id") or "")
        token = context.function_bot_access_token
        if not execution_id or not token:
            log.warning("function_executed without an execution id or token; ignored")
            return
        inputs = event.get("inputs") or {}
        step = await services.steps.take(
            execution_id,
            str(context.team_id or ""),
            callback_id,
            token,
            _text(inputs.get("workflow")) or "Workflow Builder",
        )
        if step is None:
            log.info("step execution %s was taken on before; not acting again", execution_id)
            return
        ctx = SlackContext(
            services=services,
            client=client,
            team_id=str(context.team_id or ""),
            channel_id=_text(inputs.get("channel")),
            user_id=_text(inputs.get("user")),
            respond=None,
            enterprise_id=context.enterprise_id,
        )
        try:
            if not ctx.user_id:
                raise WordedRefusal(NO_RUNNER, "")
            if not ctx.channel_id:
                raise WordedRefusal("The step needs a channel.", "Set its “Channel” input.")
            await work(StepRun(ctx, inputs, step, complete))
        except Exception as error:
            if not isinstance(error, DomainError | UsageError | SkyviaError):
                log.exception("step %s (%s) failed", execution_id, callback_id)
            try:
                await fail(error=step_error(error).strip())
            except SlackApiError as exc:
                log.warning("could not fail step %s: %s", execution_id, exc.response.get("error"))

    return listener


def register(app: AsyncApp, services: Services) -> None:
    """Wires the steps' listeners (Bolt acknowledges `function_executed` itself)."""
    app.function(RUN_SNAPSHOT)(_listener(services, RUN_SNAPSHOT, _run_snapshot))
    app.function(OPEN_WINDOW)(_listener(services, OPEN_WINDOW, _open_window))


TOPIC = Topic(register=register)
