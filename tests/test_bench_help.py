"""Every bench script's ``--help`` explains each option and, where one is taken when it is left out,
its default (``bench/payback.py --seeds``, ``bench/signal_decide.py --days`` were silent).

The scripts build their parsers inside ``main``; a child process imports each one, stops its parser
at ``parse_args`` and reports the options. A child, because some scripts set up process-wide state
when imported (``bench/snapshot_scale.py`` starts Watcher's functional-test service backend).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import argparse, importlib, json, sys
from pathlib import Path

sys.path.insert(0, "bench")


class Parsed(Exception):
    pass


def stop(parser, *args, **kwargs):
    raise Parsed(parser)


argparse.ArgumentParser.parse_args = stop
report = {}
for path in sorted(Path("bench").glob("*.py")):
    module = importlib.import_module(path.stem)
    if not hasattr(module, "main"):
        continue  # a helper module of the other scripts
    try:
        module.main()
    except Parsed as parsed:
        parser = parsed.args[0]
    else:
        report[path.name] = ["main() built no parser"]
        continue
    report[path.name] = [
        option.option_strings[-1]
        for option in parser._actions
        if option.option_strings and not isinstance(option, argparse._HelpAction)
        and option.help != argparse.SUPPRESS
        and (not option.help
             or option.default not in (None, False, [], argparse.SUPPRESS) and "default" not in option.help)
    ]
print(json.dumps(report))
"""


def test_every_bench_option_says_what_it_does_and_its_default() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"payback.py", "signal_decide.py", "follow_energy.py", "solver_scale.py"} <= set(report)
    silent = {script: options for script, options in report.items() if options}
    assert silent == {}
