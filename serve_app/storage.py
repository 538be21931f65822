"""Blob store for inputs and results: a local folder by default (images never go to Redis).

Writes go to a temporary file first and are renamed into place, so a reader never sees half
an image and a crash leaves no truncated result behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$")


class BlobNotFound(KeyError):
    pass


class LocalBlobStore:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key) or ".." in key:
            raise ValueError(f"unsafe blob key {key!r}")
        return self.root / key

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

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

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

    async def expire(self, prefix: str, older_than: float) -> int:
        """Delete the objects under `prefix` last written before `older_than` (epoch s)."""
        return await asyncio.to_thread(self._expire, prefix, older_than)
