"""What an audit asks of the solver: parameters first, then the signal, and never an exception."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from tests.watcher import cluster
from watcher_geyser.pipeline import DEFAULTS
from watcher_geyser.power import PowerModel
from watcher_geyser.signal import opts as signal_opts
from watcher_geyser.strategies.adapter import fleet_from_model
from watcher_geyser.strategies.energy import decide_energy
from watcher_geyser.strategies.params import AuditParams

NOW_S = 1_700_000_000.0


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    conf([], project="test")
    signal_opts.register_opts(conf)
    return conf


def _sources(conf, **named: str) -> None:
    conf.set_override("named_sources", [f"{k}={v}" for k, v in named.items()], group=signal_opts.GROUP)


@pytest.fixture(scope="module")
def fleet():
    nodes = [cluster.node(f"c{i}") for i in range(8)]
    insts = [cluster.instance(f"vm{i}", f"c{i % 8}") for i in range(20)]
    return fleet_from_model(cluster.model(nodes, insts), lambda _: PowerModel.linear(100, 300)).fleet


def decide(params: AuditParams, fleet, conf):
    return decide_energy(params, fleet, conf, params.settings(2, 2, 1), NOW_S)


def test_audit_parameters_override_the_signal(conf, fleet):
    params = AuditParams(power_budget_w=3000, cpu_ceiling=0.8, ceiling=0.99, power_off=True,
                         signal_source="constant:1W")
    decision = decide(params, fleet, conf)
    assert (decision.budget_w, decision.ceiling, decision.allow_power_off) == (3000, 0.8, True)
    assert decision.settings.limits.ceiling == 0.99  # allocation: the operator's
    assert not decision.fallback


def test_no_signal_means_no_budget_and_the_blind_ceiling(conf, fleet):
    decision = decide(AuditParams(ceiling_max=0.8, power_off=True), fleet, conf)
    assert (decision.budget_w, decision.ceiling, decision.allow_power_off) == (None, DEFAULTS.limits.cpu_ceiling, True)
    assert "no energy signal" in decision.reason


def test_scarce_signal_tightens_and_plentiful_relaxes(conf, fleet):
    peak_w = float(fleet.max_w.sum())
    _sources(conf, scarce=f"constant:{0.2 * peak_w:.0f}W", plenty=f"constant:{2 * peak_w:.0f}W")
    scarce = decide(AuditParams(signal_source="scarce", power_off=True), fleet, conf)
    plenty = decide(AuditParams(signal_source="plenty", power_off=True), fleet, conf)
    assert scarce.ceiling > plenty.ceiling
    assert scarce.ceiling > DEFAULTS.limits.cpu_ceiling > plenty.ceiling  # beyond blind on both sides
    assert scarce.budget_w == pytest.approx(0.2 * peak_w, abs=1) and plenty.budget_w == pytest.approx(2 * peak_w, abs=1)
    assert scarce.allow_power_off and not scarce.fallback


@pytest.mark.parametrize("spec", ["file:/nonexistent/signal.csv", "nonsense://x", "constant:-5W"])
def test_a_failing_signal_gives_the_safe_default_without_power_off(conf, fleet, spec):
    _sources(conf, broken=spec)
    decision = decide(AuditParams(signal_source="broken", power_off=True), fleet, conf)
    assert decision.fallback
    assert not decision.allow_power_off
    assert decision.reason


@pytest.mark.parametrize("requested", ["file:/etc/passwd", "/etc/passwd", "http://127.0.0.1:9/x#unit=W",
                                       "constant:0W", "unknown"])
def test_an_audit_cannot_choose_a_url_a_file_or_an_unconfigured_source(conf, fleet, requested):
    _sources(conf, site="constant:1W")
    decision = decide(AuditParams(signal_source=requested, power_off=True), fleet, conf)
    assert decision.fallback and not decision.allow_power_off
    assert "not a configured source (configured: site)" in decision.reason
    assert "passwd" not in decision.reason and "127.0.0.1" not in decision.reason


def test_credentials_go_only_to_the_origin_of_the_configured_source(conf):
    conf.set_override("source", "prometheus:http://10.0.0.1:9090?query=a", group=signal_opts.GROUP)
    conf.set_override("http_token", "s3cret", group=signal_opts.GROUP)
    assert signal_opts.http_options(conf).token == "s3cret"
    assert signal_opts.http_options(conf, "prometheus:http://10.0.0.1:9090?query=b").token == "s3cret"
    for other in ("https://10.0.0.1:9090/x", "http://10.0.0.2:9090/x", "http://10.0.0.1:9091/", "constant:5W"):
        assert signal_opts.http_options(conf, other).token is None, other
