/**
 * The automation editor: trigger → condition (the condition builder) → actions, a test run, publish.
 *
 * The page starts from the #automation-boot JSON block. The draft lives in one store (a reducer of small
 * commands: set a value at a path, add / move / remove an action); every change is saved after a pause
 * (PUT with If-Match: "<draft_revision>", as the form designer does), and the server's problems come back
 * with each save. A test run sends the draft as edited; publishing saves first.
 */
import { html, render, useCallback, useEffect, useReducer, useRef, useState } from "/vendor/preact-htm.js";
import { api, ApiError } from "/static/js/api.js";
import { ConditionBuilder, builderFields, labelText } from "./condition_builder.js";

const boot = JSON.parse(document.getElementById("automation-boot").textContent);
const SAVE_AFTER_MS = 700;
const TRIGGERS = [
  "record.created", "record.updated", "field_changed", "record.deleted", "record.restored",
  "flow.submitted", "flow.step_reached", "flow.approved", "flow.rejected", "flow.ended",
  "schedule", "date_reached", "metric",
];
const COMPARISONS = ["gt", "gte", "lt", "lte"];
const KINDS = ["create_record", "update_record", "notify", "start_flow", "call_http"];
const METHODS = ["POST", "PUT", "PATCH", "GET", "DELETE"];
// Field types whose values people do not enter (computed, numbered, or files): not mapping targets.
const NOT_ENTERED = new Set(["formula", "autonumber", "attachment", "image", "lookup", "rollup"]);

function t(key, params = {}) {
  let text = boot.messages[key];
  if (text === undefined) return key;
  if (typeof text === "object") text = params.count === 1 ? text.one || text.other : text.other;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (params[name] !== undefined ? String(params[name]) : whole));
}

const formOf = (key) => boot.forms.find((f) => f.key === key) || { key, label: key, fields: [] };
const fieldLabel = (f) => labelText(f.label, boot.locale) || f.key;

// ------------------------------------------------------------------ the store

function setIn(value, path, next) {
  if (!path.length) return next;
  const [head, ...rest] = path;
  const copy = Array.isArray(value) ? [...value] : { ...(value || {}) };
  const inner = setIn(copy[head], rest, next);
  if (inner === undefined && !Array.isArray(copy)) delete copy[head];
  else copy[head] = inner;
  return copy;
}

function reduce(state, command) {
  const doc = state.doc;
  let next = doc;
  if (command.type === "set") next = setIn(doc, command.path, command.value);
  if (command.type === "add_action") next = { ...doc, actions: [...(doc.actions || []), newAction(command.kind)] };
  if (command.type === "remove_action") next = { ...doc, actions: doc.actions.filter((_, i) => i !== command.index) };
  if (command.type === "move_action") {
    const actions = [...doc.actions];
    const to = command.index + command.by;
    if (to < 0 || to >= actions.length) return state;
    [actions[command.index], actions[to]] = [actions[to], actions[command.index]];
    next = { ...doc, actions };
  }
  return next === doc ? state : { doc: next, changes: state.changes + 1 };
}

function newAction(kind) {
  if (kind === "create_record") return { kind, form: "", mapping: {} };
  if (kind === "update_record") return { kind, values: {} };
  if (kind === "notify") return { kind, channel: boot.channels[0]?.id || 0, title: "" };
  if (kind === "call_http") return { kind, method: "POST", url: "https://", headers: {}, body: {} };
  return { kind };
}

function useAutosave(doc, changes) {
  const [status, setStatus] = useState({ kind: "saved" });
  const [problems, setProblems] = useState(boot.problems);
  const revision = useRef(boot.draft_revision);
  const running = useRef(Promise.resolve());
  const latest = useRef(doc);
  latest.current = doc;

  const save = useCallback(() => {
    running.current = running.current.then(async () => {
      setStatus((s) => (s.kind === "conflict" ? s : { kind: "saving" }));
      try {
        const saved = await api("PUT", boot.urls.draft, latest.current, { "If-Match": `"${revision.current}"` });
        revision.current = saved.draft_revision;
        setProblems(saved.problems);
        setStatus({ kind: "saved" });
      } catch (error) {
        const conflict = error instanceof ApiError && error.status === 412;
        setStatus(conflict ? { kind: "conflict" } : { kind: "failed", message: error.message });
      }
    });
    return running.current;
  }, []);

  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return undefined;
    }
    setStatus({ kind: "unsaved" });
    const timer = setTimeout(save, SAVE_AFTER_MS);
    return () => clearTimeout(timer);
  }, [changes]);

  useEffect(() => {
    const warn = (event) => {
      if (status.kind === "unsaved" || status.kind === "saving") {
        event.preventDefault();
        event.returnValue = "";
      }
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [status.kind]);

  return { status, problems, saveNow: save };
}

// ------------------------------------------------------------------ small inputs

function Field({ id, label, help, children }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children}
    ${help && html`<p class="help" id=${`${id}-help`}>${help}</p>`}
  </div>`;
}

function Text({ id, label, value, onChange, help, mono, type = "text", placeholder }) {
  return html`<${Field} id=${id} label=${label} help=${help}>
    <input id=${id} type=${type} class=${mono ? "mono" : ""} value=${value ?? ""} placeholder=${placeholder || ""}
      aria-describedby=${help ? `${id}-help` : undefined} autocapitalize="off" spellcheck=${mono ? "false" : undefined}
      onInput=${(e) => onChange(e.target.value)} />
  <//>`;
}

function Choice({ id, label, value, options, onChange, empty }) {
  return html`<${Field} id=${id} label=${label}>
    <select id=${id} value=${value ?? ""} onChange=${(e) => onChange(e.target.value)}>
      ${empty && html`<option value="">${empty}</option>`}
      ${options.map(([v, text]) => html`<option value=${v} selected=${String(v) === String(value ?? "")}>${text}</option>`)}
    </select>
  <//>`;
}

// ------------------------------------------------------------------ trigger and condition

function TriggerSection({ doc, dispatch }) {
  const trigger = doc.trigger || { on: "record.created" };
  const fields = formOf(doc.form).fields;
  const set = (key, value) => dispatch({ type: "set", path: ["trigger", key], value: value === "" ? undefined : value });
  const fieldOptions = (only) => fields.filter(only).map((f) => [f.key, fieldLabel(f)]);
  const on = trigger.on;
  return html`<section class="panel au-step" aria-labelledby="au-trigger-title">
    <h2 id="au-trigger-title">${t("au.step_trigger")}</h2>
    <div class="au-grid">
      <${Choice} id="au-form" label=${t("au.form")} value=${doc.form} empty=${t("au.none_selected")}
        options=${boot.forms.map((f) => [f.key, labelText(f.label, boot.locale) || f.key])}
        onChange=${(v) => dispatch({ type: "set", path: ["form"], value: v })} />
      <${Choice} id="au-on" label=${t("au.event")} value=${on} options=${TRIGGERS.map((k) => [k, t(`au.trigger.${k}`)])}
        onChange=${(v) => dispatch({ type: "set", path: ["trigger"], value: v === "schedule" || v === "metric" ? { on: v, cron: "0 9 * * 1-5", ...(v === "metric" ? { op: "gt" } : {}) } : { on: v } })} />
      ${(on === "field_changed" || on === "date_reached") && html`<${Choice} id="au-trigger-field" label=${t("au.field")}
        value=${trigger.field} empty=${t("au.none_selected")}
        options=${fieldOptions((f) => on !== "date_reached" || f.type === "date")} onChange=${(v) => set("field", v)} />`}
      ${on === "field_changed" && html`
        <${Text} id="au-from" label=${t("au.from")} value=${trigger.from} onChange=${(v) => set("from", v)} />
        <${Text} id="au-to" label=${t("au.to")} value=${trigger.to} onChange=${(v) => set("to", v)} />`}
      ${on === "flow.step_reached" && html`<${Text} id="au-node" label=${t("au.node")} value=${trigger.node} mono
        onChange=${(v) => set("node", v)} />`}
      ${on === "metric" && html`<${MetricFields} doc=${doc} trigger=${trigger} set=${set} />`}
      ${(on === "schedule" || on === "metric") && html`<${Text} id="au-cron" label=${t("au.cron")} value=${trigger.cron} mono
        help=${t(on === "metric" ? "au.metric_cron_help" : "au.cron_help")} onChange=${(v) => set("cron", v)} />`}
      ${on === "date_reached" && html`<${Text} id="au-offset" type="number" label=${t("au.offset")} value=${trigger.offset_days}
        onChange=${(v) => set("offset_days", v === "" ? "" : Number(v))} />`}
      ${(on === "schedule" || on === "date_reached" || on === "metric") && html`<${Text} id="au-timezone" label=${t("au.timezone")}
        value=${trigger.timezone} placeholder="Asia/Shanghai" help=${t("au.timezone_help", { zone: boot.timezone })}
        onChange=${(v) => set("timezone", v)} />`}
    </div>
  </section>`;
}

/** A metric: a published report of this form, one of its measures, a comparison and a threshold. */
function MetricFields({ doc, trigger, set }) {
  const reports = boot.reports.filter((r) => r.form === doc.form);
  const report = reports.find((r) => r.key === trigger.report);
  return html`
    <${Choice} id="au-report" label=${t("au.report")} value=${trigger.report} empty=${t("au.none_selected")}
      options=${reports.map((r) => [r.key, labelText(r.label, boot.locale) || r.key])} onChange=${(v) => set("report", v)} />
    <${Choice} id="au-measure" label=${t("au.measure")} value=${trigger.measure} empty=${t("au.none_selected")}
      options=${(report ? report.measures : []).map((m) => [m.key, labelText(m.label, boot.locale) || m.key])}
      onChange=${(v) => set("measure", v)} />
    <${Choice} id="au-op" label=${t("au.comparison")} value=${trigger.op || "gt"}
      options=${COMPARISONS.map((op) => [op, t(`au.op.${op}`)])} onChange=${(v) => set("op", v)} />
    <${Text} id="au-threshold" type="number" label=${t("au.threshold")} value=${trigger.value} help=${t("au.metric_help")}
      onChange=${(v) => set("value", v === "" ? "" : Number(v))} />`;
}

function ConditionSection({ doc, dispatch }) {
  const fields = builderFields(formOf(doc.form).fields, boot.field_types, boot.locale);
  return html`<section class="panel au-step" aria-labelledby="au-condition-title">
    <h2 id="au-condition-title">${t("au.step_condition")}</h2>
    <p class="help">${t("au.condition_help")}</p>
    <${ConditionBuilder} fields=${fields} value=${doc.condition || null} t=${t} idPrefix="au-cb"
      onChange=${(next) => dispatch({ type: "set", path: ["condition"], value: next || undefined })} />
  </section>`;
}

// ------------------------------------------------------------------ mapping editor

const modeOf = (origin) => (typeof origin === "string" ? "field" : origin && "formula" in origin ? "formula" : "value");

/**
 * Target field ← a field of the record, a value or a formula. `targets`: [{key, label}] offered to add
 * (null: keys are typed, as in an HTTP body); `sources`: the triggering form's fields.
 */
function MappingEditor({ id, mapping, targets, sources, onChange }) {
  const [adding, setAdding] = useState("");
  const rows = Object.entries(mapping || {});
  const labelOf = (key) => (targets || []).find((f) => f.key === key)?.label || key;
  const put = (key, origin) => onChange({ ...mapping, [key]: origin });
  const remove = (key) => onChange(Object.fromEntries(rows.filter(([k]) => k !== key)));
  const free = targets === null;
  const offered = free ? [] : targets.filter((f) => !(f.key in (mapping || {})));
  const add = () => {
    const key = (adding || (!free && offered[0]?.key) || "").trim();
    if (!key || key in (mapping || {})) return;
    const same = sources.find((f) => f.key === key);
    put(key, same ? key : { value: "" });
    setAdding("");
  };
  return html`<div class="mapping">
    ${rows.length > 0 && html`<div class="mapping-rows" role="list">
      ${rows.map(([key, origin], i) => {
        const mode = modeOf(origin);
        const rowId = `${id}-${i}`;
        const name = labelOf(key);
        return html`<div class="mapping-row" role="listitem">
          <span class="mapping-target">${name}</span><span class="arrow" aria-hidden="true">←</span>
          <select aria-label=${`${t("au.source_kind")}: ${name}`} id=${`${rowId}-mode`} value=${mode}
            onChange=${(e) => {
              const m = e.target.value;
              put(key, m === "field" ? sources[0]?.key || "id" : m === "formula" ? { formula: typeof origin === "string" ? origin : "" } : { value: "" });
            }}>
            ${["field", "value", "formula"].map((m) => html`<option value=${m} selected=${m === mode}>${t(`au.source.${m}`)}</option>`)}
          </select>
          ${mode === "field"
            ? html`<select aria-label=${`${t("au.source")}: ${name}`} id=${`${rowId}-source`} value=${origin}
                onChange=${(e) => put(key, e.target.value)}>
                ${sources.map((f) => html`<option value=${f.key} selected=${f.key === origin}>${fieldLabel(f)}</option>`)}
              </select>`
            : html`<input aria-label=${`${t("au.source")}: ${name}`} id=${`${rowId}-source`} class=${mode === "formula" ? "mono" : ""}
                value=${mode === "formula" ? origin.formula : origin.value ?? ""} spellcheck=${mode === "formula" ? "false" : undefined}
                onInput=${(e) => put(key, mode === "formula" ? { formula: e.target.value } : { value: e.target.value })} />`}
          <button type="button" class="button secondary small" aria-label=${t("au.remove_row", { name })} onClick=${() => remove(key)}>×</button>
        </div>`;
      })}
    </div>`}
    <div class="mapping-add">
      ${free
        ? html`<input id=${`${id}-new`} aria-label=${t("au.body_key")} value=${adding} onInput=${(e) => setAdding(e.target.value)} />`
        : html`<select id=${`${id}-new`} aria-label=${t("au.target")} value=${adding || offered[0]?.key || ""}
            onChange=${(e) => setAdding(e.target.value)}>
            ${offered.map((f) => html`<option value=${f.key}>${f.label}</option>`)}
          </select>`}
      <button type="button" class="button secondary" onClick=${add} disabled=${!free && !offered.length}>${t("au.add_mapping")}</button>
    </div>
  </div>`;
}

/** Rows of key → text (headers, values to set, answer paths): `keys` offers the keys, or null to type them. */
function PairsEditor({ id, pairs, keys, keyLabel, valueLabel, addLabel, onChange }) {
  const [adding, setAdding] = useState("");
  const rows = Object.entries(pairs || {});
  const offered = keys ? keys.filter(([k]) => !(k in (pairs || {}))) : [];
  const add = () => {
    const key = (adding || (keys && offered[0]?.[0]) || "").trim();
    if (!key || key in (pairs || {})) return;
    onChange({ ...pairs, [key]: "" });
    setAdding("");
  };
  return html`<div class="mapping">
    ${rows.map(([key, value], i) => {
      const name = keys?.find(([k]) => k === key)?.[1] || key;
      return html`<div class="mapping-row pairs">
        <span class="mapping-target">${name}</span><span class="arrow" aria-hidden="true">←</span>
        <input id=${`${id}-${i}`} aria-label=${`${valueLabel}: ${name}`} value=${value}
          onInput=${(e) => onChange({ ...pairs, [key]: e.target.value })} />
        <button type="button" class="button secondary small" aria-label=${t("au.remove_row", { name })}
          onClick=${() => onChange(Object.fromEntries(rows.filter(([k]) => k !== key)))}>×</button>
      </div>`;
    })}
    <div class="mapping-add">
      ${keys
        ? html`<select id=${`${id}-new`} aria-label=${keyLabel} value=${adding || offered[0]?.[0] || ""} onChange=${(e) => setAdding(e.target.value)}>
            ${offered.map(([k, text]) => html`<option value=${k}>${text}</option>`)}
          </select>`
        : html`<input id=${`${id}-new`} aria-label=${keyLabel} value=${adding} onInput=${(e) => setAdding(e.target.value)} />`}
      <button type="button" class="button secondary" onClick=${add} disabled=${keys && !offered.length}>${addLabel}</button>
    </div>
  </div>`;
}

// ------------------------------------------------------------------ actions

const entered = (fields) => fields.filter((f) => !NOT_ENTERED.has(f.type)).map((f) => ({ key: f.key, label: fieldLabel(f) }));

function ActionBody({ action, index, doc, set }) {
  const id = `au-a${index}`;
  const sources = formOf(doc.form).fields;
  const own = entered(sources).map((f) => [f.key, f.label]);
  if (action.kind === "create_record") {
    return html`
      <${Choice} id=${`${id}-form`} label=${t("au.target_form")} value=${action.form} empty=${t("au.none_selected")}
        options=${boot.forms.map((f) => [f.key, labelText(f.label, boot.locale) || f.key])} onChange=${(v) => set({ ...action, form: v, mapping: {} })} />
      ${action.form && html`<fieldset class="au-fieldset"><legend>${t("au.mapping")}</legend>
        <p class="help">${t("au.mapping_help")}</p>
        <${MappingEditor} id=${`${id}-map`} mapping=${action.mapping} targets=${entered(formOf(action.form).fields)}
          sources=${sources} onChange=${(m) => set({ ...action, mapping: m })} />
      </fieldset>`}`;
  }
  if (action.kind === "update_record") return html`<${UpdateBody} id=${id} action=${action} doc=${doc} set=${set} />`;
  if (action.kind === "notify") {
    // A template names its channel by name (added after installing); the app's channels are chosen by id.
    const named = typeof action.channel === "string" ? [[action.channel, t("au.channel_named", { name: action.channel })]] : [];
    const channels = [...named, ...boot.channels.map((c) => [c.id, `${c.name} (${c.channel})`])];
    return html`
      ${channels.length
        ? html`<${Choice} id=${`${id}-channel`} label=${t("au.channel")} value=${action.channel}
            options=${channels} onChange=${(v) => set({ ...action, channel: /^[0-9]+$/.test(v) ? Number(v) : v })} />`
        : html`<p class="muted">${t("au.no_channels")}</p>`}
      <${Text} id=${`${id}-title`} label=${t("au.msg_title")} value=${action.title} onChange=${(v) => set({ ...action, title: v })} />
      <${Text} id=${`${id}-text`} label=${t("au.msg_text")} value=${action.text} onChange=${(v) => set({ ...action, text: v || undefined })} />`;
  }
  if (action.kind === "start_flow") return html`<p class="help">${t("au.start_flow_help")}</p>`;
  const names = boot.secrets.length ? boot.secrets.join(", ") : "—";
  return html`
    <div class="au-grid http">
      <${Choice} id=${`${id}-method`} label=${t("au.method")} value=${action.method || "POST"} options=${METHODS.map((m) => [m, m])}
        onChange=${(v) => set({ ...action, method: v })} />
      <${Text} id=${`${id}-url`} label=${t("au.url")} value=${action.url} mono help=${t("au.url_help", { names })}
        onChange=${(v) => set({ ...action, url: v })} />
    </div>
    <fieldset class="au-fieldset"><legend>${t("au.headers")}</legend>
      <${PairsEditor} id=${`${id}-headers`} pairs=${action.headers} keys=${null} keyLabel=${t("au.header_name")}
        valueLabel=${t("au.header_value")} addLabel=${t("au.add_header")} onChange=${(v) => set({ ...action, headers: v })} />
    </fieldset>
    <fieldset class="au-fieldset"><legend>${t("au.body")}</legend>
      <${MappingEditor} id=${`${id}-body`} mapping=${action.body} targets=${null} sources=${sources}
        onChange=${(m) => set({ ...action, body: m })} />
    </fieldset>
    <${Choice} id=${`${id}-sign`} label=${t("au.sign_with")} value=${action.sign_with} empty=${t("au.no_signing")}
      options=${boot.secrets.map((s) => [s, s])} onChange=${(v) => set({ ...action, sign_with: v || undefined })} />
    <fieldset class="au-fieldset"><legend>${t("au.answer")}</legend>
      <${PairsEditor} id=${`${id}-answer`} pairs=${action.answer} keys=${own} keyLabel=${t("au.field")}
        valueLabel=${t("au.answer_path")} addLabel=${t("au.add_answer")} onChange=${(v) => set({ ...action, answer: v })} />
    </fieldset>`;
}

// ------------------------------------------------------------------ which records a change updates

const links = (fields, to) => fields.filter((f) => f.type === "relation" && (to === undefined || f.form === to));

/** The records an update_record action changes: this record, the one a relation links to, or those linking here. */
function targetOf(action) {
  if ("record" in action) return { mode: "linked", value: action.record };
  if ("where" in action) return { mode: "linking", value: `${action.form}.${action.where.via}` };
  return { mode: "this", value: "" };
}

/** Constants with no rows are left out when a mapping says what to set (the document needs one or the other). */
function tidy(action) {
  const { values, mapping, ...rest } = action;
  const hasValues = values && Object.keys(values).length > 0;
  const hasMapping = mapping && Object.keys(mapping).length > 0;
  return { ...rest, ...(hasValues || !hasMapping ? { values: values || {} } : {}), ...(hasMapping ? { mapping } : {}) };
}

function UpdateBody({ id, action, doc, set }) {
  const sources = formOf(doc.form).fields;
  const target = targetOf(action);
  const linked = links(sources).map((f) => [f.key, `${fieldLabel(f)} → ${labelText(formOf(f.form).label, boot.locale) || f.form}`]);
  const linking = boot.forms.flatMap((form) => links(form.fields, doc.form).map((f) => [
    `${form.key}.${f.key}`, `${labelText(form.label, boot.locale) || form.key} · ${fieldLabel(f)}`,
  ]));
  const choose = (mode, value) => {
    const base = { kind: action.kind, values: {} };
    if (mode === "linked") {
      const field = sources.find((f) => f.key === (value || linked[0]?.[0]));
      set(field ? { ...base, form: field.form, record: field.key } : { ...base, form: "", record: "" });
    } else if (mode === "linking") {
      const [form, via] = (value || linking[0]?.[0] || ".").split(".");
      set({ ...base, form, where: { via } });
    } else set(base);
  };
  const targetForm = action.form ? formOf(action.form) : formOf(doc.form);
  const targets = entered(targetForm.fields);
  const options = target.mode === "linked" ? linked : linking;
  return html`
    <fieldset class="au-fieldset" id=${`${id}-which`}><legend>${t("au.update_which")}</legend>
      ${["this", "linked", "linking"].map((mode) => html`<label class="au-radio">
        <input type="radio" name=${`${id}-which`} value=${mode} checked=${target.mode === mode}
          onChange=${() => choose(mode, "")} /> ${t(`au.update.${mode}`)}</label>`)}
      ${target.mode !== "this" && html`${options.length
        ? html`<${Choice} id=${`${id}-link`} label=${t(`au.update.${target.mode}_field`)} value=${target.value}
            options=${options} onChange=${(v) => choose(target.mode, v)} />`
        : html`<p class="muted">${t(`au.update.no_${target.mode}`)}</p>`}`}
    </fieldset>
    <fieldset class="au-fieldset"><legend>${t("au.values")}</legend>
      <${PairsEditor} id=${`${id}-values`} pairs=${action.values} keys=${targets.map((f) => [f.key, f.label])} keyLabel=${t("au.field")}
        valueLabel=${t("au.source.value")} addLabel=${t("au.add_mapping")} onChange=${(v) => set(tidy({ ...action, values: v }))} />
    </fieldset>
    <fieldset class="au-fieldset"><legend>${t("au.mapping")}</legend>
      <p class="help">${t("au.update_mapping_help")}</p>
      <${MappingEditor} id=${`${id}-map`} mapping=${action.mapping} targets=${targets}
        sources=${sources} onChange=${(m) => set(tidy({ ...action, mapping: m }))} />
    </fieldset>`;
}

function ActionsSection({ doc, dispatch }) {
  const [kind, setKind] = useState(KINDS[0]);
  const actions = doc.actions || [];
  return html`<section class="panel au-step" aria-labelledby="au-actions-title">
    <h2 id="au-actions-title">${t("au.step_actions")} <span class="muted small">${t("au.actions_count", { count: actions.length })}</span></h2>
    <ol class="au-actions">
      ${actions.map((action, i) => {
        const n = i + 1;
        const set = (value) => dispatch({ type: "set", path: ["actions", i], value });
        return html`<li class="au-action" key=${i}>
          <div class="au-action-head">
            <h3>${t("au.action_n", { n, kind: t(`au.kind.${action.kind}`) })}</h3>
            <span class="au-action-buttons">
              <button type="button" class="button secondary small" aria-label=${t("au.move_up", { n })} disabled=${i === 0}
                onClick=${() => dispatch({ type: "move_action", index: i, by: -1 })}>↑</button>
              <button type="button" class="button secondary small" aria-label=${t("au.move_down", { n })} disabled=${i === actions.length - 1}
                onClick=${() => dispatch({ type: "move_action", index: i, by: 1 })}>↓</button>
              <button type="button" class="button secondary small" aria-label=${t("au.remove", { n })}
                onClick=${() => dispatch({ type: "remove_action", index: i })}>×</button>
            </span>
          </div>
          <${ActionBody} action=${action} index=${i} doc=${doc} set=${set} />
        </li>`;
      })}
    </ol>
    <div class="au-add-action">
      <label for="au-new-kind">${t("au.add_action")}</label>
      <select id="au-new-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        ${KINDS.map((k) => html`<option value=${k} selected=${k === kind}>${t(`au.kind.${k}`)}</option>`)}
      </select>
      <button type="button" class="button secondary" onClick=${() => dispatch({ type: "add_action", kind })}>${t("au.add")}</button>
    </div>
  </section>`;
}

// ------------------------------------------------------------------ test run and publishing

function Problems({ problems }) {
  if (!problems.length) return html`<p class="notice" role="status">${t("au.no_problems")}</p>`;
  return html`<div class="au-problems" role="status">
    <h2>${t("au.problems")}</h2>
    <ul>${problems.map((p) => html`<li><code>${p.path}</code> ${p.message}</li>`)}</ul>
  </div>`;
}

function TestRun({ doc }) {
  const [sample, setSample] = useState("");
  const [answer, setAnswer] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    const body = { document: doc };
    if (sample.trim()) body.record_id = Number(sample);
    try {
      setAnswer({ ok: await api("POST", boot.urls.test_run, body) });
    } catch (error) {
      setAnswer({ error });
    } finally {
      setBusy(false);
    }
  };
  const ok = answer?.ok;
  return html`<section class="panel au-step" aria-labelledby="au-test-title">
    <h2 id="au-test-title">${t("au.test")}</h2>
    <p class="help">${t("au.test_help")}</p>
    <div class="au-test-row">
      <${Text} id="au-sample" type="number" label=${t("au.sample")} value=${sample} onChange=${setSample} />
      <button type="button" class="button" onClick=${run} disabled=${busy}>${t("au.run_test")}</button>
    </div>
    <div class="au-test-result" aria-live="polite">
      ${answer?.error && html`<div class="error-summary"><p>${answer.error.message}</p>
        <ul>${(answer.error.errors || []).map((e) => html`<li><code>${e.path}</code> ${e.message}</li>`)}</ul></div>`}
      ${ok && html`<div data-test-result>
        <p class=${ok.condition_met ? "notice" : "muted"}>${
          ok.condition_met
            ? ok.record_id == null ? t("au.condition_met_schedule") : t("au.condition_met", { id: ok.record_id })
            : t("au.condition_not_met", { id: ok.record_id })}</p>
        ${ok.actions.length > 0 && html`<h3>${t("au.would")}</h3>
          <ol class="au-would">${ok.actions.map((a) => html`<li><strong>${t(`au.kind.${a.kind}`)}</strong>
            <pre>${JSON.stringify(Object.fromEntries(Object.entries(a).filter(([k]) => k !== "kind")), null, 2)}</pre></li>`)}</ol>`}
        ${ok.next_runs && html`<h3>${t("au.next_runs")}</h3><ul>${ok.next_runs.map((w) => html`<li><time>${w}</time></li>`)}</ul>`}
      </div>`}
    </div>
  </section>`;
}

function App() {
  const [state, dispatch] = useReducer(reduce, { doc: boot.draft, changes: 0 });
  const { status, problems, saveNow } = useAutosave(state.doc, state.changes);
  const [published, setPublished] = useState({ version: boot.published_version });
  const doc = state.doc;
  const publish = async () => {
    await saveNow();
    try {
      const done = await api("POST", boot.urls.publish);
      setPublished({ version: done.version, message: t("au.published", { version: done.version }) });
    } catch (error) {
      setPublished((p) => ({ ...p, message: error.message, errors: error.errors }));
    }
  };
  const label = typeof doc.label === "string" ? doc.label : labelText(doc.label, boot.locale);
  return html`<div class="au-editor">
    <div class="au-top">
      <h1>${label || boot.key}</h1>
      <p class="au-status" role="status">${t(`au.status.${status.kind}`, { message: status.message || "" })}</p>
    </div>
    <div class="au-bar">
      <${Text} id="au-label" label=${t("au.label")} value=${label} onChange=${(v) => dispatch({ type: "set", path: ["label"], value: v })} />
      <div class="au-publish">
        <span class="muted">${published.version ? t("au.version", { version: published.version }) : t("au.not_published")}</span>
        <button type="button" class="button" onClick=${publish}>${t("au.publish")}</button>
        <a class="button secondary" href=${boot.urls.list}>${t("au.back")}</a>
      </div>
    </div>
    ${published.message && html`<p class=${published.errors ? "error" : "notice"} role="status">${published.message}</p>`}
    <${Problems} problems=${problems} />
    <${TriggerSection} doc=${doc} dispatch=${dispatch} />
    ${(doc.trigger || {}).on !== "metric" && html`<${ConditionSection} doc=${doc} dispatch=${dispatch} />`}
    <${ActionsSection} doc=${doc} dispatch=${dispatch} />
    <${TestRun} doc=${doc} />
  </div>`;
}

const root = document.getElementById("automation-designer");
root.replaceChildren();
render(html`<${App} />`, root);
