/**
 * The flow designer's panel: what the selected node does — who acts (every approver kind the engine
 * resolves, runtime/flow/approvers.py), how they decide, what happens when nobody or the submitter is
 * found, the comment a decision needs, the field permissions at this step (and what may be done with an
 * editable subform's rows), time limits, the signature; a branch's condition (with
 * the app builder's condition builder); an automatic action; and, with nothing selected, the flow itself.
 */
import { html } from "/vendor/preact-htm.js";
import { ConditionBuilder, builderFields, labelText } from "../condition_builder.js";

export const APPROVER_KINDS = ["users", "role", "department_head", "managers", "field", "submitter", "chosen"];
const PEOPLE_LINKS = ["user", "department"];

function LabelInputs({ value, onChange, t, idPrefix }) {
  const label = typeof value === "object" && value ? value : { "zh-CN": value || "", en: value || "" };
  const set = (code, text) => onChange({ ...label, [code]: text });
  return html`<div class="fl-pair">
    <div class="field"><label for=${`${idPrefix}-zh`}>${t("fl.label_zh")}</label>
      <input id=${`${idPrefix}-zh`} lang="zh-CN" value=${label["zh-CN"] || ""} maxlength="200" onInput=${(e) => set("zh-CN", e.target.value)} /></div>
    <div class="field"><label for=${`${idPrefix}-en`}>${t("fl.label_en")}</label>
      <input id=${`${idPrefix}-en`} lang="en" value=${label.en || ""} maxlength="200" onInput=${(e) => set("en", e.target.value)} /></div>
  </div>`;
}

function Select({ id, label, value, options, onChange, help }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} value=${value ?? ""} onChange=${(e) => onChange(e.target.value)}>
      ${options.map(([v, text]) => html`<option value=${v} selected=${String(value ?? "") === String(v)}>${text}</option>`)}
    </select>
    ${help && html`<p class="help">${help}</p>`}
  </div>`;
}

function NumberInput({ id, label, value, onChange, min, max, step }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} type="number" inputmode="decimal" min=${min} max=${max} step=${step || "any"} value=${value ?? ""}
      onInput=${(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />
  </div>`;
}

function UserPicker({ id, label, users, value, onChange, t }) {
  const chosen = new Set(value || []);
  return html`<fieldset class="fl-people-pick">
    <legend>${label}</legend>
    <ul class="fl-checks">
      ${users.map((u) => html`<li><label><input type="checkbox" id=${`${id}-${u.id}`} checked=${chosen.has(u.id)}
        onChange=${(e) => onChange(e.target.checked ? [...(value || []), u.id] : (value || []).filter((x) => x !== u.id))} /> ${u.name}</label></li>`)}
    </ul>
    ${!users.length && html`<p class="muted">${t("fl.no_users")}</p>`}
  </fieldset>`;
}

/** One source of people: its kind and what the kind needs. */
function Source({ env, source, index, onChange, onRemove, kinds, idPrefix }) {
  const { t, org, formFields, locale } = env;
  const id = `${idPrefix}-${index}`;
  const peopleFields = formFields.filter((f) => PEOPLE_LINKS.includes(env.types[f.type]?.link));
  const set = (patch) => onChange({ ...source, ...patch });
  const kindChange = (kind) => {
    const fresh = { kind };
    if (kind === "users") fresh.users = [];
    if (kind === "role") fresh.role = (org.roles[0] || {}).key || "";
    if (kind === "department_head") fresh.level = 1;
    if (kind === "managers") fresh.levels = 1;
    if (kind === "field") fresh.field = (peopleFields[0] || {}).key || "";
    if (kind === "chosen") Object.assign(fresh, { min: 1, max: 1 });
    onChange(fresh);
  };
  return html`<li class="fl-source" data-source=${source.kind}>
    <div class="fl-source-head">
      <${Select} id=${`${id}-kind`} label=${t("fl.source_kind")} value=${source.kind}
        options=${kinds.map((k) => [k, t(`fl.kind.${k}`)])} onChange=${kindChange} />
      <button type="button" class="button secondary small" onClick=${onRemove} aria-label=${t("fl.remove_source")}>${t("fl.remove")}</button>
    </div>
    ${source.kind === "users" && html`<${UserPicker} id=${`${id}-users`} label=${t("fl.users")} users=${org.users} value=${source.users} onChange=${(users) => set({ users })} t=${t} />`}
    ${source.kind === "role" && html`<${Select} id=${`${id}-role`} label=${t("fl.role")} value=${source.role}
      options=${[["", t("fl.pick")], ...org.roles.map((r) => [r.key, `${labelText(r.label, locale) || r.key} (${(r.members || []).length})`])]} onChange=${(role) => set({ role })} />`}
    ${source.kind === "department_head" && html`<${NumberInput} id=${`${id}-level`} label=${t("fl.level")} value=${source.level ?? 1} min="1" max="20" step="1" onChange=${(level) => set({ level: level || 1 })} />
      <p class="help">${t("fl.level_help")}</p>`}
    ${source.kind === "managers" && html`<${Select} id=${`${id}-levels`} label=${t("fl.levels")} value=${source.levels ?? 1}
      options=${[...[1, 2, 3, 4, 5].map((n) => [n, t("fl.levels_n", { count: n })]), ["top", t("fl.levels_top")]]} onChange=${(v) => set({ levels: v === "top" ? "top" : Number(v) })} />`}
    ${source.kind === "field" && html`<${Select} id=${`${id}-field`} label=${t("fl.field")} value=${source.field}
      options=${[["", t("fl.pick")], ...peopleFields.map((f) => [f.key, labelText(f.label, locale) || f.key])]} onChange=${(field) => set({ field })} />`}
    ${source.kind === "chosen" && html`<div class="fl-pair">
      <${NumberInput} id=${`${id}-min`} label=${t("fl.chosen_min")} value=${source.min ?? 1} min="1" max="50" step="1" onChange=${(min) => set({ min: min || 1 })} />
      <${NumberInput} id=${`${id}-max`} label=${t("fl.chosen_max")} value=${source.max ?? 1} min="1" max="50" step="1" onChange=${(max) => set({ max: max || 1 })} />
    </div>
    <${UserPicker} id=${`${id}-among`} label=${t("fl.chosen_among")} users=${org.users}
      value=${((source.among || []).find((s) => s.kind === "users") || {}).users}
      onChange=${(users) => set({ among: users.length ? [{ kind: "users", users }] : undefined })} t=${t} />`}
  </li>`;
}

function Sources({ env, value, onChange, kinds, legend, idPrefix }) {
  const list = value || [];
  return html`<fieldset class="fl-sources">
    <legend>${legend}</legend>
    <ul>${list.map((source, i) => html`<${Source} env=${env} source=${source} index=${i} kinds=${kinds} idPrefix=${idPrefix}
      onChange=${(next) => onChange(list.map((s, j) => (j === i ? next : s)))} onRemove=${() => onChange(list.filter((_, j) => j !== i))} />`)}</ul>
    <button type="button" class="button secondary small" onClick=${() => onChange([...list, { kind: "submitter" }])}>${t(env, "fl.add_source")}</button>
  </fieldset>`;
}

const t = (env, key, params) => env.t(key, params);

const ROW_CHANGES = ["add", "edit", "delete"];

/** What may be done with an editable subform's rows at this step: each allowed unless unticked. */
function RowRules({ env, f, value, onChange, span }) {
  const rule = value || {};
  const name = labelText(f.label, env.locale) || f.key;
  const set = (change, allowed) => {
    const next = { ...rule };
    if (allowed) delete next[change];
    else next[change] = false;
    onChange(Object.keys(next).length ? next : undefined);
  };
  return html`<tr class="fl-row-rules" data-rows=${f.key}><td colspan=${span}>
    <fieldset><legend>${env.t("fl.rows_of", { field: name })}</legend>
      ${ROW_CHANGES.map((change) => html`<label class="fl-check"><input type="checkbox" name=${`rows-${f.key}-${change}`} checked=${rule[change] !== false}
        onChange=${(e) => set(change, e.target.checked)} /> ${env.t(`fl.row.${change}`)}</label>`)}
    </fieldset></td></tr>`;
}

function FieldMatrix({ env, value, rows, onChange }) {
  const fields = env.formFields;
  const choices = ["editable", "readonly", "hidden"];
  const current = value || {};
  const currentRows = rows || {};
  const set = (key, permission) => {
    const next = { ...current };
    if (permission === "readonly") delete next[key];
    else next[key] = permission;
    const nextRows = { ...currentRows };
    if (permission !== "editable") delete nextRows[key]; // rows change only where the subform is editable
    onChange(Object.keys(next).length ? next : undefined, Object.keys(nextRows).length ? nextRows : undefined);
  };
  const setRows = (key, rule) => {
    const nextRows = { ...currentRows };
    if (rule) nextRows[key] = rule;
    else delete nextRows[key];
    onChange(value, Object.keys(nextRows).length ? nextRows : undefined);
  };
  return html`<fieldset class="fl-matrix">
    <legend>${env.t("fl.field_permissions")}</legend>
    <p class="help">${env.t("fl.field_permissions_help")}</p>
    <table>
      <thead><tr><th scope="col">${env.t("fl.field")}</th>${choices.map((c) => html`<th scope="col">${env.t(`fl.perm.${c}`)}</th>`)}</tr></thead>
      <tbody>${fields.map((f) => html`<tr data-field=${f.key}>
        <th scope="row">${labelText(f.label, env.locale) || f.key}${f.fields ? html` <span class="muted">${env.t("fl.subform_rows")}</span>` : ""}</th>
        ${choices.map((c) => html`<td><input type="radio" name=${`perm-${f.key}`} value=${c} checked=${(current[f.key] || "readonly") === c}
          aria-label=${`${labelText(f.label, env.locale) || f.key}: ${env.t(`fl.perm.${c}`)}`} onChange=${() => set(f.key, c)} /></td>`)}
      </tr>
      ${f.fields && current[f.key] === "editable" && html`<${RowRules} env=${env} f=${f} value=${currentRows[f.key]} span=${choices.length + 1}
        onChange=${(rule) => setRows(f.key, rule)} />`}`)}</tbody>
    </table>
  </fieldset>`;
}

function TimeLimit({ env, value, onChange, idPrefix }) {
  const limit = value || {};
  const set = (patch) => {
    const next = { ...limit, ...patch };
    for (const k of Object.keys(next)) if (next[k] === undefined || next[k] === "") delete next[k];
    onChange(Object.keys(next).length ? next : undefined);
  };
  return html`<fieldset class="fl-limit">
    <legend>${env.t("fl.time_limit")}</legend>
    <div class="fl-pair">
      <${NumberInput} id=${`${idPrefix}-hours`} label=${env.t("fl.hours")} value=${limit.hours} min="0" max="8760" onChange=${(hours) => set({ hours })} />
      <${Select} id=${`${idPrefix}-timeout`} label=${env.t("fl.on_timeout")} value=${limit.on_timeout || ""}
        options=${[["", env.t("fl.timeout.none")], ...["remind", "escalate", "approve", "reject"].map((k) => [k, env.t(`fl.timeout.${k}`)])]}
        onChange=${(on_timeout) => set({ on_timeout: on_timeout || undefined })} />
    </div>
    <div class="fl-pair">
      <${NumberInput} id=${`${idPrefix}-every`} label=${env.t("fl.remind_every")} value=${limit.remind_every_hours} min="0" max="8760" onChange=${(v) => set({ remind_every_hours: v })} />
      <${NumberInput} id=${`${idPrefix}-max`} label=${env.t("fl.max_reminders")} value=${limit.max_reminders} min="1" max="100" step="1" onChange=${(v) => set({ max_reminders: v })} />
    </div>
  </fieldset>`;
}

const COMMENT_DEFAULTS = { approve: "optional", reject: "required" };

/** Whether approving, and rejecting, need a comment (a handler only completes: approve alone). */
function CommentRules({ env, item, set, decides }) {
  const rule = item.comment || {};
  const required = (action) => (rule[action] || COMMENT_DEFAULTS[action]) === "required";
  const change = (action, on) => {
    const next = { ...rule, [action]: on ? "required" : "optional" };
    for (const k of Object.keys(next)) if (next[k] === COMMENT_DEFAULTS[k]) delete next[k];
    set({ comment: Object.keys(next).length ? next : undefined });
  };
  const actions = decides ? ["approve", "reject"] : ["approve"];
  return html`<fieldset class="fl-comment-rules">
    <legend>${env.t("fl.comment")}</legend>
    ${actions.map((action) => html`<label class="fl-check"><input type="checkbox" role="switch" id=${`node-${item.id}-comment-${action}`}
      name=${`comment-${action}`} checked=${required(action)} onChange=${(e) => change(action, e.target.checked)} /> ${env.t(`fl.comment_needed_${action}`)}</label>`)}
    <p class="help">${env.t("fl.comment_help")}</p>
  </fieldset>`;
}

function PeopleStep({ env, item, set }) {
  const { t: tr } = env;
  const id = `node-${item.id}`;
  const decides = item.type === "approval";
  return html`
    <${Sources} env=${env} value=${item.approvers} kinds=${APPROVER_KINDS} legend=${tr("fl.approvers")} idPrefix=${`${id}-src`} onChange=${(approvers) => set({ approvers })} />
    ${decides && html`<fieldset class="fl-modes"><legend>${tr("fl.mode")}</legend>
      ${["any", "countersign", "sequential", "vote"].map((m) => html`<label class="fl-radio"><input type="radio" name=${`${id}-mode`} value=${m} checked=${(item.mode || "any") === m}
        onChange=${() => set({ mode: m, vote_percent: m === "vote" ? item.vote_percent || 60 : undefined })} /> ${tr(`fl.mode.${m}`)}</label>`)}
      ${item.mode === "vote" && html`<${NumberInput} id=${`${id}-vote`} label=${tr("fl.vote_percent")} value=${item.vote_percent} min="1" max="100" step="1" onChange=${(vote_percent) => set({ vote_percent })} />`}
    </fieldset>`}
    <${Select} id=${`${id}-empty`} label=${tr("fl.when_empty")} value=${item.when_empty || "auto_pass"}
      options=${["auto_pass", "admin", "user"].map((k) => [k, tr(`fl.empty.${k}`)])} onChange=${(when_empty) => set({ when_empty, empty_user: when_empty === "user" ? item.empty_user : undefined })} />
    ${item.when_empty === "user" && html`<${Select} id=${`${id}-empty-user`} label=${tr("fl.empty_user")} value=${item.empty_user || ""}
      options=${[["", tr("fl.pick")], ...env.org.users.map((u) => [u.id, u.name])]} onChange=${(v) => set({ empty_user: v ? Number(v) : undefined })} />`}
    ${decides && html`<${Select} id=${`${id}-self`} label=${tr("fl.when_submitter")} value=${item.when_submitter || "approve"}
      options=${["approve", "auto_pass", "manager"].map((k) => [k, tr(`fl.self.${k}`)])} onChange=${(when_submitter) => set({ when_submitter })} />
    <${Select} id=${`${id}-reject`} label=${tr("fl.on_reject")} value=${item.on_reject || "end"}
      options=${["end", "submitter"].map((k) => [k, tr(`fl.reject.${k}`)])} onChange=${(on_reject) => set({ on_reject })} />`}
    <${Select} id=${`${id}-signature`} label=${tr("fl.signature")} value=${item.signature || "none"}
      options=${["none", "required"].map((k) => [k, tr(`fl.signature.${k}`)])} onChange=${(signature) => set({ signature: signature === "none" ? undefined : signature })}
      help=${tr("fl.signature_help")} />
    <${CommentRules} env=${env} item=${item} set=${set} decides=${decides} />
    <${FieldMatrix} env=${env} value=${item.fields} rows=${item.rows} onChange=${(fields, rows) => set({ fields, rows })} />
    <${TimeLimit} env=${env} value=${item.time_limit} idPrefix=${`${id}-limit`} onChange=${(time_limit) => set({ time_limit })} />`;
}

function ActionStep({ env, item, set }) {
  const { t: tr, locale } = env;
  const action = item.action || { kind: "update_record", values: {} };
  const id = `node-${item.id}`;
  const setAction = (patch) => set({ action: { ...action, ...patch } });
  const kind = (k) => set({ action: k === "update_record" ? { kind: k, values: {} } : { kind: k, form: (env.otherForms[0] || {}).key || "", mapping: {} } });
  const target = env.boot.forms.find((f) => f.key === action.form);
  const sourceOptions = [["", tr("fl.not_set")], ["id", tr("fl.this_record_id")], ["title", tr("fl.this_record_title")], ...env.formFields.map((f) => [f.key, labelText(f.label, locale) || f.key])];
  return html`
    <${Select} id=${`${id}-action`} label=${tr("fl.action_kind")} value=${action.kind} options=${["update_record", "create_record"].map((k) => [k, tr(`fl.action.${k}`)])} onChange=${kind} />
    ${action.kind === "update_record" && html`<fieldset><legend>${tr("fl.set_values")}</legend>
      ${env.formFields.filter((f) => !f.fields).map((f) => html`<div class="field"><label for=${`${id}-v-${f.key}`}>${labelText(f.label, locale) || f.key}</label>
        <input id=${`${id}-v-${f.key}`} value=${action.values?.[f.key] ?? ""} placeholder=${tr("fl.unchanged")}
          onInput=${(e) => { const values = { ...(action.values || {}) }; if (e.target.value === "") delete values[f.key]; else values[f.key] = e.target.value; setAction({ values }); }} /></div>`)}
    </fieldset>`}
    ${action.kind === "create_record" && html`
      <${Select} id=${`${id}-form`} label=${tr("fl.target_form")} value=${action.form} options=${[["", tr("fl.pick")], ...env.otherForms.map((f) => [f.key, labelText(f.label, locale) || f.key])]} onChange=${(form) => setAction({ form, mapping: {} })} />
      ${target && html`<fieldset class="fl-mapping"><legend>${tr("fl.mapping")}</legend>
        ${target.fields.filter((f) => f.key).map((f) => html`<${Select} id=${`${id}-m-${f.key}`} label=${labelText(f.label, locale) || f.key} value=${typeof action.mapping?.[f.key] === "string" ? action.mapping[f.key] : ""}
          options=${sourceOptions} onChange=${(v) => { const mapping = { ...(action.mapping || {}) }; if (v) mapping[f.key] = v; else delete mapping[f.key]; setAction({ mapping }); }} />`)}
      </fieldset>`}`}`;
}

function Problems({ env, list }) {
  if (!list || !list.length) return null;
  return html`<div class="fl-panel-problems" role="status"><p>${env.t("fl.node_problems")}</p>
    <ul>${list.map((p) => html`<li>${p.where ? html`<code>${p.where}</code> ` : ""}${p.message}</li>`)}</ul></div>`;
}

export function NodePanel({ env, item, onClose }) {
  const { t: tr, dispatch } = env;
  const set = (patch, group) => dispatch({ type: "set", id: item.id, patch, group });
  const labelGroup = `label-${item.id}`;
  return html`<div class="fl-panel-body" data-panel=${item.id}>
    <div class="fl-panel-head">
      <h2 id="fl-panel-title">${tr(`fl.type.${item.type}`)}</h2>
      <button type="button" class="button secondary small" onClick=${onClose}>${tr("fl.close")}</button>
    </div>
    <${Problems} env=${env} list=${env.problems.byId[item.id]} />
    <${LabelInputs} value=${item.label} t=${tr} idPrefix=${`node-${item.id}-label`} onChange=${(label) => set({ label }, labelGroup)} />
    ${(item.type === "approval" || item.type === "handler") && html`<${PeopleStep} env=${env} item=${item} set=${set} />`}
    ${item.type === "cc" && html`<${Sources} env=${env} value=${item.recipients} kinds=${APPROVER_KINDS.filter((k) => k !== "chosen")} legend=${tr("fl.recipients")}
      idPrefix=${`node-${item.id}-cc`} onChange=${(recipients) => set({ recipients })} />`}
    ${item.type === "action" && html`<${ActionStep} env=${env} item=${item} set=${set} />`}
    ${item.type === "condition" && html`<p class="help">${tr("fl.condition_help")}</p>`}
    ${item.type === "parallel" && html`<p class="help">${tr("fl.parallel_help")}</p>`}
  </div>`;
}

export function BranchPanel({ env, item, index, onClose }) {
  const { t: tr, dispatch } = env;
  const isElse = index === "else";
  const branch = isElse ? item.else : item.branches[index];
  if (!branch) return null;
  const fields = builderFields(env.formFields, env.boot.field_types, env.locale);
  const branchProblems = (env.problems.byId[item.id] || []).filter((p) => p.where.startsWith(isElse ? "else" : `branches[${index}]`));
  return html`<div class="fl-panel-body" data-panel=${`${item.id}/${index}`}>
    <div class="fl-panel-head">
      <h2 id="fl-panel-title">${isElse ? tr("fl.else_branch") : tr("fl.branch_n", { n: index + 1 })}</h2>
      <button type="button" class="button secondary small" onClick=${onClose}>${tr("fl.close")}</button>
    </div>
    <${Problems} env=${env} list=${branchProblems} />
    ${isElse
      ? html`<p class="help">${tr("fl.else_help")}</p>`
      : html`<${LabelInputs} value=${branch.label} t=${tr} idPrefix=${`branch-${item.id}-${index}`}
          onChange=${(label) => dispatch({ type: "set_branch", id: item.id, index, patch: { label }, group: `branch-label-${item.id}-${index}` })} />
        <p class="help">${tr("fl.priority_help", { n: index + 1 })}</p>
        <h3>${tr("fl.condition")}</h3>
        <${ConditionBuilder} fields=${fields} value=${branch.condition && Object.keys(branch.condition).length ? branch.condition : null}
          onChange=${(condition) => dispatch({ type: "set_branch", id: item.id, index, patch: { condition: condition || {} } })} t=${tr} idPrefix=${`cond-${item.id}-${index}`} />`}
  </div>`;
}

export function FlowPanel({ env }) {
  const { t: tr, dispatch, tree } = env;
  const meta = tree.meta;
  const settings = meta.settings || {};
  const setSettings = (patch) => {
    const next = { ...settings, ...patch };
    for (const k of Object.keys(next)) if (!next[k]) delete next[k];
    dispatch({ type: "set_meta", patch: { settings: Object.keys(next).length ? next : undefined } });
  };
  return html`<div class="fl-panel-body" data-panel="flow">
    <h2 id="fl-panel-title">${tr("fl.flow_settings")}</h2>
    <${Problems} env=${env} list=${env.problems.flow} />
    <${LabelInputs} value=${meta.label} t=${tr} idPrefix="flow-label" onChange=${(label) => dispatch({ type: "set_meta", patch: { label }, group: "flow-label" })} />
    <${Select} id="flow-form" label=${tr("fl.form")} value=${meta.form} options=${env.boot.forms.map((f) => [f.key, labelText(f.label, env.locale) || f.key])}
      onChange=${(form) => dispatch({ type: "set_meta", patch: { form } })} />
    <${Select} id="flow-same" label=${tr("fl.same_approver")} value=${settings.same_approver || "off"}
      options=${["off", "any_earlier", "previous_node"].map((k) => [k, tr(`fl.same.${k}`)])} onChange=${(same_approver) => setSettings({ same_approver: same_approver === "off" ? undefined : same_approver })} />
    <${Select} id="flow-resubmit" label=${tr("fl.resubmit")} value=${settings.resubmit || "restart"}
      options=${["restart", "jump_back"].map((k) => [k, tr(`fl.resubmit.${k}`)])} onChange=${(resubmit) => setSettings({ resubmit: resubmit === "restart" ? undefined : resubmit })} />
    <p class="help">${tr("fl.select_hint")}</p>
  </div>`;
}
