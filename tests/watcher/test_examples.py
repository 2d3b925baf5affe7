"""The example audit templates in etc/watcher-geyser pass the checks Watcher's API would make."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from watcher.common import utils
from watcher.decision_engine.model.collector.nova import NovaClusterDataModelCollector

from watcher_geyser.strategies.consolidation import GeyserConsolidation, GeyserEnergy

EXAMPLES = Path(__file__).resolve().parents[2] / "etc/watcher-geyser/audit-templates"
STRATEGIES = {cls.get_name(): cls for cls in (GeyserConsolidation, GeyserEnergy)}
TEMPLATES = sorted(p for p in EXAMPLES.glob("*.yaml") if not p.stem.endswith("-scope"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_example_template_is_valid(path):
    example = yaml.safe_load(path.read_text())
    strategy = STRATEGIES[example["strategy"]]
    assert strategy.get_goal_name() == example["goal"]
    params = dict(example.get("parameters") or {})
    utils.StrictDefaultValidatingDraft4Validator(strategy.get_schema()).validate(params)
    if "scope" in example:
        scope = yaml.safe_load((EXAMPLES / example["scope"]).read_text())
        schema = {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                             "properties": {"compute": NovaClusterDataModelCollector.SCHEMA}}}
        utils.Draft4Validator(schema).validate(scope)


def test_there_are_examples():
    assert len(TEMPLATES) >= 3
