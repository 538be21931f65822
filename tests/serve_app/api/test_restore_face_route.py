"""POST /v1/restore-face through the dispatcher with the real pipeline in-process
(dlib detection, random-weight GFPGAN fixture for the plumbing, real fast upscaler)."""

from __future__ import annotations

import pytest

from loadtest.photos import encode, photo
from serve_app.billing import accounts
from serve_app.engine import images
from serve_app.engine.dispatcher import Dispatcher
from tests.helpers.backends import LocalFaceBackend, LocalUpscaleBackend
from tests.helpers.dispatch import lanes
from tests.helpers.http import assert_error
from tests.helpers.runtime import money, wait_for


@pytest.fixture(scope="module")
def face_backend(weights_dir, gfpgan_fixture):
    return LocalFaceBackend(gfpgan_fixture, LocalUpscaleBackend(weights_dir))


async def test_restore_face_job_with_crops(face_rt, face_client, face_backend):
    account_id, key = await accounts.create(face_rt, 10, "enterprise")
    headers = {"x-key": key}
    backends = {"restore-face": face_backend, "upscale": face_backend.upscaler}
    dispatcher = Dispatcher(face_rt, lanes(backends), "faces")
    await dispatcher.start()
    try:
        response = await face_client.post(
            "/v1/restore-face",
            headers=headers,
            files={"image": ("a.png", encode(photo("astronaut", 256)))},
            data={"scale": "2", "fidelity": "0.8"},
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]

        async def done():
            body = (await face_client.get(f"/v1/jobs/{job_id}", headers=headers)).json()
            return body if body["status"] in ("done", "failed") else None

        body = await wait_for(done, timeout_s=120)
    finally:
        await dispatcher.stop()
    assert body["status"] == "done", body
    assert (body["width"], body["height"], body["countfaces"]) == (512, 512, 1)
    result = await face_client.get(body["result_url"].replace("http://testserver", ""))
    assert images.decode(result.content).rgb.shape == (512, 512, 3)
    crop = await face_client.get(body["face_urls"][0].replace("http://testserver", ""))
    assert crop.headers["content-type"] == "image/png"
    assert images.decode(crop.content).rgb.shape == (512, 512, 3)
    assert_error(
        await face_client.get(f"/v1/jobs/{job_id}/faces/1", headers=headers), 404, "job_not_found"
    )
    assert await money(face_rt, account_id) == (9, 0)


async def test_without_weights_it_is_503_before_credits_move(client, rt):
    account_id, key = await accounts.create(rt, 10, "enterprise")
    response = await client.post(
        "/v1/restore-face",
        headers={"x-key": key},
        files={"image": ("a.png", encode(photo("astronaut", 64)))},
    )
    assert_error(response, 503, "model_unavailable")
    assert await money(rt, account_id) == (10, 0)
