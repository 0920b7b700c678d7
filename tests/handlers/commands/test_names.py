"""Issue 13 item 10 end to end: a backup's name works wherever `snapshot` and `backup` take an id.

Real Bolt app over HTTP, fake Slack on loopback, the Skyvia simulator. Every payload the fake
received is re-validated after each test.
"""

from __future__ import annotations

from bot.slack.messages.ids import ActionId
from tests.constants import MEMBER
from tests.e2e.backup_kit import (
    BACKUPS,
    DISABLE,
    START,
    audit_actions,
    buttons,
    click,
    rendered,
    skyvia_calls,
)
from tests.e2e.bot_fixtures import Stack


async def test_snapshot_by_quoted_name_and_by_substring(bound: Stack) -> None:
    stack = bound
    await stack.command('snapshot "nightly crm"', user=MEMBER)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Nightly CRM" in c.args["text"]
    )
    assert stack.sim.state.snapshots_of(456)[-1].id is not None
    # Part of a name is named back first (below); its button then starts the run.
    asked = await stack.reply_to("snapshot zendesk", user=MEMBER)
    await click(stack, asked, ActionId.RUN_SNAPSHOT)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Zendesk tickets" in c.args["text"]
    )
    assert skyvia_calls(stack)[START] == 2
    # The second name was resolved from the cached list: one listing for both commands.
    assert skyvia_calls(stack)[BACKUPS] == 1


async def test_a_snapshot_by_part_of_a_name_is_named_back_and_confirmed(bound: Stack) -> None:
    """`snapshot sales` fits one backup only by part of its name: nothing starts until the
    person has seen which one and confirmed, with the same confirmed button as elsewhere."""
    stack = bound
    asked = await stack.reply_to("snapshot sales", user=MEMBER)
    assert START not in skyvia_calls(stack)
    assert asked["response_type"] == "ephemeral"
    assert "Salesforce &lt;EU&gt; &amp; Marketing" in rendered(asked)
    [run] = buttons(asked, ActionId.RUN_SNAPSHOT)
    assert "Salesforce &lt;EU&gt; &amp; Marketing" in run["confirm"]["text"]["text"]
    await click(stack, asked, ActionId.RUN_SNAPSHOT)
    await stack.slack.wait_for("chat.postMessage", lambda c: c.ok and "(457)" in c.args["text"])
    assert skyvia_calls(stack)[START] == 1


async def test_a_name_copied_from_a_message_still_matches(bound: Stack) -> None:
    stack = bound
    # Messages show `*` `_` `~` as fullwidth forms so they read literally; NFKC maps them back.
    shown = await stack.reply_to("backup \uff0aBold\uff0a \uff3fitalic\uff3f \uff5estrike\uff5e")
    assert shown["text"].endswith("(459)")  # the details of backup 459
    shown = await stack.reply_to("backup \uff0abold\uff0a _ITALIC_")
    assert shown["text"].endswith("(459)")
    assert "no backup matches" not in rendered(shown).lower()


async def test_ambiguous_name_offers_the_candidates_as_buttons(bound: Stack) -> None:
    stack = bound
    stack.sim.state.add_backup(123, "Nightly ERP", scheduled=True)
    choice = await stack.reply_to("snapshot nightly", user=MEMBER)
    assert choice["response_type"] == "ephemeral"
    offered = buttons(choice, ActionId.RUN_SNAPSHOT)
    assert sorted(b["text"]["text"] for b in offered) == ["Nightly CRM (456)", "Nightly ERP (602)"]
    assert START not in skyvia_calls(stack)
    await click(stack, choice, ActionId.RUN_SNAPSHOT)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Snapshot of" in c.args["text"]
    )
    assert skyvia_calls(stack)[START] == 1


async def test_no_match_names_the_closest(bound: Stack) -> None:
    stack = bound
    refused = await stack.reply_to("snapshot nightlly crm", user=MEMBER)
    text = rendered(refused)
    assert "No backup matches" in text and "Nightly CRM" in text
    assert START not in skyvia_calls(stack)


async def test_schedule_and_mute_take_a_name(bound: Stack) -> None:
    stack = bound
    shown = await stack.reply_to("schedule nightly crm", user=MEMBER)
    assert shown["text"] and "Nightly CRM" in rendered(shown)
    await stack.command("schedule nightly crm off", user=MEMBER)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Nightly CRM" in c.args["text"]
    )
    assert skyvia_calls(stack)[DISABLE] == 1
    await stack.command("alerts mute zendesk", user=MEMBER)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "muted failure alerts" in c.args["text"]
    )
    assert ("mute", MEMBER, "ok", "backup 461") in await audit_actions(stack)
    assert skyvia_calls(stack)[BACKUPS] == 1


async def test_an_ambiguous_schedule_switch_offers_toggles_that_do_what_was_asked(
    bound: Stack,
) -> None:
    stack = bound
    stack.sim.state.add_backup(123, "Nightly ERP", scheduled=True)
    choice = await stack.reply_to("schedule nightly off", user=MEMBER)
    offered = buttons(choice, ActionId.SCHEDULE_TOGGLE)
    assert sorted(b["text"]["text"] for b in offered) == ["Nightly CRM (456)", "Nightly ERP (602)"]
    assert all('"enable":false' in b["value"] for b in offered)
    assert DISABLE not in skyvia_calls(stack)


# -- issue 19 item 11: every command that takes a backup id takes its name ---------------------


async def test_snapshots_by_name_keeps_its_page_and_filters(bound: Stack) -> None:
    stack = bound
    page = rendered(await stack.reply_to("snapshots nightly"))
    assert "*Snapshots of* *Nightly CRM* (456)" in page, page
    failed = rendered(await stack.reply_to('snapshots "Nightly CRM" failed since 7d'))
    assert "*Snapshots of* *Nightly CRM* (456)" in failed and "failed only" in failed, failed
    by_words = rendered(await stack.reply_to("snapshots nightly crm 1"))
    assert "*Snapshots of* *Nightly CRM* (456)" in by_words, by_words


async def test_alerts_stale_by_name(bound: Stack) -> None:
    stack = bound
    await stack.command("alerts stale nightly 2h", user=MEMBER)
    told = await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "stale limit" in c.args["text"]
    )
    assert "*2h 00m* for *Nightly CRM* (456)" in rendered(told[-1].args)
    await stack.command('alerts stale "jira > confluence" off', user=MEMBER)
    await stack.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and "Jira &gt; Confluence" in c.args["text"]
    )


async def test_an_ambiguous_name_in_snapshots_offers_each_backups_snapshots(bound: Stack) -> None:
    stack = bound
    erp = stack.sim.state.add_backup(123, "Nightly ERP", scheduled=True)
    choice = await stack.reply_to("snapshots nightly failed")
    offered = buttons(choice, ActionId.SHOW_SNAPSHOTS)
    labels = sorted(b["text"]["text"] for b in offered)
    assert labels == ["Nightly CRM (456)", f"Nightly ERP ({erp.id})"], labels
    crm = next(b for b in offered if "456" in b["text"]["text"])
    response_id = await click(stack, choice, ActionId.SHOW_SNAPSHOTS, value=crm["value"])
    [shown] = await stack.slack.wait_for_responses(response_id, count=1)
    text = rendered(shown.body)
    assert "*Snapshots of* *Nightly CRM* (456)" in text and "failed only" in text, text


async def test_an_ambiguous_name_in_alerts_stale_offers_the_command_per_backup(
    bound: Stack,
) -> None:
    stack = bound
    erp = stack.sim.state.add_backup(123, "Nightly ERP", scheduled=True)
    choice = rendered(await stack.reply_to("alerts stale nightly 2h", user=MEMBER))
    assert "`/skyvia alerts stale 456 2h`" in choice, choice
    assert f"`/skyvia alerts stale {erp.id} 2h`" in choice, choice
