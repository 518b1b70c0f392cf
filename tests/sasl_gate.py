"""A SASL gate: the Kafka authentication handshake in front of a broker.

No broker that can be installed here both requires authentication and lets
a test create its users: Tansu checks SCRAM logins but keeps users in its
storage engine, and the build shipped on PyPI only has memory storage (its
users must be created through the broker, which refuses that once
``--authentication`` is on); noida-db accepts any PLAIN login.  So the
suite puts this gate in front of a Tansu broker that advertises the gate's
address: a client connects here, must pass the SASL handshake exactly as a
Kafka broker runs it (SaslHandshake v0/v1, SaslAuthenticate v0/v1, PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512 as in RFC 5802/7677 and KIP-84/KIP-152), and
only then is its connection piped to the broker.  Before that, only
ApiVersions passes; any other request closes the connection, as Kafka does.
A rejected login gets error 58 (SASL_AUTHENTICATION_FAILED) and a close.

Run as ``python sasl_gate.py PORT UPSTREAM_HOST:PORT USERS_JSON_FILE``; the
users file maps each user name to its password.  It logs nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import struct
import sys

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED = 33, 34, 58
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SCRAM_ITERATIONS = 4096
SESSION_LIFETIME_MS = 0


class LoginFailed(Exception):
    """The client's credentials are wrong; the message goes back to it."""


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def request_header(data: bytes) -> tuple[int, int, int, int]:
    """api_key, api_version, correlation id and where the body starts
    (for the non-flexible v1 header of the SASL requests)."""
    api_key, api_version, correlation_id, client_len = struct.unpack(">hhih", data[:10])
    return api_key, api_version, correlation_id, 10 + max(client_len, 0)


def kafka_string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def kafka_bytes(raw: bytes) -> bytes:
    return struct.pack(">i", len(raw)) + raw


class Scram:
    """The server side of one SCRAM exchange (RFC 5802)."""

    def __init__(self, mechanism: str, users: dict[str, str]) -> None:
        self.hash = hashlib.sha256 if mechanism == "SCRAM-SHA-256" else hashlib.sha512
        self.users = users
        self.expected: tuple[bytes, bytes] | None = None  # stored key, server key
        self.first_bare = self.server_first = self.nonce = ""

    def _hmac(self, key: bytes, message: bytes) -> bytes:
        return hmac.new(key, message, self.hash).digest()

    def first(self, message: str) -> bytes:
        gs2, _, bare = message.split(",", 2) if message.count(",") >= 2 else [""] * 3
        if not gs2.startswith(("n", "y")) or not bare:
            raise LoginFailed("malformed SCRAM client-first message")
        attrs = dict(pair.split("=", 1) for pair in bare.split(",") if "=" in pair)
        user = attrs.get("n", "").replace("=2C", ",").replace("=3D", "=")
        if user not in self.users or "r" not in attrs:
            raise LoginFailed("Authentication failed: Invalid user credentials")

        salt = os.urandom(16)
        salted = hashlib.pbkdf2_hmac(
            self.hash().name, self.users[user].encode(), salt, SCRAM_ITERATIONS
        )
        client_key = self._hmac(salted, b"Client Key")
        self.expected = (
            self.hash(client_key).digest(),
            self._hmac(salted, b"Server Key"),
        )
        self.nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
        self.first_bare = bare
        self.server_first = (
            f"r={self.nonce},s={base64.b64encode(salt).decode()},i={SCRAM_ITERATIONS}"
        )
        return self.server_first.encode()

    def final(self, message: str) -> bytes:
        without_proof, _, proof = message.rpartition(",p=")
        attrs = dict(pair.split("=", 1) for pair in without_proof.split(","))
        if self.expected is None or attrs.get("r") != self.nonce:
            raise LoginFailed("Authentication failed: SCRAM nonce mismatch")
        stored_key, server_key = self.expected
        auth_message = ",".join((self.first_bare, self.server_first, without_proof))
        signature = self._hmac(stored_key, auth_message.encode())
        client_key = bytes(
            a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=False)
        )
        if not hmac.compare_digest(self.hash(client_key).digest(), stored_key):
            raise LoginFailed(
                "Authentication failed during authentication due to invalid "
                "credentials with SASL mechanism SCRAM"
            )
        verifier = self._hmac(server_key, auth_message.encode())
        return f"v={base64.b64encode(verifier).decode()}".encode()


class Login:
    """One client's SASL state: the mechanism, then each token in turn."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.mechanism: str | None = None
        self.scram: Scram | None = None
        self.done = False

    def step(self, token: bytes) -> bytes:
        if self.mechanism == "PLAIN":
            _, user, password = (token.split(b"\0") + [b"", b""])[:3]
            expected = self.users.get(user.decode(errors="replace"))
            if expected is None or not hmac.compare_digest(expected.encode(), password):
                raise LoginFailed("Authentication failed: Invalid username or password")
            self.done = True
            return b""
        if self.scram is None:
            self.scram = Scram(str(self.mechanism), self.users)
            return self.scram.first(token.decode(errors="replace"))
        reply = self.scram.final(token.decode(errors="replace"))
        self.done = True
        return reply


async def handshake(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    upstream_r: asyncio.StreamReader,
    upstream_w: asyncio.StreamWriter,
    users: dict[str, str],
) -> bool:
    """Run the SASL handshake; True once the client is logged in."""
    login = Login(users)
    while True:
        data = await read_frame(client_r)
        api_key, version, correlation, body = request_header(data)
        if api_key == API_VERSIONS:
            upstream_w.write(frame(data))
            client_w.write(frame(await read_frame(upstream_r)))
        elif api_key == SASL_HANDSHAKE and version <= 1:
            (length,) = struct.unpack(">h", data[body : body + 2])
            mechanism = data[body + 2 : body + 2 + length].decode()
            error = 0 if mechanism in MECHANISMS else UNSUPPORTED_SASL_MECHANISM
            login.mechanism = mechanism if error == 0 else None
            listed = b"".join(kafka_string(m) for m in MECHANISMS)
            reply = struct.pack(">ihi", correlation, error, len(MECHANISMS)) + listed
            client_w.write(frame(reply))
        elif api_key == SASL_AUTHENTICATE and version <= 1 and login.mechanism:
            (length,) = struct.unpack(">i", data[body : body + 4])
            token = data[body + 4 : body + 4 + length]
            try:
                error, message, answer = 0, None, login.step(token)
            except LoginFailed as exc:
                error, message, answer = SASL_AUTHENTICATION_FAILED, str(exc), b""
            except (ValueError, UnicodeError):
                error, message, answer = ILLEGAL_SASL_STATE, "malformed token", b""
            reply = struct.pack(">ih", correlation, error)
            reply += kafka_string(message) + kafka_bytes(answer)
            if version >= 1:
                reply += struct.pack(">q", SESSION_LIFETIME_MS)
            client_w.write(frame(reply))
            await client_w.drain()
            if error:
                return False
            if login.done:
                return True
        else:
            return False  # Kafka closes a connection that skips the login
        await client_w.drain()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


async def serve_client(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    upstream: tuple[str, int],
    users: dict[str, str],
) -> None:
    try:
        upstream_r, upstream_w = await asyncio.open_connection(*upstream)
    except OSError:
        client_w.close()
        return
    try:
        if await handshake(client_r, client_w, upstream_r, upstream_w, users):
            await asyncio.gather(pipe(client_r, upstream_w), pipe(upstream_r, client_w))
    except (ConnectionError, asyncio.IncompleteReadError, struct.error):
        pass
    finally:
        for writer in (client_w, upstream_w):
            with contextlib.suppress(Exception):
                writer.close()


async def main(port: int, upstream: str, users: dict[str, str]) -> None:
    host, _, upstream_port = upstream.rpartition(":")
    server = await asyncio.start_server(
        lambda r, w: serve_client(r, w, (host, int(upstream_port)), users),
        "127.0.0.1",
        port,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with open(sys.argv[3]) as f:
        known_users = json.load(f)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], known_users))
