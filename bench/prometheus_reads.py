"""Time of one instance CPU read of many instances on Prometheus: one query per instance, or many a query.

A real Prometheus (Debian's binary on loopback, ``tests/prometheus_server.backfilled``) holds
``ceilometer_cpu`` counters of ``--instances`` instances polled every 300 s over the last half hour,
read through Watcher's own ``PrometheusHelper``. In one sitting, ``--repeats`` rounds, each timing
in turn: Watcher's own read (its ``max`` over 900 s, one query per instance, its metric cache
emptied first), the strategy's peak
read one instance a query (``PeakRead`` with ``chunk=1``, what it did before ``read_ahead``) and
``chunk`` instances a query for each ``--chunks``, the same for the load now (``mean`` over one
300 s sample), and the whole meter in one query (what filtering it here would fetch). Per read: the
median seconds, the ratio to one instance a query, the request line of one query (bytes) and the
answer's size. Batched and one-by-one values are checked equal. Prints one JSON line per read.

    nice -n 10 .venv/bin/python bench/prometheus_reads.py [--instances 2000] [--chunks 50 100 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid as uuidlib
import warnings
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Watcher's functional package picks oslo.service's threading backend before anything picks eventlet
# (as bench/snapshot_scale.py and tests/ops/conftest.py do): importing watcher.conf first would pick
# eventlet, and a later import of the functional harness in the same process fails.
import watcher.tests.functional  # noqa: E402, F401
from oslo_config import cfg  # noqa: E402
from watcher import conf as watcher_conf  # noqa: E402, F401 - registers [prometheus_client]
from watcher.decision_engine.datasources import prometheus as watcher_prometheus  # noqa: E402
from watcher.decision_engine.datasources.cache import MetricDataCache  # noqa: E402
from watcher.decision_engine.model import element  # noqa: E402

from tests.prometheus_server import backfilled, first_value  # noqa: E402
from watcher_geyser.inputs import cli_number  # noqa: E402
from watcher_geyser.strategies.metrics import cpu_read, instance_cpu  # noqa: E402
from watcher_geyser.strategies.prometheus_peak import CPU_METER, PeakRead, samples_query  # noqa: E402

POLL_S, BACK_S = 300, 1800


def samples(uuids: list[str], now: int) -> str:
    """OpenMetrics text: each instance's counter (ns) every 300 s at its own phase, a load of its own."""
    lines = []
    for k, uuid in enumerate(uuids):
        phase, total = (k * 37) % POLL_S, 0.0
        for t in range(now - phase - BACK_S, now + 1, POLL_S):
            total += ((k * 7 + t // POLL_S * 13) % 11) / 10 * POLL_S * 1e9
            lines.append(f'{CPU_METER}{{resource="{uuid}"}} {total:.0f} {t}')
    return "# TYPE ceilometer_cpu gauge\n" + "\n".join(lines) + "\n# EOF\n"


def helper_for(base: str) -> watcher_prometheus.PrometheusHelper:
    host, port = base.removeprefix("http://").split(":")
    cfg.CONF.set_override("host", host, group="prometheus_client")
    cfg.CONF.set_override("port", int(port), group="prometheus_client")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return watcher_prometheus.PrometheusHelper()


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=cli_number(low=1, integer=True), default=2000, metavar="N",
                        help="instances backfilled into the loopback Prometheus and read (default 2000)")
    parser.add_argument("--chunks", type=cli_number(low=1, integer=True), nargs="+", metavar="N",
                        default=[50, 100, 200],
                        help="instances per query to time beside one a query (default 50 100 200)")
    parser.add_argument("--repeats", type=cli_number(low=1, integer=True), default=3, metavar="N",
                        help="runs of each read, the median reported (default 3)")
    args = parser.parse_args()
    now = int(time.time())
    uuids = [str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"i{k}")) for k in range(args.instances)]
    instances = [element.Instance(uuid=u, name=f"i{k}", vcpus=1) for k, u in enumerate(uuids)]
    with tempfile.TemporaryDirectory() as tmp, backfilled(
            Path(tmp), samples(uuids, now), f"count({CPU_METER})", lambda r: first_value(r) == args.instances) as base:
        helper = helper_for(base)
        query = PeakRead(helper)._query
        peak, load_now = cpu_read(0.0), cpu_read(1.0)
        # name: (the read, instances a query where it is ours, the read it is compared with)
        def watchers() -> list:
            helper.metric_cache = MetricDataCache()  # its values of the run before would be served
            return [helper.get_instance_cpu_usage(i, peak.period_s, "max", peak.granularity_s) for i in instances]
        reads = {"watcher max, one instance a query": (watchers, None, None)}
        for name, read in (("peak", peak), ("load now", load_now)):
            for chunk in [1, *args.chunks]:
                reads[f"{name}, {chunk} a query"] = (
                    lambda read=read, chunk=chunk: instance_cpu(PeakRead(helper, lambda: now, chunk), instances, read),
                    chunk, f"{name}, 1 a query")
        window = peak.period_s + 2 * peak.granularity_s
        reads["whole meter, one query"] = (lambda: helper.prometheus._get(
            "query", {"query": f"{CPU_METER}[{window}s]", "time": str(now)}), None, "peak, 1 a query")
        seconds: dict[str, list[float]] = {name: [] for name in reads}
        outputs = {}
        for _ in range(args.repeats):
            for name, (fn, _, _) in reads.items():
                took, outputs[name] = timed(fn)
                seconds[name].append(took)
        url = helper.prometheus._get_url("query")
        for name, (_, chunk, against) in reads.items():
            median = statistics.median(seconds[name])
            line = {"read": name, "instances": args.instances, "median_s": round(median, 3),
                    "runs_s": [round(s, 3) for s in seconds[name]]}
            if against:
                line["speedup_vs_" + against.replace(" ", "_").replace(",", "")] = round(
                    statistics.median(seconds[against]) / median, 1)
            if chunk is not None:
                if outputs[name].values != outputs[against].values:
                    raise SystemExit(f"{name} differs from {against}")
                selector = samples_query(query, uuids[:chunk], window)
                line["request_line_bytes"] = len(requests.Request(
                    "GET", url, params={"query": selector, "time": f"{now:.3f}"}).prepare().url)
                line["answer_bytes_per_query"] = len(json.dumps(
                    helper.prometheus._get("query", {"query": selector, "time": str(now)})))
            if name.startswith("whole meter"):
                line["answer_bytes_per_query"] = len(json.dumps(outputs[name]))
            print(json.dumps(line), flush=True)

if __name__ == "__main__":
    main()
