"""The `photoserve` command as a user runs it (a subprocess) against the API on a real socket,
jobs run by a dispatcher on the real Real-ESRGAN weights: a folder of real photos with one
broken file, progress output, the summary, exit codes, resume, --json, login, jobs; and the
admin verbs: the local instance found from its data dir, --url after the subcommand, one line
(no traceback) when the server is away, and weights import/fetch told what to do offline."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import httpx
import pytest

from loadtest.photos import encode, photo
from serve_app.billing import accounts
from serve_app.process import local_state
from tests.helpers.backends import LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.runtime import ADMIN_TOKEN

PHOTOS = {"astronaut": photo("astronaut", 48), "chelsea": photo("chelsea", 40)}


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), COLUMNS="120", **extra)
    return env


async def photoserve(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "serve_app.process.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def folder(tmp_path) -> Path:
    photos = tmp_path / "photos"
    (photos / "more").mkdir(parents=True)
    (photos / "astronaut.png").write_bytes(encode(PHOTOS["astronaut"]))
    (photos / "more" / "chelsea.jpg").write_bytes(encode(PHOTOS["chelsea"], "JPEG"))
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a photo")
    (photos / "notes.txt").write_text("not a photo, not picked up")
    return photos


@pytest.fixture
async def user(rt, http_server, tmp_path):
    account_id, key = await accounts.create(rt, 100, "enterprise")
    env = environment(tmp_path, PHOTOSERVE_URL=http_server, PHOTOSERVE_API_KEY=key)
    return account_id, key, env


async def test_a_folder_with_a_broken_file_then_resume(rt, user, folder, tmp_path, weights_dir):
    account_id, key, env = user
    out = tmp_path / "out"
    backend = LocalUpscaleBackend(weights_dir, tile=16)
    async with dispatching(rt, {"upscale": backend}, "cli"):
        first = await photoserve(
            env, "upscale", str(folder), "--scale", "2", "--out", str(out), "-j", "2", "--json"
        )
        second = await photoserve(
            env, "upscale", str(folder), "--scale", "2", "--out", str(out), "--json"
        )
    code, stdout, _ = first
    report = json.loads(stdout)
    assert code == 1  # broken.png failed
    assert (report["done"], report["failed"], report["skipped"]) == (2, 1, 0)
    failed = next(r for r in report["results"] if r["status"] == "failed")
    assert failed["input"].endswith("broken.png") and failed["error"].startswith("corrupt_image")
    done = [r for r in report["results"] if r["status"] == "done"]
    assert report["credits"] == sum(r["cost"] for r in done) > 0
    for row in done:
        saved = Path(row["output"]).read_bytes()
        api = httpx.get(
            f"{env['PHOTOSERVE_URL']}/v1/jobs/{row['job_id']}/download", headers={"x-key": key}
        )
        assert saved == api.content
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.png", "chelsea.png"]
    code, stdout, _ = second
    again = json.loads(stdout)
    assert code == 1 and (again["done"], again["skipped"], again["failed"]) == (0, 2, 1)
    assert again["credits"] == 0
    assert await rt.redis.zcard(rt.keys.jobs(account_id)) == 2  # nothing submitted twice


async def test_progress_bars_and_the_summary_table(rt, user, tmp_path, weights_dir):
    _, _, env = user
    single = tmp_path / "one"
    single.mkdir()
    (single / "astronaut.png").write_bytes(encode(PHOTOS["astronaut"]))
    env = {**env, "TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1"}
    async with dispatching(rt, {"upscale": LocalUpscaleBackend(weights_dir, 16)}, "cli-bars"):
        code, stdout, stderr = await photoserve(
            env, "upscale", str(single), "--scale", "2", "--out", str(tmp_path / "o")
        )
    assert code == 0, stderr
    assert "astronaut.png" in stderr and "100%" in stderr  # the file's bar, then all's
    assert "1 done, 0 failed, 0 skipped" in stdout
    assert "Traceback" not in stderr


async def test_login_stores_the_key_privately_and_jobs_commands(rt, user, tmp_path, weights_dir):
    _, key, env = user
    bare = {k: v for k, v in env.items() if k != "PHOTOSERVE_API_KEY"}
    code, _, stderr = await photoserve(bare, "login", "--key", key)
    assert code == 0, stderr
    stored = tmp_path / "config" / "photoserve" / "client.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text())["api_key"] == key
    async with dispatching(rt, {"upscale": LocalUpscaleBackend(weights_dir, 16)}, "cli-jobs"):
        code, stdout, _ = await photoserve(
            bare, "upscale", str(tmp_path / "in.png"), "--out", str(tmp_path / "o"), "--json"
        )
    assert code == 1 and "No such file" in stdout  # a missing file fails alone, said plainly
    (tmp_path / "in.png").write_bytes(encode(PHOTOS["chelsea"]))
    async with dispatching(rt, {"upscale": LocalUpscaleBackend(weights_dir, 16)}, "cli-jobs2"):
        code, _, _ = await photoserve(
            bare, "upscale", str(tmp_path / "in.png"), "--out", str(tmp_path / "o")
        )
    assert code == 0
    code, stdout, _ = await photoserve(bare, "jobs", "list", "--json")
    (job,) = json.loads(stdout)
    code, stdout, _ = await photoserve(bare, "jobs", "show", job["job_id"], "--json")
    assert json.loads(stdout)["status"] == "done"
    target = tmp_path / "again.png"
    code, _, _ = await photoserve(bare, "jobs", "download", job["job_id"], str(target))
    assert code == 0 and target.read_bytes() == (tmp_path / "o" / "in.png").read_bytes()
    code, stdout, _ = await photoserve(bare, "credits", "--json")
    assert json.loads(stdout)["credits"]["total"] == 100 - job["cost"]


async def test_admin_finds_the_local_instance_and_takes_url_anywhere(http_server, tmp_path):
    data_dir = tmp_path / "data"
    local_state.write_api_url(data_dir, http_server)
    env = environment(
        tmp_path, PHOTOSERVE_DATA_DIR=str(data_dir), PHOTOSERVE_ADMIN_TOKEN=ADMIN_TOKEN
    )
    code, stdout, stderr = await photoserve(env, "accounts", "create", "--credits", "7")
    assert code == 0, stderr
    assert json.loads(stdout)["api_key"].startswith("ps_")
    away = "http://127.0.0.1:9"
    for args in (["accounts", "create", "--url", away], ["--url", away, "credits", "--key", "k"]):
        code, stdout, stderr = await photoserve(env, *args)
        assert code == 1 and "cannot reach http://127.0.0.1:9" in stderr, stderr
        assert "Traceback" not in stderr


def models_file(tmp_path: Path, data: bytes) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    path = tmp_path / "models.yaml"
    path.write_text(
        "models:\n  u2net:\n    sources:\n      - kind: url\n"
        f"        url: http://127.0.0.1:9/u2net.pth\n        sha256: {sha}\n"
        f"        size: {len(data)}\n"
    )
    return path


async def test_weights_offline_say_what_to_fetch_and_import_checks_it(tmp_path):
    data = b"weights of the right size"
    env = environment(
        tmp_path,
        PHOTOSERVE_MODELS=str(models_file(tmp_path, data)),
        PHOTOSERVE_WEIGHTS_DIR=str(tmp_path / "weights"),
    )
    code, _, stderr = await photoserve(env, "weights", "fetch", "u2net", "u2nett")
    assert code == 1 and "no model u2nett; one of " in stderr
    code, stdout, _ = await photoserve(env, "weights", "fetch", "u2net")
    assert code == 1
    assert "http://127.0.0.1:9/u2net.pth" in stdout and hashlib.sha256(data).hexdigest() in stdout
    assert "photoserve weights import u2net FILE" in stdout
    (tmp_path / "wrong.pth").write_bytes(b"x" * len(data))
    code, stdout, _ = await photoserve(
        env, "weights", "import", "u2net", str(tmp_path / "wrong.pth")
    )
    assert code == 1 and "sha256" in stdout
    assert not (tmp_path / "weights" / "u2net.pth").exists()
    (tmp_path / "right.pth").write_bytes(data)
    code, stdout, _ = await photoserve(
        env, "weights", "import", "u2net", str(tmp_path / "right.pth")
    )
    assert code == 0 and "imported" in stdout
    assert (tmp_path / "weights" / "u2net.pth").read_bytes() == data
