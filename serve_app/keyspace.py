"""Redis key names, all under one prefix (see DESIGN.md, "Redis data model")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeySpace:
    prefix: str = "ps:"

    def account(self, account_id: str) -> str:
        return f"{self.prefix}account:{account_id}"

    def api_key(self, key_hash: str) -> str:
        return f"{self.prefix}key:{key_hash}"

    def credits(self, account_id: str) -> str:
        return f"{self.prefix}credits:{account_id}"

    def hold(self, job_id: str) -> str:
        return f"{self.prefix}hold:{job_id}"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def jobs(self, account_id: str) -> str:
        return f"{self.prefix}jobs:{account_id}"

    def stream(self, operation: str) -> str:
        return f"{self.prefix}stream:{operation}"

    @property
    def group(self) -> str:
        return "dispatch"
