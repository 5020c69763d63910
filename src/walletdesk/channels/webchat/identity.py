"""Who is on the customer end: a signed wallet user, or an anonymous visitor with a resume token.

Signed identity (the host page's logged-in user): the wallet's backend computes
    HMAC-SHA256(site identity secret, f"{user_id}:{expires}")  as lowercase hex
where `expires` is a Unix time. Intercom and Chatwoot sign the user id alone; the expiry
is in the signed text here so that a copied signature stops working.

Resume token: what the widget keeps in localStorage to come back to its conversation
after a reload or a lost network. Signed with the install's secret key, it names the
conversation, the site, the visitor and the verified user (if any); the server keeps
no session table for visitors.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

RESUME_MAX_AGE_SECONDS = 90 * 24 * 3600
MAX_USER_ID_CHARS = 200


class IdentityRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def identity_signature(secret: str, user_id: str, expires: int) -> str:
    message = f"{user_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_identity(
    secret: str,
    user_id: str,
    expires: int,
    signature: str,
    *,
    max_lifetime: int,
    now: float | None = None,
) -> None:
    """Raise IdentityRejected unless the signature is the site's and still valid."""
    if not user_id or len(user_id) > MAX_USER_ID_CHARS or not user_id.isprintable():
        raise IdentityRejected("bad_identity", "user_id must be 1-200 printable characters")
    expected = identity_signature(secret, user_id, expires)
    # Compare first, in constant time, so a forger learns nothing from the expiry checks.
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise IdentityRejected("bad_identity", "the identity signature does not match")
    now = time.time() if now is None else now
    if expires <= now:
        raise IdentityRejected("identity_expired", "the signed identity has expired")
    if expires > now + max_lifetime:
        raise IdentityRejected(
            "bad_identity", f"a signed identity may be valid for at most {max_lifetime} seconds"
        )


@dataclass(frozen=True, slots=True)
class Resume:
    conversation: str
    site_id: int
    visitor: str
    user_id: str | None


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="walletdesk.webchat.resume")


def resume_token(secret_key: str, resume: Resume) -> str:
    return _serializer(secret_key).dumps(
        {"c": resume.conversation, "s": resume.site_id, "v": resume.visitor, "u": resume.user_id}
    )


def read_resume_token(secret_key: str, token: str) -> Resume | None:
    """The resume data, or None for a forged, foreign or too old token."""
    try:
        data = _serializer(secret_key).loads(token, max_age=RESUME_MAX_AGE_SECONDS)
        user = data.get("u")
        return Resume(
            conversation=str(data["c"]),
            site_id=int(data["s"]),
            visitor=str(data["v"]),
            user_id=str(user) if user is not None else None,
        )
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None
