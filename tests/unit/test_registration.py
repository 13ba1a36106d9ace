"""Registration keeps the handle claim and the event in agreement whatever Kafka answers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from api.app import create_app
from infra.accounts import handle_key
from infra.settings import Settings
from schemas.events import UserRegistered
from tests.fakes.accounts import MemoryAccounts
from tests.fakes.api import memory_wiring
from tests.fakes.eventlog import MemoryEventLog


class NoUsers:
    async def users(self, ids: list[int]) -> dict[int, object]:
        return {}


def _client(events: MemoryEventLog, accounts: MemoryAccounts) -> TestClient:
    w = memory_wiring(Settings(), events, accounts)
    w.queries = NoUsers()  # type: ignore[assignment]
    return TestClient(create_app(Settings(), w))


def test_a_registration_kafka_refused_frees_the_handle() -> None:
    events, accounts = MemoryEventLog(), MemoryAccounts()
    with _client(events, accounts) as c:
        events.fail = True
        assert c.post("/users", json={"handle": "ann", "display_name": "Ann"}).status_code == 503
        events.fail = False
        r = c.post("/users", json={"handle": "ann", "display_name": "Ann"})
        assert r.status_code == 201
        assert [e.user_id for e in events.events if isinstance(e, UserRegistered)] == [int(r.json()["user_id"])]


def test_an_ambiguous_registration_keeps_the_claim_and_a_later_one_finishes_it() -> None:
    events, accounts = MemoryEventLog(), MemoryAccounts()
    with _client(events, accounts) as c:
        events.ambiguous = True
        r = c.post("/users", json={"handle": "bob", "display_name": "Bob"})
        assert r.status_code == 503 and "may have been written" in r.json()["detail"]
        events.ambiguous = False
        first = events.events[0]
        assert isinstance(first, UserRegistered)
        # at once: the first request could still be running, so the handle is taken
        assert c.post("/users", json={"handle": "bob", "display_name": "Bob"}).status_code == 409
        accounts.claimed_at[handle_key("bob")] -= timedelta(minutes=1)
        again = c.post("/users", json={"handle": "Bob", "display_name": "Bob"})
        assert again.status_code == 201
        assert int(again.json()["user_id"]) == first.user_id  # one account for the handle, never two
        assert {e.user_id for e in events.events if isinstance(e, UserRegistered)} == {first.user_id}
        assert c.post("/users", json={"handle": "bob", "display_name": "Bob"}).status_code == 409


def test_a_failing_account_record_after_kafka_took_the_event_still_answers_201() -> None:
    events = MemoryEventLog()

    class BrokenRecord(MemoryAccounts):
        async def record_account(self, user_id: int, handle: str) -> None:
            raise ConnectionError("Cassandra went away")

    accounts = BrokenRecord()
    with _client(events, accounts) as c:
        r = c.post("/users", json={"handle": "cyd", "display_name": "Cy"})
        assert r.status_code == 201
        assert accounts.handles[handle_key("cyd")] == int(r.json()["user_id"])  # the claim stays with the event
        assert c.post("/users", json={"handle": "cyd", "display_name": "Cy"}).status_code == 409
