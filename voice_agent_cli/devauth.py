"""The local runner's own JWT issuer: an ES256 key in the data dir and its JWKS.

Tokens it signs verify through exactly the same code as on AWS (the authorizer reads the
JWKS from a ``file://`` URL), so local sign-in exercises the real authorizer.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

DEV_ISSUER = "voice-agent-dev"
DEV_AUDIENCE = "voice-agent"
DEFAULT_TTL_S = 12 * 3600
KEY_FILE = "dev-signing-key.pem"
JWKS_FILE = "dev-jwks.json"


def default_data_dir() -> Path:
    """``$VOICE_AGENT_DATA_DIR`` or ``~/.voice-agent`` (shared by ``dev`` and ``token``)."""
    configured = os.environ.get("VOICE_AGENT_DATA_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".voice-agent"


class DevIssuer:
    """Signs dev tokens with a key created once per data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._key = self._load_or_create_key()
        public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key()))
        self.kid = public_jwk.get("kid") or self._thumbprint(public_jwk)
        public_jwk.update({"kid": self.kid, "use": "sig", "alg": "ES256"})
        self.jwks = {"keys": [public_jwk]}
        (self.data_dir / JWKS_FILE).write_text(json.dumps(self.jwks, indent=2))

    @property
    def jwks_url(self) -> str:
        return (self.data_dir / JWKS_FILE).resolve().as_uri()

    def issue(self, user: str, ttl_s: int = DEFAULT_TTL_S) -> str:
        """A signed token whose ``sub`` is ``user``."""
        now = int(time.time())
        claims = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": user, "iat": now,
                  "nbf": now, "exp": now + ttl_s, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})

    def _load_or_create_key(self) -> ec.EllipticCurvePrivateKey:
        path = self.data_dir / KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return key
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return key

    @staticmethod
    def _thumbprint(jwk: dict[str, str]) -> str:
        import base64
        import hashlib

        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")},
                               separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
