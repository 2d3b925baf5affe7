"""Benchmark of safety: every signal read ends within its deadline + 1 s and its byte cap + 1 MiB.

Hostile servers on 127.0.0.1 (``tests/signal_servers.py``: drip the body, drip the headers,
hang, an endless body, a gzip bomb, a redirect loop) and hostile files (``/dev/zero``, a
FIFO with a stalled writer, a file larger than its cap), each read through the real source
(HTTP, Prometheus, file) and decided by the real policy. Prints one JSON line per case:
seconds taken and the deadline, peak memory allocated during the read (tracemalloc) and the
cap, the error, and whether the decision allowed power-off (it never may after a failure).

    python bench/signal_bounds.py                  # deadline 3 s, cap 4 MiB
    python bench/signal_bounds.py --deadline 10 --cap-mib 8
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.signal_servers import drip, drip_headers, endless, hang, serve  # noqa: E402
from watcher_geyser.signal import SignalPolicy, parse_spec  # noqa: E402
from watcher_geyser.signal.fetch import HttpOptions  # noqa: E402
from watcher_geyser.signal.sources import FileOptions  # noqa: E402

MIB = 1024 * 1024


def measure(name: str, spec: str, http: HttpOptions, files: FileOptions, deadline_s: float, cap: int) -> dict:
    source = parse_spec(spec, http, files)
    tracemalloc.start()
    started = time.monotonic()
    decision = SignalPolicy().decide_from(source, time.time(), 10_000.0)
    took_s = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"case": name, "seconds": round(took_s, 2), "deadline_s": deadline_s,
            "within_deadline_plus_1s": took_s <= deadline_s + 1.0, "peak_mib": round(peak / MIB, 2),
            "cap_mib": round(cap / MIB, 2), "within_cap_plus_1mib": peak <= cap + MIB,
            "fallback": decision.fallback.value if decision.fallback else None,
            "allow_power_off": decision.allow_power_off, "reason": decision.reason[:160]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deadline", type=float, default=3.0, help="read_deadline_s (default 3)")
    parser.add_argument("--cap-mib", type=float, default=4.0, help="byte cap, MiB (default 4)")
    args = parser.parse_args()
    cap = int(args.cap_mib * MIB)
    http = HttpOptions(timeout_s=min(2.0, args.deadline), deadline_s=args.deadline, max_bytes=cap, retries=2,
                       backoff_s=0.2)
    files = FileOptions(max_bytes=cap, deadline_s=args.deadline)
    allowed = FileOptions(max_bytes=cap, deadline_s=args.deadline, allow_special=True)
    routes = {"/drip": drip(0.5), "/drip-headers": drip_headers(0.5), "/hang": hang(120), "/endless": endless(),
              "/bomb": (200, {"Content-Encoding": "gzip"}, gzip.compress(b"0" * (256 * MIB))),
              "/loop-a": (302, {"Location": "/loop-b"}, b""), "/loop-b": (302, {"Location": "/loop-a"}, b""),
              "/api/v1/query": drip(0.5), "/api/v1/query_range": drip(0.5)}
    cases = []
    with serve(routes) as (url, _):
        for path in ("drip", "drip-headers", "hang", "endless", "bomb", "loop-a"):
            cases.append((f"http {path}", f"{url}/{path}#unit=W", files))
        cases.append(("prometheus drip", f"prometheus:{url}?query=up", files))
        with tempfile.TemporaryDirectory() as tmp:
            fifo = Path(tmp) / "signal.fifo"
            os.mkfifo(fifo)
            stop = threading.Event()

            def writer() -> None:  # a writer that opens and never writes
                fd = os.open(fifo, os.O_RDWR)
                stop.wait(args.deadline + 5)
                os.close(fd)

            threading.Thread(target=writer, daemon=True).start()
            big = Path(tmp) / "big.csv"
            big.write_bytes(b"# unit: W\n" + b"0,1\n" * (cap // 4 + 10))
            cases += [("file /dev/zero", "file:/dev/zero?unit=W", files),
                      ("file /dev/zero allowed", "file:/dev/zero?unit=W", allowed),
                      ("file fifo", f"file:{fifo}?unit=W", files),
                      ("file fifo allowed, stalled writer", f"file:{fifo}?unit=W", allowed),
                      ("file above its cap", f"file:{big}", files)]
            for name, spec, file_options in cases:
                print(json.dumps(measure(name, spec, http, file_options, args.deadline, cap)), flush=True)
            stop.set()


if __name__ == "__main__":
    main()
