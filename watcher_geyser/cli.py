"""The ``geyser`` command: one entry point, one module per subcommand under ``commands/``.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit code. Adding a
command is adding its module name to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("audit", "plan", "signal", "simulate", "snapshot", "sweep")

DESCRIPTION = """\
watcher-geyser: energy-aware workload consolidation for OpenStack Watcher.

Pack instances onto fewer hosts when energy is scarce and switch the freed hosts off;
relax the packing when it is plentiful. Each command below has its own --help.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geyser", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"watcher_geyser.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("geyser: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
