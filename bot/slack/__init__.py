"""Slack adapters shared by handlers and workers: Web API clients, the authorizer, the
notifier, and the pure Block Kit builders with the ids and payloads their buttons carry."""
