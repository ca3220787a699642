"""Online garbage collection: a review queue filled by writers, drained by a collector."""
