"""A pooled connection that Redis closed (a restart, a failover, an idle `timeout`, CLIENT KILL) is replaced when
the pool hands it out: the next command succeeds instead of failing with "Connection closed by server" (which the
API answered with a 503 for each connection of its pool after every Redis restart)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from infra import redisnodes
from infra.settings import Settings

pytestmark = pytest.mark.integration


def _closed_by_server(admin: Any, client_id: int) -> None:
    """Redis closes that connection, as a restart closes every one."""
    assert admin.execute_command("CLIENT", "KILL", "ID", client_id) == 1


def _seen_closed(client: Any) -> bool:
    """Whether the event loop has taken in the end of every idle connection's stream (as it has by the time a
    process that was waiting for work gets a request): only then can the pool tell the connection is dead."""
    idle = client.connection_pool._available_connections
    return all(c._parser._stream is None or c._parser._stream.at_eof() for c in idle)


async def _dropped_then_used(admin: Any, client: Any, key: str) -> Any:
    await client.set(key, "kept", ex=60)
    _closed_by_server(admin, await client.client_id())
    for _ in range(500):
        if _seen_closed(client):
            break
        await asyncio.sleep(0.01)
    assert _seen_closed(client)
    return await client.get(key)


async def test_the_async_clients_reconnect_a_connection_redis_closed(settings: Settings, redis_client: Any) -> None:
    nodes = redisnodes.connect(settings, socket_timeout=5)
    plain = redisnodes.node_client(settings, None, 0)  # the push hub's kind of client
    key = f"{settings.redis_prefix}conn:{uuid.uuid4().hex}"
    try:
        assert await _dropped_then_used(redis_client, nodes.client, key) == b"kept"
        assert await _dropped_then_used(redis_client, plain, key) == b"kept"
    finally:
        await plain.aclose()
        await nodes.aclose()


def test_the_synchronous_client_reconnects_a_connection_redis_closed(settings: Settings, redis_client: Any) -> None:
    client = redisnodes.connect_sync(settings)
    key = f"{settings.redis_prefix}conn:{uuid.uuid4().hex}"
    try:
        client.set(key, "kept", ex=60)
        _closed_by_server(redis_client, client.client_id())
        assert client.get(key) == b"kept"
    finally:
        client.close()
