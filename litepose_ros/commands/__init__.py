"""Subcommands of the ``litepose`` command line; each module exposes ``add_parser(subparsers)``."""
