"""Style catalogs on Perfect Corp's surface and natively: style groups and styles with its
paging, and its AI Image Generator (text-to-image) run from a catalog style on the generator
(the tiny random FLUX.2 [klein] fixture: plumbing, not pictures)."""

from __future__ import annotations

import pytest
import yaml

from serve_app.engine import images, jobs
from serve_app.operations._generating import Upscaled
from tests.helpers.backends import LocalGenerateBackend, LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.perfect_client import S2S, Perfect
from tests.helpers.runtime import make_settings


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir, edit_models):
    return make_settings(redis_server, tmp_path, weights_dir, user_models_file=edit_models)


@pytest.fixture
async def perfect(client, rt, account):
    caller = Perfect(client, rt)
    await caller.login(account[1])
    return caller


async def test_style_groups_and_styles_page_as_perfect_does(perfect):
    http, bearer = perfect.http, perfect.bearer
    first = await http.get(f"{S2S}/task/style-group/text-to-image?page_size=1", headers=bearer)
    assert first.status_code == 200, first.text
    body = first.json()["result"]
    assert [g["id"] for g in body["groups"]] == [1001] and body["next_token"] == "1002"
    assert body["groups"][0]["title"] == body["groups"][0]["info"]["title"] == "Photo"
    second = await http.get(
        f"{S2S}/task/style-group/text-to-image",
        headers=bearer,
        params={"page_size": 20, "starting_token": body["next_token"]},
    )
    assert [g["id"] for g in second.json()["result"]["groups"]] == [1002]
    assert second.json()["result"]["next_token"] is None
    styles = await http.get(
        f"{S2S}/task/style/text-to-image", headers=bearer, params={"style_group_id": 1002}
    )
    listed = styles.json()["result"]["styles"]
    assert [s["id"] for s in listed] == [2101, 2102, 2103] and listed[0]["title"] == "Watercolor"
    for bad in ("page_size=0", "page_size=21", "starting_token=999"):
        response = await http.get(f"{S2S}/task/style-group/text-to-image?{bad}", headers=bearer)
        assert response.status_code == 400 and response.json()["error_code"] == "invalid_parameter"
    missing = await http.get(f"{S2S}/task/style/text-to-image?style_group_id=5", headers=bearer)
    assert missing.status_code == 400
    assert (await http.get(f"{S2S}/task/style-group/text-to-image")).status_code == 401


async def test_the_native_catalog_lists_every_style(client):
    body = (await client.get("/v1/styles/hair-style")).json()
    assert body["ok"] and [g["id"] for g in body["groups"]] == [3001, 3002]
    assert body["groups"][0]["styles"][0] == {
        "id": 4001,
        "title": "Pixie cut",
        "thumb": None,
        "prompt": "a short textured pixie cut",
        "strength": 0.95,
        "has_reference": False,
    }
    assert (await client.get("/v1/styles/no-such-task")).status_code == 404


async def test_text_to_image_runs_the_style_on_the_generator(perfect, rt, edit_models, weights_dir):
    folder = yaml.safe_load(edit_models.read_text())["models"]["flux2-klein-4b"]["file"]
    model = Upscaled(LocalGenerateBackend(folder), LocalUpscaleBackend(weights_dir))
    async with dispatching(rt, {"generate": model}, "perfect-t2i"):
        made = await perfect.run_styled("text-to-image", 1002, 2101, prompt="a red fox")
        assert made.status_code == 200, made.text
        task_id = made.json()["result"]["task_id"]
        result = await perfect.wait("text-to-image", task_id)
    assert result["status"] == "success", result
    job = await jobs.load(rt, task_id)
    assert job.params["prompt"] == "a red fox, watercolor painting, soft washes, paper texture"
    data = (await perfect.http.get(result["results"][0]["data"][0]["url"])).content
    assert images.sniff(data) == "jpg"
    again = await perfect.run_styled("text-to-image", 1002, 2101, prompt="a red fox")
    assert again.json()["result"]["task_id"] == task_id  # same request_id: the same task
    for group, style in ((1002, 2001), (9, 2101)):
        wrong = await perfect.run_styled("text-to-image", group, style, 1, prompt="a fox")
        assert wrong.status_code == 400 and wrong.json()["error_code"] == "invalid_parameter"
    empty = await perfect.run_styled("text-to-image", 1002, 2101, 2)
    assert empty.status_code == 400
