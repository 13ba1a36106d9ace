// The composer: text with a live count of what is left of the server's limit (code points, as the server
// counts), one image with its alt text, replies; posts with an Idempotency-Key so a retried click posts once.

import { newKey } from "./api.js";
import { icon } from "./icons.js";
import { h, toast, uid } from "./ui.js";

export function length(text) {
  return [...text].length;
}

/** A counter that shows what is left, warns near the end and turns red past it. */
export function charCounter(max) {
  const el = h("span", { class: "counter", "aria-live": "off" });
  const update = (text) => {
    const left = max - length(text);
    el.textContent = String(left);
    el.classList.toggle("near", left <= 20 && left >= 0);
    el.classList.toggle("over", left < 0);
    el.setAttribute("aria-label", left < 0 ? `${-left} characters over the limit` : `${left} characters left`);
    return left;
  };
  return { el, update };
}

export function composer(ctx, { replyTo = null, onPosted = null, autofocus = false } = {}) {
  const max = ctx.instance.maxCharacters;
  const textId = uid("compose");
  const counter = charCounter(max);
  const prefix = replyTo && replyTo.account.id !== ctx.me.id ? `@${replyTo.account.acct} ` : "";
  const text = h("textarea", {
    id: textId, name: "status", rows: replyTo ? 2 : 3, class: "compose-text",
    placeholder: replyTo ? "Post your reply" : "What's happening?", "aria-describedby": `${textId}-count`,
    value: prefix,
  });
  counter.el.id = `${textId}-count`;
  const fileId = uid("file");
  const file = h("input", { type: "file", id: fileId, accept: "image/png,image/jpeg,image/gif,image/webp", class: "visually-hidden" });
  const attachLabel = h("label", { for: fileId, class: "button ghost attach", title: "Add an image" }, icon("image"), h("span", { class: "visually-hidden" }, "Add an image"));
  const preview = h("div", { class: "attachment", hidden: true });
  const submit = h("button", { type: "submit", class: "button primary", disabled: true }, replyTo ? "Reply" : "Post");
  const form = h(
    "form",
    { class: "composer", "aria-label": replyTo ? "Reply" : "New post", dataset: { replyTo: replyTo?.id || "" } },
    h("label", { for: textId, class: "visually-hidden" }, replyTo ? `Reply to @${replyTo.account.acct}` : "What's happening?"),
    text,
    preview,
    h("div", { class: "composer-bar" }, attachLabel, file, h("span", { class: "spacer" }), counter.el, submit),
  );
  let chosen = null; // {file, url, alt input}

  const refresh = () => {
    const left = counter.update(text.value);
    submit.disabled = left < 0 || text.value.trim() === "" || form.classList.contains("busy");
  };
  text.addEventListener("input", refresh);
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !submit.disabled) form.requestSubmit();
  });

  const dropImage = () => {
    if (chosen) URL.revokeObjectURL(chosen.url);
    chosen = null;
    file.value = "";
    preview.replaceChildren();
    preview.hidden = true;
  };
  file.addEventListener("change", () => {
    const picked = file.files?.[0];
    if (!picked) return;
    if (!picked.type.startsWith("image/")) {
      toast("Only images can be attached here.", "error");
      file.value = "";
      return;
    }
    if (chosen) URL.revokeObjectURL(chosen.url);
    const url = URL.createObjectURL(picked);
    const altId = uid("alt");
    const alt = h("textarea", { id: altId, class: "alt-text", rows: 2, maxlength: 1000, placeholder: "Describe the image for people who cannot see it" });
    chosen = { file: picked, url, alt };
    preview.replaceChildren(
      h("img", { src: url, alt: "The image you attached (its description is in the field beside it)" }),
      h("div", { class: "alt-field" },
        h("label", { for: altId }, "Alt text"), alt,
        h("button", { type: "button", class: "button ghost small", onclick: dropImage }, "Remove image")),
    );
    preview.hidden = false;
    alt.focus();
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    form.classList.add("busy");
    submit.disabled = true;
    try {
      const mediaIds = [];
      if (chosen) {
        const body = new FormData();
        body.append("file", chosen.file);
        if (chosen.alt.value.trim()) body.append("description", chosen.alt.value.trim());
        const uploaded = await ctx.api.request("POST", "/api/v2/media", { body });
        mediaIds.push(uploaded.data.id);
      }
      const posted = await ctx.api.post(
        "/api/v1/statuses",
        { status: text.value, in_reply_to_id: replyTo?.id || null, media_ids: mediaIds },
        { headers: { "Idempotency-Key": newKey() } },
      );
      text.value = "";
      dropImage();
      toast(replyTo ? "Reply posted." : "Posted.");
      onPosted?.(posted);
    } catch (err) {
      ctx.fail(err);
    } finally {
      form.classList.remove("busy");
      refresh();
    }
  });
  refresh();
  if (autofocus) queueMicrotask(() => {
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
  });
  return form;
}
