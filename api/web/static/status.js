// A status as an <article>: author, relative time, the server's sanitized content, images with their alt text,
// and actions (reply, like; edit and delete on one's own). Every rendering of a status carries its id, so a
// `delete` or `status.update` from the stream changes each copy on the page in place.

import { charCounter } from "./compose.js";
import { icon } from "./icons.js";
import { fullDate, timeElement } from "./time.js";
import { avatar, displayName, h, toast, uid } from "./ui.js";

export function profilePath(account) {
  return `/@${encodeURIComponent(account.acct)}`;
}

export function statusPath(status) {
  return `${profilePath(status.account)}/${status.id}`;
}

function count(n) {
  return n > 0 ? new Intl.NumberFormat(undefined, { notation: "compact" }).format(n) : "";
}

function media(status) {
  const items = status.media_attachments || [];
  if (!items.length) return null;
  return h(
    "div",
    { class: `media n${Math.min(items.length, 4)}` },
    items.map((m) => {
      const alt = m.description || "";
      if (m.type === "video" || m.type === "gifv") {
        return h("figure", {}, h("video", { src: m.url, controls: true, preload: "metadata", "aria-label": alt || "Video without a description" }));
      }
      return h(
        "figure",
        {},
        h("a", { href: m.url, target: "_blank", rel: "noopener noreferrer", class: "media-link" },
          h("img", { src: m.preview_url || m.url, alt, loading: "lazy", decoding: "async", title: alt || null })),
        alt ? h("span", { class: "alt-badge", "aria-hidden": "true", title: alt }, "ALT") : null,
      );
    }),
  );
}

function contentOf(status) {
  const div = h("div", { class: "content", lang: status.language || null });
  div.innerHTML = status.content; // sanitized by the server: escaped text, <p>, <br>, links
  return div;
}

export function renderStatus(ctx, status, { focused = false, compact = false } = {}) {
  const mine = ctx.me && status.account.id === ctx.me.id;
  const nameId = uid("who");
  const article = h("article", {
    class: `status${focused ? " focused" : ""}${compact ? " compact" : ""}`,
    dataset: { statusId: status.id, author: status.account.acct },
    "aria-labelledby": nameId,
    tabindex: "-1",
  });
  const when = timeElement(status.created_at);
  if (focused) {
    when.textContent = fullDate(status.created_at);
    when.dataset.fixed = "";
  }
  const header = h(
    "header",
    { class: "status-head" },
    h("a", { href: profilePath(status.account), class: "who", id: nameId },
      h("span", { class: "name" }, displayName(status.account)),
      h("span", { class: "acct" }, `@${status.account.acct}`)),
    h("span", { class: "sep", "aria-hidden": "true" }, "·"),
    h("a", { href: statusPath(status), class: "when", "aria-label": `Open the thread, posted ${fullDate(status.created_at)}` }, when),
    status.edited_at ? h("span", { class: "edited", title: `Edited ${fullDate(status.edited_at)}` }, "edited") : null,
  );
  const replyNote = status.in_reply_to_id
    ? h("a", { class: "reply-note", href: `/web/statuses/${status.in_reply_to_id}` }, "Replying to a post")
    : null;

  const likeCount = h("span", { class: "n" }, count(status.favourites_count));
  const like = h(
    "button",
    { type: "button", class: "action like", "aria-pressed": status.favourited ? "true" : "false", title: "Like" },
    icon("heart"), h("span", { class: "visually-hidden" }, "Like"), likeCount,
  );
  like.addEventListener("click", async () => {
    const on = like.getAttribute("aria-pressed") !== "true";
    const before = status.favourites_count;
    like.setAttribute("aria-pressed", String(on));
    likeCount.textContent = count(before + (on ? 1 : -1));
    try {
      const now = await ctx.api.post(`/api/v1/statuses/${status.id}/${on ? "favourite" : "unfavourite"}`);
      status.favourited = now.favourited;
      status.favourites_count = now.favourites_count;
      likeCount.textContent = count(now.favourites_count);
      like.setAttribute("aria-pressed", String(Boolean(now.favourited)));
    } catch (err) {
      like.setAttribute("aria-pressed", String(!on));
      likeCount.textContent = count(before);
      ctx.fail(err);
    }
  });

  const reply = h(
    "a",
    { class: "action reply", href: `${statusPath(status)}#reply`, title: "Reply" },
    icon("reply"), h("span", { class: "visually-hidden" }, "Reply"), h("span", { class: "n" }, count(status.replies_count)),
  );
  const actions = h("div", { class: "actions" }, reply, like);
  if (mine) {
    actions.append(
      h("button", { type: "button", class: "action edit", title: "Edit", onclick: () => startEdit(ctx, article, status) }, icon("edit"), h("span", { class: "visually-hidden" }, "Edit")),
      h("button", { type: "button", class: "action delete", title: "Delete", onclick: () => confirmDelete(ctx, article, status) }, icon("trash"), h("span", { class: "visually-hidden" }, "Delete")),
    );
  }
  article.append(
    h("a", { href: profilePath(status.account), class: "avatar-link", tabindex: "-1", "aria-hidden": "true" }, avatar(status.account, compact ? 36 : 48)),
    h("div", { class: "status-body" }, header, replyNote, contentOf(status), media(status), actions),
  );
  return article;
}

function startEdit(ctx, article, status) {
  const content = article.querySelector(".content");
  if (!content || article.querySelector(".edit-form")) return;
  const id = uid("edit");
  const area = h("textarea", { id, rows: 3, class: "compose-text" });
  const counter = charCounter(ctx.instance.maxCharacters);
  const save = h("button", { type: "submit", class: "button primary small" }, "Save");
  const form = h(
    "form",
    { class: "edit-form", "aria-label": "Edit post" },
    h("label", { for: id, class: "visually-hidden" }, "Edit your post"),
    area,
    h("div", { class: "composer-bar" }, h("span", { class: "spacer" }), counter.el,
      h("button", { type: "button", class: "button ghost small", onclick: () => { form.remove(); content.hidden = false; } }, "Cancel"),
      save),
  );
  const refresh = () => {
    save.disabled = counter.update(area.value) < 0 || !area.value.trim();
  };
  area.addEventListener("input", refresh);
  content.hidden = true;
  content.after(form);
  area.value = content.innerText.trim();
  refresh();
  area.focus();
  ctx.api.get(`/api/v1/statuses/${status.id}/source`).then((src) => {
    if (document.activeElement === area && area.value !== src.text) return;
    area.value = src.text;
    refresh();
  }, () => {});
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      const edited = await ctx.api.put(`/api/v1/statuses/${status.id}`, { status: area.value });
      replaceEverywhere(ctx, edited);
      toast("Post updated.");
    } catch (err) {
      ctx.fail(err);
      refresh();
    }
  });
}

function confirmDelete(ctx, article, status) {
  const actions = article.querySelector(".actions");
  if (article.querySelector(".confirm")) return;
  const yes = h("button", { type: "button", class: "button danger small" }, "Delete");
  const no = h("button", { type: "button", class: "button ghost small" }, "Cancel");
  const box = h("div", { class: "confirm", role: "group", "aria-label": "Confirm deletion" }, h("span", {}, "Delete this post?"), yes, no);
  actions.after(box);
  yes.focus();
  no.addEventListener("click", () => box.remove());
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    try {
      await ctx.api.del(`/api/v1/statuses/${status.id}`);
      removeEverywhere(status.id);
      toast("Post deleted.");
    } catch (err) {
      box.remove();
      ctx.fail(err);
    }
  });
}

function copiesOf(id) {
  return document.querySelectorAll(`article.status[data-status-id="${CSS.escape(id)}"]`);
}

/** A deleted status leaves every screen it is on (a notification about it too). */
export function removeEverywhere(id) {
  for (const el of copiesOf(id)) {
    const holder = el.closest(".notification") || el;
    holder.remove();
  }
}

/** An edited status is rendered again wherever it is shown, keeping each copy's look. */
export function replaceEverywhere(ctx, status) {
  for (const el of copiesOf(status.id)) {
    el.replaceWith(renderStatus(ctx, status, { focused: el.classList.contains("focused"), compact: el.classList.contains("compact") }));
  }
}
