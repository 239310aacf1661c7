"""The checkpoint signing key: Ed25519, kept in a file outside the database."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from baton.errors import ConfigError, InputError

#: the variable naming the key file (wins over every default)
KEY_ENV = "BATON_SIGNING_KEY"
#: where the key of a database that is not a file lives (PostgreSQL, in-memory SQLite)
HOME_KEY = Path("~/.baton/signing-key.pem")


def key_path(db: str, environ: Mapping[str, str] | None = None) -> Path:
    """Where the signing key of database `db` lives: $BATON_SIGNING_KEY, else beside a
    SQLite file (`<db>.signing-key.pem`), else ~/.baton/signing-key.pem."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return Path(env[KEY_ENV]).expanduser()
    text = str(db)
    if text.startswith("sqlite:///") and not text.endswith(":memory:"):
        text = text[len("sqlite:///"):]
    elif "://" in text:
        return HOME_KEY.expanduser()
    return Path(text + ".signing-key.pem")


def key_id(public: Ed25519PublicKey) -> str:
    """The key's id: the first 16 hex digits of SHA-256 over its 32 raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo)."""
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The private key in `path`, created (mode 0600) on first use; refuses a key file
    that others can read."""
    if not path.exists():
        if not path.parent.exists():
            raise ConfigError("the signing key's folder does not exist", file=str(path))
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            return load_or_create(path)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return key
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"the signing key may be read by others (mode {mode:o}); run "
                          f"`chmod 600 {path}`", file=str(path))
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ConfigError(f"not a PEM private key ({exc})", file=str(path)) from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError("the signing key is not an Ed25519 key", file=str(path))
    return loaded


def load_public(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file, or an InputError naming the file."""
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such key file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a PEM file ({exc})") from exc
    return load_public_text(text, str(path))


def load_public_text(text: str, where: str = "public key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text, or an InputError naming where it came from."""
    try:
        key = serialization.load_pem_public_key(text.encode())
    except ValueError as exc:
        raise InputError(f"{where}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{where}: not an Ed25519 public key")
    return key


def signature_ok(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """True when `signature` is `public`'s signature of `message`."""
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True
