"""Builds the forged tokens described in ``data/authorizer_attacks.json``.

The corpus is data so that a new attack is one JSON line; this module only knows the recipes
(how to sign, which header or claim to change, how to mutate a finished token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import JwtKit

CORPUS_PATH = Path(__file__).with_name("data") / "authorizer_attacks.json"


@dataclass(frozen=True)
class AttackCase:
    """One entry of the corpus."""

    name: str
    forge: dict[str, Any]
    deliver: tuple[str, ...]


def load_corpus() -> list[AttackCase]:
    """Every case of the corpus, in file order."""
    data = json.loads(CORPUS_PATH.read_text())
    return [AttackCase(c["name"], c["forge"], tuple(c["deliver"])) for c in data["cases"]]


def b64url(data: bytes | dict[str, Any]) -> str:
    """Unpadded base64url of bytes, or of a dict as compact JSON."""
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@cache
def attacker_key() -> rsa.RSAPrivateKey:
    """An RSA key the backend has never seen."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _claim_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("now") and len(value) > 3:
        return int(time.time()) + int(value[3:])
    if isinstance(value, str) and "*" in value and value.split("*")[1].isdigit():
        text, count = value.split("*")
        return text * int(count)
    return value


def _public_pem(kit: JwtKit, kid: str) -> bytes:
    key: Any = kit.ec_key if kid.startswith("ec") else kit.rsa_key
    return bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo))


def _hmac_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes,
                digest: Any) -> str:
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def _mutate(token: str, how: str, to: Any, kit: JwtKit) -> str:
    header, payload, signature = token.split(".")
    if how == "strip_signature":
        return f"{header}.{payload}."
    if how == "truncate_signature":
        return f"{header}.{payload}.{signature[: len(signature) // 2]}"
    if how == "swap_payload_sub":
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = to
        return f"{header}.{b64url(claims)}.{signature}"
    if how == "swap_header_alg":
        fields = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        fields["alg"] = to
        return f"{b64url(fields)}.{payload}.{signature}"
    if how == "foreign_signature":
        other = kit.token("someone-else").split(".")[2]
        return f"{header}.{payload}.{other}"
    raise ValueError(f"unknown mutation {how!r}")


def forge_token(case: AttackCase, kit: JwtKit, sub: str = "attack-victim") -> str:
    """The token the case describes, made with the test keys (or an attacker's)."""
    recipe = case.forge
    if "raw" in recipe:
        return str(recipe["raw"])
    sign = recipe.get("sign", "RS256")
    claims = kit.claims(sub)
    for name, value in recipe.get("claims", {}).items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = _claim_value(value)
    default_kid = "ec-1" if sign == "ES256" else "rsa-1"
    kid = recipe.get("kid", default_kid)
    headers: dict[str, Any] = dict(recipe.get("headers", {}))
    if kid is not None:
        headers["kid"] = kid
    if sign == "none":
        header = {"alg": recipe.get("alg_label", "none"), "typ": "JWT", **headers}
        token = f"{b64url(header)}.{b64url(claims)}."
    elif sign == "HS256-public-key":
        token = _hmac_token({"alg": "HS256", "typ": "JWT", **headers}, claims,
                            _public_pem(kit, kid or "rsa-1"), hashlib.sha256)
    elif sign == "HS512-jwks":
        token = _hmac_token({"alg": "HS512", "typ": "JWT", **headers}, claims,
                            kit.jwks_path.read_bytes(), hashlib.sha512)
    elif sign == "attacker-RS256":
        if recipe.get("embed_attacker_jwk"):
            headers["jwk"] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(
                attacker_key().public_key()))
        token = jwt.encode(claims, attacker_key(), algorithm="RS256", headers=headers)
    else:
        key: Any = kit.ec_key if sign.startswith("ES") else kit.rsa_key
        token = jwt.encode(claims, key, algorithm=sign, headers=headers)
    if "mutate" in recipe:
        token = _mutate(token, recipe["mutate"], recipe.get("mutate_to"), kit)
    return token


def delivery(mode: str, token: str, good_token: str) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, cookies) that carry ``token`` the way ``mode`` says."""
    if mode == "header":
        return {"authorization": f"Bearer {token}".strip()}, {}
    if mode == "cookie":
        return {}, {"access_token": token}
    if mode == "bad_header_good_cookie":
        return {"authorization": f"Bearer {token}".strip()}, {"access_token": good_token}
    raise ValueError(f"unknown delivery {mode!r}")
