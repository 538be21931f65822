"""The face-styling operations (hair-style, wig, hair-extension, hair-bang, hair-volume,
aging, makeup-transfer) natively and as Perfect Corp tasks, run in-process: dlib and the
random-weight BiSeNet find the region, the tiny random FLUX.2 [klein] repaints it (plumbing,
not hairstyles); every pixel outside the region is the input's; refusals are free and carry
Perfect's codes."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from loadtest.photos import encode, grace_hopper, photo
from serve_app.billing import accounts
from serve_app.engine import images, jobs
from serve_app.operations._styling import Styled
from tests.helpers.backends import LocalFaceAnalyzer, LocalGenerateBackend
from tests.helpers.dispatch import dispatching, finished
from tests.helpers.http import assert_error, bundled_only
from tests.helpers.perfect_client import Perfect
from tests.helpers.runtime import make_settings, money

TASKS = ("hair-style", "wig", "hair-extension", "hair-bang", "hair-volume")
STYLE = {"hair-style": (3001, 4001), "wig": (5001, 6001), "hair-extension": (7001, 8001),
         "hair-bang": (9001, 9101), "hair-volume": (9501, 9601)}  # fmt: skip


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    found = grace_hopper()
    if found is None:
        pytest.skip("matplotlib's sample portrait is not installed")
    return found


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir, edit_models):
    return make_settings(redis_server, tmp_path, weights_dir, user_models_file=edit_models)


@pytest.fixture(scope="module")
def styled(edit_models):
    files = yaml.safe_load(edit_models.read_text())["models"]
    analyzer = LocalFaceAnalyzer(files["parsing-bisenet"]["file"])
    return analyzer, Styled(analyzer, LocalGenerateBackend(files["flux2-klein-4b"]["file"]))


@pytest.fixture
async def running(rt, styled):
    lanes = dict.fromkeys((*TASKS, "aging", "makeup-transfer"), styled[1])
    async with dispatching(rt, lanes, "styling-test"):
        yield


@pytest.mark.parametrize("task", TASKS)
async def test_each_task_repaints_its_region_only(
    client, rt, account, running, styled, portrait, task
):
    group, style = STYLE[task]
    response = await client.post(
        f"/v1/{task}",
        headers={"x-key": account[1]},
        files={"image": ("p.png", encode(portrait))},
        data={"style_group_id": str(group), "style_id": str(style), "seed": "3"},
    )
    assert response.status_code == 202, response.text
    job = await finished(rt, response.json()["job_id"])
    assert job.status == "done", job
    result = images.decode(await rt.blobs.get(job.result_key)).rgb
    region = await styled[0].region.remote(portrait, {"task": task})
    assert result.shape == portrait.shape and region.any() and not region.all()
    assert np.array_equal(result[~region], portrait[~region])
    assert (result[region] != portrait[region]).any(axis=1).mean() > 0.5
    assert job.params["prompt"] == rt.styles.find(task, group, style).prompt
    assert job.cost == 2 and await money(rt, account[0]) == (98, 0)


async def test_a_photo_without_a_face_fails_with_its_code_and_costs_nothing(
    client, rt, account, running
):
    response = await client.post(
        "/v1/hair-style",
        headers={"x-key": account[1]},
        files={"image": ("c.png", encode(photo("coffee")))},
        data={"style_group_id": "3001", "style_id": "4001"},
    )
    job = await finished(rt, response.json()["job_id"])
    assert (job.status, job.error_code) == ("failed", "error_no_face")
    assert await money(rt, account[0]) == (100, 0)


@pytest.mark.parametrize(
    ("fields", "image", "status", "code"),
    [
        ({}, None, 400, "invalid_parameter"),
        ({"style_group_id": "3001", "style_id": "6001"}, None, 400, "invalid_parameter"),
        ({"style_group_id": "3001", "style_id": "4001"}, "big", 413, "pixel_too_large"),
    ],
)
async def test_bad_requests_are_refused_free(
    client, rt, account, portrait, fields, image, status, code
):
    data = encode(np.concatenate([portrait] * 3, axis=1)) if image == "big" else encode(portrait)
    response = await client.post(
        "/v1/hair-style",
        headers={"x-key": account[1]},
        files={"image": ("p.png", data)},
        data=fields,
    )
    assert_error(response, status, code)
    assert await money(rt, account[0]) == (100, 0)


async def test_without_the_parser_weights_it_is_503(redis_server, tmp_path, weights_dir, portrait):
    async with bundled_only(redis_server, tmp_path, weights_dir) as (bare, http):
        account_id, key = await accounts.create(bare, 10, "enterprise")
        response = await http.post(
            "/v1/wig",
            headers={"x-key": key},
            files={"image": ("p.png", encode(portrait))},
            data={"style_group_id": "5001", "style_id": "6001"},
        )
        assert "parsing-bisenet" in assert_error(response, 503, "model_unavailable")["detail"]
        assert await money(bare, account_id) == (10, 0)


async def test_perfects_hair_task_flow(client, rt, account, running, portrait):
    perfect = Perfect(client, rt)
    await perfect.login(account[1])
    groups = await client.get("/s2s/v1.0/task/style-group/hair-ext", headers=perfect.bearer)
    assert [g["id"] for g in groups.json()["result"]["groups"]] == [7001]
    src = await perfect.upload("hair-style", encode(portrait, "JPEG", quality=92))
    made = await perfect.run("hair-style", src, style_group_id=3001, style_ids=[4002])
    assert made.status_code == 200, made.text
    result = await perfect.wait("hair-style", made.json()["result"]["task_id"], 0.3)
    assert result["status"] == "success", result
    data = (await client.get(result["results"][0]["data"][0]["url"])).content
    assert images.sniff(data) == "jpg"
    coffee = await perfect.upload("hair-bang", encode(photo("coffee"), "JPEG", quality=92))
    refused = await perfect.run("hair-bang", coffee, style_group_id=9001, style_ids=[9101])
    failed = await perfect.wait("hair-bang", refused.json()["result"]["task_id"], 0.3)
    assert (failed["status"], failed["error"]) == ("error", "error_no_face")
    job = await jobs.load(rt, refused.json()["result"]["task_id"])
    assert job.error_code == "error_no_face"


async def done_outside_unchanged(rt, styled, response, image, task) -> jobs.Job:
    assert response.status_code == 202, response.text
    job = await finished(rt, response.json()["job_id"])
    assert job.status == "done", job
    result = images.decode(await rt.blobs.get(job.result_key)).rgb
    region = await styled[0].region.remote(image, {"task": task})
    assert np.array_equal(result[~region], image[~region]) and (result != image).any()
    return job


async def test_aging_repaints_face_and_hair_toward_the_age_asked(
    client, rt, account, running, styled, portrait
):
    response = await client.post(
        "/v1/aging",
        headers={"x-key": account[1]},
        files={"image": ("p.png", encode(portrait))},
        data={"age_group": "child"},
    )
    job = await done_outside_unchanged(rt, styled, response, portrait, "aging")
    assert "young child" in job.params["prompt"] and job.params["age_group"] == "child"
    wrong = await client.post(
        "/v1/aging",
        headers={"x-key": account[1]},
        files={"image": ("p.png", encode(portrait))},
        data={"age_group": "ancient"},
    )
    assert_error(wrong, 400, "invalid_parameter")


async def test_makeup_transfer_needs_a_reference_and_keeps_the_rest(
    client, rt, account, running, styled, portrait
):
    face = ("p.png", encode(portrait))
    response = await client.post(
        "/v1/makeup-transfer",
        headers={"x-key": account[1]},
        files={"image": face, "reference_image": ("r.png", encode(portrait[:, ::-1]))},
    )
    job = await done_outside_unchanged(rt, styled, response, portrait, "makeup-transfer")
    assert job.params["reference_key"] and "makeup" in job.params["prompt"]
    alone = await client.post(
        "/v1/makeup-transfer", headers={"x-key": account[1]}, files={"image": face}
    )
    assert "reference_image" in assert_error(alone, 400, "invalid_parameter")["detail"]


async def test_perfects_makeup_transfer_takes_a_reference_file(
    client, rt, account, running, portrait
):
    perfect = Perfect(client, rt)
    await perfect.login(account[1])
    src = await perfect.upload("makeup-transfer", encode(portrait, "JPEG", quality=92))
    ref = await perfect.upload("makeup-transfer", encode(portrait[:, ::-1], "JPEG", quality=92))
    payload = {"file_sets": {"src_ids": [src], "ref_ids": [ref]}, "actions": [{"id": 0}]}
    made = await client.post(
        "/s2s/v1.0/task/makeup-transfer",
        headers=perfect.bearer,
        json={"request_id": 0, "payload": payload},
    )
    assert made.status_code == 200, made.text
    result = await perfect.wait("makeup-transfer", made.json()["result"]["task_id"], 0.3)
    assert result["status"] == "success", result
    missing = {"file_sets": {"src_ids": [src]}, "actions": [{"id": 0}]}
    refused = await client.post(
        "/s2s/v1.0/task/makeup-transfer",
        headers=perfect.bearer,
        json={"request_id": 1, "payload": missing},
    )
    assert refused.status_code == 400 and refused.json()["error_code"] == "invalid_parameter"
