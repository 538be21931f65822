"""The editing routes at the gateway: parameters, masks and clicks checked before any credit
moves, 503 without weights, flat prices, and PixelForge's status table under /api/v1."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from loadtest.photos import encode, photo
from serve_app.billing import accounts, ledger
from serve_app.core.runtime import Runtime
from serve_app.engine import images, jobs
from serve_app.engine.dispatcher import Dispatcher
from tests.helpers.backends import LocalEnhanceBackend, LocalUpscaleBackend
from tests.helpers.dispatch import lanes
from tests.helpers.http import app_client, assert_error
from tests.helpers.runtime import make_settings, money, wait_for

EDIT_MODELS = {
    "u2net": "remove-background",
    "sam-vit-b": "segment",
    "big-lama": "erase-object",
    "sd-inpainting": "inpaint",
    "ddcolor-modelscope": "colorize",
}


@pytest.fixture(scope="module")
def placeholder_models(tmp_path_factory):
    """A user models file whose weights files exist but hold nothing: the gateway only checks
    that weights are on disk; no job runs against these in this module."""
    folder = tmp_path_factory.mktemp("placeholders")
    lines = ["models:"]
    for name in EDIT_MODELS:
        (folder / name).write_bytes(b"")
        lines += [f"  {name}:", f"    file: {folder / name}"]
    path = folder / "models.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
async def edit_rt(redis_server, tmp_path, weights_dir, placeholder_models):
    settings = make_settings(
        redis_server, tmp_path, weights_dir, user_models_file=placeholder_models
    )
    rt = Runtime.create(settings)
    yield rt
    await rt.close()


@pytest.fixture
async def edit_client(edit_rt):
    async with app_client(edit_rt) as http:
        yield http


@pytest.fixture
async def customer(edit_rt):
    account_id, key = await accounts.create(edit_rt, 10, "enterprise")
    return account_id, {"Authorization": f"Bearer {key}"}


PHOTO = encode(photo("coffee", 96)[:64])  # 96x64


def mask_png(width=96, height=64, box=(10, 10, 40, 30)) -> bytes:
    mask = np.zeros((height, width), np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 255
    return encode(mask)


@pytest.mark.parametrize("operation", list(EDIT_MODELS.values()))
async def test_without_weights_each_operation_is_503_and_free(client, rt, operation):
    account_id, key = await accounts.create(rt, 10, "enterprise")
    response = await client.post(
        f"/v1/{operation}",
        headers={"x-key": key},
        files={"image": ("a.png", PHOTO), "mask": ("m.png", mask_png())},
        data={"points": "[[5, 5, 1]]"},
    )
    body = assert_error(response, 503, "model_unavailable")
    assert "photoserve weights fetch" in body["detail"]
    assert await money(rt, account_id) == (10, 0)


@pytest.mark.parametrize(
    ("operation", "cost"),
    [
        ("remove-background", 1),
        ("erase-object", 1),
        ("inpaint", 2),
        ("enhance", 1),
        ("colorize", 1),
    ],
)
async def test_flat_prices(edit_client, edit_rt, customer, operation, cost):
    account_id, headers = customer
    response = await edit_client.post(
        f"/v1/{operation}",
        headers=headers,
        files={"image": ("a.png", PHOTO), "mask": ("m.png", mask_png())},
    )
    assert response.status_code == 202, response.text
    assert response.json()["cost"] == cost
    assert await money(edit_rt, account_id) == (10 - cost, cost)


async def test_segment_is_free_and_its_job_settles_at_zero(edit_rt, edit_client, customer):
    account_id, headers = customer
    response = await edit_client.post(
        "/v1/segment?wait=0",  # answers 202 at once instead of waiting for the mask
        headers=headers,
        files={"image": ("a.png", PHOTO)},
        data={"points": "[[20, 20, 1]]", "box": "[0, 0, 50, 40]"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["cost"] == 0
    job = await jobs.load(edit_rt, response.json()["job_id"])
    params = job.params
    assert params["points"] == [[20, 20, 1]] and params["box"] == [0, 0, 50, 40]
    assert await money(edit_rt, account_id) == (10, 0)
    state, started = await jobs.start(edit_rt, job.job_id, "segment")
    assert state == 1
    assert await jobs.complete(edit_rt, started, result_key="results/x.png")
    assert await money(edit_rt, account_id) == (10, 0)
    again = await edit_client.post(
        "/v1/segment?wait=0",
        headers=headers,
        files={"image": ("a.png", PHOTO)},
        data={"box": "[0,0,9,9]"},
    )
    assert await jobs.fail(edit_rt, await jobs.load(edit_rt, again.json()["job_id"]), "timeout", "")
    assert await money(edit_rt, account_id) == (10, 0)
    assert (await ledger.audit(edit_rt, account_id)).ok


async def test_mask_is_stored_checked_and_binary(edit_rt, edit_client, customer):
    _, headers = customer
    gray = np.zeros((64, 96), np.uint8)
    gray[5:20, 5:20] = 180
    body = {
        "image_base64": base64.b64encode(PHOTO).decode(),
        "mask_base64": "data:image/png;base64," + base64.b64encode(encode(gray)).decode(),
        "prompt": "a red ball",
        "steps": 12,
        "seed": 7,
    }
    response = await edit_client.post("/v1/inpaint", headers=headers, json=body)
    assert response.status_code == 202, response.text
    params = (await jobs.load(edit_rt, response.json()["job_id"])).params
    assert (params["prompt"], params["steps"], params["seed"]) == ("a red ball", 12, 7)
    assert (params["cfg_scale"], params["strength"]) == (7.0, 0.85)
    stored = images.decode(await edit_rt.blobs.get(params["mask_key"])).rgb[..., 0]
    assert set(np.unique(stored)) == {0, 255} and (stored == 255).sum() == 15 * 15


@pytest.mark.parametrize(
    ("operation", "files", "data", "code"),
    [
        ("erase-object", {}, {}, "no_mask"),
        ("erase-object", {"mask": mask_png(64, 64)}, {}, "mask_size_mismatch"),
        ("erase-object", {"mask": encode(np.zeros((64, 96), np.uint8))}, {}, "empty_mask"),
        ("erase-object", {"mask": PHOTO}, {}, "invalid_mask"),
        ("inpaint", {"mask": mask_png()}, {"prompt": "x" * 401}, "prompt_too_long"),
        ("inpaint", {"mask": mask_png()}, {"steps": "0"}, "invalid_parameter"),
        ("inpaint", {"mask": mask_png()}, {"cfg_scale": "31"}, "invalid_parameter"),
        ("inpaint", {"mask": mask_png()}, {"strength": "0"}, "invalid_parameter"),
        ("segment", {}, {}, "invalid_parameter"),
        ("segment", {}, {"points": "[[96, 10, 1]]"}, "invalid_parameter"),
        ("remove-background", {}, {"format": "jpg"}, "invalid_parameter"),
        ("remove-background", {}, {"bg_color": "blue-ish"}, "invalid_parameter"),
        ("enhance", {}, {"color": "11"}, "invalid_parameter"),
        ("enhance", {}, {"strength": "2"}, "invalid_parameter"),
    ],
)
async def test_bad_requests_are_clear_and_free(
    edit_client, edit_rt, customer, operation, files, data, code
):
    account_id, headers = customer
    sent = {"image": ("a.png", PHOTO), **{k: (f"{k}.png", v) for k, v in files.items()}}
    response = await edit_client.post(f"/v1/{operation}", headers=headers, files=sent, data=data)
    assert_error(response, 400, code)
    # the same request on PixelForge's surface: 422
    response = await edit_client.post(
        f"/api/v1/{operation}", headers=headers, files=sent, data=data
    )
    assert_error(response, 422, code)
    assert await money(edit_rt, account_id) == (10, 0)


async def test_remove_background_jpg_with_a_colour_is_fine(edit_client, customer):
    _, headers = customer
    response = await edit_client.post(
        "/v1/remove-background",
        headers=headers,
        files={"image": ("a.png", PHOTO)},
        data={"format": "jpg", "bg_color": "FFFFFF"},
    )
    assert response.status_code == 202, response.text


async def test_pixelforge_status_table(edit_client, edit_rt, customer):
    _, headers = customer
    url = "/api/v1/enhance"
    assert_error(await edit_client.post(url, files={"image": ("a.png", PHOTO)}), 401, "missing_key")
    bad_key = {"Authorization": "Bearer ps_" + "0" * 32}
    assert_error(
        await edit_client.post(url, headers=bad_key, files={"image": ("a.png", PHOTO)}),
        401,
        "invalid_key",
    )
    assert_error(
        await edit_client.get("/api/v1/jobs/job_" + "0" * 26, headers=headers), 404, "job_not_found"
    )
    assert_error(
        await edit_client.post(url, headers=headers, files={"image": ("a.gif", b"GIF89a")}),
        422,
        "invalid_format",
    )
    _, poor_key = await accounts.create(edit_rt, 0, "enterprise")
    poor = {"Authorization": f"Bearer {poor_key}"}
    assert_error(
        await edit_client.post(url, headers=poor, files={"image": ("a.png", PHOTO)}),
        402,
        "out_of_credits",
    )


async def test_download_of_a_failed_job_is_502_on_pixelforge(edit_client, edit_rt, customer):
    _, headers = customer
    response = await edit_client.post(
        "/api/v1/enhance", headers=headers, files={"image": ("a.png", PHOTO)}
    )
    job = await jobs.load(edit_rt, response.json()["job_id"])
    await jobs.fail(edit_rt, job, "error_inference", "The model failed on this image.")
    status = (await edit_client.get(f"/api/v1/jobs/{job.job_id}", headers=headers)).json()
    assert status["status"] == "failed" and status["error"]["code"] == "error_inference"
    path = f"/jobs/{job.job_id}/download"
    assert_error(await edit_client.get("/api/v1" + path, headers=headers), 502, "job_failed")
    assert_error(await edit_client.get("/v1" + path, headers=headers), 409, "job_failed")


async def test_enhance_job_runs_to_a_corrected_image(edit_rt, edit_client, customer, weights_dir):
    account_id, headers = customer
    original = photo("astronaut", 128)[:96]
    cast = np.clip(original * np.array([1.0, 0.9, 0.65]), 0, 255).astype(np.uint8)
    backend = LocalEnhanceBackend(LocalUpscaleBackend(weights_dir))
    dispatcher = Dispatcher(edit_rt, lanes({"enhance": backend}), "enhance")
    await dispatcher.start()
    try:
        submitted = []
        for denoise in ("false", "true"):
            response = await edit_client.post(
                "/api/v1/enhance",
                headers=headers,
                files={"image": ("a.jpg", encode(cast, "JPEG", quality=85))},
                data={"denoise": denoise},
            )
            assert response.status_code == 202, response.text
            submitted.append(response.json()["job_id"])

        async def finished(job_id):
            body = (await edit_client.get(f"/v1/jobs/{job_id}", headers=headers)).json()
            return body if body["status"] in ("done", "failed") else None

        bodies = [await wait_for(lambda j=j: finished(j), timeout_s=60) for j in submitted]
    finally:
        await dispatcher.stop()
    results = []
    for body in bodies:
        assert body["status"] == "done", body
        assert (body["width"], body["height"]) == (128, 96)
        data = await edit_client.get(f"/v1/jobs/{body['job_id']}/download", headers=headers)
        results.append(images.decode(data.content).rgb.astype(np.float64))
    for result in results:  # the cast taken out: the mean colour back near the original's
        means, before = result.reshape(-1, 3).mean(0), cast.reshape(-1, 3).mean(0)
        target = original.reshape(-1, 3).mean(0)
        assert np.abs(means - target).max() < 0.5 * np.abs(before - target).max()
    assert not np.array_equal(results[0], results[1])  # the network ran on the second
    assert await money(edit_rt, account_id) == (8, 0)
