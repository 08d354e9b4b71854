"""Where rendered documents live: a local folder by default, an S3-compatible bucket by configuration.

One small interface, so the render activity and the download endpoint need not know which. The
case's history keeps only the key and the SHA-256 a store answers with; `get` checks the hash, so a
document changed in the store is refused rather than handed out as the dossier's.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from domain.documents import StoredDocument

if TYPE_CHECKING:
    from service.settings import Settings

# Keys are made by Spoorwerk from opaque ids and order ids; anything else is refused.
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}(/[A-Za-z0-9][A-Za-z0-9._-]{0,150}){1,3}$")


class DocumentStoreError(Exception):
    """The store could not keep or hand out a document (unreachable, missing, or changed)."""


class DocumentNotFound(DocumentStoreError):
    pass


class DocumentStore(Protocol):
    def put(self, key: str, data: bytes, media_type: str) -> StoredDocument:
        """Keep `data` under `key` (replacing what was there) and say where and with which hash."""
        ...

    def get(self, stored: StoredDocument) -> bytes:
        """The document's bytes, checked against its recorded hash."""
        ...


def check_key(key: str) -> str:
    """A key is relative, made of safe segments: no '..', no absolute paths, no odd characters."""
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"document key {key!r} is not a valid key (segments of letters, digits, '.', '_' and '-')")
    return key


def _stored(key: str, data: bytes, media_type: str) -> StoredDocument:
    return StoredDocument(key=key, media_type=media_type, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def _verified(stored: StoredDocument, data: bytes) -> bytes:
    if hashlib.sha256(data).hexdigest() != stored.sha256:
        raise DocumentStoreError(f"document {stored.key}: its content no longer matches the hash in the dossier")
    return data


class LocalFolderStore:
    """Documents as files under one folder, readable by the service's user only."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalFolderStore({str(self.root)!r})"

    def put(self, key: str, data: bytes, media_type: str) -> StoredDocument:
        path = self.root / check_key(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Write then rename: a reader never sees half a document, a crash never leaves one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return _stored(key, data, media_type)

    def get(self, stored: StoredDocument) -> bytes:
        path = self.root / check_key(stored.key)
        try:
            return _verified(stored, path.read_bytes())
        except FileNotFoundError:
            raise DocumentNotFound(f"document {stored.key} is not in the store at {self.root}") from None


class S3Store:
    """Documents as objects in an S3-compatible bucket (AWS, MinIO, Ceph…), under a prefix."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        server_side_encryption: str | None = None,
        client=None,
    ) -> None:
        import boto3  # only when configured: the local default needs no AWS libraries loaded

        self.bucket, self.prefix, self.sse = bucket, prefix, server_side_encryption
        # Credentials come the usual AWS ways (AWS_ACCESS_KEY_ID…, a profile, an instance role).
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def put(self, key: str, data: bytes, media_type: str) -> StoredDocument:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"ServerSideEncryption": self.sse} if self.sse else {}
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self.prefix + check_key(key), Body=data, ContentType=media_type, **extra
            )
        except (BotoCoreError, ClientError) as err:
            raise DocumentStoreError(f"document {key}: the bucket {self.bucket} did not take it: {err}") from err
        return _stored(key, data, media_type)

    def get(self, stored: StoredDocument) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + check_key(stored.key))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise DocumentNotFound(f"document {stored.key} is not in the bucket {self.bucket}") from None
            raise DocumentStoreError(f"document {stored.key}: the bucket {self.bucket} answered {err}") from err
        except BotoCoreError as err:
            raise DocumentStoreError(f"document {stored.key}: the bucket {self.bucket} is unreachable: {err}") from err
        return _verified(stored, answer["Body"].read())


def store_from_settings(settings: Settings) -> DocumentStore:
    """The document store the settings name: the local folder, or the S3 bucket."""
    if settings.document_store == "s3":
        assert settings.s3_bucket is not None  # the settings refuse s3 without a bucket
        return S3Store(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            server_side_encryption=settings.s3_server_side_encryption,
        )
    return LocalFolderStore(settings.documents_dir or settings.data_dir / "documents")
