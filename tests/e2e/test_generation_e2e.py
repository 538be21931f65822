"""Generation through real Ray Serve: the Generator deployment on the tiny random FLUX.2
[klein] fixture (plumbing, not quality), 2K through the Upscaler's handle, two photos in one
edit, the seed reproduced, and ProductAI's flow on its integer job ids."""

from __future__ import annotations

import time

import httpx
import pytest

from loadtest.photos import encode, photo
from serve_app.engine import images
from tests.helpers.service import E2E_ADMIN_TOKEN, poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def key(service) -> str:
    response = httpx.post(
        f"{service['url']}/admin/accounts",
        headers={"Authorization": f"Bearer {E2E_ADMIN_TOKEN}"},
        json={"credits": 40, "plan": "enterprise"},
    )
    assert response.status_code == 201, response.text
    return response.json()["api_key"]


def result(service, key, response) -> tuple[dict, bytes]:
    assert response.status_code == 202, response.text
    body = poll(service, key, response.json()["job_id"], timeout_s=300)
    assert body["status"] == "done", body
    return body, httpx.get(body["result_url"]).content


def test_generate_at_2k_goes_through_the_upscaler_and_the_seed_reproduces(service, key):
    url = f"{service['url']}/v1/generate"
    ask = {"prompt": "a mug", "aspect_ratio": "4:3", "resolution": "2K", "seed": 11}
    body, data = result(service, key, httpx.post(url, headers={"x-key": key}, json=ask))
    assert images.decode(data).rgb.shape == (1229, 2048, 3)  # 80x48 at the fixture's size
    assert body["seed"] == 11 and body["cost"] == 2
    small = {**ask, "resolution": "1K"}
    first = result(service, key, httpx.post(url, headers={"x-key": key}, json=small))[1]
    again = result(service, key, httpx.post(url, headers={"x-key": key}, json=small))[1]
    assert first == again and images.decode(first).rgb.shape == (48, 80, 3)


def test_edit_takes_two_photos(service, key):
    files = {
        "image": ("a.png", encode(photo("coffee", 128)[:96])),
        "reference_image": ("b.png", encode(photo("astronaut", 96))),
    }
    response = httpx.post(
        f"{service['url']}/v1/edit",
        headers={"x-key": key},
        files=files,
        data={"prompt": "the astronaut holds the cup"},
        timeout=60,
    )
    body, data = result(service, key, response)
    assert images.decode(data).rgb.shape == (48, 80, 3) and isinstance(body["seed"], int)


def test_productai_text_to_image_on_its_integer_ids(service, key):
    api = f"{service['url']}/v1/api"
    headers = {"x-api-key": key}
    made = httpx.post(
        f"{api}/generate", headers=headers, json={"prompt": "a teapot", "model": "seedream"}
    )
    assert made.status_code == 200, made.text
    job_id = made.json()["data"]["id"]
    deadline = time.monotonic() + 300
    while (data := httpx.get(f"{api}/job/{job_id}", headers=headers).json()["data"])[
        "status"
    ] not in ("COMPLETED", "ERROR"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert data["status"] == "COMPLETED" and data["prompt"] == "a teapot"
    assert images.sniff(httpx.get(data["image_url"]).content) == "png"
    left = httpx.get(f"{api}/key-check", headers=headers).json()["data"]["tokens_remaining"]
    assert left < 40


def test_a_hair_task_runs_through_the_face_analyzer_and_the_generator(service, key):
    from loadtest.photos import grace_hopper

    portrait = grace_hopper()
    if portrait is None:
        pytest.skip("matplotlib's sample portrait is not installed")
    url = f"{service['url']}/v1/hair-style"
    fields = {"style_group_id": "3001", "style_id": "4001"}
    sent = httpx.post(
        url, headers={"x-key": key}, files={"image": ("p.png", encode(portrait))}, data=fields
    )
    _, data = result(service, key, sent)
    styled = images.decode(data).rgb
    assert styled.shape == portrait.shape and (styled != portrait).any()
    assert (styled == portrait).all(axis=2).mean() > 0.3  # outside the hair: the input's
    refused = httpx.post(
        url,
        headers={"x-key": key},
        files={"image": ("c.png", encode(photo("coffee")))},
        data=fields,
    )
    failed = poll(service, key, refused.json()["job_id"], timeout_s=120)
    assert failed["status"] == "failed" and failed["error"]["code"] == "error_no_face", failed
