/**
 * A visual editor of Opsloom conditions (DESIGN.md "Expressions"), for any page that needs one:
 * form rules (visible / required / read-only when), cross-field validations, row-level permissions,
 * flow branches, report filters, automations.
 *
 *   import { ConditionBuilder, builderFields } from "/static/design/js/condition_builder.js";
 *   html`<${ConditionBuilder} fields=${builderFields(draft.fields, fieldTypes, locale)}
 *          value=${condition} onChange=${(next) => ...} t=${translate} idPrefix="visible" />`
 *
 * - `fields`: [{key, label, operators, options?, input, link?}]; `builderFields` makes them from form
 *   fields and the field-type registry (GET /api/design/field-types), so each field offers the
 *   operators its type has (`operators`) and a value widget that fits it.
 * - `value`: a condition or null. `onChange(next)` receives a condition, or null once nothing is left.
 *   The builder writes `{"and"|"or": [leaf | group]}` at the top, leaves as `{"field", "op", "value"}`,
 *   and variables as `{"var": "current_user.id"}` / `{"var": "today"}`.
 * - `t(key)`: the page's messages (keys `cb.*`); English is used for any it lacks.
 * - `idPrefix`: keeps ids unique when several builders share a page.
 *
 * Pure helpers (`emptyLeaf`, `valueShape`, `describe`) are exported for other pages and for tests.
 */
import { html, useMemo } from "/vendor/preact-htm.js";
import { KeptInput } from "./kept_input.js";

const ENGLISH = {
  "cb.all": "all of these hold",
  "cb.any": "any of these holds",
  "cb.match": "Match",
  "cb.field": "Field",
  "cb.operator": "Condition",
  "cb.value": "Value",
  "cb.add": "Add condition",
  "cb.add_group": "Add group",
  "cb.remove": "Remove condition",
  "cb.remove_group": "Remove group",
  "cb.empty": "No condition yet: always.",
  "cb.fixed": "A value",
  "cb.var.current_user.id": "the current user",
  "cb.var.current_user.department_id": "the current user's department",
  "cb.var.current_user.email": "the current user's email",
  "cb.var.today": "today",
  "cb.var.now": "now",
  "cb.yes": "Yes",
  "cb.no": "No",
  "cb.and": "to",
  "cb.op.eq": "is",
  "cb.op.ne": "is not",
  "cb.op.gt": "is greater than",
  "cb.op.gte": "is at least",
  "cb.op.lt": "is less than",
  "cb.op.lte": "is at most",
  "cb.op.in": "is one of",
  "cb.op.not_in": "is none of",
  "cb.op.contains": "contains",
  "cb.op.starts_with": "starts with",
  "cb.op.is_empty": "is empty",
  "cb.op.not_empty": "is not empty",
  "cb.op.between": "is between",
  "cb.op.today": "is today",
  "cb.op.this_week": "is this week",
  "cb.op.this_month": "is this month",
  "cb.op.last_n_days": "is in the last N days",
};

const NO_VALUE = new Set(["is_empty", "not_empty", "today", "this_week", "this_month"]);
const LIST = new Set(["in", "not_in"]);
// The value widget a field's widget calls for (widgets are the registry's, not type names).
const INPUTS = { integer: "number", decimal: "number", percent: "number", rating: "number", date: "date", datetime: "datetime-local", boolean: "boolean" };
const VARIABLES = {
  date: ["today"],
  "datetime-local": ["now"],
  user: ["current_user.id"],
  department: ["current_user.department_id"],
};

/** Fields as the builder offers them, from form fields and the field-type registry's entries. */
export function builderFields(fields, fieldTypes, locale) {
  const types = Object.fromEntries(fieldTypes.map((ft) => [ft.type, ft]));
  return fields
    .filter((f) => f && f.key && types[f.type])
    .map((f) => {
      const own = types[f.type];
      // A type that behaves as another by one of its properties (a formula: its result) offers that one's.
      const as = own.shown_as ? own.shown_as.as[f[own.shown_as.property] || own.shown_as.default] : null;
      const ft = as ? { ...own, ...as } : own;
      return {
        key: f.key,
        label: labelText(f.label, locale) || f.key,
        operators: ft.operators,
        options: (f.options || []).map((o) => ({ value: o.value, label: labelText(o.label, locale) || o.value })),
        input: f.options ? "select" : INPUTS[ft.widget] || "text",
        link: ft.link,
      };
    });
}

export function labelText(label, locale) {
  if (label == null) return "";
  if (typeof label === "string") return label;
  return label[locale] || label.en || label["zh-CN"] || Object.values(label)[0] || "";
}

/** A new condition on the first field, with its first operator. */
export function emptyLeaf(fields) {
  const field = fields[0];
  const op = field ? preferredOperator(field) : "eq";
  return { field: field ? field.key : "", op, ...(NO_VALUE.has(op) ? {} : { value: "" }) };
}

function preferredOperator(field) {
  return field.operators.includes("eq") ? "eq" : field.operators[0];
}

/** What value an operator takes: "none", "list", "pair", "days" or "one". */
export function valueShape(op) {
  if (NO_VALUE.has(op)) return "none";
  if (LIST.has(op)) return "list";
  if (op === "between") return "pair";
  if (op === "last_n_days") return "days";
  return "one";
}

/** A leaf with its value fitted to a new operator (kept when the shape allows). */
export function withOperator(leaf, op) {
  const shape = valueShape(op);
  const { value, ...rest } = leaf;
  if (shape === "none") return { ...rest, op };
  if (shape === "list") return { ...rest, op, value: Array.isArray(value) ? value : value != null && value !== "" ? [value] : [] };
  if (shape === "pair") return { ...rest, op, value: Array.isArray(value) && value.length === 2 ? value : ["", ""] };
  if (shape === "days") return { ...rest, op, value: Number.isInteger(value) ? value : 7 };
  return { ...rest, op, value: Array.isArray(value) ? value[0] ?? "" : value ?? "" };
}

/** One line of plain words for a condition, e.g. "Amount is greater than 100000 and Dept is one of sales". */
export function describe(condition, fields, t = (k) => ENGLISH[k] || k) {
  if (!condition) return "";
  const group = condition.and || condition.or;
  if (group) return group.map((c) => describe(c, fields, t)).join(condition.and ? " · " : " | ");
  const field = fields.find((f) => f.key === condition.field);
  const name = field ? field.label : condition.field;
  const value = condition.value;
  const shown = (v) => (v && typeof v === "object" && v.var ? t(`cb.var.${v.var}`) : String(v));
  const text = value === undefined ? "" : Array.isArray(value) ? value.map(shown).join(", ") : shown(value);
  return `${name} ${t(`cb.op.${condition.op}`)} ${text}`.trim();
}

function toGroup(value) {
  if (!value) return { and: [] };
  if (value.and || value.or) return value;
  return { and: [value] };
}

function groupItems(group) {
  return group.and || group.or;
}

function fromGroup(group) {
  return groupItems(group).length ? group : null;
}

export function ConditionBuilder({ fields, value, onChange, t: translate, idPrefix = "cb", depth = 0 }) {
  const t = (key) => (translate && translate(key) !== key ? translate(key) : ENGLISH[key] || key);
  const group = toGroup(value);
  const joiner = group.or ? "or" : "and";
  const items = groupItems(group);
  const set = (next) => onChange(depth === 0 ? fromGroup({ [joiner]: next }) : { [joiner]: next });
  const replaceAt = (i, item) => set(items.map((x, j) => (j === i ? item : x)));
  const removeAt = (i) => set(items.filter((_, j) => j !== i));
  return html`
    <div class="cb-group" role="group" aria-label=${t(joiner === "and" ? "cb.all" : "cb.any")}>
      ${items.length > 1 &&
      html`<div class="cb-join">
        <label for=${`${idPrefix}-join`}>${t("cb.match")}</label>
        <select id=${`${idPrefix}-join`} value=${joiner} onChange=${(e) => onChange({ [e.target.value]: items })}>
          <option value="and">${t("cb.all")}</option>
          <option value="or">${t("cb.any")}</option>
        </select>
      </div>`}
      ${!items.length && html`<p class="muted cb-empty">${t("cb.empty")}</p>`}
      <ul class="cb-items">
        ${items.map(
          (item, i) => html`<li key=${i} class="cb-item">
            ${item.and || item.or
              ? html`<div class="cb-nested">
                  <${ConditionBuilder} fields=${fields} value=${item} t=${translate} idPrefix=${`${idPrefix}-${i}`} depth=${depth + 1}
                    onChange=${(next) => (next && groupItems(next).length ? replaceAt(i, next) : removeAt(i))} />
                  <button type="button" class="button small secondary" onClick=${() => removeAt(i)}>${t("cb.remove_group")}</button>
                </div>`
              : html`<${Leaf} fields=${fields} leaf=${item} t=${t} id=${`${idPrefix}-${i}`}
                  onChange=${(next) => replaceAt(i, next)} onRemove=${() => removeAt(i)} />`}
          </li>`,
        )}
      </ul>
      <div class="cb-actions">
        <button type="button" class="button small secondary" disabled=${!fields.length} onClick=${() => set([...items, emptyLeaf(fields)])}>+ ${t("cb.add")}</button>
        ${depth < 2 && html`<button type="button" class="button small secondary" disabled=${!fields.length}
          onClick=${() => set([...items, { [joiner === "and" ? "or" : "and"]: [emptyLeaf(fields)] }])}>+ ${t("cb.add_group")}</button>`}
      </div>
    </div>`;
}

function Leaf({ fields, leaf, t, id, onChange, onRemove }) {
  const field = fields.find((f) => f.key === leaf.field) || null;
  const known = field ? field.operators : [];
  const operators = known.includes(leaf.op) ? known : [leaf.op, ...known]; // an operator the type widens to (a formula's result)
  const shape = valueShape(leaf.op);
  const chooseField = (key) => {
    const next = fields.find((f) => f.key === key);
    const op = next && next.operators.includes(leaf.op) ? leaf.op : next ? preferredOperator(next) : leaf.op;
    onChange(withOperator({ field: key, op, value: "" }, op));
  };
  return html`<div class="cb-leaf">
    <label class="visually-hidden" for=${`${id}-field`}>${t("cb.field")}</label>
    <select id=${`${id}-field`} value=${leaf.field} onChange=${(e) => chooseField(e.target.value)}>
      ${!field && html`<option value=${leaf.field}>${leaf.field || "—"}</option>`}
      ${fields.map((f) => html`<option value=${f.key}>${f.label}</option>`)}
    </select>
    <label class="visually-hidden" for=${`${id}-op`}>${t("cb.operator")}</label>
    <select id=${`${id}-op`} value=${leaf.op} onChange=${(e) => onChange(withOperator(leaf, e.target.value))}>
      ${operators.map((op) => html`<option value=${op}>${t(`cb.op.${op}`)}</option>`)}
    </select>
    ${shape !== "none" && html`<${ValueInput} field=${field} leaf=${leaf} shape=${shape} t=${t} id=${id} onChange=${onChange} />`}
    <button type="button" class="icon-button" aria-label=${t("cb.remove")} title=${t("cb.remove")} onClick=${onRemove}>×</button>
  </div>`;
}

function ValueInput({ field, leaf, shape, t, id, onChange }) {
  const input = field ? field.input : "text";
  const variables = useMemo(() => variablesFor(field), [field]);
  const set = (value) => onChange({ ...leaf, value });
  const label = t("cb.value");
  if (shape === "list") {
    if (field && field.options.length) {
      const chosen = new Set(leaf.value || []);
      return html`<fieldset class="cb-choices"><legend class="visually-hidden">${label}</legend>
        ${field.options.map((o) => html`<label class="cb-choice"><input type="checkbox" checked=${chosen.has(o.value)}
          onChange=${(e) => set(e.target.checked ? [...chosen, o.value] : [...chosen].filter((v) => v !== o.value))} /> ${o.label}</label>`)}
      </fieldset>`;
    }
    return html`<${KeptInput} id=${`${id}-value`} aria-label=${label} value=${(leaf.value || []).join(", ")}
      onCommit=${(text) => set(text.split(/[,，]/).map((s) => s.trim()).filter(Boolean).map((s) => typed(input, s)))} />`;
  }
  if (shape === "pair") {
    const [low, high] = leaf.value || ["", ""];
    return html`<span class="cb-pair">
      <${Single} id=${`${id}-low`} label=${label} field=${field} input=${input} value=${low} t=${t} variables=${[]} onChange=${(v) => set([v, high])} />
      <span>${t("cb.and")}</span>
      <${Single} id=${`${id}-high`} label=${label} field=${field} input=${input} value=${high} t=${t} variables=${[]} onChange=${(v) => set([low, v])} />
    </span>`;
  }
  if (shape === "days") {
    return html`<${KeptInput} id=${`${id}-value`} aria-label=${label} type="number" min="1" max="3660" value=${leaf.value}
      onCommit=${(text) => set(Math.max(1, parseInt(text, 10) || 1))} />`;
  }
  return html`<${Single} id=${`${id}-value`} label=${label} field=${field} input=${input} value=${leaf.value} t=${t} variables=${variables} onChange=${set} />`;
}

function Single({ id, label, field, input, value, t, variables, onChange }) {
  const isVar = value && typeof value === "object" && value.var;
  const source = variables.length
    ? html`<select aria-label=${`${label}: ${t("cb.fixed")}`} value=${isVar ? value.var : ""}
        onChange=${(e) => onChange(e.target.value ? { var: e.target.value } : "")}>
        <option value="">${t("cb.fixed")}</option>
        ${variables.map((v) => html`<option value=${v}>${t(`cb.var.${v}`)}</option>`)}
      </select>`
    : null;
  if (isVar) return source;
  let control;
  if (field && field.options.length) {
    control = html`<select id=${id} aria-label=${label} value=${value ?? ""} onChange=${(e) => onChange(e.target.value)}>
      <option value="">—</option>
      ${field.options.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
    </select>`;
  } else if (input === "boolean") {
    control = html`<select id=${id} aria-label=${label} value=${value === true ? "true" : value === false ? "false" : ""}
      onChange=${(e) => onChange(e.target.value === "" ? "" : e.target.value === "true")}>
      <option value="">—</option><option value="true">${t("cb.yes")}</option><option value="false">${t("cb.no")}</option>
    </select>`;
  } else {
    control = html`<${KeptInput} id=${id} aria-label=${label} type=${input === "number" ? "text" : input} inputmode=${input === "number" ? "decimal" : undefined}
      value=${value} onCommit=${(text) => onChange(typed(input, text))} />`;
  }
  return source ? html`<span class="cb-single">${source}${control}</span>` : control;
}

function variablesFor(field) {
  if (!field) return [];
  return VARIABLES[field.link] || VARIABLES[field.input] || [];
}

/** Numbers travel as numbers when they are whole, as strings otherwise (decimals stay exact). */
function typed(input, text) {
  if (input === "number" && /^-?\d{1,15}$/.test(text.trim())) return parseInt(text, 10);
  return text;
}
