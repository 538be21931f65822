"""Perfect Corp's flow through real Ray Serve, by a client written from its docs: client
credentials, client/auth, two files declared and PUT (a photo and a mask), an object-removal
task polled to success, its result downloaded and chained by dst_id into a colorize task."""

from __future__ import annotations

import base64
import time

import httpx
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from loadtest.photos import encode, photo
from serve_app.engine import images

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHOTO = photo("coffee", 160)[:120]  # 160 x 120


def mask() -> bytes:
    drawn = np.zeros((120, 160), np.uint8)
    drawn[40:70, 60:100] = 255
    return encode(drawn)


def wait(http, url, bearer, task, task_id) -> dict:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        body = http.get(
            f"{url}/s2s/v1.0/task/{task}", headers=bearer, params={"task_id": task_id}
        ).json()
        if body["result"]["status"] != "running":
            return body["result"]
        time.sleep(body["result"]["polling_interval"] / 1000 / 4)
    raise AssertionError("the task kept running")


def test_perfect_object_removal_then_colorize_through_serve(service, key):
    url = service["url"]
    with httpx.Client(timeout=120) as http:
        made = http.post(f"{url}/v1/client-credentials", headers={"x-key": key}).json()
        public = load_der_public_key(base64.b64decode(made["client_secret"]))
        claim = f"client_id={made['client_id']}&timestamp={int(time.time() * 1000)}".encode()
        id_token = base64.b64encode(public.encrypt(claim, padding.PKCS1v15())).decode()
        auth = http.post(
            f"{url}/s2s/v1.0/client/auth",
            json={"client_id": made["client_id"], "id_token": id_token},
        )
        bearer = {"Authorization": f"Bearer {auth.json()['result']['access_token']}"}
        credit = http.get(f"{url}/s2s/v1.0/client/credit", headers=bearer)
        assert credit.status_code == 200 and sum(r["amount"] for r in credit.json()["results"]) > 0
        wanted = [{"content_type": "image/png", "file_name": n} for n in ("photo.png", "mask.png")]
        declared = http.post(
            f"{url}/s2s/v1.0/file/object-removal", headers=bearer, json={"files": wanted}
        )
        ids = []
        for entry, data in zip(
            declared.json()["result"]["files"], (encode(PHOTO), mask()), strict=True
        ):
            put = entry["requests"][0]
            assert (
                http.request(
                    put["method"], put["url"], headers=put["headers"], content=data
                ).status_code
                == 200
            )
            ids.append(entry["file_id"])
        payload = {
            "file_sets": {"src_ids": [ids[0]], "mask_ids": [ids[1]]},
            "actions": [{"id": 0, "params": {}}],
        }
        run = http.post(
            f"{url}/s2s/v1.0/task/object-removal",
            headers=bearer,
            json={"request_id": 0, "payload": payload},
        )
        assert run.status_code == 200, run.text
        erased = wait(http, url, bearer, "object-removal", run.json()["result"]["task_id"])
        assert erased["status"] == "success", erased
        (result,) = erased["results"][0]["data"]
        assert images.decode(http.get(result["url"]).content).rgb.shape == PHOTO.shape
        chained = {
            "file_sets": {"src_ids": [result["dst_id"]]},
            "actions": [{"id": 0, "params": {}}],
        }
        run = http.post(
            f"{url}/s2s/v1.0/task/colorize",
            headers=bearer,
            json={"request_id": 0, "payload": chained},
        )
        colored = wait(http, url, bearer, "colorize", run.json()["result"]["task_id"])
    assert colored["status"] == "success", colored
