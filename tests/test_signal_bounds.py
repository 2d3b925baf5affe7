"""Every signal read ends: within its deadline (+1 s) and its byte cap (+1 MiB of memory).

Hostile servers on 127.0.0.1 (``tests.signal_servers``) drip, hang, never stop, compress and
redirect; files are devices and FIFOs. Each case asserts a clear ``SignalError`` and a bound.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from tests.signal_servers import drip, drip_headers, endless, hang, serve
from watcher_geyser.signal import SignalError, SignalPolicy, parse_spec
from watcher_geyser.signal.fetch import FetchError, HttpOptions, fetch
from watcher_geyser.signal.sources import FileOptions, FileSource

DEADLINE_S = 1.5
OPTIONS = HttpOptions(timeout_s=1.2, deadline_s=DEADLINE_S, retries=3, backoff_s=0.1)
MIB = 1024 * 1024


def _timed(call) -> tuple[BaseException, float]:
    start = time.monotonic()
    with pytest.raises(SignalError) as info:
        call()
    return info.value, time.monotonic() - start


@pytest.mark.parametrize("route", [drip(0.3), drip_headers(0.3), hang(30)], ids=["drip-body", "drip-headers", "hang"])
def test_a_slow_server_is_cut_off_at_the_deadline(route) -> None:
    with serve({"/s": route}) as (url, _):
        error, took_s = _timed(lambda: fetch(f"{url}/s", OPTIONS))
    assert took_s <= DEADLINE_S + 1.0, took_s
    assert "deadline" in str(error) or "no answer within" in str(error)


def test_retries_and_back_off_stay_within_the_deadline() -> None:
    options = HttpOptions(timeout_s=5, deadline_s=1.0, retries=5, backoff_s=0.4)
    with serve({"/e": (503, {}, b"busy")}) as (url, hits):
        error, took_s = _timed(lambda: fetch(f"{url}/e", options))
    assert took_s <= 2.0 and "HTTP 503" in str(error)
    assert 1 <= len(hits) < 6


@pytest.mark.parametrize("spec", ["query=up", "query=up&range=0"], ids=["range-default", "instant"])
def test_prometheus_dripping_is_cut_off_too(spec) -> None:
    with serve({"/api/v1/query": drip(0.3), "/api/v1/query_range": drip(0.3)}) as (url, hits):
        source = parse_spec(f"prometheus:{url}?{spec}", OPTIONS)
        error, took_s = _timed(lambda: source.read(time.time()))
    assert took_s <= DEADLINE_S + 1.0 and "deadline" in str(error)
    # and the server is told to stop evaluating when the fetch stops waiting
    assert f"timeout={min(OPTIONS.timeout_s, OPTIONS.deadline_s):g}" in hits[0]
    assert hits[0].startswith("/api/v1/query?" if "range=0" in spec else "/api/v1/query_range?")


def test_an_endless_body_stops_at_the_byte_cap_within_a_mebibyte_of_memory() -> None:
    cap = 4 * MIB
    with serve({"/big": endless()}) as (url, _):
        tracemalloc.start()
        try:
            with pytest.raises(FetchError, match="byte limit"):
                fetch(f"{url}/big", HttpOptions(max_bytes=cap, retries=0, deadline_s=10))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak <= cap + MIB, peak


def test_a_compressed_body_is_refused_before_it_is_inflated() -> None:
    bomb = gzip.compress(b"0" * (64 * MIB))
    refused = pytest.raises(FetchError, match="compressed bodies are refused")
    with serve({"/z": (200, {"Content-Encoding": "gzip"}, bomb)}) as (url, _), refused:
        fetch(f"{url}/z", OPTIONS)


def test_a_redirect_loop_ends_with_a_clear_error() -> None:
    loop = {"/a": (302, {"Location": "/b"}, b""), "/b": (302, {"Location": "/a"}, b"")}
    with serve(loop) as (url, _), pytest.raises(FetchError, match="TooManyRedirects"):
        fetch(f"{url}/a", OPTIONS)


def test_a_redirect_to_another_origin_does_not_carry_the_token() -> None:
    seen: list[str | None] = []

    def capture(handler):
        seen.append(handler.headers.get("Authorization"))
        return 200, {}, b"# unit: W\n0,1\n"

    with serve({"/x": capture}) as (other, _), serve({"/r": (302, {"Location": f"{other}/x"}, b"")}) as (url, _):
        fetch(f"{url}/r", HttpOptions(token="s3cret", retries=0))
    assert seen == [None]


@pytest.mark.parametrize("port", ["99999", "0", "-1", "abc"])
def test_a_bad_port_is_a_clear_error(port: str) -> None:
    with pytest.raises(FetchError, match="GET http://127.0.0.1"):
        fetch(f"http://127.0.0.1:{port}/", HttpOptions(retries=0))


def test_dev_zero_is_refused_as_a_device() -> None:
    error, took_s = _timed(lambda: FileSource(Path("/dev/zero")).read(0.0))
    assert "character device, not a regular file" in str(error) and "allow_special_files" in str(error)
    assert took_s < 1.0


def test_dev_zero_when_allowed_stops_at_the_byte_cap() -> None:
    source = FileSource(Path("/dev/zero"), options=FileOptions(max_bytes=MIB, allow_special=True))
    with pytest.raises(SignalError, match="file_max_bytes"):
        source.read(0.0)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "signal.fifo"
    os.mkfifo(fifo)
    error, took_s = _timed(lambda: parse_spec(f"file:{fifo}").read(0.0))
    assert "FIFO, not a regular file" in str(error) and took_s < 1.0


def test_an_allowed_fifo_whose_writer_stalls_ends_at_the_deadline(tmp_path: Path) -> None:
    fifo = tmp_path / "signal.fifo"
    os.mkfifo(fifo)
    opened = threading.Event()

    def writer() -> None:
        fd = os.open(fifo, os.O_RDWR)  # a writer that never writes
        opened.set()
        time.sleep(3.0)
        os.close(fd)

    threading.Thread(target=writer, daemon=True).start()
    opened.wait(2)
    source = FileSource(fifo, options=FileOptions(deadline_s=1.0, allow_special=True))
    error, took_s = _timed(lambda: source.read(0.0))
    assert "read_deadline_s" in str(error) and took_s <= 2.0


def test_a_file_that_grows_past_its_reported_size_is_still_capped(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"# unit: W\n" + b"0,1\n" * (MIB // 4 + 10))
    with pytest.raises(SignalError, match="file_max_bytes"):
        FileSource(path, options=FileOptions(max_bytes=MIB)).read(0.0)


def test_a_bad_line_of_a_file_is_never_echoed(tmp_path: Path) -> None:
    secret = tmp_path / "passwd"
    for content in ("hunter2:x:0:0:/bin/bash\n", "0,hunter2\n", "hunter2,5\n", "0,5,hunter2\n"):
        secret.write_text(content)
        decision = SignalPolicy().decide_from(parse_spec(f"file:{secret}?unit=W"), 0.0, 1000.0)
        assert "hunter2" not in decision.reason and "/bin/bash" not in decision.reason, decision.reason
    assert not decision.allow_power_off
