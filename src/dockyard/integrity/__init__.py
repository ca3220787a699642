"""Integrity of stored bytes: scrubbing, and the quarantine corrupt blobs are moved to."""
