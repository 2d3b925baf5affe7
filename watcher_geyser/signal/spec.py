"""One-line source specifications, as typed on the command line or set in the config file.

SOURCE specs (options are key=value pairs; values are percent-decoded, '+' is kept):

    constant:VALUE[UNIT]                  constant:5000W  constant:12kW  constant:45%
                                          constant:0.6?unit=fraction  constant:250gCO2/kWh
    file:PATH[?unit=U&format=F]           file:etc/watcher-geyser/signals/site-watts.csv
    PATH                                  an existing file, same as file:PATH
    http[s]://URL[#unit=U&format=F]       options after '#', which is never sent to the server
    prometheus:BASE_URL?query=PROMQL[&unit=U&range=S&step=S&max_age=S]
                                          prometheus:http://127.0.0.1:9090?query=site_available_watts
    solar:lat=LAT,lon=LON,peak_w=W[,altitude=M,tilt=DEG,azimuth=DEG,losses=F,model=M,step_s=S]

Units (unit= or a constant's suffix): W, kW, MW, fraction (of the fleet's peak watts),
% (renewable share), gCO2/kWh. Formats (format=, default auto): csv, json (detect the JSON
shape), geyser, carbon-intensity, carbon-aware, watts-list. In a PromQL query write '&' as
%26 and '#' as %23. Durations (range, step, max_age, step_s): 300, 300s, 5m, 1h, 1d. A
prometheus: spec without range reads the last hour at 60 s steps (twice the signal policy's
dwell: the fall to a low reading shows); range=0 makes an instant query (one point).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from watcher_geyser.signal.fetch import HttpOptions
from watcher_geyser.signal.parsers import FORMATS
from watcher_geyser.signal.prometheus import PrometheusSource
from watcher_geyser.signal.series import SignalError, Unit
from watcher_geyser.signal.solar import SolarSite, SolarSource
from watcher_geyser.signal.sources import ConstantSource, FileOptions, FileSource, HttpSource, SignalSource

SPEC_HELP = __doc__.split("\n\n", 1)[1]

_CONSTANT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def parse_spec(spec: str, http: HttpOptions | None = None, files: FileOptions | None = None) -> SignalSource:
    """The source a spec names; raises ``SignalError`` naming the fault and the fix.

    ``http`` bounds (and may authenticate) HTTP and Prometheus reads; ``files`` bounds file
    reads. Both default to the documented defaults.
    """
    spec = spec.strip()
    if not spec:
        raise SignalError("empty source spec; try constant:5000W or file:PATH")
    http = http or HttpOptions()
    files = files or FileOptions()
    scheme, _, rest = spec.partition(":")
    scheme = scheme.lower()
    try:
        if scheme == "constant":
            return _constant(rest)
        if scheme == "file":
            return _file(rest, files)
        if scheme in ("http", "https"):
            url, _, frag = spec.partition("#")
            _check_url(url)
            opts = _options(frag, "&", ("unit", "format"))
            return HttpSource(url, _format(opts), opts.get("unit"), http)
        if scheme == "prometheus":
            return _prometheus(rest, http)
        if scheme == "solar":
            return _solar(rest)
    except ValueError as exc:  # SignalError included; dataclass checks raise ValueError
        raise SignalError(f"source {spec!r}: {exc}") from None
    if Path(spec).exists():
        return FileSource(Path(spec), options=files)
    raise SignalError(
        f"source {spec!r}: unknown kind {scheme!r} and no such file; use constant:, file:, http(s)://, "
        "prometheus: or solar: (see geyser signal --help)"
    )


def _check_url(url: str) -> None:
    """A URL with a host and a port in 1..65535, or a SignalError saying which part is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SignalError(f"{exc}; fix the port (1 to 65535)") from None
    if not parts.hostname:
        raise SignalError("the URL has no host; write it like http://HOST:PORT/PATH")
    if port == 0:
        raise SignalError("port 0 cannot be connected to; fix the port (1 to 65535)")


def _options(text: str, sep: str, allowed: tuple[str, ...]) -> dict[str, str]:
    opts: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(sep))):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq or not value.strip():
            raise SignalError(f"option {part!r} must be key=value")
        if key not in allowed:
            raise SignalError(f"unknown option {key!r}; allowed: {', '.join(allowed)}")
        opts[key] = unquote(value.strip())
    return opts


def _format(opts: dict[str, str]) -> str:
    fmt = opts.get("format", "auto")
    if fmt not in FORMATS:
        raise SignalError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return fmt


def _constant(rest: str) -> ConstantSource:
    text, _, query = rest.partition("?")
    opts = _options(query, "&", ("unit",))
    match = _CONSTANT.match(text)
    if not match:
        raise SignalError("constant: expected a number with an optional unit, e.g. constant:5000W")
    suffix = opts.get("unit") or match.group(2) or "W"
    unit, scale = Unit.parse(suffix)
    return ConstantSource(float(match.group(1)) * scale, unit)


def _file(rest: str, files: FileOptions) -> FileSource:
    path, _, query = rest.partition("?")
    if not path:
        raise SignalError("file: needs a path, e.g. file:signals/site.csv?unit=W")
    opts = _options(query, "&", ("unit", "format"))
    if opts.get("unit"):
        Unit.parse(opts["unit"])  # fail early on a bad unit
    return FileSource(Path(path), _format(opts), opts.get("unit"), files)


def _prometheus(rest: str, http: HttpOptions) -> PrometheusSource:
    base, _, query = rest.partition("?")
    if not base.startswith(("http://", "https://")):
        raise SignalError("prometheus: expects a server URL, e.g. prometheus:http://127.0.0.1:9090?query=...")
    _check_url(base)
    opts = _options(query, "&", ("query", "unit", "range", "step", "max_age"))
    if "query" not in opts:
        raise SignalError("prometheus: needs ?query=PROMQL")
    unit, scale = Unit.parse(opts.get("unit", "W"))
    # what is not given takes the source's defaults: without range, a range query reaching back
    # twice the signal policy's dwell (``defaults.PROMETHEUS_RANGE_S``); range=0 an instant query
    given = {field: _seconds(opts[key]) for key, field in (("range", "range_s"), ("step", "step_s"),
                                                           ("max_age", "max_age_s")) if key in opts}
    return PrometheusSource(base, opts["query"], unit, scale, options=http, **given)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def _seconds(text: str) -> float:
    """``300``, ``300s``, ``5m``, ``1h`` or ``1d`` as seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise SignalError(f"duration {text!r} must look like 300, 300s, 5m, 1h or 1d")
    return float(match.group(1)) * _SCALE[match.group(2)]


_SOLAR_KEYS = {
    "lat": "latitude",
    "lon": "longitude",
    "peak_w": "peak_w",
    "altitude": "altitude_m",
    "tilt": "tilt_deg",
    "azimuth": "azimuth_deg",
    "losses": "losses",
    "inverter_w": "inverter_w",
    "air_temp_c": "air_temp_c",
    "model": "model",
}


def _solar(rest: str) -> SolarSource:
    opts = _options(rest, ",", (*_SOLAR_KEYS, "step_s"))
    missing = [k for k in ("lat", "lon", "peak_w") if k not in opts]
    if missing:
        raise SignalError(f"solar: needs {', '.join(missing)} (e.g. solar:lat=52.1,lon=5.1,peak_w=20000)")
    kwargs: dict = {}
    for key, name in _SOLAR_KEYS.items():
        if key in opts:
            kwargs[name] = opts[key] if key == "model" else _float(opts[key], key)
    step_s = _seconds(opts.get("step_s", "300"))
    return SolarSource(SolarSite(**kwargs), step_s)


def _float(text: str, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SignalError(f"{key}={text!r} is not a number") from None
