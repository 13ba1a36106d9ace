// A list that pages into older items as its end scrolls into view (the API's `Link: rel="next"`), and, for
// the live home timeline, takes new statuses at the top: at once when the reader is at the top, else held
// behind an "n new posts" button so what they are reading does not jump.

import { h, spinner } from "./ui.js";

export class Feed {
  constructor(ctx, { path, query = {}, render, empty = "Nothing here yet.", label = "Posts", key = (item) => item.id }) {
    this.ctx = ctx;
    this.path = path;
    this.query = query;
    this.render = render;
    this.key = key;
    this.emptyText = empty;
    this.next = null;
    this.done = false;
    this.loading = false;
    this.pending = [];
    this.seen = new Set();
    this.pill = h("button", { type: "button", class: "new-posts", hidden: true, onclick: () => this.flush(true) });
    this.list = h("div", { class: "feed", role: "feed", "aria-busy": "false", "aria-label": label });
    this.footer = h("div", { class: "feed-end" });
    this.sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
    this.el = h("section", { class: "feed-wrap" }, this.pill, this.list, this.footer, this.sentinel);
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { rootMargin: "800px 0px" });
    this.observer.observe(this.sentinel);
  }

  async more() {
    if (this.loading || this.done) return;
    this.loading = true;
    this.list.setAttribute("aria-busy", "true");
    this.footer.replaceChildren(spinner(this.seen.size ? "Loading older posts" : "Loading"));
    try {
      const page = this.next ? await this.ctx.api.page(this.next) : await this.ctx.api.page(this.path, this.query);
      const items = Array.isArray(page.data) ? page.data : [];
      for (const item of items) this.append(item);
      this.next = page.links.next || null;
      this.done = !this.next || items.length === 0;
      this.footer.replaceChildren(
        this.done ? h("p", { class: "muted" }, this.seen.size ? "You have reached the end." : this.emptyText) : "",
      );
    } catch (err) {
      this.footer.replaceChildren(
        h("p", { class: "error-inline" }, err.message, " ",
          h("button", { type: "button", class: "button ghost small", onclick: () => this.more() }, "Try again")),
      );
      if (err.status === 429) this.ctx.fail(err);
    } finally {
      this.loading = false;
      this.list.setAttribute("aria-busy", "false");
    }
    // a short first page that does not fill the screen: keep going while the end is in view
    if (!this.done && this.sentinel.getBoundingClientRect().top < innerHeight + 800) this.more();
  }

  append(item) {
    const k = this.key(item);
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.list.append(this.render(item));
  }

  /** The newest first; held back while the reader is scrolled down, unless `force`. */
  prepend(item, { force = false } = {}) {
    const k = this.key(item);
    if (this.seen.has(k) || this.pending.some((p) => this.key(p) === k)) return;
    if (!force && this.scrolledDown()) {
      this.pending.unshift(item);
      this.showPill();
      return;
    }
    this.seen.add(k);
    this.list.prepend(this.render(item));
    if (this.footer.querySelector(".muted") && this.seen.size === 1) this.footer.replaceChildren();
  }

  scrolledDown() {
    return this.list.getBoundingClientRect().top < -120;
  }

  showPill() {
    const n = this.pending.length;
    this.pill.hidden = n === 0;
    this.pill.textContent = n === 1 ? "1 new post" : `${n} new posts`;
    this.ctx.setNewPosts?.(n);
  }

  flush(scroll = false) {
    const items = this.pending.reverse();
    this.pending = [];
    for (const item of items) this.prepend(item, { force: true });
    this.showPill();
    if (scroll) {
      this.el.scrollIntoView({ block: "start" });
      scrollTo({ top: 0 });
      this.list.querySelector("article")?.focus({ preventScroll: true });
    }
  }

  forget(id) {
    this.pending = this.pending.filter((p) => this.key(p) !== id);
    this.showPill();
  }

  newestId() {
    const ids = [...this.seen, ...this.pending.map(this.key)];
    return ids.reduce((a, b) => (a === null || BigInt(b) > BigInt(a) ? b : a), null);
  }

  destroy() {
    this.observer.disconnect();
  }
}
