"""With Kafka stopped, writes get 503 and nothing is half-written; every 2xx is in the log, no 503 is."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from tests.integration.support import chirp_cli, decoded, register

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]


def test_writes_get_503_while_kafka_is_down(api: TestClient, settings: Settings, uniq: str) -> None:
    uid, auth = register(api, f"k{uniq}")
    outcomes: dict[str, int] = {}

    def post(tag: str) -> int:
        content = f"{uniq}-{tag}"
        code: int = api.post("/tweets", headers=auth, json={"user_id": uid, "content": content}).status_code
        outcomes[content] = code
        return code

    assert post("before") == 201
    stopped = chirp_cli("down", "--only", "kafka")
    assert stopped.returncode == 0, stopped.stderr
    try:
        for i in range(3):
            assert post(f"down-{i}") == 503
        r = api.post("/users", json={"handle": f"late{uniq}", "display_name": "Late"})
        assert r.status_code == 503 and "nothing was written" in r.json()["detail"]
        assert api.get("/readyz").json()["checks"]["kafka"] is False
    finally:
        started = chirp_cli("up", "--only", "kafka")
        assert started.returncode == 0, started.stdout + started.stderr

    deadline = time.monotonic() + 90
    attempt = 0
    while post(f"after-{attempt}") != 201:  # the producer reconnects on its own
        assert time.monotonic() < deadline, "writes did not recover after Kafka came back"
        attempt += 1
    # The handle refused during the outage was not left claimed.
    assert api.post("/users", json={"handle": f"late{uniq}", "display_name": "Late"}).status_code == 201

    logged = {e["content"] for e in decoded(settings, "tweets") if e["author_id"] == int(uid)}
    assert logged == {c for c, code in outcomes.items() if code == 201}
    assert not logged & {c for c, code in outcomes.items() if code == 503}
