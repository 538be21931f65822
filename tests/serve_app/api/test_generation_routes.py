"""/v1/generate and /v1/edit at the gateway and through an in-process dispatcher running the
tiny random FLUX.2 [klein] fixture (plumbing, not quality): sizes from the aspect ratio at the
model's working size, 2K/4K through the real fast upscaler, seeds that reproduce, two photos,
from_job, prices by model, and every refusal before any credit moves."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import yaml

from loadtest.photos import encode, photo
from serve_app.billing import accounts
from serve_app.core.runtime import Runtime
from serve_app.engine import images, jobs
from serve_app.operations._generating import Upscaled
from tests.helpers.backends import LocalGenerateBackend, LocalUpscaleBackend
from tests.helpers.dispatch import dispatching, finished
from tests.helpers.http import app_client, assert_error
from tests.helpers.runtime import make_settings, money

COFFEE = encode(photo("coffee", 120)[:90])  # 120x90: 4:3
ASTRONAUT = encode(photo("astronaut", 80))


@pytest.fixture(scope="module")
def generator(edit_models):
    folder = yaml.safe_load(edit_models.read_text())["models"]["flux2-klein-4b"]["file"]
    return LocalGenerateBackend(folder)


@pytest.fixture
async def gen_rt(redis_server, tmp_path, weights_dir, edit_models):
    settings = make_settings(redis_server, tmp_path, weights_dir, user_models_file=edit_models)
    rt = Runtime.create(settings)
    yield rt
    await rt.close()


@pytest.fixture
async def gen_client(gen_rt):
    async with app_client(gen_rt) as http:
        yield http


@pytest.fixture
async def customer(gen_rt):
    account_id, key = await accounts.create(gen_rt, 20, "enterprise")
    return account_id, {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def running(gen_rt, generator, weights_dir):
    model = Upscaled(generator, LocalUpscaleBackend(weights_dir))
    async with dispatching(gen_rt, {"generate": model, "edit": model}, "gen-test"):
        yield


async def done(rt, response) -> tuple[jobs.Job, np.ndarray]:
    assert response.status_code == 202, response.text
    job = await finished(rt, response.json()["job_id"])
    assert job.status == "done", job
    return job, images.decode(await rt.blobs.get(job.result_key)).rgb


async def test_generate_makes_the_ratio_at_the_working_size_and_reports_the_seed(
    gen_rt, gen_client, customer, running
):
    account_id, headers = customer
    body = {"prompt": "a mug", "aspect_ratio": "16:9", "seed": 7}
    job, rgb = await done(gen_rt, await gen_client.post("/v1/generate", headers=headers, json=body))
    # the fixture works at ~64² (models.yaml sample_px): 16:9 in multiples of 16
    assert rgb.shape == (48, 80, 3) and job.seed == 7 and job.cost == 2
    assert await money(gen_rt, account_id) == (18, 0)
    again, rgb2 = await done(
        gen_rt, await gen_client.post("/v1/generate", headers=headers, json=body)
    )
    assert np.array_equal(rgb, rgb2)
    view = (await gen_client.get(f"/v1/jobs/{again.job_id}", headers=headers)).json()
    assert view["seed"] == 7 and (view["width"], view["height"]) == (80, 48)


async def test_a_seed_is_chosen_reported_and_reproduces(gen_rt, gen_client, customer, running):
    _, headers = customer
    form = {"prompt": "a red chair", "aspect_ratio": "PORTRAIT"}
    first, rgb = await done(
        gen_rt, await gen_client.post("/v1/generate", headers=headers, data=form)
    )
    assert rgb.shape == (80, 48, 3) and isinstance(first.seed, int)
    form["seed"] = str(first.seed)
    _, same = await done(gen_rt, await gen_client.post("/v1/generate", headers=headers, data=form))
    assert np.array_equal(rgb, same)


async def test_2k_is_the_model_image_upscaled_to_a_2048_px_edge(
    gen_rt, gen_client, customer, running
):
    _, headers = customer
    body = {"prompt": "a lamp", "aspect_ratio": "LANDSCAPE", "resolution": "2K", "seed": 1}
    job, rgb = await done(gen_rt, await gen_client.post("/v1/generate", headers=headers, json=body))
    assert rgb.shape == (1229, 2048, 3) and job.params["upscale_model"]
    assert (job.params["work_width"], job.params["work_height"]) == (80, 48)


async def test_edit_keeps_the_first_photo_ratio_and_takes_a_second(
    gen_rt, gen_client, customer, running
):
    _, headers = customer
    files = {"image": ("a.png", COFFEE)}
    _, rgb = await done(
        gen_rt,
        await gen_client.post(
            "/v1/edit", headers=headers, files=files, data={"prompt": "x", "seed": 3}
        ),
    )
    assert rgb.shape == (48, 80, 3)  # 4:3 at ~64², in multiples of 16
    both = {
        "image_base64": base64.b64encode(COFFEE).decode(),
        "reference_image_base64": base64.b64encode(ASTRONAUT).decode(),
        "prompt": "x",
        "seed": 3,
    }
    two, rgb2 = await done(gen_rt, await gen_client.post("/v1/edit", headers=headers, json=both))
    assert rgb2.shape == rgb.shape and not np.array_equal(rgb, rgb2)
    assert two.params["reference_key"].startswith("inputs/")
    square = {"prompt": "a mug", "seed": 2}
    made, _ = await done(
        gen_rt, await gen_client.post("/v1/generate", headers=headers, json=square)
    )
    chained = {"from_job": made.job_id, "prompt": "make it blue", "aspect_ratio": "2:1"}
    _, rgb3 = await done(gen_rt, await gen_client.post("/v1/edit", headers=headers, json=chained))
    assert rgb3.shape == (48, 96, 3)


async def test_without_weights_both_are_503_and_free(client, rt):
    account_id, key = await accounts.create(rt, 10, "enterprise")
    headers = {"x-key": key}
    response = await client.post("/v1/generate", headers=headers, json={"prompt": "x"})
    assert (
        "weights fetch flux2-klein-4b" in assert_error(response, 503, "model_unavailable")["detail"]
    )
    response = await client.post(
        "/v1/edit", headers=headers, files={"image": ("a.png", COFFEE)}, data={"prompt": "x"}
    )
    assert_error(response, 503, "model_unavailable")
    assert await money(rt, account_id) == (10, 0)


TINY = encode(photo("coffee", 60)[:40])


@pytest.mark.parametrize(
    ("operation", "files", "fields", "status", "code"),
    [
        ("generate", {}, {}, 400, "invalid_parameter"),  # no prompt
        ("generate", {}, {"prompt": "  "}, 400, "invalid_parameter"),
        ("generate", {}, {"prompt": "x" * 2001}, 400, "prompt_too_long"),
        ("generate", {}, {"prompt": "x", "aspect_ratio": "WIDE"}, 400, "invalid_parameter"),
        ("generate", {}, {"prompt": "x", "aspect_ratio": "10:1"}, 400, "invalid_parameter"),
        ("generate", {}, {"prompt": "x", "resolution": "8K"}, 400, "invalid_parameter"),
        ("generate", {}, {"prompt": "x", "steps": "51"}, 400, "invalid_parameter"),
        ("generate", {}, {"prompt": "x", "negative_prompt": "blur"}, 400, "invalid_parameter"),
        ("generate", {}, {"prompt": "x", "model": "sdxl"}, 400, "invalid_parameter"),
        ("generate", {"image": COFFEE}, {"prompt": "x"}, 400, "invalid_parameter"),
        ("edit", {}, {"prompt": "x"}, 400, "no_image"),
        ("edit", {"image": COFFEE}, {}, 400, "invalid_parameter"),
        ("edit", {"image": TINY}, {"prompt": "x"}, 400, "pixel_too_small"),
        (
            "edit",
            {"image": COFFEE, "reference_image": TINY},
            {"prompt": "x"},
            400,
            "pixel_too_small",
        ),
        (
            "edit",
            {"image": COFFEE, "reference_image": b"nope"},
            {"prompt": "x"},
            415,
            "invalid_format",
        ),
        ("upscale", {"image": COFFEE, "reference_image": COFFEE}, {}, 400, "invalid_parameter"),
    ],
)
async def test_bad_requests_are_clear_and_free(
    gen_client, gen_rt, customer, operation, files, fields, status, code
):
    account_id, headers = customer
    sent = {name: (f"{name}.png", data) for name, data in files.items()}
    if sent:
        response = await gen_client.post(
            f"/v1/{operation}", headers=headers, files=sent, data=fields
        )
    else:
        response = await gen_client.post(f"/v1/{operation}", headers=headers, json=fields)
    assert_error(response, status, code)
    assert await money(gen_rt, account_id) == (20, 0)
