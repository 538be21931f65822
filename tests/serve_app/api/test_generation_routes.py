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
from serve_app.engine import images, jobs
from serve_app.operations._generating import Upscaled
from tests.helpers.backends import LocalGenerateBackend, LocalUpscaleBackend
from tests.helpers.dispatch import dispatching, finished
from tests.helpers.http import assert_error, bundled_only
from tests.helpers.runtime import make_settings, money

COFFEE = encode(photo("coffee", 120)[:90])  # 120x90: 4:3
ASTRONAUT = encode(photo("astronaut", 80))


@pytest.fixture(scope="module")
def generator(edit_models):
    folder = yaml.safe_load(edit_models.read_text())["models"]["flux2-klein-4b"]["file"]
    return LocalGenerateBackend(folder)


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir, edit_models):
    return make_settings(redis_server, tmp_path, weights_dir, user_models_file=edit_models)


@pytest.fixture
async def customer(rt):
    account_id, key = await accounts.create(rt, 20, "enterprise")
    return account_id, {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def running(rt, generator, weights_dir):
    model = Upscaled(generator, LocalUpscaleBackend(weights_dir))
    async with dispatching(rt, {"generate": model, "edit": model}, "gen-test"):
        yield


async def done(rt, response) -> tuple[jobs.Job, np.ndarray]:
    assert response.status_code == 202, response.text
    job = await finished(rt, response.json()["job_id"])
    assert job.status == "done", job
    return job, images.decode(await rt.blobs.get(job.result_key)).rgb


async def test_generate_makes_the_ratio_at_the_working_size_and_reports_the_seed(
    rt, client, customer, running
):
    account_id, headers = customer
    body = {"prompt": "a mug", "aspect_ratio": "16:9", "seed": 7}
    job, rgb = await done(rt, await client.post("/v1/generate", headers=headers, json=body))
    # the fixture works at ~64² (models.yaml sample_px): 16:9 in multiples of 16
    assert rgb.shape == (48, 80, 3) and job.seed == 7 and job.cost == 2
    assert await money(rt, account_id) == (18, 0)
    again, rgb2 = await done(rt, await client.post("/v1/generate", headers=headers, json=body))
    assert np.array_equal(rgb, rgb2)
    view = (await client.get(f"/v1/jobs/{again.job_id}", headers=headers)).json()
    assert view["seed"] == 7 and (view["width"], view["height"]) == (80, 48)


async def test_a_seed_is_chosen_reported_and_reproduces(rt, client, customer, running):
    _, headers = customer
    form = {"prompt": "a red chair", "aspect_ratio": "PORTRAIT"}
    first, rgb = await done(rt, await client.post("/v1/generate", headers=headers, data=form))
    assert rgb.shape == (80, 48, 3) and isinstance(first.seed, int)
    form["seed"] = str(first.seed)
    _, same = await done(rt, await client.post("/v1/generate", headers=headers, data=form))
    assert np.array_equal(rgb, same)


async def test_2k_is_the_model_image_upscaled_to_a_2048_px_edge(rt, client, customer, running):
    _, headers = customer
    body = {"prompt": "a lamp", "aspect_ratio": "LANDSCAPE", "resolution": "2K", "seed": 1}
    job, rgb = await done(rt, await client.post("/v1/generate", headers=headers, json=body))
    assert rgb.shape == (1229, 2048, 3) and job.params["upscale_model"]
    assert (job.params["work_width"], job.params["work_height"]) == (80, 48)


async def test_edit_keeps_the_first_photo_ratio_and_takes_a_second(rt, client, customer, running):
    _, headers = customer
    files = {"image": ("a.png", COFFEE)}
    _, rgb = await done(
        rt,
        await client.post(
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
    two, rgb2 = await done(rt, await client.post("/v1/edit", headers=headers, json=both))
    assert rgb2.shape == rgb.shape and not np.array_equal(rgb, rgb2)
    assert two.params["reference_key"].startswith("inputs/")
    square = {"prompt": "a mug", "seed": 2}
    made, _ = await done(rt, await client.post("/v1/generate", headers=headers, json=square))
    chained = {"from_job": made.job_id, "prompt": "make it blue", "aspect_ratio": "2:1"}
    _, rgb3 = await done(rt, await client.post("/v1/edit", headers=headers, json=chained))
    assert rgb3.shape == (48, 96, 3)


async def test_without_weights_both_are_503_and_free(redis_server, tmp_path, weights_dir):
    async with bundled_only(redis_server, tmp_path, weights_dir) as (bare, http):
        account_id, key = await accounts.create(bare, 10, "enterprise")
        headers = {"x-key": key}
        response = await http.post("/v1/generate", headers=headers, json={"prompt": "x"})
        detail = assert_error(response, 503, "model_unavailable")["detail"]
        assert "weights fetch flux2-klein-4b" in detail
        response = await http.post(
            "/v1/edit", headers=headers, files={"image": ("a.png", COFFEE)}, data={"prompt": "x"}
        )
        assert_error(response, 503, "model_unavailable")
        assert await money(bare, account_id) == (10, 0)


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
        # refused before the URL is fetched (a fetch would answer url_not_allowed)
        (
            "generate",
            {},
            {"prompt": "x", "image_url": "http://127.0.0.1:1/a.png"},
            400,
            "invalid_parameter",
        ),
        ("generate", {}, {"prompt": "x", "from_job": "job_x"}, 400, "invalid_parameter"),
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
    client, rt, customer, operation, files, fields, status, code
):
    account_id, headers = customer
    sent = {name: (f"{name}.png", data) for name, data in files.items()}
    if sent:
        response = await client.post(f"/v1/{operation}", headers=headers, files=sent, data=fields)
    else:
        response = await client.post(f"/v1/{operation}", headers=headers, json=fields)
    assert_error(response, status, code)
    assert await money(rt, account_id) == (20, 0)


async def test_inpaint_on_the_generator_takes_a_reference_and_keeps_the_rest(
    rt, client, customer, generator
):
    from serve_app.engine.backends import Routed
    from tests.helpers.dispatch import dispatching

    _, headers = customer
    mask = np.zeros((90, 120), np.uint8)
    mask[30:60, 40:80] = 255
    files = {
        "image": ("a.png", COFFEE),
        "mask": ("m.png", encode(mask)),
        "reference_image": ("r.png", ASTRONAUT),
    }
    form = {"prompt": "a red apple", "model": "flux2-klein-4b", "seed": "5"}
    sent = await client.post("/v1/inpaint", headers=headers, files=files, data=form)
    inpaint = Routed({"Generator": generator})
    async with dispatching(rt, {"inpaint": inpaint}, "gen-inpaint"):
        job, rgb = await done(rt, sent)
    params = job.params
    assert (params["runner"], params["steps"], params["guidance"]) == ("Generator", 4, 1.0)
    assert params["reference_key"] and job.cost == 2 and job.seed == 5
    original = images.decode(COFFEE).rgb
    assert rgb.shape == original.shape
    assert (rgb != original).any(axis=2)[mask > 0].mean() > 0.9
    assert np.array_equal(rgb[:, :20], original[:, :20])  # far from the mask: untouched
    sd = {**files, "mask": ("m.png", encode(mask))}
    response = await client.post("/v1/inpaint", headers=headers, files=sd, data={"prompt": "x"})
    assert "generator" in assert_error(response, 400, "invalid_parameter")["detail"]


# --- custom models (LoRA) --------------------------------------------------------------


@pytest.fixture(scope="module")
def lora_bytes(edit_models) -> bytes:
    from pathlib import Path

    from tests.helpers.model_fixtures import flux2_klein

    folder = yaml.safe_load(edit_models.read_text())["models"]["flux2-klein-4b"]["file"]
    return flux2_klein.lora(Path(folder))


def upload(client, headers, data, name="brand", words="acme style", filename="b.safetensors"):
    return client.post(
        "/v1/custom-models",
        headers=headers,
        files={"file": (filename, data, "application/octet-stream")},
        data={"name": name, "trigger_words": words},
    )


async def test_a_custom_model_is_uploaded_listed_used_and_deleted(
    rt, client, customer, running, lora_bytes
):
    account_id, headers = customer
    made = await upload(client, headers, lora_bytes)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["model"], body["rank"], body["base_model"]) == (
        "custom:brand",
        4,
        "flux2-klein-4b",
    )
    assert body["trigger_words"] == ["acme style"] and body["size"] == len(lora_bytes)
    assert_error(await upload(client, headers, lora_bytes), 409, "custom_model_exists")
    listed = (await client.get("/v1/custom-models", headers=headers)).json()["models"]
    assert [m["model"] for m in listed] == ["custom:brand"]
    ask = {"prompt": "a mug", "seed": 4, "model": "custom:brand"}
    styled, with_lora = await done(rt, await client.post("/v1/generate", headers=headers, json=ask))
    assert styled.params["prompt"] == "acme style, a mug" and styled.params["lora_key"]
    plain = {"prompt": "acme style, a mug", "seed": 4}
    _, without = await done(rt, await client.post("/v1/generate", headers=headers, json=plain))
    assert not np.array_equal(with_lora, without)
    deleted = await client.delete("/v1/custom-models/brand", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    before = await money(rt, account_id)
    response = await client.post("/v1/generate", headers=headers, json=ask)
    assert_error(response, 404, "custom_model_not_found")
    assert await money(rt, account_id) == before


async def test_a_custom_model_is_private_until_an_admin_publishes_it(
    rt, client, customer, lora_bytes
):
    from tests.helpers.runtime import ADMIN_TOKEN

    owner, headers = customer
    assert (await upload(client, headers, lora_bytes, name="house")).status_code == 201
    _, other_key = await accounts.create(rt, 10, "enterprise")
    other = {"x-key": other_key}
    ask = {"prompt": "a mug", "model": "custom:house"}
    assert_error(
        await client.post("/v1/generate", headers=other, json=ask),
        404,
        "custom_model_not_found",
    )
    published = await client.post(
        "/admin/custom-models/publish",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={"account_id": owner, "name": "house"},
    )
    assert published.status_code == 200 and published.json()["public"] is True
    assert (await client.post("/v1/generate", headers=other, json=ask)).status_code == 202
    listed = (await client.get("/v1/custom-models", headers=other)).json()["models"]
    assert [(m["model"], m["public"]) for m in listed] == [("custom:house", True)]


def pickled() -> bytes:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"transformer.a.lora_A.weight": torch.zeros(2, 2)}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"filename": "brand.pt"}, 400, "invalid_lora"),
        ({"data": "pickle"}, 400, "invalid_lora"),
        ({"data": b"\x00" * 64}, 400, "invalid_lora"),
        ({"name": "Bad Name"}, 400, "invalid_parameter"),
        ({"words": "x" * 41}, 400, "invalid_parameter"),
        ({"base_model": "sdxl"}, 400, "invalid_parameter"),
        ({"cap": 1000}, 413, "image_too_large"),
    ],
)
async def test_bad_uploads_are_refused_with_the_reason(
    rt, client, customer, lora_bytes, change, status, code
):
    _, headers = customer
    if "cap" in change:
        rt.settings.max_lora_bytes = change["cap"]
    data = {"pickle": pickled()}.get(change.get("data"), change.get("data", lora_bytes))
    fields = {"name": change.get("name", "brand"), "trigger_words": change.get("words", "")}
    if "base_model" in change:
        fields["base_model"] = change["base_model"]
    response = await client.post(
        "/v1/custom-models",
        headers=headers,
        files={"file": (change.get("filename", "b.safetensors"), data)},
        data=fields,
    )
    assert_error(response, status, code)
    assert (await client.get("/v1/custom-models", headers=headers)).json()["models"] == []
