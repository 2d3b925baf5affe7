"""`geyser plan --help` states the default of every numeric option, from the one place it is written."""

from __future__ import annotations

import argparse

import pytest

from watcher_geyser.cli import build_parser
from watcher_geyser.commands import plan


def _plan_parser() -> argparse.ArgumentParser:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices["plan"]


def test_every_numeric_option_states_its_default() -> None:
    parser = _plan_parser()
    text = " ".join(parser.format_help().split())
    numeric = [a for a in parser._actions if a.type is not None and a.default is not None]
    assert {"--time-limit", "--ceiling", "--parallelism", "--max-rows"} <= {a.option_strings[0] for a in numeric}
    for action in numeric:
        assert f"(default {action.default:g}" in text, action.option_strings


def test_help_without_its_default_is_refused() -> None:
    with pytest.raises(ValueError, match="--x: its help must state the default"):
        plan._add_number(argparse.ArgumentParser(), "--x", int, 3, "N", "a number (default 3)")
