"""One module per topic: its `/skyvia` subcommands, its buttons, and whatever else Slack sends
it, declared as a `Topic` (`handlers.topic`) and wired in one place (`handlers.wiring`).

A topic module may import `handlers.context`, `handlers.errors`, `handlers.listener`,
`handlers.topic` and the shared helpers beside them (`clicks`, `screens`, `snapshot_start`,
`deadlines`), never another topic: import-linter's independence contract says so, and what two
topics share moves to a helper module. `events` and `steps` are topics of their own (a channel
or team going away; Workflow Builder), with no command or button.
"""
