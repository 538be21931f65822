"""Webhooks: where an account's job.done / job.failed events go, and their delivery (each
registration's style renders them)."""
