// Safe DOM building: text always goes in as text nodes; only a status's `content` (HTML the server sanitized:
// escaped text, links, paragraphs) is ever set as HTML, by the code that renders statuses.

/** h("button", {class: "x", onclick: f, "aria-label": "Like"}, "text", child, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A message for everyone: polite for news, assertive (role=alert) for errors. Gone after a while or on click. */
export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : null }, message);
  const close = h("button", { class: "toast-close", type: "button", "aria-label": "Dismiss" }, "×");
  close.addEventListener("click", () => item.remove());
  item.append(close);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 12000 : 5000);
  return item;
}

export function spinner(label = "Loading") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "dot" }), label, "…");
}

export function avatar(account, size = 48) {
  return h("img", {
    class: "avatar", src: account.avatar_static || account.avatar, alt: "", width: size, height: size,
    loading: "lazy", decoding: "async",
  });
}

export function displayName(account) {
  return account.display_name || account.username;
}

/** Short ids for labels (the DOM needs unique ids to tie a label to its field). */
let counter = 0;
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}
