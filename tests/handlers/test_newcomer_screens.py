"""Issue 19 item 12 end to end: screens that must tell the truth at the moment they are used.

"Start another anyway" re-checks the run it was shown for, a long name is quoted cut to 40
characters, and a token Skyvia rejects keeps the connect modal open with the error on its field.
Through the real Bolt app over HTTP, Slack the stand-in and Skyvia the simulator.
"""

from __future__ import annotations

from bot.slack.messages.ids import ActionId, BlockId, CallbackId
from storage.repositories import BindingRepository
from tests.constants import ADMIN, CHANNEL, MEMBER, TEAM
from tests.e2e.backup_kit import START, audit_actions, button, click, rendered, skyvia_calls
from tests.e2e.bot_fixtures import Stack, StartBot


async def test_start_another_anyway_after_the_run_finished_starts_one_and_says_so(
    bound: Stack,
) -> None:
    stack = bound
    active = stack.sim.state.start_snapshot(456)
    refused = await stack.reply_to("snapshot 456")
    confirm = button(refused, ActionId.RUN_SNAPSHOT_ANYWAY)["confirm"]["text"]["text"]
    assert "has not finished yet" not in confirm, confirm
    stack.sim.state.finish_snapshot(active.id)

    response_id = await click(stack, refused, ActionId.RUN_SNAPSHOT_ANYWAY, user=MEMBER)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Snapshot of" in c.args["text"]
    )
    await stack.bot.listeners.idle()
    said = " ".join(rendered(p.body) for p in stack.slack.responses(response_id))
    assert f"{active.id}" in said and "finished" in said, said
    assert skyvia_calls(stack)[START] == 1
    details = [a[3] or "" for a in await audit_actions(stack) if a[0] == "snapshot"]
    assert details and not any("while another was active" in d for d in details), details


async def test_a_long_name_is_quoted_cut_to_forty_characters(bound: Stack) -> None:
    answer = rendered(await bound.reply_to("snapshot " + "a" * 80))
    assert "“" + "a" * 39 + "…”" in answer, answer
    assert "a" * 41 not in answer


async def test_a_rejected_token_keeps_the_connect_modal_open_with_a_field_error(
    start_bot: StartBot,
) -> None:
    stack = await start_bot(SKYVIA_API_TOKEN=None, workers=False)
    await stack.command("connect 123", user=ADMIN)
    view = (await stack.slack.wait_for("views.open"))[0].args["view"]
    answer = await stack.send.view_submission(
        CallbackId.CONNECT_MODAL,
        {
            BlockId.CONNECT_WORKSPACE: {ActionId.CONNECT_WORKSPACE_INPUT: "123"},
            BlockId.CONNECT_TOKEN: {ActionId.CONNECT_TOKEN_INPUT: "not-a-valid-token"},
        },
        user_id=ADMIN,
        private_metadata=view["private_metadata"],
    )
    body = answer.json() if answer.content else {}
    assert body.get("response_action") == "errors", body
    assert "rejected" in body["errors"][BlockId.CONNECT_TOKEN], body
    await stack.bot.listeners.idle()
    assert stack.slack.calls_to("chat.postEphemeral") == []
    async with stack.bot.container.db.session() as session:
        assert await BindingRepository(session).get(TEAM, CHANNEL) is None
