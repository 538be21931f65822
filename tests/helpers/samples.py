"""Running a vendor's own sample client, unchanged but for its base URL and key."""

from __future__ import annotations

import asyncio
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


async def run(folder: Path, *command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode == 0, out.decode()
    return out.decode()


def prepare(tmp_path: Path, sample: str, photo_jpeg: bytes, swaps: dict[str, str]) -> Path:
    """A folder holding the sample with its documented base URL and key swapped for ours."""
    folder = tmp_path / "client"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(photo_jpeg)
    text = (FIXTURES / sample).read_text()
    for documented, ours in swaps.items():
        text = text.replace(documented, ours)
    (folder / sample).write_text(text)
    return folder
