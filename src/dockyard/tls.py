"""Granian's TLS settings from Distribution's ``http.tls`` section.

rustls (under granian) speaks TLS 1.2 and 1.3 only, so ``minimumtls: tls1.0``/``tls1.1`` is
served as TLS 1.2, with a warning. Several ``clientcas`` files are joined into one bundle,
because granian takes a single CA file.
"""

import logging
import tempfile
from pathlib import Path
from typing import Any

from granian.constants import SSLProtocols

from dockyard.config import Config, ConfigError

log = logging.getLogger("dockyard.tls")


def granian_tls_options(config: Config) -> dict[str, Any]:
    """Keyword arguments for ``Granian(...)``; empty when TLS is not configured."""
    tls = config.http.tls
    if not tls.certificate:
        return {}
    for key, path in (("certificate", tls.certificate), ("key", tls.key)):
        if not Path(path).is_file():
            raise ConfigError(f"config: http.tls.{key}: no such file {path!r}")
    options: dict[str, Any] = {"ssl_cert": Path(tls.certificate), "ssl_key": Path(tls.key),
                               "ssl_protocol_min": _minimum(tls.minimumtls)}
    if tls.clientcas:
        options["ssl_ca"] = _client_ca_bundle(tls.clientcas)
        options["ssl_client_verify"] = True
    return options


def _minimum(minimumtls: str) -> SSLProtocols:
    if minimumtls == "tls1.3":
        return SSLProtocols.tls13
    if minimumtls in ("tls1.0", "tls1.1"):
        log.warning("http.tls.minimumtls %s is not available; serving TLS 1.2 and up", minimumtls)
    return SSLProtocols.tls12


def _client_ca_bundle(paths: list[str]) -> Path:
    if len(paths) == 1:
        return _readable(paths[0], 0)
    with tempfile.NamedTemporaryFile("w", prefix="dockyard-clientcas-", suffix=".pem",
                                     delete=False) as bundle:
        for index, path in enumerate(paths):
            bundle.write(_readable(path, index).read_text())
            bundle.write("\n")
    return Path(bundle.name)


def _readable(path: str, index: int) -> Path:
    if not Path(path).is_file():
        raise ConfigError(f"config: http.tls.clientcas[{index}]: no such file {path!r}")
    return Path(path)
