"""Readers for public datasets, each mapped to the simulator's ``Trace`` (VM sizes from the
trace where it has them, CPU use per step): ``azure`` (Azure public VM dataset V1/V2),
``google`` (Google cluster data 2011, ``task_usage``) and ``bitbrains`` (GWA-T-12
fastStorage / Rnd). Formats and mappings: ``docs/traces.md``. ``read_trace`` picks a reader
by name or by looking at the path; malformed input raises ``TraceError`` naming the file and
the line.
"""

from __future__ import annotations

from pathlib import Path

from watcher_geyser.simulator.datasets.azure import is_azure, read_azure
from watcher_geyser.simulator.datasets.bitbrains import is_bitbrains, read_bitbrains
from watcher_geyser.simulator.datasets.google import is_google, read_google
from watcher_geyser.simulator.traces import Trace, TraceError

READERS = {"azure": read_azure, "google": read_google, "bitbrains": read_bitbrains}
FORMATS = ("auto", "planetlab", "csv", "scenario", *READERS)


def detect(path: Path) -> str | None:
    """The public format ``path`` looks like, or None (PlanetLab, CSV or scenario: the core readers)."""
    if not path.exists():
        raise TraceError(f"{path}: no such file or folder")
    for name, looks in (("azure", is_azure), ("bitbrains", is_bitbrains), ("google", is_google)):
        if looks(path):
            return name
    return None


def read_dataset(path: str | Path, fmt: str) -> Trace:
    return READERS[fmt](path)


__all__ = ["FORMATS", "READERS", "detect", "read_dataset", "Trace", "TraceError"]
