"""Sweep grids: TOML -> cells, each the arguments of one `geyser simulate` run, checked up front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher_geyser.commands import simulate
from watcher_geyser.sweep.grid import Cell, GridError, load_grid
from watcher_geyser.sweep.results import cell_path, load_done

ROOT = Path(__file__).resolve().parents[1]


def grid(tmp_path: Path, text: str) -> list[Cell]:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return load_grid(path)


def test_bundled_example_grid_is_valid():
    cells = load_grid(ROOT / "examples" / "sweep.toml")
    assert len(cells) >= 4 and len({c.key for c in cells}) == len(cells)
    for cell in cells:
        args = simulate.parse(cell.argv())
        assert args.trace is None and args.deterministic and len(args.policy) == 1  # the bundled sample


def test_every_combination_is_a_cell(tmp_path):
    cells = grid(tmp_path, """
[fixed]
fidelity = "cloudsim"
deterministic = true
[grid]
policy = ["geyser", "thr-mmt:threshold=0.9"]
signal-w = [500, 1000, 2000]
seed = [0, 1]
""")
    assert len(cells) == 12
    argv = cells[0].argv()
    assert argv == ["--fidelity", "cloudsim", "--deterministic", "--policy", "geyser", "--signal-w", "500",
                    "--seed", "0"]
    assert {c.params["policy"] for c in cells} == {"geyser", "thr-mmt:threshold=0.9"}


def test_grid_tables_pool_and_days_name_traces(tmp_path):
    (tmp_path / "days" / "d1").mkdir(parents=True)
    (tmp_path / "days" / "d2").mkdir()
    cells = grid(tmp_path, """
[fixed]
traces = "days"
[[grid]]
day = ["d1", "d2"]
policy = "thr-mmt"
[[grid]]
day = "d1"
policy = ["geyser", "thr-mmt"]
""")
    assert len(cells) == 3  # (d1, thr-mmt) appears in both tables: one cell
    assert {c.params["trace"] for c in cells} == {str(tmp_path / "days" / "d1"), str(tmp_path / "days" / "d2")}


@pytest.mark.parametrize(
    "text, message",
    [
        ("[grid]\npolicy = ['geyser']\nnope = [1]\n", "'nope' is not a `geyser simulate` option"),
        ("[grid]\npolicy = ['geyser']\nout = ['x']\n", "set by `geyser sweep` itself"),
        ("[grid]\nseed = [1, 2]\n", "give each cell one 'policy'"),
        ("[grid]\npolicy = []\n", "empty list"),
        ("[grid]\npolicy = ['geyser']\nseed = ['many']\n", "argument --seed"),
        ("[fixed]\npolicy = ['geyser']\n[grid]\nseed = [1]\n", "must be one value"),
        ("[grid]\npolicy = ['geyser']\nday = ['x']\n", "'day' needs 'traces'"),
        ("[grids]\n", "unknown table"),
        ("[grid\n", "not valid TOML"),
    ],
)
def test_bad_grids_are_clear_errors(tmp_path, text, message):
    with pytest.raises(GridError, match=message) as caught:
        grid(tmp_path, text)
    assert str(tmp_path / "grid.toml") in str(caught.value)


options = st.lists(
    st.tuples(st.sampled_from(["policy", "seed", "signal-w", "fidelity", "limit"]), st.integers(0, 9)),
    min_size=1,
    max_size=5,
    unique_by=lambda kv: kv[0],
)


@settings(deadline=None)
@given(options, st.randoms())
def test_cell_key_ignores_option_order(pairs, rnd):
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    assert Cell(tuple(pairs)).key == Cell(tuple(shuffled)).key
    changed = [(k, v + 1) for k, v in pairs]
    assert Cell(tuple(changed)).key != Cell(tuple(pairs)).key


@pytest.mark.parametrize(("options", "recorded", "done"), [
    ((("fidelity", "realistic"),), None, False),  # computed before the report named its plans: drop
    ((("fidelity", "realistic"),), "drop", False),  # realistic's default is run-to-end now
    ((("fidelity", "realistic"),), "run-to-end", True),
    ((("fidelity", "realistic"), ("plans", "drop")), "drop", True),
    ((("fidelity", "cloudsim"),), None, True),  # cloudsim only ever dropped
    ((), "drop", False),  # no fidelity: realistic, the command's default
])
def test_a_cell_computed_with_another_plans_runs_again(tmp_path, options, recorded, done):
    cell = Cell(options)
    meta = {} if recorded is None else {"plans": recorded}
    path = cell_path(tmp_path, cell)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": cell.key, "summary": {"energy_kwh": 1.0}, "report": {"meta": meta}}))
    assert (cell.key in load_done(tmp_path, [cell])) is done
