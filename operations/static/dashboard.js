// Spoorwerk dashboard: refreshes the live parts of a page, and records actions through the API.
// No build step, no dependencies: served as is from the operations package.
"use strict";
(function () {
  const seconds = Number(document.body.dataset.refresh || 0);
  let busy = false;
  // The page's words for what the script says (operations/dashboard.py, _script_strings), in the page's language.
  const words = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}");
  function t(key, params) {
    return (words[key] || key).replace(/%\((\w+)\)s/g, function (m, name) {
      return params && name in params ? String(params[name]) : m;
    });
  }

  function stamp(ok) {
    const time = new Date().toLocaleTimeString(document.documentElement.lang || "nl", {hour: "2-digit", minute: "2-digit", second: "2-digit"});
    document.querySelectorAll("[data-updated]").forEach(function (el) {
      el.textContent = t(ok ? "updated" : "refreshFailed", {time: time});
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
    return res.statusText || t("refusedFallback");
  }

  // A refusal names its field by key ("on: ..."): the summary line says the field's label instead, as the form does.
  // One about the action as a whole names its kind ("evaluatie_held: ..."): said as the action's name in the picker.
  function fieldLabel(root, name) {
    const el = root.querySelector('[data-error-for="' + name + '"]');
    const label = el && el.closest("label, fieldset");
    if (!label) {
      const option = root.querySelector('option[value="' + name + '"]');
      return option ? option.textContent.trim() : null;
    }
    const span = label.querySelector("span, legend");
    const text = span ? span.textContent : (label.firstChild && label.firstChild.textContent);
    return text ? text.replace(/\*/g, "").trim() || null : null;
  }

  function labelled(root, text) {
    return text.replace(/(^|; )([a-z_]+)((?:\.[\w.]+)?): /g, function (m, pre, name, rest) {
      return pre + (fieldLabel(root, name + rest) || fieldLabel(root, name) || name + rest) + ": ";
    });
  }

  // Opening or taking over a case (/cases/new): the form's fields as POST /api/cases takes them.
  const opening = document.getElementById("open-form");
  if (opening) {
    const steps = JSON.parse(opening.dataset.steps || "[]");
    const said = opening.querySelector("[data-result]");
    let openKey = null;
    opening.addEventListener("input", function () { openKey = null; });
    opening.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      opening.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
      const f = opening.elements;
      const body = {employer_id: f.employer_id.value.trim(), first_sick_day: f.first_sick_day.value};
      if (f.case_id.value.trim()) body.case_id = f.case_id.value.trim();
      if (f.stage.value) body.stage = f.stage.value;
      if (f.casemanager.value.trim()) body.assigned = {casemanager: [f.casemanager.value.trim()]};
      if (f.surname.value.trim()) {
        body.employee = {surname: f.surname.value.trim()};
        if (f.given_names.value.trim()) body.employee.given_names = f.given_names.value.trim();
        if (f.personnel_number.value.trim()) body.employee.personnel_number = f.personnel_number.value.trim();
      }
      const prior = [];
      steps.forEach(function (key) {
        const done = f["done-" + key].value, undone = f["undone-" + key].checked;
        if (done || undone) prior.push({key: key, done_on: undone ? null : done});
      });
      if (prior.length) body.prior_steps = prior;
      const lines = function (text) { return text.split("\n").map(function (l) { return l.trim(); }).filter(Boolean); };
      // A date typed as a person in the Netherlands writes it (2-4-2026, 02-04-2026, 2/4/2026) goes as ISO; anything
      // else as typed, for the service to refuse by its field.
      const iso = function (text) {
        const m = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/.exec(text);
        return m ? m[3] + "-" + m[2].padStart(2, "0") + "-" + m[1].padStart(2, "0") : text;
      };
      const held = lines(f.evaluations_held.value).map(iso);
      if (held.length) body.evaluations_held = held;
      const gaps = lines(f.interruptions.value).map(function (l) {
        const d = l.split(/[\s,]+/).map(iso);
        return {recovered_on: d[0], relapsed_on: d[1]};
      });
      if (gaps.length) body.interruptions = gaps;
      openKey = openKey || uuid();
      said.textContent = t("busy");
      said.className = "result busy";
      try {
        const res = await fetch("/api/cases", {method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": openKey},
          body: JSON.stringify(body)});
        let data = null;
        try { data = await res.json(); } catch (err) { /* not JSON */ }
        if (res.ok) { location.assign("/cases/" + encodeURIComponent(data.case_id)); return; }
        if (res.status === 401) { location.assign("/login?next=/cases/new"); return; }
        const detail = data && data.detail;
        const first = Array.isArray(detail) ? detail.map(function (d) { return (d.loc || []).filter(function (p) { return p !== "body"; }).join(".") + ": " + d.msg; }) : [String(detail || res.statusText)];
        first.forEach(function (text) {
          const m = /^([a-z_]+)/.exec(text);
          const el = m && opening.querySelector('[data-error-for="' + m[1] + '"]');
          if (el) el.textContent = text;
        });
        said.textContent = t(res.status < 500 ? "refused" : "failed", {status: res.status, reason: labelled(opening, first.join("; "))});
        said.className = "result error";
        if (res.status < 500) openKey = null;
      } catch (err) {
        said.textContent = t("notSent", {reason: err.message});
        said.className = "result error";
      }
    });
  }

  // A file sent to the API from a page (an export on /imports, an employer's staff on /cijfers): the answer's counts
  // in a line, its problems by row and column in a table below.
  function uploads(el, request, done) {
    const said = el.querySelector("[data-result]");
    const table = el.querySelector("[data-problems]");
    el.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const file = el.elements.file.files[0];
      const xlsx = /\.xlsx$/i.test(file.name);
      const asked = request(file, ev.submitter);
      said.textContent = t("busy");
      said.className = "result busy";
      table.hidden = true;
      try {
        const res = await fetch(asked.url, {method: asked.method, credentials: "same-origin", body: file,
          headers: {Accept: "application/json", "Content-Type": xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv"}});
        let data = null;
        try { data = await res.json(); } catch (err) { /* not JSON */ }
        if (res.status === 401) { location.assign("/login?next=" + encodeURIComponent(location.pathname)); return; }
        const problems = (data && Array.isArray(data.problems)) ? data.problems : [];
        const rows = table.querySelector("tbody");
        rows.replaceChildren();
        problems.forEach(function (p) {
          const tr = document.createElement("tr");
          [p.row, p.column, p.message].forEach(function (v) { const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td); });
          rows.appendChild(tr);
        });
        table.hidden = !problems.length;
        if (!res.ok && !problems.length) {
          said.textContent = t(res.status < 500 ? "refused" : "failed", {status: res.status, reason: reason(data, res)});
          said.className = "result error";
          return;
        }
        await done(res, data, said, asked);
      } catch (err) {
        said.textContent = t("notSent", {reason: err.message});
        said.className = "result error";
      }
    });
  }

  // Importing an export (/imports): checked first (a dry run), then imported.
  const importing = document.getElementById("import-form");
  if (importing) {
    uploads(importing, function (file, submitter) {
      const check = !submitter || submitter.name === "check";
      const query = new URLSearchParams({filename: file.name, dry_run: check ? "true" : "false"});
      return {url: "/api/imports?" + query, method: "POST", check: check};
    }, async function (res, data, said, asked) {
      const none = !asked.check && !data.import_id;  // no valid row: nothing started
      said.textContent = t(asked.check ? "importChecked" : none ? "importNothing" : "importStarted", {rows: data.rows, valid: data.valid, refused: data.refused_rows});
      said.className = "result " + (data.refused_rows ? "error" : "ok");
      if (!asked.check) await refresh();
    });
  }

  // An employer's staff (/cijfers): replaced as a whole, or nothing stored while a row is wrong.
  document.querySelectorAll("form[data-employment]").forEach(function (el) {
    uploads(el, function (file) {
      const query = new URLSearchParams({filename: file.name});
      return {url: "/api/figures/employment/" + encodeURIComponent(el.dataset.employment) + "?" + query, method: "PUT"};
    }, async function (res, data, said) {
      if (!res.ok) {
        said.textContent = t("employmentRefused");
        said.className = "result error";
        return;
      }
      said.textContent = t("employmentStored", {rows: data.rows});
      said.className = "result ok";
      setTimeout(function () { location.reload(); }, 1500);
    });
  });

  const form = document.getElementById("action-form");
  if (!form) return;
  const select = form.elements.kind;
  const day = form.elements.on;
  const inputs = form.querySelector("[data-inputs]");
  const result = form.querySelector("[data-result]");
  const button = form.querySelector("button[type=submit]");
  const specs = JSON.parse(form.dataset.specs || "{}");
  const EARLY_DAYS = 56;  // eight weeks before its term: asked before recording
  // One key per intended action: a resend after a network error or a 5xx reuses it, so it applies once.
  let key = null;

  function show(kind, text) {
    result.textContent = text;
    result.className = "result " + kind;
  }

  // One input per field of the chosen action, from its schema (operations/dashboard.py, _field_spec).
  function control(spec) {
    let el;
    if (spec.widget === "select" || spec.widget === "yesno") {
      el = document.createElement("select");
      // Choices come as [value, label] pairs, their labels from the glossary in the page's language.
      const choices = spec.widget === "yesno" ? [["true", t("yes")], ["false", t("no")]] : spec.options.slice();
      if (!spec.required || spec.widget === "yesno") choices.unshift(["", spec.required ? t("choose") : "—"]);
      choices.forEach(function (c) { const o = document.createElement("option"); o.value = c[0]; o.textContent = c[1]; el.appendChild(o); });
    } else if (spec.widget === "textarea" || spec.widget === "lines" || spec.widget === "json") {
      el = document.createElement("textarea");
      el.rows = spec.widget === "textarea" ? 2 : 3;
      if (spec.widget === "lines") el.placeholder = t("onePerLine");
      if (spec.widget === "json") { el.placeholder = "JSON"; el.spellcheck = false; }
      if (spec.maxlength) el.maxLength = spec.maxlength;
    } else {
      el = document.createElement("input");
      el.type = spec.widget === "number" ? "number" : spec.widget === "date" ? "date" : "text";
      if (spec.widget === "number") {
        el.step = spec.step;
        if (spec.minimum !== undefined) el.min = spec.minimum;
        if (spec.maximum !== undefined) el.max = spec.maximum;
      }
      if (spec.maxlength) el.maxLength = spec.maxlength;
    }
    el.name = "f-" + spec.name;
    el.dataset.field = spec.name;
    el.required = spec.required;
    el.addEventListener("input", function () { key = null; error(spec.name, ""); });
    return el;
  }

  // A field with its label, help and error line; a group (a structure of named parts) as a fieldset of its parts.
  function field(spec) {
    const err = document.createElement("small");
    err.className = "field-error";
    err.dataset.errorFor = spec.name;
    const help = document.createElement("small");
    help.className = "muted";
    help.textContent = spec.help || "";
    if (spec.widget === "group") {
      const set = document.createElement("fieldset");
      set.className = "field group";
      const legend = document.createElement("legend");
      legend.textContent = spec.label + (spec.required ? " *" : "");
      set.appendChild(legend);
      if (spec.help) set.appendChild(help);
      spec.fields.forEach(function (part) { set.appendChild(field(part)); });
      set.appendChild(err);
      return set;
    }
    const label = document.createElement("label");
    label.className = "field " + spec.widget;
    const name = document.createElement("span");
    name.textContent = spec.label + (spec.required ? " *" : "");
    label.append(name, control(spec));
    if (spec.help) label.appendChild(help);
    label.appendChild(err);
    return label;
  }

  function render() {
    inputs.replaceChildren();
    (specs[select.value] || []).forEach(function (spec) { inputs.appendChild(field(spec)); });
    key = null;
  }

  function error(name, text) {
    const el = form.querySelector('[data-error-for="' + name + '"]');
    if (el) el.textContent = text;
    return Boolean(el);
  }

  // The typed values of the filled-in fields: numbers as numbers, yes/no as true/false, lists one per line.
  function values(list) {
    const out = {};
    let ok = true;
    (list || specs[select.value] || []).forEach(function (spec) {
      if (spec.widget === "group") {
        // Its parts under their own names ("grounds.skills" -> grounds.skills); left out when none is filled in.
        const parts = values(spec.fields);
        if (parts === null) { ok = false; return; }
        const own = {};
        Object.keys(parts).forEach(function (k) { own[k.slice(spec.name.length + 1)] = parts[k]; });
        if (Object.keys(own).length) out[spec.name] = own;
        return;
      }
      const raw = form.elements["f-" + spec.name].value;
      if (raw.trim() === "") return;
      if (spec.widget === "number") out[spec.name] = Number(raw);
      else if (spec.widget === "yesno") out[spec.name] = raw === "true";
      else if (spec.widget === "lines") out[spec.name] = raw.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
      else if (spec.widget === "json") {
        try { out[spec.name] = JSON.parse(raw); } catch (err) { ok = false; error(spec.name, t("invalidJson", {reason: err.message})); }
      } else out[spec.name] = raw;
    });
    return ok ? out : null;
  }

  // A refusal names the field it is about ("field: reason", or a 422's loc): said next to that field too.
  function blame(data) {
    const detail = data && data.detail;
    if (Array.isArray(detail)) {
      detail.forEach(function (d) {
        const loc = (d.loc || []).filter(function (p) { return p !== "body"; });
        // A part of a group ("grounds.skills") next to that part, else next to the field it belongs to.
        if (loc.length) error(loc.join("."), d.msg) || error(String(loc[0]), d.msg);
      });
    } else if (typeof detail === "string") {
      const m = /^([a-z_]+)((?:\.[\w.]+)?): /.exec(detail);
      if (m) error(m[1] + m[2], detail.slice(m[0].length)) || error(m[1], detail.slice(m[0].length));
    }
  }

  select.addEventListener("change", render);
  day.addEventListener("input", function () { key = null; });
  render();

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    form.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
    const extra = values();
    if (extra === null) { show("error", t("invalidField")); return; }
    const option = select.selectedOptions[0];
    // A statutory step recorded long before it is due changes the case (its stage, its documents) and is seldom
    // meant: asked once more. Early can be right (a vervroegde IVA-aanvraag, a ziekmelding when the contract ends).
    if (option.dataset.due && day.value) {
      const early = (Date.parse(option.dataset.due) - Date.parse(day.value)) / 86400000;
      if (early > EARLY_DAYS && !window.confirm(t("early", {action: option.textContent, due: option.dataset.dueShown, days: Math.round(early)}))) {
        return;
      }
    }
    key = key || uuid();
    button.disabled = true;
    show("busy", t("recording", {action: option.textContent}));
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
        // The action's label in the reader's language (the entry's stored summary is the dossier's English record).
        show("ok", t(data && data.applied === false ? "recordedBefore" : "recorded", {what: option.textContent}));
        render();
        await refresh();
        setTimeout(refresh, 2000);  // a trajectory's entry reaches the case's dossier a moment later
      } else if (res.status === 401) {
        location.assign("/login?next=" + encodeURIComponent(location.pathname));
      } else if (res.status < 500) {
        key = null;
        blame(data);
        show("error", t("refused", {status: res.status, reason: labelled(form, reason(data, res))}));
      } else {
        show("error", t("failed", {status: res.status, reason: labelled(form, reason(data, res))}));
      }
    } catch (err) {
      show("error", t("notSent", {reason: err.message}));
    } finally {
      button.disabled = false;
    }
  });
})();

// The case page's messages to UWV: prepare one, or send a prepared one, through the API; the page then shows it.
(function () {
  const status = document.querySelector("[data-uwv-status]");
  document.querySelectorAll("button[data-uwv-path]").forEach(function (button) {
    const key = "uwv-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
    button.addEventListener("click", async function () {
      button.disabled = true;
      const kind = button.dataset.uwvMessageKind;
      try {
        const res = await fetch(button.dataset.uwvPath, {
          method: "POST",
          credentials: "same-origin",
          headers: {"Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": key},
          body: kind ? JSON.stringify({message: kind}) : null,
        });
        if (res.ok) { location.reload(); return; }
        let data = null;
        try { data = await res.json(); } catch (err) { /* not JSON */ }
        if (status) status.textContent = (data && typeof data.detail === "string") ? data.detail : String(res.status);
      } catch (err) {
        if (status) status.textContent = err.message;
      } finally {
        button.disabled = false;
      }
    });
  });
})();
