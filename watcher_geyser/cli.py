"""The ``geyser`` command: one entry point, one module per subcommand under ``commands/``.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit code. Adding a
command is adding its module name to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from watcher_geyser.inputs import InputError

COMMANDS = ("audit", "plan", "signal", "simulate", "snapshot", "sweep")

DESCRIPTION = """\
watcher-geyser: energy-aware workload consolidation for OpenStack Watcher.

Pack instances onto fewer hosts when energy is scarce and switch the freed hosts off;
relax the packing when it is plentiful. Each command below has its own --help.

examples:
  geyser plan examples/cloud.json --signal constant:5000W   # what geyser would do to a fleet (a dry run)
  geyser signal solar:lat=52.1,lon=5.1,peak_w=20000 --fleet-peak-w 30000   # the energy policy, now
  geyser simulate --out results/                            # replay the bundled PlanetLab sample
  geyser snapshot --os-cloud prod -o prod.json              # a live cloud as a scenario (read-only)

Exit status: 0 done; 2 a bad input (one line says what, where and the fix); 3 a bug
(GEYSER_DEBUG=1 shows the traceback); each command's --help gives its own.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what is wrong and where to read more, exit code 2."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="geyser", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command_name")
    for name in COMMANDS:
        importlib.import_module(f"watcher_geyser.commands.{name}").register(subparsers)
    return parser


def _version() -> str:
    """The installed distribution's version (a checkout run without installing it has none)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("watcher-geyser")
    except PackageNotFoundError:
        return "(not installed)"


#: Exit status when the reader of our output goes away (``geyser signal ... | head``): the
#: shell's own convention for a process ended by SIGPIPE (128 + 13), quietly.
EXIT_BROKEN_PIPE = 141
#: Exit status of a bug (not an input error): one line, the traceback only with GEYSER_DEBUG=1.
EXIT_INTERNAL = 3


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a bad flag (one line already printed) or --help: its code, for callers too
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    command = f"geyser {getattr(args, 'command_name', '') or ''}".strip()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("geyser: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except InputError as exc:  # a bad input a command did not catch itself: still one line, exit 2
        print(f"{command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - never a traceback on an operator's terminal
        if os.environ.get("GEYSER_DEBUG"):
            raise
        text = str(exc).splitlines()[0][:300] if str(exc) else ""
        print(f"{command}: internal error ({type(exc).__name__}: {text}); please report it, with GEYSER_DEBUG=1 "
              "for the traceback", file=sys.stderr)
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
