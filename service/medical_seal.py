"""The bedrijfsarts's notes, sealed a second time: only the bedrijfsarts's read path opens them.

Payload encryption (service.codec) keeps a case's payloads from whoever reads Temporal's database, but
the codec endpoint decrypts every payload for operations, and docs/security.md promises that a bedrijfsarts's
free-text notes are for the bedrijfsarts only. So the note of a bedrijfsarts's action is sealed once
more, with keys of its own (`SPOORWERK_MEDICAL_KEYS`), before the update is sent
(`operations.cases.parsed`, the one path of the API, the dashboard and the CLI). The workflow records
it as it came, `sealed:v1:<key id>:<base64url of nonce and ciphertext>` (domain.models); the codec
endpoint and a dump of the database show that string. Only two readers open it: the API's
`redact_dossier` for a bedrijfsarts caller, and the bedrijfsarts's version of a document (rendered by
the worker, which therefore holds the medical keys too; the point is that neither the codec endpoint nor
the database shows a note). Notes recorded before this change are not sealed and read as they are.

Sealing is deterministic for one request, because a retried request must record (and be compared with)
the very same details as the first attempt (domain.models.retry_refusal): the AES-GCM nonce is an HMAC
of the action id, the actor and the text (a synthetic nonce, see `MedicalSeal.seal`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import lru_cache
from typing import Any, TypeVar

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.models import SEALED_NOTE_PREFIX, Actor, DossierEntry, Role, is_sealed_note
from service.codec import NONCE_BYTES, EncryptionKeyError, KeyRing
from service.settings import Settings, get_settings

log = structlog.get_logger("spoorwerk.medical_seal")

_Entry = TypeVar("_Entry", bound=DossierEntry)


class MedicalSealError(ValueError):
    """A note that cannot be sealed or opened (no keys, a key missing, altered); the message says why, never the note."""


def _subkey(key: bytes, purpose: bytes) -> bytes:
    # One configured key, two uses: never the same key for HMAC and for AES-GCM.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"spoorwerk medical note v1 " + purpose).derive(
        key
    )


def _field(value: str) -> bytes:
    # Length-prefixed, so ("ab", "c") and ("a", "bc") never feed the HMAC the same bytes.
    raw = value.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw


class MedicalSeal:
    """Seals and opens the bedrijfsarts's notes with one key ring (the last key, or the named one, seals)."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._ciphers = {kid: AESGCM(_subkey(key, b"aes-gcm")) for kid, key in ring.keys.items()}
        self._nonce_keys = {kid: _subkey(key, b"nonce") for kid, key in ring.keys.items()}

    def seal(self, text: str, *, action_id: str, actor: Actor) -> str:
        """The note's sealed form; the same action id, actor and text always give the same string."""
        kid = self.ring.active
        # Synthetic nonce (as in SIV): HMAC-SHA256 under a key of its own over the action id, the actor and the
        # text, cut to 96 bits. Safe because AES-GCM breaks only when one nonce seals two *different* texts
        # under one key: here an equal nonce comes from equal inputs, so it seals the same text to the same
        # string (which only shows that a retry is a retry, as the action id already does), and two different
        # texts meet on one nonce with the chance of a 96-bit random collision, the same bound as random
        # nonces (keep a key below 2^32 notes; rotate long before). The action id is in the HMAC, so the same
        # words in two actions seal to different strings and reveal nothing of each other.
        mac = hmac.new(
            self._nonce_keys[kid],
            _field(action_id) + _field(actor.role.value) + _field(actor.id or "") + text.encode("utf-8"),
            hashlib.sha256,
        )
        nonce = mac.digest()[:NONCE_BYTES]
        sealed = self._ciphers[kid].encrypt(nonce, text.encode("utf-8"), self._associated(kid))
        return f"{SEALED_NOTE_PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def unseal(self, note: str) -> str:
        """The text of a sealed note; MedicalSealError (naming the key id) when it cannot be opened."""
        kid, _, encoded = note.removeprefix(SEALED_NOTE_PREFIX).rpartition(":")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise MedicalSealError(f"note sealed with key id {kid!r}, which is not among SPOORWERK_MEDICAL_KEYS")
        try:
            raw = base64.urlsafe_b64decode(encoded.encode("ascii"))
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._associated(kid)).decode("utf-8")
        except (binascii.Error, ValueError, InvalidTag):
            raise MedicalSealError(
                f"note sealed with key id {kid!r} does not open: the key differs or the note was altered"
            ) from None

    def reveal(self, note: Any) -> Any:
        """A note as its reader sees it: a sealed one opened, any other (recorded before sealing) as it is."""
        return self.unseal(note) if is_sealed_note(note) else note

    @staticmethod
    def _associated(kid: str) -> bytes:
        # The key id bound in: a note relabelled to another key id does not open.
        return (SEALED_NOTE_PREFIX + kid).encode("utf-8")


def medical_key_ring(settings: Settings, *, create: bool = True) -> KeyRing:
    """The configured keys; on the embedded default the data folder's (made on first use when `create`)."""
    if settings.medical_keys is not None:
        return KeyRing.parse(settings.medical_keys.get_secret_value(), settings.medical_key_id)
    if not settings.embedded:
        # Every API and worker process of a cluster must hold the same keys: none may make its own.
        raise MedicalSealError(
            "SPOORWERK_MEDICAL_KEYS is required when TEMPORAL_ADDRESS is set: the bedrijfsarts's "
            "notes are sealed with it, and every API and worker process must share the keys"
        )
    path = settings.medical_key_file
    if not path.exists() and not create:
        raise MedicalSealError(
            f"no keys for the bedrijfsarts's notes: {path} does not exist (start the service once, "
            "or set SPOORWERK_MEDICAL_KEYS)"
        )
    try:
        return KeyRing.from_file(path, settings.medical_key_id)
    except EncryptionKeyError as err:
        raise MedicalSealError(str(err)) from None


@lru_cache(maxsize=1)
def current() -> MedicalSeal:
    """The process's seal, from its settings (read once, like get_settings)."""
    return MedicalSeal(medical_key_ring(get_settings()))


def seal_action(payload: dict[str, Any], action: Any) -> tuple[dict[str, Any], Any]:
    """A bedrijfsarts's action with its note sealed (the payload to send and the parsed action alike); any other as it is.

    Call it after the action was admitted with its plain note, so a note too long is refused as ever.
    """
    note = getattr(action, "note", None)
    if note is None or action.actor.role is not Role.BEDRIJFSARTS:
        return payload, action
    sealed = current().seal(note, action_id=action.action_id, actor=action.actor)
    return {**payload, "note": sealed}, action.model_copy(update={"note": sealed})


# What a bedrijfsarts reads where a note does not open (a key missing): the reason, never a guess.
UNREADABLE_NOTE = (
    "[Medische notitie niet te openen: de sleutel {kid!r} ontbreekt of past niet (SPOORWERK_MEDICAL_KEYS).]"
)


def opened_notes(entries: list[_Entry], *, strict: bool = False) -> list[_Entry]:
    """The entries with the bedrijfsarts's sealed notes opened: for the bedrijfsarts's eyes only.

    A note that does not open reads as UNREADABLE_NOTE (logged with its key id), so one missing key does not
    hide a whole dossier; `strict` raises MedicalSealError instead (a document must not be made without it).
    """
    result = []
    seal: MedicalSeal | None = None
    for e in entries:
        note = e.details.get("note")
        if e.actor.role is not Role.BEDRIJFSARTS or not is_sealed_note(note):
            result.append(e)
            continue
        try:
            seal = seal or current()
            text = seal.unseal(note)
        except MedicalSealError as err:
            if strict:
                raise
            kid = note.removeprefix(SEALED_NOTE_PREFIX).rpartition(":")[0]
            log.warning("medical note not opened", seq=e.seq, key_id=kid[:64], reason=str(err)[:200])
            text = UNREADABLE_NOTE.format(kid=kid[:64])
        result.append(e.model_copy(update={"details": {**e.details, "note": text}}))
    return result
