/**
 * The report designer: pick the source form, drag its fields into dimensions, measures and filters (or use
 * the buttons beside each field, which do the same from the keyboard; a linked form's fields and a subform's
 * columns are in groups below the form's own), write formula measures over the others, choose buckets,
 * aggregates and the display, and watch a live preview on real data (POST .../reports/preview). One store holds the draft;
 * every edit is a command, so undo and redo come for free; the draft is saved after a pause with
 * If-Match: "<draft_revision>", and published from the toolbar.
 */
import { html, render, useEffect, useMemo, useReducer, useRef, useState, useCallback } from "/vendor/preact-htm.js";
import Sortable from "/vendor/sortable.esm.js";
import { api, ApiError } from "/static/js/api.js";
import { ConditionBuilder, builderFields, labelText } from "/static/design/js/condition_builder.js";
import { chartFromAnswer, drawInto } from "/static/js/report_view.js";

const boot = JSON.parse(document.getElementById("designer-boot").textContent);
const locale = boot.locale;
const t = (key, values = {}) => {
  let text = boot.messages[key] || key;
  for (const [k, v] of Object.entries(values)) text = text.replace(`{${k}}`, v);
  return text;
};
const clone = (v) => JSON.parse(JSON.stringify(v));
const HISTORY = 200;
const SAVE_AFTER_MS = 700;
const PREVIEW_AFTER_MS = 400;
export const DISPLAYS = ["table", "pivot", "bar", "stacked_bar", "line", "area", "pie", "donut", "funnel", "kpi", "gauge"];
const BUCKETS = ["", "day", "week", "month", "quarter", "year"];
const NUMBER_AGGS = ["sum", "avg", "min", "max", "count_distinct"];
const OTHER_AGGS = ["count_distinct"];

// ------------------------------------------------------------------ the store

const COUNT_LABEL = { "zh-CN": "记录数", en: "Records" };

function measureKey(doc, agg, field) {
  const base = field ? `${agg}_${field.replace(/\./g, "_")}` : agg;
  const taken = new Set(doc.measures.map((m) => m.key));
  let key = base.slice(0, 60);
  for (let n = 2; taken.has(key); n++) key = `${base.slice(0, 56)}_${n}`;
  return key;
}

const COMMANDS = {
  set(doc, { path, value }) {
    let node = doc;
    for (const part of path.slice(0, -1)) node = node[part] ??= {};
    const last = path[path.length - 1];
    if (value === undefined || value === null || value === "") delete node[last];
    else node[last] = value;
  },
  source(doc, { form }) {
    doc.form = form;
    doc.dimensions = [];
    doc.measures = [{ key: "count", agg: "count", label: COUNT_LABEL }];
    delete doc.filter;
    delete doc.sort;
    delete doc.date_field;
    delete doc.rows;
  },
  add_dimension(doc, { field }) {
    countRows(doc, field);
    if (doc.dimensions.length >= 4 || doc.dimensions.some((d) => d.field === field.key && !field.may_be.temporal)) return;
    const dimension = { field: field.key };
    if (field.may_be.temporal) dimension.bucket = "month";
    doc.dimensions.splice(Math.min(field.at ?? doc.dimensions.length, doc.dimensions.length), 0, dimension);
  },
  add_measure(doc, { field }) {
    if (doc.measures.length >= 20) return;
    if (field) countRows(doc, field);
    const agg = field ? (field.may_be.measure ? "sum" : "count_distinct") : "count";
    const measure = { key: measureKey(doc, agg, field && field.key), agg };
    if (field) measure.field = field.key;
    else measure.label = COUNT_LABEL;
    doc.measures.splice(Math.min(field && field.at !== undefined ? field.at : doc.measures.length, doc.measures.length), 0, measure);
  },
  add_formula(doc) {
    if (doc.measures.length >= 20) return;
    const taken = new Set(doc.measures.map((m) => m.key));
    let key = "ratio";
    for (let n = 2; taken.has(key); n++) key = `ratio_${n}`;
    const numbers = doc.measures.filter((m) => !m.formula).map((m) => m.key);
    doc.measures.push({ key, formula: numbers.length >= 2 ? `${numbers[numbers.length - 1]} / ${numbers[0]}` : "" });
  },
  formula(doc, { index, text }) {
    doc.measures[index].formula = text;
  },
  measure_key(doc, { index, key }) {
    const m = doc.measures[index];
    if (doc.sort) for (const s of doc.sort) if (s.by === m.key) s.by = key;
    m.key = key;
  },
  rows(doc, { rows }) {
    if (rows) doc.rows = rows;
    else delete doc.rows;
  },
  add_filter(doc, { field }) {
    const leaf = { field: field.key, op: "not_empty" };
    const current = doc.filter;
    if (!current) doc.filter = { and: [leaf] };
    else if (current.and) current.and.push(leaf);
    else doc.filter = { and: [current, leaf] };
  },
  remove(doc, { list, index }) {
    const [gone] = doc[list].splice(index, 1);
    if (list === "measures" && gone && doc.sort) doc.sort = doc.sort.filter((s) => s.by !== gone.key);
  },
  move(doc, { list, from, to }) {
    if (to < 0 || to >= doc[list].length) return;
    const [item] = doc[list].splice(from, 1);
    doc[list].splice(to, 0, item);
  },
  aggregate(doc, { index, agg }) {
    const m = doc.measures[index];
    const old = m.key;
    m.agg = agg;
    if (agg === "count") delete m.field;
    m.key = measureKey({ measures: doc.measures.filter((_, i) => i !== index) }, agg, m.field);
    if (doc.sort) for (const s of doc.sort) if (s.by === old) s.by = m.key;
  },
};

/** A subform's column makes the report count that subform's rows (`rows`); the parent's fields stay reachable. */
function countRows(doc, field) {
  if (field.group && field.group.kind === "rows") doc.rows = field.group.key;
}

export function reduce(state, command) {
  if (command.type === "undo") {
    if (!state.past.length) return state;
    return { doc: state.past[state.past.length - 1], past: state.past.slice(0, -1), future: [state.doc, ...state.future], changes: state.changes + 1 };
  }
  if (command.type === "redo") {
    if (!state.future.length) return state;
    return { doc: state.future[0], past: [...state.past, state.doc], future: state.future.slice(1), changes: state.changes + 1 };
  }
  const doc = clone(state.doc);
  COMMANDS[command.type](doc, command);
  if (JSON.stringify(doc) === JSON.stringify(state.doc)) return state;
  const grouped = command.group && state.lastGroup === command.group;
  const past = grouped ? state.past : [...state.past, state.doc].slice(-HISTORY);
  return { doc, past, future: [], changes: state.changes + 1, lastGroup: command.group };
}

function initial(draft) {
  const doc = clone(draft);
  doc.dimensions = Array.isArray(doc.dimensions) ? doc.dimensions : [];
  doc.measures = Array.isArray(doc.measures) && doc.measures.length ? doc.measures : [{ key: "count", agg: "count" }];
  doc.display = doc.display || { type: "bar" };
  return { doc, past: [], future: [], changes: 0 };
}

// ------------------------------------------------------------------ saving and preview

function useAutosave(state) {
  const [status, setStatus] = useState("saved");
  const [problems, setProblems] = useState([]);
  const revision = useRef(boot.draft_revision || null);
  const busy = useRef(false);
  const pending = useRef(null);
  const conflict = useRef(false);
  const save = useCallback(async (doc) => {
    if (conflict.current) return;
    if (busy.current) {
      pending.current = doc;
      return;
    }
    busy.current = true;
    setStatus("saving");
    try {
      const headers = revision.current ? { "If-Match": `"${revision.current}"` } : {};
      const saved = await api("PUT", boot.urls.draft, doc, headers);
      revision.current = saved.draft_revision;
      setProblems(saved.problems || []);
      setStatus(pending.current ? "saving" : "saved");
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        conflict.current = true;
        setStatus("conflict");
      } else setStatus("failed");
    } finally {
      busy.current = false;
      const next = pending.current;
      pending.current = null;
      if (next) save(next);
    }
  }, []);
  useEffect(() => {
    if (!state.changes && boot.draft_revision) return undefined;
    setStatus((s) => (s === "conflict" ? s : "unsaved"));
    const timer = setTimeout(() => save(state.doc), state.changes ? SAVE_AFTER_MS : 0);
    return () => clearTimeout(timer);
  }, [state.changes]);
  return { status, problems, saveNow: () => save(state.doc) };
}

function usePreview(doc) {
  const [preview, setPreview] = useState({ loading: true });
  const serial = useRef(0);
  useEffect(() => {
    const mine = ++serial.current;
    const timer = setTimeout(async () => {
      try {
        const answer = await api("POST", boot.urls.preview, { document: doc });
        if (mine === serial.current) setPreview({ answer });
      } catch (error) {
        if (mine === serial.current) setPreview({ error: error.message, errors: error.errors || [] });
      }
    }, PREVIEW_AFTER_MS);
    return () => clearTimeout(timer);
  }, [JSON.stringify(doc)]);
  return preview;
}

// ------------------------------------------------------------------ drag and drop (SortableJS)

function useSortable(ref, options, deps) {
  useEffect(() => {
    if (!ref.current) return undefined;
    const sortable = Sortable.create(ref.current, { animation: 120, forceFallback: true, fallbackOnBody: true, ...options });
    return () => sortable.destroy();
  }, deps);
}

/** A dropped field from the palette: SortableJS put a copy of its element in the list; the store renders. */
function takeDrop(event) {
  const key = event.item.dataset.field;
  if (event.clone && event.clone.parentNode) event.clone.parentNode.replaceChild(event.item, event.clone);
  else event.item.remove();
  return key;
}

// ------------------------------------------------------------------ pieces of the page

const fieldLabel = (f) => (f.group ? `${labelText(f.group.label, locale) || f.group.key} → ` : "") + (labelText(f.label, locale) || f.key);

/** Every field a report over the source may name: its own, then each group's (`supplier.name`, `items.price`). */
export function reachable(source) {
  const grouped = (source.groups || []).flatMap((g) => g.fields.map((f) => ({ ...f, group: { key: g.key, kind: g.kind, label: g.label } })));
  return [...source.fields, ...grouped];
}

function FieldItem({ f, dispatch, filter }) {
  const name = fieldLabel(f);
  return html`<li key=${f.key} class="rd-field" data-field=${f.key}>
    <span class="rd-drag" aria-hidden="true">⠿</span>
    <span class="rd-field-name">${f.group ? labelText(f.label, locale) || f.key : name}</span>
    <span class="rd-field-actions">
      ${f.may_be.dimension && html`<button type="button" class="link-button" data-add-dimension=${f.key}
        aria-label=${t("rd.add_dimension_of", { field: name })} onClick=${() => dispatch({ type: "add_dimension", field: f })}>${t("rd.as_dimension")}</button>`}
      ${(f.may_be.measure || f.may_be.dimension) && html`<button type="button" class="link-button" data-add-measure=${f.key}
        aria-label=${t("rd.add_measure_of", { field: name })} onClick=${() => dispatch({ type: "add_measure", field: f })}>${t("rd.as_measure")}</button>`}
      ${filter && html`<button type="button" class="link-button" data-add-filter=${f.key}
        aria-label=${t("rd.add_filter_of", { field: name })} onClick=${() => dispatch({ type: "add_filter", field: f })}>${t("rd.as_filter")}</button>`}
    </span>
  </li>`;
}

function FieldList({ fields, dispatch, filter, label }) {
  const list = useRef(null);
  useSortable(list, { group: { name: "fields", pull: "clone", put: false }, sort: false }, [fields]);
  return html`<ul ref=${list} class="rd-field-list" aria-label=${label}>
    ${fields.map((f) => html`<${FieldItem} key=${f.key} f=${f} dispatch=${dispatch} filter=${filter} />`)}
  </ul>`;
}

function Palette({ source, dispatch }) {
  const groups = source.groups || [];
  const byGroup = useMemo(() => {
    const fields = reachable(source);
    return Object.fromEntries(groups.map((g) => [g.key, fields.filter((f) => f.group && f.group.key === g.key)]));
  }, [source]);
  return html`<section class="rd-panel rd-fields" aria-labelledby="rd-fields-title">
    <h2 id="rd-fields-title">${t("rd.fields")}</h2>
    <p class="help">${t("rd.fields_help")}</p>
    <${FieldList} fields=${source.fields} dispatch=${dispatch} filter=${true} label=${labelText(source.label, locale) || source.key} />
    ${groups.map((g) => {
      const name = labelText(g.label, locale) || g.key;
      return html`<details key=${g.key} class="rd-group" data-group=${g.key}>
        <summary>${t(g.kind === "rows" ? "rd.group_rows" : "rd.group_relation", { name })}</summary>
        ${g.kind === "rows" && html`<p class="help">${t("rd.group_rows_help", { name })}</p>`}
        <${FieldList} fields=${byGroup[g.key]} dispatch=${dispatch} filter=${false} label=${name} />
      </details>`;
    })}
  </section>`;
}

function MoveButtons({ list, index, length, dispatch, name }) {
  return html`<span class="rd-move">
    <button type="button" class="icon-button" aria-label=${t("rd.move_up", { name })} disabled=${index === 0}
      onClick=${() => dispatch({ type: "move", list, from: index, to: index - 1 })}>↑</button>
    <button type="button" class="icon-button" aria-label=${t("rd.move_down", { name })} disabled=${index === length - 1}
      onClick=${() => dispatch({ type: "move", list, from: index, to: index + 1 })}>↓</button>
    <button type="button" class="icon-button" aria-label=${t("rd.remove", { name })}
      onClick=${() => dispatch({ type: "remove", list, index })}>×</button>
  </span>`;
}

function DropList({ list, fields, dispatch, accepts, children, title, empty, id }) {
  const ref = useRef(null);
  const byKey = Object.fromEntries(fields.map((f) => [f.key, f]));
  useSortable(ref, {
    group: { name: list, put: ["fields"] },
    handle: ".rd-drag",
    onAdd: (event) => {
      const field = byKey[takeDrop(event)];
      if (field && accepts(field)) dispatch({ type: list === "dimensions" ? "add_dimension" : "add_measure", field: { ...field, at: event.newIndex } });
    },
    onUpdate: (event) => {
      const moved = event.item;
      const parent = moved.parentNode;
      // put the element back where Preact had it; the store moves the item and renders
      parent.removeChild(moved);
      parent.insertBefore(moved, parent.children[event.oldIndex] || null);
      dispatch({ type: "move", list, from: event.oldIndex, to: event.newIndex });
    },
  }, [fields]);
  return html`<section class="rd-panel rd-drop" aria-labelledby=${id}>
    <h2 id=${id}>${title}</h2>
    <ul ref=${ref} class="rd-drop-list" data-drop=${list}>${children}</ul>
    ${!children.length && html`<p class="rd-empty help">${empty}</p>`}
  </section>`;
}

function Dimensions({ doc, fields, dispatch }) {
  const byKey = Object.fromEntries(fields.map((f) => [f.key, f]));
  const items = doc.dimensions.map((d, i) => {
    const f = byKey[d.field] || { key: d.field, label: d.field, may_be: {} };
    const name = fieldLabel(f);
    return html`<li key=${`${d.field}-${i}`} class="rd-item" data-dimension=${d.field}>
      <span class="rd-drag" aria-hidden="true">⠿</span>
      <span class="rd-item-name">${name}</span>
      ${f.may_be.temporal && html`<label class="rd-inline"><span class="visually-hidden">${t("rd.bucket_of", { name })}</span>
        <select data-bucket onChange=${(e) => dispatch({ type: "set", path: ["dimensions", i, "bucket"], value: e.target.value })}>
          ${BUCKETS.map((b) => html`<option value=${b} selected=${(d.bucket || "") === b}>${t(`rd.bucket_${b || "none"}`)}</option>`)}
        </select></label>`}
      <${MoveButtons} list="dimensions" index=${i} length=${doc.dimensions.length} dispatch=${dispatch} name=${name} />
    </li>`;
  });
  return html`<${DropList} list="dimensions" id="rd-dimensions-title" fields=${fields} dispatch=${dispatch}
    accepts=${(f) => f.may_be.dimension} title=${t("rd.dimensions")} empty=${t("rd.dimensions_empty")}>${items}</${DropList}>`;
}

/** The problems of one measure (the preview's and the draft's), by its JSON path `measures[i]...`. */
function measureProblems(problems, index) {
  const at = new RegExp(`^(document\\.)?measures\\[${index}\\]`);
  return problems.filter((p) => at.test(p.path || ""));
}

/** A formula over the measures above it: its key, its text, the keys and operators to insert, its problems. */
function FormulaEditor({ m, index, doc, dispatch, problems }) {
  const input = useRef(null);
  const id = `rd-formula-${index}`;
  const others = doc.measures.filter((other, i) => i !== index && !other.formula).map((other) => other.key);
  // Inserts at the caret, into the text as it is now (not as of the last render), then puts the caret after
  // the insert; focus goes back to the formula only if it is still on the button pressed, so a keyboard user
  // who has moved on to the next button is not pulled back.
  const insert = (text, button) => {
    const field = input.current;
    const value = field ? field.value : m.formula || "";
    const start = field ? field.selectionStart ?? value.length : value.length;
    const end = field ? field.selectionEnd ?? value.length : value.length;
    const next = `${value.slice(0, start)}${text}${value.slice(end)}`;
    if (field) field.value = next;
    dispatch({ type: "formula", index, text: next });
    requestAnimationFrame(() => {
      const now = input.current;
      if (!now) return;
      if (document.activeElement === button || document.activeElement === document.body) now.focus();
      now.setSelectionRange(start + text.length, start + text.length);
    });
  };
  const errors = measureProblems(problems, index);
  return html`<div class="rd-formula" role="group" aria-label=${t("rd.formula_of", { name: m.key })}>
    <div class="field"><label for=${`${id}-key`}>${t("rd.formula_key")}</label>
      <input id=${`${id}-key`} data-formula-key value=${m.key} pattern="[a-z][a-z0-9_]{0,62}"
        onChange=${(e) => dispatch({ type: "measure_key", index, key: e.target.value.trim() })} /></div>
    <div class="field"><label for=${id}>${t("rd.formula")}</label>
      <input id=${id} ref=${input} data-formula spellcheck="false" autocomplete="off" value=${m.formula || ""}
        aria-invalid=${errors.length ? "true" : "false"} aria-describedby=${`${id}-help ${id}-errors`}
        onInput=${(e) => dispatch({ type: "formula", index, text: e.target.value, group: `formula-${index}` })} /></div>
    <p class="help" id=${`${id}-help`}>${t("rd.formula_help")}</p>
    <div class="rd-formula-insert" role="group" aria-label=${t("rd.formula_insert")}>
      ${others.map((key) => html`<button type="button" class="button secondary small" data-insert=${key} onClick=${(e) => insert(key, e.currentTarget)}>${key}</button>`)}
      ${[" + ", " - ", " * ", " / ", "(", ")"].map((op) => html`<button type="button" class="button secondary small" aria-label=${t("rd.insert", { text: op.trim() })} onClick=${(e) => insert(op, e.currentTarget)}>${op.trim()}</button>`)}
    </div>
    <div id=${`${id}-errors`} class=${errors.length ? "report-error" : ""} role="status" aria-live="polite" data-formula-errors>
      ${errors.map((p) => html`<p>${p.message}</p>`)}
    </div>
  </div>`;
}

function Measures({ doc, fields, dispatch, problems = [] }) {
  const byKey = Object.fromEntries(fields.map((f) => [f.key, f]));
  const items = doc.measures.map((m, i) => {
    const f = m.field ? byKey[m.field] || { key: m.field, label: m.field, may_be: {} } : null;
    const name = m.formula !== undefined ? m.key : f ? fieldLabel(f) : t("rd.records");
    const aggs = !f ? ["count"] : f.may_be.measure ? NUMBER_AGGS : OTHER_AGGS;
    return html`<li key=${`${i}-${m.formula !== undefined ? "formula" : m.key}`} class="rd-item" data-measure=${m.key}>
      <span class="rd-drag" aria-hidden="true">⠿</span>
      <span class="rd-item-name">${m.formula !== undefined ? t("rd.formula_named", { name }) : name}</span>
      ${m.formula !== undefined ? html`<${FormulaEditor} m=${m} index=${i} doc=${doc} dispatch=${dispatch} problems=${problems} />` : html`<label class="rd-inline"><span class="visually-hidden">${t("rd.aggregate_of", { name })}</span>
        <select data-aggregate onChange=${(e) => dispatch({ type: "aggregate", index: i, agg: e.target.value })}>
          ${aggs.map((a) => html`<option value=${a} selected=${m.agg === a}>${t(`rd.agg_${a}`)}</option>`)}
        </select></label>`}
      <${MoveButtons} list="measures" index=${i} length=${doc.measures.length} dispatch=${dispatch} name=${name} />
    </li>`;
  });
  return html`<div><${DropList} list="measures" id="rd-measures-title" fields=${fields} dispatch=${dispatch}
    accepts=${(f) => f.may_be.measure || f.may_be.dimension} title=${t("rd.measures")} empty=${t("rd.measures_empty")}>${items}</${DropList}>
    <p class="rd-count"><button type="button" class="button secondary small" data-add-count onClick=${() => dispatch({ type: "add_measure", field: null })}>${t("rd.add_count")}</button>
      <button type="button" class="button secondary small" data-add-formula onClick=${() => dispatch({ type: "add_formula" })}>${t("rd.add_formula")}</button></p></div>`;
}

function Filters({ doc, fields, dispatch }) {
  const ref = useRef(null);
  const byKey = Object.fromEntries(fields.map((f) => [f.key, f]));
  useSortable(ref, { group: { name: "filters", put: ["fields"] }, onAdd: (event) => {
    const field = byKey[takeDrop(event)];
    if (field) dispatch({ type: "add_filter", field });
  } }, [fields]);
  const condition = builderFields(fields, boot.field_types, locale);
  return html`<section class="rd-panel rd-drop" aria-labelledby="rd-filters-title">
    <h2 id="rd-filters-title">${t("rd.filters")}</h2>
    <div ref=${ref} class="rd-filter-drop" data-drop="filters"><p class="help">${t("rd.filters_help")}</p></div>
    <${ConditionBuilder} fields=${condition} value=${doc.filter || null} idPrefix="rd-filter" t=${t}
      onChange=${(next) => dispatch({ type: "set", path: ["filter"], value: next })} />
  </section>`;
}

function DisplayPanel({ doc, dispatch }) {
  const display = doc.display || {};
  return html`<section class="rd-panel" aria-labelledby="rd-display-title">
    <h2 id="rd-display-title">${t("rd.display")}</h2>
    <div class="rd-display-types" role="radiogroup" aria-labelledby="rd-display-title">
      ${DISPLAYS.map((type) => html`<label class=${`rd-display-type${display.type === type ? " chosen" : ""}`}>
        <input type="radio" name="rd-display" value=${type} checked=${display.type === type}
          onChange=${() => dispatch({ type: "set", path: ["display", "type"], value: type })} />
        ${t(`rd.display_${type}`)}</label>`)}
    </div>
    <div class="rd-settings">
      ${["kpi", "gauge"].includes(display.type) && html`<div class="field"><label for="rd-target">${t("rd.target")}</label>
        <input id="rd-target" type="number" value=${display.target ?? ""} onInput=${(e) => dispatch({ type: "set", path: ["display", "target"], value: e.target.value === "" ? null : Number(e.target.value), group: "target" })} /></div>`}
      <div class="field"><label for="rd-limit">${t("rd.limit")}</label>
        <input id="rd-limit" type="number" min="1" max="1000" value=${doc.limit ?? ""} onInput=${(e) => dispatch({ type: "set", path: ["limit"], value: e.target.value === "" ? null : Number(e.target.value), group: "limit" })} /></div>
      <div class="field"><label for="rd-sort">${t("rd.sort")}</label>
        <select id="rd-sort" onChange=${(e) => dispatch({ type: "set", path: ["sort"], value: e.target.value ? [{ by: e.target.value, desc: true }] : null })}>
          <option value="">${t("rd.sort_dimensions")}</option>
          ${doc.measures.map((m) => html`<option value=${m.key} selected=${doc.sort && doc.sort[0] && doc.sort[0].by === m.key}>${t("rd.sort_by", { name: m.key })}</option>`)}
        </select></div>
    </div>
  </section>`;
}

function Preview({ preview, display }) {
  const chartRef = useRef(null);
  const answer = preview.answer;
  useEffect(() => {
    if (!answer || !chartRef.current) return undefined;
    const data = chartFromAnswer(answer, display);
    const chart = drawInto(chartRef.current, data, () => {});
    return () => chart && chart.dispose();
  }, [answer, JSON.stringify(display)]);
  const charted = answer && !["table", "pivot", "kpi"].includes(display.type);
  const first = answer && answer.columns.find((c) => c.kind === "measure");
  const kpi = answer && display.type === "kpi" && first ? (answer.total || answer.rows[0] || { values: {} }).values[first.key] : null;
  return html`<section class="rd-panel rd-preview" aria-labelledby="rd-preview-title" aria-busy=${preview.loading ? "true" : "false"}>
    <h2 id="rd-preview-title">${t("rd.preview")}</h2>
    ${preview.error && html`<div class="report-error" role="alert"><p>${preview.error}</p>
      <ul>${preview.errors.map((e) => html`<li>${e.path}: ${e.message}</li>`)}</ul></div>`}
    ${answer && display.type === "kpi" && html`<div class="report-kpi"><p class="kpi-label">${first.label}</p><p class="kpi-value" data-preview-kpi>${kpi ?? "—"}</p></div>`}
    ${charted && html`<div ref=${chartRef} class="report-chart" data-preview-chart role="img" aria-label=${t("rd.preview")}></div>`}
    ${answer && html`<div class="table-wrap" tabindex="0" role="region" aria-label=${t("rd.preview_numbers")}><table class="report-table" data-preview-table>
      <thead><tr>${answer.columns.map((c) => html`<th scope="col" class=${c.kind === "measure" ? "num" : ""}>${c.label}</th>`)}</tr></thead>
      <tbody>${answer.rows.slice(0, 50).map((r) => html`<tr>${answer.columns.map((c) => c.kind === "dimension"
        ? html`<th scope="row">${r.labels[c.key] ?? r.values[c.key] ?? ""}</th>`
        : html`<td class="num">${r.values[c.key] ?? "—"}</td>`)}</tr>`)}</tbody>
      ${answer.total && html`<tfoot><tr class="total">${answer.columns.map((c, i) => c.kind === "dimension"
        ? html`<th scope="row">${i === 0 ? t("rd.total") : ""}</th>` : html`<td class="num">${answer.total.values[c.key] ?? "—"}</td>`)}</tr></tfoot>`}
    </table></div>`}
  </section>`;
}

function Toolbar({ state, dispatch, saver, onPublish, published }) {
  const status = { saved: t("fd.saved"), saving: t("fd.saving"), unsaved: t("fd.unsaved"), failed: t("fd.save_failed"), conflict: t("fd.conflict_short") }[saver.status];
  return html`<div class="rd-toolbar" role="toolbar" aria-label=${t("rd.toolbar")}>
    <button type="button" class="button secondary small" data-undo disabled=${!state.past.length} onClick=${() => dispatch({ type: "undo" })}>${t("rd.undo")}</button>
    <button type="button" class="button secondary small" data-redo disabled=${!state.future.length} onClick=${() => dispatch({ type: "redo" })}>${t("rd.redo")}</button>
    <span class="rd-status" role="status" aria-live="polite" data-save-status=${saver.status}>${status}</span>
    <span class="rd-toolbar-end">
      ${published && html`<a class="button secondary small" href=${boot.urls.view} data-open-view>${t("rd.open")}</a>`}
      <button type="button" class="button small" data-publish onClick=${onPublish}>${t("rd.publish")}</button>
    </span>
  </div>`;
}

function usePublish(saver) {
  const [result, setResult] = useState(null);
  const [published, setPublished] = useState(boot.published_version);
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
  return { result, published, publish };
}

function Labels({ doc, dispatch }) {
  const label = typeof doc.label === "object" && doc.label ? doc.label : { "zh-CN": doc.label || "", en: doc.label || "" };
  return html`<div class="rd-labels">
    <div class="field"><label for="rd-label-zh">${t("rd.label_zh")}</label>
      <input id="rd-label-zh" lang="zh-CN" value=${label["zh-CN"] || ""} onInput=${(e) => dispatch({ type: "set", path: ["label"], value: { ...label, "zh-CN": e.target.value }, group: "label-zh" })} /></div>
    <div class="field"><label for="rd-label-en">${t("rd.label_en")}</label>
      <input id="rd-label-en" lang="en" value=${label.en || ""} onInput=${(e) => dispatch({ type: "set", path: ["label"], value: { ...label, en: e.target.value }, group: "label-en" })} /></div>
  </div>`;
}

function Designer() {
  const [state, dispatch] = useReducer(reduce, boot.draft, initial);
  const saver = useAutosave(state);
  const { result, published, publish } = usePublish(saver);
  const doc = state.doc;
  const source = boot.sources.find((s) => s.key === doc.form) || { fields: [], groups: [] };
  const everything = useMemo(() => reachable(source), [source]); // stable: the drop lists' SortableJS stays put
  const subforms = (source.groups || []).filter((g) => g.kind === "rows");
  const preview = usePreview(doc);
  useEffect(() => {
    const onKey = (event) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      if (event.target.matches && event.target.matches("input, textarea")) return;
      const key = event.key.toLowerCase();
      if (key === "z") {
        event.preventDefault();
        dispatch({ type: event.shiftKey ? "redo" : "undo" });
      } else if (key === "y") {
        event.preventDefault();
        dispatch({ type: "redo" });
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  const title = labelText(doc.label, locale) || boot.report;
  return html`<h1>${title}</h1>
    <${Toolbar} state=${state} dispatch=${dispatch} saver=${saver} onPublish=${publish} published=${published} />
    ${result && html`<div class=${result.ok ? "rd-result ok" : "rd-result report-error"} role=${result.ok ? "status" : "alert"} data-publish-result>
      <p>${result.text}</p>${result.errors && html`<ul>${result.errors.map((e) => html`<li>${e.path}: ${e.message}</li>`)}</ul>`}</div>`}
    ${saver.problems.length > 0 && html`<details class="rd-problems"><summary>${t("rd.problems", { count: saver.problems.length })}</summary>
      <ul>${saver.problems.map((p) => html`<li>${p.path}: ${p.message}</li>`)}</ul></details>`}
    <div class="rd-head">
      <${Labels} doc=${doc} dispatch=${dispatch} />
      <div class="field"><label for="rd-source">${t("rd.source")}</label>
        <select id="rd-source" onChange=${(e) => dispatch({ type: "source", form: e.target.value })}>
          ${boot.sources.map((s) => html`<option value=${s.key} selected=${s.key === doc.form}>${labelText(s.label, locale)}</option>`)}
        </select></div>
      ${(subforms.length > 0 || doc.rows) && html`<div class="field"><label for="rd-rows">${t("rd.rows")}</label>
        <select id="rd-rows" onChange=${(e) => dispatch({ type: "rows", rows: e.target.value })}>
          <option value="" selected=${!doc.rows}>${t("rd.rows_records")}</option>
          ${subforms.map((g) => html`<option value=${g.key} selected=${doc.rows === g.key}>${t("rd.rows_of", { name: labelText(g.label, locale) || g.key })}</option>`)}
        </select></div>`}
    </div>
    <div class="rd-layout">
      <${Palette} source=${source} dispatch=${dispatch} />
      <div class="rd-main">
        <div class="rd-zones">
          <${Dimensions} doc=${doc} fields=${everything} dispatch=${dispatch} />
          <${Measures} doc=${doc} fields=${everything} dispatch=${dispatch} problems=${[...(preview.errors || []), ...saver.problems]} />
        </div>
        <${Filters} doc=${doc} fields=${source.fields} dispatch=${dispatch} />
        <${DisplayPanel} doc=${doc} dispatch=${dispatch} />
        <${Preview} preview=${preview} display=${doc.display || { type: "table" }} />
      </div>
    </div>`;
}

const root = document.getElementById("report-designer");
root.textContent = "";
render(html`<${Designer} />`, root);
root.removeAttribute("data-loading");
root.dataset.ready = "true";
