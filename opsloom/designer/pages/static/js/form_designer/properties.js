/**
 * The properties panel: for the selected field, an editor generated from its type's property schema
 * (the registry's `properties`), plus what every field has (labels, key, required, default, help) and
 * its rules; with nothing selected, the form's own settings and cross-field validations.
 * Subform columns are edited in place with the same editor.
 */
import { html, useState } from "/vendor/preact-htm.js";
import { ConditionBuilder, builderFields } from "../condition_builder.js";
import { FormulaEditor } from "./formula_editor.js";
import { KeptInput } from "../kept_input.js";
import { freshId, freshKey, keyFromLabel } from "./store.js";

// Fields whose key the designer typed: a new field's key follows its English name until then.
const typedKeys = new Set();

const LANGS = [["zh-CN", "中文"], ["en", "English"]];
const RULES = ["visible_when", "required_when", "readonly_when"];
// Properties every field has, edited above the type's own; the type's schema may still forbid them.
const COMMON = new Set(["default", "unique", "required", "description", "placeholder", "index"]);
const SPECIAL = new Set(["options", "fields", "formula", "form", "validations", "pattern"]);
const COLORS = ["#2563d0", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#64748b"];

const labelOf = (label, locale) =>
  label == null ? "" : typeof label === "string" ? label : label[locale] || label.en || label["zh-CN"] || "";

function bilingual(value) {
  if (value == null) return {};
  if (typeof value === "string") return { "zh-CN": value, en: value };
  return value;
}

function setLang(value, lang, text) {
  const next = { ...bilingual(value), [lang]: text };
  if (!next["zh-CN"] && !next.en) return undefined;
  return next;
}

function Bilingual({ id, name, value, onChange, required }) {
  return html`<fieldset class="fd-bilingual">
    <legend>${name}${required && html`<span class="required" aria-hidden="true"> *</span>`}</legend>
    ${LANGS.map(([lang, langName]) => html`<label class="fd-mini" for=${`${id}-${lang}`}>
      <span>${langName}</span>
      <input id=${`${id}-${lang}`} lang=${lang} value=${bilingual(value)[lang] || ""} onInput=${(e) => onChange(setLang(value, lang, e.target.value), lang)} />
    </label>`)}
  </fieldset>`;
}

/** The selected field's panel. */
export function Properties({ env, field, onClose }) {
  const { t, dispatch, locale } = env;
  const patch = (p, group) => dispatch({ type: "set_field", id: field.id, patch: p, group: group && `${field.id}:${group}` });
  return html`<div class="fd-panel">
    <div class="fd-panel-head">
      <h2 id="fd-properties-title">${labelOf(field.label, locale) || field.key}</h2>
      <button type="button" class="icon-button" aria-label=${t("fd.close_properties")} onClick=${onClose}>×</button>
    </div>
    <${FieldEditor} env=${env} field=${field} siblings=${env.doc.fields} onPatch=${patch} idPrefix="fp" />
    <${Rules} env=${env} field=${field} onPatch=${patch} />
    <div class="fd-panel-foot">
      <button type="button" class="button danger small" onClick=${() => dispatch({ type: "remove_field", id: field.id })}>${t("fd.remove_this_field")}</button>
    </div>
  </div>`;
}

/** Labels, key, the common properties and the type's own, for a form field or a subform column. */
function FieldEditor({ env, field, siblings, onPatch, idPrefix, subform }) {
  const { t, types, boot, problems } = env;
  const ft = types[field.type];
  const schema = (ft && ft.properties && ft.properties.properties) || {};
  const required = new Set((ft && ft.properties && ft.properties.required) || []);
  const original = (boot.draft.fields || []).find((f) => f.id === field.id);
  const stored = original || (boot.draft.fields || []).some((f) => (f.fields || []).some((c) => c.id === field.id));
  // A new field's key follows its English name (one edit, one undo step) until the key is typed.
  const nameChanged = (value, lang) => {
    const suggested = lang === "en" && !stored && !typedKeys.has(field.id) && keyFromLabel(bilingual(value).en);
    const key = suggested && freshKey(siblings.filter((f) => f.id !== field.id), suggested);
    onPatch(key ? { label: value || field.key, key } : { label: value || field.key }, `label-${lang}`);
  };
  const renamed = original && original.key !== field.key;
  const keyTaken = siblings.some((f) => f.id !== field.id && f.key === field.key);
  const wrong = subform ? [] : problems.byId[field.id] || [];
  const problemAt = (name) => wrong.filter((p) => p.where === name || p.where.startsWith(`${name}.`) || p.where.startsWith(`${name}[`));
  const id = `${idPrefix}-${field.id}`;
  const allows = (name) => !(schema[name] && (schema[name].const !== undefined || schema[name].type === "null"));
  const rank = ([name]) => (SPECIAL.has(name) ? 0 : name.startsWith("min") ? 1 : name.startsWith("max") ? 2 : 3);
  const own = Object.entries(schema)
    .filter(([name, s]) => !COMMON.has(name) && allows(name) && s.const === undefined)
    .sort((a, b) => rank(a) - rank(b));
  return html`<div class="fd-editor">
    ${wrong.filter((p) => !p.where || !Object.keys(schema).concat(["key", "label", "default"]).some((n) => p.where.startsWith(n))).map((p) => html`<p class="error fd-problem">${p.where && html`<code>${p.where}</code> `}${p.message}</p>`)}
    <${Bilingual} id=${`${id}-label`} name=${t("fd.prop.label")} value=${field.label} required=${true} onChange=${nameChanged} />
    <div class="field">
      <label for=${`${id}-key`}>${t("fd.prop.key")}</label>
      <input id=${`${id}-key`} value=${field.key} class="fd-code" autocapitalize="off" spellcheck="false" pattern="[a-z][a-z0-9_]{0,62}"
        aria-invalid=${keyTaken || problemAt("key").length ? "true" : undefined} aria-describedby=${`${id}-key-help`}
        onFocus=${(e) => { e.target.dataset.keyBefore = field.key; }}
        onChange=${(e) => env.dispatch(subform
          ? { type: "rename_column_references", subform: subform.id, from: e.target.dataset.keyBefore, to: field.key, group: `${field.id}:key` }
          : { type: "rename_references", from: e.target.dataset.keyBefore, to: field.key, group: `${field.id}:key` })}
        onInput=${(e) => { typedKeys.add(field.id); onPatch({ key: e.target.value.toLowerCase().replace(/[^a-z0-9_]/g, "_") || field.key }, "key"); }} />
      <p class="help" id=${`${id}-key-help`}>${t("fd.key_help")}</p>
      ${renamed && html`<p class="fd-warning" role="note">${t("fd.key_renamed", { from: original.key, id: field.id })}</p>`}
      ${keyTaken && html`<p class="error">${t("fd.key_taken", { key: field.key })}</p>`}
      ${problemAt("key").map((p) => html`<p class="error">${p.message}</p>`)}
    </div>
    ${ft && ft.entered && html`<div class="fd-checks">
      <label class="checkbox"><input type="checkbox" id=${`${id}-required`} checked=${!!field.required} onChange=${(e) => onPatch({ required: e.target.checked || undefined })} /> ${t("fd.prop.required")}</label>
      ${allows("unique") && !subform && html`<label class="checkbox"><input type="checkbox" id=${`${id}-unique`} checked=${!!field.unique} onChange=${(e) => onPatch({ unique: e.target.checked || undefined })} /> ${t("fd.prop.unique")}</label>`}
    </div>`}
    ${ft && ft.entered && allows("default") && !schema.fields && html`<${DefaultInput} env=${env} field=${field} id=${`${id}-default`} onPatch=${onPatch} problems=${problemAt("default")} />`}
    ${own.map(([name, s]) => html`<${Property} env=${env} key=${name} name=${name} schema=${s} required=${required.has(name)} field=${field} subform=${subform}
      id=${`${id}-${name}`} onPatch=${onPatch} problems=${problemAt(name)} />`)}
    <${Bilingual} id=${`${id}-help`} name=${t("fd.prop.description")} value=${field.description} onChange=${(v, lang) => onPatch({ description: v }, `help-${lang}`)} />
  </div>`;
}

function DefaultInput({ env, field, id, onPatch, problems }) {
  const { t } = env;
  const value = field.default;
  const text = value == null ? "" : typeof value === "object" ? `=${value.formula}` : Array.isArray(value) ? value.join(", ") : String(value);
  const set = (raw) => {
    if (raw === "") return onPatch({ default: undefined }, "default");
    if (raw.startsWith("=")) return onPatch({ default: { formula: raw.slice(1) || " " } }, "default");
    const lowered = raw.trim().toLowerCase();
    if (lowered === "true" || lowered === "false") return onPatch({ default: lowered === "true" }, "default");
    return onPatch({ default: raw }, "default");
  };
  return html`<div class="field">
    <label for=${id}>${t("fd.prop.default")}</label>
    <input id=${id} value=${text} aria-describedby=${`${id}-help`} aria-invalid=${problems.length ? "true" : undefined} onInput=${(e) => set(e.target.value)} />
    <p class="help" id=${`${id}-help`}>${t("fd.default_help")}</p>
    ${problems.map((p) => html`<p class="error">${p.message}</p>`)}
  </div>`;
}

function Property({ env, name, schema, required, field, subform, id, onPatch, problems }) {
  const { t } = env;
  const title = t(`fd.prop.${name}`) !== `fd.prop.${name}` ? t(`fd.prop.${name}`) : name.replace(/_/g, " ");
  const help = schema.description && !t(`fd.prop.${name}`).includes(schema.description) ? schema.description : "";
  const value = field[name];
  const errors = problems.map((p) => html`<p class="error">${p.message}</p>`);
  if (name === "validations") return null;
  if (name === "options") return html`<div class="field"><${OptionsEditor} env=${env} options=${value || []} id=${id} title=${title} onChange=${(next, group) => onPatch({ options: next }, group)} />${errors}</div>`;
  if (name === "fields") return html`<div class="field"><${ColumnsEditor} env=${env} parent=${field} id=${id} onPatch=${onPatch} />${errors}</div>`;
  if (name === "formula") return html`<div class="field"><${FormulaEditor} env=${env} field=${field} subform=${subform} value=${value || ""} id=${id}
    onChange=${(v) => onPatch({ formula: v || " " }, "formula")} /></div>`; // its live verdict says what the save would
  if (name === "form") return html`<${RelationTarget} env=${env} field=${field} id=${id} onPatch=${onPatch} errors=${errors} />`;
  if (name === "via" || name === "field") return html`<${SourceField} env=${env} field=${field} name=${name} title=${title} required=${required}
    id=${id} onPatch=${onPatch} errors=${errors} />`;
  if (name === "filter") return html`<${SourceFilter} env=${env} field=${field} title=${title} id=${id} onPatch=${onPatch} errors=${errors} />`;
  let control;
  if (schema.enum) {
    control = html`<select id=${id} value=${value ?? ""} onChange=${(e) => onPatch({ [name]: e.target.value || undefined })}>
      ${!required && html`<option value="">—</option>`}
      ${schema.enum.map((v) => html`<option value=${v}>${t(`fd.enum.${v}`) !== `fd.enum.${v}` ? t(`fd.enum.${v}`) : v}</option>`)}
    </select>`;
  } else if (schema.type === "boolean") {
    return html`<label class="checkbox"><input type="checkbox" id=${id} checked=${!!value} onChange=${(e) => onPatch({ [name]: e.target.checked || undefined })} /> ${title}</label>`;
  } else if (schema.type === "integer") {
    control = html`<input id=${id} type="number" inputmode="numeric" min=${schema.minimum} max=${schema.maximum} value=${value ?? ""}
      onInput=${(e) => onPatch({ [name]: e.target.value === "" ? undefined : parseInt(e.target.value, 10) }, name)} />`;
  } else if (schema.type === "array") {
    control = html`<${KeptInput} id=${id} value=${(value || []).join(", ")} onCommit=${(text) => onPatch({ [name]: text.split(",").map((s) => s.trim()).filter(Boolean) })} />`;
  } else {
    control = html`<input id=${id} value=${value ?? ""} class=${name === "pattern" ? "fd-code" : ""} spellcheck="false"
      onInput=${(e) => onPatch({ [name]: e.target.value === "" ? undefined : e.target.value }, name)} />`;
  }
  return html`<div class="field">
    <label for=${id}>${title}${required && html`<span class="required" aria-hidden="true"> *</span>`}</label>
    ${control}
    ${name === "pattern" && typeof value === "string" && value.includes("{") && html`<p class="fd-sample" role="status">${t("fd.number_sample")} <strong data-number-sample>${numberSample(value)}</strong></p>`}
    ${help && html`<p class="help">${help}</p>`}
    ${errors}
  </div>`;
}

/** What a running number pattern gives today, for the first record: PR-{YYYY}{MM}-{seq:4} -> PR-202612-0001. */
export function numberSample(pattern, now = new Date()) {
  const pad = (n, w) => String(n).padStart(w, "0");
  return pattern.replace(/\{(\w+)(?::(\d+))?\}/g, (whole, token, width) => {
    if (token === "YYYY") return String(now.getFullYear());
    if (token === "YY") return pad(now.getFullYear() % 100, 2);
    if (token === "MM") return pad(now.getMonth() + 1, 2);
    if (token === "DD") return pad(now.getDate(), 2);
    if (token === "seq") return pad(1, Number(width || 1));
    return `[${token}]`;
  });
}

function OptionsEditor({ env, options, id, title, onChange }) {
  const { t } = env;
  const set = (i, change, group) => onChange(options.map((o, j) => (j === i ? { ...o, ...change } : o)), group);
  const move = (i, d) => {
    const next = [...options];
    [next[i], next[i + d]] = [next[i + d], next[i]];
    onChange(next);
  };
  const add = () => {
    const taken = new Set(options.map((o) => o.value));
    let n = options.length + 1;
    while (taken.has(`option_${n}`)) n++;
    onChange([...options, { value: `option_${n}`, label: { "zh-CN": `选项 ${n}`, en: `Option ${n}` }, color: COLORS[options.length % COLORS.length] }]);
  };
  return html`<fieldset class="fd-options">
    <legend>${title}</legend>
    <ol>
      ${options.map((o, i) => html`<li key=${i} class="fd-option">
        <input type="color" aria-label=${t("fd.option_color", { n: i + 1 })} value=${o.color || "#64748b"} onInput=${(e) => set(i, { color: e.target.value }, `opt-${i}-color`)} />
        ${LANGS.map(([lang, langName]) => html`<input aria-label=${t("fd.option_label", { n: i + 1, lang: langName })} lang=${lang} placeholder=${langName}
          value=${bilingual(o.label)[lang] || ""} onInput=${(e) => set(i, { label: setLang(o.label, lang, e.target.value) || o.value }, `opt-${i}-${lang}`)} />`)}
        <input class="fd-code" aria-label=${t("fd.option_value", { n: i + 1 })} value=${o.value} onInput=${(e) => set(i, { value: e.target.value.replace(/[^A-Za-z0-9_.-]/g, "_") || o.value }, `opt-${i}-value`)} />
        <span class="fd-option-tools">
          <button type="button" class="icon-button" aria-label=${t("fd.option_up", { n: i + 1 })} disabled=${i === 0} onClick=${() => move(i, -1)}>↑</button>
          <button type="button" class="icon-button" aria-label=${t("fd.option_down", { n: i + 1 })} disabled=${i === options.length - 1} onClick=${() => move(i, 1)}>↓</button>
          <button type="button" class="icon-button" aria-label=${t("fd.option_remove", { n: i + 1 })} disabled=${options.length < 2} onClick=${() => onChange(options.filter((_, j) => j !== i))}>×</button>
        </span>
      </li>`)}
    </ol>
    <button type="button" class="button secondary small" onClick=${add}>+ ${t("fd.option_add")}</button>
  </fieldset>`;
}

function ColumnsEditor({ env, parent, id, onPatch }) {
  const { t, types, boot, locale } = env;
  const [open, setOpen] = useState(null);
  const columns = parent.fields || [];
  const setColumns = (next, group) => onPatch({ fields: next }, group);
  const rowTypes = boot.field_types.filter((ft) => ft.may_be.in_rows);
  const add = (type) => {
    const ft = types[type];
    const column = { id: freshId(env.doc), key: freshKey(columns, type), type, label: { ...ft.label }, ...JSON.parse(JSON.stringify(ft.starts_with || {})) };
    setColumns([...columns, column]);
    setOpen(column.id);
  };
  const move = (i, d) => {
    const next = [...columns];
    [next[i], next[i + d]] = [next[i + d], next[i]];
    setColumns(next);
  };
  return html`<fieldset class="fd-columns">
    <legend>${t("fd.prop.fields")}</legend>
    <ol>
      ${columns.map((c, i) => html`<li key=${c.id} class="fd-column">
        <div class="fd-column-head">
          <button type="button" class="link-button" aria-expanded=${open === c.id} onClick=${() => setOpen(open === c.id ? null : c.id)}>
            ${labelOf(c.label, locale) || c.key} <span class="muted">· ${types[c.type] ? types[c.type].label[locale] : c.type}</span>
          </button>
          <span class="fd-option-tools">
            <button type="button" class="icon-button" aria-label=${t("fd.column_up", { name: labelOf(c.label, locale) })} disabled=${i === 0} onClick=${() => move(i, -1)}>↑</button>
            <button type="button" class="icon-button" aria-label=${t("fd.column_down", { name: labelOf(c.label, locale) })} disabled=${i === columns.length - 1} onClick=${() => move(i, 1)}>↓</button>
            <button type="button" class="icon-button" aria-label=${t("fd.column_remove", { name: labelOf(c.label, locale) })} disabled=${columns.length < 2} onClick=${() => setColumns(columns.filter((x) => x.id !== c.id))}>×</button>
          </span>
        </div>
        ${open === c.id && html`<${FieldEditor} env=${env} field=${c} siblings=${columns} idPrefix=${`${id}-col`} subform=${parent}
          onPatch=${(p, group) => setColumns(columns.map((x) => (x.id === c.id ? clean({ ...x, ...p }) : x)), group && `col-${c.id}-${group}`)} />`}
      </li>`)}
    </ol>
    <label class="fd-mini"><span>${t("fd.column_add")}</span>
      <select value="" onChange=${(e) => { if (e.target.value) add(e.target.value); e.target.value = ""; }}>
        <option value="">—</option>
        ${rowTypes.map((ft) => html`<option value=${ft.type}>${ft.label[locale] || ft.type}</option>`)}
      </select>
    </label>
  </fieldset>`;
}

function clean(field) {
  return Object.fromEntries(Object.entries(field).filter(([, v]) => v !== undefined && v !== null && v !== ""));
}

/**
 * A field of the form another field reads from (a rollup's form): `via`, its relation fields that link
 * to this form; `field`, its number fields. A select when that form is known, else its key typed in.
 */
function SourceField({ env, field, name, title, required, id, onPatch, errors }) {
  const { t, boot, doc, locale, types } = env;
  const source = boot.forms.find((f) => f.key === field.form);
  const fits = (f) => {
    const ft = types[f.type] || {};
    if (name === "via") return ft.link === "record" && f.form === doc.key;
    const shown = ft.shown_as && ft.shown_as.as[f[ft.shown_as.property] || ft.shown_as.default];
    return ft.may_be && ft.may_be.summary && (ft.may_be.measure || (shown && shown.widget === "decimal"));
  };
  const choices = source ? source.fields.filter(fits) : [];
  const value = field[name] || "";
  return html`<div class="field">
    <label for=${id}>${title}${required && html`<span class="required" aria-hidden="true"> *</span>`}</label>
    ${source
      ? html`<select id=${id} value=${value} onChange=${(e) => onPatch({ [name]: e.target.value || undefined })}>
          <option value="">—</option>
          ${value && !choices.some((f) => f.key === value) && html`<option value=${value}>${value}</option>`}
          ${choices.map((f) => html`<option value=${f.key}>${labelOf(f.label, locale) || f.key}</option>`)}
        </select>`
      : html`<input id=${id} value=${value} class="fd-code" spellcheck="false"
          onInput=${(e) => onPatch({ [name]: e.target.value === "" ? undefined : e.target.value }, name)} />`}
    <p class="help">${t(`fd.source_${name}_help`)}</p>
    ${errors}
  </div>`;
}

/** Which records of the form another field reads from count: a condition over that form's fields. */
function SourceFilter({ env, field, title, id, onPatch, errors }) {
  const { t, boot, locale } = env;
  const source = boot.forms.find((f) => f.key === field.form);
  if (!source) return null;
  const fields = builderFields(source.fields, boot.field_types, locale);
  return html`<div class="field">
    <span class="label" id=${`${id}-title`}>${title}</span>
    <${ConditionBuilder} fields=${fields} value=${field.filter || null} t=${t} idPrefix=${id}
      onChange=${(next) => onPatch({ filter: next || undefined })} />
    <p class="help">${t("fd.source_filter_help")}</p>
    ${errors}
  </div>`;
}

function RelationTarget({ env, field, id, onPatch, errors }) {
  const { t, boot, locale, types } = env;
  const target = boot.forms.find((f) => f.key === field.form);
  const links = (types[field.type] || {}).link === "record";
  if (!links) {
    return html`<div class="field">
      <label for=${id}>${t("fd.prop.source_form")}</label>
      <select id=${id} value=${field.form || ""} onChange=${(e) => onPatch({ form: e.target.value || undefined })}>
        ${!target && html`<option value=${field.form || ""}>${field.form || "—"}</option>`}
        ${boot.forms.map((f) => html`<option value=${f.key}>${labelOf(f.label, locale) || f.key}</option>`)}
      </select>
      <p class="help">${t("fd.source_form_help")}</p>
      ${errors}
    </div>`;
  }
  return html`<div class="field">
    <label for=${id}>${t("fd.prop.form")}</label>
    <select id=${id} value=${field.form || ""} onChange=${(e) => onPatch({ form: e.target.value || undefined })}>
      ${!target && html`<option value=${field.form || ""}>${field.form || "—"}</option>`}
      ${boot.forms.map((f) => html`<option value=${f.key}>${labelOf(f.label, locale) || f.key}</option>`)}
    </select>
    ${target && html`<p class="help">${t("fd.relation_shows", {
      field: labelOf((target.fields.find((f) => f.key === target.title_field) || {}).label, locale) || target.title_field || "id",
    })} <a href=${`/design/apps/${boot.app}/forms/${target.key}`}>${t("fd.relation_change_title")}</a></p>`}
    ${errors}
  </div>`;
}

function Rules({ env, field, onPatch }) {
  const { t, doc, boot, locale } = env;
  const fields = builderFields(doc.fields.filter((f) => f.id !== field.id), boot.field_types, locale);
  return html`<section class="fd-rules" aria-labelledby=${`fd-rules-${field.id}`}>
    <h3 id=${`fd-rules-${field.id}`}>${t("fd.rules")}</h3>
    ${RULES.map((rule) => html`<details class="fd-rule" open=${!!field[rule]} data-rule=${rule}>
      <summary>${t(`fd.rule.${rule}`)}${field[rule] ? html` <span class="badge">${t("fd.rule_on")}</span>` : ""}</summary>
      <${ConditionBuilder} fields=${fields} value=${field[rule] || null} t=${t} idPrefix=${`${rule}-${field.id}`}
        onChange=${(next) => onPatch({ [rule]: next || undefined })} />
    </details>`)}
  </section>`;
}

/** With no field selected: the form's names, its title field and its cross-field validations. */
export function FormProperties({ env }) {
  const { t, doc, dispatch, boot, locale } = env;
  const set = (patch, group) => dispatch({ type: "set_form", patch, group: group && `form:${group}` });
  const fields = builderFields(doc.fields, boot.field_types, locale);
  const titleable = doc.fields.filter((f) => env.types[f.type] && env.types[f.type].may_be.title);
  const summarized = doc.fields.filter((f) => env.types[f.type] && env.types[f.type].may_be.summary);
  const summary = doc.summary_fields || [];
  // In the order of the form's fields; none chosen leaves the default (number or title, and the amount).
  const toggled = (keys, key, on) => {
    const next = doc.fields.map((f) => f.key).filter((k) => (k === key ? on : keys.includes(k)));
    return next.length ? next : undefined;
  };
  const validations = doc.validations || [];
  const setValidation = (i, change, group) => set({ validations: validations.map((v, j) => (j === i ? { ...v, ...change } : v)) }, group);
  return html`<div class="fd-panel">
    <div class="fd-panel-head"><h2 id="fd-properties-title">${t("fd.form_settings")}</h2></div>
    <p class="muted fd-hint">${t("fd.select_hint")}</p>
    <${Bilingual} id="form-label" name=${t("fd.form_name")} value=${doc.label} required=${true} onChange=${(v, lang) => set({ label: v || doc.key }, `label-${lang}`)} />
    <div class="field">
      <label for="form-title-field">${t("fd.title_field")}</label>
      <select id="form-title-field" value=${doc.title_field || ""} onChange=${(e) => set({ title_field: e.target.value || undefined })}>
        <option value="">—</option>
        ${titleable.map((f) => html`<option value=${f.key}>${labelOf(f.label, locale) || f.key}</option>`)}
      </select>
      <p class="help">${t("fd.title_field_help")}</p>
    </div>
    <fieldset class="field fd-summary-fields">
      <legend>${t("fd.summary_fields")}</legend>
      <p class="help">${t("fd.summary_fields_help")}</p>
      ${summarized.map((f) => html`<label key=${f.id}><input type="checkbox" name="summary_fields" value=${f.key}
        checked=${summary.includes(f.key)} disabled=${!summary.includes(f.key) && summary.length >= 4}
        onChange=${(e) => set({ summary_fields: toggled(summary, f.key, e.target.checked) })} /> ${labelOf(f.label, locale) || f.key}</label>`)}
    </fieldset>
    <section class="fd-validations" aria-labelledby="fd-validations-title">
      <h3 id="fd-validations-title">${t("fd.validations")}</h3>
      <p class="help">${t("fd.validations_help")}</p>
      ${validations.map((v, i) => html`<div class="fd-validation" key=${i}>
        <${ConditionBuilder} fields=${fields} value=${v.condition} t=${t} idPrefix=${`validation-${i}`}
          onChange=${(next) => setValidation(i, { condition: next || { and: [] } })} />
        <${Bilingual} id=${`validation-${i}-message`} name=${t("fd.validation_message")} value=${v.message} required=${true}
          onChange=${(m, lang) => setValidation(i, { message: m || "" }, `validation-${i}-${lang}`)} />
        <button type="button" class="button secondary small" onClick=${() => set({ validations: validations.filter((_, j) => j !== i) })}>${t("fd.validation_remove")}</button>
      </div>`)}
      <button type="button" class="button secondary small" disabled=${!fields.length}
        onClick=${() => set({ validations: [...validations, { condition: { and: [] }, message: { "zh-CN": "请检查填写的内容", en: "Check what you entered" } }] })}>+ ${t("fd.validation_add")}</button>
    </section>
  </div>`;
}
