"""The handlers of the subcommands in cli.SUBCOMMANDS: ``handler(args) -> exit code``.

Each module is imported only when one of its subcommands runs.
"""
