"""The Mastodon client API (api/mastodon/) against the real services: discovery, applications (form and JSON),
registration with an application's token, the password and authorization-code (PKCE) grants, scopes, revocation,
accounts, follows and relationships, an account's statuses paged by Link headers, CORS."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from infra.settings import Settings
from tests.integration.support import WorkerProcess, wait_idle

pytestmark = pytest.mark.integration

OOB = "urn:ietf:wg:oauth:2.0:oob"
Client = TestClient | httpx.Client


def make_app(c: Client, scopes: str = "read write follow push", redirect: str = OOB, form: bool = True) -> Any:
    body = {"client_name": "chirp tests", "redirect_uris": redirect, "scopes": scopes, "website": "https://x.example"}
    r = c.post("/api/v1/apps", data=body) if form else c.post("/api/v1/apps", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def app_token(c: Client, app: dict[str, Any], scope: str = "read write follow push") -> str:
    r = c.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": scope,
        },
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def register(c: Client, app: dict[str, Any], username: str, password: str = "correct horse") -> dict[str, Any]:
    token = app_token(c, app, " ".join(app["scopes"]))
    r = c.post(
        "/api/v1/accounts",
        headers=bearer(token),
        data={
            "username": username,
            "email": f"{username}@mail.example",
            "password": password,
            "agreement": "1",
            "locale": "en",
        },
    )
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def password_login(c: Client, app: dict[str, Any], username: str, password: str, scope: str) -> httpx.Response:
    return c.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": username,
            "password": password,
            "scope": scope,
        },
    )


def test_instance_and_discovery(api: TestClient, uniq: str) -> None:
    v1 = api.get("/api/v1/instance").json()
    assert v1["version"].startswith("4.3.0 (compatible; chirp ")
    assert v1["urls"]["streaming_api"] == "ws://testserver"
    assert v1["configuration"]["statuses"]["max_characters"] == 280
    v2 = api.get("/api/v2/instance").json()
    assert v2["configuration"]["urls"]["streaming"] == "ws://testserver" and v2["api_versions"]["mastodon"] < 2
    assert v2["configuration"]["media_attachments"]["image_size_limit"] == 5 * 1024 * 1024
    meta = api.get("/.well-known/oauth-authorization-server").json()
    assert {"password", "authorization_code", "client_credentials"} <= set(meta["grant_types_supported"])
    assert meta["code_challenge_methods_supported"] == ["S256"] and "read:statuses" in meta["scopes_supported"]
    assert meta["token_endpoint"] == "http://testserver/oauth/token"
    links = api.get("/.well-known/nodeinfo").json()["links"]
    assert links[0]["href"] == "http://testserver/nodeinfo/2.0"
    assert api.get("/nodeinfo/2.0").json()["software"]["name"] == "chirp"

    app = make_app(api)
    register(api, app, f"wf{uniq}")
    r = api.get("/.well-known/webfinger", params={"resource": f"acct:wf{uniq}@testserver"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jrd+json"), r.text
    assert r.json()["subject"] == f"acct:wf{uniq}@testserver"
    assert api.get("/.well-known/webfinger", params={"resource": f"acct:wf{uniq}@elsewhere"}).status_code == 404
    assert api.get("/avatars/original/missing.png").content.startswith(b"\x89PNG")


def test_apps_take_forms_and_json(api: TestClient) -> None:
    form = make_app(api, "read write", "myapp://oauth-callback\nhttps://client.example/cb")
    assert form["redirect_uris"] == ["myapp://oauth-callback", "https://client.example/cb"]
    assert form["scopes"] == ["read", "write"] and form["client_id"] and form["client_secret"]
    plain = api.post("/api/v1/apps", json={"client_name": "json", "redirect_uris": [OOB]}).json()
    assert plain["scopes"] == ["read"] and plain["redirect_uri"] == OOB  # scopes default to read
    bad = api.post("/api/v1/apps", json={"client_name": "x"})
    assert bad.status_code == 422 and "redirect_uris" in bad.json()["error"]
    assert (
        api.post("/api/v1/apps", data={"client_name": "x", "redirect_uris": OOB, "scopes": "root"}).status_code == 422
    )
    token = app_token(api, form, "read")
    r = api.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert r.status_code == 200 and r.json()["name"] == "chirp tests" and "client_secret" not in r.json()
    wide = api.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": form["client_id"],
            "client_secret": form["client_secret"],
            "scope": "push",
        },
    )
    assert wide.status_code == 400 and wide.json()["error"] == "invalid_scope"  # more than the app registered
    wrong = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": form["client_id"], "client_secret": "nope"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_register_log_in_scopes_and_revoke(api: TestClient, uniq: str) -> None:
    app = make_app(api)
    name = f"ma{uniq}"
    token = register(api, app, name)
    assert token["token_type"] == "Bearer" and set(token["scope"].split()) == {"read", "write", "follow", "push"}
    me = api.get("/api/v1/accounts/verify_credentials", headers=bearer(token["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == name and me.json()["source"]["privacy"] == "public"

    again = api.post(
        "/api/v1/accounts",
        headers=bearer(app_token(api, app)),
        data={
            "username": name.upper(),
            "email": f"other{uniq}@mail.example",
            "password": "whatever1",
            "agreement": "1",
        },
    )
    assert again.status_code == 409 and again.json()["details"]["username"][0]["error"] == "ERR_TAKEN"
    unagreed = api.post(
        "/api/v1/accounts",
        headers=bearer(app_token(api, app)),
        data={"username": f"x{uniq}", "email": f"x{uniq}@mail.example", "password": "whatever1", "agreement": "0"},
    )
    assert unagreed.status_code == 422 and unagreed.json()["details"]["agreement"][0]["error"] == "ERR_ACCEPTED"
    user_token = token["access_token"]
    assert api.post("/api/v1/accounts", headers=bearer(user_token), data={}).status_code == 422  # not an app's token

    by_email = password_login(api, app, f"{name}@MAIL.example", "correct horse", "read write follow push")
    assert by_email.status_code == 200 and by_email.json()["scope"] == "read write follow push"
    by_handle = password_login(api, app, name, "correct horse", "read")
    assert by_handle.status_code == 200 and by_handle.json()["scope"] == "read"
    bad = password_login(api, app, name, "wrong password", "read")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"

    read_only = bearer(by_handle.json()["access_token"])
    assert api.get("/api/v1/accounts/verify_credentials", headers=read_only).status_code == 200
    other = register(api, app, f"mb{uniq}")
    other_id = api.get("/api/v1/accounts/verify_credentials", headers=bearer(other["access_token"])).json()["id"]
    refused = api.post(f"/api/v1/accounts/{other_id}/follow", headers=read_only)
    assert refused.status_code == 403 and refused.json() == {"error": "This action is outside the authorized scopes"}
    # chirp's own routes keep to the token's scopes too
    assert api.post("/tweets", headers=read_only, json={"user_id": me.json()["id"], "content": "x"}).status_code == 403
    missing = api.get("/api/v1/accounts/verify_credentials")
    assert missing.status_code == 401 and "error" in missing.json()
    assert api.get("/api/v1/accounts/verify_credentials", headers=bearer("nope")).status_code == 401

    revoke = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    assert api.post("/oauth/revoke", data={**revoke, "token": by_handle.json()["access_token"]}).json() == {}
    assert api.get("/api/v1/accounts/verify_credentials", headers=read_only).status_code == 401
    other_app = make_app(api)
    foreign = {"client_id": other_app["client_id"], "client_secret": other_app["client_secret"]}
    assert api.post("/oauth/revoke", data={**foreign, "token": user_token}).status_code == 403


def _verifier() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def test_authorization_code_with_pkce_through_the_html_form(base_url: str, uniq: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as c:
        app = make_app(c, "read write follow", "myapp://callback\n" + OOB)
        register(c, app, f"pk{uniq}", "sesame open 1")
        verifier, challenge = _verifier()
        query = {
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": "myapp://callback",
            "scope": "read write",
            "state": "xyz",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        page = c.get("/oauth/authorize", params=query)
        assert page.status_code == 200 and "chirp tests" in page.text and "<script" not in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
        wrong = c.post("/oauth/authorize", data={**hidden, "username": f"pk{uniq}", "password": "nope"})
        assert wrong.status_code == 200 and "Wrong" in wrong.text
        ok = c.post(
            "/oauth/authorize",
            data={**hidden, "username": f"pk{uniq}@mail.example", "password": "sesame open 1", "decision": "approve"},
        )
        assert ok.status_code == 302, ok.text
        sent = urlsplit(ok.headers["location"])
        assert sent.scheme == "myapp" and parse_qs(sent.query)["state"] == ["xyz"]
        code = parse_qs(sent.query)["code"][0]
        exchange = {
            "grant_type": "authorization_code",
            "client_id": app["client_id"],
            "code": code,
            "redirect_uri": "myapp://callback",
        }
        r = c.post("/oauth/token", data={**exchange, "code_verifier": verifier})  # a public client: no secret
        assert r.status_code == 200, r.text
        assert r.json()["scope"] == "read write"
        me = c.get("/api/v1/accounts/verify_credentials", headers=bearer(r.json()["access_token"]))
        assert me.status_code == 200 and me.json()["username"] == f"pk{uniq}"
        used = c.post("/oauth/token", data={**exchange, "code_verifier": verifier})
        assert used.status_code == 400 and used.json()["error"] == "invalid_grant"  # a code is redeemed once

        # a wrong verifier, and the out-of-band redirect that shows the code
        oob = {**query, "redirect_uri": OOB, "code_challenge": _verifier()[1]}
        hidden = dict(re.findall(r'name="([^"]+)" value="([^"]*)">', c.get("/oauth/authorize", params=oob).text))
        shown = c.post("/oauth/authorize", data={**hidden, "username": f"pk{uniq}", "password": "sesame open 1"})
        assert shown.status_code == 200
        code = re.findall(r"<code>([^<]+)</code>", shown.text)[0]
        bad = c.post(
            "/oauth/token",
            data={
                **exchange,
                "code": code,
                "redirect_uri": OOB,
                "code_verifier": verifier,
                "client_secret": app["client_secret"],
            },
        )
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
        unknown = c.get("/oauth/authorize", params={**query, "redirect_uri": "https://evil.example/"})
        assert unknown.status_code == 403  # never a redirect to a URI the app did not register


def test_accounts_follows_relationships_and_statuses_paging(
    api: TestClient, settings: Settings, worker: WorkerProcess, uniq: str
) -> None:
    app = make_app(api)
    ann = bearer(register(api, app, f"ann{uniq}")["access_token"])
    bob = bearer(register(api, app, f"bob{uniq}")["access_token"])
    ann_id = api.get("/api/v1/accounts/verify_credentials", headers=ann).json()["id"]
    bob_id = api.get("/api/v1/accounts/verify_credentials", headers=bob).json()["id"]
    found = api.get("/api/v1/accounts/lookup", params={"acct": f"BOB{uniq}@testserver"})
    assert found.status_code == 200 and found.json()["id"] == bob_id
    assert api.get("/api/v1/accounts/lookup", params={"acct": f"nobody{uniq}"}).status_code == 404
    assert api.get("/api/v1/accounts/9000").json() == {"error": "Record not found"}

    r = api.post(f"/api/v1/accounts/{bob_id}/follow", headers=ann)
    assert r.status_code == 200 and r.json()["following"] is True and r.json()["id"] == bob_id
    assert "x-ratelimit-remaining" not in r.headers  # tests run with limits off (test_rate_limits covers them)
    tweets = [
        api.post(
            "/tweets", headers=bob, json={"user_id": bob_id, "content": f"#n{i} hi @ann{uniq} https://x.example/{i}"}
        )
        for i in range(5)
    ]
    assert all(t.status_code == 201 for t in tweets), tweets[0].text
    ids = [int(t.json()["tweet_id"]) for t in tweets]
    wait_idle(settings, worker)

    rel = api.get("/api/v1/accounts/relationships", params={"id[]": [bob_id, ann_id]}, headers=ann).json()
    assert [(x["id"], x["following"], x["followed_by"]) for x in rel] == [(bob_id, True, False), (ann_id, False, False)]
    assert [a["id"] for a in api.get(f"/api/v1/accounts/{bob_id}/followers").json()] == [ann_id]
    assert [a["id"] for a in api.get(f"/api/v1/accounts/{ann_id}/following").json()] == [bob_id]
    assert api.get(f"/api/v1/accounts/{bob_id}").json()["followers_count"] == 1

    first = api.get(f"/api/v1/accounts/{bob_id}/statuses", params={"limit": 2})
    assert [int(s["id"]) for s in first.json()] == ids[:-3:-1]
    status = first.json()[0]
    assert status["account"]["id"] == bob_id and status["visibility"] == "public"
    assert f'href="http://testserver/@ann{uniq}"' in status["content"] and status["mentions"][0]["id"] == ann_id
    assert status["tags"] == [{"name": "n4", "url": "http://testserver/tags/n4"}]
    assert '<a href="https://x.example/4"' in status["content"]
    nxt = first.links["next"]["url"]
    assert f"max_id={ids[3]}" in nxt and f"min_id={ids[4]}" in first.links["prev"]["url"]
    second = api.get(nxt.removeprefix("http://testserver"))
    assert [int(s["id"]) for s in second.json()] == [ids[2], ids[1]]
    since = api.get(f"/api/v1/accounts/{bob_id}/statuses", params={"since_id": ids[0], "limit": 2}).json()
    assert [int(s["id"]) for s in since] == [ids[4], ids[3]]  # the newest above since_id
    above = api.get(f"/api/v1/accounts/{bob_id}/statuses", params={"min_id": ids[0], "limit": 2}).json()
    assert [int(s["id"]) for s in above] == [ids[2], ids[1]]  # the ones immediately above min_id
    assert api.get(f"/api/v1/accounts/{bob_id}/statuses", params={"pinned": "true"}).json() == []

    r = api.post(f"/api/v1/accounts/{bob_id}/unfollow", headers=ann)
    assert r.status_code == 200 and r.json()["following"] is False
    wait_idle(settings, worker)
    rel = api.get("/api/v1/accounts/relationships", params={"id[]": bob_id}, headers=ann).json()
    assert rel[0]["following"] is False


def test_cors(api: TestClient) -> None:
    pre = api.options(
        "/api/v1/apps",
        headers={
            "Origin": "https://web.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert pre.headers["access-control-allow-headers"] == "authorization,content-type"
    got = api.get("/api/v1/instance", headers={"Origin": "https://web.example"})
    assert got.headers["access-control-allow-origin"] == "*" and "Link" in got.headers["access-control-expose-headers"]
    assert api.options("/.well-known/nodeinfo", headers={"Access-Control-Request-Method": "GET"}).status_code == 204
    assert "access-control-allow-origin" not in api.get("/healthz").headers  # chirp's own routes: same origin
