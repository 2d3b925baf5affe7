"""A real Prometheus server on loopback for tests: found, configured, started, awaited and stopped here.

Every test that reads from Prometheus starts Debian's ``prometheus`` binary through
``scraping``: it serves the test's exporter text, writes a configuration that scrapes it every
second into temporary storage, starts the server on a free loopback port, waits (with
``tests.waiting``'s back-off and load-scaled deadline) until a query the test names shows the
data it needs, yields the base URL and stops the server afterwards. Samples of the past, which a
server started for a test cannot have scraped (a counter polled every 300 s over the last
half hour), go in through ``backfilled``: Debian's ``promtool`` (same package) writes them into the
storage as blocks before the server starts. A test module marks itself ``needs_prometheus``: it is
skipped, with the fix in the reason, only where the binary is absent (``bash tools/test.sh``
installs it through ``tools/services/prometheus.sh``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.signal_servers import free_port, serve
from tests.waiting import PROMETHEUS_READY_S, WaitTimeout, wait_for


def find_binary(name: str = "prometheus") -> str | None:
    """The binary ``name``: on PATH, else where Debian installs it (some CI runners leave
    /usr/bin off PATH); None when neither has it."""
    debian = f"/usr/bin/{name}"
    return shutil.which(name) or (debian if os.path.exists(debian) else None)


PROMETHEUS = find_binary()
PROMTOOL = find_binary("promtool")
MISSING = ("no 'prometheus' binary: `bash tools/test.sh` installs it (tools/services/prometheus.sh, as root), "
           "or `apt-get install prometheus`")
needs_prometheus = pytest.mark.skipif(PROMETHEUS is None, reason=MISSING)

#: How the exporter's text is served: Prometheus' text exposition format.
EXPOSITION = {"Content-Type": "text/plain; version=0.0.4"}
#: Seconds between scrapes (and rule evaluations): tests wait for a few of them.
SCRAPE_INTERVAL_S = 1
#: Seconds a stopped server may take to exit before it is killed.
STOP_S = 10
#: How much of the server's log a failure quotes.
LOG_TAIL_CHARS = 2000


def config_text(target: str, job: str) -> str:
    """A configuration scraping ``target`` (host:port) as ``job`` every ``SCRAPE_INTERVAL_S``."""
    return (
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL_S}s\n  evaluation_interval: {SCRAPE_INTERVAL_S}s\n"
        f"scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
    )


@contextmanager
def scraping(tmp: Path, metrics: bytes, ready_query: str, ready: Callable[[list], bool],
             job: str = "site") -> Iterator[str]:
    """Base URL of a running Prometheus that scrapes ``metrics`` (exposition text) as ``job``, once
    ``ready`` holds for the result list of the instant query ``ready_query``; stopped on exit.

    The test fails, quoting the server's log, when the server exits or is not ready in time
    (``PROMETHEUS_READY_S`` x load); the caller skips first where the binary is absent."""
    with (serve({"/metrics": (200, EXPOSITION, metrics)}) as (exporter, _),
          _running(tmp, config_text(exporter.removeprefix("http://"), job), ready_query, ready) as base):
        yield base


@contextmanager
def backfilled(tmp: Path, openmetrics: str, ready_query: str, ready: Callable[[list], bool],
               flags: tuple[str, ...] = ()) -> Iterator[str]:
    """Base URL of a running Prometheus whose storage holds the samples of ``openmetrics`` (OpenMetrics
    text, each sample with its timestamp in seconds, ending in ``# EOF``), written by ``promtool tsdb
    create-blocks-from openmetrics`` before it starts; ``flags`` are more of the server's command-line
    flags. Scrapes nothing. Ready, failed and stopped as ``scraping``."""
    if PROMTOOL is None:
        pytest.fail(MISSING)
    source = tmp / "samples.om"
    source.write_text(openmetrics)
    made = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tmp / "data")],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(f"promtool could not write the samples: {made.stderr[-LOG_TAIL_CHARS:]}")
    config = f"global:\n  evaluation_interval: {SCRAPE_INTERVAL_S}s\nscrape_configs: []\n"
    with _running(tmp, config, ready_query, ready, flags) as base:
        yield base


@contextmanager
def _running(tmp: Path, config_yaml: str, ready_query: str, ready: Callable[[list], bool],
             flags: tuple[str, ...] = ()) -> Iterator[str]:
    """A server on a free loopback port with ``config_yaml`` and its storage in ``tmp / "data"``."""
    if PROMETHEUS is None:
        pytest.fail(MISSING)
    config = tmp / "prometheus.yml"
    config.write_text(config_yaml)
    log_path = tmp / "prometheus.log"
    base = f"http://127.0.0.1:{free_port()}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address={base.removeprefix('http://')}", "--log.level=warn", *flags],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_ready(base, proc, log_path, ready_query, ready)
            yield base
        finally:
            _stop(proc)


def _wait_until_ready(base: str, proc: subprocess.Popen, log_path: Path, query: str,
                      ready: Callable[[list], bool]) -> None:
    """Until ``ready(result of query)``; fails the test with the log's tail if the server exits or is late."""
    def result() -> list:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}: {_tail(log_path)}")
        try:
            return requests.get(f"{base}/api/v1/query", params={"query": query}, timeout=2).json()["data"]["result"]
        except (requests.RequestException, ValueError, KeyError):
            return []

    try:
        wait_for(result, ready, PROMETHEUS_READY_S, f"prometheus scraping the exporter ({query})", _values)
    except WaitTimeout as exc:
        pytest.fail(f"{exc}: {_tail(log_path)}")


def _values(result: list) -> list:
    """What counts as progress in a query's result: its samples' values, not their (ever newer) times."""
    return [sample.get("value", (None, None))[1] for sample in result]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]


def first_value(result: list) -> float:
    """The value of an instant query's first sample (0 when there is none)."""
    return float(result[0]["value"][1]) if result else 0.0
