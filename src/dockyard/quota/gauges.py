"""Prometheus gauges of quota usage, read from the database when the metrics are scraped.

``dockyard_quota_used_bytes{namespace}`` and ``dockyard_quota_limit_bytes{namespace}`` (the
latter only for namespaces with a limit). The running figures are one small table, so a
scrape costs one query and the push path nothing. The debug server lives in the slim
launcher process, so this reads SQLite with the standard library, not SQLAlchemy.
"""

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

from dockyard.quota.limits import QuotaLimits

log = logging.getLogger("dockyard.quota")


class QuotaGauges:
    """A prometheus-client collector over the ``namespace_usage`` table."""

    def __init__(self, database: str, limits: QuotaLimits | None):
        self._database = database
        self._limits = limits

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        used = GaugeMetricFamily("dockyard_quota_used_bytes", "Bytes of distinct blobs and "
                                 "manifests stored per namespace", labels=["namespace"])
        limit = GaugeMetricFamily("dockyard_quota_limit_bytes", "Quota of each namespace "
                                  "that has one", labels=["namespace"])
        usage = self._usage()
        for namespace, size in sorted(usage.items()):
            used.add_metric([namespace], size)
        if self._limits is not None:
            for namespace in sorted(set(usage) | set(self._limits.namespaces)):
                value = self._limits.limit_of_namespace(namespace)
                if value is not None:
                    limit.add_metric([namespace], value)
        yield used
        yield limit

    def _usage(self) -> dict[str, int]:
        try:
            with sqlite3.connect(f"file:{self._database}?mode=ro", uri=True, timeout=5) as conn:
                return dict(conn.execute("SELECT namespace, bytes FROM namespace_usage"))
        except sqlite3.Error as error:  # No database yet, or not migrated: no figures.
            log.warning("quota gauges: cannot read %s: %s", self._database, error)
            return {}


def register_quota_gauges(registry: Any, config: Any) -> None:
    """Add the quota gauges to a scrape registry (SQLite metadata only)."""
    url: str = config.metadata_url
    if url.startswith("sqlite:///"):
        registry.register(QuotaGauges(url.removeprefix("sqlite:///"),
                                      config.dockyard.quotas.limits()))
