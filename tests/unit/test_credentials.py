"""The security settings become the clients' arguments (Kafka TLS/SASL, Cassandra login and TLS)."""

from __future__ import annotations

from cassandra.auth import PlainTextAuthProvider

from infra.cassandra import credentials
from infra.kafka import security
from infra.settings import Settings
from streams.app import broker_credentials


def test_plaintext_by_default() -> None:
    assert security(Settings()) == {"security_protocol": "PLAINTEXT"}
    assert credentials(Settings()) == {}
    assert broker_credentials(Settings()) is None


def test_sasl_ssl_for_kafka_clients_and_faust() -> None:
    s = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                 kafka_sasl_username="chirp", kafka_sasl_password="pw")  # fmt: skip
    config = security(s)
    assert config["security_protocol"] == "SASL_SSL" and config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert config["sasl_plain_username"] == "chirp" and config["sasl_plain_password"] == "pw"
    assert config["ssl_context"] is not None
    faust_credentials = broker_credentials(s)
    assert faust_credentials.username == "chirp" and faust_credentials.ssl_context is not None


def test_cassandra_login() -> None:
    extra = credentials(Settings(cassandra_username="chirp", cassandra_password="pw"))
    assert isinstance(extra["auth_provider"], PlainTextAuthProvider)
    assert extra["auth_provider"].username == "chirp"
