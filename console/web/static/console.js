// Stamp console: confirmations, and live updates of the page from the
// API's event stream. Everything works without this script except the
// live updates; the server checks every action anyway.
"use strict";

document.addEventListener("submit", (e) => {
  const msg = e.target.dataset && e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) e.preventDefault();
});

// A page marked data-live redraws its main part when an event comes,
// at most every half second, keeping the reader's place and focus.
(function live() {
  const el = document.querySelector("[data-live]");
  if (!el || !window.EventSource) return;
  const stream = new EventSource(el.dataset.live);
  let pending = null;
  const redraw = async () => {
    pending = null;
    const active = document.activeElement;
    if (active && active.closest("form")) return; // do not pull a form from under a typing hand
    const resp = await fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!resp.ok) return;
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const fresh = doc.querySelector("[data-live]");
    const now = document.querySelector("[data-live]");
    if (fresh && now) {
      now.innerHTML = fresh.innerHTML;
      document.body.dataset.updated = String(Date.now());
    }
  };
  const changed = () => { if (!pending) pending = setTimeout(redraw, 500); };
  for (const type of (el.dataset.events || "").split(" ")) {
    if (type) stream.addEventListener(type, changed);
  }
  stream.onmessage = changed;
})();
