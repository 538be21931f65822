"""Perfect Corp's file store and tasks, by a client written from its docs: declare a file,
PUT it to the signed URL, run a task, poll it, download the result, chain its dst_id into the
next task; request_id replay, tampered and expired upload URLs, tenant isolation, errors in
Perfect's codes. The networks are the real Real-ESRGAN from the wheel (enhance, upscale)."""

from __future__ import annotations

import pytest

from serve_app.billing import accounts, credits
from serve_app.engine import images, jobs
from tests.helpers.backends import LocalEnhanceBackend, LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.perfect_client import PHOTO, S2S, Perfect


@pytest.fixture
async def perfect(client, rt, account):
    caller = Perfect(client, rt)
    await caller.login(account[1])
    return caller


@pytest.fixture(scope="module")
def backends(weights_dir):
    upscaler = LocalUpscaleBackend(weights_dir, tile=128)
    return {"upscale": upscaler, "enhance": LocalEnhanceBackend(upscaler)}


async def test_upload_run_poll_download_and_chain(perfect, rt, account, backends):
    async with dispatching(rt, backends, "perfect-flow"):
        src = await perfect.upload("enhance")
        first = await perfect.run("enhance", src, scale=2)
        assert first.status_code == 200, first.text
        done = await perfect.wait("enhance", first.json()["result"]["task_id"])
        assert done["status"] == "success", done
        ((result,),) = [r["data"] for r in done["results"]]
        assert done["results"][0]["id"] == 0 and result["dst_id"].startswith("dst_")
        downloaded = await perfect.http.get(result["url"])  # signed: no token needed
        assert images.decode(downloaded.content).rgb.shape == (192, 256, 3)
        # the result is the next task's input, with no upload
        second = await perfect.run("enhance", result["dst_id"], scale=1, output_ext="webp")
        chained = await perfect.wait("enhance", second.json()["result"]["task_id"])
    assert chained["status"] == "success", chained
    job = await jobs.load(rt, second.json()["result"]["task_id"])
    assert (job.operation, job.input_width, job.input_height) == ("enhance", 256, 192)
    assert (await credits.balance(rt, account[0], "enterprise")).total == 100 - 1 - 1


async def test_the_same_file_and_request_id_is_the_same_task(perfect, rt, account):
    src = await perfect.upload("colorize")  # no dispatcher: the task stays queued
    first = (await perfect.run("enhance", src, request_id=0, scale=2)).json()["result"]["task_id"]
    again = await perfect.run("enhance", src, request_id=0, scale=2)
    assert again.json()["result"]["task_id"] == first
    assert again.headers.get("idempotent-replayed") == "true"
    other = (await perfect.run("enhance", src, request_id=1, scale=2)).json()["result"]["task_id"]
    assert other != first
    held = (await credits.balance(rt, account[0], "enterprise")).held
    assert held == 2  # two tasks, not three


async def test_upload_urls_are_signed_and_expire(perfect, rt):
    (declared,) = await perfect.declare("enhance")
    url = declared["requests"][0]["url"]
    file_id = declared["file_id"]
    # another last character (the id's own was "x" once in 64 runs: the URL stayed valid)
    tampered = url.replace(file_id, file_id[:-1] + ("y" if file_id.endswith("x") else "x"))
    assert tampered != url
    assert (await perfect.http.put(tampered, content=PHOTO)).json()[
        "error_code"
    ] == "invalid_upload_url"
    bad_sig = url[:-4] + "0000"
    assert (await perfect.http.put(bad_sig, content=PHOTO)).status_code == 403
    later = rt.clock() + 3601
    rt.clock = lambda: later
    assert (await perfect.http.put(url, content=PHOTO)).status_code == 403


async def test_bad_uploads_and_unknown_files_are_refused_in_perfects_codes(perfect):
    (declared,) = await perfect.declare("enhance")
    put = declared["requests"][0]
    broken = await perfect.http.put(put["url"], content=b"\xff\xd8\xff" + b"\0" * 50)
    assert broken.status_code == 400 and broken.json()["error_code"] == "error_decode_image"
    refused = await perfect.run("enhance", declared["file_id"], scale=2)
    assert refused.status_code == 400 and "not an uploaded image" in refused.json()["error"]
    never = (await perfect.declare("enhance"))[0]["file_id"]
    assert (await perfect.run("enhance", never, scale=2)).status_code == 400
    gone = await perfect.run("enhance", "pf_nothing", scale=2)
    assert gone.status_code == 404
    src = await perfect.upload("enhance")
    for params in ({"scale": 3}, {"scale": 2, "output_ext": "gif"}, {}):
        bad = await perfect.run("enhance", src, **params)
        assert bad.status_code == 400 and bad.json()["error_code"] == "invalid_parameter", params
    nonsense = await perfect.http.post(
        f"{S2S}/task/enhance", headers=perfect.bearer, json={"payload": {}}
    )
    assert nonsense.json()["error_code"] == "invalid_parameter"
    unknown = await perfect.http.post(
        f"{S2S}/file/hair-style", headers=perfect.bearer, json={"files": []}
    )
    assert unknown.status_code in (400, 404)
    mask_missing = await perfect.run("object-removal", src)
    assert mask_missing.json()["error_code"] == "error_decode_mask"


async def test_files_tasks_and_results_belong_to_one_account(perfect, client, rt, backends):
    src = await perfect.upload("enhance")
    task_id = (await perfect.run("enhance", src, scale=2)).json()["result"]["task_id"]
    _, other_key = await accounts.create(rt, 10, "enterprise")
    stranger = Perfect(client, rt)
    await stranger.login(other_key)
    assert (await stranger.run("enhance", src, scale=2)).status_code == 403
    peek = await client.get(
        f"{S2S}/task/enhance", headers=stranger.bearer, params={"task_id": task_id}
    )
    assert peek.status_code == 403
    async with dispatching(rt, backends, "perfect-tenants"):
        await perfect.wait("enhance", task_id)
    assert (await stranger.run("enhance", "dst_" + task_id, scale=2)).status_code == 403


async def test_uploads_are_swept_with_the_inputs_after_a_day(perfect, rt):
    from serve_app.engine import maintenance
    from serve_app.vendors.perfect import files

    src = await perfect.upload("enhance")
    assert await rt.blobs.stat(files.blob_key(src)) is not None
    later = rt.clock() + rt.settings.input_ttl_s + 60
    rt.clock = lambda: later
    swept = await maintenance.sweep_blobs(rt)
    assert swept["inputs"] >= 1 and await rt.blobs.stat(files.blob_key(src)) is None


async def test_the_alias_names_the_same_task(perfect):
    src = await perfect.upload("obj-removal")
    missing_mask = await perfect.run("obj-removal", src)
    assert missing_mask.json()["error_code"] == "error_decode_mask"  # object-removal's rule


async def test_results_are_kept_30_days_and_their_tasks_with_them(perfect, rt, backends):
    from serve_app.engine import maintenance

    async with dispatching(rt, backends, "perfect-kept"):
        src = await perfect.upload("enhance")
        task_id = (await perfect.run("enhance", src, scale=2)).json()["result"]["task_id"]
        assert (await perfect.wait("enhance", task_id))["status"] == "success"
    job = await jobs.load(rt, task_id)
    assert job.result_key.startswith("kept/") and job.params["retention"] == "long"
    thirty_days = rt.settings.long_result_ttl_s
    assert thirty_days == 30 * 24 * 3600
    assert await rt.redis.ttl(rt.keys.job(task_id)) > rt.settings.result_ttl_s + 3600
    start = rt.clock()
    for days, kept in ((8, True), (31, False)):  # past the 7 days of other results, then 30
        rt.clock = lambda days=days: start + days * 24 * 3600
        await maintenance.sweep_blobs(rt)
        assert (await rt.blobs.stat(job.result_key) is not None) == kept, days
