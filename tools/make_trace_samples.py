"""Regenerate the small sample files of the public trace formats (watcher_geyser/data/traces/).

    .venv/bin/python tools/make_trace_samples.py

Written by us in each dataset's documented column layout (docs/traces.md), with made-up values:
12 VMs over 4 hours at 5-minute steps, a daily-looking ramp plus noise. They exercise the
readers in tests and let `geyser simulate --trace ...` run on every format out of the box.
"""

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1] / "watcher_geyser" / "data" / "traces"
VMS, STEPS, STEP_S = 12, 48, 300
rng = np.random.default_rng(5)
util = np.clip(rng.uniform(0.05, 0.5, (VMS, 1)) + np.linspace(0, 0.3, STEPS) + rng.normal(0, 0.05, (VMS, STEPS)), 0, 1)
cores = rng.choice([1, 2, 2, 4], VMS)
memory_gb = rng.choice([2, 4, 8], VMS)

azure = ROOT / "azure"
azure.mkdir(parents=True, exist_ok=True)
with (azure / "vmtable.csv").open("w") as out:
    for v in range(VMS):
        out.write(f"vm{v:02d}hash,sub{v % 3}hash,dep{v % 4}hash,0,{STEPS * STEP_S},"
                  f"{util[v].max() * 100:.2f},{util[v].mean() * 100:.2f},{np.percentile(util[v], 95) * 100:.2f},"
                  f"{'Interactive' if v % 2 else 'Delay-insensitive'},{cores[v]},{memory_gb[v]}\n")
with (azure / "vm_cpu_readings-file-1-of-1.csv").open("w") as out:
    for k in range(STEPS):
        for v in range(VMS):
            avg = util[v, k] * 100
            out.write(f"{k * STEP_S},vm{v:02d}hash,{avg * 0.6:.3f},{min(avg * 1.4, 100):.3f},{avg:.3f}\n")

google = ROOT / "google" / "task_usage"
google.mkdir(parents=True, exist_ok=True)
peak = rng.uniform(0.01, 0.06, VMS)  # CPU rate normalised to the largest machine
mem = rng.uniform(0.005, 0.03, VMS)
with (google / "part-00000-of-00001.csv").open("w") as out:
    for k in range(STEPS):
        start_us, end_us = (600 + k * STEP_S) * 1_000_000, (600 + (k + 1) * STEP_S) * 1_000_000
        for v in range(VMS):
            rate = peak[v] * util[v, k]
            fields = [start_us, end_us, 6250000000 + v // 4, v % 4, 4000000 + v, f"{rate:.5f}", f"{mem[v]:.5f}",
                      f"{mem[v] * 1.1:.5f}", "0.0001", "0.0002", f"{mem[v] * 1.2:.5f}", "0.0003", "0.0004",
                      f"{rate * 1.5:.5f}", "0.004", "1.5", "0.002", "1", "0", f"{rate:.5f}"]
            out.write(",".join(str(f) for f in fields) + "\n")

bitbrains = ROOT / "bitbrains" / "fastStorage"
bitbrains.mkdir(parents=True, exist_ok=True)
header = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\t"
          "Memory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\t"
          "Disk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]")
for v in range(VMS):
    capacity = cores[v] * 2926.0
    with (bitbrains / f"{v + 1}.csv").open("w") as out:
        out.write(header + "\n")
        for k in range(STEPS):
            used = capacity * util[v, k]
            out.write(f"{1376314846 + k * STEP_S + v};\t{cores[v]};\t{capacity:.6f};\t{used:.6f};\t"
                      f"{util[v, k] * 100:.6f};\t{memory_gb[v] * 1048576:.1f};\t{memory_gb[v] * 400000:.1f};\t"
                      "0.0;\t2.5;\t0.8;\t0.5\n")
print(f"wrote {ROOT}")
