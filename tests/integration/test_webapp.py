"""The web app (api/web/) in a real browser: Debian's chromium, headless, driven by Selenium through Debian's
chromedriver, against a real API process and stream worker. Two people sign up in two browser sessions; one
follows the other; a post (with an image and its alt text) arrives in the other's open timeline without a
reload; a like lights the notification badge; a reply, an edit and a delete change the other screen in place;
older pages load on scrolling; "n new posts" shows while scrolled down. Every page must log no console error and
make no request off this machine, and hold its layout at 390 and 1280 pixels wide. Screenshots of the main
screens go to docs/screenshots/ (the README shows one).

Waits are on DOM conditions (WebDriverWait), and on the worker's offsets (wait_idle) where a follow must be
applied before the post it should fan out."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from infra.settings import REPO_ROOT, Settings
from tests.integration.support import WorkerProcess, wait_idle

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = REPO_ROOT / "docs" / "screenshots"
WAIT_S = 30.0
LOCAL = {"127.0.0.1", "localhost", "::1", "[::1]"}
INTERNAL = {"data", "blob", "about", "chrome"}  # never the network (chrome://: the browser's own new-tab page)
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--lang=en-US"]  # fmt: skip
PHONE, DESKTOP = (390, 844), (1280, 900)


class Browser:
    """One person's browser: a fresh profile, its console and network logs kept for the checks at the end."""

    def __init__(self, base: str, name: str) -> None:
        self.base, self.name = base, name
        self.profile = tempfile.mkdtemp(prefix="chirp-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in [*FLAGS, f"--user-data-dir={self.profile}"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        self.console: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.size(*DESKTOP)

    def size(self, width: int, height: int) -> None:
        """The viewport itself (not the window around it), as a phone or a desktop has it."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})  # fmt: skip

    def open(self, path: str = "/") -> None:
        self.driver.get(self.base + path)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait(self, condition: Callable[[Any], Any], what: str, timeout: float = WAIT_S) -> Any:
        try:
            # an element replaced while it is read (a live edit re-renders its status) is read again
            wait = WebDriverWait(self.driver, timeout, 0.1, ignored_exceptions=[StaleElementReferenceException])
            return wait.until(condition)
        except TimeoutException:
            self.shot(f"failed-{self.name}", into=Path(tempfile.gettempdir()))
            raise AssertionError(f"{self.name}: timed out waiting for {what}; console: {self.logs()[0][-5:]}") from None

    def find(self, css: str, timeout: float = WAIT_S) -> WebElement:
        element: WebElement = self.wait(lambda d: _visible(d, css), css, timeout)
        return element

    def gone(self, css: str, what: str) -> None:
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, css), what)

    def click(self, css: str) -> None:
        element = self.find(css)
        self.js("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def type(self, css: str, text: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(text)

    def go(self, path: str) -> None:
        """To another screen without a page load, as an in-app link goes; back when the screen is drawn."""
        self.js("history.pushState(null, '', arguments[0]); scrollTo(0, 0); "
                "dispatchEvent(new PopStateEvent('popstate'))", path)  # fmt: skip
        self.settled(path)

    def settled(self, path: str) -> None:
        """The screen at `path` is drawn and no list on it is still loading."""
        drawn = (
            "return document.querySelector('main').dataset.path === arguments[0] && "
            "!document.querySelector('[aria-busy=true]')"
        )
        self.wait(lambda d: self.js(drawn, path), f"the screen {path}")

    def badge(self, n: int) -> None:
        shown = (
            "const b = document.querySelector('nav a[data-nav=notifications] .badge'); "
            "return !b.hidden && b.textContent"
        )
        self.wait(lambda d: self.js(shown) == str(n), f"the unread badge to show {n}")

    def shot(self, name: str, into: Path = SHOTS) -> None:
        into.mkdir(parents=True, exist_ok=True)
        self.js("document.activeElement?.blur(); document.getElementById('toasts').replaceChildren()")
        self.driver.save_screenshot(str(into / f"{name}.png"))

    def text(self, css: str) -> str:
        """The text of the first match now ("" when there is none)."""
        found: str = self.js("return document.querySelector(arguments[0])?.textContent ?? ''", css)
        return found

    def overflow(self) -> int:
        width: int = self.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        return width

    def token(self) -> str:
        token: str = json.loads(self.js("return localStorage.getItem('chirp.session')"))["token"]
        return token

    def logs(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Console entries and the URLs of every request and WebSocket so far (Chrome's performance log)."""
        self.console += self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        for entry in self.driver.get_log("performance"):  # type: ignore[no-untyped-call]
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                self.requests.append(params["url"])
        return self.console, self.requests

    def quit(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


def _visible(driver: Any, css: str) -> WebElement | bool:
    for element in driver.find_elements(By.CSS_SELECTOR, css):
        if element.is_displayed():
            return element  # type: ignore[no-any-return]
    return False


def _sunset() -> bytes:
    """A small picture to post: an evening sky over water."""
    sky = Image.linear_gradient("L").resize((640, 360))
    top, low = (48, 43, 99), (255, 153, 51)
    colors = [tuple(round(t + (b - t) * v / 255) for t, b in zip(top, low, strict=True)) for v in range(256)]
    image = Image.new("RGB", sky.size)
    image.putdata([colors[v] for v in sky.tobytes()])
    image.paste((20, 40, 80), (0, 260, 640, 360))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def site(base_url: str, worker: WorkerProcess) -> str:
    """The API process, with the stream worker that builds timelines and pushes events."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("chromium and chromedriver are not installed: `make browser` (make test runs it)", pytrace=False)
    return base_url


class Browsers:
    """The browser sessions a test opens, all closed after it."""

    def __init__(self, base: str) -> None:
        self.base, self.opened = base, list[Browser]()

    def start(self, name: str) -> Browser:
        self.opened.append(Browser(self.base, name))
        return self.opened[-1]

    def quit(self) -> None:
        for b in self.opened:
            b.quit()


@pytest.fixture
def browsers(site: str) -> Iterator[Browsers]:
    opened = Browsers(site)
    yield opened
    opened.quit()


def sign_up(b: Browser, username: str) -> None:
    b.open("/")
    b.type("form.signup input[name=username]", username)
    b.type("form.signup input[name=email]", f"{username}@mail.example")
    b.type("form.signup input[name=password]", "correct horse battery")
    b.click("form.signup input[name=agreement]")
    b.click("form.signup button[type=submit]")
    b.find("body[data-live=on]")  # signed in, on the home timeline, subscribed to the stream


def post(b: Browser, text: str) -> WebElement:
    b.type("main .composer textarea", text)
    b.click("main .composer button[type=submit]")
    return b.find(f"main article.status[data-author='{b.name}'] .content")


def status_css(status_id: str) -> str:
    return f"main article.status[data-status-id='{status_id}']"


def api_post(base: str, token: str, text: str) -> str:
    r = httpx.post(f"{base}/api/v1/statuses", headers={"Authorization": f"Bearer {token}"}, json={"status": text})
    assert r.status_code == 200, r.text
    status_id: str = r.json()["id"]
    return status_id


def test_two_people_live(browsers: Browsers, site: str, settings: Settings, worker: WorkerProcess,
                         uniq: str) -> None:  # fmt: skip
    ada_name, bob_name = f"ada{uniq}", f"bob{uniq}"
    ada = browsers.start(ada_name)
    bob = browsers.start(bob_name)
    ada.open("/")
    ada.find("form.signup")
    ada.size(*PHONE)
    ada.shot("welcome-phone")
    ada.size(*DESKTOP)
    sign_up(ada, ada_name)
    sign_up(bob, bob_name)

    # Ada finds Bob by searching, opens his profile and follows him
    ada.type("aside input[type=search]", bob_name + "\n")
    ada.click(f"main .results a.who[href='/@{bob_name}']")
    ada.click("main .profile-card button.follow[aria-pressed=false]")
    ada.find("main .profile-card button.follow[aria-pressed=true]")
    assert ada.find("main .counts a[href$='/followers'] strong").text == "1"
    bob.badge(1)  # "ada followed you", live
    wait_idle(settings, worker)  # the follow is in the graph before Bob posts
    ada.click("nav a[data-nav=home]")
    ada.find("main .screen-head .live.on")

    # Bob posts with an image and its alt text; it appears in Ada's open timeline
    image = Path(tempfile.mkdtemp()) / "sunset.png"
    image.write_bytes(_sunset())
    bob.type("main .composer textarea", f"Sunset over the bay #golden{uniq}")
    count = bob.find("main .composer .counter").text
    assert count == str(280 - len(f"Sunset over the bay #golden{uniq}")), count
    bob.driver.find_element(By.CSS_SELECTOR, "main .composer input[type=file]").send_keys(str(image))
    bob.type("main .composer textarea.alt-text", "An orange sky over calm water")
    bob.shot("compose-desktop")
    bob.click("main .composer button[type=submit]")
    mine = bob.find(f"main article.status[data-author='{bob_name}'] .media img")
    assert mine.get_attribute("alt") == "An orange sky over calm water"
    status_id = bob.js("return arguments[0].closest('article').dataset.statusId", mine)
    arrived = ada.find(f"{status_css(status_id)} .media img")
    assert arrived.get_attribute("alt") == "An orange sky over calm water"
    assert ada.js("return performance.getEntriesByType('navigation').length") == 1  # no reload
    ada.wait(lambda d: ada.js("return arguments[0].complete && arguments[0].naturalWidth", arrived) == 640,
             "the image from media storage")  # fmt: skip

    # Ada likes it: Bob's badge shows without a reload; his notifications list it
    ada.click(f"{status_css(status_id)} button.like")
    ada.find(f"{status_css(status_id)} button.like[aria-pressed=true]")
    bob.badge(2)
    bob.shot("timeline-desktop")
    bob.size(*PHONE)
    bob.shot("timeline-phone")
    bob.size(*DESKTOP)

    # Ada replies in the thread; the reply counts as a mention for Bob
    ada.click(f"{status_css(status_id)} a.reply")
    reply_box = ada.find("main form.composer[data-reply-to] textarea")
    assert reply_box.get_attribute("value") == f"@{bob_name} "
    reply_box.send_keys("Beautiful!")
    ada.click("main form.composer[data-reply-to] button[type=submit]")
    ada.find("main .replies article.status .content")
    bob.badge(3)
    ada.shot("thread-desktop")
    ada.size(*PHONE)
    ada.shot("thread-phone")
    assert ada.overflow() == 0
    ada.size(*DESKTOP)

    bob.click("nav a[data-nav=notifications]")
    bob.find("main .notification.favourite")
    bob.find("main .notification.follow")
    bob.find("main .notification.mention")
    bob.gone("nav a[data-nav=notifications] .badge:not([hidden])", "the badge to clear once read")
    bob.shot("notifications-desktop")
    bob.size(*PHONE)
    bob.shot("notifications-phone")
    assert bob.overflow() == 0
    bob.size(*DESKTOP)

    # Ada, back on her home timeline, sees Bob's edit and then his delete in place
    ada.go("/")
    ada.find(f"{status_css(status_id)} .content")
    ada.find("main .screen-head .live.on")
    bob.go(f"/@{bob_name}")
    bob.click(f"{status_css(status_id)} button.edit")
    bob.type(f"{status_css(status_id)} .edit-form textarea", f"Sunset over the bay, edited #golden{uniq}")
    bob.click(f"{status_css(status_id)} .edit-form button[type=submit]")
    ada.wait(lambda d: "edited" in ada.text(f"{status_css(status_id)} .content"), "Bob's edit")
    ada.find(f"{status_css(status_id)} .edited")
    bob.shot("profile-desktop")
    bob.size(*PHONE)
    bob.shot("profile-phone")
    assert bob.overflow() == 0
    bob.size(*DESKTOP)
    bob.click(f"{status_css(status_id)} button.delete")
    bob.click(f"{status_css(status_id)} .confirm button.danger")
    bob.gone(status_css(status_id), "the post to leave Bob's own screen")
    ada.gone(status_css(status_id), "the deleted post to leave Ada's screen")

    # Older pages load as Ada scrolls; a new post while she is down the page waits behind "1 new post"
    for i in range(24):
        api_post(site, bob.token(), f"Note {i} of the day")
    ada.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "main article.status")) >= 24, "the live notes")
    ada.open("/")  # a fresh load: the first page is 20
    ada.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "main article.status")) >= 20, "the first page")
    ada.find("body[data-live=on]")
    ada.js("scrollTo(0, document.body.scrollHeight)")
    ada.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "main article.status")) >= 25, "the next page on scroll")
    ada.js("scrollTo(0, 1200)")
    api_post(site, bob.token(), "Breaking: one more note")
    assert ada.find("main button.new-posts").text == "1 new post"
    ada.click("main button.new-posts")
    ada.wait(lambda d: "Breaking" in ada.text("main .feed article.status .content"), "the new post at the top")
    ada.shot("home-desktop")

    # The layout holds on a phone and a desktop, on every main screen
    for width, height in (PHONE, DESKTOP):
        ada.size(width, height)
        for path in ("/", "/web/notifications", f"/@{bob_name}", f"/@{bob_name}/followers", "/web/explore",
                     f"/web/search?q={bob_name}"):  # fmt: skip
            ada.go(path)
            assert ada.overflow() == 0, f"{path} overflows at {width}px"
    ada.size(*DESKTOP)

    for who in (ada, bob):
        console, requests = who.logs()
        severe = [e for e in console if e["level"] == "SEVERE"]
        assert not severe, f"{who.name}: console errors {severe}"
        away = {u for u in requests if urlsplit(u).scheme not in INTERNAL and urlsplit(u).hostname not in LOCAL}
        assert not away, f"{who.name}: requests off this machine {away}"
        assert any(u.startswith("ws://") for u in requests), "the stream is a WebSocket"


def test_sign_in_with_pkce(browsers: Browsers, site: str, uniq: str) -> None:
    """Signing out and back in through the server's own /oauth/authorize page (authorization code with PKCE)."""
    name = f"cy{uniq}"
    cy = browsers.start(name)
    sign_up(cy, name)
    cy.click("nav button.nav-out")
    cy.find("form.signup")
    assert cy.js("return localStorage.getItem('chirp.session')") is None
    cy.click("main .hero button")
    cy.find("form[action='/oauth/authorize'] input[name=username]")
    assert cy.driver.current_url.startswith(f"{site}/oauth/authorize?")
    assert "code_challenge_method=S256" in cy.driver.current_url
    cy.type("input[name=username]", name)
    cy.type("input[name=password]", "correct horse battery")
    cy.click("button[value=approve]")
    cy.find("body[data-live=on]")
    assert urlsplit(cy.driver.current_url).query == ""  # the code is gone from the address bar
    assert cy.find("nav .me .acct").text == f"@{name}"
    # the page's own SHA-256 (for origins without crypto.subtle) agrees with the browser's
    same = cy.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (async () => {
          const {sha256} = await import('/web/static/sha256.js');
          const data = new TextEncoder().encode('x'.repeat(200));
          const a = Array.from(sha256(data)).join(',');
          const b = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', data))).join(',');
          done(a === b);
        })();""")
    assert same
    # a 429 reads as how long to wait (the server's Retry-After), through the app's own API client
    said = cy.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (async () => {
          const {Api} = await import('/web/static/api.js');
          const api = new Api(location.origin, 'token');
          const real = window.fetch;
          window.fetch = async () => new Response('{"error": "rate limit exceeded"}',
            {status: 429, headers: {'Retry-After': '42', 'Content-Type': 'application/json'}});
          try { await api.get('/api/v1/timelines/home'); done('no error'); }
          catch (err) { done(`${err.status} ${err.retryAfter} ${err.message}`); }
          finally { window.fetch = real; }
        })();""")
    assert said == "429 42 Too many requests: please wait 42 s and try again.", said
    console, _ = cy.logs()
    assert not [e for e in console if e["level"] == "SEVERE"], console
