"""The one place the worker process builds its dependencies."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from infra import cassandra
from infra.settings import Settings
from projections.projector import Projector
from projections.stores.cassandra import CassandraProjections
from projections.stores.redis import RedisTimelines


async def connect(settings: Settings) -> tuple[Projector, RedisTimelines]:
    _, session = await asyncio.to_thread(cassandra.connect, settings, settings.keyspace)
    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10)
    timelines = RedisTimelines(
        client, settings.redis_prefix, settings.timeline_cap, settings.celebrity_threshold, settings.active_window_s
    )
    return Projector(CassandraProjections(session), timelines), timelines
