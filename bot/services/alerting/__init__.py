"""The alerting engine: failed, stale and overdue backups, told once to every channel.

`scanner` runs a round (discovery, one listing per backup, who hears what), `episodes`
keeps a repeating failure to one alert and its thread, `staleness` and `overdue` judge
the age of good runs and the length of running ones, `own_tokens` and `token_checks`
handle channels whose token Skyvia refuses. Like every service it may import the Skyvia
client and storage, never Slack.
"""
