"""In-memory fakes of the stores and clients, for unit tests only: the API's wiring has no fake defaults,
so a test passes the ones it needs (api.py, accounts.py, eventlog.py), and the projections' unit tests run
against notifications.py and search.py, which keep Cassandra's write-timestamp rules."""
