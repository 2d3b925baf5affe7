"""Audit parameters through Watcher's own validator, and the host power models from configuration."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oslo_config import cfg
from watcher.common import exception, utils

from watcher_geyser.pipeline import DEFAULTS
from watcher_geyser.power import PowerModel
from watcher_geyser.signal import opts as signal_opts
from watcher_geyser.signal.fetch import HttpOptions
from watcher_geyser.strategies import opts
from watcher_geyser.strategies.params import AuditParams, schema
from watcher_geyser.strategies.power_config import (
    MAX_CALIBRATION,
    PowerCatalog,
    PowerConfigError,
    calibrate,
    parse_model_spec,
)


def validated(params: dict, power_off_default: bool = False) -> dict:
    """What Watcher's API does to an audit's parameters: validate and fill the defaults."""
    params = dict(params)
    utils.StrictDefaultValidatingDraft4Validator(schema(power_off_default)).validate(params)
    return params


def test_defaults_fill_every_parameter():
    params = validated({})
    assert set(params) == set(schema(False)["properties"])
    parsed = AuditParams.from_input(utils.Struct(params))
    assert parsed == AuditParams()
    assert validated({}, power_off_default=True)["power_off"] is True


@pytest.mark.parametrize("bad", [
    {"ceiling": 0}, {"ceiling": 1.01}, {"ceiling_min": 0}, {"time_limit_s": 0}, {"time_limit_s": "10"},
    {"max_migrations": -1}, {"max_migrations": 1.5}, {"power_budget_w": -5}, {"power_off": "true"},
    {"signal_source": 5}, {"signal_source": "file:/etc/passwd"}, {"signal_source": "http://10.0.0.1/x"},
    {"signal_source": "/etc/shadow"}, {"signal_source": "x" * 65},
])
def test_bad_values_are_refused(bad):
    with pytest.raises(jsonschema.ValidationError):
        validated(bad)


def test_swap_payback_is_the_strategy_option_unless_the_audit_sets_its_own():
    conf = cfg.ConfigOpts()
    conf.register_opts(opts.strategy_opts(), group="watcher_strategies.geyser_consolidation")
    option = conf["watcher_strategies.geyser_consolidation"].swap_payback_s
    assert option == DEFAULTS.limits.swap_payback_s
    assert AuditParams.from_input(validated({})).settings(2, 2, 1, option).limits.swap_payback_s == option
    assert AuditParams.from_input(validated({})).settings(2, 2, 1, 600.0).limits.swap_payback_s == 600.0
    audit = AuditParams.from_input(validated({"swap_payback_s": 0}))
    assert audit.settings(2, 2, 1, option).limits.swap_payback_s == 0
    for bad in (-1, 31 * 86400, "6h"):
        with pytest.raises(jsonschema.ValidationError):
            validated({"swap_payback_s": bad})


def test_every_default_of_a_parameter_or_option_is_the_one_the_code_falls_back_on():
    """A default is written once: the audit schema's, AuditParams' and the settings' agree, and the
    options' defaults are the ones the strategy and the HTTP reader use without them."""
    props = schema(False)["properties"]
    for name, field in AuditParams.__dataclass_fields__.items():
        if name in props and name != "power_off":  # power_off: each strategy its own
            assert props[name]["default"] == field.default, name
    limits, solve = AuditParams().settings(2, 2, 1).limits, AuditParams().settings(2, 2, 1).solve
    assert (limits.watts_tolerance, limits.allow_power_on, solve.deterministic, solve.time_limit_s) == (
        DEFAULTS.limits.watts_tolerance, DEFAULTS.limits.allow_power_on, DEFAULTS.solve.deterministic,
        DEFAULTS.solve.time_limit_s)
    strategy = {o.name: o.default for o in opts.strategy_opts()}
    assert (strategy["cpu_period_s"], strategy["cpu_granularity_s"], strategy["disabled_reason"]) == (
        opts.CPU_PERIOD_S, opts.CPU_GRANULARITY_S, opts.DISABLED_REASON)
    http = {o.name: o.default for o in signal_opts.HTTP_OPTS}
    plain = HttpOptions()
    assert (http["http_timeout_s"], http["http_retries"], http["http_backoff_s"]) == (
        plain.timeout_s, plain.retries, plain.backoff_s)


def test_unknown_parameter_is_refused():
    with pytest.raises(exception.AuditParameterNotAllowed):
        validated({"ceilling": 0.8})


def test_crossed_ceiling_bounds_are_reconciled_with_a_note():
    parsed = AuditParams.from_input(validated({"ceiling_min": 0.9, "ceiling_max": 0.7}))
    assert (parsed.ceiling_min, parsed.ceiling_max) == (0.7, 0.7)
    assert "ceiling_min" in parsed.notes[0]
    assert parsed.clamp_ceiling(0.95) == 0.7


def test_model_specs_linear_and_curve():
    assert parse_model_spec("170/420") == PowerModel.linear(170, 420)
    curve = parse_model_spec("93.7 97 101 105 110 116 121 125 129 133 135")
    assert curve.idle_w == 93.7 and curve.max_w == 135
    for bad in ("", "abc", "300/100", "1 2 3"):
        with pytest.raises(PowerConfigError, match="IDLE_W/MAX_W"):
            parse_model_spec(bad)


def test_catalog_first_matching_pattern_wins():
    catalog = PowerCatalog.from_specs(100, 300, {"compute-gpu-*": "300/900", "compute-gpu-7": "1/2", "*-old": "80/200"})
    assert catalog.model_for("compute-gpu-7") == PowerModel.linear(300, 900)
    assert catalog.model_for("rack-old") == PowerModel.linear(80, 200)
    assert catalog.model_for("compute-1") == PowerModel.linear(100, 300)


def test_catalog_from_oslo_config():
    conf = cfg.ConfigOpts()
    conf([], project="test")
    opts.register_power_opts(conf)
    conf.set_override("host_models", {"big-*": "200/600"}, group=opts.POWER_GROUP)
    catalog, problem = opts.power_catalog(conf)
    assert catalog.model_for("big-1").max_w == 600 and problem is None
    conf.set_override("host_models", {"big-*": "lots"}, group=opts.POWER_GROUP)
    catalog, problem = opts.power_catalog(conf)  # a bad override never fails the audit
    assert "big-*" in problem and "instead" in problem
    assert catalog.model_for("big-1") == PowerModel.linear(120, 350)


def test_power_overrides_do_not_leak_between_config_objects():
    first, second = cfg.ConfigOpts(), cfg.ConfigOpts()
    for conf in (first, second):
        conf([], project="test")
        opts.register_power_opts(conf)
    first.set_override("default_max_w", 999.0, group=opts.POWER_GROUP)
    assert second[opts.POWER_GROUP].default_max_w == 350.0


@settings(max_examples=60, deadline=None)
@given(st.floats(50, 300), st.floats(0, 400), st.floats(0, 1), st.floats(1, 2000))
def test_calibration_passes_through_the_measurement_or_stops_at_its_bound(idle, extra, util, measured):
    model = PowerModel.linear(idle, idle + extra)
    new, cal = calibrate(model, util, measured, "h")
    assert cal is not None
    assert 1 / MAX_CALIBRATION - 1e-9 <= cal.factor <= MAX_CALIBRATION + 1e-9
    if not cal.clamped:
        assert new.watts(util) == pytest.approx(measured)
    ratios = [b / a for a, b in zip(model.curve_w, new.curve_w) if a > 0]
    assert all(r == pytest.approx(cal.factor) for r in ratios)


def test_unusable_measurements_leave_the_model_alone():
    model = PowerModel.linear(100, 300)
    for measured in (0.0, -1.0, float("nan"), float("inf")):
        assert calibrate(model, 0.5, measured) == (model, None)


def test_the_migration_figures_are_the_strategy_options_unless_the_audit_sets_its_own_and_reach_the_timing():
    from tests.builders import fleet, host, vm
    from watcher_geyser.pipeline import run

    conf = cfg.ConfigOpts()
    conf.register_opts(opts.strategy_opts(), group="watcher_strategies.geyser_consolidation")
    group = conf["watcher_strategies.geyser_consolidation"]
    assert (group.migration_bandwidth_mb_s, group.migration_overhead_s) == (
        DEFAULTS.plan.bandwidth_mb_s, DEFAULTS.plan.migration_overhead_s)
    plan = AuditParams.from_input(validated({})).settings(2, 2, 1, 600.0, 100.0, 30.0).plan
    assert (plan.timing.bandwidth_mb_s, plan.timing.migration_overhead_s) == (100.0, 30.0)
    audit = AuditParams.from_input(validated({"migration_bandwidth_mb_s": 50, "migration_overhead_s": 0}))
    plan = audit.settings(2, 2, 1, 600.0, 100.0, 30.0).plan
    assert (plan.timing.bandwidth_mb_s, plan.timing.migration_overhead_s) == (50.0, 0.0)
    # a slower network, a longer plan: one 32 GB migration
    f = fleet([host("a", memory_mb=131072), host("b", memory_mb=131072)],
              [vm("v1", "a", memory_mb=32768), vm("v2", "b", memory_mb=32768)])
    estimates = [run(f, AuditParams(time_limit_s=2.0, migration_bandwidth_mb_s=bw).settings(1, 2, 1)).plan
                 for bw in (None, 100.0)]
    assert [p.migrations for p in estimates] == [1, 1]
    assert estimates[1].duration_estimate_s - estimates[0].duration_estimate_s == pytest.approx(
        32768 / 100.0 - 32768 / DEFAULTS.plan.bandwidth_mb_s)


@pytest.mark.parametrize("bad", [
    {"migration_bandwidth_mb_s": 0}, {"migration_bandwidth_mb_s": -10}, {"migration_bandwidth_mb_s": "fast"},
    {"migration_overhead_s": -1}, {"migration_overhead_s": "5s"},
    {"host_power_on_s": -1}, {"host_power_on_s": "15min"}, {"host_power_off_s": -0.5}, {"host_power_off_s": "1m"},
])
def test_bad_timing_figures_are_refused_by_the_schema(bad):
    with pytest.raises(jsonschema.ValidationError):
        validated(bad)


def test_a_nan_timing_figure_in_an_audit_is_noted_and_the_option_used():
    """NaN passes the JSON schema's bounds: the reading keeps the option and says why."""
    for name in ("migration_bandwidth_mb_s", "migration_overhead_s", "host_power_on_s", "host_power_off_s"):
        audit = AuditParams.from_input({name: float("nan")})
        assert getattr(audit, name) is None
        assert any(note.startswith(name) and "option used instead" in note for note in audit.notes)
    plan = AuditParams.from_input({"migration_bandwidth_mb_s": float("nan")}).settings(2, 2, 1, 600.0, 100.0).plan
    assert plan.bandwidth_mb_s == 100.0
    plan = AuditParams.from_input({"host_power_on_s": float("nan")}).settings(2, 2, 1, host_power_on_s=700.0).plan
    assert plan.power_on_s == 700.0


@pytest.mark.parametrize("bandwidth, overhead, named", [
    (0.0, 5.0, "migration_bandwidth_mb_s"), (float("nan"), 5.0, "migration_bandwidth_mb_s"),
    (float("inf"), 5.0, "migration_bandwidth_mb_s"), (100.0, -1.0, "migration_overhead_s"),
    (100.0, float("nan"), "migration_overhead_s"),
])
def test_bad_migration_options_raise_naming_the_option(bandwidth, overhead, named):
    with pytest.raises(ValueError, match=named):
        AuditParams().settings(2, 2, 1, 600.0, bandwidth, overhead)


def _hot_next_to_off():
    """'hot' runs 24 cores of measured CPU on 16, 'busy' is full, 'spare' is off: the plan switches spare on."""
    from tests.builders import fleet, host, vm

    instances = [vm(f"v{i}", "hot", vcpus=4, memory_mb=2048, cpu_util=1.0) for i in range(6)]
    instances += [vm(f"b{i}", "busy", vcpus=4, memory_mb=2048, cpu_util=1.0) for i in range(4)]
    return fleet([host("hot"), host("busy"), host("spare", state="off")], instances)


def test_the_power_times_are_the_strategy_options_unless_the_audit_sets_its_own_and_reach_the_timing():
    conf = cfg.ConfigOpts()
    conf.register_opts(opts.strategy_opts(), group="watcher_strategies.geyser_energy")
    group = conf["watcher_strategies.geyser_energy"]
    assert (group.host_power_on_s, group.host_power_off_s) == (DEFAULTS.plan.power_on_s, DEFAULTS.plan.power_off_s)
    assert (DEFAULTS.plan.timing.power_on_s, DEFAULTS.plan.timing.power_off_s) == (300.0, 60.0)
    plan = AuditParams.from_input(validated({})).settings(2, 2, 1, host_power_on_s=900.0, host_power_off_s=120.0).plan
    assert (plan.timing.power_on_s, plan.timing.power_off_s) == (900.0, 120.0)
    audit = AuditParams.from_input(validated({"host_power_on_s": 600, "host_power_off_s": 0}))
    plan = audit.settings(2, 2, 1, host_power_on_s=900.0, host_power_off_s=120.0).plan
    assert (plan.timing.power_on_s, plan.timing.power_off_s) == (600.0, 0.0)


def test_a_slow_power_on_lengthens_the_plan_that_switches_a_host_on_by_the_difference():
    from watcher_geyser.pipeline import run
    from watcher_geyser.planner import ActionKind

    f = _hot_next_to_off()
    plans = [run(f, AuditParams(time_limit_s=2.0, host_power_on_s=on).settings(1, 2, 1)).plan for on in (None, 900.0)]
    assert [[a.kind for a in p.waves[0]] for p in plans] == [[ActionKind.POWER_ON]] * 2
    assert [[len(w) for w in p.waves] for p in plans][0] == [[len(w) for w in p.waves] for p in plans][1]
    assert plans[1].duration_estimate_s - plans[0].duration_estimate_s == pytest.approx(900.0 - 300.0)


def test_a_slow_power_off_lengthens_the_plan_that_switches_hosts_off_by_the_difference():
    from tests.builders import fleet, host, vm
    from watcher_geyser.pipeline import run
    from watcher_geyser.planner import ActionKind

    f = fleet([host("a", memory_mb=131072), host("b", memory_mb=131072)],
              [vm("v1", "a", memory_mb=4096), vm("v2", "b", memory_mb=4096)])
    plans = [run(f, AuditParams(time_limit_s=2.0, power_off=True, host_power_off_s=off).settings(1, 2, 1)).plan
             for off in (None, 600.0)]
    assert all(ActionKind.POWER_OFF in [a.kind for a in p.waves[-1]] for p in plans)
    assert plans[1].duration_estimate_s - plans[0].duration_estimate_s == pytest.approx(600.0 - 60.0)


@pytest.mark.parametrize("power_on, power_off, named", [
    (-1.0, 60.0, "host_power_on_s"), (float("nan"), 60.0, "host_power_on_s"), (float("inf"), 60.0, "host_power_on_s"),
    (300.0, -1.0, "host_power_off_s"), (300.0, float("nan"), "host_power_off_s"),
])
def test_bad_power_time_options_raise_naming_the_option(power_on, power_off, named):
    with pytest.raises(ValueError, match=named):
        AuditParams().settings(2, 2, 1, host_power_on_s=power_on, host_power_off_s=power_off)
