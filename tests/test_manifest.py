"""`manifest.yml` must create a working app as-is: valid for Slack, and asking for no more than the
bot uses (every extra scope is something a Slack admin has to approve and we have to justify)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.app import BOT_SCOPES
from handlers.topics.steps import OPEN_WINDOW, RUN_SNAPSHOT

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = REPO_ROOT / "manifest.yml"
# Slack's app manifest schema (v1), vendored with its source and licence: docs/vendor/README.md.
SCHEMA = REPO_ROOT / "docs" / "vendor" / "slack-manifest.schema.json"

# The bot's own list (OAuth installs request it) is the one source; the manifest must match it.
EXPECTED_BOT_SCOPES = set(BOT_SCOPES)

# Scopes Slack requires before an app may subscribe to each event (from Slack's event reference).
# An event missing here fails the test: add it with its scopes when subscribing to something new.
EVENT_REQUIRED_SCOPES: dict[str, set[str]] = {
    "app_home_opened": set(),
    "member_left_channel": {"channels:read", "groups:read"},
    "channel_archived": {"channels:read"},
    "group_archived": {"groups:read"},
    "channel_deleted": {"channels:read"},
    "group_deleted": {"groups:read"},
    "app_uninstalled": set(),
    "tokens_revoked": set(),
    "function_executed": set(),  # "No scopes required" (Slack's event reference)
    "user_change": {"users:read"},
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_manifest_matches_slack_schema(
    manifest: dict[str, Any], schema_validator: jsonschema.protocols.Validator
) -> None:
    assert schema_errors(schema_validator, manifest) == []


def test_schema_check_catches_a_broken_manifest(
    manifest: dict[str, Any], schema_validator: jsonschema.protocols.Validator
) -> None:
    broken = copy.deepcopy(manifest)
    broken["features"]["slash_commands"][0]["command"] = "skyvia"  # no leading slash
    broken["settings"]["interactivity"].pop("is_enabled")
    errors = schema_errors(schema_validator, broken)
    assert any(e.startswith("features/slash_commands/0/command") for e in errors), errors
    assert any(e.startswith("settings/interactivity") for e in errors), errors


def test_manifest_format_version(manifest: dict[str, Any]) -> None:
    assert manifest["_metadata"] == {"major_version": 1, "minor_version": 1}


def test_skyvia_command_with_usage_hint(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/skyvia"
    assert command["description"].strip()
    for word in ("help", "connect", "status", "backups", "snapshot", "schedule", "alerts"):
        assert word in command["usage_hint"]
    # `alerts mention` needs Slack's ids for people and groups, which only escaping sends.
    assert command.get("should_escape") is True


def test_interactivity_and_home_tab_are_on(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["bot_user"]["display_name"].strip()


def test_socket_mode_needs_no_request_urls(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    # Slack ignores these URLs under Socket Mode; a stale one would only mislead whoever switches.
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert "request_url" not in settings["interactivity"]
    assert "request_url" not in settings["event_subscriptions"]


def test_bot_scopes_are_exactly_what_the_bot_uses(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    assert sorted(scopes["bot"]) == sorted(EXPECTED_BOT_SCOPES)
    assert len(scopes["bot"]) == len(set(scopes["bot"]))
    assert not scopes.get("user"), "the bot acts as itself, never as a user"


def test_every_subscribed_event_has_its_scopes(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    granted = set(manifest["oauth_config"]["scopes"]["bot"])
    assert set(events) == set(EVENT_REQUIRED_SCOPES)
    missing = {event: EVENT_REQUIRED_SCOPES[event] - granted for event in events}
    assert {event: scopes for event, scopes in missing.items() if scopes} == {}


def test_workflow_steps_are_declared_for_remote_functions(manifest: dict[str, Any]) -> None:
    """Slack shows a custom step in Workflow Builder only for an org-ready app whose functions
    run remotely and that hears `function_executed` (docs/reference/commands.md)."""
    settings = manifest["settings"]
    assert settings["org_deploy_enabled"] is True
    assert settings["function_runtime"] == "remote"
    assert "function_executed" in settings["event_subscriptions"]["bot_events"]
    assert set(manifest["functions"]) == {RUN_SNAPSHOT, OPEN_WINDOW}


@pytest.mark.parametrize(
    ("callback_id", "inputs", "outputs"),
    [
        (
            RUN_SNAPSHOT,
            {"channel", "backup", "user", "workflow"},
            {"snapshot_id", "state", "rows", "duration_seconds", "card_permalink"},
        ),
        (OPEN_WINDOW, {"channel", "backup", "duration", "user"}, {"ends_at"}),
    ],
)
def test_each_step_declares_what_its_listener_reads_and_completes_with(
    manifest: dict[str, Any], callback_id: str, inputs: set[str], outputs: set[str]
) -> None:
    function = manifest["functions"][callback_id]
    assert set(function["input_parameters"]) == inputs
    assert set(function["output_parameters"]) == outputs
    channel = function["input_parameters"]["channel"]
    assert channel["type"] == "slack#/types/channel_id" and channel["is_required"] is True
    for name, parameter in {
        **function["input_parameters"],
        **function["output_parameters"],
    }.items():
        assert parameter["name"] == name and parameter["title"].strip()
