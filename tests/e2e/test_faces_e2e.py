"""Face restoration through real Serve: FaceRestorer (dlib + GFPGAN fixture) composed with the
Upscaler through its handle, natively and through PND's v2 API."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from loadtest.photos import encode, photo
from serve_app.engine import images
from tests.helpers.service import poll, submit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_models_list_the_face_restorer(service):
    models = {m["name"]: m for m in httpx.get(f"{service['url']}/v1/models").json()["models"]}
    assert models["gfpgan-v1.4"]["loaded"] is True
    assert models["dlib-face-landmarks-68"]["loaded"] is True


def test_restore_face_with_upscaled_background(service, key):
    job_id = submit(service, key, photo("astronaut", 64), scale="2")
    response = httpx.post(
        f"{service['url']}/v1/restore-face",
        headers={"x-key": key},
        files={"image": ("a.png", encode(photo("astronaut", 256)))},
        data={"scale": "2", "fidelity": "0.9"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    body = poll(service, key, response.json()["job_id"])
    assert body["status"] == "done", body
    assert (body["width"], body["countfaces"]) == (512, 1)
    crop = httpx.get(body["face_urls"][0])
    assert images.decode(crop.content).rgb.shape == (512, 512, 3)
    assert poll(service, key, job_id)["status"] == "done"  # the plain upscale beside it


def test_pnd_v2_through_serve(service, key):
    image = base64.b64encode(encode(photo("astronaut", 256), "JPEG")).decode()
    headers = {"x-key": key}
    job = httpx.post(
        f"{service['url']}/api/uploadv2/",
        headers=headers,
        json={"image_base64": image, "size": "HD", "model": 3},
        timeout=30,
    ).json()
    assert job["endpoint"] == "v2" and job["cost"] == 1
    for _ in range(600):
        status = httpx.get(
            f"{service['url']}/api/status/", headers=headers, params={"job_id": job["job_id"]}
        ).json()
        if status["status"] in ("done", "error"):
            break
        time.sleep(0.1)
    assert status["status"] == "done" and status["countfaces"] == 1, status
    result = httpx.get(status["result_url"], headers=headers)
    assert result.headers["content-type"] == "image/jpeg"
    assert images.decode(result.content).rgb.shape == (1280, 1280, 3)
