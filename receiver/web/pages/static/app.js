// alert-receiver's one script. Every page works without it; it adds live refresh of the
// home page, keyboard shortcuts and local times. No inline code anywhere (the CSP allows
// only this file), so everything is wired here from data attributes and classes.
"use strict";

(() => {
  const PAUSED_KEY = "alert-receiver.live-paused";
  const REFRESH_MS = 15000;

  // <time datetime="...Z" title="... UTC">: show local time, keep UTC in the title.
  function localTimes(root) {
    const format = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short",
    });
    for (const el of root.querySelectorAll("time[datetime]")) {
      const at = new Date(el.getAttribute("datetime"));
      if (!Number.isNaN(at.getTime())) el.textContent = format.format(at);
    }
  }

  // j/k move a highlighted row through list tables; Enter opens it; a acknowledges.
  let current = -1;
  const rows = () => Array.from(document.querySelectorAll("tr[data-href]"));

  function highlight(index) {
    const all = rows();
    if (all.length === 0) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((row, i) => row.classList.toggle("highlight", i === current));
    all[current].scrollIntoView({ block: "nearest" });
  }

  function submit(form) {
    const by = form.querySelector("input[name=by]");
    if (by && !by.value) by.focus();
    form.requestSubmit();  // runs the browser's checks: the name is required
  }

  function acknowledge() {
    const row = rows()[current];
    const box = row && row.querySelector("input[name=ids]");
    if (box) {
      for (const other of document.querySelectorAll("input[name=ids]")) other.checked = false;
      box.checked = true;
      submit(box.form);
      return;
    }
    const own = document.querySelector("form.action-acknowledge");
    if (own) submit(own);
  }

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); }
    } else if (event.key === "j") {
      highlight(current + 1);
    } else if (event.key === "k") {
      highlight(current - 1);
    } else if (event.key === "Enter" && current >= 0 && rows()[current]) {
      window.location.href = rows()[current].dataset.href;
    } else if (event.key === "a") {
      acknowledge();
    }
  });

  // Live refresh of the page holding [data-live]: refetch it and swap <main>, unless
  // paused (kept in localStorage), or someone is typing or has ticked something.
  function live() {
    const main = document.querySelector("main");
    const marker = document.querySelector("[data-live]");
    if (!main || !marker) return;
    const kiosk = marker.hasAttribute("data-kiosk");
    const paused = () => !kiosk && localStorage.getItem(PAUSED_KEY) === "1";

    const button = document.createElement("button");
    button.type = "button";
    button.className = "live-toggle";
    const label = () => { button.textContent = paused() ? "Resume live updates" : "Pause live updates"; };
    button.addEventListener("click", () => {
      localStorage.setItem(PAUSED_KEY, paused() ? "0" : "1");
      label();
    });
    label();
    if (!kiosk) main.before(button);

    async function refresh() {
      const busy = typing(document.activeElement) || document.querySelector("main input:checked");
      if (paused() || busy || document.hidden) return;
      try {
        const answer = await fetch(window.location.href, { headers: { Accept: "text/html" } });
        if (!answer.ok) return;
        const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
        const freshMain = fresh.querySelector("main");
        if (!freshMain) return;
        main.replaceChildren(...freshMain.childNodes);
        document.title = fresh.title;
        localTimes(main);
        if (current >= 0) highlight(current);
      } catch (_) {
        // the receiver is restarting or the network is away: try at the next tick
      }
    }
    window.setInterval(refresh, REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    localTimes(document);
    live();
  });
})();
