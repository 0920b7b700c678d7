"""The `/skyvia` command grammar: text in, a typed command or a `UsageError` out.

Pure: it imports nothing but the standard library and `bot.clock`; handlers match on
`commands`, `parsing.parse_command` is the one entry point (with one parser per subcommand;
`alerts_words` is the `alerts` subcommand's own grammar), and `usage` is the table the help,
the errors and the docs read. Each name is imported from the module that defines it.
"""
