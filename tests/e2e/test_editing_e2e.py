"""One job per editing operation through real Ray Serve: each model in its own deployment,
loaded from a random-weight fixture of its real architecture (plumbing, not quality), the
Segmenter composed with the Eraser through handles, its embedding cache shared by both."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from loadtest.photos import encode, photo
from serve_app.engine import images
from tests.helpers.service import poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHOTO = photo("coffee", 160)[:120]  # 160x120


def post(service, key, operation, files=None, data=None, params=None) -> httpx.Response:
    files = {"image": ("a.png", encode(PHOTO)), **(files or {})}
    return httpx.post(
        f"{service['url']}/v1/{operation}",
        headers={"x-key": key},
        files=files,
        data=data or {},
        params=params,
        timeout=120,
    )


def finished(service, key, response) -> tuple[dict, np.ndarray, np.ndarray | None]:
    assert response.status_code == 202, response.text
    body = poll(service, key, response.json()["job_id"], timeout_s=300)
    assert body["status"] == "done", body
    data = httpx.get(body["result_url"]).content
    decoded = images.decode(data)
    return body, decoded.rgb, decoded.alpha


def test_models_list_every_editing_model_loaded(service):
    models = {m["name"]: m for m in httpx.get(f"{service['url']}/v1/models").json()["models"]}
    for name in (
        "u2net",
        "sam-vit-b",
        "big-lama",
        "sd-inpainting",
        "ddcolor-modelscope",
        "flux2-klein-4b",
    ):
        assert models[name]["available"] and models[name]["loaded"], models[name]


def test_remove_background_gives_rgba_of_the_same_size(service, key):
    body, rgb, alpha = finished(service, key, post(service, key, "remove-background"))
    assert rgb.shape == PHOTO.shape and alpha is not None and alpha.shape == PHOTO.shape[:2]
    assert body["cost"] == 1


def test_colorize_keeps_the_size_and_the_lightness(service, key):
    import cv2

    body, rgb, _ = finished(service, key, post(service, key, "colorize"))
    assert rgb.shape == PHOTO.shape and body["cost"] == 1
    lightness = [
        cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[..., 0] for x in (rgb, PHOTO)
    ]
    assert np.abs(lightness[0] - lightness[1]).max() * 2.55 <= 1.0


def test_segment_then_erase_by_click_costs_one_encoder_pass(service, key, handles):
    clicks = {"points": "[[80, 60, 1]]"}
    # the first click pays for the encoder (tens of seconds here): wait up to the limit
    first = post(service, key, "segment", data={"points": "[[20, 20, 1]]"}, params={"wait": 60})
    assert first.status_code in (200, 202), first.text
    assert poll(service, key, first.json()["job_id"])["status"] == "done"
    response = post(service, key, "segment", data=clicks)  # no wait given: synchronous
    assert response.status_code == 200, response.text
    mask_body = response.json()
    mask = images.decode(httpx.get(mask_body["result_url"]).content).rgb[..., 0]
    assert mask.shape == PHOTO.shape[:2] and set(np.unique(mask)) <= {0, 255}
    assert mask_body["cost"] == 0
    if mask.any():
        _, erased, _ = finished(service, key, post(service, key, "erase-object", data=clicks))
        assert erased.shape == PHOTO.shape
    else:  # random weights selected nothing: the job must fail cleanly and cost nothing
        body = poll(service, key, post(service, key, "erase-object", data=clicks).json()["job_id"])
        assert body["status"] == "failed" and body["error"]["code"] == "empty_mask"
    status = handles("Segmenter").status.remote().result()
    assert status["encoder_passes"] == 1


def test_erase_with_a_mask_leaves_the_rest_of_the_photo_alone(service, key):
    mask = np.zeros(PHOTO.shape[:2], np.uint8)
    mask[40:70, 60:100] = 255
    body, erased, _ = finished(
        service, key, post(service, key, "erase-object", files={"mask": ("m.png", encode(mask))})
    )
    far = np.ones_like(mask, bool)
    far[40 - 16 : 70 + 16, 60 - 16 : 100 + 16] = False
    assert np.array_equal(erased[far], PHOTO[far])
    assert not np.array_equal(erased[40:70, 60:100], PHOTO[40:70, 60:100])
    # erase -> upscale: two calls, one upload (the erased result is the upscale's input)
    chained = httpx.post(
        f"{service['url']}/v1/upscale",
        headers={"x-key": key},
        json={"from_job": body["job_id"], "scale": 2},
        timeout=120,
    )
    assert chained.status_code == 202, chained.text
    upscaled = poll(service, key, chained.json()["job_id"])
    assert upscaled["status"] == "done" and (upscaled["width"], upscaled["height"]) == (320, 240)


def test_inpaint_reports_its_seed_and_is_reproducible(service, key):
    mask = np.zeros(PHOTO.shape[:2], np.uint8)
    mask[30:90, 50:110] = 255
    files = {"mask": ("m.png", encode(mask))}
    data = {"prompt": "a red ball", "steps": "4", "strength": "1", "seed": "11"}
    body, first, _ = finished(service, key, post(service, key, "inpaint", files, data))
    assert body["seed"] == 11 and body["cost"] == 2
    _, second, _ = finished(service, key, post(service, key, "inpaint", files, data))
    assert np.array_equal(first, second)


def test_enhance_through_pixelforge_surface(service, key):
    response = httpx.post(
        f"{service['url']}/api/v1/enhance",
        headers={"Authorization": f"Bearer {key}"},
        files={"image": ("a.jpg", encode(PHOTO, "JPEG"))},
        data={"denoise": "true"},
        timeout=60,
    )
    _, rgb, _ = finished(service, key, response)
    assert rgb.shape == PHOTO.shape
