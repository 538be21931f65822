"""A Perfect Corp client as its documentation describes one: client credentials exchanged
for an access token, files declared and PUT to their signed URLs, tasks run and polled."""

from __future__ import annotations

import asyncio
import base64

from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from loadtest.photos import encode, photo

S2S = "/s2s/v1.0"
PHOTO = encode(photo("chelsea")[:96, :128], "JPEG", quality=90)  # 128 x 96


class Perfect:
    """A Perfect Corp client as its documentation describes one."""

    def __init__(self, http, rt):
        self.http, self.rt, self.bearer = http, rt, {}

    async def login(self, api_key: str) -> None:
        made = await self.http.post("/v1/client-credentials", headers={"x-key": api_key})
        client_id, secret = made.json()["client_id"], made.json()["client_secret"]
        public = load_der_public_key(base64.b64decode(secret))
        stamp = int(self.rt.clock() * 1000)
        sealed = public.encrypt(
            f"client_id={client_id}&timestamp={stamp}".encode(), padding.PKCS1v15()
        )
        body = {"client_id": client_id, "id_token": base64.b64encode(sealed).decode()}
        token = (await self.http.post(f"{S2S}/client/auth", json=body)).json()["result"][
            "access_token"
        ]
        self.bearer = {"Authorization": f"Bearer {token}"}

    async def declare(self, task: str, count: int = 1) -> list[dict]:
        files = [{"content_type": "image/jpeg", "file_name": f"f{i}.jpg"} for i in range(count)]
        response = await self.http.post(
            f"{S2S}/file/{task}", headers=self.bearer, json={"files": files}
        )
        assert response.status_code == 200, response.text
        return response.json()["result"]["files"]

    async def upload(self, task: str, data: bytes = PHOTO) -> str:
        (declared,) = await self.declare(task)
        (put,) = declared["requests"]
        response = await self.http.request(
            put["method"], put["url"], headers=put["headers"], content=data
        )
        assert response.status_code == 200, response.text
        return declared["file_id"]

    async def run(self, task: str, src: str, request_id: int = 0, **params):
        payload = {"file_sets": {"src_ids": [src]}, "actions": [{"id": 0, "params": params}]}
        return await self.http.post(
            f"{S2S}/task/{task}",
            headers=self.bearer,
            json={"request_id": request_id, "payload": payload},
        )

    async def wait(self, task: str, task_id: str, pause_s: float = 0.05) -> dict:
        """Polls faster than its polling_interval (tests), within its 100 requests a minute
        per token: `pause_s` longer for slow tasks."""
        for _ in range(int(30 / pause_s)):
            response = await self.http.get(
                f"{S2S}/task/{task}", headers=self.bearer, params={"task_id": task_id}
            )
            assert response.status_code == 200, response.text
            result = response.json()["result"]
            if result["status"] != "running":
                return result
            assert result["polling_interval"] >= 1000
            await asyncio.sleep(pause_s)
        raise AssertionError("the task kept running")

    async def run_styled(self, task: str, group: int, style: int, request_id: int = 0, **params):
        """A task without files whose action names a catalog style (text-to-image)."""
        action = {"id": 0, "params": {"style_group_id": group, "style_ids": [style], **params}}
        return await self.http.post(
            f"{S2S}/task/{task}",
            headers=self.bearer,
            json={"request_id": request_id, "payload": {"actions": [action]}},
        )
