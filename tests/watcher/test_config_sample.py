"""The shipped sample configuration is what oslo-config-generator makes of our options today."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR_CONF = ROOT / "etc/watcher-geyser/watcher-geyser-config-generator.conf"
SAMPLE = ROOT / "etc/watcher-geyser/watcher-geyser.conf.sample"
REGENERATE = "oslo-config-generator --config-file etc/watcher-geyser/watcher-geyser-config-generator.conf"


def test_sample_config_is_up_to_date(tmp_path):
    names = {ep.name for ep in entry_points(group="oslo.config.opts")}
    if "watcher_geyser" not in names:
        pytest.fail("the oslo.config.opts entry point 'watcher_geyser' is not installed: run pip install -e .")
    out = tmp_path / "sample.conf"
    subprocess.run([sys.executable, "-m", "oslo_config.generator", "--config-file", str(GENERATOR_CONF),
                    "--output-file", str(out)], check=True, cwd=ROOT, capture_output=True)
    assert out.read_text() == SAMPLE.read_text(), f"{SAMPLE.name} is stale: run `{REGENERATE}` and commit it"
