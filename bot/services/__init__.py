"""The use cases: what the bot does, with no Slack library.

Request-side use cases (bindings, their token policy and alert settings, backups, snapshots,
schedules, timers, health, digests, subscriptions, takers, steps, clicks, channel pauses), watching
(`watching`), the alerting engine (`alerting/`), the leased work those two and the timers share
(`leasing`), retention, backoff, the audit helper and the read models they return (`models`). What
watching and alerting tell a channel goes through the `Announcer` port (`announcements`); errors
carry their kind and facts (`errors`), and `bot.slack.messages` words them (no command is spelled
out here: a test checks). It may import the Skyvia client and storage, whose bindings and alert
cursors it sees as `storage.records` (never their models: a test checks); never `bot.slack` or
handlers.
"""
