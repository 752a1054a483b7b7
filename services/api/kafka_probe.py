"""Is a Kafka broker answering? One ApiVersions request (v0) over a plain TCP connection.

Cheaper than starting a client per probe, and stronger than a TCP connect:
only a Kafka broker answers with a matching correlation id.
"""

from __future__ import annotations

import asyncio
import struct

_CORRELATION = 0x5057  # "PW"
_CLIENT = b"packwatch-api-ready"
# api_key 18 (ApiVersions), version 0, correlation id, client id (int16 length + bytes)
_REQUEST_BODY = struct.pack(">hhih", 18, 0, _CORRELATION, len(_CLIENT)) + _CLIENT
REQUEST = struct.pack(">i", len(_REQUEST_BODY)) + _REQUEST_BODY


async def _one(host: str, port: int, timeout_s: float) -> bool:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    try:
        writer.write(REQUEST)
        await writer.drain()
        header = await asyncio.wait_for(reader.readexactly(8), timeout_s)
        size, correlation = struct.unpack(">ii", header)
        return bool(size >= 4 and correlation == _CORRELATION)
    finally:
        writer.close()
        await writer.wait_closed()


async def broker_answers(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when any bootstrap server answers an ApiVersions request within ``timeout_s``."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            if await _one(host.strip("[]"), int(port), timeout_s):
                return True
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            continue
    return False
