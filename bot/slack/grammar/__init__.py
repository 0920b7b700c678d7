"""The `/skyvia` command grammar: text in, a typed command or a `UsageError` out.

Pure: it imports nothing but the standard library and `bot.clock`; handlers match on
`commands`, `parsing.parse_command` is the one entry point, and `usage` is the table the
help, the errors and the docs read.
"""
