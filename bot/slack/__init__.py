"""Slack adapters shared by handlers and workers.

Four packages and a few modules: `grammar` (the `/skyvia` text to a typed command, pure),
`messages` (Block Kit builders, action ids and typed button payloads, pure), `delivery`
(exactly-once messages at Slack's pace: the notifier, the senders, pacing, read-back and the
one table of Slack's errors), and beside them the Web API clients (`clients`), the authorizer
(`authz`), the OAuth installation store with its tokens encrypted (`installation_store`),
installations coming and going (`installations`) and who can see which channel (`visibility`).
It may import the services, the Skyvia models and storage; never handlers, workers or the
composition root.
"""
