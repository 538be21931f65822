"""Typed settings, read from the environment (prefix PHOTOSERVE_; a few bare names kept for
convenience: REDIS_URL, HOST, PORT)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"


RETENTION, LONG = "retention", "long"  # a job param: its result is kept long_result_ttl_s


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"PHOTOSERVE_{name}", name)


def _names(value: Any) -> Any:
    """A comma-separated list from the environment."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PHOTOSERVE_", extra="ignore", populate_by_name=True
    )

    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=_env("REDIS_URL"))
    redis_prefix: str = "ps:"
    redis_max_connections: int = 200
    host: str = Field("127.0.0.1", validation_alias=_env("HOST"))
    port: int = Field(8000, validation_alias=_env("PORT"))
    public_base_url: str | None = None

    data_dir: Path = Path(".photoserve")
    blob_dir: Path | None = None
    blob_url: str | None = None  # s3://bucket/prefix?endpoint=...&region=... (clusters)
    weights_dir: Path | None = None
    models_file: Path = CONFIGS / "models.yaml"
    user_models_file: Path | None = Field(None, validation_alias=AliasChoices("PHOTOSERVE_MODELS"))
    plans_file: Path = CONFIGS / "plans.yaml"
    styles_dir: Path = CONFIGS / "styles"  # style catalogs, one <task>.yaml each

    # required outside `photoserve run` (which generates them): check_secrets()
    admin_token: str | None = None
    key_secret: str = ""  # API keys are stored as HMAC-SHA256 with it
    url_secret: str = ""  # signs result URLs

    max_image_bytes: int = 10 * 1024 * 1024
    max_upscale_edge: int = 2048
    # editing keeps the input's size; erase crops around the mask, so 4K photos are fine
    max_edit_edge: int = 4096
    max_output_edge: int = 8192
    # memory one job may take in a model replica, beyond its baseline (MB; None: no limit).
    # `photoserve run` sets 1400: with a ~600 MB baseline no job takes a replica over 2 GB
    job_memory_mb: int | None = None
    input_ttl_s: int = 24 * 3600
    result_ttl_s: int = Field(7 * 24 * 3600, validation_alias=_env("RESULT_TTL"))
    # results of jobs whose surface promises more (Perfect Corp: 30 days; job param
    # `retention: long`), and their job records with them
    long_result_ttl_s: int = Field(30 * 24 * 3600, validation_alias=_env("LONG_RESULT_TTL"))
    signed_url_ttl_s: int = 24 * 3600
    max_wait_s: float = 60.0
    # a custom model (LoRA) upload: rank-64 LoRAs of the 4B generator are ~160 MB in bf16
    max_lora_bytes: int = 512 * 1024 * 1024
    url_fetch_timeout_s: float = 10.0
    url_max_redirects: int = 3
    allow_private_urls: bool = False
    # browser clients on other origins: comma-separated origins, or * (none by default)
    cors_origins: str = ""
    # proxies in front that append the caller to X-Forwarded-For (0: believe no header; the
    # per-IP limits count the connection's peer)
    trusted_proxy_hops: int = Field(0, ge=0, le=5)

    # operation modules kept outside this repository (import paths), each declaring OPERATION
    extra_operations: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_names)] = ()

    dispatch_enabled: bool = True
    dispatch_block_ms: int = 1000
    dispatch_concurrency: int = 4  # per operation, unless the Dispatcher's user_config says
    # decoded photos the dispatcher keeps for jobs that send the same file again (0: none)
    recent_images_mb: int = Field(64, ge=0)
    log_format: str = "json"  # json | text
    log_level: str = "INFO"
    # a pending entry idle this long belongs to a dead consumer and is claimed again
    claim_idle_s: float = Field(60.0, gt=0)
    reclaim_interval_s: float = Field(5.0, gt=0)
    max_deliveries: int = 3
    # seconds a job may spend processing, per operation (overrides each operation's own)
    deadlines: dict[str, float] = {}
    shutdown_grace_s: float = 20.0
    sweep_interval_s: float = 300.0

    webhook_timeout_s: float = 5.0
    # delays before each retry: 5 attempts over about an hour
    webhook_backoff_s: tuple[float, ...] = (30.0, 120.0, 600.0, 2700.0)
    webhook_log_size: int = 100

    @property
    def job_ttl_s(self) -> int:
        # a job record outlives its result a little, so "expired" is reported precisely
        return self.result_ttl_s + 3600

    def result_ttl_for(self, params: dict[str, Any]) -> int:
        """How long a job with these params keeps its result."""
        return self.long_result_ttl_s if params.get(RETENTION) == LONG else self.result_ttl_s

    def job_ttl_for(self, params: dict[str, Any]) -> int:
        return self.result_ttl_for(params) + 3600

    @property
    def blobs(self) -> Path:
        return (self.blob_dir or self.data_dir / "blobs").resolve()

    @property
    def weights(self) -> Path:
        return (self.weights_dir or self.data_dir / "weights").resolve()


SECRETS = {  # setting -> (its variable, the fewest characters it may have)
    "key_secret": ("PHOTOSERVE_KEY_SECRET", 32),
    "url_secret": ("PHOTOSERVE_URL_SECRET", 32),
    "admin_token": ("PHOTOSERVE_ADMIN_TOKEN", 24),
}
# what docs, samples and earlier versions used: never a secret
WELL_KNOWN = {"change-me", "change-me-too", "changeme", "secret", "admin", "password", "test"}
GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class InsecureSettings(RuntimeError):
    """The service refuses to start: each line names a variable and what is wrong with it."""


def secret_problems(settings: Settings) -> list[str]:
    problems = []
    for field, (variable, shortest) in SECRETS.items():
        value = getattr(settings, field) or ""
        if not value:
            problems.append(f"{variable} is not set")
        elif value.lower() in WELL_KNOWN:
            problems.append(f"{variable} is a well-known default value")
        elif len(value) < shortest:
            problems.append(f"{variable} is {len(value)} characters; at least {shortest}")
    return problems


def check_secrets(settings: Settings) -> None:
    """Fail closed: no service runs on a default, missing or short secret."""
    problems = secret_problems(settings)
    if problems:
        raise InsecureSettings(
            "refusing to start: " + "; ".join(problems) + f" (make one with: {GENERATE})"
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
