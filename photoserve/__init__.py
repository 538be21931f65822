"""Client-side helpers for photoserve users (no server dependencies): `photoserve.webhooks`."""
