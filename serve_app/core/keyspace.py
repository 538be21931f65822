"""Where things are kept: Redis key names, all under one prefix (see DESIGN.md, "Redis data
model"), and blob store keys (images never go to Redis)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeySpace:
    prefix: str = "ps:"

    def account(self, account_id: str) -> str:
        return f"{self.prefix}account:{account_id}"

    @property
    def accounts(self) -> str:
        return f"{self.prefix}accounts"

    def api_key(self, key_hash: str) -> str:
        return f"{self.prefix}key:{key_hash}"

    def credits(self, account_id: str) -> str:
        return f"{self.prefix}credits:{account_id}"

    def grants(self, account_id: str) -> str:
        return f"{self.prefix}grants:{account_id}"

    def grant_balances(self, account_id: str) -> str:
        return f"{self.prefix}grantbal:{account_id}"

    def ledger(self, account_id: str) -> str:
        return f"{self.prefix}ledger:{account_id}"

    def credit_keys(self, account_id: str) -> list[str]:
        """C, G, B, L as the credit scripts expect them."""
        return [
            self.credits(account_id),
            self.grants(account_id),
            self.grant_balances(account_id),
            self.ledger(account_id),
        ]

    def hold(self, job_id: str) -> str:
        return f"{self.prefix}hold:{job_id}"

    def in_flight(self, account_id: str) -> str:
        """zset: the account's queued and running jobs, scored by submit time (ms)."""
        return f"{self.prefix}inflight:{account_id}"

    def custom_models(self, owner: str) -> str:
        """name -> record of an account's custom models (owner "" = published to all)."""
        return f"{self.prefix}custom:{owner or '*'}"

    def sequence(self, name: str) -> str:
        """A counter: a vendor's integer job ids (ProductAI)."""
        return f"{self.prefix}seq:{name}"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def jobs(self, account_id: str) -> str:
        return f"{self.prefix}jobs:{account_id}"

    def stats(self, account_id: str, day: str) -> str:
        return f"{self.prefix}stats:{account_id}:{day}"

    def stream(self, operation: str) -> str:
        return f"{self.prefix}stream:{operation}"

    def depth(self, operation: str) -> str:
        """How many jobs of this operation wait to start."""
        return f"{self.prefix}depth:{operation}"

    @property
    def account_events(self) -> str:
        """Pub/sub channel: ids of accounts whose key, lock or plan just changed."""
        return f"{self.prefix}events:accounts"

    @property
    def job_events(self) -> str:
        """Pub/sub channel: the id of every job that just finished."""
        return f"{self.prefix}events:jobs"

    @property
    def metrics(self) -> str:
        """Counters and histogram buckets behind /metrics, shared by every process."""
        return f"{self.prefix}metrics"

    @property
    def timings(self) -> str:
        return f"{self.prefix}timings"

    @property
    def webhooks(self) -> str:
        """Outbox stream of webhook events, written by the job scripts."""
        return f"{self.prefix}stream:webhooks"

    @property
    def webhook_retries(self) -> str:
        return f"{self.prefix}webhook:retries"

    def webhook_log(self, account_id: str) -> str:
        return f"{self.prefix}webhook:log:{account_id}"

    def idempotency(self, account_id: str, key: str) -> str:
        return f"{self.prefix}idem:{account_id}:{key}"

    def rate(self, subject: str, rate_class: str) -> str:
        return f"{self.prefix}rl:{subject}:{rate_class}"

    def client(self, client_id: str) -> str:
        """Client credentials (Perfect's client/auth): the account and its RSA private key."""
        return f"{self.prefix}client:{client_id}"

    def clients(self, account_id: str) -> str:
        return f"{self.prefix}clients:{account_id}"

    def client_tokens(self, client_id: str) -> str:
        """The access tokens (their digests) issued to one client, killed with it."""
        return f"{self.prefix}client:tokens:{client_id}"

    def id_token(self, digest: str) -> str:
        """An id_token already exchanged: refused the second time."""
        return f"{self.prefix}idtoken:{digest}"

    def access_token(self, digest: str) -> str:
        return f"{self.prefix}access:{digest}"

    @property
    def group(self) -> str:
        return "dispatch"


class Blobs:
    """Blob store keys of a job's images. Retention sweeps `INPUTS`, `RESULTS` and `KEPT` (the
    results of jobs kept longer) by age."""

    INPUTS = "inputs"
    RESULTS = "results"
    KEPT = "kept"

    @staticmethod
    def input(job_id: str, fmt: str) -> str:
        return f"inputs/{job_id}.{fmt}"

    @staticmethod
    def mask(job_id: str) -> str:
        """The checked, binary mask uploaded with an erase or inpaint job."""
        return f"inputs/{job_id}.mask.png"

    @staticmethod
    def reference(job_id: str, fmt: str) -> str:
        """The second photo of an edit (`reference_image`)."""
        return f"inputs/{job_id}.reference.{fmt}"

    @staticmethod
    def custom_model(owner: str, name: str) -> str:
        """A custom model's weights (kept until deleted: outside the swept prefixes)."""
        return f"models/{owner or 'public'}/{name}.safetensors"

    @staticmethod
    def result(job_id: str, fmt: str, kept: bool = False) -> str:
        return f"{Blobs.KEPT if kept else Blobs.RESULTS}/{job_id}.{fmt}"

    @staticmethod
    def face(job_id: str, index: int) -> str:
        """An extra result: the index-th restored face, 512x512 PNG."""
        return f"results/{job_id}.face{index}.png"

    @staticmethod
    def variant(job_id: str, quality: int, fmt: str) -> str:
        """The result converted on download (`?format=&quality=`), kept for the next one."""
        return f"results/{job_id}.q{quality}.{fmt}"
