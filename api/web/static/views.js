// The screens. Each takes the app's context and the <main> element, fills it, and may return a cleanup.

import { signUp, startSignIn } from "./auth.js";
import { composer } from "./compose.js";
import { Feed } from "./feed.js";
import { icon } from "./icons.js";
import { profilePath, renderStatus } from "./status.js";
import { fullDate } from "./time.js";
import { avatar, displayName, h, spinner, uid } from "./ui.js";

function heading(text, ...extra) {
  return h("header", { class: "screen-head" }, h("h1", { tabindex: "-1" }, text), ...extra);
}

function field(label, input, hint = null) {
  const id = input.id || uid("in");
  input.id = id;
  const errId = `${id}-err`;
  input.setAttribute("aria-describedby", errId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { class: "hint" }, hint) : null,
    h("small", { class: "field-error", id: errId }));
}

// Signed out ------------------------------------------------------------------------------------------------

export function welcome(ctx, main) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, pattern: "[A-Za-z0-9_]{1,30}", maxlength: 30, autocapitalize: "none", spellcheck: "false" });
  const email = h("input", { name: "email", type: "email", autocomplete: "email", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const agree = h("input", { name: "agreement", type: "checkbox", required: true, id: uid("agree") });
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Create account");
  const formError = h("p", { class: "error-inline", role: "alert" });
  const form = h(
    "form",
    { class: "panel signup", "aria-labelledby": "signup-title", novalidate: false },
    h("h2", { id: "signup-title" }, "Create an account"),
    field("Username", username, "Letters, digits and _; this is your @handle."),
    field("E-mail", email),
    field("Password", password, "At least 8 characters."),
    h("div", { class: "check" }, agree, h("label", { for: agree.id }, "I agree to this server's rules.")),
    formError,
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    formError.textContent = "";
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    submit.disabled = true;
    try {
      const token = await signUp(ctx.api, {
        username: username.value.trim(), email: email.value.trim(), password: password.value,
        agreement: agree.checked, locale: (navigator.language || "en").split("-")[0],
      });
      await ctx.signedIn(token);
    } catch (err) {
      const fields = { username, email, password, agreement: agree };
      let shown = false;
      for (const [name, problems] of Object.entries(err.details || {})) {
        const input = fields[name];
        const box = input && document.getElementById(`${input.id}-err`);
        if (box) {
          box.textContent = problems.map((p) => (p.error === "ERR_TAKEN" ? "is already taken" : p.description)).join("; ");
          shown = true;
        }
      }
      formError.textContent = shown ? "Please check the fields above." : err.message;
      submit.disabled = false;
    }
  });
  const signIn = h("button", { type: "button", class: "button wide", onclick: () => startSignIn(ctx.api, "/").catch(ctx.fail) }, "Sign in");
  main.replaceChildren(
    h("div", { class: "welcome" },
      h("section", { class: "hero" },
        h("h1", { class: "brand-big", tabindex: "-1" }, h("img", { src: "/web/static/icon.svg", alt: "", width: 48, height: 48 }), "chirp"),
        h("p", { class: "lead" }, "Short posts from the people you follow, as they happen."),
        h("div", { class: "panel" }, h("h2", {}, "Have an account?"), h("p", { class: "muted" }, `Sign in on ${location.host}'s own sign-in page.`), signIn)),
      form),
  );
}

// Timelines ---------------------------------------------------------------------------------------------------

export function home(ctx, main) {
  const feed = new Feed(ctx, {
    path: "/api/v1/timelines/home", query: { limit: 20 }, label: "Home timeline",
    render: (s) => renderStatus(ctx, s),
    empty: "Your timeline is empty. Follow people (try Explore or Search) and their posts show up here, live.",
  });
  ctx.homeFeed = feed;
  main.replaceChildren(
    heading("Home", h("span", { class: "live", "aria-live": "polite" })),
    composer(ctx, { onPosted: (s) => feed.prepend(s, { force: true }) }),
    feed.el,
  );
  ctx.showLive();
  feed.more();
  return () => {
    feed.destroy();
    if (ctx.homeFeed === feed) ctx.homeFeed = null;
    ctx.setNewPosts(0);
  };
}

export function tagTimeline(ctx, main, tag) {
  const feed = new Feed(ctx, { path: `/api/v1/timelines/tag/${encodeURIComponent(tag)}`, query: { limit: 20 }, label: `Posts tagged #${tag}`, render: (s) => renderStatus(ctx, s), empty: `No posts with #${tag} yet.` });
  main.replaceChildren(heading(`#${tag}`), feed.el);
  feed.more();
  return () => feed.destroy();
}

// A thread ------------------------------------------------------------------------------------------------------

export async function thread(ctx, main, id) {
  main.replaceChildren(heading("Post"), spinner());
  const [status, context] = await Promise.all([ctx.api.get(`/api/v1/statuses/${id}`), ctx.api.get(`/api/v1/statuses/${id}/context`)]);
  const replies = h("div", { class: "feed replies", "aria-label": "Replies" }, context.descendants.map((s) => renderStatus(ctx, s)));
  const focused = renderStatus(ctx, status, { focused: true });
  const onPosted = (s) => {
    replies.append(renderStatus(ctx, s));
    status.replies_count += 1;
    const n = main.querySelector("article.status.focused .reply .n");
    if (n) n.textContent = String(status.replies_count);
  };
  const reply = composer(ctx, { replyTo: status, autofocus: location.hash === "#reply", onPosted });
  reply.id = "reply";
  main.replaceChildren(
    heading("Post"),
    h("div", { class: "feed ancestors", "aria-label": "Earlier in the thread" }, context.ancestors.map((s) => renderStatus(ctx, s))),
    focused,
    reply,
    replies,
  );
  if (!context.ancestors.length && location.hash !== "#reply") return;
  if (location.hash !== "#reply") focused.scrollIntoView({ block: "start" });
}

// Profiles ------------------------------------------------------------------------------------------------------

function accountRow(ctx, account) {
  return h("article", { class: "account-row", dataset: { accountId: account.id } },
    h("a", { href: profilePath(account), class: "avatar-link", tabindex: "-1", "aria-hidden": "true" }, avatar(account, 44)),
    h("a", { href: profilePath(account), class: "who" }, h("span", { class: "name" }, displayName(account)), h("span", { class: "acct" }, `@${account.acct}`)),
    account.id === ctx.me.id ? null : followButton(ctx, account));
}

export function followButton(ctx, account, onChange = null) {
  const button = h("button", { type: "button", class: "button follow", "aria-pressed": "false", disabled: true }, "Follow");
  const show = (following) => {
    button.setAttribute("aria-pressed", String(following));
    button.textContent = following ? "Following" : "Follow";
    button.classList.toggle("primary", !following);
    button.setAttribute("aria-label", `${following ? "Unfollow" : "Follow"} @${account.acct}`);
    button.disabled = false;
  };
  ctx.relationship(account.id).then((r) => show(Boolean(r?.following)), () => show(false));
  button.addEventListener("mouseenter", () => { if (button.getAttribute("aria-pressed") === "true") button.textContent = "Unfollow"; });
  button.addEventListener("mouseleave", () => { if (button.getAttribute("aria-pressed") === "true") button.textContent = "Following"; });
  button.addEventListener("click", async () => {
    const following = button.getAttribute("aria-pressed") === "true";
    button.disabled = true;
    try {
      const r = await ctx.api.post(`/api/v1/accounts/${account.id}/${following ? "unfollow" : "follow"}`);
      ctx.relationships.set(account.id, Promise.resolve(r));
      show(Boolean(r.following));
      onChange?.(Boolean(r.following));
    } catch (err) {
      show(following);
      ctx.fail(err);
    }
  });
  return button;
}

export async function profile(ctx, main, acct, tab = "posts") {
  main.replaceChildren(heading(`@${acct}`), spinner());
  const account = await ctx.api.get("/api/v1/accounts/lookup", { acct });
  const followers = h("strong", {}, String(account.followers_count));
  const counts = h("p", { class: "counts" },
    h("a", { href: `${profilePath(account)}/following` }, h("strong", {}, String(account.following_count)), " following"),
    h("a", { href: `${profilePath(account)}/followers` }, followers, " followers"));
  const card = h("section", { class: "profile-card", "aria-label": "Profile" },
    avatar(account, 80),
    h("div", { class: "profile-info" },
      h("h2", { class: "name" }, displayName(account)),
      h("p", { class: "acct" }, `@${account.acct}`),
      h("p", { class: "muted" }, `Joined ${fullDate(account.created_at).split(",")[0]}`),
      counts),
    account.id === ctx.me.id ? null : followButton(ctx, account, (on) => {
      account.followers_count += on ? 1 : -1;
      followers.textContent = String(account.followers_count);
    }));
  const tabs = h("nav", { class: "tabs", "aria-label": "Profile sections" },
    [["posts", "Posts", profilePath(account)], ["following", "Following", `${profilePath(account)}/following`], ["followers", "Followers", `${profilePath(account)}/followers`]]
      .map(([key, label, href]) => h("a", { href, "aria-current": key === tab ? "page" : null }, label)));
  const feed = tab === "posts"
    ? new Feed(ctx, { path: `/api/v1/accounts/${account.id}/statuses`, query: { limit: 20 }, label: `Posts by @${account.acct}`, render: (s) => renderStatus(ctx, s), empty: "No posts yet." })
    : new Feed(ctx, { path: `/api/v1/accounts/${account.id}/${tab}`, query: { limit: 40 }, label: tab === "followers" ? "Followers" : "Following", render: (a) => accountRow(ctx, a), empty: tab === "followers" ? "No followers yet." : "Not following anyone yet." });
  main.replaceChildren(heading(displayName(account)), card, tabs, feed.el);
  feed.more();
  return () => feed.destroy();
}

// Notifications ---------------------------------------------------------------------------------------------------

export function renderNotification(ctx, n) {
  const who = h("a", { href: profilePath(n.account), class: "who" }, h("span", { class: "name" }, displayName(n.account)));
  const says = { favourite: [icon("heart"), who, " liked your post"], follow: [icon("user"), who, " followed you"], mention: [icon("reply"), who, " mentioned you"] }[n.type]
    || [who, ` (${n.type})`];
  return h("article", { class: `notification ${n.type}`, dataset: { notificationId: n.id } },
    h("p", { class: "what" }, ...says),
    n.status ? renderStatus(ctx, n.status, { compact: n.type !== "mention" }) : null,
    n.type === "follow" ? accountRow(ctx, n.account) : null);
}

export function notifications(ctx, main) {
  const feed = new Feed(ctx, { path: "/api/v1/notifications", query: { limit: 30 }, label: "Notifications", render: (n) => renderNotification(ctx, n), empty: "No notifications yet. Likes, follows and mentions show up here." });
  ctx.notificationFeed = feed;
  main.replaceChildren(heading("Notifications"), feed.el);
  feed.more().then(() => ctx.markRead(feed.newestId()));
  return () => {
    feed.destroy();
    if (ctx.notificationFeed === feed) ctx.notificationFeed = null;
  };
}

// Search and trends ------------------------------------------------------------------------------------------------

export function searchForm(ctx, value = "") {
  const id = uid("q");
  const input = h("input", { type: "search", id, name: "q", value, placeholder: "Search chirp", autocomplete: "off", enterkeyhint: "search" });
  const form = h("form", { class: "search-form", role: "search" }, h("label", { for: id, class: "visually-hidden" }, "Search"), icon("search"), input);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (input.value.trim()) ctx.navigate(`/web/search?q=${encodeURIComponent(input.value.trim())}`);
  });
  return form;
}

export async function search(ctx, main) {
  const q = new URLSearchParams(location.search).get("q") || "";
  const form = searchForm(ctx, q);
  main.replaceChildren(heading("Search"), form);
  if (!q) {
    main.append(h("p", { class: "muted pad" }, "Find people, #hashtags and posts."));
    form.querySelector("input").focus();
    return;
  }
  main.append(spinner("Searching"));
  const found = await ctx.api.get("/api/v2/search", { q, limit: 20, resolve: "false" });
  const section = (title, items, render) => items.length ? h("section", { class: "results", "aria-label": title }, h("h2", {}, title), items.map(render)) : null;
  const none = !found.accounts.length && !found.hashtags.length && !found.statuses.length;
  main.replaceChildren(heading("Search"), form,
    none ? h("p", { class: "muted pad" }, `Nothing found for “${q}”.`) : null,
    section("People", found.accounts, (a) => accountRow(ctx, a)),
    section("Hashtags", found.hashtags, (t) => tagRow(t)),
    section("Posts", found.statuses, (s) => renderStatus(ctx, s)));
}

function uses(tag) {
  const total = (tag.history || []).reduce((sum, day) => sum + Number(day.uses || 0), 0);
  return total ? `${new Intl.NumberFormat().format(total)} ${total === 1 ? "post" : "posts"}` : "";
}

function tagRow(tag) {
  return h("a", { class: "tag-row", href: `/tags/${encodeURIComponent(tag.name)}` }, h("span", { class: "tag" }, `#${tag.name}`), h("span", { class: "muted" }, uses(tag)));
}

export async function trendsList(ctx, limit = 10) {
  const tags = await ctx.api.get("/api/v1/trends/tags", { limit });
  return tags.length
    ? h("div", { class: "trend-list" }, tags.map(tagRow))
    : h("p", { class: "muted pad" }, "No hashtags are trending yet.");
}

export async function explore(ctx, main) {
  main.replaceChildren(heading("Explore"), searchForm(ctx), h("h2", { class: "sub" }, "Trending hashtags"), spinner());
  const list = await trendsList(ctx, 20);
  main.lastChild.replaceWith(list);
}

export function notFound(ctx, main) {
  main.replaceChildren(heading("Not found"), h("p", { class: "pad" }, "There is nothing at this address. ", h("a", { href: "/" }, "Go home")));
}
