// chirp's web app: boot, layout, the router (History API over the paths the server answers with this page),
// the live stream and the unread badge. Talks only to the Mastodon-compatible API of the server it came from.

import { Api } from "./api.js";
import { finishSignIn, loadSession, saveSession, signOut } from "./auth.js";
import { icon } from "./icons.js";
import { removeEverywhere, replaceEverywhere } from "./status.js";
import { UserStream } from "./stream.js";
import { tickTimes } from "./time.js";
import { avatar, displayName, h, toast } from "./ui.js";
import * as views from "./views.js";

const root = document.getElementById("app");
const api = new Api(location.origin);

const ctx = {
  api,
  me: null,
  instance: { maxCharacters: 280, streaming: location.origin.replace(/^http/, "ws") },
  stream: null,
  live: false,
  unread: 0,
  newPosts: 0,
  homeFeed: null,
  notificationFeed: null,
  relationships: new Map(),
  navigate,
  fail,
  signedIn,
  markRead,
  setNewPosts,
  showLive,
  relationship(id) {
    if (!this.relationships.has(id)) {
      this.relationships.set(id, api.get("/api/v1/accounts/relationships", { id: [id] }).then((rs) => rs[0]));
    }
    return this.relationships.get(id);
  },
};

/** One way to show any failure: a toast; a 429 says how long to wait. */
function fail(err) {
  console.warn("chirp:", err); // a warning, not an error: the page tells the person; errors are for bugs
  toast(err?.message || String(err), "error");
}

// Layout ---------------------------------------------------------------------------------------------------------

const main = h("main", { id: "main", tabindex: "-1" });
const badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
const unreadText = h("span", { class: "visually-hidden" });
const homeDot = h("span", { class: "dot-new", hidden: true, "aria-hidden": "true" });
const aside = h("aside", { class: "side", "aria-label": "Search and trends" });

function navLink(href, name, label, ...extra) {
  return h("a", { href, class: `nav-${name}`, dataset: { nav: name } }, icon(name === "profile" ? "user" : name === "explore" ? "hash" : name === "notifications" ? "bell" : name), h("span", { class: "label" }, label), ...extra);
}

function layout() {
  const me = ctx.me;
  const nav = h("nav", { class: "nav", "aria-label": "Main" },
    h("a", { href: "/", class: "brand", "aria-label": "chirp, home" }, h("img", { src: "/web/static/icon.svg", alt: "", width: 32, height: 32 }), h("span", { class: "label" }, "chirp")),
    navLink("/", "home", "Home", homeDot),
    navLink("/web/explore", "explore", "Explore"),
    navLink("/web/search", "search", "Search"),
    navLink("/web/notifications", "notifications", "Notifications", badge, unreadText),
    navLink(`/@${encodeURIComponent(me.acct)}`, "profile", "Profile"),
    h("button", { type: "button", class: "nav-out", onclick: doSignOut }, icon("out"), h("span", { class: "label" }, "Sign out")),
    h("div", { class: "me" }, avatar(me, 36), h("span", { class: "label" }, h("span", { class: "name" }, displayName(me)), h("span", { class: "acct" }, `@${me.acct}`))));
  root.replaceChildren(nav, main, aside);
  root.classList.remove("signed-out");
  fillAside();
}

async function fillAside() {
  aside.replaceChildren(views.searchForm(ctx), h("section", { class: "panel trends", "aria-labelledby": "trends-title" }, h("h2", { id: "trends-title" }, "Trending"), h("div", { class: "trend-slot" })));
  try {
    aside.querySelector(".trend-slot").replaceWith(await views.trendsList(ctx, 8));
  } catch (err) {
    aside.querySelector(".trend-slot")?.replaceChildren(h("p", { class: "muted" }, err.message));
  }
}

function showLive() {
  const el = main.querySelector(".live");
  if (el) {
    el.textContent = ctx.live ? "Live" : "Connecting…";
    el.classList.toggle("on", ctx.live);
  }
  document.body.dataset.live = ctx.live ? "on" : "off";
}

function updateTitle() {
  const n = ctx.unread + ctx.newPosts;
  document.title = n ? `(${n}) chirp` : "chirp";
}

function setUnread(n) {
  ctx.unread = Math.max(n, 0);
  badge.hidden = ctx.unread === 0;
  badge.textContent = ctx.unread > 40 ? "40+" : String(ctx.unread);
  unreadText.textContent = ctx.unread ? `, ${ctx.unread} unread` : "";
  updateTitle();
}

function setNewPosts(n) {
  ctx.newPosts = n;
  homeDot.hidden = n === 0;
  updateTitle();
}

/** Everything up to `id` is read: the badge clears, and the server's marker says so for other devices. */
async function markRead(id) {
  setUnread(0);
  if (!id) return;
  try {
    await api.post("/api/v1/markers", { notifications: { last_read_id: id } });
  } catch (err) {
    if (err.status === 429) fail(err);
  }
}

async function loadUnread() {
  try {
    const markers = await api.get("/api/v1/markers", { timeline: ["notifications"] });
    const last = markers.notifications?.last_read_id;
    const unread = await api.get("/api/v1/notifications", { limit: 40, ...(last ? { since_id: last } : {}) });
    if (!location.pathname.startsWith("/web/notifications")) setUnread(unread.length);
  } catch {
    // the badge waits for the stream
  }
}

// The stream -------------------------------------------------------------------------------------------------------

function onEvent(event, payload) {
  if (event === "update") {
    ctx.homeFeed?.prepend(payload);
  } else if (event === "status.update") {
    replaceEverywhere(ctx, payload);
  } else if (event === "delete") {
    removeEverywhere(String(payload));
    ctx.homeFeed?.forget(String(payload));
  } else if (event === "notification") {
    if (ctx.notificationFeed && !document.hidden) {
      ctx.notificationFeed.prepend(payload, { force: true });
      markRead(payload.id);
    } else {
      setUnread(ctx.unread + 1);
    }
  }
}

/** After a (re)connection: whatever arrived while the socket was down is fetched, so nothing is missed. */
async function fillGap() {
  const feed = ctx.homeFeed;
  const since = feed?.newestId();
  if (!feed || !since) return;
  try {
    const missed = await api.get("/api/v1/timelines/home", { since_id: since, limit: 40 });
    for (const s of missed.reverse()) feed.prepend(s);
  } catch {
    // the next reconnection tries again
  }
}

function startStream(token) {
  ctx.stream?.close();
  ctx.stream = new UserStream(ctx.instance.streaming, token, {
    onEvent,
    onState(up) {
      ctx.live = up;
      showLive();
      if (up) fillGap();
    },
  });
}

// The router -------------------------------------------------------------------------------------------------------

let cleanup = null;

function route(path) {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts[0] === "web" && parts[1] === "home")) return ["home", () => views.home(ctx, main)];
  if (parts[0] === "web") {
    if (parts[1] === "notifications") return ["notifications", () => views.notifications(ctx, main)];
    if (parts[1] === "search") return ["search", () => views.search(ctx, main)];
    if (parts[1] === "explore") return ["explore", () => views.explore(ctx, main)];
    if (parts[1] === "statuses" && parts[2]) return ["thread", () => views.thread(ctx, main, parts[2])];
  }
  if (parts[0] === "tags" && parts[1]) return ["explore", () => views.tagTimeline(ctx, main, parts[1])];
  if (parts[0].startsWith("@")) {
    const acct = parts[0].slice(1);
    const mine = ctx.me && acct === ctx.me.acct ? "profile" : "people";
    if (parts[1] === "followers" || parts[1] === "following") return [mine, () => views.profile(ctx, main, acct, parts[1])];
    if (parts[1] && /^\d+$/.test(parts[1])) return ["thread", () => views.thread(ctx, main, parts[1])];
    return [mine, () => views.profile(ctx, main, acct)];
  }
  return ["none", () => views.notFound(ctx, main)];
}

async function render() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a screen that is gone
    }
    cleanup = null;
  }
  if (!ctx.me) {
    views.welcome(ctx, main);
    return;
  }
  const [name, show] = route(location.pathname);
  for (const a of root.querySelectorAll("nav.nav a[data-nav]")) {
    a.toggleAttribute("aria-current", a.dataset.nav === name);
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
  }
  document.body.dataset.screen = name;
  delete main.dataset.path;
  try {
    const done = await show();
    if (typeof done === "function") cleanup = done;
  } catch (err) {
    main.replaceChildren(h("header", { class: "screen-head" }, h("h1", { tabindex: "-1" }, err.status === 404 ? "Not found" : "Something went wrong")),
      h("p", { class: "pad error-inline", role: "alert" }, err.message), h("p", { class: "pad" }, h("a", { href: "/" }, "Go home")));
  }
  main.dataset.path = location.pathname + location.search; // the screen is drawn (tests wait for it)
}

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render().then(() => {
    if (!location.hash) scrollTo({ top: 0 });
    main.querySelector("h1")?.focus({ preventScroll: true });
  });
}

const ROUTED = /^\/($|@|tags\/|web\/(?!static\/))/;

document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target === "_blank" || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !ROUTED.test(url.pathname)) return;
  e.preventDefault();
  if (url.pathname === location.pathname && url.search === location.search && url.hash) {
    document.getElementById(url.hash.slice(1))?.querySelector("textarea")?.focus();
    return;
  }
  navigate(url.pathname + url.search + url.hash);
});
addEventListener("popstate", () => render());
addEventListener("scroll", () => {
  const feed = ctx.homeFeed;
  if (feed && feed.pending.length && !feed.scrolledDown()) feed.flush();
}, { passive: true });
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, textarea, select, [contenteditable]") || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "/" && ctx.me) {
    e.preventDefault();
    const box = document.querySelector("main input[type=search], aside input[type=search]");
    if (box && box.offsetParent) box.focus();
    else navigate("/web/search");
  } else if (e.key === "n" && ctx.me) {
    const text = document.querySelector("main .composer textarea");
    if (text) {
      e.preventDefault();
      text.focus();
    }
  }
});

// Session ------------------------------------------------------------------------------------------------------------

async function signedIn(token) {
  api.token = token;
  ctx.me = await api.get("/api/v1/accounts/verify_credentials");
  saveSession({ token, acct: ctx.me.acct });
  layout();
  startStream(token);
  loadUnread();
  await render();
  main.querySelector("h1")?.focus({ preventScroll: true });
}

async function doSignOut() {
  ctx.stream?.close();
  ctx.stream = null;
  await signOut(api);
  ctx.me = null;
  api.token = null;
  ctx.relationships.clear();
  setUnread(0);
  history.pushState(null, "", "/");
  showSignedOut();
}

function showSignedOut() {
  root.replaceChildren(main);
  root.classList.add("signed-out");
  delete document.body.dataset.live;
  views.welcome(ctx, main);
}

api.onUnauthorized = () => {
  if (!ctx.me) return;
  ctx.stream?.close();
  ctx.me = null;
  api.token = null;
  showSignedOut();
  toast("Your session has ended: please sign in again.", "error");
};

async function boot() {
  tickTimes();
  try {
    const inst = await api.get("/api/v2/instance", null, { auth: false });
    ctx.instance.maxCharacters = inst.configuration?.statuses?.max_characters || 280;
    ctx.instance.streaming = inst.configuration?.urls?.streaming || ctx.instance.streaming;
    ctx.instance.title = inst.title;
  } catch (err) {
    fail(err);
  }
  try {
    const token = await finishSignIn(api);
    if (token) {
      await signedIn(token);
      return;
    }
  } catch (err) {
    showSignedOut();
    fail(err);
    return;
  }
  const session = loadSession();
  if (session?.token) {
    try {
      await signedIn(session.token);
      return;
    } catch (err) {
      if (err.status !== 401) fail(err);
    }
  }
  showSignedOut();
}

boot();
