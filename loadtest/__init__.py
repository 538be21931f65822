"""Load tests and benchmark scripts (run as `python -m loadtest.<name>`)."""
