"""The newer surfaces (PicWish, Perfect Corp, ProductAI, client credentials, from_job,
generation, custom models) under malformed requests: always a 4xx in the surface's envelope,
never a 500 or a trace, nothing charged."""

from __future__ import annotations

import pytest

from serve_app.billing import credits

JUNK = [
    b"",
    b"{",
    b"[]",
    b"null",
    b'{"request_id": -1}',
    b'{"request_id": 1e309, "payload": {}}',
    b'{"request_id": "0", "payload": {"file_sets": {"src_ids": [1, 2]}, "actions": []}}',
    b'{"payload": {"file_sets": {"src_ids": ["' + b"a" * 5000 + b'"]}, "actions": [{"id": 0}]}}',
    b'{"files": [' + b'{"content_type": "image/png", "file_name": "x"},' * 500 + b"{}]}",
    b'{"client_id": {"$ne": 1}, "id_token": ["x"]}',
    b'{"prompt": "x", "model": "seedream", "image_url": [[], {}, 3]}',
    b'{"prompt": ["x"], "model": {"a": 1}, "aspect_ratio": 16.9, "resolution": null}',
    b'{"prompt": "x", "model": "custom:../../etc", "seed": -5}',
    b'{"style_group_id": 1e400, "style_id": [1], "age_group": {"a": 1}}',
    b'{"payload": {"file_sets": {"src_ids": ["x"], "ref_ids": [1, 2]}, "actions": [{"id": 0}]}}',
    b'{"prompt": "' + b"\\u0000" * 3000 + b'", "model": "gpt-low"}',
    b"\x00\xff" * 1000,
    b"<\xff\xfe\xfd&\x0cJ",  # not UTF-8: FastAPI cannot even decode it
    b'{"a":' * 200 + b"1" + b"}" * 200,
]
ROUTES = [
    ("POST", "/s2s/v1.0/client/auth"),
    ("POST", "/s2s/v1.0/file/enhance"),
    ("POST", "/s2s/v1.0/task/enhance"),
    ("POST", "/s2s/v1.0/task/object-removal"),
    ("PUT", "/s2s/v1.0/upload/pf_x?exp=1&sig=0"),
    ("GET", "/s2s/v1.0/task/enhance?task_id=%00"),
    ("POST", "/api/tasks/visual/scale"),
    ("GET", "/api/tasks/visual/scale/..%2f..%2fetc"),
    ("POST", "/v1/upscale?from_job=*"),
    ("DELETE", "/v1/client-credentials/%2a"),
    ("POST", "/v1/generate"),
    ("POST", "/v1/edit"),
    ("POST", "/v1/custom-models"),
    ("DELETE", "/v1/custom-models/..%2f*"),
    ("POST", "/v1/api/generate"),
    ("POST", "/v1/api/upscale"),
    ("POST", "/v1/api/generate-custom-model"),
    ("GET", "/v1/api/job/-1"),
    ("POST", "/v1/hair-style"),
    ("POST", "/v1/aging"),
    ("POST", "/v1/makeup-transfer"),
    ("POST", "/s2s/v1.0/task/hair-style"),
    ("POST", "/s2s/v1.0/task/makeup-transfer"),
    ("POST", "/s2s/v1.0/task/text-to-image"),
    ("GET", "/s2s/v1.0/task/style/hair-style?style_group_id=%00&page_size=-1"),
    ("GET", "/v1/styles/..%2f..%2fplans"),
]


async def perfect_token(client, rt, auth) -> str:
    import base64

    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    made = (await client.post("/v1/client-credentials", headers=auth)).json()
    public = load_der_public_key(base64.b64decode(made["client_secret"]))
    claim = f"client_id={made['client_id']}&timestamp={int(rt.clock() * 1000)}".encode()
    token = base64.b64encode(public.encrypt(claim, padding.PKCS1v15())).decode()
    body = {"client_id": made["client_id"], "id_token": token}
    return (await client.post("/s2s/v1.0/client/auth", json=body)).json()["result"]["access_token"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_malformed_requests_get_a_4xx_envelope(client, rt, auth, account, method, path):
    """Past authentication (a real access token for Perfect's routes, the API key elsewhere),
    so the bodies are read."""
    bearer = f"Bearer {await perfect_token(client, rt, auth)}" if "/s2s/" in path else None
    for body in JUNK:
        for content_type in ("application/json", "multipart/form-data; boundary=x", "text/plain"):
            key = {"Authorization": bearer} if bearer else auth
            headers = {**key, "X-API-KEY": auth["Authorization"][7:], "content-type": content_type}
            response = await client.request(method, path, headers=headers, content=body)
            assert 400 <= response.status_code < 500, (method, path, body[:40], response.text[:200])
            payload = response.json()
            assert isinstance(payload, dict) and ("error" in payload or "message" in payload)
    assert (await credits.balance(rt, account[0], "enterprise")).total == 100
