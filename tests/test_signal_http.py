"""The HTTP source against real local HTTP and HTTPS servers started by the test."""

from __future__ import annotations

import json
import time

import pytest

from tests.signal_servers import make_tls, serve
from watcher_geyser.signal import HttpOptions, HttpSource, PolicyConfig, SignalPolicy, parse_spec
from watcher_geyser.signal.fetch import FetchError, fetch, redact_url
from watcher_geyser.signal.series import SignalError, Unit, parse_time

CARBON = {
    "data": [
        {"from": "2026-06-21T12:00Z", "to": "2026-06-21T12:30Z", "intensity": {"forecast": 120, "actual": 118}},
        {"from": "2026-06-21T12:30Z", "to": "2026-06-21T13:00Z", "intensity": {"forecast": 410, "actual": None}},
    ]
}
NOON = parse_time("2026-06-21T12:00:00Z")
JSON = {"Content-Type": "application/json"}
FAST = HttpOptions(timeout_s=0.5, retries=0)


def test_success_parses_the_carbon_intensity_shape() -> None:
    with serve({"/intensity": (200, JSON, json.dumps(CARBON).encode())}) as (url, hits):
        series = HttpSource(f"{url}/intensity", options=FAST).read(NOON)
    assert series.unit is Unit.CARBON_G_PER_KWH
    assert list(series.values) == [118.0, 410.0]
    assert series.notes and "forecast" in series.notes[0]
    assert hits == ["/intensity"]


def test_spec_fragment_sets_unit_and_format_and_is_not_sent() -> None:
    body = b"timestamp,value\n2026-06-21T12:00:00Z,12\n2026-06-21T12:30:00Z,9\n"
    with serve({"/ems.csv": (200, {"Content-Type": "text/csv"}, body)}) as (url, hits):
        source = parse_spec(f"{url}/ems.csv#unit=kW&format=csv", FAST)
        series = source.read(NOON)
    assert list(series.values) == [12000.0, 9000.0]
    assert hits == ["/ems.csv"]


def test_timeout_is_reported_and_retried_with_backoff() -> None:
    def slow(handler):
        time.sleep(1.5)
        return 200, JSON, b"{}"

    slept: list[float] = []
    options = HttpOptions(timeout_s=0.3, retries=2, backoff_s=0.25)
    with serve({"/slow": slow}) as (url, hits):
        t0 = time.monotonic()
        with pytest.raises(FetchError, match=r"no answer within 0.3 s \(timeout\) \(after 3 attempts\)"):
            fetch(f"{url}/slow", options, sleep=slept.append)
        elapsed = time.monotonic() - t0
    assert slept == [0.25, 0.5]  # exponential back-off
    assert len(hits) == 3
    assert elapsed < 3.0


def test_http_500_is_retried_then_reported() -> None:
    boom = {"/boom": (500, {}, b"internal error")}
    with serve(boom) as (url, hits), pytest.raises(FetchError, match=r"HTTP 500.*after 3 attempts"):
        fetch(f"{url}/boom", HttpOptions(retries=2, backoff_s=0.0))
    assert len(hits) == 3


def test_http_404_is_not_retried() -> None:
    with serve({}) as (url, hits), pytest.raises(FetchError, match="HTTP 404"):
        fetch(f"{url}/missing", HttpOptions(retries=3, backoff_s=0.0))
    assert len(hits) == 1


def test_recovers_when_a_retry_succeeds() -> None:
    answers = iter([(503, {}, b"busy"), (200, JSON, json.dumps(CARBON).encode())])
    with serve({"/flaky": lambda h: next(answers)}) as (url, hits):
        body = fetch(f"{url}/flaky", HttpOptions(retries=2, backoff_s=0.0))
    assert json.loads(body) == CARBON and len(hits) == 2


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_body_is_refused(chunked: bool) -> None:
    big = b"[" + b'{"time": 0, "watts": 1},' * 20000 + b"]"
    headers = {"Transfer-Encoding": "chunked"} if chunked else {}
    with serve({"/big": (200, headers, big)}) as (url, _), pytest.raises(FetchError, match="byte limit"):
        fetch(f"{url}/big", HttpOptions(max_bytes=64 * 1024, retries=1, backoff_s=0.0))


def test_garbage_body_is_a_clear_parse_error() -> None:
    junk = {"/junk": (200, JSON, b'{"data": [{"from": "yesterday"}]}')}
    with serve(junk) as (url, _), pytest.raises(SignalError, match=r"point 0.*(no 'to'|not ISO)"):
        HttpSource(f"{url}/junk", options=FAST).read(NOON)


def test_connection_refused_is_reported() -> None:
    from tests.signal_servers import free_port

    with pytest.raises(FetchError, match="cannot connect"):
        fetch(f"http://127.0.0.1:{free_port()}/x", HttpOptions(retries=0))


def test_self_signed_tls_is_refused_unless_its_ca_is_configured(tmp_path) -> None:
    context, ca_path = make_tls(tmp_path)
    with serve({"/intensity": (200, JSON, json.dumps(CARBON).encode())}, tls=context) as (url, _):
        assert url.startswith("https://")
        with pytest.raises(FetchError, match="TLS certificate verification failed; set ca_bundle"):
            fetch(f"{url}/intensity", HttpOptions(retries=2))
        trusted = HttpOptions(ca_bundle=str(ca_path), retries=0)
        series = HttpSource(f"{url}/intensity", options=trusted).read(NOON)
    assert list(series.values) == [118.0, 410.0]


def test_credentials_are_sent_but_never_shown(tmp_path) -> None:
    seen: list[str | None] = []

    def auth(handler):
        seen.append(handler.headers.get("Authorization"))
        return 401, {}, b"denied"

    options = HttpOptions(token="s3cr3t-token", retries=0)
    assert "s3cr3t" not in repr(options)
    with serve({"/api": auth}) as (url, _):
        with pytest.raises(FetchError) as by_token:
            fetch(f"{url}/api?api_key=k3y&region=uk", options)
        url_with_user = url.replace("http://", "http://alice:hunter2@") + "/api"
        with pytest.raises(FetchError) as by_user:
            fetch(url_with_user, HttpOptions(retries=0))
    assert seen == ["Bearer s3cr3t-token", "Basic YWxpY2U6aHVudGVyMg=="]  # alice:hunter2
    messages = f"{by_token.value} {by_user.value}"
    assert "HTTP 401" in messages and "region=uk" in messages
    for secret in ("s3cr3t", "hunter2", "alice", "k3y"):
        assert secret not in messages
    assert redact_url("https://u:p@h:1/x?token=t&a=b") == "https://h:1/x?token=***&a=b"


def test_policy_falls_back_when_the_endpoint_starts_failing() -> None:
    answers = iter([(200, JSON, json.dumps(CARBON).encode()), (500, {}, b"down"), (500, {}, b"down")])
    policy = SignalPolicy(PolicyConfig(ttl_s=600, horizon_s=0))
    with serve({"/intensity": lambda h: next(answers)}) as (url, _):
        source = HttpSource(f"{url}/intensity", options=FAST)
        first = policy.decide_from(source, NOON, 10_000)
        second = policy.decide_from(source, NOON + 300, 10_000)
        third = policy.decide_from(source, NOON + 900, 10_000)
    assert first.fallback is None and first.value == 118.0
    assert second.fallback == "last_good" and second.value == 118.0 and "HTTP 500" in second.reason
    assert third.fallback == "safe_default" and not third.allow_power_off and "TTL" in third.reason
