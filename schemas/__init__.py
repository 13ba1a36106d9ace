"""The contract: Avro schemas, plain event records, the codec, the topic registry and ids.

Imports nothing else from chirp, so every other package (and any analyst) can depend on it.
"""
