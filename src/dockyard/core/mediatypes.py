"""Manifest media types the registry stores, and which family each belongs to."""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
SCHEMA1 = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
MANIFEST_TYPES = IMAGE_MANIFESTS | INDEXES

# Types a client must name in Accept to receive them (Distribution's rule); Docker schema2 is
# served to everyone because old clients never ask for it explicitly.
NEEDS_ACCEPT = frozenset({OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_LIST})


def accepts(accept_values: list[str], media_type: str) -> bool:
    """Whether a client whose Accept headers are ``accept_values`` takes ``media_type``.

    ``*/*`` and ``application/*`` count as accepting, as HTTP says; Distribution ignores them,
    which makes ``curl`` without an Accept header fail on OCI manifests for no good reason.
    """
    if media_type not in NEEDS_ACCEPT:
        return True
    for value in accept_values:
        for item in value.split(","):
            kind = item.split(";", 1)[0].strip().lower()
            if kind in (media_type, "*/*", "application/*"):
                return True
    return False
