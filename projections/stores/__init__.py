"""One module per technology: redis.py (timelines, graph cache, hydration), cassandra.py (durable
projections); memory fakes live beside the tests that use them."""
