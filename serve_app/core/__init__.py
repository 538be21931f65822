"""What every layer is built on: settings and configuration (models.yaml, plans.yaml), Redis and
blob keys, the Lua scripts, the blob store, the error catalog, logs, metrics and the runtime."""
