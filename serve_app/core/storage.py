"""Blob store for inputs and results (images never go to Redis).

`LocalBlobStore` (a folder; the default, and what `make run` uses) and `S3BlobStore` (any
S3-compatible service, `PHOTOSERVE_BLOB_URL=s3://bucket/prefix`) for clusters, where the
ingress and the dispatcher run on different machines. Local writes go to a temporary file
renamed into place, so a reader never sees half an image.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$")


class BlobNotFound(KeyError):
    pass


@dataclass(frozen=True)
class BlobStat:
    size: int
    modified: float  # epoch seconds


def check_key(key: str) -> str:
    if not _SAFE_KEY.match(key) or ".." in key:
        raise ValueError(f"unsafe blob key {key!r}")
    return key


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None: ...
    async def stat(self, key: str) -> BlobStat | None: ...
    async def expire(self, prefix: str, older_than: float) -> int: ...
    def local_path(self, key: str) -> Path | None: ...


class LocalBlobStore:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    def _write(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def _stat(self, key: str) -> BlobStat | None:
        try:
            found = self.path(key).stat()
        except FileNotFoundError:
            return None
        return BlobStat(found.st_size, found.st_mtime)

    def _expire(self, prefix: str, older_than: float) -> int:
        folder = self.path(prefix)
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_mtime < older_than:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, True)

    async def stat(self, key: str) -> BlobStat | None:
        return await asyncio.to_thread(self._stat, key)

    async def expire(self, prefix: str, older_than: float) -> int:
        """Delete the objects under `prefix` last written before `older_than` (epoch s)."""
        return await asyncio.to_thread(self._expire, prefix, older_than)


class S3BlobStore:
    """s3://bucket/prefix[?endpoint=http://host:9000&region=eu-west-1]; credentials the
    usual AWS way (environment, instance role). Expiry also works server-side with a bucket
    lifecycle rule on `inputs/` and `results/`; `expire` covers stores without one."""

    def __init__(self, url: str):
        import boto3

        parts = urlsplit(url)
        options = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.client = boto3.client(
            "s3", endpoint_url=options.get("endpoint"), region_name=options.get("region")
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)

    def local_path(self, key: str) -> Path | None:
        return None

    def _get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise BlobNotFound(key) from exc

    def _stat(self, key: str) -> BlobStat | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return BlobStat(head["ContentLength"], head["LastModified"].timestamp())

    def _expire(self, prefix: str, older_than: float) -> int:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix) + "/"
        )
        old = [
            {"Key": item["Key"]}
            for page in pages
            for item in page.get("Contents", [])
            if item["LastModified"].timestamp() < older_than
        ]
        for start in range(0, len(old), 1000):
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": old[start : start + 1000]}
            )
        return len(old)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(
            self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data
        )

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def stat(self, key: str) -> BlobStat | None:
        return await asyncio.to_thread(self._stat, key)

    async def expire(self, prefix: str, older_than: float) -> int:
        return await asyncio.to_thread(self._expire, prefix, older_than)


def open_store(blob_url: str | None, local_root: Path) -> BlobStore:
    if not blob_url:
        return LocalBlobStore(local_root)
    if blob_url.startswith("s3://"):
        return S3BlobStore(blob_url)
    if blob_url.startswith("file://"):
        return LocalBlobStore(Path(blob_url[len("file://") :]))
    raise ValueError(f"unsupported PHOTOSERVE_BLOB_URL {blob_url!r} (s3:// or file://)")
