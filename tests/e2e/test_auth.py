"""Real clients against an authenticating Dockyard: htpasswd logins, and the token dance.

* htpasswd: ``podman login`` / ``skopeo login`` with the right password succeed and with a
  wrong one fail; an authenticated ``skopeo copy`` pushes, ``podman pull`` with the stored
  credentials pulls, anonymous pulls are refused.
* token: a tiny issuer on loopback (``GET /token?service=&scope=`` with Basic credentials,
  answering a JWT signed by a key whose certificate is Dockyard's ``rootcertbundle``) lets
  ``skopeo copy --dest-creds`` go through the 401 → token → retry dance.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from images import make_image, sha256_digest, write_layout
from tests import loopback
from tests.auth.conftest import start_auth_server
from tests.auth.tokens import Issuer, write_bundle
from tests.conftest import RunningServer

pytestmark = pytest.mark.e2e

KiB = 1024
USER = "e2e-user"
SERVICE = "dockyard-e2e"
ISSUER = "e2e-token-issuer"


@pytest.fixture(scope="module")
def password() -> str:
    return secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def htpasswd_registry(tmp_path_factory, password) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("auth-htpasswd")
    path = workdir / "htpasswd"
    path.write_text(f"{USER}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()}\n")
    server = start_auth_server(workdir, {"auth": {"htpasswd": {"realm": "dockyard-e2e",
                                                               "path": str(path)}}})
    try:
        yield server
    finally:
        server.stop()


def authfile(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "auth.json"
    path.write_text(json.dumps({"auths": {}}))
    return path


def test_podman_login(tools, htpasswd_registry, password, tmp_path):
    auth = authfile(tmp_path)
    host = htpasswd_registry.host
    wrong = tools.podman("login", "--tls-verify=false", "--authfile", auth, "-u", USER,
                         "-p", password + "x", host, check=False)
    assert wrong.returncode != 0, wrong
    assert host not in json.loads(auth.read_text())["auths"]

    tools.podman("login", "--tls-verify=false", "--authfile", auth, "-u", USER, "-p", password,
                 host)
    stored = json.loads(auth.read_text())["auths"][host]["auth"]
    assert base64.b64decode(stored).decode() == f"{USER}:{password}"
    tools.podman("logout", "--authfile", auth, host)


def test_skopeo_login(tools, htpasswd_registry, password, tmp_path):
    auth = authfile(tmp_path)
    host = htpasswd_registry.host
    for user, secret in ((USER, "wrong"), ("nobody", password)):
        wrong = tools.skopeo("login", "--tls-verify=false", "--authfile", auth, "-u", user,
                             "-p", secret, host, check=False)
        assert wrong.returncode != 0, wrong
    tools.skopeo("login", "--tls-verify=false", "--authfile", auth, "-u", USER, "-p", password,
                 host)
    assert host in json.loads(auth.read_text())["auths"]


def test_authenticated_push_and_pull(tools, htpasswd_registry, password, tmp_path):
    host = htpasswd_registry.host
    image = make_image((8 * KiB, 64 * KiB))
    layout = write_layout(tmp_path / "src", "v1", image)
    ref = f"docker://{host}/team/auth:v1"

    anonymous_push = tools.skopeo("copy", "--dest-tls-verify=false", "--dest-no-creds",
                                  f"oci:{layout}:v1", ref, check=False)
    assert anonymous_push.returncode != 0, anonymous_push
    tools.skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
                 "--dest-creds", f"{USER}:{password}", f"oci:{layout}:v1", ref)

    raw = tools.skopeo("inspect", "--raw", "--tls-verify=false", "--creds",
                       f"{USER}:{password}", ref).stdout_bytes
    assert sha256_digest(raw) == image.digest

    anonymous = tools.skopeo("inspect", "--raw", "--tls-verify=false", "--no-creds", ref,
                             check=False)
    assert anonymous.returncode != 0, anonymous
    assert "unauthorized" in anonymous.stderr.lower() or "401" in anonymous.stderr, anonymous
    refused = tools.podman("pull", "--tls-verify=false", "--signature-policy", tools.policy,
                           "--authfile", authfile(tmp_path / "empty"), f"{host}/team/auth:v1",
                           check=False)
    assert refused.returncode != 0, refused

    auth = authfile(tmp_path)
    tools.podman("login", "--tls-verify=false", "--authfile", auth, "-u", USER, "-p", password,
                 host)
    tools.podman("pull", "--tls-verify=false", "--signature-policy", tools.policy,
                 "--authfile", auth, f"{host}/team/auth:v1")
    pulled = json.loads(tools.podman("image", "inspect", f"{host}/team/auth:v1").stdout)[0]
    assert pulled["Digest"] == image.digest
    assert pulled["Id"] == sha256_digest(image.config).removeprefix("sha256:")
    tools.podman("rmi", f"{host}/team/auth:v1")


# ---------------------------------------------------------------------------- token


class TokenIssuer(loopback.TokenIssuer):
    """The shared loopback issuer under the names ``token_registry`` is configured with.

    Repositories under ``secret/`` are never granted (the token then lacks that scope).
    """

    service = SERVICE
    issuer_name = ISSUER


@pytest.fixture(scope="module")
def token_issuer(password) -> Iterator[TokenIssuer]:
    with TokenIssuer(Issuer.new("e2e-signer"), USER, password) as issuer:
        yield issuer


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory, token_issuer) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("auth-token")
    signer_cert = workdir / "bundle.pem"
    # The issuer's signing certificate is the whole trust bundle.
    write_bundle(signer_cert, token_issuer.signer)
    server = start_auth_server(workdir, {"auth": {"token": {
        "realm": token_issuer.realm, "service": SERVICE, "issuer": ISSUER,
        "rootcertbundle": str(signer_cert)}}})
    try:
        yield server
    finally:
        server.stop()


def test_skopeo_token_dance(tools, token_registry, token_issuer, password, tmp_path):
    host = token_registry.host
    image = make_image((8 * KiB, 32 * KiB))
    layout = write_layout(tmp_path / "src", "v1", image)
    ref = f"docker://{host}/team/tokened:v1"

    token_issuer.requests.clear()
    tools.skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
                 "--dest-creds", f"{USER}:{password}", f"oci:{layout}:v1", ref)
    assert "repository:team/tokened:pull,push" in token_issuer.scopes(), token_issuer.requests

    raw = tools.skopeo("inspect", "--raw", "--tls-verify=false", "--creds",
                       f"{USER}:{password}", ref).stdout_bytes
    assert sha256_digest(raw) == image.digest
    assert "repository:team/tokened:pull" in token_issuer.scopes()

    out = tmp_path / "out"
    tools.skopeo("copy", "--src-tls-verify=false", "--src-creds", f"{USER}:{password}", ref,
                 f"oci:{out}:v1")
    for digest, blob in image.blobs.items():
        assert (out / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes() == blob

    anonymous = tools.skopeo("inspect", "--raw", "--tls-verify=false", "--no-creds", ref,
                             check=False)
    assert anonymous.returncode != 0, anonymous
    wrong = tools.skopeo("inspect", "--raw", "--tls-verify=false", "--creds",
                         f"{USER}:nope", ref, check=False)
    assert wrong.returncode != 0, wrong


def test_skopeo_push_outside_the_granted_scope(tools, token_registry, password, tmp_path):
    layout = write_layout(tmp_path / "src", "v1", make_image((4 * KiB,)))
    refused = tools.skopeo("copy", "--dest-tls-verify=false", "--dest-creds",
                           f"{USER}:{password}", f"oci:{layout}:v1",
                           f"docker://{token_registry.host}/secret/app:v1", check=False)
    assert refused.returncode != 0, refused
    assert "unauthorized" in refused.stderr.lower() or "denied" in refused.stderr.lower(), refused
