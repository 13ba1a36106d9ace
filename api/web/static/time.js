// Times as a reader expects them: "now", "45s", "2m", "3h", "5d" for the last week, then a date in the
// reader's own locale; the full date and time in the title (and in <time datetime>).

const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const thisYear = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const otherYear = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

export function ago(date, now = new Date()) {
  const s = Math.round((now - date) / 1000);
  if (s < 10) return "now";
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)}d`;
  return (date.getFullYear() === now.getFullYear() ? thisYear : otherYear).format(date);
}

export function timeElement(iso) {
  const date = new Date(iso);
  const el = document.createElement("time");
  el.dateTime = iso;
  el.title = full.format(date);
  el.textContent = ago(date);
  return el;
}

export function fullDate(iso) {
  return full.format(new Date(iso));
}

/** Keeps every relative time on the page current. */
export function tickTimes() {
  setInterval(() => {
    const now = new Date();
    for (const el of document.querySelectorAll("time[datetime]")) {
      if (el.dataset.fixed === undefined) el.textContent = ago(new Date(el.dateTime), now);
    }
  }, 20000);
}
