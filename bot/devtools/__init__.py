"""Local stand-ins for the outside world: a Slack Web API and a Slack request sender.

They let the bot run with no Slack workspace at all: `skyvia-bot console` drives the real bot
through them, and the end-to-end tests use them as their Slack.
"""
