/**
 * The import page: one state (the import as the API answers it), rendered into
 * the page's steps; every change goes to the import API and the answer becomes
 * the new state. Upload -> columns, cleaning, values -> dry run -> commit, with
 * the job's progress polled until it ends.
 */
import { api, announce, ApiError, scriptReady } from "./api.js";

const root = document.getElementById("import");
const meta = JSON.parse(document.getElementById("import-meta").textContent);
const texts = meta.texts;
let current = null; // the import, as last answered
let polling = null;

function t(key, params = {}) {
  return (texts[key] || key).replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

function labelOf(label) {
  if (label && typeof label === "object") return label[meta.locale] || label.en || Object.values(label)[0] || "";
  return label == null ? "" : String(label);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function option(value, text, selected) {
  const node = el("option", { value }, text);
  node.selected = Boolean(selected);
  return node;
}

function problemText(error) {
  if (!(error instanceof ApiError)) return String(error);
  const details = error.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
  return [error.message, ...details.slice(0, 5)].join(" · ");
}

function url(suffix = "") {
  return `${meta.api}/${current.id}${suffix}`;
}

// ------------------------------------------------------------------ rendering

function render() {
  const setup = document.getElementById("import-setup");
  const run = document.getElementById("import-run");
  setup.hidden = current === null;
  if (current === null) return;
  const editable = ["draft", "failed", "cancelled"].includes(current.state) && !current.rows_done;
  renderWhere();
  renderMapping();
  renderHow();
  renderUnmatched();
  for (const control of setup.querySelectorAll("input, select, button")) control.disabled = !editable;
  const blocked = Object.keys(current.unmatched).length > 0;
  const status = setup.querySelector("[data-status]");
  status.textContent = blocked ? t("import.blocked") : t("import.ready", { total: current.total_rows });
  setup.querySelector("[data-commit]").disabled = !editable || blocked;
  setup.querySelector("[data-dry-run]").disabled = !editable || blocked;
  run.hidden = !current.job;
  if (current.job) renderProgress();
}

function renderWhere() {
  const wrap = root.querySelector("[data-sheet-wrap]");
  const sheet = document.getElementById("import-sheet");
  wrap.hidden = current.sheets.length < 2;
  sheet.replaceChildren(...current.sheets.map((name) => option(name, name, name === current.sheet)));
  document.getElementById("import-header").value = current.header_row;
}

function renderMapping() {
  const body = root.querySelector("[data-mapping]");
  const sample = current.sample[0] || [];
  body.replaceChildren(
    ...current.columns.map((column) => {
      const select = el("select", { name: `column-${column.index}`, "aria-label": `${t("import.field")}: ${column.header ?? ""}` });
      select.append(option("", t("import.skip_column"), !column.field));
      for (const field of current.fields) select.append(option(field.key, labelOf(field.label), column.field === field.key));
      const first = sample[column.index];
      return el(
        "tr",
        {},
        el("th", { scope: "row", text: column.header == null ? `#${column.index + 1}` : String(column.header) }),
        el("td", { text: first == null ? "" : String(first) }),
        el("td", {}, select),
      );
    }),
  );
}

function renderHow() {
  for (const box of root.querySelectorAll('input[name="cleaning"]')) {
    box.checked = current.cleaning.some((step) => step.name === box.value && step.enabled);
  }
  document.getElementById("import-mode").value = current.mode;
  document.getElementById("import-policy").value = current.error_policy;
  const key = document.getElementById("import-key");
  key.replaceChildren(option("", t("import.no_key"), !current.key_field));
  for (const field of current.fields) key.append(option(field.key, labelOf(field.label), field.key === current.key_field));
}

function renderUnmatched() {
  const wrap = root.querySelector("[data-unmatched-wrap]");
  const holder = root.querySelector("[data-unmatched]");
  const entries = Object.entries(current.unmatched);
  wrap.hidden = entries.length === 0;
  holder.replaceChildren(
    ...entries.map(([key, values]) => {
      const field = current.fields.find((f) => f.key === key) || { label: key, choices: null };
      const rows = values.map((entry) => {
        const select = el("select", { "data-value-field": key, "data-value": entry.value, "aria-label": `${t("import.map_to")}: ${entry.value}` });
        select.append(option("", t("import.choose"), true), option("\u0000empty", t("import.empty")));
        for (const choice of field.choices || []) select.append(option(JSON.stringify(choice.value), labelOf(choice.label)));
        return el(
          "tr",
          {},
          el("th", { scope: "row", text: entry.value }),
          el("td", { text: `${entry.count} (${entry.rows.join(", ")})` }),
          el("td", {}, select),
        );
      });
      const head = el("tr", {}, ...[t("import.value"), t("import.count"), t("import.map_to")].map((h) => el("th", { scope: "col", text: h })));
      return el(
        "div",
        { class: "table-scroll" },
        el("h4", { text: labelOf(field.label) }),
        el("table", { class: "import-values" }, el("thead", {}, head), el("tbody", {}, ...rows)),
      );
    }),
  );
}

function renderProgress() {
  const job = current.job;
  const progress = job.progress || {};
  const bar = root.querySelector("[data-progress]");
  const total = progress.total || current.total_rows || 0;
  bar.max = Math.max(total, 1);
  bar.value = Math.min(progress.done || 0, bar.max);
  const counts = { inserted: 0, updated: 0, skipped: 0, failed: 0, ...current.counts };
  let text;
  if (current.state === "running" && progress.done != null) {
    text = t("import.progress", { done: progress.done, total, rate: progress.rows_per_second ?? "–", left: progress.seconds_left ?? "–" });
  } else if (current.state === "failed") {
    text = t("import.state.failed", { error: job.error || "" });
  } else {
    text = t(`import.state.${current.state}`, { ...counts });
  }
  root.querySelector("[data-progress-text]").textContent = text;
  root.querySelector("[data-cancel]").hidden = !["queued", "running"].includes(current.state);
  const errors = root.querySelector("[data-error-file]");
  errors.hidden = !(counts.failed > 0 && ["done", "failed", "cancelled", "undone"].includes(current.state));
  errors.href = `${url("/errors")}?locale=${encodeURIComponent(meta.locale)}`;
  root.querySelector("[data-undo]").hidden = !(current.state === "done" && current.undo_until && counts.inserted > 0);
}

function renderReport(report) {
  const section = root.querySelector("[data-report]");
  section.hidden = false;
  const rows = report.problems.map((p) =>
    el(
      "tr",
      {},
      el("td", { text: String(p.row) }),
      el("td", { text: p.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ") }),
    ),
  );
  const head = el("tr", {}, el("th", { scope: "col", text: t("import.row") }), el("th", { scope: "col", text: t("import.problems") }));
  section.replaceChildren(
    el("p", { "data-report-summary": true, text: t("import.dry_run_result", report) }),
    rows.length ? el("div", { class: "table-scroll" }, el("table", { class: "import-problems" }, el("thead", {}, head), el("tbody", {}, ...rows))) : null,
  );
}

// ------------------------------------------------------------------ reading the settings

function settingsOfPage() {
  const mapping = {};
  for (const select of root.querySelectorAll("[data-mapping] select")) {
    const index = Number(select.name.replace("column-", ""));
    if (select.value && !(select.value in mapping)) mapping[select.value] = index;
  }
  const values = structuredClone(current.values || {});
  for (const select of root.querySelectorAll("[data-value-field]")) {
    if (!select.value) continue;
    const field = select.dataset.valueField;
    values[field] = values[field] || {};
    values[field][select.dataset.value] = select.value === "\u0000empty" ? null : JSON.parse(select.value);
  }
  const change = {
    header_row: Number(document.getElementById("import-header").value || 1),
    mapping,
    cleaning: [...root.querySelectorAll('input[name="cleaning"]:checked')].map((box) => box.value),
    values,
    mode: document.getElementById("import-mode").value,
    key_field: document.getElementById("import-key").value || null,
    error_policy: document.getElementById("import-policy").value,
  };
  if (current.sheets.length) change.sheet = document.getElementById("import-sheet").value;
  // another sheet or header row has other columns: let the server match them by their headers again
  if (change.header_row !== current.header_row || (current.sheets.length && change.sheet !== current.sheet)) {
    delete change.mapping;
  }
  return change;
}

// ------------------------------------------------------------------ actions

async function act(work) {
  try {
    await work();
  } catch (error) {
    announce(problemText(error), "error");
  }
}

async function apply() {
  current = await api("PATCH", url(), settingsOfPage());
  render();
}

function poll() {
  clearTimeout(polling);
  polling = setTimeout(async () => {
    await act(async () => {
      current = await api("GET", url());
      render();
    });
    if (current && ["queued", "running"].includes(current.state)) poll();
  }, 500);
}

const upload = document.getElementById("import-upload");
upload.addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    current = await api("POST", meta.api, new FormData(upload));
    root.querySelector("[data-report]").hidden = true;
    render();
  });
});

const settings = document.getElementById("import-settings");
settings.addEventListener("submit", (event) => {
  event.preventDefault();
  act(apply);
});
settings.querySelector("[data-dry-run]").addEventListener("click", () =>
  act(async () => {
    await apply();
    renderReport(await api("POST", url("/dry-run")));
  }),
);
settings.querySelector("[data-commit]").addEventListener("click", () =>
  act(async () => {
    await apply();
    current = await api("POST", url("/commit"));
    render();
    poll();
  }),
);
root.querySelector("[data-cancel]").addEventListener("click", () =>
  act(async () => {
    current = await api("POST", url("/cancel"));
    render();
    poll();
  }),
);
root.querySelector("[data-undo]").addEventListener("click", () =>
  act(async () => {
    await api("POST", url("/undo"));
    current = await api("GET", url());
    render();
  }),
);
scriptReady(upload);
