"""Payload encryption: AES-256-GCM, the key id in each payload's metadata so keys can rotate.

Temporal keeps every payload (inputs, results, update arguments, failures' messages) in the case's
history for years, readable by anyone with access to the cluster; the case holds health data, so
Spoorwerk encrypts them all before they leave the process. Search attributes and workflow ids are
not payloads and stay readable: they never hold personal data.

Keys come from configuration (`SPOORWERK_ENCRYPTION_KEYS`), never from the repository; the embedded
default generates one into its data folder. To rotate, add a new key and make it the encrypting one
(`SPOORWERK_ENCRYPTION_KEY_ID`); keep the old ones as long as any history holds payloads sealed with
them.

A payload that is not encrypted is refused: anyone who reaches Temporal's port can send an update or
a signal, and only a payload sealed with one of the keys shows that it came from Spoorwerk. The SDK
decodes an activation's payloads before any handler or validator runs, and a codec that raised there
would fail the workflow task on every attempt and wedge the case (every later action and query
refused). So `EncryptionCodec.decode` puts a stand-in in place of an unsealed payload, and the payload
converter of `service.temporal.data_converter` refuses to turn that stand-in into a value
(`UnsealedPayloadError`, naming the payload's encoding): the SDK then rejects a forged update before
its validator and drops a forged signal, and the case goes on. The recordings of `tests/histories`,
written decrypted, replay with `accept_unencrypted_legacy=True` (never in the service). What only shows
a history (the codec endpoint, `decode_message`) reads with `for_reading`: a payload that was never
encrypted (Temporal's own search attributes, headers and patch markers among them) is shown as it is.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import Message
from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import EncodingPayloadConverter, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12
# What decode puts in place of a payload that was not encrypted; its data is the refusal's reason only.
UNSEALED_STAND_IN = "binary/spoorwerk-refused-unsealed"
UNSEALED_ENCODING_METADATA = "unsealed-encoding"


class EncryptionKeyError(ValueError):
    """A key ring that cannot be used, or a payload that cannot be decrypted; the message says why."""


class UnsealedPayloadError(EncryptionKeyError):
    """A payload that is not encrypted where every payload must be: refused, its content unread."""


def unsealed_reason(encoding: bytes) -> str:
    """Why a payload without the encrypted encoding is refused (names the encoding, never the content)."""
    shown = encoding.decode("utf-8", "replace")[:60] or "none"
    return (
        f"payload refused: its encoding is {shown!r}, not {ENCODING.decode()!r}. Payload encryption is on, so "
        "every payload must be sealed with one of SPOORWERK_ENCRYPTION_KEYS; an unencrypted one comes from a "
        "client without the keys (e.g. straight to Temporal's port) and is not taken"
    )


@dataclass(frozen=True)
class KeyRing:
    """The keys a process can decrypt with, and the one it encrypts with."""

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise EncryptionKeyError("no encryption keys")
        for key_id, key in self.keys.items():
            if not key_id or len(key_id) > 64 or not key_id.isprintable() or not key_id.isascii():
                raise EncryptionKeyError(f"key id {key_id!r}: use 1-64 printable ASCII characters")
            if len(key) != KEY_BYTES:
                raise EncryptionKeyError(f"key {key_id!r}: must be {KEY_BYTES} bytes (AES-256), got {len(key)}")
        if self.active not in self.keys:
            raise EncryptionKeyError(
                f"the encrypting key id {self.active!r} is not among the keys ({', '.join(self.keys)})"
            )

    @classmethod
    def parse(cls, keys_json: str, active: str | None = None) -> KeyRing:
        """From `{"key-id": "<base64 of 32 bytes>", …}`; the last key encrypts unless `active` names one."""
        try:
            raw = json.loads(keys_json)
        except json.JSONDecodeError as err:
            raise EncryptionKeyError(f'not JSON ({err.msg}); expected {{"key-id": "<base64 of 32 bytes>"}}') from None
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise EncryptionKeyError('expected a JSON object {"key-id": "<base64 of 32 bytes>"}')
        keys = {}
        for key_id, encoded in raw.items():
            try:
                keys[key_id] = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise EncryptionKeyError(f"key {key_id!r} is not valid base64") from None
        return cls(keys, active or (list(keys)[-1] if keys else ""))

    @classmethod
    def generate(cls, key_id: str = "local-1") -> KeyRing:
        """A ring with one fresh random key."""
        return cls({key_id: secrets.token_bytes(KEY_BYTES)}, key_id)

    def to_json(self) -> str:
        return json.dumps({k: base64.b64encode(v).decode() for k, v in self.keys.items()})

    @classmethod
    def from_file(cls, path: Path, active: str | None = None) -> KeyRing:
        """The embedded default's key ring, created (readable by the owner only) on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside, then linked into place: a reader never sees a half-written ring, and of two threads
            # or processes making one at once (the API and a document render), the first link wins for both.
            aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(cls.generate().to_json())
                os.link(aside, path)
            except FileExistsError:
                pass
            finally:
                aside.unlink(missing_ok=True)
        try:
            return cls.parse(path.read_text("utf-8"), active)
        except EncryptionKeyError as err:
            raise EncryptionKeyError(f"{path}: {err}") from None


class EncryptionCodec(PayloadCodec):
    """Seals each payload (its data and metadata) with AES-GCM; the key id is bound in as associated data.

    `accept_unencrypted_legacy` lets payloads that were never encrypted through as they are: for replaying the
    decrypted recordings in tests/histories and for showing a history (`for_reading`), never for the data
    converter of a running worker or client (see the module).
    """

    def __init__(self, ring: KeyRing, *, accept_unencrypted_legacy: bool = False) -> None:
        self.ring = ring
        self.accept_unencrypted_legacy = accept_unencrypted_legacy
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Each payload opened; an unencrypted one replaced by a stand-in that no converter turns into a value.

        Not raised here: the SDK decodes a whole activation at once, and a failure there would wedge the case.
        """
        return [self._open_or_stand_in(p) for p in payloads]

    def for_reading(self) -> EncryptionCodec:
        """The same keys, to show what a history holds (the codec endpoint, a history written to a file).

        A payload that was never encrypted is shown as it is: Temporal's own (search attributes, headers, the
        SDK core's patch markers) and a forged one alike. Showing decides nothing; the converter that turns
        payloads into values for the worker and the clients never reads with this codec.
        """
        return EncryptionCodec(self.ring, accept_unencrypted_legacy=True)

    def _open_or_stand_in(self, payload: Payload) -> Payload:
        try:
            return self.open(payload)
        except UnsealedPayloadError as err:
            encoding = payload.metadata.get("encoding", b"")
            return Payload(
                metadata={"encoding": UNSEALED_STAND_IN.encode(), UNSEALED_ENCODING_METADATA: encoding[:60]},
                data=str(err).encode(),
            )

    def seal(self, payload: Payload) -> Payload:
        key_id = self.ring.active
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        """The payload sealed in `payload`; UnsealedPayloadError for one that is not encrypted (unless legacy)."""
        if payload.metadata.get("encoding") != ENCODING:
            if self.accept_unencrypted_legacy:
                return payload
            raise UnsealedPayloadError(unsealed_reason(payload.metadata.get("encoding", b"")))
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise EncryptionKeyError(
                f"payload sealed with key id {key_id!r}, which is not among the configured "
                "encryption keys: add it to SPOORWERK_ENCRYPTION_KEYS"
            )
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise EncryptionKeyError(
                f"payload sealed with key id {key_id!r} does not decrypt: the key differs or the payload was altered"
            ) from None
        return Payload.FromString(plain)


class _RefuseUnsealed(EncodingPayloadConverter):
    """Turns the stand-in for an unencrypted payload into the refusal it stands for."""

    @property
    def encoding(self) -> str:
        return UNSEALED_STAND_IN

    def to_payload(self, value: object) -> Payload | None:
        return None  # never makes one: only EncryptionCodec.decode does

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> object:
        # A ValueError, not a RuntimeError: the composite converter would hide the reason behind its own.
        raise UnsealedPayloadError(payload.data.decode("utf-8", "replace"))


# One cache of pydantic TypeAdapters for every converter in the process. The SDK makes a new payload converter for
# each workflow activation and each command's serialization context, and each new one would start with an empty cache
# of its own: a TypeAdapter built anew for most payloads a workflow reads (docs/performance.md).
_TYPE_ADAPTERS = functools.lru_cache(maxsize=1024)(TypeAdapter)


class SealedOnlyPayloadConverter(PydanticPayloadConverter):
    """Pydantic's payload converter, refusing the stand-ins of unencrypted payloads (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        for converter in self.converters.values():
            if isinstance(converter, PydanticJSONPlainPayloadConverter):
                converter._type_adapter = _TYPE_ADAPTERS
        self._set_converters(*self.converters.values(), _RefuseUnsealed())


async def decode_message(message: Message, codec: PayloadCodec) -> None:
    """Decode, in place, every payload inside a protobuf message (e.g. a whole workflow history), to show it.

    With an EncryptionCodec it reads as `for_reading` does: what was never encrypted stays as it is.
    """
    if isinstance(codec, EncryptionCodec) and not codec.accept_unencrypted_legacy:
        codec = codec.for_reading()
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.full_name == "temporal.api.common.v1.Payloads":
            for item in value if _repeated(field) else [value]:
                await codec.decode_wrapper(item)
        elif field.message_type.full_name == "temporal.api.common.v1.Payload":
            if _repeated(field):
                decoded = await codec.decode(list(value))
                del value[:]
                value.extend(decoded)
            else:
                value.CopyFrom((await codec.decode([value]))[0])
        elif field.message_type.GetOptions().map_entry:
            entry_value = field.message_type.fields_by_name["value"]
            if entry_value.message_type is None:
                continue
            if entry_value.message_type.full_name == "temporal.api.common.v1.Payload":
                keys = list(value)
                decoded = await codec.decode([value[k] for k in keys])
                for k, p in zip(keys, decoded):
                    value[k].CopyFrom(p)
            else:
                for k in list(value):
                    await decode_message(value[k], codec)
        elif _repeated(field):
            for item in value:
                await decode_message(item, codec)
        else:
            await decode_message(value, codec)


def _repeated(field) -> bool:
    # protobuf 7 dropped FieldDescriptor.label for is_repeated.
    return field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
