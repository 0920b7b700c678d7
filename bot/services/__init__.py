"""The use cases: what the bot does, with no Slack library.

Request-side use cases (bindings, backups, snapshots, schedules, timers, health, digests,
subscriptions, takers, steps, clicks), watching (`watching`), the alerting engine
(`alerting/`), retention, backoff, the audit helper and the read models they return
(`models`). What watching and alerting tell a channel goes through the `Announcer` port
(`announcements`); errors carry a code and facts (`errors`), and the handlers' error handler
says them. It may import the Skyvia client and storage; never `bot.slack` or handlers.
"""
