"""Hostile text and URLs are refused at the edge (422); ordinary ones pass, normalized."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.textrules import clean_text, public_https_url
from infra.settings import Settings
from tests.fakes.api import memory_wiring

INVISIBLE_OR_CONTROL = ["\u200b", "\x9b", "\x1b[31mred", "a\tb", "\u3164", "\u200b\u200d\ufeff", " ", "e\u0301\x00"]
BAD_URLS = [
    "http://cdn.example.com/a.jpg",
    "https://169.254.169.254/latest/meta-data/",
    "https://user:pass@127.0.0.1:6379/",
    "https://user@cdn.example.com/a.jpg",
    "https://127.0.0.1/a.jpg",
    "https://127.1/a.jpg",
    "https://2130706433/a.jpg",
    "https://0x7f.0.0.1/a.jpg",
    "https://017700000001/a.jpg",
    "https://[::1]/a.jpg",
    "https://[::ffff:10.0.0.1]/a.jpg",
    "https://10.1.2.3/a.jpg",
    "https://192.168.0.10/a.jpg",
    "https://100.64.0.1/a.jpg",
    "https://0.0.0.0/a.jpg",
    "https://224.0.0.1/a.jpg",
    "https://localhost/a.jpg",
    "https://redis/a.jpg",
    "https://metadata.google.internal/a.jpg",
    "https://printer.local/a.jpg",
    "https://cdn.example.com/a b.jpg",
    "javascript:alert(1)",
    "https://8.8.8.8/x.png",
    "https://CDN.example.com/a.jpg",
    "https://cdn.example.com:8443/a.jpg",
    "https://printer.lan/a.jpg",
]


@pytest.mark.parametrize("text", INVISIBLE_OR_CONTROL)
def test_invisible_or_control_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        clean_text(text, "content", 280, newlines=True)


def test_text_is_nfc_normalized_and_newlines_are_content_only() -> None:
    assert clean_text("cafe\u0301", "content", 280) == "caf\u00e9"
    assert clean_text("two\nlines", "content", 280, newlines=True) == "two\nlines"
    with pytest.raises(ValueError):
        clean_text("two\nlines", "display_name", 50)
    assert clean_text("\u05e9\u05dc\u05d5\u05dd \u200f!", "content", 280) == "\u05e9\u05dc\u05d5\u05dd \u200f!"


@pytest.mark.parametrize("url", BAD_URLS)
def test_private_insecure_or_credentialed_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        public_https_url(url)


@pytest.mark.parametrize("url", ["https://cdn.example.com/a.jpg", "https://xn--bcher-kva.de/b.gif?x=1&y=%20",
                                 "https://media.example.co.uk", "https://a-b.example/v.mp4#t=3"])  # fmt: skip
def test_public_https_urls_pass(url: str) -> None:
    assert public_https_url(url) == url


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Settings(), memory_wiring(Settings())))


def _register(c: TestClient, display_name: str = "Ann") -> tuple[str, dict[str, str]]:
    r = c.post("/users", json={"handle": "ann_" + str(abs(hash(display_name)) % 10_000), "display_name": display_name})
    assert r.status_code == 201, r.text
    return r.json()["user_id"], {"Authorization": f"Bearer {r.json()['token']}"}


def test_the_api_answers_422_to_hostile_text_and_urls(client: TestClient) -> None:
    with client as c:
        user, auth = _register(c)
        for text in ["\u200b", "\x9b", "hi\x1b[2J"]:
            assert c.post("/tweets", json={"user_id": user, "content": text}, headers=auth).status_code == 422
            assert c.post("/users", json={"handle": "zed_1", "display_name": text}).status_code == 422
        for url in BAD_URLS:
            media = [{"url": url, "type": "image"}]
            r = c.post("/tweets", json={"user_id": user, "content": "pic", "media": media}, headers=auth)
            assert r.status_code == 422, url
        cdn = "https://cdn.example.com/a.jpg"
        bads: list[dict[str, object]] = [{"alt_text": "\x1b]0;owned\x07"}, {"size_bytes": 1 << 40}]
        for bad in bads:
            item: list[dict[str, object]] = [{"url": cdn, "type": "image", **bad}]
            r = c.post("/tweets", json={"user_id": user, "content": "pic", "media": item}, headers=auth)
            assert r.status_code == 422, bad
        ok = [{"url": "https://cdn.example.com/a.jpg", "type": "image", "alt_text": "", "size_bytes": 1000}]
        r = c.post("/tweets", json={"user_id": user, "content": "cafe\u0301", "media": ok}, headers=auth)
        assert r.status_code == 201 and r.json()["content"] == "caf\u00e9"
