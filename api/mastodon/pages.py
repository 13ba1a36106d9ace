"""The OAuth sign-in and consent page, and the pages that show a code or an error: plain server-rendered
HTML, every value escaped, no scripts and no external assets (a Content-Security-Policy says so)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from fastapi.responses import HTMLResponse

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STYLE = """body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;
padding:.5rem;box-sizing:border-box}.error{color:#a00}ul{padding-left:1.2rem}button{padding:.5rem 1rem;
margin:1rem .5rem 0 0}code{font-size:1.1rem;word-break:break-all;background:#eee;padding:.3rem}"""
SCOPE_TEXT = {
    "read": "read everything of your account",
    "write": "post, edit and delete, like, follow and change your account",
    "follow": "see and change whom you follow",
    "push": "receive push notifications",
    "profile": "see your profile",
}


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{escape(title)}</title><style>{STYLE}</style>'
            f"</head><body>{body}</body></html>")  # fmt: skip
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def authorize_page(
    instance: str, app_name: str, scopes: Sequence[str], hidden: Mapping[str, str], error: str | None = None,
    login: str = "",
) -> HTMLResponse:  # fmt: skip
    fields = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items())
    asks = "".join(f"<li><b>{escape(s)}</b>: {escape(SCOPE_TEXT.get(s.partition(':')[0], s))}</li>" for s in scopes)
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (f"<h1>Sign in to {escape(instance)}</h1><p><b>{escape(app_name)}</b> asks to:</p><ul>{asks}</ul>"
            f'{problem}<form method="post" action="/oauth/authorize">{fields}'
            f'<label for="username">E-mail or username</label><input type="text" id="username" name="username" '
            f'value="{escape(login)}" autocomplete="username" required>'
            f'<label for="password">Password</label><input type="password" id="password" name="password" '
            f'autocomplete="current-password">'
            f'<button type="submit" name="decision" value="approve">Authorize</button>'
            f'<button type="submit" name="decision" value="deny" formnovalidate>Deny</button></form>')  # fmt: skip
    return _page(f"Sign in to {instance}", body)


def code_page(app_name: str, code: str) -> HTMLResponse:
    body = (f"<h1>Authorization code</h1><p>Copy this code into <b>{escape(app_name)}</b>:</p>"
            f"<p><code>{escape(code)}</code></p>")  # fmt: skip
    return _page("Authorization code", body)


def error_page(message: str, status_code: int = 400) -> HTMLResponse:
    return _page("Authorization failed", f'<h1>Authorization failed</h1><p class="error">{escape(message)}</p>',
                 status_code)  # fmt: skip
