"""The `/skyvia` command grammar: text in, a typed command or a `UsageError` out.

Pure: no I/O and no state. It imports the standard library, `bot.clock`, and the shortest stale
and overdue limits from the alerting services that own them (`alerts_words`); those modules
bring storage along on import, but the grammar calls none of it, and the import contract keeps
it from importing Slack, Skyvia's client or storage itself. Handlers match on `commands`,
`parsing.parse_command` is the one entry point (with one parser per subcommand; `alerts_words`
is the `alerts` subcommand's own grammar), and `usage` is the table the help, the errors and
the docs read. Each name is imported from the module that defines it.
"""
