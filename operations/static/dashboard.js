// Spoorwerk dashboard: refreshes the live parts of a page, and records actions through the API.
// No build step, no dependencies: served as is from the operations package.
"use strict";
(function () {
  const seconds = Number(document.body.dataset.refresh || 0);
  let busy = false;

  function stamp(ok) {
    const time = new Date().toLocaleTimeString("nl-NL", {hour: "2-digit", minute: "2-digit", second: "2-digit"});
    document.querySelectorAll("[data-updated]").forEach(function (el) {
      el.textContent = ok ? "updated " + time : "refresh failed at " + time + "; retrying";
      el.classList.toggle("stale", !ok);
    });
  }

  // Fetch this same page (its URL keeps the filters) and swap in the parts marked data-live.
  async function refresh() {
    if (busy) return false;
    busy = true;
    try {
      const res = await fetch(location.href, {credentials: "same-origin", cache: "no-store", headers: {Accept: "text/html"}});
      if (res.redirected && new URL(res.url).pathname === "/login") {
        location.assign(res.url);
        return false;
      }
      if (!res.ok) { stamp(false); return false; }
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      document.querySelectorAll("[data-live]").forEach(function (el) {
        const fresh = doc.querySelector('[data-live="' + el.dataset.live + '"]');
        if (fresh) el.replaceWith(document.importNode(fresh, true));
      });
      stamp(true);
      return true;
    } catch (err) {
      stamp(false);
      return false;
    } finally {
      busy = false;
    }
  }

  if (seconds > 0) {
    setInterval(function () { if (!document.hidden) refresh(); }, seconds * 1000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));  // randomUUID needs a secure context
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function reason(data, res) {
    const detail = data && data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map(function (d) {
        const loc = (d.loc || []).filter(function (p) { return p !== "body"; }).join(".");
        return (loc ? loc + ": " : "") + d.msg;
      }).join("; ");
    }
    return res.statusText || "refused";
  }

  const form = document.getElementById("action-form");
  if (!form) return;
  const select = form.elements.kind;
  const fields = form.elements.fields;
  const day = form.elements.on;
  const hint = form.querySelector("[data-fields-hint]");
  const result = form.querySelector("[data-result]");
  const button = form.querySelector("button[type=submit]");
  const skeletons = JSON.parse(form.dataset.skeletons || "{}");
  // One key per intended action: a resend after a network error or a 5xx reuses it, so it applies once.
  let key = null;
  let edited = false;

  function show(kind, text) {
    result.textContent = text;
    result.className = "result " + kind;
  }

  function chosen() {
    const option = select.selectedOptions[0];
    const names = option ? option.dataset.fields : "";
    hint.textContent = names ? "· " + names + (names.indexOf("*") >= 0 ? "  (* required)" : "") : "· none";
    if (!edited) fields.value = JSON.stringify(skeletons[select.value] || {});
    key = null;
  }

  select.addEventListener("change", chosen);
  fields.addEventListener("input", function () { edited = true; key = null; });
  day.addEventListener("input", function () { key = null; });
  chosen();

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    let extra;
    try {
      extra = JSON.parse(fields.value.trim() || "{}");
      if (extra === null || typeof extra !== "object" || Array.isArray(extra)) throw new Error("not an object");
    } catch (err) {
      show("error", "Other fields: not a JSON object (" + err.message + ")");
      return;
    }
    const option = select.selectedOptions[0];
    key = key || uuid();
    button.disabled = true;
    show("busy", "Recording " + option.textContent + "…");
    try {
      const res = await fetch(option.dataset.path, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": key},
        body: JSON.stringify(Object.assign({}, extra, {on: day.value})),
      });
      let data = null;
      try { data = await res.json(); } catch (err) { /* not JSON */ }
      if (res.ok) {
        key = null;
        edited = false;
        const entry = data && data.entry;
        show("ok", "Recorded" + (data && data.applied === false ? " before" : "") + ": " + (entry ? entry.summary : option.value));
        chosen();
        await refresh();
        setTimeout(refresh, 2000);  // a trajectory's entry reaches the case's dossier a moment later
      } else if (res.status === 401) {
        location.assign("/login?next=" + encodeURIComponent(location.pathname));
      } else if (res.status < 500) {
        key = null;
        show("error", "Refused (" + res.status + "): " + reason(data, res));
      } else {
        show("error", "Failed (" + res.status + "): " + reason(data, res) + ". Sending again is safe.");
      }
    } catch (err) {
      show("error", "Not sent: " + err.message + ". Sending again is safe.");
    } finally {
      button.disabled = false;
    }
  });
})();
