"""Pure rules of the Mastodon API: the HTML of a status's content, Mastodon's paging, scopes, redirect URIs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.mastodon import scopes
from api.mastodon.apps import redirect_uris
from api.mastodon.models import Account, Status
from api.mastodon.oauth import pkce_ok
from api.mastodon.paging import Paged, Window, link_header, page
from api.mastodon.params import collect
from projections.mastodon_wire import account_json, content_html, status_json, timestamp
from projections.model import TweetView, UserView
from schemas.events import Media

BASE = "https://chirp.example"


def test_content_is_escaped_and_links_urls_mentions_and_tags() -> None:
    c = content_html("<b>hi</b> & @Ada_L, see https://x.example/a?b=1&c=2. #Chirp", {"ada_l": 7}, BASE)
    assert c.html.startswith("<p>&lt;b&gt;hi&lt;/b&gt; &amp; ")
    assert '<a href="https://chirp.example/@Ada_L" class="u-url mention">@<span>Ada_L</span></a>' in c.html
    assert 'href="https://x.example/a?b=1&amp;c=2"' in c.html and "c=2</span></a>." in c.html
    assert (
        '<a href="https://chirp.example/tags/chirp" class="mention hashtag" rel="tag">#<span>Chirp</span></a>' in c.html
    )
    assert c.mentions == [(7, "Ada_L")] and c.tags == ["chirp"]


def test_unknown_mentions_and_non_tags_stay_text_and_nothing_injects_markup() -> None:
    c = content_html('@nobody #123 mail@x.example "><script>alert(1)</script> javascript:alert(1)', {}, BASE)
    assert "<a" not in c.html and "<script" not in c.html and "&lt;script&gt;" in c.html
    assert c.mentions == [] and c.tags == []
    quoted = content_html('https://x.example/"onmouseover="x', {}, BASE).html
    assert 'href="https://x.example/"' in quoted and "onmouseover=" not in quoted.split(">")[0]


def test_paragraphs_and_line_breaks() -> None:
    assert content_html("one\ntwo\n\nthree", {}, BASE).html == "<p>one<br />two</p><p>three</p>"
    assert content_html("(see https://x.example/a_(b)))", {}, BASE).html.count('href="https://x.example/a_(b)"') == 1


def test_account_and_status_match_their_models() -> None:
    user = UserView(7251846523904000, "ada", "Ada")
    account = account_json(user, BASE, followers=2, following=1)
    assert Account.model_validate(account).url == f"{BASE}/@ada"
    view = TweetView(
        7251846523904001,
        user.user_id,
        "hi #x",
        datetime(2025, 1, 2, 3, 4, 5, 678000, UTC),
        media=(Media("https://cdn.example/a.jpg", "image", "a cat"),),
        author=user,
    )
    status = status_json(view, BASE, {})
    Status.model_validate(status)
    assert (
        status["created_at"] == "2025-01-02T03:04:05.678Z" and status["media_attachments"][0]["description"] == "a cat"
    )
    assert status["url"] == f"{BASE}/@ada/7251846523904001" and status["account"]["id"] == "7251846523904000"
    assert timestamp(datetime(2025, 1, 2)) == "2025-01-02T00:00:00.000Z"


def test_paging_window_follows_mastodon() -> None:
    assert Window.of("100", None, None, 100) == Window(100, None, 40, False)  # limit capped at 40
    assert Window.of(None, "5", None) == Window(None, 5, 20, False)  # since_id: newest above
    assert Window.of("100", "5", "7", 3) == Window(100, 7, 3, True)  # min_id wins, read oldest first


async def test_min_id_pages_are_answered_newest_first() -> None:
    async def fetch(w: Window) -> tuple[list[int], bool]:
        ids = [i for i in range(1, 20) if (w.after or 0) < i < (w.before or 99)]
        ids = ids if w.oldest_first else ids[::-1]
        return ids[: w.limit], len(ids) > w.limit

    assert await page(Window.of(None, None, "5", 3), fetch) == Paged([8, 7, 6], True)
    assert await page(Window.of(None, "5", None, 3), fetch) == Paged([19, 18, 17], True)
    assert await page(Window.of("3", None, None, 3), fetch) == Paged([2, 1], False)


def test_link_header_keeps_other_parameters() -> None:
    link = link_header(
        "https://c.example/api/v1/x", [("limit", "2"), ("max_id", "9"), ("only_media", "1")], [8, 6], True
    )
    assert link == (
        '<https://c.example/api/v1/x?limit=2&only_media=1&max_id=6>; rel="next", '
        '<https://c.example/api/v1/x?limit=2&only_media=1&min_id=8>; rel="prev"'
    )
    assert link_header("https://c.example/x", [], [8], False) == '<https://c.example/x?min_id=8>; rel="prev"'
    assert link_header("https://c.example/x", [], [], True) is None


def test_scopes() -> None:
    assert scopes.parse(None) == ("read",) and scopes.parse("read+write read") == ("read", "write")
    assert scopes.parse(["read", "write:statuses"]) == ("read", "write:statuses")
    with pytest.raises(scopes.ScopeError):
        scopes.parse("read admin:all")
    assert scopes.allows({"read"}, ["read:accounts"]) and not scopes.allows({"read"}, ["write:follows"])
    assert scopes.allows({"follow"}, ["write", "write:follows", "follow"])
    assert scopes.allows({"follow"}, ["write:follows"]) and not scopes.allows({"follow"}, ["write:statuses"])
    assert scopes.allows(None, ["write"])  # chirp's own tokens
    assert not scopes.allows({"read:statuses"}, ["read", "read:accounts"])
    assert scopes.within(("read:statuses", "write"), {"read", "write"}) and not scopes.within(("push",), {"read"})


def test_redirect_uris() -> None:
    oob = "urn:ietf:wg:oauth:2.0:oob"
    assert redirect_uris(f"myapp://cb\n{oob}\nhttps://a.example/cb") == ("myapp://cb", oob, "https://a.example/cb")
    assert redirect_uris(["com.example.app:/oauth"]) == ("com.example.app:/oauth",)
    for bad in ("", "relative/path", "https://a.example/#frag", "javascript:alert(1)"):
        with pytest.raises(ValueError):
            redirect_uris(bad)


def test_pkce_s256() -> None:
    # RFC 7636, appendix B
    assert pkce_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not pkce_ok(
        "something else entirely, long enough to be a verifier", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    assert not pkce_ok(None, "x")


def test_form_lists() -> None:
    assert collect([("id[]", "1"), ("id[]", "2"), ("a", "x"), ("a", "y")]) == {"id": ["1", "2"], "a": ["x", "y"]}
