"""S3-compatible object storage for media (the local S3Proxy `chirp up` starts, or AWS S3, R2, MinIO...), through
botocore: the client, the bucket made once, objects put, and presigned PUT URLs for clients to upload to.

Clients read media straight from storage (or the CDN in front of it), never through chirp: objects are stored
with `CHIRP_S3_OBJECT_ACL` (public-read for S3Proxy; empty where a bucket policy makes them readable).
botocore is synchronous: the API calls it in a thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from infra.settings import Settings

log = logging.getLogger("chirp.media")


def s3_client(settings: Settings, timeout_s: float = 10.0, attempts: int = 3) -> Any:
    """A botocore S3 client of the settings' endpoint: path-style URLs (`<endpoint>/<bucket>/<key>`, what S3Proxy
    and MinIO serve), SigV4, and checksums only where S3 requires them (S3Proxy refuses the CRC32 headers recent
    botocore adds by default)."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4", s3={"addressing_style": "path"}, connect_timeout=min(timeout_s, 2.0),
        read_timeout=timeout_s, retries={"max_attempts": attempts, "mode": "standard"},
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
    )  # fmt: skip
    return boto3.session.Session().client(
        "s3", endpoint_url=settings.s3_endpoint, region_name=settings.s3_region, config=config,
        aws_access_key_id=settings.s3_access_key, aws_secret_access_key=settings.s3_secret_key,
    )  # fmt: skip


def answers(settings: Settings) -> bool:
    """Whether an S3 server answers at the endpoint: a signed ListBuckets gets an S3 answer (an S3 error too:
    the server is up; wrong credentials show when the bucket is made)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3_client(settings, timeout_s=3.0, attempts=1).list_buckets()
    except ClientError:
        return True
    except BotoCoreError:
        return False
    return True


def ensure_bucket(settings: Settings) -> bool:
    """Makes the media bucket unless it exists; whether it made it."""
    from botocore.exceptions import ClientError

    client = s3_client(settings)
    try:
        client.head_bucket(Bucket=settings.s3_bucket)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    try:
        client.create_bucket(Bucket=settings.s3_bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    return True


@dataclass(frozen=True)
class SignedPut:
    url: str
    headers: dict[str, str]  # to send exactly, with the PUT: they are signed
    expires_at: datetime


class ObjectStore:
    """The media bucket: objects put by the API (Mastodon uploads), PUT URLs signed for clients (chirp's own
    POST /media), and the public URL of a key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None

    @property
    def client(self) -> Any:
        """Made on first use (loading botocore's S3 model takes a moment)."""
        if self._client is None:
            self._client = s3_client(self.settings)
        return self._client

    def _acl(self) -> dict[str, str]:
        return {"ACL": self.settings.s3_object_acl} if self.settings.s3_object_acl else {}

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Stores the object (blocking: call it in a thread)."""
        self.client.put_object(
            Bucket=self.settings.s3_bucket, Key=key, Body=data, ContentType=content_type,
            CacheControl="public, max-age=31536000, immutable", **self._acl(),
        )  # fmt: skip

    def get(self, key: str) -> bytes:
        """The object's bytes (operators and tests; clients read from the public URL)."""
        body = self.client.get_object(Bucket=self.settings.s3_bucket, Key=key)["Body"]
        return bytes(body.read())

    def sign_put(self, key: str, content_type: str, size_bytes: int, now: datetime) -> SignedPut:
        """A presigned PUT of `key`, signed by botocore. Content-Type, Content-Length (and the ACL) are signed
        headers, so storage takes only an object of the declared type and size."""
        ttl = self.settings.s3_presign_ttl_s
        params = {"Bucket": self.settings.s3_bucket, "Key": key, "ContentType": content_type,
                  "ContentLength": size_bytes, **self._acl()}  # fmt: skip
        url = self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=ttl)
        headers = {"Content-Type": content_type, "Content-Length": str(size_bytes)}
        if self.settings.s3_object_acl:
            headers["x-amz-acl"] = self.settings.s3_object_acl
        return SignedPut(url, headers, now + timedelta(seconds=ttl))
