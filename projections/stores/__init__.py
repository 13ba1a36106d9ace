"""One module per technology: redis.py (timelines, graph cache, hydration), cassandra.py (durable
projections); the in-memory fakes unit tests use are in tests/fakes/."""
