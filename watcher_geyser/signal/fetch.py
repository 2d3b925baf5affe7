"""Fetch bytes over HTTP(S) the careful way, for the HTTP and Prometheus sources.

A timeout on every attempt, TLS verification on (a CA bundle may be named), a cap on the
body size enforced while streaming (a runaway endpoint cannot fill memory), retries with
exponential back-off on errors that may pass (connection, timeout, 429, 5xx) and none on
those that will not (4xx, TLS, oversize). Credentials come from ``HttpOptions`` and never
appear in an error message or a ``repr``: URLs are shown without user-info and with
secret-looking query values masked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from watcher_geyser.signal.series import SignalError

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
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
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
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
    if parts.port:
        host = f"{host}:{parts.port}"
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
) -> bytes:
    """GET ``url`` and return the body; raises ``FetchError`` saying what failed and after how many tries."""
    options = options or HttpOptions()
    shown = redact_url(url)
    last: FetchError | None = None
    for attempt in range(options.retries + 1):
        if attempt:
            sleep(options.backoff_s * 2 ** (attempt - 1))
        try:
            return _once(url, options, params, shown)
        except FetchError as exc:
            last = exc
            if not exc.retryable:
                break
    assert last is not None
    tries = f" (after {attempt + 1} attempts)" if attempt else ""
    raise FetchError(f"{last}{tries}", last.retryable)


def _once(url: str, options: HttpOptions, params, shown: str) -> bytes:
    headers = {"Accept": "application/json, text/csv;q=0.9, */*;q=0.5", **dict(options.headers)}
    if options.token:
        headers["Authorization"] = f"Bearer {options.token}"
    auth = (options.username, options.password or "") if options.username else None
    try:
        with requests.get(
            url,
            params=params,
            headers=headers,
            auth=auth,
            timeout=options.timeout_s,
            verify=options.tls_verify,
            stream=True,
            allow_redirects=True,
        ) as resp:
            if resp.status_code >= 400:
                retry = resp.status_code == 429 or resp.status_code >= 500
                text = f"GET {shown}: HTTP {resp.status_code} {resp.reason or ''}".rstrip()
                raise FetchError(text + _excerpt(resp), retry)
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > options.max_bytes:
                raise FetchError(
                    f"GET {shown}: body of {declared} bytes is above the {options.max_bytes}-byte limit (max_bytes)"
                )
            body = bytearray()
            for chunk in resp.iter_content(chunk_size=65536):
                body.extend(chunk)
                if len(body) > options.max_bytes:
                    raise FetchError(
                        f"GET {shown}: body exceeds the {options.max_bytes}-byte limit (max_bytes); stopped reading"
                    )
            return bytes(body)
    except requests.exceptions.SSLError:
        hint = "set ca_bundle to the CA that signed it" if options.verify else "TLS failed"
        raise FetchError(f"GET {shown}: TLS certificate verification failed; {hint}") from None
    except requests.exceptions.Timeout:
        raise FetchError(f"GET {shown}: no answer within {options.timeout_s:g} s (timeout)", True) from None
    except requests.exceptions.ConnectionError as exc:
        raise FetchError(f"GET {shown}: cannot connect ({_root_cause(exc)})", True) from None
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"GET {shown}: {type(exc).__name__}") from None


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
    text = raw.decode("utf-8", "replace").strip().replace("\n", " ")
    return f": {text[:limit]}" if text else ""
