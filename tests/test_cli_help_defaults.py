"""Every subcommand's ``--help`` states the default an option really has: a default is written
once (the parser's), and help that restates it by hand (and drifts) is caught here."""

from __future__ import annotations

import argparse
import re

import pytest

from watcher_geyser.cli import build_parser


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _stated(action: argparse.Action, parser: argparse.ArgumentParser) -> str | None:
    """The default ``action``'s help states, as ``--help`` prints it, or None when it states none."""
    if not action.help or action.help is argparse.SUPPRESS:
        return None
    text = parser._get_formatter()._expand_help(action)
    found = re.search(r"\(default:? ([^;),]+)", text)
    return None if found is None else found.group(1).strip()


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_states_the_real_default(name: str) -> None:
    parser = _subcommands()[name]
    for action in parser._actions:
        stated = _stated(action, parser)
        if stated is None or action.default in (None, False, [], argparse.SUPPRESS):
            continue  # no default, or one computed elsewhere and said in words
        real = f"{action.default:g}" if isinstance(action.default, int | float) else str(action.default)
        assert stated.split(" ")[0].rstrip(":") in (real, f"{action.default}"), (
            f"geyser {name} {action.option_strings}: help says default {stated!r}, the parser's is {real!r}")
