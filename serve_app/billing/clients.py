"""Client credentials, Perfect Corp's way of authenticating: an account creates a client
(`client_id` and `client_secret`, the public half of an RSA-2048 key pair whose private half
stays here), the client encrypts `client_id=<id>&timestamp=<ms>` with it (PKCS#1 v1.5) and
exchanges that id_token for an access token valid two hours.

At rest: the private key as PKCS#8 encrypted with the server's key secret; access tokens only
as HMAC digests (like API keys). An id_token is good once, within five minutes of its
timestamp; revoking a client kills every token it was given.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from serve_app.billing.apikeys import hash_key
from serve_app.core import clock
from serve_app.core.errors import InvalidClient, InvalidIdToken
from serve_app.core.runtime import Runtime

TOKEN_TTL_S = 2 * 3600
MAX_SKEW_MS = 5 * 60 * 1000
TOKEN_PREFIX = "pat_"


@dataclass(frozen=True)
class Client:
    client_id: str
    account: str
    created_at: float


def _new_key_pair():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_b64(private) -> str:
    """X.509 SubjectPublicKeyInfo, DER, base64: what Perfect calls the client_secret."""
    from cryptography.hazmat.primitives import serialization

    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _sealed(private, secret: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret.encode()),
    )


def _unsealed(pem: str, secret: str):
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem.encode(), password=secret.encode())


async def create(rt: Runtime, account_id: str) -> tuple[str, str]:
    """(client_id, client_secret); the secret is shown this once (it can be recomputed from
    the private key, but is not handed out again)."""
    private = _new_key_pair()
    client_id = secrets.token_urlsafe(24)
    fields = {
        "account": account_id,
        "key": _sealed(private, rt.settings.key_secret).decode(),
        "created_at": rt.clock(),
    }
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.hset(rt.keys.client(client_id), mapping=fields)
        pipe.sadd(rt.keys.clients(account_id), client_id)
        await pipe.execute()
    return client_id, _public_b64(private)


async def listed(rt: Runtime, account_id: str) -> list[Client]:
    found = []
    for client_id in sorted(await rt.redis.smembers(rt.keys.clients(account_id))):
        created = await rt.redis.hget(rt.keys.client(client_id), "created_at")
        if created is not None:
            found.append(Client(client_id, account_id, float(created)))
    return found


async def revoke(rt: Runtime, account_id: str, client_id: str) -> bool:
    """Delete the client and every access token it was given; False if it is not this
    account's."""
    if await rt.redis.hget(rt.keys.client(client_id), "account") != account_id:
        return False
    tokens = await rt.redis.smembers(rt.keys.client_tokens(client_id))
    async with rt.redis.pipeline(transaction=True) as pipe:
        for digest in tokens:
            pipe.delete(rt.keys.access_token(digest))
        pipe.delete(rt.keys.client(client_id), rt.keys.client_tokens(client_id))
        pipe.srem(rt.keys.clients(account_id), client_id)
        await pipe.execute()
    return True


def _decrypt(pem: str, secret: str, id_token: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        sealed = base64.b64decode(id_token, validate=True)
        return _unsealed(pem, secret).decrypt(sealed, padding.PKCS1v15()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidIdToken("id_token does not decrypt with this client's key.") from exc


def _claims(text: str, client_id: str, now_ms: int) -> None:
    fields = {k: v[0] for k, v in parse_qs(text, strict_parsing=False).items()}
    if fields.get("client_id") != client_id:
        raise InvalidIdToken("id_token was made for another client_id.")
    stamp = fields.get("timestamp", "")
    if not stamp.isdigit() or abs(now_ms - int(stamp)) > MAX_SKEW_MS:
        raise InvalidIdToken("id_token's timestamp is more than 5 minutes from now.")


async def exchange(rt: Runtime, client_id: str, id_token: str) -> str:
    """A new access token for a valid, fresh, unused id_token."""
    record = await rt.redis.hgetall(rt.keys.client(client_id)) if client_id else {}
    if not record:
        raise InvalidClient("No such client_id (or it was revoked).")
    text = _decrypt(record["key"], rt.settings.key_secret, id_token)
    _claims(text, client_id, clock.ms(rt.clock()))
    used = rt.keys.id_token(hash_key(rt.settings.key_secret, id_token))
    if not await rt.redis.set(used, 1, nx=True, px=2 * MAX_SKEW_MS):
        raise InvalidIdToken("This id_token was already used; make a new one.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = hash_key(rt.settings.key_secret, token)
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.set(rt.keys.access_token(digest), f"{record['account']} {client_id}", ex=TOKEN_TTL_S)
        pipe.sadd(rt.keys.client_tokens(client_id), digest)
        pipe.expire(rt.keys.client_tokens(client_id), TOKEN_TTL_S)
        await pipe.execute()
    return token


async def account_for(rt: Runtime, token: str) -> str | None:
    """The account an access token acts for, while it is valid."""
    value = await rt.redis.get(rt.keys.access_token(hash_key(rt.settings.key_secret, token)))
    return value.split(" ", 1)[0] if value else None
