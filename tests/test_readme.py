"""The README's commands keep working as written: commands, flags, files and defaults exist.

Every ``geyser ...`` line in a code block must name a real subcommand and only flags its
parser has; every input file a command names must exist in the checkout (files the README
writes with ``-o``, ``--out`` or ``>`` are outputs); ``bash tools/...`` and ``python bench/...``
scripts must exist, with the flags the README gives them.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from watcher_geyser.cli import COMMANDS, build_parser
from watcher_geyser.commands import simulate

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FILE = re.compile(r"\.(json|csv|toml|yaml|txt)$")
OUTPUT_FLAGS = {"-o", "--out", ">"}


def commands() -> list[list[str]]:
    """Each shell line of the README's code blocks, continuation lines joined, as tokens."""
    lines, block, pending = [], False, ""
    for raw in README.read_text().splitlines():
        if raw.startswith("```"):
            block = not block
            continue
        if not block:
            continue
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        line = re.sub(r"\s+#.*$", "", line)
        try:
            tokens = shlex.split(line)
        except ValueError:
            continue  # not shell (ini, json, yaml in the same blocks)
        if tokens and tokens[0] in ("geyser", ".venv/bin/geyser", "python", ".venv/bin/python", "bash"):
            lines.append(tokens)
    return lines


def subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def outputs(all_commands: list[list[str]]) -> set[str]:
    return {c[i + 1] for c in all_commands for i, t in enumerate(c[:-1]) if t in OUTPUT_FLAGS}


def test_readme_shows_every_command():
    names = {c[1] for c in commands() if c[0].endswith("geyser") and len(c) > 1}
    assert set(COMMANDS) <= names, f"commands without an example in the README: {set(COMMANDS) - names}"


@pytest.mark.parametrize("tokens", [c for c in commands() if c[0].endswith("geyser")], ids=" ".join)
def test_geyser_command_flags_exist(tokens):
    parsers = subparsers()
    assert len(tokens) > 1 and tokens[1] in parsers, f"README names an unknown command: {' '.join(tokens)}"
    known = {s for a in parsers[tokens[1]]._actions for s in a.option_strings}
    for token in tokens[2:]:
        if token.startswith("-") and token != "-":
            flag = token.split("=", 1)[0]
            assert flag in known, f"README: `geyser {tokens[1]}` has no option {flag} (line: {' '.join(tokens)})"


@pytest.mark.parametrize("tokens", commands(), ids=" ".join)
def test_named_files_exist(tokens):
    made = outputs(commands())
    for i, token in enumerate(tokens):
        path = token.split("=", 1)[-1] if token.startswith("-") else token
        path = path.removeprefix("file:").split("?", 1)[0]
        if i and tokens[i - 1] in OUTPUT_FLAGS or path in made:
            continue
        if FILE.search(path) and not path.startswith(("/", "../")):
            assert (ROOT / path).is_file(), f"README names {path}, which is not in the checkout"


def test_scripts_and_their_flags_exist():
    for tokens in commands():
        if tokens[0] == "bash" or (tokens[0].endswith("python") and tokens[1].startswith("bench/")):
            script = ROOT / tokens[1]
            assert script.is_file(), f"README runs {tokens[1]}, which does not exist"
            text = script.read_text()
            for flag in (t.split("=", 1)[0] for t in tokens[2:] if t.startswith("--")):
                assert f'"{flag}"' in text, f"{tokens[1]} has no option {flag}"


def test_simulate_defaults_match_help_and_readme():
    """The default policies are written once and said the same in --help and the README."""
    help_text = subparsers()["simulate"].format_help()
    defaults = ", ".join(simulate.DEFAULT_POLICIES)
    assert re.sub(r"\s", "", f"default: {defaults}") in re.sub(r"\s", "", help_text)  # argparse wraps at hyphens
    line = next(c for c in README.read_text().splitlines() if c.startswith("geyser simulate  "))
    assert line.split("#", 1)[1].strip().endswith(defaults)
