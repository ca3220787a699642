"""A real client (skopeo) pushing past a namespace quota sees the DENIED message, and the
refused layer leaves nothing behind; pushes that fit, and other namespaces, still work."""

from collections.abc import Callable
from pathlib import Path

from tests.conftest import RunningServer
from tests.e2e.conftest import ContainerTools
from tests.e2e.images import make_image, sha256_digest, write_layout
from tests.quota.helpers import assert_reconciled, engine_of

QUOTAS = {"dockyard.quotas": {"namespaces": {"team": "200KiB"}}}


def test_skopeo_push_refused_by_quota(server_factory: Callable[..., RunningServer],
                                      tools: ContainerTools, tmp_path: Path) -> None:
    server = server_factory(QUOTAS)
    small, big = make_image((4 * 1024, 64 * 1024)), make_image((256 * 1024,))
    write_layout(tmp_path / "layout", "small", small)
    write_layout(tmp_path / "layout", "big", big)
    destination = f"docker://{server.host}/team/app"

    tools.skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/layout:small",
                 f"{destination}:v1.0.0")
    refused = tools.skopeo("copy", "--dest-tls-verify=false", "--retry-times=0",
                           f"oci:{tmp_path}/layout:big", f"{destination}:v1.1.0", check=False)
    assert refused.returncode != 0
    assert "quota exceeded for namespace team: used " in refused.stderr, refused.stderr
    assert "> limit 200.0 KiB" in refused.stderr

    hex_ = sha256_digest(big.layers[0].blob).split(":")[1]
    assert not (server.root / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_).exists()
    tools.skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/layout:big",
                 f"docker://{server.host}/other/app:v1.1.0")
    tools.skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/layout:small",
                 f"{destination}:latest")  # Already counted: a re-push at the limit works.
    usage = assert_reconciled(engine_of(server.root))
    assert usage["team"].bytes < 200 * 1024 < usage["other"].bytes
