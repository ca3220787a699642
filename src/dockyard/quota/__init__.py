"""Per-namespace storage quotas: limits, running usage kept by SQL triggers, reconciliation."""
