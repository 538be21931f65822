"""ProductAI's curl examples (tests/fixtures/productai_examples.sh, verbatim from its API
reference) run with curl against the API over real HTTP, with only the host, the key, the
image URLs (served from loopback) and the job id swapped."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from serve_app.billing import accounts
from serve_app.engine import images
from tests.helpers.samples import FIXTURES

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
DOC_BASE = "https://api.productai.photo/v1"
DOC_KEY = "YOUR_API_KEY"
DOC_PHOTOS = "https://example.com"


def examples() -> list[str]:
    text = (FIXTURES / "productai_examples.sh").read_text()
    return [block.strip() for block in text.split("# ---\n")[1:]]


async def curl(command: str, swaps: dict[str, str]) -> dict:
    for documented, ours in swaps.items():
        command = command.replace(documented, ours)
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", command.replace("curl ", "curl -s ", 1), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    return json.loads(out)


async def test_the_documented_examples(http_server, rt, photos, running):
    _, key = await accounts.create(rt, 100, "enterprise")
    swaps = {DOC_BASE: f"{http_server}/v1", DOC_KEY: key, DOC_PHOTOS: photos}
    auth, single, multiple, poll, upscale, custom, key_check = examples()
    # the first only shows the header: a GET on a POST route, refused in its envelope
    assert (await curl(auth, swaps))["status"] == "ERROR"
    created = [(await curl(example, swaps))["data"] for example in (single, multiple)]
    assert all(c["status"] in ("NOT_STARTED", "RUNNING") for c in created), created
    for job in created:
        with_id = {**swaps, "/job/12345": f"/job/{job['id']}"}
        for _ in range(600):
            data = (await curl(poll, with_id))["data"]
            if data["status"] == "COMPLETED":
                break
            await asyncio.sleep(0.1)
        assert data["status"] == "COMPLETED" and data["prompt"] == job["prompt"]
        result = await asyncio.to_thread(_download, data["image_url"])
        assert images.sniff(result) == "png"
    upscaled = await curl(upscale, swaps)
    assert upscaled.get("data", {}).get("status") == "NOT_STARTED", upscaled
    assert (await curl(custom, swaps))["code"] == "INVALID_MODEL"
    left = (await curl(key_check, swaps))["data"]
    # the upscale's 20 are held until it is done (no dispatcher runs it here)
    assert left == {"valid": True, "tokens_remaining": 100 - 8 - 3 - 20, "plan": "enterprise"}


def _download(url: str) -> bytes:
    import httpx

    return httpx.get(url).content
