"""PicWish's scale task under /api/tasks/visual/scale: async and sync, the three return types,
auto scale, its price and every documented error, against the real app, Redis and networks."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from PIL import Image

from loadtest.photos import encode, photo
from serve_app.billing import accounts, credits
from serve_app.engine import jobs
from serve_app.engine.images import ImageInfo
from serve_app.vendors.picwish import mapping
from tests.helpers.backends import LocalEnhanceBackend, LocalFaceBackend, LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.photo_server import serving

CHELSEA = encode(photo("chelsea"), "JPEG", quality=90)  # 451 x 300: auto x4
TASKS = "/api/tasks/visual/scale"


@pytest.fixture
def rt(face_rt):  # face restoration available: type=face
    return face_rt


@pytest.fixture
def http(face_client):
    return face_client


@pytest.fixture
async def account(rt):
    return await accounts.create(rt, 50, "free")


@pytest.fixture
def headers(account):
    return {"X-API-KEY": account[1]}


@pytest.fixture(scope="module")
def backends(weights_dir, gfpgan_fixture):
    upscaler = LocalUpscaleBackend(weights_dir, tile=128)
    return {
        "upscale": upscaler,
        "enhance": LocalEnhanceBackend(upscaler),
        "restore-face": LocalFaceBackend(gfpgan_fixture, upscaler),
    }


def task(http, headers, data=CHELSEA, name="photo.jpg", **fields):
    files = {"image_file": (name, data, "application/octet-stream")}
    fields = {k: str(v) for k, v in fields.items()}
    return http.post(TASKS, headers=headers, files=files, data=fields)


async def until_done(http, headers, task_id: str) -> dict:
    for _ in range(600):
        body = (await http.get(f"{TASKS}/{task_id}", headers=headers)).json()
        if body["data"]["state"] in (1, -1):
            return body
        assert body["data"]["state"] in (2, 3) and 0 <= body["data"]["progress"] < 100
        await asyncio.sleep(0.05)
    raise AssertionError("the task did not finish")


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


async def test_async_task_with_a_url_result(http, rt, headers, account, backends):
    async with dispatching(rt, backends, "picwish-async"):
        created = await task(http, headers)
        assert created.status_code == 200
        body = created.json()
        assert (body["status"], body["message"]) == (200, "success")
        task_id = body["data"]["task_id"]
        done = await until_done(http, headers, task_id)
    data = done["data"]
    assert (done["status"], done["message"], data["state"], data["progress"]) == (
        200,
        "success",
        1,
        100,
    )
    assert data["task_id"] == task_id
    assert data["created_at"] <= data["processed_at"] <= data["completed_at"]
    assert all(isinstance(data[k], int) for k in ("created_at", "processed_at", "completed_at"))
    result = await http.get(data["image"])  # a signed URL: no key needed
    assert result.status_code == 200 and result.headers["content-type"] == "image/jpeg"
    assert size_of(result.content) == (451 * 4, 300 * 4)  # auto: a 451 px long edge is x4
    balance = await credits.balance(rt, account[0], "free")
    job = await jobs.load(rt, task_id)
    assert job.operation == "upscale" and job.cost == 2  # long edge <= 2048 px
    assert balance.total == 50 + 3 - 2


@pytest.mark.parametrize(("scale", "operation"), [(1, "enhance"), (2, "upscale")])
async def test_sync_task_answers_base64(http, rt, headers, backends, scale, operation):
    async with dispatching(rt, backends, f"picwish-b64-{scale}"):
        response = await task(http, headers, sync=1, return_type=2, scale_factor=scale)
    body = response.json()
    assert response.status_code == 200 and body["data"]["state"] == 1, body
    image = base64.b64decode(body["data"]["image"])
    assert size_of(image) == (451 * scale, 300 * scale)
    assert (await jobs.load(rt, body["data"]["task_id"])).operation == operation


async def test_sync_task_answers_the_image_itself(http, rt, headers, backends):
    png = encode(photo("astronaut", 120), "BMP")  # a bmp in, a png out
    async with dispatching(rt, backends, "picwish-binary"):
        response = await task(http, headers, png, "photo.bmp", sync=1, return_type=3)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert size_of(response.content) == (480, 480)


async def test_face_type_restores_faces_over_the_upscale(http, rt, headers, backends):
    portrait = encode(photo("astronaut", 256), "JPEG", quality=90)
    async with dispatching(rt, backends, "picwish-face"):
        response = await task(http, headers, portrait, type="face", sync=1, scale_factor=2)
    body = response.json()
    assert body["data"]["state"] == 1, body
    job = await jobs.load(rt, body["data"]["task_id"])
    assert job.operation == "restore-face" and job.faces == 1
    assert size_of((await http.get(body["data"]["image"])).content) == (512, 512)


@pytest.mark.parametrize(
    ("longest", "scale"), [(11, 4), (512, 4), (513, 2), (1024, 2), (1025, 1), (4096, 1)]
)
def test_auto_scale_follows_the_long_edge(longest, scale):
    info = ImageInfo("png", longest, max(1, longest // 2))
    name, params = mapping.native(mapping.ScaleTask.read({}), info)
    expected = "enhance" if scale == 1 else "upscale"
    assert name == expected and params.get("scale", 1) == scale
    assert mapping.price(info, None) == (2 if longest <= 2048 else 3)


async def test_a_large_photo_costs_three(http, rt, headers):
    big = encode(photo("coffee", 2200), "JPEG", quality=80)  # queued only: no dispatcher
    body = (await task(http, headers, big)).json()
    job = await jobs.load(rt, body["data"]["task_id"])
    assert (job.operation, job.cost, job.params["denoise"]) == ("enhance", 3, True)


def assert_picwish_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["message"]


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"return_type": 3}, 400, "invalid_parameter"),  # binary only for sync
        ({"type": "portrait"}, 400, "invalid_parameter"),
        ({"scale_factor": 3}, 400, "invalid_parameter"),
        ({"sync": 2}, 400, "invalid_parameter"),
        ({"image_url": "https://example.invalid/a.jpg"}, 400, "invalid_parameter"),  # both
    ],
)
async def test_bad_fields_are_refused(http, headers, fields, status, code):
    assert_picwish_error(await task(http, headers, **fields), status, code)


async def test_bad_inputs_are_refused(http, headers, account, rt):
    no_image = await http.post(TASKS, headers=headers, data={"sync": "0"})
    assert_picwish_error(no_image, 400, "no_image")
    gif = encode(photo("astronaut", 32), "GIF")
    assert_picwish_error(await task(http, headers, gif), 415, "invalid_format")
    huge = encode(photo("coffee", 4200), "PNG")
    assert_picwish_error(await task(http, headers, huge), 413, "pixel_too_large")
    tiny = encode(photo("coffee", 8), "PNG")
    assert_picwish_error(await task(http, headers, tiny), 400, "pixel_too_small")
    assert (await credits.balance(rt, account[0], "free")).total == 53  # nothing moved


async def test_keys_and_task_ids(http, rt, headers):
    assert_picwish_error(await task(http, {}), 401, "missing_key")
    assert_picwish_error(await task(http, {"X-API-KEY": "nope"}), 401, "invalid_key")
    task_id = (await task(http, headers)).json()["data"]["task_id"]
    _, other = await accounts.create(rt, 5, "free")
    stranger = await http.get(f"{TASKS}/{task_id}", headers={"X-API-KEY": other})
    assert_picwish_error(stranger, 403, "not_your_job")
    unknown = await http.get(f"{TASKS}/job_nope", headers=headers)
    assert_picwish_error(unknown, 404, "job_not_found")
    malformed = await http.get(f"{TASKS}/bad!id", headers=headers)
    assert_picwish_error(malformed, 400, "invalid_job_id")
    queued = (await http.get(f"{TASKS}/{task_id}", headers=headers)).json()
    assert queued["data"]["state"] == 2 and "image" not in queued["data"]


async def test_image_url_as_a_form_field_and_as_json(http, rt, headers):
    """The photo fetched from a server of the test's own (private addresses allowed here)."""
    rt.settings.allow_private_urls = True
    with serving({"/photo.jpg": CHELSEA}) as base:
        url = f"{base}/photo.jpg"
        form = await http.post(TASKS, headers=headers, data={"image_url": url, "scale_factor": "2"})
        as_json = await http.post(TASKS, headers=headers, json={"image_url": url, "type": "face"})
    for response, operation in ((form, "upscale"), (as_json, "restore-face")):
        assert response.status_code == 200, response.text
        job = await jobs.load(rt, response.json()["data"]["task_id"])
        assert job.operation == operation and (job.input_width, job.input_height) == (451, 300)
