"""The web playground in a real headless Chromium (Debian's, driven by Playwright; no browser
download): upscale a photo through the page and compare the downloaded file with the API's
result byte for byte; paint a mask and erase (the random-weight LaMa fixture in the real
Eraser replica); the API's error shown for a wrong key; usable at 375 px; /docs rendered
offline. A screenshot of each is saved as a test artifact (build/test-artifacts/)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from loadtest.photos import encode, photo
from serve_app.billing import accounts
from serve_app.core.settings import get_settings
from serve_app.engine import jobs
from tests.helpers.backends import LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.runtime import make_settings

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("PHOTOSERVE_TEST_ARTIFACTS", "build/test-artifacts"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir, edit_models):
    return make_settings(redis_server, tmp_path, weights_dir, user_models_file=edit_models)


@pytest.fixture
async def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


@pytest.fixture
def eraser(monkeypatch, edit_models, weights_dir):
    """The real Eraser replica on the random-initialised LaMa fixture."""
    from deployments.erase.eraser import Eraser

    monkeypatch.setenv("PHOTOSERVE_MODELS", str(edit_models))
    monkeypatch.setenv("PHOTOSERVE_WEIGHTS_DIR", str(weights_dir))
    get_settings.cache_clear()
    replica = Eraser.func_or_class()
    get_settings.cache_clear()

    class Backend:
        def stream(self, image, params):
            return replica.run(image, params)

    return Backend()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


async def open_playground(browser, url: str, key: str, width: int = 1100):
    page = await browser.new_page(viewport={"width": width, "height": 900})
    await page.goto(url)
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Use key").click()
    await page.get_by_text("credits left").wait_for()
    return page


async def test_upscale_through_the_page_downloads_the_api_result(
    rt, http_server, browser, weights_dir, tmp_path
):
    _, key = await accounts.create(rt, 50, "enterprise")
    source = tmp_path / "astronaut.png"
    source.write_bytes(encode(photo("astronaut", 64)))
    async with dispatching(rt, {"upscale": LocalUpscaleBackend(weights_dir, 32)}, "page"):
        page = await open_playground(browser, http_server, key)
        await page.get_by_label("Operation").select_option("upscale")
        await page.locator("#photo").set_input_files(str(source))
        await page.get_by_label("scale", exact=True).select_option("2")
        await page.get_by_role("button", name="Run").click()
        download_link = page.get_by_role("link", name="Download")
        await download_link.wait_for(timeout=60_000)
        async with page.expect_download() as pending:
            await download_link.click()
        saved = tmp_path / "from-page.png"
        await (await pending.value).save_as(saved)
        job_id = (await page.locator("#job-id").text_content()).strip()
        await page.screenshot(path=screenshot_path("playground-upscale.png"), full_page=True)
        await page.set_viewport_size({"width": 900, "height": 700})
        await page.locator("#job").scroll_into_view_if_needed()
        await page.screenshot(path=screenshot_path("playground-readme.png"), full_page=True)
    api = httpx.get(f"{http_server}/v1/jobs/{job_id}/download", headers={"x-key": key})
    assert saved.read_bytes() == api.content
    assert Image.open(saved).size == (128, 128)
    assert await page.locator("#progress").get_attribute("value") == "100"
    history = await page.locator("#history li").all_text_contents()
    assert any(job_id in line for line in history)


async def test_paint_a_mask_and_erase(rt, http_server, browser, eraser, tmp_path):
    _, key = await accounts.create(rt, 50, "enterprise")
    image = photo("coffee", 128)
    source = tmp_path / "coffee.png"
    source.write_bytes(encode(image))
    async with dispatching(rt, {"erase-object": eraser}, "page-erase"):
        page = await open_playground(browser, http_server, key)
        await page.get_by_label("Operation").select_option("erase-object")
        await page.locator("#photo").set_input_files(str(source))
        canvas = page.locator("#mask")
        await page.wait_for_function("document.getElementById('mask').width === 128")
        await canvas.scroll_into_view_if_needed()
        box = await canvas.bounding_box()  # in the viewport, where the mouse moves
        await page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
        await page.mouse.up()
        await page.get_by_role("button", name="Run").click()
        await page.get_by_role("link", name="Download").wait_for(timeout=60_000)
        job_id = (await page.locator("#job-id").text_content()).strip()
        await page.screenshot(path=screenshot_path("playground-erase.png"), full_page=True)
    job = await jobs.load(rt, job_id)
    assert job.status == "done"
    mask = np.asarray(Image.open(io.BytesIO(await rt.blobs.get(job.params["mask_key"]))))
    painted = np.argwhere(mask > 0)
    assert painted.size and mask.shape[:2] == (128, 128)  # in the photo's own pixels
    rows, cols = painted[:, 0], painted[:, 1]
    assert 50 <= rows.mean() <= 78 and cols.min() >= 20 and cols.max() <= 100  # 30%..60% across


async def test_a_wrong_key_shows_the_api_message(http_server, browser):
    page = await browser.new_page()
    await page.goto(http_server)
    await page.get_by_label("API key").fill("ps_not_a_key")
    await page.get_by_role("button", name="Use key").click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "invalid_key" in await alert.text_content()


async def test_usable_at_375_px_by_keyboard_and_every_control_labelled(rt, http_server, browser):
    _, key = await accounts.create(rt, 5, "enterprise")
    page = await browser.new_page(viewport={"width": 375, "height": 800})
    await page.goto(http_server)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "api-key"
    await page.keyboard.type(key)
    await page.keyboard.press("Enter")  # the key form submits from the keyboard
    await page.get_by_text("5 credits left").wait_for()
    await page.get_by_label("Operation").select_option("restore-face")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    unlabelled = await page.evaluate(
        """[...document.querySelectorAll('input, select')]
            .filter((el) => !el.labels || el.labels.length === 0)
            .map((el) => el.id)"""
    )
    assert unlabelled == []
    await page.screenshot(path=screenshot_path("playground-375.png"), full_page=True)


async def test_docs_render_offline(http_server, browser):
    page = await browser.new_page()
    blocked = []
    page.on("request", lambda r: None if r.url.startswith(http_server) else blocked.append(r.url))
    await page.goto(f"{http_server}/docs")
    await page.locator(".opblock").first.wait_for(timeout=30_000)
    assert await page.locator("button.authorize").count() == 1
    assert blocked == []
