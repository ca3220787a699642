"""Retention: policies that delete tags nobody needs, and cleanup of old untagged manifests.

Evaluation (:mod:`.policy`, :mod:`.untagged`) is pure: a snapshot of one repository and the
settings in, verdicts out, so a dry run lists exactly what the real run deletes. The runner
(:mod:`.runner`) reads snapshots, applies verdicts through the metadata store and records the
run (:mod:`.runs`); :mod:`.background` schedules runs and flushes pull times inside the server.
"""
