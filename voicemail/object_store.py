"""Voicemail and recordings as objects in S3-compatible storage (AWS S3, Aliyun OSS, MinIO).

`ObjectVault` is a `Vault` whose sealed files are objects under `s3://bucket/prefix/`: the same
AES-GCM sealing under `VOICEMAIL_KEY`, bound to the message id, happens here before a byte
leaves the host, so the storage provider only ever holds ciphertext. A store uploads the whole
object (with its MD5, so the server refuses a body damaged on the way), then downloads it again
and checks its SHA-256 and its tag, exactly as the folder vault reads its file back; only then
may Twilio's copy be deleted. Every host that has the bucket and the key plays every message.

A bucket that cannot be reached (network, credentials, a missing bucket, a 5xx) raises
`StorageUnavailable`: processing keeps Twilio's copy, pages the supervisors and tries again,
as it does for a full disk. A missing object is `AudioMissing`, as a missing file is.

Settings (docs/storage.md): a target is `s3://bucket/prefix` (`HOTLINE_STORAGE` for the first,
`HOTLINE_STORAGE_COPY` for the second); the endpoint, region and keys come from `HOTLINE_S3_*`,
else the usual `AWS_*` variables, else boto3's own chain (a profile, an instance role).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, TypeVar

from voicemail.vault import (
    SUFFIX,
    AudioMissing,
    StorageUnavailable,
    Vault,
    VaultError,
)

SCHEME = "s3://"
# S3's and OSS's bucket names: 3-63 lower-case letters, digits, dots and dashes.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._/-]*$")
ADDRESSING = ("auto", "path", "virtual")
# S3's answers that mean "no such object" rather than "the store is not working".
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})

T = TypeVar("T")


@dataclass(frozen=True)
class ObjectStoreSettings:
    """How to reach the S3-compatible service: endpoint, region, keys, addressing, patience."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    # MinIO and moto take either; Aliyun OSS needs virtual-hosted (bucket.endpoint) names.
    addressing: str = "auto"
    # Tries of one request (boto3's standard retry mode) and each connection's time-out.
    attempts: int = 3
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ObjectStoreSettings:
        """Read HOTLINE_S3_* settings, each falling back to its usual AWS_* variable."""

        def first(*names: str) -> str | None:
            return next((env[name] for name in names if env.get(name)), None)

        addressing = (first("HOTLINE_S3_ADDRESSING") or "auto").lower()
        if addressing not in ADDRESSING:
            raise ValueError(f"HOTLINE_S3_ADDRESSING must be one of {', '.join(ADDRESSING)}")
        try:
            attempts = int(first("HOTLINE_S3_ATTEMPTS") or 3)
            timeout_s = float(first("HOTLINE_S3_TIMEOUT_S") or 10)
        except ValueError:
            raise ValueError("HOTLINE_S3_ATTEMPTS and HOTLINE_S3_TIMEOUT_S are numbers") from None
        return cls(
            endpoint_url=first(
                "HOTLINE_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"
            ),
            region=first("HOTLINE_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
            access_key_id=first("HOTLINE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
            secret_access_key=first("HOTLINE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
            addressing=addressing,
            attempts=max(1, attempts),
            timeout_s=timeout_s,
        )


@dataclass(frozen=True)
class Location:
    """A bucket and the prefix (empty, or ending in "/") the objects are kept under."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> Location:
        """Read `s3://bucket/prefix`, refusing what no S3-compatible service would take."""
        if not url.startswith(SCHEME):
            raise ValueError(f"not an s3:// location: {url!r}")
        bucket, _, prefix = url[len(SCHEME) :].partition("/")
        if not _BUCKET.match(bucket):
            raise ValueError(f"not a valid bucket name in {url!r}")
        prefix = prefix.strip("/")
        if not _PREFIX.match(prefix) or ".." in prefix.split("/"):
            raise ValueError(f"not a valid prefix in {url!r}")
        return cls(bucket, f"{prefix}/" if prefix else "")

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}"


def is_object_location(where: str | Path | None) -> bool:
    """Whether a storage target names object storage rather than a folder."""
    return isinstance(where, str) and where.startswith(SCHEME)


_clients: dict[ObjectStoreSettings, Any] = {}


def connect(settings: ObjectStoreSettings) -> Any:
    """An S3 client for the settings, one per process (boto3's clients are thread-safe)."""
    if settings in _clients:
        return _clients[settings]
    # boto3 is loaded only by processes that keep audio in object storage: it takes a while.
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.timeout_s,
        read_timeout=settings.timeout_s,
        retries={"max_attempts": settings.attempts, "mode": "standard"},
        s3={"addressing_style": settings.addressing},
        # The newer default checksums (CRC trailers) are not spoken by every S3-compatible
        # service (OSS, older MinIO): this module sends Content-MD5 and checks SHA-256 itself.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region or "us-east-1",
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        config=config,
    )
    _clients[settings] = client
    return client


def open_target(
    where: str | Path, key: str | bytes, *, settings: ObjectStoreSettings | None = None
) -> Vault:
    """The vault a storage target names: a bucket for `s3://...`, else a folder."""
    if is_object_location(where):
        assert isinstance(where, str)
        return ObjectVault(connect(settings or ObjectStoreSettings()), Location.parse(where), key)
    return Vault(Path(where), key)


def bucket_trouble(target: str, settings: ObjectStoreSettings) -> str | None:
    """Why a bucket target cannot be used now (unreachable, no such bucket, refused), or None."""
    from botocore.exceptions import BotoCoreError, ClientError

    location = Location.parse(target)
    client = connect(settings)
    try:
        client.head_bucket(Bucket=location.bucket)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        why = "no such bucket" if code in _NOT_FOUND else f"refused ({code or error})"
        return f"voicemail storage {location} at {client.meta.endpoint_url}: {why}"
    except BotoCoreError as error:
        return f"voicemail storage {location} unreachable at {client.meta.endpoint_url}: {error}"
    return None


class ObjectVault(Vault):
    """Sealed voicemail files as objects in one bucket under one prefix."""

    def __init__(self, client: Any, location: Location, key: str | bytes, *, suffix: str = SUFFIX):
        super().__init__(location.prefix or ".", key, suffix=suffix)
        self.client = client
        self.location = location
        # Object keys are built like paths under the prefix; nothing here touches the disk.
        self.folder = PurePosixPath(location.prefix)

    @property
    def where(self) -> str:
        """The bucket and prefix, and the endpoint when it is not AWS's."""
        endpoint = self.client.meta.endpoint_url
        return f"{self.location} at {endpoint}"

    def path(self, message_id: str) -> PurePosixPath:
        """The object key a message's audio is kept under."""
        return PurePosixPath(f"{self.location.prefix}{self._name(message_id)}")

    def _request(self, what: str, message_id: str, call: Callable[..., T], **params: Any) -> T:
        """Make one S3 request, its failures turned into the vault's errors."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call(Bucket=self.location.bucket, **params)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND:
                raise AudioMissing(f"voicemail {message_id}: no stored audio") from None
            raise StorageUnavailable(
                f"object storage {self.where}: cannot {what} {message_id} ({code or error})"
            ) from error
        except BotoCoreError as error:
            raise StorageUnavailable(
                f"object storage {self.where} unreachable: cannot {what} {message_id} ({error})"
            ) from error

    def _put(self, message_id: str, blob: bytes) -> PurePath:
        """Upload a sealed file whole (S3 shows an object whole or not at all); return its key."""
        key = self.path(message_id)
        self._request(
            "store",
            message_id,
            self.client.put_object,
            Key=str(key),
            Body=blob,
            # The server refuses a body that does not match: nothing half-sent is kept.
            ContentMD5=base64.b64encode(hashlib.md5(blob, usedforsecurity=False).digest()).decode(),
            ContentType="application/octet-stream",
        )
        return key

    def _read_file(self, message_id: str) -> bytes:
        """Download a message's sealed file."""
        answer = self._request(
            "read", message_id, self.client.get_object, Key=str(self.path(message_id))
        )
        body = answer["Body"]
        try:
            return self._request("read", message_id, lambda **_: body.read())
        finally:
            body.close()

    def _head(self, message_id: str) -> dict[str, Any] | None:
        """The object's metadata, or None when there is no such object."""
        try:
            return self._request(
                "look up", message_id, self.client.head_object, Key=str(self.path(message_id))
            )
        except AudioMissing:
            return None

    def exists(self, message_id: str) -> bool:
        """Tell whether a message has a stored object."""
        return self._head(message_id) is not None

    def delete(self, message_id: str) -> bool:
        """Delete a message's object; return False when there was none."""
        # S3's delete answers the same whether or not the object existed: ask first.
        if self._head(message_id) is None:
            return False
        self._request(
            "delete", message_id, self.client.delete_object, Key=str(self.path(message_id))
        )
        return True

    def message_ids(self) -> list[str]:
        """Return the ids of every message stored directly under the prefix."""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._request(
            "list",
            "messages",
            lambda **params: list(paginator.paginate(**params)),
            Prefix=self.location.prefix,
            Delimiter="/",
        )
        ids = []
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"][len(self.location.prefix) :]
                if name.endswith(self.suffix) and not name.startswith("."):
                    ids.append(name[: -len(self.suffix)])
        return sorted(ids)

    def modified_at(self, message_id: str) -> float:
        """When a message's object was written (epoch seconds)."""
        head = self._head(message_id)
        if head is None:
            raise AudioMissing(f"voicemail {message_id}: no stored audio")
        return head["LastModified"].timestamp()

    def beside(self, name: str, *, suffix: str) -> ObjectVault:
        """A vault under a sub-prefix with the same key, for another kind of recording."""
        if not _PREFIX.match(name) or "/" in name or not name.strip("."):
            raise VaultError(f"not a valid sub-prefix: {name!r}")
        below = Location(self.location.bucket, f"{self.location.prefix}{name}/")
        return ObjectVault(self.client, below, self._key, suffix=suffix)
