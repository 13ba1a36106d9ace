"""The local Kafka, Cassandra and Redis that `make up` starts (see launcher.py)."""
