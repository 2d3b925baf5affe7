"""``geyser signal`` and the ``[geyser_signal]`` oslo.config options."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from oslo_config import cfg, generator

from watcher_geyser import cli
from watcher_geyser.commands import signal as signal_command
from watcher_geyser.signal import opts
from watcher_geyser.signal.policy import PolicyConfig

SIGNALS = Path(__file__).resolve().parent.parent / "etc" / "watcher-geyser" / "signals"


def geyser(*argv: str) -> int:
    """Run ``geyser signal ...`` through the same register() hook the dispatcher uses."""
    parser = argparse.ArgumentParser(prog="geyser")
    signal_command.register(parser.add_subparsers())
    try:
        args = parser.parse_args(["signal", *argv])
    except SystemExit as exc:  # a flag out of range: argparse's own exit 2
        return int(exc.code or 0)
    return args.func(args)


def test_registered_in_the_dispatcher() -> None:
    assert "signal" in cli.COMMANDS


def test_scarce_constant_shows_budget_ceiling_and_power_off(capsys) -> None:
    assert geyser("constant:3kW", "--fleet-peak-w", "10000") == 0
    out = capsys.readouterr().out
    assert "power budget  3,000 W (30% of the fleet peak 10,000 W)" in out
    assert f"ceiling       {PolicyConfig().tight_ceiling:.3f}" in out
    assert "may switch idle hosts off" in out and "fallback      none" in out


def test_json_output_on_the_carbon_intensity_example(capsys) -> None:
    code = geyser(f"file:{SIGNALS / 'carbon-intensity.json'}", "--at", "2026-06-21T18:00:00Z", "--json")
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    assert d["unit"] == "gco2_per_kwh" and d["at"] == "2026-06-21T18:00:00Z"
    assert d["value"] >= d["value_now"] and d["fallback"] is None and d["power_budget_w"] is None
    config = PolicyConfig()  # the ceiling moves between the relaxed and the tight one
    assert config.relaxed_ceiling <= d["ceiling"] <= config.tight_ceiling and "maximum of" in d["reason"]


def test_failing_source_exits_1_and_says_why(capsys, tmp_path) -> None:
    assert geyser(f"file:{tmp_path / 'missing.csv'}?unit=W", "--fleet-peak-w", "1000") == 1
    out = capsys.readouterr().out
    assert "fallback      safe_default" in out and "No such file" in out and "switch no host off" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus:1"], "unknown kind 'bogus'"),
        (["constant:5 parsecs"], "unknown unit"),
        (["constant:-5W"], "finite number >= 0"),
        (["constant:150%"], "above 100"),
        (["file:x.csv?colour=red"], "unknown option 'colour'"),
        (["constant:5000W"], "pass --fleet-peak-w W or --scenario FILE"),
        (["constant:5000W", "--at", "teatime", "--fleet-peak-w", "1"], "not ISO 8601"),
        (["constant:5000W", "--fleet-peak-w", "-4"], "must be > 0"),
        ([], "no SOURCE given"),
    ],
)
def test_usage_errors_exit_2_with_the_fix(capsys, argv, message) -> None:
    assert geyser(*argv) == 2
    assert message in capsys.readouterr().err


def test_fleet_peak_from_a_scenario(capsys, tmp_path) -> None:
    hosts = [
        {"name": f"h{i}", "vcpus": 16, "memory_mb": 65536, "disk_gb": 500, "power": {"idle_w": 90, "max_w": 250}}
        for i in range(4)
    ]
    scenario = tmp_path / "fleet.json"
    scenario.write_text(json.dumps({"hosts": hosts, "instances": []}))
    assert geyser("constant:0.5?unit=fraction", "--scenario", str(scenario), "--json") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["fleet_peak_w"] == 1000 and d["power_budget_w"] == 500


def test_config_file_sets_source_and_thresholds(capsys, tmp_path) -> None:
    conf = tmp_path / "geyser.conf"
    conf.write_text("[geyser_signal]\nsource = constant:40%\ntight_ceiling = 0.9\nneutral_ceiling = 0.75\n"
                    "relaxed_ceiling = 0.6\n")
    assert geyser("--config-file", str(conf), "--json") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["unit"] == "renewable_pct" and d["level"] == pytest.approx(0.75)
    assert d["ceiling"] == pytest.approx(0.75 + 0.5 * 0.15)  # level 0.75: halfway from neutral to tight


@pytest.mark.parametrize(
    ("body", "message"),
    [("relaxed_ceiling = 2\n", "relaxed_ceiling"), ("scarce_fraction = 0.95\n", "scarce_fraction < plenty_fraction")],
)
def test_bad_config_values_exit_2(capsys, tmp_path, body, message) -> None:
    conf = tmp_path / "geyser.conf"
    conf.write_text("[geyser_signal]\n" + body)
    assert geyser("constant:1kW", "--fleet-peak-w", "2000", "--config-file", str(conf)) == 2
    assert message in capsys.readouterr().err


def test_state_file_carries_hysteresis_between_runs(capsys, tmp_path) -> None:
    state, signal = tmp_path / "state.json", tmp_path / "site.csv"
    common = ["--fleet-peak-w", "10000", "--state-file", str(state), "--json"]
    signal.write_text("# unit: W\n2026-06-21T00:00:00Z,3000,86400\n")
    assert geyser(f"file:{signal}", "--at", "2026-06-21T12:00:00Z", *common) == 0
    first = json.loads(capsys.readouterr().out)
    signal.write_text("# unit: W\n2026-06-21T00:00:00Z,9500,86400\n")
    assert geyser(f"file:{signal}", "--at", "2026-06-21T12:05:00Z", *common) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["held"] and second["ceiling"] == first["ceiling"] and first["power_budget_w"] == 3000
    assert second["power_budget_w"] == 9500  # the supply follows the reading; the ceiling is held
    assert "minimum dwell" in second["reason"] and second["proposed_power_budget_w"] == 9500
    # Another source with the same state file starts from its own (empty) memory.
    assert geyser("constant:9500W", "--at", "2026-06-21T12:06:00Z", *common) == 0
    third = json.loads(capsys.readouterr().out)
    assert not third["held"] and third["power_budget_w"] == 9500


def test_help_documents_the_spec_grammar_and_examples(capsys) -> None:
    assert geyser("--help") == 0
    out = capsys.readouterr().out
    expected = ("constant:VALUE[UNIT]", "prometheus:BASE_URL?query=PROMQL", "solar:lat=LAT", "Examples:", "Exit status")
    for text in expected:
        assert text in out


def test_every_option_has_help_and_maps_onto_the_policy() -> None:
    (group, options), = opts.list_opts()
    assert group.name == "geyser_signal"
    assert all(o.help and len(o.help) > 20 for o in options)
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf(args=[], default_config_files=[])
    assert opts.policy_config(conf) == PolicyConfig()
    http = opts.http_options(conf)
    assert http.verify and http.timeout_s == 10.0
    assert [o.name for o in options if o.secret] == ["http_password", "http_token"]
    assert opts.source_from_conf(conf) is None


def test_an_override_in_one_config_object_does_not_reach_another(capsys) -> None:
    """oslo.config shares a registered group's option table between ConfigOpts objects unless each
    gets its own group: a test's (or Watcher's global CONF's) override then reached this command."""
    other = cfg.ConfigOpts()
    opts.register_opts(other)
    other([], default_config_files=[])
    other.set_override("source", "constant:1W", group=opts.GROUP)
    try:
        fresh = cfg.ConfigOpts()
        opts.register_opts(fresh)
        fresh([], default_config_files=[])
        assert fresh[opts.GROUP].source == ""
        assert geyser() == 2 and "no SOURCE given" in capsys.readouterr().err
    finally:
        other.clear_override("source", group=opts.GROUP)


def test_sample_config_generates(monkeypatch) -> None:
    monkeypatch.setattr(generator, "_get_raw_opts_loaders", lambda namespaces: [("watcher_geyser", opts.list_opts)])
    monkeypatch.setattr(generator, "_get_opt_default_updaters", lambda namespaces: [])
    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(args=["--namespace", "watcher_geyser"])
    out = io.StringIO()
    generator.generate(conf, output_file=out)
    sample = out.getvalue()
    assert "[geyser_signal]" in sample and f"#tight_ceiling = {PolicyConfig().tight_ceiling:g}" in sample
    assert "#http_token = <None>" in sample


def test_https_source_with_the_ca_bundle_from_the_config_file(capsys, tmp_path) -> None:
    from tests.signal_servers import make_tls, serve

    context, ca_path = make_tls(tmp_path)
    body = (SIGNALS / "carbon-aware-forecast.json").read_bytes()
    with serve({"/forecast": (200, {"Content-Type": "application/json"}, body)}, tls=context) as (url, _):
        spec = f"{url}/forecast#format=carbon-aware"
        assert geyser(spec, "--at", "2026-06-21T03:00:00Z") == 1  # refused: the test CA is not trusted
        assert "TLS certificate verification failed" in capsys.readouterr().out
        conf = tmp_path / "geyser.conf"
        conf.write_text(f"[geyser_signal]\nhttp_ca_bundle = {ca_path}\nhttp_retries = 0\n")
        assert geyser(spec, "--at", "2026-06-21T03:00:00Z", "--config-file", str(conf), "--json") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["unit"] == "gco2_per_kwh" and d["fallback"] is None and d["source"] == f"{url}/forecast"
