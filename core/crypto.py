"""Encryption of secrets stored in the database (Fleet API tokens), with Fernet from ``cryptography``.

Keys come from ``FIELD_ENCRYPTION_KEYS`` (newest first, so old values still decrypt during a
rotation) or, when unset, from ``SECRET_KEY`` through HKDF, so a bare laptop needs no extra setting.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret no longer decrypts: the keys changed since it was saved."""


def _derived_key() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fleet-cockpit", info=b"field-encryption")
    return base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode()))


def _fernet() -> MultiFernet:
    keys = [key.encode() for key in settings.FIELD_ENCRYPTION_KEYS] or [_derived_key()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted: SECRET_KEY or FIELD_ENCRYPTION_KEYS changed since it was saved. "
            "Enter it again."
        ) from exc
