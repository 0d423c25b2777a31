/**
 * The palette of field types and the canvas of sections, rows and fields.
 *
 * Drag and drop is SortableJS; Preact owns the DOM, so a drop is undone in the DOM at once and becomes a
 * command to the store, which renders the result. Nothing is drag-only: a palette item is a button that
 * adds its field (after the selected one), and the selected field has move buttons and a width choice.
 */
import { html, useEffect, useRef } from "/vendor/preact-htm.js";
import Sortable from "/vendor/sortable.esm.js";
import { WIDTHS, cellOf, freshId, freshKey, stepTarget } from "./store.js";

const WIDTH_NAMES = { "1/4": "¼", "1/3": "⅓", "1/2": "½", 1: "1" };

const labelOf = (label, locale) =>
  label == null ? "" : typeof label === "string" ? label : label[locale] || label.en || label["zh-CN"] || "";

/**
 * A new field of a type: a fresh id and key, its type's starting properties, a label in both languages.
 * Columns it starts with get fresh ids too, and a link it starts with points at one of the app's forms.
 */
export function newField(doc, fieldType, forms = []) {
  const field = {
    id: freshId(doc),
    key: freshKey(doc.fields, fieldType.type),
    type: fieldType.type,
    label: { "zh-CN": fieldType.label["zh-CN"] || fieldType.type, en: fieldType.label.en || fieldType.type },
    ...JSON.parse(JSON.stringify(fieldType.starts_with || {})),
  };
  if (Array.isArray(field.fields)) {
    const taken = { fields: [...doc.fields, field] };
    for (const column of field.fields) {
      column.id = freshId(taken);
      taken.fields.push({ id: column.id });
    }
  }
  if (typeof field.form === "string" && forms.length) {
    const other = forms.find((f) => f.key !== doc.key) || forms[0];
    field.form = other.key;
  }
  return field;
}

/** Attach SortableJS to an element for the element's lifetime; handlers always see the latest props. */
function useSortable(ref, options, handlers) {
  const latest = useRef(handlers);
  latest.current = handlers;
  useEffect(() => {
    if (!ref.current) return undefined;
    const sortable = Sortable.create(ref.current, {
      animation: 120,
      forceFallback: true, // mouse and touch alike, the same in every browser
      fallbackOnBody: true,
      delay: 120,
      delayOnTouchOnly: true,
      ghostClass: "fd-ghost",
      chosenClass: "fd-chosen",
      ...options,
      onEnd: (event) => latest.current.onEnd && latest.current.onEnd(event),
    });
    return () => sortable.destroy();
  }, []);
}

/** Where a drop landed: a row ({s, r, c}) or a new-row zone ({s, r, newRow}). */
function dropTarget(to, index) {
  const s = Number(to.dataset.section);
  if (to.dataset.newRow !== undefined) return { s, r: Number(to.dataset.rows), newRow: true };
  return { s, r: Number(to.dataset.row), c: index };
}

/** Put the DOM back as Preact left it, before the store re-renders the drop. */
function undoDomMove(event) {
  if (event.pullMode === "clone") {
    event.item.remove();
    return;
  }
  event.item.remove();
  event.from.insertBefore(event.item, event.from.children[event.oldIndex] || null);
}

export function Palette({ env, onAdd, onRestore }) {
  const { boot, t, locale, doc } = env;
  const present = new Set(doc.fields.map((f) => f.id));
  const archived = (boot.archived_fields || []).filter((f) => !present.has(f.id));
  const list = useRef(null);
  useSortable(
    list,
    { group: { name: "fields", pull: "clone", put: false }, sort: false },
    {
      onEnd: (event) => {
        if (event.to === event.from) return;
        undoDomMove(event);
        const type = event.item.dataset.type;
        onAdd(type, dropTarget(event.to, event.newIndex));
      },
    },
  );
  return html`<nav class="fd-palette" aria-labelledby="fd-palette-title">
    <h2 id="fd-palette-title">${t("fd.palette")}</h2>
    <p class="muted fd-hint">${t("fd.palette_hint")}</p>
    <ul ref=${list}>
      ${boot.field_types.map(
        (ft) => html`<li key=${ft.type} data-type=${ft.type}>
          <button type="button" class="fd-palette-item" data-palette=${ft.type} onClick=${() => onAdd(ft.type, null)}>
            <span class="fd-type-icon" aria-hidden="true">${(ft.label[locale] || ft.type).slice(0, 1)}</span>${ft.label[locale] || ft.label.en || ft.type}
          </button>
        </li>`,
      )}
    </ul>
    ${archived.length > 0 && html`<section class="fd-archived" aria-labelledby="fd-archived-title">
      <h3 id="fd-archived-title">${t("fd.archived")}</h3>
      <p class="muted fd-hint">${t("fd.archived_hint")}</p>
      <ul>
        ${archived.map((f) => html`<li key=${f.id}>
          <button type="button" class="fd-palette-item" data-restore=${f.id} onClick=${() => onRestore(f)}>
            <span class="fd-type-icon" aria-hidden="true">↺</span>${t("fd.bring_back", { name: labelOf(f.label, locale) || f.key })}
          </button>
        </li>`)}
      </ul>
    </section>`}
  </nav>`;
}

export function Canvas({ env, selected, onAdd }) {
  const { doc, t, dispatch } = env;
  const sections = doc.layout.sections;
  return html`<section class="fd-canvas" aria-labelledby="fd-canvas-title">
    <h2 id="fd-canvas-title" class="visually-hidden">${t("fd.canvas")}</h2>
    ${sections.map((section, s) => html`<${Section} key=${s} env=${env} section=${section} s=${s} count=${sections.length} selected=${selected} />`)}
    <button type="button" class="button secondary small fd-add-section" onClick=${() => dispatch({ type: "add_section", section: { title: { "zh-CN": t("fd.new_section_zh"), en: t("fd.new_section_en") } } })}>+ ${t("fd.add_section")}</button>
  </section>`;
}

function Section({ env, section, s, count, selected }) {
  const { t, dispatch, locale } = env;
  const title = labelOf(section.title, locale);
  const tab = labelOf(section.tab, locale);
  return html`<div class="fd-section" data-section-index=${s}>
    <div class="fd-section-head">
      <h3>${title || t("fd.section_untitled", { n: s + 1 })}${tab && html` <span class="badge">${t("fd.tab")}: ${tab}</span>`}</h3>
      <div class="fd-section-tools">
        <${SectionEditor} env=${env} section=${section} s=${s} />
        <button type="button" class="icon-button" aria-label=${t("fd.section_up", { n: s + 1 })} disabled=${s === 0} onClick=${() => dispatch({ type: "step_section", index: s, direction: -1 })}>↑</button>
        <button type="button" class="icon-button" aria-label=${t("fd.section_down", { n: s + 1 })} disabled=${s === count - 1} onClick=${() => dispatch({ type: "step_section", index: s, direction: 1 })}>↓</button>
        ${count > 1 && html`<button type="button" class="icon-button" aria-label=${t("fd.section_remove", { n: s + 1 })} onClick=${() => dispatch({ type: "remove_section", index: s })}>×</button>`}
      </div>
    </div>
    ${section.rows.map((row, r) => html`<${Row} key=${`${s}-${r}`} env=${env} row=${row} s=${s} r=${r} selected=${selected} />`)}
    <${NewRow} env=${env} s=${s} rows=${section.rows.length} empty=${!section.rows.length} />
  </div>`;
}

function SectionEditor({ env, section, s }) {
  const { t, dispatch } = env;
  const set = (name, lang) => (event) => {
    const current = typeof section[name] === "object" && section[name] ? section[name] : section[name] ? { "zh-CN": section[name], en: section[name] } : {};
    const next = { ...current, [lang]: event.target.value };
    if (!next["zh-CN"] && !next.en) dispatch({ type: "set_section", index: s, patch: { [name]: undefined }, group: `section-${s}-${name}-${lang}` });
    else dispatch({ type: "set_section", index: s, patch: { [name]: next }, group: `section-${s}-${name}-${lang}` });
  };
  const value = (name, lang) => (typeof section[name] === "object" && section[name] ? section[name][lang] || "" : section[name] || "");
  return html`<details class="fd-section-edit">
    <summary>${t("fd.section_edit")}<span class="visually-hidden"> ${s + 1}</span></summary>
    <div class="fd-section-edit-body">
      ${["title", "tab"].map((name) => ["zh-CN", "en"].map((lang) => html`<label class="fd-mini">
        <span>${t(`fd.section_${name}`)} (${lang === "en" ? "English" : "中文"})</span>
        <input value=${value(name, lang)} lang=${lang} onInput=${set(name, lang)} />
      </label>`))}
      <p class="help">${t("fd.tab_help")}</p>
    </div>
  </details>`;
}

function Row({ env, row, s, r, selected }) {
  const list = useRef(null);
  const { dispatch } = env;
  useSortable(list, { group: { name: "fields", pull: true, put: (to) => to.el.children.length < 4 } }, {
    onEnd: (event) => {
      if (event.to === event.from && event.oldIndex === event.newIndex) return;
      undoDomMove(event);
      dispatch({ type: "move_field", key: event.item.dataset.key, to: dropTarget(event.to, event.newIndex) });
    },
  });
  return html`<div class="fd-row" ref=${list} data-section=${s} data-row=${r}>
    ${row.map((cell) => html`<${Cell} key=${cell.field} env=${env} cell=${cell} selected=${selected} />`)}
  </div>`;
}

function NewRow({ env, s, rows, empty }) {
  const list = useRef(null);
  useSortable(list, { group: { name: "fields", pull: false, put: true } }, {});
  return html`<div class="fd-newrow" ref=${list} data-section=${s} data-new-row data-rows=${rows}>
    <span class="muted">${empty ? env.t("fd.empty_section") : env.t("fd.drop_new_row")}</span>
  </div>`;
}

function Cell({ env, cell, selected }) {
  const { doc, types, t, dispatch, locale, problems } = env;
  const field = doc.fields.find((f) => f.key === cell.field);
  if (!field) return null;
  const ft = types[field.type];
  const isSelected = field.id === selected;
  const wrong = problems.byId[field.id] || [];
  const label = labelOf(field.label, locale) || field.key;
  const can = (direction) => stepTarget(doc, field.key, direction) !== null;
  const step = (direction) => () => {
    dispatch({ type: "step_field", key: field.key, direction });
    requestAnimationFrame(() => {
      // Keep the focus on the tools: the same arrow if it can go on, else another that can, else the card.
      const cell = document.querySelector(`.fd-cell[data-key="${field.key}"]`);
      if (!cell) return;
      const same = cell.querySelector(`[data-move="${direction}"]:not([disabled])`);
      const target = same || cell.querySelector("[data-move]:not([disabled])") || cell.querySelector(".fd-card-main");
      if (target) target.focus();
    });
  };
  const rules = ["visible_when", "required_when", "readonly_when"].filter((r) => field[r]);
  const select = (event) => {
    dispatch({ type: "select", id: field.id }); // closing the properties (× or Escape) lets go of it
    const cellEl = event.currentTarget.closest(".fd-cell");
    if (!isSelected && window.matchMedia("(max-width: 61.99rem)").matches) {
      requestAnimationFrame(() => cellEl.scrollIntoView({ block: "start" }));
    }
  };
  return html`<div class=${`fd-cell w-${cell.width.replace("/", "-")} ${isSelected ? "selected" : ""} ${wrong.length ? "has-problem" : ""}`} data-key=${field.key}>
    <button type="button" class="fd-card-main" aria-pressed=${isSelected} onClick=${select}
      aria-describedby=${wrong.length ? `fd-cell-problem-${field.id}` : undefined}>
      <span class="fd-card-label">${label}${field.required && html`<span class="required" aria-hidden="true"> *</span>`}</span>
      <span class="fd-card-meta">${ft ? ft.label[locale] || ft.label.en : field.type} · <code>${field.key}</code>${rules.length ? html` · <span class="fd-rule-badge">${t("fd.has_rules")}</span>` : ""}</span>
      <span class="fd-card-sample" aria-hidden="true">${sampleOf(field, ft, locale)}</span>
    </button>
    ${wrong.length > 0 && html`<p class="fd-cell-problem" id=${`fd-cell-problem-${field.id}`}>${wrong[0].message}</p>`}
    ${isSelected && html`<div class="fd-cell-tools" role="group" aria-label=${t("fd.arrange", { name: label })}>
      ${[["up", "↑"], ["down", "↓"], ["left", "←"], ["right", "→"]].map(([direction, arrow]) => html`
        <button type="button" class="icon-button" data-move=${direction} aria-label=${t(`fd.move_${direction}`, { name: label })} title=${t(`fd.move_${direction}`, { name: label })} disabled=${!can(direction)} onClick=${step(direction)}>${arrow}</button>`)}
      <label class="visually-hidden" for=${`fd-width-${field.id}`}>${t("fd.width_of", { name: label })}</label>
      <select id=${`fd-width-${field.id}`} class="fd-width" value=${cell.width} onChange=${(e) => dispatch({ type: "set_width", key: field.key, width: e.target.value })}>
        ${WIDTHS.map((w) => html`<option value=${w}>${t(`fd.width_${w.replace("/", "_")}`)} ${WIDTH_NAMES[w] === "1" ? "" : WIDTH_NAMES[w]}</option>`)}
      </select>
      <button type="button" class="button small secondary fd-copy" aria-label=${t("fd.duplicate_field", { name: label })} onClick=${() => dispatch({ type: "duplicate_field", id: field.id, copy: copyOf(doc, field) })}>${t("fd.duplicate")}</button>
      <button type="button" class="button small danger fd-remove" aria-label=${t("fd.remove_field", { name: label })} onClick=${() => dispatch({ type: "remove_field", id: field.id })}>${t("fd.delete")}</button>
    </div>`}
  </div>`;
}

/** A copy of a field: fresh ids for it and its columns, a fresh key, the label marked as a copy. */
function copyOf(doc, field) {
  const copy = JSON.parse(JSON.stringify(field));
  const taken = { fields: [...doc.fields] };
  copy.id = freshId(taken);
  taken.fields.push({ id: copy.id });
  for (const column of copy.fields || []) {
    column.id = freshId(taken);
    taken.fields.push({ id: column.id });
  }
  copy.key = freshKey(doc.fields, field.key);
  const label = typeof copy.label === "string" ? { "zh-CN": copy.label, en: copy.label } : copy.label || {};
  copy.label = { ...label, "zh-CN": `${label["zh-CN"] || copy.key}（副本）`, en: `${label.en || copy.key} (copy)` };
  return copy;
}

function sampleOf(field, ft, locale) {
  if (field.options && field.options.length) return field.options.slice(0, 3).map((o) => labelOf(o.label, locale) || o.value).join(" / ");
  if (field.fields) return field.fields.map((c) => labelOf(c.label, locale) || c.key).join(" | ");
  if (field.formula) return `= ${field.formula}`;
  if (field.pattern && field.pattern.includes("{")) return field.pattern;
  return "";
}

export { cellOf };
