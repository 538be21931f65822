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
from tests.helpers.http import upload_custom_model
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


async def test_the_documented_examples(http_server, rt, client, photos, running, lora_bytes):
    _, key = await accounts.create(rt, 100, "enterprise")
    await upload_custom_model(client, key, lora_bytes, "custom-owesa-avatars")
    swaps = {DOC_BASE: f"{http_server}/v1", DOC_KEY: key, DOC_PHOTOS: photos}
    auth, single, multiple, poll, upscale, custom, key_check = examples()
    # the first only shows the header: a GET on a POST route, refused in its envelope
    assert (await curl(auth, swaps))["status"] == "ERROR"
    created = [(await curl(example, swaps))["data"] for example in (single, multiple)]
    assert all(c["status"] in ("NOT_STARTED", "RUNNING") for c in created), created
    for job in created:
        data = await finish(poll, {**swaps, "/job/12345": f"/job/{job['id']}"})
        assert data["status"] == "COMPLETED" and data["prompt"] == job["prompt"]
        result = await asyncio.to_thread(_download, data["image_url"])
        assert images.sniff(result) == "png"
    upscaled = await curl(upscale, swaps)
    assert upscaled.get("data", {}).get("status") == "NOT_STARTED", upscaled
    styled = (await curl(custom, swaps))["data"]
    assert styled["prompt"].endswith("Transform into brand style")
    done = await finish(poll, {**swaps, "/job/12345": f"/job/{styled['id']}"})
    assert done["status"] == "COMPLETED"
    left = (await curl(key_check, swaps))["data"]
    # the upscale's 20 are held until it is done (no dispatcher runs it here); the custom
    # model costs its base model's price
    assert left == {"valid": True, "tokens_remaining": 100 - 8 - 3 - 20 - 2, "plan": "enterprise"}


async def finish(poll: str, swaps: dict[str, str]) -> dict:
    for _ in range(600):
        data = (await curl(poll, swaps))["data"]
        if data["status"] in ("COMPLETED", "ERROR"):
            return data
        await asyncio.sleep(0.1)
    raise AssertionError("the job did not finish")


def _download(url: str) -> bytes:
    import httpx

    return httpx.get(url).content
