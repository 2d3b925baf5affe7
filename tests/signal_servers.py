"""Real local servers for the signal tests: an HTTP(S) server with scripted routes, a test CA.

Routes map a path to ``(status, headers, body)`` or to a callable returning that tuple (the
callable may sleep to make a client time out) or None when it wrote the answer itself (the
hostile servers below: ``drip``, ``drip_headers``, ``hang``). Nothing here is a mock: the
client under test speaks HTTP and TLS over loopback sockets.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Answer = tuple[int, dict[str, str], bytes]
Route = Answer | Callable[[BaseHTTPRequestHandler], Answer | None]


def drip(interval_s: float = 1.0, total_bytes: int = 10_000, body: bytes = b"0") -> Callable:
    """A route that sends its headers at once, then one byte every ``interval_s``: each read
    succeeds within any per-read timeout, so only an overall deadline ends the fetch."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(total_bytes))
        handler.end_headers()
        for i in range(total_bytes):
            handler.wfile.write(body[i % len(body) : i % len(body) + 1])
            handler.wfile.flush()
            time.sleep(interval_s)

    return route


def drip_headers(interval_s: float = 1.0) -> Callable:
    """A route that sends its status line and headers one byte every ``interval_s``, for ever."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        header = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000
        for i in range(len(header)):
            handler.wfile.write(header[i : i + 1])
            handler.wfile.flush()
            time.sleep(interval_s)

    return route


def hang(seconds: float = 60.0) -> Callable:
    """A route that accepts the request and answers nothing for ``seconds``."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)

    return route


def endless(chunk: bytes = b"1" * 65536) -> Callable:
    """A chunked body that never ends (a runaway endpoint): only the byte cap stops it."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        while True:
            handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")

    return route


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(routes: dict[str, Route], tls: ssl.SSLContext | None = None) -> Iterator[tuple[str, list[str]]]:
    """Serve ``routes`` on loopback; yields ``(base_url, hits)`` where hits lists requested paths+queries."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            hits.append(self.path)
            route = routes.get(self.path.split("?", 1)[0])
            try:
                if route is None:
                    answer: Answer | None = (404, {}, b"not found")
                else:
                    answer = route(self) if callable(route) else route
                if answer is None:
                    return  # the route wrote (or withheld) its answer itself
                status, headers, body = answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if headers.get("Transfer-Encoding") == "chunked":
                    for start in range(0, len(body), 65536):
                        chunk = body[start : start + 65536]
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # the client gave up (timeout, size cap): expected in those tests

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def make_tls(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    """A test CA and a server certificate for 127.0.0.1 it signed; returns (server context, CA PEM path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("geyser test CA"))
        .issuer_name(name("geyser test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, ca_path
