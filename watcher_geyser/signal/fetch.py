"""Fetch bytes over HTTP(S) the careful way, for the HTTP and Prometheus sources.

A timeout on every attempt and an overall deadline on the whole fetch (retries, headers
and body included: a server dripping one byte a second is cut off at the deadline by a
watchdog that shuts the sockets down), TLS verification on (a CA bundle may be named), a
cap on the body size enforced while streaming and no compressed bodies (a runaway endpoint
or a gzip bomb cannot fill memory), retries with exponential back-off on errors that may
pass (connection, timeout, 429, 5xx) and none on those that will not (4xx, TLS, oversize).
Credentials come from ``HttpOptions`` and never appear in an error message or a ``repr``:
URLs are shown without user-info and with secret-looking query values masked.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from watcher_geyser.signal.series import SignalError

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
#: Seconds a whole signal read may take, retries and back-off included (``read_deadline_s``).
DEFAULT_DEADLINE_S = 30.0
_CHUNK_BYTES = 65536
_SECRET_KEYS = ("token", "key", "secret", "password", "passwd", "auth", "signature", "sig")


class FetchError(SignalError):
    """An HTTP fetch that failed; ``retryable`` says whether trying again could help."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class HttpOptions:
    """How to reach an endpoint. ``password`` and ``token`` never show in ``repr``."""

    timeout_s: float = 10.0
    deadline_s: float = DEFAULT_DEADLINE_S
    verify: bool = True
    ca_bundle: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    retries: int = 2
    backoff_s: float = 0.5
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if not self.deadline_s > 0:
            raise ValueError(f"deadline_s must be > 0, got {self.deadline_s}")
        if self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {self.max_bytes}")
        if self.retries < 0 or self.backoff_s < 0:
            raise ValueError("retries and backoff_s must be >= 0")

    @property
    def tls_verify(self) -> bool | str:
        """The ``verify`` argument for requests: the CA bundle path, True, or False."""
        if not self.verify:
            return False
        return self.ca_bundle or True


def redact_url(url: str) -> str:
    """The URL without user-info and with secret-looking query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:  # out of range or not a number: shown as written, it holds no secret
        port = parts.netloc.rpartition("@")[2].rpartition(":")[2] or None
    if port:
        host = f"{host}:{port}"
    query = urlencode(
        [(k, "***" if any(s in k.lower() for s in _SECRET_KEYS) else v) for k, v in parse_qsl(parts.query)],
        safe="*",
    )
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def fetch(
    url: str,
    options: HttpOptions | None = None,
    params: dict[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> bytearray:
    """GET ``url`` and return the body; raises ``FetchError`` saying what failed and after how many tries.

    The whole call ends within ``options.deadline_s`` (plus the time a socket shutdown takes
    to be noticed, well under a second); the body is returned as the ``bytearray`` it was read
    into, so memory stays within ``max_bytes`` plus one chunk.
    """
    options = options or HttpOptions()
    shown = redact_url(url)
    try:
        _ = urlsplit(url).port  # a port out of range would fail deep inside requests
    except ValueError as exc:
        raise FetchError(f"GET {shown}: {exc}; fix the port in the URL") from None
    deadline = time.monotonic() + options.deadline_s
    last: FetchError | None = None
    attempt = 0
    for attempt in range(options.retries + 1):
        if attempt:
            pause_s = options.backoff_s * 2 ** (attempt - 1)
            if time.monotonic() + pause_s >= deadline:
                attempt -= 1
                break
            sleep(pause_s)
        try:
            return _once(url, options, params, shown, deadline)
        except FetchError as exc:
            last = exc
            if not exc.retryable:
                break
    assert last is not None
    tries = f" (after {attempt + 1} attempts)" if attempt else ""
    raise FetchError(f"{last}{tries}", last.retryable)


def _once(url: str, options: HttpOptions, params, shown: str, deadline: float) -> bytearray:
    remaining_s = deadline - time.monotonic()
    if remaining_s <= 0:
        raise FetchError(f"GET {shown}: the {options.deadline_s:g} s deadline (read_deadline_s) passed")
    headers = {
        "Accept": "application/json, text/csv;q=0.9, */*;q=0.5",
        "Accept-Encoding": "identity",
        **dict(options.headers),
    }
    if options.token:
        headers["Authorization"] = f"Bearer {options.token}"
    auth = (options.username, options.password or "") if options.username else None
    watchdog = _Watchdog(remaining_s)
    try:
        with watchdog, _session() as session:
            return _request(session, url, params, headers, auth, options, shown, min(options.timeout_s, remaining_s),
                            deadline)
    except FetchError:
        raise
    except Exception as exc:
        if watchdog.fired:
            raise FetchError(
                f"GET {shown}: no complete answer within the {options.deadline_s:g} s deadline (read_deadline_s)"
            ) from None
        raise _translate(exc, options, shown) from None


def _request(session, url, params, headers, auth, options: HttpOptions, shown: str, timeout_s: float,
             deadline: float) -> bytearray:
    with session.get(
            url,
            params=params,
            headers=headers,
            auth=auth,
            timeout=timeout_s,
            verify=options.tls_verify,
            stream=True,
            allow_redirects=True,
        ) as resp:
            if resp.status_code >= 400:
                retry = resp.status_code == 429 or resp.status_code >= 500
                text = f"GET {shown}: HTTP {resp.status_code} {resp.reason or ''}".rstrip()
                hint = "; the server has nothing at that path: check the URL" if resp.status_code == 404 else ""
                raise FetchError(text + _excerpt(resp) + hint, retry)
            encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise FetchError(
                    f"GET {shown}: the server sent a {encoding!r}-encoded body although asked for identity; "
                    "compressed bodies are refused (their size cannot be capped before decoding)"
                )
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > options.max_bytes:
                raise FetchError(
                    f"GET {shown}: body of {declared} bytes is above the {options.max_bytes}-byte limit (max_bytes)"
                )
            body = bytearray()
            for chunk in resp.iter_content(chunk_size=_CHUNK_BYTES):
                body.extend(chunk)
                if len(body) > options.max_bytes:
                    raise FetchError(
                        f"GET {shown}: body exceeds the {options.max_bytes}-byte limit (max_bytes); stopped reading"
                    )
                if time.monotonic() > deadline:
                    raise FetchError(
                        f"GET {shown}: no complete answer within the {options.deadline_s:g} s deadline "
                        "(read_deadline_s)"
                    )
            return body


def _translate(exc: Exception, options: HttpOptions, shown: str) -> FetchError:
    """A requests exception as a ``FetchError`` that names no secret."""
    if isinstance(exc, requests.exceptions.SSLError):
        hint = "set ca_bundle to the CA that signed it" if options.verify else "TLS failed"
        return FetchError(f"GET {shown}: TLS certificate verification failed; {hint}")
    if isinstance(exc, requests.exceptions.Timeout):
        return FetchError(f"GET {shown}: no answer within {options.timeout_s:g} s (timeout)", True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return FetchError(f"GET {shown}: cannot connect ({_root_cause(exc)})", True)
    if isinstance(exc, requests.exceptions.RequestException):
        return FetchError(f"GET {shown}: {type(exc).__name__}")
    # a URL requests cannot even prepare (a port above 65535, a bad host name), or a library fault
    return FetchError(f"GET {shown}: {type(exc).__name__}: {_root_cause(exc)}")


# ---------------------------------------------------------------- the deadline watchdog
# A read timeout bounds one ``recv``; a server that sends a byte just before each timeout
# keeps a fetch alive for ever. The watchdog shuts down every socket the fetch opened when
# the deadline passes, which wakes a blocked ``recv`` at once. Sockets are registered by
# the connection classes below, for the thread doing the fetch.

_current = threading.local()


class _Watchdog:
    """Shuts down the sockets opened in its ``with`` block when ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        _current.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _current.watchdog = None

    def register(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def _register(sock: socket.socket) -> socket.socket:
    watchdog = getattr(_current, "watchdog", None)
    if watchdog is not None:
        watchdog.register(sock)
    return sock


class _WatchedConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _register(super()._new_conn())


class _WatchedTlsConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:  # the raw socket, before the TLS handshake
        return _register(super()._new_conn())


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedTlsPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTlsConnection


class _WatchedAdapter(HTTPAdapter):
    _POOLS = {"http": _WatchedPool, "https": _WatchedTlsPool}

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme"):  # an HTTP(S) proxy; SOCKS keeps its own classes
            manager.pool_classes_by_scheme = self._POOLS
        return manager


def _session() -> requests.Session:
    """A fresh session (no pooled connection outlives the fetch) whose sockets the watchdog sees."""
    session = requests.Session()
    adapter = _WatchedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _root_cause(exc: BaseException) -> str:
    """The innermost cause's class and errno text, never the URL (which may hold secrets)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = getattr(exc, "strerror", None) or type(exc).__name__
    return str(text)


def _excerpt(resp: requests.Response, limit: int = 300) -> str:
    """The start of an error body (servers such as Prometheus explain a 4xx there)."""
    try:
        raw = next(resp.iter_content(chunk_size=limit), b"")
    except requests.exceptions.RequestException:
        return ""
    text = raw.decode("utf-8", "replace")
    if "html" in resp.headers.get("Content-Type", "").lower() or text.lstrip().startswith("<"):
        text = re.sub(r"<[^>]*>?", " ", text)  # a web server's error page: its words, not its markup
    text = " ".join(text.split())
    return f": {text[:limit]}" if text else ""
