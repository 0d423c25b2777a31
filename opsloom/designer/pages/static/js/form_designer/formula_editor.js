/**
 * The formula editor: the formula, a picker of the fields it may read, the functions with their help,
 * and the server's verdict as one types (POST .../formula-check against the draft being edited), with
 * the place of a mistake marked under the text.
 */
import { html, useEffect, useRef, useState } from "/vendor/preact-htm.js";
import { api } from "/static/js/api.js";
import { storable } from "./store.js";

const CHECK_AFTER_MS = 350;

const labelOf = (label, locale) =>
  label == null ? "" : typeof label === "string" ? label : label[locale] || label.en || label["zh-CN"] || "";

/** The fields a formula of `field` may read: the form's (subform columns as sub.column), or its row's. */
function readable(doc, field, subform, locale) {
  if (subform) return subform.fields.filter((c) => c.key !== field.key).map((c) => ({ ref: c.key, label: labelOf(c.label, locale) || c.key }));
  const out = [];
  for (const f of doc.fields) {
    if (f.key === field.key) continue;
    if (Array.isArray(f.fields)) {
      for (const c of f.fields) out.push({ ref: `${f.key}.${c.key}`, label: `${labelOf(f.label, locale) || f.key} › ${labelOf(c.label, locale) || c.key}` });
    } else out.push({ ref: f.key, label: labelOf(f.label, locale) || f.key });
  }
  return out;
}

export function FormulaEditor({ env, field, subform, value, onChange, id }) {
  const { boot, t, doc, locale } = env;
  const area = useRef(null);
  const [verdict, setVerdict] = useState(null);
  const asked = useRef(0);
  useEffect(() => {
    if (!value) {
      setVerdict(null);
      return undefined;
    }
    const timer = setTimeout(async () => {
      const ticket = ++asked.current;
      try {
        const body = { formula: value, field: field.key, document: storable(doc) };
        if (subform) body.subform = subform.key;
        const answer = await api("POST", boot.urls.formula_check, body);
        if (ticket === asked.current) setVerdict(answer);
      } catch (error) {
        if (ticket === asked.current) setVerdict({ valid: false, message: error.message, column: null });
      }
    }, CHECK_AFTER_MS);
    return () => clearTimeout(timer);
  }, [value, doc]);
  const insert = (text) => {
    const el = area.current;
    const start = el ? el.selectionStart : value.length;
    const end = el ? el.selectionEnd : value.length;
    const next = (value || "").slice(0, start) + text + (value || "").slice(end);
    onChange(next);
    requestAnimationFrame(() => {
      if (!el) return;
      el.focus();
      const caret = start + text.length - (text.endsWith("()") ? 1 : 0);
      el.setSelectionRange(caret, caret);
    });
  };
  const fields = readable(doc, field, subform, locale);
  const bad = verdict && !verdict.valid;
  return html`<div class="fd-formula">
    <label for=${id}>${t("fd.prop.formula")}</label>
    <textarea id=${id} ref=${area} rows="3" spellcheck="false" autocapitalize="off" class="fd-code" value=${value || ""}
      aria-invalid=${bad ? "true" : undefined} aria-describedby=${`${id}-verdict`}
      onInput=${(e) => onChange(e.target.value)}></textarea>
    ${bad && verdict.column && html`<div class="fd-caret" aria-hidden="true">
      <span>${(value || "").replace(/\s/g, " ")}</span><span>${"\u00a0".repeat(Math.max(0, verdict.column - 1))}^</span>
    </div>`}
    <p id=${`${id}-verdict`} class=${bad ? "error fd-formula-error" : "help fd-formula-ok"} role="status" data-formula-verdict=${verdict ? (verdict.valid ? "ok" : "error") : ""}>
      ${!verdict ? t("fd.formula_hint") : verdict.valid ? t("fd.formula_ok", { type: t(`fd.result.${verdict.type}`) !== `fd.result.${verdict.type}` ? t(`fd.result.${verdict.type}`) : verdict.type })
        : verdict.column ? t("fd.formula_error_at", { column: verdict.column, message: verdict.message }) : verdict.message}
    </p>
    <div class="fd-formula-tools">
      <label class="fd-mini"><span>${t("fd.insert_field")}</span>
        <select value="" onChange=${(e) => { if (e.target.value) insert(e.target.value); e.target.value = ""; }}>
          <option value="">—</option>
          ${fields.map((f) => html`<option value=${f.ref}>${f.label} (${f.ref})</option>`)}
        </select>
      </label>
      <details class="fd-functions">
        <summary>${t("fd.functions")}</summary>
        <ul>
          ${boot.functions.map((name) => html`<li>
            <button type="button" class="link-button fd-function" onClick=${() => insert(`${name}()`)}><code>${name}</code></button>
            <span class="muted">${t(`fd.fn.${name}`) !== `fd.fn.${name}` ? t(`fd.fn.${name}`) : ""}</span>
          </li>`)}
        </ul>
      </details>
    </div>
  </div>`;
}
