"""HTTPS with the registry:2 docs' self-signed recipe, and mutual TLS, with real clients."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from images import make_image, sha256_digest, write_layout

pytestmark = pytest.mark.e2e


def openssl_self_signed(directory: Path, name: str, cn: str = "localhost") -> tuple[Path, Path]:
    """`openssl req -newkey rsa:4096 -nodes -sha256 -keyout domain.key -x509 -days 365 ...`"""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256",
                    "-keyout", key, "-x509", "-days", "365", "-out", cert, "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def client_certificate(directory: Path, ca_cert: Path, ca_key: Path) -> tuple[Path, Path]:
    """A client certificate (X.509 v3, clientAuth) signed by the test's client CA."""
    key, csr, cert = directory / "client.key", directory / "client.csr", directory / "client.cert"
    extensions = directory / "client.ext"
    extensions.write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                          "extendedKeyUsage=clientAuth\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=client"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
                    "-CAcreateserial", "-days", "1", "-out", cert, "-extfile", extensions],
                   check=True,
                   capture_output=True)
    return cert, key


def trusting(cert: Path, client: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    return context


@pytest.fixture
def https_server(server_factory, tmp_path):
    cert, key = openssl_self_signed(tmp_path / "certs", "domain")
    server = server_factory({"http.tls": {"certificate": str(cert), "key": str(key)}},
                            scheme="https", verify=trusting(cert))
    return server, cert


def test_https_with_a_self_signed_certificate(https_server, tools, tmp_path):
    server, cert = https_server
    assert server.client.get("/v2/").status_code == 200
    with pytest.raises(httpx.ConnectError):  # Untrusted without the CA.
        httpx.get(f"{server.url}/v2/")

    cert_dir = tmp_path / "skopeo-certs"
    cert_dir.mkdir()
    (cert_dir / "ca.crt").write_bytes(cert.read_bytes())
    image = make_image((2048, 4096))
    layout = write_layout(tmp_path / "layout", "v1", image)
    ref = f"docker://{server.host}/secure/app:v1"
    tools.skopeo("copy", "--dest-cert-dir", cert_dir, f"oci:{layout}:v1", ref)
    raw = tools.skopeo("inspect", "--raw", "--cert-dir", cert_dir, ref).stdout_bytes
    assert sha256_digest(raw) == image.digest
    # Verification stays on: without the CA, skopeo refuses the registry.
    assert tools.skopeo("inspect", "--raw", ref, check=False).returncode != 0

    pulled = tools.podman("pull", "--cert-dir", cert_dir, f"{server.host}/secure/app:v1")
    assert pulled.returncode == 0
    digest = tools.podman("image", "inspect", "--format", "{{.Digest}}",
                          f"{server.host}/secure/app:v1").stdout.strip()
    assert digest == image.digest


def test_http2_is_offered_over_tls(https_server):
    server, cert = https_server
    context = ssl.create_default_context(cafile=str(cert))
    context.set_alpn_protocols(["h2", "http/1.1"])
    host, port = server.host.split(":")
    with socket.create_connection((host, int(port))) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.selected_alpn_protocol() == "h2"


def test_mutual_tls_rejects_clients_without_a_certificate(server_factory, tmp_path):
    cert, key = openssl_self_signed(tmp_path / "server", "domain")
    ca_cert, ca_key = openssl_self_signed(tmp_path / "clientca", "ca", cn="client-ca")
    client_cert, client_key = client_certificate(tmp_path / "clientca", ca_cert, ca_key)
    server = server_factory({"http.tls": {"certificate": str(cert), "key": str(key),
                                          "clientcas": [str(ca_cert)]}},
                            scheme="https", verify=trusting(cert, (client_cert, client_key)))
    assert server.client.get("/v2/").status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/v2/", verify=trusting(cert))
    stranger_cert, stranger_key = openssl_self_signed(tmp_path / "stranger", "stranger")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/v2/", verify=trusting(cert, (stranger_cert, stranger_key)))


def test_minimum_tls_13_refuses_tls_12(server_factory, tmp_path):
    cert, key = openssl_self_signed(tmp_path / "certs", "domain")
    server = server_factory({"http.tls": {"certificate": str(cert), "key": str(key),
                                          "minimumtls": "tls1.3"}},
                            scheme="https", verify=trusting(cert))
    assert server.client.get("/v2/").status_code == 200
    context = ssl.create_default_context(cafile=str(cert))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/v2/", verify=context)


def test_missing_certificate_file_stops_the_start(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("version: 0.1\nhttp:\n  addr: 127.0.0.1:0\n  tls:\n"
                      f"    certificate: {tmp_path}/nope.crt\n    key: {tmp_path}/nope.key\n")
    result = subprocess.run([sys.executable, "-m", "dockyard", "serve", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "http.tls.certificate" in result.stderr
