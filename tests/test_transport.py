"""Transport rules: no plain HTTP off the machine; a corporate proxy and a private CA work.

The proxy test never leaves loopback: a TLS-inspecting "corporate proxy" on
127.0.0.1 accepts ``CONNECT api.genesys.example.test:443``, terminates TLS
with a certificate signed by a test CA made here with ``openssl``, and relays
the plain HTTP to the sandbox. The client finds the proxy through
``HTTPS_PROXY`` and trusts the CA through ``SSL_CERT_FILE`` (httpx's
``trust_env``), exactly as it would behind a real one.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ConfigError
from reconciler.genesys.config import Connection, connection_from_env
from reconciler.genesys.trust import verification_for
from tests.conftest import CliResult, SandboxHandle

HOST = "api.genesys.example.test"
# A realistic secret: the CLI masks it in every later log line of the test session (a one-letter one would mask "s").
BASE = {"GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "transport-test-secret"}


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("GENESYSCLOUD_API_URL", "http://api.example.com"),
        ("GENESYSCLOUD_API_URL", "http://10.0.0.8:8080"),
        ("GENESYSCLOUD_LOGIN_URL", "http://login.example.com"),
        ("GENESYSCLOUD_API_URL", "http://user:pa55@example.com/x"),
    ],
)
def test_plain_http_off_the_machine_is_refused_in_one_line(name: str, url: str) -> None:
    with pytest.raises(ConfigError) as info:
        connection_from_env({**BASE, name: url})
    message = str(info.value)
    assert name in message and "plain HTTP" in message and "https://" in message
    assert "\n" not in message and "pa55" not in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:9", "http://127.9.9.9"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert connection_from_env({**BASE, "GENESYSCLOUD_API_URL": url}).login_url == url


def test_plain_http_to_loopback_builds_no_ca_store_and_https_keeps_the_default() -> None:
    # Loading the CA store costs every start of a sandbox run 0.05-0.2 s of CPU, for a handshake
    # plain HTTP never makes; the stand-in context trusts nothing, so TLS through it would fail.
    def _tls_for(conn: Connection) -> ssl.SSLContext | bool:
        return verification_for(conn.api_url, conn.login_url)

    plain = _tls_for(connection_from_env({**BASE, "GENESYSCLOUD_API_URL": "http://127.0.0.1:8765"}))
    assert isinstance(plain, ssl.SSLContext)
    assert plain.cert_store_stats()["x509_ca"] == 0
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname
    assert _tls_for(connection_from_env(BASE)) is True  # https: httpx's default (and SSL_CERT_FILE, below)
    mixed = {**BASE, "GENESYSCLOUD_API_URL": "http://127.0.0.1:8765", "GENESYSCLOUD_LOGIN_URL": "https://login.test"}
    assert _tls_for(connection_from_env(mixed)) is True


@pytest.mark.parametrize("url", ["ftp://example.com", "https://", "example.com", "https://example.com:port"])
def test_a_url_that_is_not_https_with_a_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="GENESYSCLOUD_API_URL"):
        connection_from_env({**BASE, "GENESYSCLOUD_API_URL": url})


def test_the_cli_refuses_plain_http_with_exit_1(cli: Any, desired: Path) -> None:
    env = {**BASE, "GENESYSCLOUD_API_URL": "http://genesys.example.com"}
    result = cli("plan", str(desired), env=env)
    assert result.code == 1
    assert result.err.count("\n") == 1 and "plain HTTP (http://genesys.example.com)" in result.err


# --- a corporate proxy and a private CA ---------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a server certificate for HOST, made for this test run only."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate authority")
    d = tmp_path_factory.mktemp("ca")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)  # fmt: skip
    _openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={HOST}", cwd=d)
    (d / "leaf.ext").write_text(
        f"subjectAltName=DNS:{HOST}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext", cwd=d)  # fmt: skip
    return d


@dataclass
class InspectingProxy:
    """CONNECT proxy on loopback that terminates TLS and relays to one backend port."""

    backend: int
    tls: ssl.SSLContext
    connects: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError), conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.connects.append(head.split(b"\r\n", 1)[0].decode())
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with (
                self.tls.wrap_socket(conn, server_side=True) as client,
                socket.create_connection(("127.0.0.1", self.backend)) as upstream,
            ):
                self._relay(client, upstream)

    @staticmethod
    def _relay(client: ssl.SSLSocket, upstream: socket.socket) -> None:
        while True:
            ready = [client] if client.pending() else select.select([client, upstream], [], [], 5)[0]
            if not ready:
                return
            for src, dst in ((client, upstream), (upstream, client)):
                if src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    dst.sendall(data)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def proxy(test_ca: Path, sandbox: SandboxHandle) -> Iterator[InspectingProxy]:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(test_ca / "leaf.pem", test_ca / "leaf.key")
    p = InspectingProxy(sandbox.sandbox.port, tls)
    yield p
    p.close()


def _plan_through(proxy: InspectingProxy, sandbox: SandboxHandle, desired: Path, ca_file: str) -> CliResult:
    """A real process whose only way to the sandbox is the proxy named in HTTPS_PROXY."""
    base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("SSL_CERT")}
    env = {
        **base,
        **sandbox.env,
        "GENESYSCLOUD_API_URL": f"https://{HOST}",
        "HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}",
        "SSL_CERT_FILE": ca_file,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", str(desired), "--detailed-exitcode"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def test_a_proxy_and_a_private_ca_from_the_standard_variables_work(
    proxy: InspectingProxy, sandbox: SandboxHandle, desired: Path, test_ca: Path
) -> None:
    result = _plan_through(proxy, sandbox, desired, str(test_ca / "ca.pem"))
    assert result.code == 2, result.err
    assert "Plan: 2 to deactivate" in result.out
    assert proxy.connects and set(proxy.connects) == {f"CONNECT {HOST}:443 HTTP/1.1"}


def test_without_the_private_ca_the_certificate_is_refused(
    proxy: InspectingProxy, sandbox: SandboxHandle, desired: Path, test_ca: Path
) -> None:
    result = _plan_through(proxy, sandbox, desired, str(test_ca / "leaf.pem"))  # trusts no CA that signed it
    assert result.code == 1
    assert "TLS certificate is not trusted" in result.err and "SSL_CERT_FILE" in result.err
    assert "retrying" not in result.err  # permanent: another attempt would fail the same way
    assert "Traceback" not in result.err
    assert not [r for r in sandbox.requests() if r["path"].startswith("/api/")]  # nothing got through
