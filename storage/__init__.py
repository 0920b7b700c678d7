"""The bot's database: models, repositories, Alembic migrations and token encryption.

Entry points: `storage.db.Database` (engine + sessions), `storage.db.upgrade_async` (migrations),
`storage.repositories` (queries per entity; bindings and alert cursors are read into the plain
records of `storage.records`), `storage.crypto.TokenCipher` (tokens at rest),
`storage.slack_tables` (the tables of Slack's OAuth stores, whose adapter is
`bot.slack.installation_store`). It imports nothing of ours and no Slack library.
"""
