"""Reasoning the client carries for us: sealed into `encrypted_content`, opened when it comes back.

A client that keeps no server state (`store: false`, as Codex runs) asks for
`include: ["reasoning.encrypted_content"]` and sends the reasoning items back on the next turn. The
bridge seals the reasoning text with a server-side key (Fernet: AES-CBC + HMAC-SHA256, from the
`cryptography` package), so the blob is opaque to the client and any change to it is detected.

The key comes from `BRIDGE_REASONING_KEY` (any string; shared by every replica), else from a key file
in the state directory, created on first use, so that restarts agree (`--workers N`: the supervisor reads
or makes it before forking and hands it to the workers).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import InvalidRequest

PREFIX = "obr1:"  # marks our blobs, so a foreign one (e.g. OpenAI's own) gets a clear error


class ReasoningVault:
    def __init__(self, secret: bytes) -> None:
        self._key = base64.urlsafe_b64encode(hashlib.sha256(b"openai-bridge reasoning\0" + secret).digest())
        self._cipher: Any = None

    def _fernet(self) -> Any:
        # Loaded on first use: `cryptography` brings OpenSSL (~6 MB) that most deployments never need.
        if self._cipher is None:
            from cryptography.fernet import Fernet

            self._cipher = Fernet(self._key)
        return self._cipher

    def seal(self, text: str) -> str:
        token: bytes = self._fernet().encrypt(text.encode())
        return PREFIX + token.decode()

    def open(self, blob: str, param: str = "encrypted_content") -> str:
        """The reasoning text in `blob`; `InvalidRequest` naming `param` if it is not ours or was changed."""
        from cryptography.fernet import InvalidToken

        if not isinstance(blob, str) or not blob.startswith(PREFIX):
            raise InvalidRequest(
                f"'{param}' was not produced by this bridge (reasoning from another provider cannot be replayed "
                "here; drop the item or its encrypted_content).",
                param=param, code="invalid_encrypted_content",
            )
        token = blob[len(PREFIX):].encode()
        try:
            # Lenient base64 would ignore bytes after the padding: any change to the blob must fail.
            if base64.urlsafe_b64encode(base64.urlsafe_b64decode(token)) != token:
                raise ValueError("not canonical base64")
            plain: bytes = self._fernet().decrypt(token)
            return plain.decode()
        except (InvalidToken, ValueError, UnicodeDecodeError) as exc:
            raise InvalidRequest(
                f"'{param}' failed authentication: it was changed, truncated, or sealed with another key.",
                param=param, code="invalid_encrypted_content",
            ) from exc


def load_secret(env_secret: str | None, state_dir: Path) -> bytes:
    """The configured secret, or the one in `state_dir/reasoning.key` (made on first use, mode 0600).

    Processes that start together on one state directory all get the same key: the file appears complete
    or not at all (written to a temporary file, then published with `link`, which never replaces an
    existing key: who comes second reads the first one's)."""
    if env_secret:
        return env_secret.encode("utf-8", "surrogateescape")
    path = state_dir / "reasoning.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    state_dir.mkdir(parents=True, exist_ok=True)
    secret = base64.urlsafe_b64encode(os.urandom(32))
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".reasoning.key.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process published its key first: use that one
            return path.read_bytes().strip()
    finally:
        os.unlink(tmp)
    dir_fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)  # the new name too survives a crash
    finally:
        os.close(dir_fd)
    return secret
