"""Every operation through its SDK method against the real app with every model's test
fixture listed: each is accepted as the operation it names, with the parameters the method
was given and the photos it sent."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from loadtest.photos import encode, photo
from photoserve import AsyncClient
from serve_app import operations
from serve_app.engine import jobs
from serve_app.ingress import create_app
from tests.helpers.runtime import make_settings

PHOTO = encode(photo("astronaut", 96))
MASK = np.zeros((96, 96), np.uint8)
MASK[30:60, 30:60] = 255
EXTRA = {
    "generate": {"prompt": "a red bicycle"},
    "edit": {"prompt": "make the sky green"},
    "inpaint": {"mask": encode(MASK), "prompt": "a potted plant"},
    "erase-object": {"mask": encode(MASK)},
    "segment": {"points": "[[40, 40, 1]]"},
    "makeup-transfer": {"reference_image": PHOTO},
    "aging": {"age_group": "senior"},
    "upscale": {"scale": 4},
    "restore-face": {"fidelity": 0.5},
    "enhance": {"strength": 0.5},
    "remove-background": {"only_mask": True},
}


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir, edit_models):
    return make_settings(redis_server, tmp_path, weights_dir, user_models_file=edit_models)


async def first_style(client: AsyncClient, task: str) -> dict:
    catalog = (await client.http.get(f"/v1/styles/{task}")).json()
    group = catalog["groups"][0]
    return {"style_group_id": group["id"], "style_id": group["styles"][0]["id"]}


async def arguments(client: AsyncClient, op) -> dict:
    given = {"image": PHOTO} if op.takes_image else {}
    given.update(EXTRA.get(op.name, {}))
    if "style_id" in op.params.model_json_schema()["properties"]:
        given.update(await first_style(client, op.name))
    return given


@pytest.mark.parametrize("name", sorted(op.name for op in operations.all_operations()))
async def test_every_operation_is_accepted_through_its_method(rt, account, name):
    op = operations.get(name)
    transport = httpx.ASGITransport(app=create_app(rt), raise_app_exceptions=False)
    async with AsyncClient("http://testserver", account[1], transport=transport) as client:
        given = await arguments(client, op)
        method = getattr(client, name.replace("-", "_"))
        job = await method(wait=0, **given)
    assert job.status == "queued" and job.cost >= 0
    stored = await jobs.load(rt, job.id)
    assert stored.operation == name
    for key, value in given.items():
        if key == "mask":
            assert stored.params.get("mask_key")
        elif key == "reference_image":
            assert stored.params.get("reference_key")
        elif key not in ("image", "points"):
            assert str(stored.params.get(key)).lower() == str(value).lower(), key
    if op.takes_image:
        assert await rt.blobs.get(stored.input_key) == PHOTO
