"""Money and access: accounts, API keys, credit buckets and their ledger, rate limits,
idempotency, usage statistics."""
