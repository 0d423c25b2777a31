/**
 * The form designer's one store: the draft document, the selection, and an undo/redo history.
 *
 * Every change is a small command (`{type: "add_field", ...}`) that `reduce` applies to a copy of the
 * document; the store keeps the documents before it, so undo and redo come for free. Commands that come
 * from typing in one input carry a `group` so that a word typed is one step of undo, not one per letter.
 * The layout is kept as sections of rows of `{field, width}` (schemas/form.schema.json); `normalise`
 * brings any saved document to that shape and places fields no section names.
 */

export const WIDTHS = ["1/4", "1/3", "1/2", "1"];
const ROW_MAX = 4;
const HISTORY = 200;

const clone = (value) => JSON.parse(JSON.stringify(value));

/** A document whose layout is rows of {field, width}, every field placed once. */
export function normalise(doc) {
  const out = clone(doc);
  out.fields = Array.isArray(out.fields) ? out.fields : [];
  const keys = new Set(out.fields.map((f) => f.key));
  const placed = new Set();
  const sections = (out.layout && Array.isArray(out.layout.sections) ? out.layout.sections : []).map((section) => {
    const rows = [];
    const columns = Math.max(1, Math.min(4, section.columns || 1));
    const width = { 1: "1", 2: "1/2", 3: "1/3", 4: "1/4" }[columns];
    for (const row of section.rows || []) {
      const cells = row.filter((cell) => keys.has(cell.field) && !placed.has(cell.field));
      cells.forEach((cell) => placed.add(cell.field));
      if (cells.length) rows.push(cells.map((cell) => ({ field: cell.field, width: cell.width || "1" })));
    }
    let row = [];
    for (const key of section.fields || []) {
      if (!keys.has(key) || placed.has(key)) continue;
      placed.add(key);
      row.push({ field: key, width });
      if (row.length === columns) {
        rows.push(row);
        row = [];
      }
    }
    if (row.length) rows.push(row);
    const kept = { rows };
    if (section.title) kept.title = section.title;
    if (section.tab) kept.tab = section.tab;
    return kept;
  });
  if (!sections.length) sections.push({ rows: [] });
  const last = sections[sections.length - 1];
  for (const f of out.fields) {
    if (!placed.has(f.key)) last.rows.push([{ field: f.key, width: "1" }]);
  }
  out.layout = { ...(out.layout || {}), sections };
  return out;
}

/** Where a field sits: {s, r, c} or null. */
export function cellOf(doc, key) {
  const sections = doc.layout.sections;
  for (let s = 0; s < sections.length; s++) {
    const rows = sections[s].rows;
    for (let r = 0; r < rows.length; r++) {
      const c = rows[r].findIndex((cell) => cell.field === key);
      if (c >= 0) return { s, r, c };
    }
  }
  return null;
}

export const fieldById = (doc, id) => doc.fields.find((f) => f.id === id);

/** A fresh, stable field id: never reused within the form, never changed by renaming the key. */
export function freshId(doc) {
  const taken = new Set(doc.fields.flatMap((f) => [f.id, ...(f.fields || []).map((c) => c.id)]));
  for (;;) {
    const id = "f_" + Math.random().toString(36).slice(2, 10);
    if (!taken.has(id)) return id;
  }
}

/** A key not used yet in `fields`, from the type's name: text, text_2, text_3... */
/** An archived field brought back as it was (its id, so its kept values come back), under a free key. */
export function restoredField(doc, archived) {
  const field = JSON.parse(JSON.stringify(archived));
  field.key = freshKey(doc.fields, field.key);
  return field;
}

/** The key an English name suggests ("Unit price" -> "unit_price"); "" when it suggests none. */
export function keyFromLabel(text) {
  const key = (text || "").toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^[^a-z]+|_+$/g, "");
  return key.slice(0, 63).replace(/_+$/, "");
}

export function freshKey(fields, base) {
  const taken = new Set(fields.map((f) => f.key));
  const stem = base.replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "") || "field";
  if (!taken.has(stem)) return stem;
  for (let n = 2; ; n++) if (!taken.has(`${stem}_${n}`)) return `${stem}_${n}`;
}

function take(doc, key) {
  const at = cellOf(doc, key);
  if (!at) return null;
  const row = doc.layout.sections[at.s].rows[at.r];
  const [cell] = row.splice(at.c, 1);
  if (!row.length) doc.layout.sections[at.s].rows.splice(at.r, 1);
  return { cell, at, rowRemoved: !row.length };
}

const SHARE = { "1/4": 1 / 4, "1/3": 1 / 3, "1/2": 1 / 2, "2/3": 2 / 3, "3/4": 3 / 4, 1: 1 };
const EVEN = { 1: "1", 2: "1/2", 3: "1/3", 4: "1/4" };

function put(doc, cell, to) {
  const rows = doc.layout.sections[to.s].rows;
  if (to.newRow || !rows[to.r] || rows[to.r].length >= ROW_MAX) {
    rows.splice(Math.min(to.r, rows.length), 0, [cell]);
    return;
  }
  const row = rows[to.r];
  row.splice(Math.min(to.c ?? row.length, row.length), 0, cell);
  // A row wider than the page shares it evenly.
  if (row.reduce((sum, c) => sum + (SHARE[c.width] || 1), 0) > 1.001) {
    for (const c of row) c.width = EVEN[row.length];
  }
}

function renameInLayout(doc, from, to) {
  for (const section of doc.layout.sections) for (const row of section.rows) for (const cell of row) {
    if (cell.field === from) cell.field = to;
  }
  if (doc.title_field === from) doc.title_field = to;
  if (doc.summary_fields) doc.summary_fields = doc.summary_fields.map((k) => (k === from ? to : k));
}

/** Where `move` would take a field one step in a direction, or null when it cannot go that way. */
export function stepTarget(doc, key, direction) {
  const at = cellOf(doc, key);
  if (!at) return null;
  const sections = doc.layout.sections;
  const row = sections[at.s].rows[at.r];
  if (direction === "left") return at.c > 0 ? { s: at.s, r: at.r, c: at.c - 1 } : null;
  if (direction === "right") return at.c < row.length - 1 ? { s: at.s, r: at.r, c: at.c + 1 } : null;
  const alone = row.length === 1;
  if (direction === "up") {
    if (!alone) return { s: at.s, r: at.r, newRow: true };
    if (at.r > 0) return { s: at.s, r: at.r - 1, newRow: true };
    return at.s > 0 ? { s: at.s - 1, r: sections[at.s - 1].rows.length, newRow: true } : null;
  }
  if (direction === "down") {
    if (!alone) return { s: at.s, r: at.r + 1, newRow: true };
    if (at.r < sections[at.s].rows.length - 1) return { s: at.s, r: at.r + 2, newRow: true, removed: true };
    return at.s < sections.length - 1 ? { s: at.s + 1, r: 0, newRow: true } : null;
  }
  return null;
}

const TOKENS = /("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|([A-Za-z_][A-Za-z0-9_]*)/g;

/** A formula with the field `from` read as `to` (texts in quotes, functions and subform columns untouched). */
export function renameInFormula(text, from, to) {
  return text.replace(TOKENS, (whole, quoted, name, offset) => {
    if (quoted || name !== from) return whole;
    if (text[offset - 1] === "." || /^\s*\(/.test(text.slice(offset + name.length))) return whole;
    return to;
  });
}

/** A formula with the subform column `subform.from` read as `subform.to` (e.g. `SUM(items.qty)`). */
export function renameColumnInFormula(text, subform, from, to) {
  const prefix = `${subform}.`;
  return text.replace(TOKENS, (whole, quoted, name, offset) => {
    if (quoted || name !== from || text.slice(offset - prefix.length, offset) !== prefix) return whole;
    return /[A-Za-z0-9_.]/.test(text[offset - prefix.length - 1] || "") ? whole : to;
  });
}

function renameInCondition(condition, from, to) {
  if (!condition || typeof condition !== "object") return condition;
  if (Array.isArray(condition)) return condition.map((c) => renameInCondition(c, from, to));
  const out = {};
  for (const [name, value] of Object.entries(condition)) {
    out[name] = name === "field" && value === from ? to : renameInCondition(value, from, to);
  }
  return out;
}

const CONDITIONS = ["visible_when", "required_when", "readonly_when"];

const COMMANDS = {
  /** After a key is renamed: formulas, rules and checks that read the old key read the new one. */
  rename_references(doc, { from, to }) {
    if (!from || !to || from === to || doc.fields.filter((f) => f.key === to).length !== 1) return;
    for (const f of doc.fields) {
      if (typeof f.formula === "string") f.formula = renameInFormula(f.formula, from, to);
      if (f.default && typeof f.default.formula === "string") f.default.formula = renameInFormula(f.default.formula, from, to);
      for (const rule of CONDITIONS) if (f[rule]) f[rule] = renameInCondition(f[rule], from, to);
    }
    for (const check of doc.validations || []) {
      check.condition = renameInCondition(check.condition, from, to);
      if (Array.isArray(check.fields)) check.fields = check.fields.map((k) => (k === from ? to : k));
    }
  },
  /** After a subform column's key is renamed: its sibling columns' formulas and rules, and the form's
   * formulas that read `subform.column`, read the new key. */
  rename_column_references(doc, { subform, from, to }) {
    const holder = doc.fields.find((f) => f.id === subform);
    const columns = (holder && holder.fields) || [];
    if (!from || !to || from === to || columns.filter((c) => c.key === to).length !== 1) return;
    for (const c of columns) {
      if (typeof c.formula === "string") c.formula = renameInFormula(c.formula, from, to);
      if (c.default && typeof c.default.formula === "string") c.default.formula = renameInFormula(c.default.formula, from, to);
      for (const rule of CONDITIONS) if (c[rule]) c[rule] = renameInCondition(c[rule], from, to);
    }
    for (const f of doc.fields) {
      if (typeof f.formula === "string") f.formula = renameColumnInFormula(f.formula, holder.key, from, to);
      if (f.default && typeof f.default.formula === "string") f.default.formula = renameColumnInFormula(f.default.formula, holder.key, from, to);
    }
  },
  add_field(doc, { field, to }) {
    doc.fields.push(field);
    const target = to || { s: doc.layout.sections.length - 1, r: Infinity, newRow: true };
    put(doc, { field: field.key, width: target.width || "1" }, { ...target, r: Math.min(target.r, doc.layout.sections[target.s].rows.length) });
  },
  /** A copy of a field (fresh ids and key, given by the caller) in a row of its own after the original. */
  duplicate_field(doc, { id, copy }) {
    const original = fieldById(doc, id);
    const at = original && cellOf(doc, original.key);
    if (!at) return;
    doc.fields.splice(doc.fields.indexOf(original) + 1, 0, copy);
    const width = doc.layout.sections[at.s].rows[at.r][at.c].width;
    put(doc, { field: copy.key, width }, { s: at.s, r: at.r + 1, newRow: true });
  },
  remove_field(doc, { id }) {
    const f = fieldById(doc, id);
    if (!f) return;
    take(doc, f.key);
    doc.fields = doc.fields.filter((x) => x.id !== id);
    if (doc.title_field === f.key) delete doc.title_field;
    if (doc.summary_fields) {
      doc.summary_fields = doc.summary_fields.filter((k) => k !== f.key);
      if (!doc.summary_fields.length) delete doc.summary_fields;
    }
  },
  set_field(doc, { id, patch }) {
    const f = fieldById(doc, id);
    if (!f) return;
    if (patch.key !== undefined && patch.key !== f.key) renameInLayout(doc, f.key, patch.key);
    for (const [name, value] of Object.entries(patch)) {
      if (value === undefined || value === null || value === "") delete f[name];
      else f[name] = value;
    }
  },
  set_width(doc, { key, width }) {
    const at = cellOf(doc, key);
    if (at) doc.layout.sections[at.s].rows[at.r][at.c].width = width;
  },
  /** Move a field to {s, r, c} (into that row) or {s, r, newRow: true} (a row of its own before row r). */
  move_field(doc, { key, to }) {
    const taken = take(doc, key);
    if (!taken) return;
    const target = { ...to };
    // Taking the field out may have removed its row, or shifted the cells after it.
    if (taken.rowRemoved && target.s === taken.at.s && target.r > taken.at.r) target.r -= 1;
    put(doc, taken.cell, target);
  },
  step_field(doc, { key, direction }) {
    const to = stepTarget(doc, key, direction);
    if (!to) return;
    if (direction === "left" || direction === "right") {
      const at = cellOf(doc, key);
      const row = doc.layout.sections[at.s].rows[at.r];
      [row[at.c], row[to.c]] = [row[to.c], row[at.c]];
      return;
    }
    const taken = take(doc, key);
    let r = to.r;
    if (taken.rowRemoved && to.s === taken.at.s && r > taken.at.r) r -= 1;
    put(doc, taken.cell, { s: to.s, r, newRow: true });
  },
  set_form(doc, { patch }) {
    for (const [name, value] of Object.entries(patch)) {
      if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) delete doc[name];
      else doc[name] = value;
    }
  },
  add_section(doc, { section }) {
    doc.layout.sections.push({ rows: [], ...section });
  },
  set_section(doc, { index, patch }) {
    const section = doc.layout.sections[index];
    for (const [name, value] of Object.entries(patch)) {
      if (value === undefined || value === null || value === "") delete section[name];
      else section[name] = value;
    }
  },
  remove_section(doc, { index }) {
    const sections = doc.layout.sections;
    if (sections.length < 2) return;
    const [gone] = sections.splice(index, 1);
    const into = sections[Math.max(0, index - 1)];
    into.rows.push(...gone.rows);
  },
  step_section(doc, { index, direction }) {
    const sections = doc.layout.sections;
    const other = index + direction;
    if (other < 0 || other >= sections.length) return;
    [sections[index], sections[other]] = [sections[other], sections[index]];
  },
};

/** The document to save: the layout as rows of {field, width}; a section without fields stays, to be filled. */
export function storable(doc) {
  return clone(doc);
}

export function initialState(doc) {
  return { doc: normalise(doc), past: [], future: [], selected: null, group: null, changes: 0 };
}

/** The store's reducer: document commands (undoable), undo/redo, selection, and a fresh start from the server. */
export function reduce(state, action) {
  switch (action.type) {
    case "undo": {
      if (!state.past.length) return state;
      const doc = state.past[state.past.length - 1];
      return { ...state, doc, past: state.past.slice(0, -1), future: [state.doc, ...state.future], group: null, changes: state.changes + 1, selected: keepSelection(doc, state.selected) };
    }
    case "redo": {
      if (!state.future.length) return state;
      const [doc, ...future] = state.future;
      return { ...state, doc, past: [...state.past, state.doc], future, group: null, changes: state.changes + 1, selected: keepSelection(doc, state.selected) };
    }
    case "select":
      return { ...state, selected: action.id, group: null };
    case "replace":
      return initialState(action.doc);
    default: {
      const command = COMMANDS[action.type];
      if (!command) throw new Error(`unknown designer command ${action.type}`);
      const doc = clone(state.doc);
      command(doc, action);
      const same = action.group && action.group === state.group;
      const past = same ? state.past : [...state.past, state.doc].slice(-HISTORY);
      const added = action.field || action.copy;
      const selected = added ? added.id : keepSelection(doc, state.selected);
      return { ...state, doc, past, future: [], group: action.group || null, selected, changes: state.changes + 1 };
    }
  }
}

function keepSelection(doc, id) {
  return id && fieldById(doc, id) ? id : null;
}
