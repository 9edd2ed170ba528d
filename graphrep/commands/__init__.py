"""Subcommands of the graphrep CLI, one module each: ``add_parser(subparsers)`` and ``run(args) -> int``."""
