/**
 * The dashboard designer: add published reports and views of a form's process (forms with a published flow), lay them out on the grid by drag (SortableJS reorders the
 * cards, which then flow into place left to right) or by keyboard (move and resize buttons on every card,
 * one grid cell at a time), choose the shared filters, publish. One store with undo/redo; the draft is
 * saved after a pause with If-Match.
 */
import { html, render, useEffect, useReducer, useRef, useState, useCallback } from "/vendor/preact-htm.js";
import Sortable from "/vendor/sortable.esm.js";
import { api, ApiError } from "/static/js/api.js";
import { labelText } from "/static/design/js/condition_builder.js";

const boot = JSON.parse(document.getElementById("designer-boot").textContent);
const locale = boot.locale;
const t = (key, values = {}) => {
  let text = boot.messages[key] || key;
  for (const [k, v] of Object.entries(values)) text = text.replace(`{${k}}`, v);
  return text;
};
const clone = (v) => JSON.parse(JSON.stringify(v));
const SAVE_AFTER_MS = 700;
const ROW = 72;
export const VIEWS = ["backlog_by_step", "time_by_step", "time_by_approver", "by_status", "by_month", "rates"];
const PROCESS_DISPLAYS = ["table", "bar", "line", "pie", "donut", "funnel", "kpi"];
const cardKey = (item) => (item.report ? item.report : `process-${item.process}-${item.view}`);

/** Place items in their order, left to right, each as high as the tallest of its row (after a drag). */
export function flow(items, columns) {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const item of items) {
    item.w = Math.min(item.w, columns);
    if (x + item.w > columns) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    item.x = x;
    item.y = y;
    x += item.w;
    rowHeight = Math.max(rowHeight, item.h);
  }
}

const COMMANDS = {
  set(doc, { path, value }) {
    let node = doc;
    for (const part of path.slice(0, -1)) node = node[part];
    node[path[path.length - 1]] = value;
  },
  add(doc, { report, process, view }) {
    const bottom = doc.items.reduce((most, i) => Math.max(most, i.y + i.h), 0);
    const what = report ? { report } : { process, view, display: { type: view === "rates" ? "kpi" : "bar" } };
    doc.items.push({ ...what, x: 0, y: bottom, w: Math.min(6, doc.columns), h: 4 });
  },
  remove(doc, { index }) {
    doc.items.splice(index, 1);
  },
  reorder(doc, { from, to }) {
    const [item] = doc.items.splice(from, 1);
    doc.items.splice(to, 0, item);
    flow(doc.items, doc.columns);
  },
  nudge(doc, { index, dx = 0, dy = 0, dw = 0, dh = 0 }) {
    const item = doc.items[index];
    item.w = Math.max(1, Math.min(doc.columns, item.w + dw));
    item.h = Math.max(1, Math.min(40, item.h + dh));
    item.x = Math.max(0, Math.min(doc.columns - item.w, item.x + dx));
    item.y = Math.max(0, item.y + dy);
  },
  filter(doc, { kind, on, field }) {
    doc.filters = (doc.filters || []).filter((f) => !(f.kind === kind && (kind !== "field" || f.field === field)));
    if (on) doc.filters.push(kind === "field" ? { kind, field } : { kind });
  },
};

function reduce(state, command) {
  if (command.type === "undo") {
    if (!state.past.length) return state;
    return { doc: state.past.at(-1), past: state.past.slice(0, -1), future: [state.doc, ...state.future], changes: state.changes + 1 };
  }
  if (command.type === "redo") {
    if (!state.future.length) return state;
    return { doc: state.future[0], past: [...state.past, state.doc], future: state.future.slice(1), changes: state.changes + 1 };
  }
  const doc = clone(state.doc);
  COMMANDS[command.type](doc, command);
  const grouped = command.group && state.lastGroup === command.group;
  return { doc, past: grouped ? state.past : [...state.past, state.doc].slice(-200), future: [], changes: state.changes + 1, lastGroup: command.group };
}

function initial(draft) {
  const doc = clone(draft);
  doc.columns = doc.columns || 12;
  doc.items = Array.isArray(doc.items) ? doc.items : [];
  doc.filters = Array.isArray(doc.filters) ? doc.filters : [];
  return { doc, past: [], future: [], changes: 0 };
}

function useAutosave(state) {
  const [status, setStatus] = useState("saved");
  const revision = useRef(boot.draft_revision || null);
  const busy = useRef(null);
  const save = useCallback(async (doc) => {
    if (busy.current) await busy.current;
    const run = (async () => {
      setStatus("saving");
      try {
        const headers = revision.current ? { "If-Match": `"${revision.current}"` } : {};
        const saved = await api("PUT", boot.urls.draft, doc, headers);
        revision.current = saved.draft_revision;
        setStatus("saved");
      } catch (error) {
        setStatus(error instanceof ApiError && error.status === 412 ? "conflict" : "failed");
      }
    })();
    busy.current = run;
    await run;
    busy.current = null;
  }, []);
  useEffect(() => {
    if (!state.changes && boot.draft_revision) return undefined;
    setStatus("unsaved");
    const timer = setTimeout(() => save(state.doc), state.changes ? SAVE_AFTER_MS : 0);
    return () => clearTimeout(timer);
  }, [state.changes]);
  return { status, saveNow: () => save(state.doc) };
}

function Card({ item, index, dispatch, name, count }) {
  const ref = useRef(null);
  useEffect(() => {
    ref.current.style.setProperty("--x", String(item.x + 1));
    ref.current.style.setProperty("--y", String(item.y + 1));
    ref.current.style.setProperty("--w", String(item.w));
    ref.current.style.setProperty("--h", String(item.h));
  });
  const button = (label, command, text) => html`<button type="button" class="icon-button" aria-label=${label}
    onClick=${() => dispatch({ type: "nudge", index, ...command })}>${text}</button>`;
  const displayId = `dd-display-${index}`;
  return html`<li ref=${ref} class="dd-card dashboard-item report-card" data-card=${cardKey(item)} data-index=${index}>
    <div class="item-heading"><span class="rd-drag" aria-hidden="true">⠿</span><h2>${name}</h2>
      <button type="button" class="icon-button" aria-label=${t("rd.remove", { name })} onClick=${() => dispatch({ type: "remove", index })}>×</button></div>
    <p class="help" data-size>${t("dd.place", { x: item.x, y: item.y, w: item.w, h: item.h })}</p>
    ${item.process && html`<div class="field"><label for=${displayId}>${t("dd.display_of", { name })}</label>
      <select id=${displayId} data-process-display onChange=${(e) => dispatch({ type: "set", path: ["items", index, "display"], value: { type: e.target.value } })}>
        ${PROCESS_DISPLAYS.map((d) => html`<option value=${d} selected=${(item.display || {}).type === d}>${t(`rd.display_${d}`)}</option>`)}
      </select></div>`}
    <div class="dd-buttons" role="group" aria-label=${t("dd.arrange", { name })}>
      ${button(t("dd.left", { name }), { dx: -1 }, "←")}${button(t("dd.right", { name }), { dx: 1 }, "→")}
      ${button(t("dd.up", { name }), { dy: -1 }, "↑")}${button(t("dd.down", { name }), { dy: 1 }, "↓")}
      ${button(t("dd.narrower", { name }), { dw: -1 }, "−↔")}${button(t("dd.wider", { name }), { dw: 1 }, "+↔")}
      ${button(t("dd.shorter", { name }), { dh: -1 }, "−↕")}${button(t("dd.taller", { name }), { dh: 1 }, "+↕")}
      <button type="button" class="icon-button" aria-label=${t("dd.earlier", { name })} disabled=${index === 0}
        onClick=${() => dispatch({ type: "reorder", from: index, to: index - 1 })}>⇤</button>
      <button type="button" class="icon-button" aria-label=${t("dd.later", { name })} disabled=${index === count - 1}
        onClick=${() => dispatch({ type: "reorder", from: index, to: index + 1 })}>⇥</button>
    </div>
  </li>`;
}

function Designer() {
  const [state, dispatch] = useReducer(reduce, boot.draft, initial);
  const saver = useAutosave(state);
  const [result, setResult] = useState(null);
  const [published, setPublished] = useState(boot.published_version);
  const [choice, setChoice] = useState(boot.reports.length ? boot.reports[0].key : "");
  const processes = boot.processes || [];
  const [flowForm, setFlowForm] = useState(processes.length ? processes[0].key : "");
  const [view, setView] = useState(VIEWS[0]);
  const grid = useRef(null);
  const doc = state.doc;
  const names = Object.fromEntries(boot.reports.map((r) => [r.key, labelText(r.label, locale) || r.key]));
  const formNames = Object.fromEntries(processes.map((f) => [f.key, labelText(f.label, locale) || f.key]));
  const nameOf = (item) => (item.report ? names[item.report] || item.report
    : t("dd.process_item", { form: formNames[item.process] || item.process, view: t(`dd.view_${item.view}`) }));
  useEffect(() => {
    grid.current.style.setProperty("--columns", String(doc.columns));
    grid.current.style.setProperty("--row-height", `${ROW}px`);
    const sortable = Sortable.create(grid.current, {
      animation: 120,
      forceFallback: true,
      fallbackOnBody: true,
      handle: ".item-heading",
      onEnd: (event) => {
        if (event.oldIndex === event.newIndex) return;
        const moved = event.item;
        const parent = moved.parentNode;
        parent.removeChild(moved);
        parent.insertBefore(moved, parent.children[event.oldIndex] || null);
        dispatch({ type: "reorder", from: event.oldIndex, to: event.newIndex });
      },
    });
    return () => sortable.destroy();
  }, []);
  const publish = async () => {
    await saver.saveNow();
    try {
      const done = await api("POST", boot.urls.publish);
      setPublished(done.version);
      setResult({ ok: true, text: t("rd.published", { version: done.version }) });
    } catch (error) {
      setResult({ ok: false, text: error.message, errors: error.errors || [] });
    }
  };
  const label = typeof doc.label === "object" && doc.label ? doc.label : { "zh-CN": doc.label || "", en: doc.label || "" };
  const has = (kind, field) => doc.filters.some((f) => f.kind === kind && (kind !== "field" || f.field === field));
  const status = { saved: t("fd.saved"), saving: t("fd.saving"), unsaved: t("fd.unsaved"), failed: t("fd.save_failed"), conflict: t("fd.conflict_short") }[saver.status];
  const fieldFilters = doc.filters.filter((f) => f.kind === "field");
  return html`<h1>${labelText(doc.label, locale) || boot.dashboard}</h1>
    <div class="rd-toolbar" role="toolbar" aria-label=${t("rd.toolbar")}>
      <button type="button" class="button secondary small" data-undo disabled=${!state.past.length} onClick=${() => dispatch({ type: "undo" })}>${t("rd.undo")}</button>
      <button type="button" class="button secondary small" data-redo disabled=${!state.future.length} onClick=${() => dispatch({ type: "redo" })}>${t("rd.redo")}</button>
      <span class="rd-status" role="status" aria-live="polite" data-save-status=${saver.status}>${status}</span>
      <span class="rd-toolbar-end">
        ${published && html`<a class="button secondary small" href=${boot.urls.view} data-open-view>${t("rd.open")}</a>`}
        <button type="button" class="button small" data-publish onClick=${publish}>${t("rd.publish")}</button>
      </span>
    </div>
    ${result && html`<div class=${result.ok ? "rd-result ok" : "rd-result report-error"} role=${result.ok ? "status" : "alert"} data-publish-result>
      <p>${result.text}</p>${result.errors && html`<ul>${result.errors.map((e) => html`<li>${e.path}: ${e.message}</li>`)}</ul>`}</div>`}
    <div class="rd-head">
      <div class="rd-labels">
        <div class="field"><label for="dd-label-zh">${t("rd.label_zh")}</label>
          <input id="dd-label-zh" lang="zh-CN" value=${label["zh-CN"] || ""} onInput=${(e) => dispatch({ type: "set", path: ["label"], value: { ...label, "zh-CN": e.target.value }, group: "zh" })} /></div>
        <div class="field"><label for="dd-label-en">${t("rd.label_en")}</label>
          <input id="dd-label-en" lang="en" value=${label.en || ""} onInput=${(e) => dispatch({ type: "set", path: ["label"], value: { ...label, en: e.target.value }, group: "en" })} /></div>
      </div>
      <div class="dd-add">
        <div class="field"><label for="dd-report">${t("dd.report")}</label>
          <select id="dd-report" value=${choice} onChange=${(e) => setChoice(e.target.value)}>
            ${boot.reports.map((r) => html`<option value=${r.key}>${names[r.key]}</option>`)}
          </select></div>
        <button type="button" class="button secondary" data-add-report disabled=${!choice} onClick=${() => dispatch({ type: "add", report: choice })}>${t("dd.add")}</button>
        ${!boot.reports.length && html`<p class="help">${t("dd.no_reports")}</p>`}
      </div>
      ${processes.length > 0 && html`<fieldset class="dd-add dd-process"><legend>${t("dd.process")}</legend>
        <div class="field"><label for="dd-process-form">${t("dd.process_form")}</label>
          <select id="dd-process-form" value=${flowForm} onChange=${(e) => setFlowForm(e.target.value)}>
            ${processes.map((f) => html`<option value=${f.key}>${formNames[f.key]}</option>`)}
          </select></div>
        <div class="field"><label for="dd-process-view">${t("dd.process_view")}</label>
          <select id="dd-process-view" value=${view} onChange=${(e) => setView(e.target.value)}>
            ${VIEWS.map((v) => html`<option value=${v}>${t(`dd.view_${v}`)}</option>`)}
          </select></div>
        <button type="button" class="button secondary" data-add-process onClick=${() => dispatch({ type: "add", process: flowForm, view })}>${t("dd.add")}</button>
      </fieldset>`}
    </div>
    <fieldset class="rd-panel dd-filters"><legend>${t("dd.filters")}</legend>
      <label><input type="checkbox" checked=${has("date_range")} data-filter-kind="date_range" onChange=${(e) => dispatch({ type: "filter", kind: "date_range", on: e.target.checked })} /> ${t("dd.filter_date")}</label>
      <label><input type="checkbox" checked=${has("department")} data-filter-kind="department" onChange=${(e) => dispatch({ type: "filter", kind: "department", on: e.target.checked })} /> ${t("dd.filter_department")}</label>
      ${fieldFilters.map((f) => html`<span class="dd-chip">${f.field} <button type="button" class="icon-button" aria-label=${t("rd.remove", { name: f.field })} onClick=${() => dispatch({ type: "filter", kind: "field", field: f.field, on: false })}>×</button></span>`)}
      <form class="dd-field-filter" onSubmit=${(e) => { e.preventDefault(); const v = e.target.elements.field.value.trim(); if (/^[a-z][a-z0-9_]{0,62}$/.test(v)) { dispatch({ type: "filter", kind: "field", field: v, on: true }); e.target.reset(); } }}>
        <label for="dd-field">${t("dd.filter_field")}</label> <input id="dd-field" name="field" pattern="[a-z][a-z0-9_]{0,62}" />
        <button type="submit" class="button secondary small">${t("dd.add_filter")}</button>
      </form>
    </fieldset>
    <p class="help">${t("dd.layout_help")}</p>
    <ul ref=${grid} class="dashboard-grid dd-grid" aria-label=${t("dd.layout")}>
      ${doc.items.map((item, i) => html`<${Card} key=${`${cardKey(item)}-${i}`} item=${item} index=${i} dispatch=${dispatch} name=${nameOf(item)} count=${doc.items.length} />`)}
    </ul>`;
}

const root = document.getElementById("dashboard-designer");
root.textContent = "";
render(html`<${Designer} />`, root);
root.removeAttribute("data-loading");
root.dataset.ready = "true";
