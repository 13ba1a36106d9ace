"""The local Kafka, Cassandra and Redis that `make up` starts (launcher.py), and what they need installed
(provision.py)."""
