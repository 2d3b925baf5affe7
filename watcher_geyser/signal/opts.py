"""The ``[geyser_signal]`` options (oslo.config) and their translation into plain objects.

This is the adapter between the configuration file and the pure signal layer:
``policy_config(conf)``, ``http_options(conf)`` and ``source_from_conf(conf)`` read the
group; nothing else in ``watcher_geyser.signal`` imports oslo. ``list_opts`` feeds
oslo-config-generator (namespace ``watcher_geyser``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from oslo_config import cfg

from watcher_geyser.signal.fetch import DEFAULT_DEADLINE_S, DEFAULT_MAX_BYTES, HttpOptions
from watcher_geyser.signal.parsers import MAX_BYTES as FILE_MAX_BYTES
from watcher_geyser.signal.policy import AGGREGATES, PolicyConfig
from watcher_geyser.signal.series import SignalError
from watcher_geyser.signal.sources import FileOptions, SignalSource
from watcher_geyser.signal.spec import parse_spec

GROUP = "geyser_signal"
POLICY = PolicyConfig()  # the defaults, written once in PolicyConfig

signal_group = cfg.OptGroup(
    GROUP,
    title="Energy-availability signal",
    help="Where energy availability is read from, and how it becomes the power budget and packing "
    "ceiling given to the consolidation solver.",
)

SOURCE_OPTS = [
    cfg.StrOpt(
        "source",
        default="",
        help="Signal source spec. Examples: 'constant:5000W', 'file:/etc/watcher-geyser/signals/site.csv?unit=W', "
        "'https://api.example.org/intensity#format=carbon-intensity', "
        "'prometheus:http://127.0.0.1:9090?query=sum(site_available_watts)', "
        "'solar:lat=52.1,lon=5.1,peak_w=20000'. Empty: no signal; the safe default applies.",
    ),
    cfg.MultiStrOpt(
        "named_sources",
        default=[],
        help="Further sources an audit may select by name with its signal_source parameter, one "
        "'NAME=SPEC' per line (NAME: letters, digits, '-', '_', '.'), e.g. 'site=prometheus:http://"
        "127.0.0.1:9090?query=sum(site_available_watts)'. An audit can choose only among these names (and "
        "'default', the source above): never a URL or a file of its own.",
    ),
    cfg.StrOpt(
        "state_file",
        default=None,
        help="JSON file where the policy keeps its memory (held decision for hysteresis, last good value for "
        "the fallback) between audits. Unset: no memory across audits, so no hysteresis between them.",
    ),
]

POLICY_OPTS = [
    cfg.FloatOpt("relaxed_ceiling", default=POLICY.relaxed_ceiling, min=0.01, max=1.0,
                 help="CPU ceiling (fraction of each host's cores its CPU use may fill) when energy is plentiful: "
                 "below the signal-blind ceiling, so hosts keep head-room while energy is free."),
    cfg.FloatOpt("neutral_ceiling", default=POLICY.neutral_ceiling, min=0.01, max=1.0,
                 help="CPU ceiling halfway between plenty and scarcity: the signal-blind ceiling."),
    cfg.FloatOpt("tight_ceiling", default=POLICY.tight_ceiling, min=0.01, max=1.0,
                 help="CPU ceiling when energy is scarce, on the measured CPU use: a scarce supply packs harder "
                 "than no signal. The most any host is packed to: each host keeps its own margin below it "
                 "(host_margin_k), and its relief limit sits tight_relief_margin above it, capped at 100 %."),
    cfg.FloatOpt("host_margin_k", default=POLICY.host_margin_k, min=0.0,
                 help="Each host is packed to at most 1 - its margin, margin = host_margin_k x the spread of "
                 "its summed CPU use / its cores (the square root of the sum of its instances' squared use, at "
                 "least that of a host full of the fleet's typical instances), kept within 5 % and 50 %: big "
                 "hosts of many instances, whose load is smoother, get a thin margin, small ones a wide one. "
                 "0: every host keeps the least margin, 5 %, and packs to the signal's ceiling up to 0.95."),
    cfg.FloatOpt("relaxed_relief_margin", default=POLICY.relaxed_relief_margin, min=0.0, max=1.0,
                 help="When energy is plentiful a host sheds instances once its CPU use passes the ceiling by "
                 "this much: small, so hosts are relieved early while the watts are free."),
    cfg.FloatOpt("tight_relief_margin", default=POLICY.tight_relief_margin, min=0.0, max=1.0,
                 help="When energy is scarce a host sheds instances once its CPU use passes the ceiling by this "
                 "much (the relief limit is capped at 100 %)."),
    cfg.FloatOpt("scarce_ratio", default=POLICY.scarce_ratio, min=0.0,
                 help="Available power at or below this multiple of what the fleet draws now is scarce."),
    cfg.FloatOpt("plenty_ratio", default=POLICY.plenty_ratio, min=0.0,
                 help="Available power at or above this multiple of what the fleet draws now is plentiful."),
    cfg.FloatOpt("scarce_fraction", default=POLICY.scarce_fraction, min=0.0, max=1.0,
                 help="Only where the fleet's draw is unknown: available power at or below this fraction of the "
                 "fleet's peak watts is scarce."),
    cfg.FloatOpt("plenty_fraction", default=POLICY.plenty_fraction, min=0.0, max=1.0,
                 help="Only where the fleet's draw is unknown: available power at or above this fraction of the "
                 "fleet's peak watts is plentiful."),
    cfg.FloatOpt("scarce_renewable_pct", default=POLICY.scarce_renewable_pct, min=0.0, max=100.0,
                 help="Renewable share (%) at or below which energy is scarce."),
    cfg.FloatOpt("plenty_renewable_pct", default=POLICY.plenty_renewable_pct, min=0.0, max=100.0,
                 help="Renewable share (%) at or above which energy is plentiful."),
    cfg.FloatOpt("scarce_carbon_g_per_kwh", default=POLICY.scarce_carbon_g_per_kwh, min=0.0,
                 help="Carbon intensity (gCO2/kWh) at or above which energy is scarce."),
    cfg.FloatOpt("plenty_carbon_g_per_kwh", default=POLICY.plenty_carbon_g_per_kwh, min=0.0,
                 help="Carbon intensity (gCO2/kWh) at or below which energy is plentiful."),
    cfg.FloatOpt("scarce_budget_fraction", default=None, min=0.0, max=1.0,
                 help="For carbon or renewable signals: the power budget at full scarcity as a fraction of the "
                 "fleet's peak watts (linear up to no cap when plentiful). Unset: such signals set only the "
                 "ceiling, never a budget."),
    cfg.IntOpt("horizon_s", default=int(POLICY.horizon_s), min=0,
               help="Decide on the coming window of this many seconds, not only the present value."),
    cfg.StrOpt("aggregate", default=POLICY.aggregate, choices=AGGREGATES,
               help="How the window becomes one value: worst (minimum availability, maximum carbon), mean, or "
               "now (ignore the forecast)."),
    cfg.IntOpt("min_dwell_s", default=int(POLICY.min_dwell_s), min=0,
               help="Hysteresis: keep a decision at least this many seconds before changing it."),
    cfg.FloatOpt("dead_band", default=POLICY.dead_band, min=0.0, max=1.0,
                 help="Hysteresis: ignore changes of scarcity smaller than this (a fraction of the scarce..plenty "
                 "range, for every unit)."),
    cfg.BoolOpt("tighten_immediately", default=POLICY.tighten_immediately,
                help="Let a scarcer decision replace the held one before the dwell time has passed."),
    cfg.IntOpt("ttl_s", default=int(POLICY.ttl_s), min=0,
               help="When the source fails, keep using its last good value while it is younger than this."),
    cfg.FloatOpt("safe_ceiling", default=None, min=0.01, max=1.0,
                 help="Ceiling of the safe default used once the last good value has expired. Unset: "
                 "relaxed_ceiling. The safe default never asks to switch hosts off."),
    cfg.FloatOpt("safe_budget_w", default=None, min=0.0,
                 help="Power budget (W) of the safe default. Unset: no cap."),
    cfg.FloatOpt("suspicious_fraction", default=POLICY.suspicious_fraction, min=0.0, max=0.99,
                 help="A watts or fraction reading below this fraction of what the fleet draws now (its peak "
                 "watts when the draw is not known; 0 W included) is suspicious: it may tighten the packing, but "
                 "no host is switched off (and nothing shelved) until the source has read that low for "
                 "min_dwell_s, by geyser's memory or by the series' own readings; at once when the series "
                 "reached it by a gradual fall (a supply at dusk, not a broken meter's drop to 0)."),
]

READ_OPTS = [
    cfg.FloatOpt("read_deadline_s", default=DEFAULT_DEADLINE_S, min=0.1,
                 help="Seconds a whole signal read may take (HTTP, Prometheus or file; retries and back-off "
                 "included). A server that answers slowly, byte by byte, is cut off then and the policy falls "
                 "back."),
    cfg.IntOpt("file_max_bytes", default=FILE_MAX_BYTES, min=1024,
               help="Refuse signal files larger than this many bytes (counted while reading, not trusted from "
               "the file's reported size)."),
    cfg.BoolOpt("allow_special_files", default=False,
                help="Read a file source that is not a regular file (a FIFO, a device). Off: such sources are "
                "refused, since they may never end; on: still bounded by read_deadline_s and file_max_bytes."),
]

HTTP_OPTS = [
    cfg.FloatOpt("http_timeout_s", default=HttpOptions.timeout_s, min=0.1,
                 help="Timeout of each HTTP attempt, seconds."),
    cfg.BoolOpt("http_verify", default=True, help="Verify the server's TLS certificate. Leave on."),
    cfg.StrOpt("http_ca_bundle", default=None,
               help="CA bundle (PEM) to verify the server with, e.g. a site CA for an internal endpoint."),
    cfg.IntOpt("http_max_bytes", default=DEFAULT_MAX_BYTES, min=1024,
               help="Refuse responses larger than this many bytes."),
    cfg.IntOpt("http_retries", default=HttpOptions.retries, min=0,
               help="Retries after a timeout, connection error, 429 or 5xx."),
    cfg.FloatOpt("http_backoff_s", default=HttpOptions.backoff_s, min=0.0,
                 help="First retry delay; doubles at each retry."),
    cfg.StrOpt("http_username", default=None,
               help="User for HTTP basic authentication, sent only to the origin (scheme, host, port) of "
               "the 'source' option."),
    cfg.StrOpt("http_password", default=None, secret=True,
               help="Password for HTTP basic authentication, sent only to the origin of 'source'."),
    cfg.StrOpt("http_token", default=None, secret=True,
               help="Bearer token sent in the Authorization header, only to the origin of 'source'."),
]

ALL_OPTS = SOURCE_OPTS + POLICY_OPTS + READ_OPTS + HTTP_OPTS


def register_fresh_group(conf: cfg.ConfigOpts, group: cfg.OptGroup, options: list[cfg.Opt]) -> None:
    """Register ``options`` under a copy of ``group`` of its own in ``conf``.

    oslo.config copies a registered ``OptGroup`` shallowly, so every ``ConfigOpts`` that registers
    the same group object shares one table of option states: an override set in one (a test, the
    Watcher process's global ``CONF``) would show in every other (``geyser signal``'s own).
    """
    conf.register_group(cfg.OptGroup(group.name, title=group.title, help=group.help))  # no-op when registered
    conf.register_opts(options, group=group.name)


def register_opts(conf: cfg.ConfigOpts) -> None:
    register_fresh_group(conf, signal_group, ALL_OPTS)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    """For oslo-config-generator (entry point ``oslo.config.opts``: ``watcher_geyser``)."""
    return [(signal_group, ALL_OPTS)]


def policy_config(conf: cfg.ConfigOpts) -> PolicyConfig:
    """The ``PolicyConfig`` the group describes; raises ValueError on inconsistent thresholds."""
    group = conf[GROUP]
    names = [o.name for o in POLICY_OPTS]
    return PolicyConfig(**{name: getattr(group, name) for name in names})


def http_options(conf: cfg.ConfigOpts, spec: str | None = None) -> HttpOptions:
    """The HTTP options; credentials only when ``spec`` (None: the configured ``source``) reaches
    the same origin as the configured ``source``, so they are never sent anywhere else."""
    g = conf[GROUP]
    bound = spec is None or (bool(g.source) and _origin(spec) is not None and _origin(spec) == _origin(g.source))
    return HttpOptions(
        timeout_s=g.http_timeout_s,
        deadline_s=g.read_deadline_s,
        verify=g.http_verify,
        ca_bundle=g.http_ca_bundle,
        max_bytes=g.http_max_bytes,
        retries=g.http_retries,
        backoff_s=g.http_backoff_s,
        username=g.http_username if bound else None,
        password=g.http_password if bound else None,
        token=g.http_token if bound else None,
    )


def file_options(conf: cfg.ConfigOpts) -> FileOptions:
    g = conf[GROUP]
    return FileOptions(max_bytes=g.file_max_bytes, deadline_s=g.read_deadline_s, allow_special=g.allow_special_files)


def source_from_conf(conf: cfg.ConfigOpts) -> SignalSource | None:
    """The configured source, or None when ``source`` is empty. Raises SignalError on a bad spec."""
    spec = conf[GROUP].source
    return parse_spec(spec, http_options(conf), file_options(conf)) if spec else None


DEFAULT_NAME = "default"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def named_sources(conf: cfg.ConfigOpts) -> dict[str, str]:
    """Name -> spec of the sources an audit may select (``default``: the ``source`` option).

    Raises SignalError on a malformed entry, naming it and the fix."""
    g = conf[GROUP]
    out = {DEFAULT_NAME: g.source} if g.source else {}
    for entry in g.named_sources or ():
        name, eq, spec = entry.partition("=")
        name = name.strip()
        if not eq or not _NAME.match(name) or not spec.strip():
            raise SignalError(f"[{GROUP}] named_sources entry {name[:64]!r}... must be NAME=SPEC, NAME made of "
                              "letters, digits, '-', '_' or '.'")
        out[name] = spec.strip()
    return out


def audit_source(conf: cfg.ConfigOpts, requested: str) -> tuple[str, SignalSource] | None:
    """``(name, source)`` for an audit's ``signal_source`` (empty: ``default``), or None when no source
    is configured at all. Raises SignalError when the name is not configured: an audit selects among
    the operator's sources and cannot name a URL or a file of its own."""
    sources = named_sources(conf)
    name = requested.strip() or DEFAULT_NAME
    if name not in sources:
        if not requested.strip():
            return None
        shown = name if _NAME.match(name) else "a spec or URL"
        known = ", ".join(sorted(sources)) or "none"
        raise SignalError(
            f"signal_source {shown!r} is not a configured source (configured: {known}); an audit may only "
            f"select a name from [{GROUP}] named_sources"
        )
    spec = sources[name]
    return name, parse_spec(spec, http_options(conf, spec), file_options(conf))


def _origin(spec: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of the URL inside an HTTP or Prometheus spec; None for other kinds."""
    url = spec.strip()
    if url.lower().startswith("prometheus:"):
        url = url.split(":", 1)[1]
    try:
        parts = urlsplit(url.split("#", 1)[0])
        if parts.scheme.lower() not in ("http", "https"):
            return None
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
