"""Exactly-once delivery at Slack's pace: the outbox's Slack side.

Services owe messages through the `notifier` (rows in the outbox); the `senders` drain them
under `pacing`'s token buckets; `readback` settles unknown outcomes; `errors` is the one
table of what Slack's refusals mean and `refusals` applies it; `announcer` turns the
services' announcements into Block Kit. It may import the messages, the clients, the
services and storage's repositories, never the handlers or the workers.
"""
