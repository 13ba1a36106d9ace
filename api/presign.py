"""AWS Signature Version 4 presigned URLs (query-string authentication) for S3-compatible storage.

Pure and small on purpose: the API hands clients a URL to PUT their media to, and never sees the bytes.
Follows "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"; the unit test checks
it against that page's example. Works with AWS S3, MinIO, Ceph RGW, R2 and the like.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
MAX_EXPIRES_S = 7 * 24 * 3600  # SigV4 refuses longer


def uri_encode(text: str, slash: bool) -> str:
    """URI-encode as SigV4 wants: every byte but unreserved characters (and `/` in paths)."""
    return quote(text, safe="-_.~/" if slash else "-_.~")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    k = _hmac(f"AWS4{secret}".encode(), day)
    return _hmac(_hmac(_hmac(k, region), service), "aws4_request")


def presign(
    *,
    method: str,
    host: str,
    path: str,
    region: str,
    access_key: str,
    secret_key: str,
    at: datetime,
    expires_s: int,
    headers: Mapping[str, str] | None = None,
    service: str = "s3",
) -> str:
    """The query string (without `?`) that authorizes `method host path` until `at + expires_s`.

    `path` is the object's path as it goes on the wire, unencoded (`/bucket/key`); `headers` are signed
    besides `host`, so the client must send exactly those (e.g. Content-Type, Content-Length)."""
    if not 1 <= expires_s <= MAX_EXPIRES_S:
        raise ValueError(f"expires_s must be 1-{MAX_EXPIRES_S}, got {expires_s}")
    amz_date = at.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    signed = {"host": host, **{k.lower(): " ".join(v.split()) for k, v in (headers or {}).items()}}
    names = sorted(signed)
    query = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires_s),
        "X-Amz-SignedHeaders": ";".join(names),
    }
    canonical_query = "&".join(f"{uri_encode(k, False)}={uri_encode(v, False)}" for k, v in sorted(query.items()))
    canonical = "\n".join(
        [
            method,
            uri_encode(path, True),
            canonical_query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            UNSIGNED,
        ]
    )
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(secret_key, day, region, service), to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{canonical_query}&X-Amz-Signature={signature}"
