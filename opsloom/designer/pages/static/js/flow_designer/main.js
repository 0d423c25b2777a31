/**
 * The flow designer: the flow drawn as a vertical tree (start, steps, end; "+" between any two), a panel
 * for the selected node, the simulator, publishing and versions — around one store (tree.js).
 *
 * The page starts from the #designer-boot JSON block; every edit is a command to the store, saved after
 * a pause (PUT with If-Match: "<draft_revision>"; a 412 stops saving and says so), and the server's
 * semantic checks come back with each save as `problems` whose JSON paths the page maps to nodes.
 */
import { html, render, useCallback, useEffect, useReducer, useRef, useState } from "/vendor/preact-htm.js";
import { api, ApiError } from "/static/js/api.js";
import { labelText } from "../condition_builder.js";
import { makeT } from "../form_designer/words.js";
import { INSERTABLE, branchesOf, initialState, locate, newItem, problemsByNode, reduce, toDocument, walk } from "./tree.js";
import { BranchPanel, FlowPanel, NodePanel } from "./panel.js";

const SAVE_AFTER_MS = 600;

function useAutosave(boot, state) {
  const [status, setStatus] = useState({ kind: "saved" });
  const [problems, setProblems] = useState(boot.problems);
  const [savedDoc, setSavedDoc] = useState(boot.draft);
  const revision = useRef(boot.draft_revision);
  const saving = useRef(null);
  const pending = useRef(null);
  const conflict = useRef(false);
  const first = useRef(true);

  const save = useCallback(async (tree) => {
    if (conflict.current) return;
    if (saving.current) {
      pending.current = tree;
      return;
    }
    const doc = toDocument(tree);
    saving.current = doc;
    setStatus({ kind: "saving" });
    try {
      const saved = await api("PUT", boot.urls.draft, doc, { "If-Match": `"${revision.current}"` });
      revision.current = saved.draft_revision;
      setProblems(saved.problems);
      setSavedDoc(doc);
      setStatus({ kind: pending.current ? "saving" : "saved" });
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        conflict.current = true;
        setStatus({ kind: "conflict" });
      } else if (error instanceof ApiError && error.status === 422) {
        setProblems(error.errors);
        setSavedDoc(doc);
        setStatus({ kind: "failed", message: error.message });
      } else {
        setStatus({ kind: "failed", message: error.message });
      }
    } finally {
      saving.current = null;
      const next = pending.current;
      pending.current = null;
      if (next) save(next);
    }
  }, []);

  useEffect(() => {
    if (first.current) {
      first.current = false;
      return undefined;
    }
    setStatus((s) => (s.kind === "conflict" ? s : { kind: "unsaved" }));
    const timer = setTimeout(() => save(state.tree), SAVE_AFTER_MS);
    return () => clearTimeout(timer);
  }, [state.changes]);

  return { status, problems, savedDoc, retry: () => save(state.tree), revision, setProblems };
}

function useShortcuts(dispatch) {
  useEffect(() => {
    const onKey = (event) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      if (event.target.matches && event.target.matches("input:not([type=checkbox]):not([type=radio]), textarea")) return;
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
}

// ------------------------------------------------------------------ the tree

function summary(env, item) {
  const { t, locale, org } = env;
  const people = (sources) =>
    (sources || [])
      .map((s) => {
        if (s.kind === "users") return (s.users || []).map((id) => (org.users.find((u) => u.id === id) || {}).name || `#${id}`).join(", ");
        if (s.kind === "role") return t("fl.sum.role", { role: labelText((org.roles.find((r) => r.key === s.role) || {}).label, locale) || s.role });
        if (s.kind === "department_head") return t("fl.sum.department_head", { level: s.level || 1 });
        if (s.kind === "managers") return s.levels === "top" ? t("fl.levels_top") : t("fl.sum.managers", { count: s.levels || 1 });
        if (s.kind === "field") return t("fl.sum.field", { field: labelText((env.formFields.find((f) => f.key === s.field) || {}).label, locale) || s.field });
        return t(`fl.kind.${s.kind}`);
      })
      .join(" · ");
  if (item.type === "approval" || item.type === "handler") {
    const who = people(item.approvers) || t("fl.nobody");
    return item.type === "approval" ? `${who} — ${t(`fl.mode.${item.mode || "any"}`)}` : who;
  }
  if (item.type === "cc") return people(item.recipients) || t("fl.nobody");
  if (item.type === "action") {
    const a = item.action || {};
    if (a.kind === "create_record") return t("fl.sum.create", { form: labelText((env.boot.forms.find((f) => f.key === a.form) || {}).label, locale) || a.form || "?" });
    return t("fl.sum.update", { count: Object.keys(a.values || {}).length });
  }
  return "";
}

function AddSlot({ env, path, index }) {
  const [open, setOpen] = useState(false);
  const ref = useRef(null);
  const [over, setOver] = useState(false);
  useEffect(() => {
    if (!open) return undefined;
    const close = (e) => {
      if (ref.current && !ref.current.contains(e.target)) setOpen(false);
    };
    document.addEventListener("click", close);
    return () => document.removeEventListener("click", close);
  }, [open]);
  const insert = (type) => {
    setOpen(false);
    env.dispatch({ type: "insert", path, index, item: newItem(env.tree, type) });
  };
  const slot = `${path}:${index}`;
  const drop = (e) => {
    e.preventDefault();
    setOver(false);
    const id = e.dataTransfer.getData("text/x-flow-node");
    if (id) env.dispatch({ type: "move", id, path, index });
  };
  return html`<div class=${`fl-add ${over ? "over" : ""}`} ref=${ref} data-slot=${slot}
      onDragOver=${(e) => { if (env.dragging.current) { e.preventDefault(); setOver(true); } }} onDragLeave=${() => setOver(false)} onDrop=${drop}>
    <button type="button" class="fl-add-button" aria-expanded=${open} aria-label=${env.t("fl.add_here")} onClick=${() => setOpen(!open)}
      onKeyDown=${(e) => e.key === "Escape" && setOpen(false)}>+</button>
    ${env.moving && html`<button type="button" class="button small fl-move-here" onClick=${() => { env.dispatch({ type: "move", id: env.moving, path, index }); env.setMoving(null); }}>${env.t("fl.move_here")}</button>`}
    ${open && html`<div class="fl-add-menu" role="group" aria-label=${env.t("fl.add_here")}>
      ${INSERTABLE.map((type) => html`<button type="button" class=${`fl-add-${type}`} data-add=${type} onClick=${() => insert(type)}>${env.t(`fl.type.${type}`)}</button>`)}
    </div>`}
  </div>`;
}

function Chain({ env, chain, path }) {
  return html`<${AddSlot} env=${env} path=${path} index=${0} />
    ${chain.map((item, i) => html`<${Item} env=${env} item=${item} first=${i === 0} last=${i === chain.length - 1} />
      <${AddSlot} env=${env} path=${path} index=${i + 1} />`)}`;
}

function NodeCard({ env, item, first, last }) {
  const { t, dispatch, locale } = env;
  const problems = env.problems.byId[item.id] || [];
  const selected = env.selected === item.id;
  const name = labelText(item.label, locale) || item.id;
  return html`<div class=${`fl-node fl-node-${item.type} ${selected ? "selected" : ""} ${problems.length ? "has-problems" : ""}`} data-node=${item.id}
      draggable="true" onDragStart=${(e) => { env.dragging.current = item.id; e.dataTransfer.setData("text/x-flow-node", item.id); e.dataTransfer.effectAllowed = "move"; }}
      onDragEnd=${() => { env.dragging.current = null; }}>
    <button type="button" class="fl-node-main" aria-pressed=${selected} onClick=${() => dispatch({ type: "select", id: item.id })}>
      <span class="fl-node-type">${t(`fl.type.${item.type}`)}</span>
      <span class="fl-node-name">${name}</span>
      <span class="fl-node-summary">${summary(env, item)}</span>
    </button>
    ${problems.length > 0 && html`<ul class="fl-node-problems">${problems.map((p) => html`<li>${p.message}</li>`)}</ul>`}
    <div class="fl-node-tools" role="group" aria-label=${t("fl.node_tools", { name })}>
      <button type="button" disabled=${first} onClick=${() => dispatch({ type: "step", id: item.id, direction: -1 })} aria-label=${t("fl.move_up", { name })} title=${t("fl.move_up", { name })}>↑</button>
      <button type="button" disabled=${last} onClick=${() => dispatch({ type: "step", id: item.id, direction: 1 })} aria-label=${t("fl.move_down", { name })} title=${t("fl.move_down", { name })}>↓</button>
      <button type="button" aria-pressed=${env.moving === item.id} onClick=${() => env.setMoving(env.moving === item.id ? null : item.id)} aria-label=${t("fl.move_to", { name })} title=${t("fl.move_to", { name })}>⇄</button>
      <button type="button" onClick=${() => dispatch({ type: "copy", id: item.id })} aria-label=${t("fl.copy", { name })} title=${t("fl.copy", { name })}>❐</button>
      <button type="button" onClick=${() => dispatch({ type: "remove", id: item.id })} aria-label=${t("fl.delete", { name })} title=${t("fl.delete", { name })}>✕</button>
    </div>
  </div>`;
}

function Item({ env, item, first, last }) {
  if (item.type !== "condition" && item.type !== "parallel") return html`<${NodeCard} env=${env} item=${item} first=${first} last=${last} />`;
  const { t, dispatch, locale } = env;
  const isCondition = item.type === "condition";
  const branches = branchesOf(item);
  const dragFrom = useRef(null);
  return html`<div class=${`fl-split fl-split-${item.type}`} data-split=${item.id}>
    <${NodeCard} env=${env} item=${item} first=${first} last=${last} />
    <div class="fl-split-tools">
      <button type="button" class="button small secondary" data-add-branch onClick=${() => dispatch({ type: "add_branch", id: item.id })}>${t(isCondition ? "fl.add_condition_branch" : "fl.add_parallel_branch")}</button>
      ${isCondition && !item.else && html`<button type="button" class="button small secondary" data-add-else onClick=${() => dispatch({ type: "add_else", id: item.id })}>${t("fl.add_else")}</button>`}
    </div>
    <div class="fl-branches">
      ${branches.map((branch, i) => {
        const isElse = branch.else === true;
        const index = isElse ? "else" : i;
        const path = `${item.id}/${isElse ? "else" : i}`;
        const name = isElse ? t("fl.else_branch") : isCondition ? labelText(branch.label, locale) || t("fl.branch_n", { n: i + 1 }) : t("fl.parallel_n", { n: i + 1 });
        const selected = env.selected === path;
        const ordered = !isElse && isCondition;
        return html`<div class="fl-branch" data-branch=${path}>
          <div class=${`fl-branch-card ${selected ? "selected" : ""}`} draggable=${ordered ? "true" : "false"}
              onDragStart=${(e) => { dragFrom.current = i; e.dataTransfer.setData("text/x-flow-branch", String(i)); }}
              onDragOver=${(e) => { if (dragFrom.current !== null && ordered) e.preventDefault(); }}
              onDrop=${(e) => { e.preventDefault(); if (dragFrom.current !== null) dispatch({ type: "move_branch", id: item.id, from: dragFrom.current, to: i }); dragFrom.current = null; }}>
            ${isCondition
              ? html`<button type="button" class="fl-branch-main" aria-pressed=${selected} onClick=${() => dispatch({ type: "select", id: path })}>
                  <span class="fl-branch-name">${name}</span>
                  ${ordered && html`<span class="fl-branch-priority">${t("fl.priority_n", { n: i + 1 })}</span>`}
                  <span class="fl-node-summary">${isElse ? t("fl.else_summary") : branchSummary(env, branch)}</span>
                </button>`
              : html`<span class="fl-branch-name">${name}</span>`}
            <div class="fl-node-tools" role="group" aria-label=${t("fl.branch_tools", { name })}>
              ${ordered && html`<button type="button" disabled=${i === 0} onClick=${() => dispatch({ type: "move_branch", id: item.id, from: i, to: i - 1 })} aria-label=${t("fl.branch_earlier", { name })} title=${t("fl.branch_earlier", { name })}>←</button>
                <button type="button" disabled=${i === item.branches.length - 1} onClick=${() => dispatch({ type: "move_branch", id: item.id, from: i, to: i + 1 })} aria-label=${t("fl.branch_later", { name })} title=${t("fl.branch_later", { name })}>→</button>`}
              <button type="button" onClick=${() => dispatch({ type: "remove_branch", id: item.id, index })} aria-label=${t("fl.delete_branch", { name })} title=${t("fl.delete_branch", { name })}>✕</button>
            </div>
          </div>
          <div class="fl-branch-chain"><${Chain} env=${env} chain=${branch.chain} path=${path} /></div>
        </div>`;
      })}
    </div>
    ${item.join && html`<div class="fl-join">${labelText(item.join.label, locale) || t("fl.type.join")}</div>`}
  </div>`;
}

function branchSummary(env, branch) {
  const c = branch.condition || {};
  if (!Object.keys(c).length) return env.t("fl.no_condition");
  const leaves = c.field ? [c] : [...(c.and || []), ...(c.or || [])];
  return leaves
    .filter((l) => l && l.field)
    .map((l) => `${labelText((env.formFields.find((f) => f.key === l.field) || {}).label, env.locale) || l.field} ${env.t(`cb.op.${l.op}`)} ${Array.isArray(l.value) ? l.value.join(", ") : l.value ?? ""}`)
    .join(c.or ? ` ${env.t("fl.or")} ` : ` ${env.t("fl.and")} `) || env.t("fl.condition_set");
}

function Tree({ env }) {
  const { t, locale, tree } = env;
  return html`<div class="fl-tree" role="region" aria-label=${t("fl.tree")}>
    <div class="fl-node fl-node-start" data-node=${tree.start.id}><span class="fl-node-type">${t("fl.type.start")}</span><span class="fl-node-name">${labelText(tree.start.label, locale) || t("fl.submitter")}</span></div>
    <${Chain} env=${env} chain=${tree.chain} path="root" />
    <div class="fl-node fl-node-end" data-node=${tree.end.id}><span class="fl-node-name">${labelText(tree.end.label, locale) || t("fl.type.end")}</span></div>
  </div>`;
}

// ------------------------------------------------------------------ simulator

function Simulator({ env }) {
  const { t, boot, locale } = env;
  const [values, setValues] = useState({});
  const [submitter, setSubmitter] = useState("");
  const [version, setVersion] = useState("");
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  // The fields a sample is typed into: those people fill in, and the computed ones a branch tests (the amount).
  const tested = new Set();
  const collect = (c) => {
    if (!c || typeof c !== "object") return;
    if (c.field) tested.add(c.field);
    for (const inner of [...(c.and || []), ...(c.or || [])]) collect(inner);
  };
  walk(env.tree.chain, (item) => (item.branches || []).forEach((b) => collect(b.condition)));
  const simple = env.formFields.filter((f) => {
    const ft = env.types[f.type];
    if (!f.key || f.fields || !ft || ft.multiple || ft.widget === "file" || ["user", "department", "record"].includes(ft.link || "")) return false;
    return ft.entered || (ft.computed && tested.has(f.key));
  });
  const run = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { submitter: Number(submitter), values: Object.fromEntries(Object.entries(values).filter(([, v]) => v !== "")) };
      if (version) body.version = Number(version);
      setResult(await api("POST", boot.urls.simulate, body));
    } catch (failure) {
      setResult(null);
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="fl-simulator panel" aria-labelledby="fl-sim-title">
    <h2 id="fl-sim-title">${t("fl.simulator")}</h2>
    <p class="help">${t("fl.simulator_help")}</p>
    <form onSubmit=${run} class="fl-sim-form">
      <div class="field"><label for="sim-submitter">${t("fl.sim_submitter")}</label>
        <select id="sim-submitter" required value=${submitter} onChange=${(e) => setSubmitter(e.target.value)}>
          <option value="">${t("fl.pick")}</option>
          ${env.org.users.map((u) => html`<option value=${u.id}>${u.name}</option>`)}
        </select></div>
      <div class="field"><label for="sim-version">${t("fl.sim_version")}</label>
        <select id="sim-version" value=${version} onChange=${(e) => setVersion(e.target.value)}>
          <option value="">${t("fl.sim_draft")}</option>
          ${env.versions.map((v) => html`<option value=${v.version}>${t("fl.version_n", { n: v.version })}</option>`)}
        </select></div>
      ${simple.map((f) => {
        const options = env.types[f.type].widget === "boolean" ? [{ value: "true", label: t("fl.yes") }, { value: "false", label: t("fl.no") }] : f.options || [];
        return html`<div class="field"><label for=${`sim-${f.key}`}>${labelText(f.label, locale) || f.key}</label>
          ${options.length
            ? html`<select id=${`sim-${f.key}`} value=${values[f.key] ?? ""} onChange=${(e) => setValues({ ...values, [f.key]: e.target.value })}>
                <option value="">—</option>${options.map((o) => html`<option value=${o.value}>${labelText(o.label, locale) || o.value}</option>`)}</select>`
            : html`<input id=${`sim-${f.key}`} value=${values[f.key] ?? ""} onInput=${(e) => setValues({ ...values, [f.key]: e.target.value })} />`}
        </div>`;
      })}
      <button type="submit" class="button" disabled=${busy} data-simulate>${t("fl.simulate")}</button>
    </form>
    ${error && html`<div class="fl-sim-error" role="alert"><p>${error.message}</p>
      ${error.errors && error.errors.length > 0 && html`<ul>${error.errors.map((p) => html`<li><code>${p.path}</code> ${p.message}</li>`)}</ul>`}</div>`}
    ${result && html`<div class="fl-sim-result" role="status" aria-live="polite">
      <h3>${t("fl.sim_route", { name: result.submitter.name || "" })}</h3>
      <ol class="fl-route">
        ${result.steps.map((s) => html`<li class=${`fl-route-${s.type}`} data-step=${s.node}>
          <span class="fl-route-label">${labelText(s.label, locale) || s.node}</span>
          ${s.type === "condition" && html` <span class="muted">→ ${s.branch === "else" ? t("fl.else_branch") : labelText(s.branch_label, locale) || t("fl.branch_n", { n: Number(s.branch) + 1 })}</span>`}
          ${s.people.length > 0 && html` <span class="fl-route-people">${s.people.map((p) => p.name).join(", ")}</span>`}
          ${s.mode && s.type === "approval" && html` <span class="muted">(${t(`fl.mode.${s.mode}`)})</span>`}
          ${s.auto_passed && html` <span class="badge muted">${t("fl.auto_passed")}</span>`}
          ${s.type === "action" && html` <span class="muted">${t(`fl.action.${s.action}`)}</span>`}
        </li>`)}
      </ol>
      <p class=${`fl-sim-outcome fl-sim-${result.outcome}`}>${t(`fl.outcome.${result.outcome}`)}${result.problem ? `: ${result.problem}` : ""}</p>
    </div>`}
  </section>`;
}

// ------------------------------------------------------------------ publishing

/** What changed from one version to another (or to the draft), in the server's words, node by node. */
function Diff({ env, diff, onClose }) {
  const { t } = env;
  const name = (which) => (which === "draft" ? t("fl.draft") : t("fl.version_n", { n: which }));
  return html`<div class="fl-diff" data-flow-diff role="region" aria-labelledby="fl-diff-title">
    <h3 id="fl-diff-title" tabindex="-1">${t("fl.diff_title", { before: name(diff.from), after: name(diff.to) })}</h3>
    ${diff.error
      ? html`<p class="error" role="alert">${diff.error}</p>`
      : diff.changes.length
        ? html`<ul>${diff.changes.map((c) => html`<li data-change=${c.kind} data-node=${c.node || ""}>${c.text}</li>`)}</ul>`
        : html`<p class="muted">${t("fl.diff_same")}</p>`}
    <button type="button" class="button small secondary" onClick=${onClose}>${t("fl.diff_close")}</button>
  </div>`;
}

function Versions({ env, onChanged }) {
  const { t, boot, versions } = env;
  const [message, setMessage] = useState(null);
  const [diff, setDiff] = useState(null);
  const compare = async (from, to) => {
    const query = new URLSearchParams({ to: String(to) });
    if (from) query.set("from", String(from));
    try {
      const answer = await api("GET", `${boot.urls.diff}?${query}`);
      setDiff({ from: answer.from, to: answer.to, changes: answer.changes });
    } catch (error) {
      setDiff({ from: from || "", to, changes: [], error: error.message });
    }
    window.requestAnimationFrame(() => document.getElementById("fl-diff-title")?.focus());
  };
  const rollback = async (version) => {
    if (!window.confirm(t("fl.rollback_confirm", { n: version }))) return;
    try {
      const done = await api("POST", boot.urls.rollback, { version });
      setMessage({ kind: "ok", text: t("fl.rolled_back", { n: version, v: done.version }) });
      onChanged(true);
    } catch (error) {
      setMessage({ kind: "error", text: error.message });
    }
  };
  return html`<section class="fl-versions panel" aria-labelledby="fl-versions-title">
    <h2 id="fl-versions-title">${t("fl.versions")}</h2>
    ${message && html`<p class=${message.kind === "ok" ? "fl-ok" : "error"} role="status">${message.text}</p>`}
    ${versions.length
      ? html`<ul class="fl-version-list">${versions.map((v, i) => html`<li data-version=${v.version}>
          <strong>${t("fl.version_n", { n: v.version })}</strong> <span class="muted">${(v.published_at || "").slice(0, 16).replace("T", " ")}</span>
          ${i === 0 ? html` <span class="badge">${t("fl.current")}</span>` : html` <button type="button" class="button small secondary" onClick=${() => rollback(v.version)}>${t("fl.rollback_to", { n: v.version })}</button>`}
          ${v.version > 1 && html` <button type="button" class="button small secondary" data-compare-previous=${v.version}
            onClick=${() => compare(v.version - 1, v.version)}>${t("fl.compare_previous")}</button>`}
        </li>`)}</ul>
        <button type="button" class="button small secondary" data-compare-draft onClick=${() => compare(null, "draft")}>${t("fl.compare_draft")}</button>`
      : html`<p class="muted">${t("fl.no_versions")}</p>`}
    ${diff && html`<${Diff} env=${env} diff=${diff} onClose=${() => setDiff(null)} />`}
  </section>`;
}

// ------------------------------------------------------------------ the page

function Designer({ boot, org }) {
  const t = makeT(boot.messages);
  const [state, dispatch] = useReducer(reduce, boot.draft, initialState);
  const saver = useAutosave(boot, state);
  const [versions, setVersions] = useState(boot.versions);
  const [publishing, setPublishing] = useState(null);
  const [moving, setMoving] = useState(null);
  const dragging = useRef(null);
  useShortcuts(dispatch);
  const tree = state.tree;
  const form = boot.forms.find((f) => f.key === tree.meta.form) || { fields: [] };
  const types = Object.fromEntries(boot.field_types.map((ft) => [ft.type, ft]));
  const problems = problemsByNode(saver.problems, saver.savedDoc, tree);
  const env = {
    boot, t, dispatch, tree, org, types, problems, versions, moving, dragging,
    setMoving: (id) => setMoving(id),
    locale: boot.locale,
    selected: state.selected,
    formFields: form.fields,
    otherForms: boot.forms.filter((f) => f.key !== tree.meta.form),
  };
  if (moving) env.dispatch = (action) => { if (action.type === "move") setMoving(null); dispatch(action); };
  const refreshVersions = async (fromServer) => {
    const listed = await api("GET", boot.urls.versions);
    setVersions(listed.items);
    if (fromServer) window.location.reload();
  };
  const publish = async () => {
    setPublishing({ kind: "busy" });
    try {
      const done = await api("POST", boot.urls.publish);
      setPublishing({ kind: "ok", text: t("fl.published", { n: done.version }) });
      await refreshVersions(false);
    } catch (error) {
      if (error instanceof ApiError && error.errors.length) saver.setProblems(error.errors);
      setPublishing({ kind: "error", text: error.message, errors: error.errors || [] });
    }
  };
  let panel;
  const close = () => dispatch({ type: "select", id: null });
  if (state.selected && state.selected.includes("/")) {
    const [id, which] = state.selected.split("/");
    const found = locate(tree, id);
    if (found) panel = html`<${BranchPanel} env=${env} item=${found.item} index=${which === "else" ? "else" : Number(which)} onClose=${close} />`;
  } else if (state.selected) {
    const found = locate(tree, state.selected);
    if (found) panel = html`<${NodePanel} env=${env} item=${found.item} onClose=${close} />`;
  }
  const statusText = { saved: t("fl.saved"), saving: t("fl.saving"), unsaved: t("fl.unsaved"), failed: t("fl.save_failed"), conflict: t("fl.conflict_short") }[saver.status.kind];
  return html`
    <div class="fl-head">
      <h1>${labelText(tree.meta.label, boot.locale) || boot.flow}</h1>
      <div class="fl-toolbar" role="toolbar" aria-label=${t("fl.toolbar")}>
        <button type="button" class="button secondary small" data-undo disabled=${!state.past.length} onClick=${() => dispatch({ type: "undo" })} aria-keyshortcuts="Control+Z Meta+Z">↶ ${t("fl.undo")}</button>
        <button type="button" class="button secondary small" data-redo disabled=${!state.future.length} onClick=${() => dispatch({ type: "redo" })} aria-keyshortcuts="Control+Shift+Z Meta+Shift+Z">↷ ${t("fl.redo")}</button>
        <span class=${`fd-status fd-status-${saver.status.kind}`} role="status" aria-live="polite" data-save-status=${saver.status.kind}>${statusText}
          ${saver.status.kind === "failed" && html` <button type="button" class="link-button" onClick=${saver.retry}>${t("fl.retry")}</button>`}</span>
        <button type="button" class="button small" data-publish disabled=${publishing && publishing.kind === "busy"} onClick=${publish}>${t("fl.publish")}</button>
      </div>
    </div>
    ${saver.status.kind === "conflict" && html`<div class="fd-conflict" role="alert"><p><strong>${t("fl.conflict_title")}</strong> ${t("fl.conflict_body")}</p>
      <button type="button" class="button small" onClick=${() => window.location.reload()}>${t("fl.reload")}</button></div>`}
    ${publishing && publishing.kind === "ok" && html`<p class="fl-ok" role="status" data-published>${publishing.text}</p>`}
    ${publishing && publishing.kind === "error" && html`<div class="fl-publish-error" role="alert"><p>${publishing.text}</p>
      <ul>${publishing.errors.map((p) => html`<li><code>${p.path}</code> ${p.message}</li>`)}</ul></div>`}
    ${moving && html`<p class="fl-moving" role="status">${t("fl.moving", { name: labelText((locate(tree, moving) || { item: {} }).item.label, boot.locale) || moving })}
      <button type="button" class="button small secondary" onClick=${() => setMoving(null)}>${t("fl.cancel")}</button></p>`}
    ${problems.flow.length > 0 && html`<div class="fd-problems" role="status"><p>${t("fl.problems_intro")}</p>
      <ul>${problems.flow.map((p) => html`<li><code>${p.path}</code> ${p.message}</li>`)}</ul></div>`}
    <div class="fl-workspace">
      <div class="fl-canvas">
        <${Tree} env=${env} />
      </div>
      <aside class="fl-panel" aria-labelledby="fl-panel-title">
        ${panel || html`<${FlowPanel} env=${env} />`}
      </aside>
    </div>
    <div class="fl-lower">
      <${Simulator} env=${env} />
      <${Versions} env=${env} onChanged=${refreshVersions} />
    </div>
  `;
}

async function loadOrg(boot) {
  const get = async (url) => {
    try {
      return (await api("GET", url)).items || [];
    } catch {
      return [];
    }
  };
  const [users, departments, roles] = await Promise.all([get(boot.urls.users), get(boot.urls.departments), get(boot.urls.roles)]);
  return { users, departments, roles };
}

async function start() {
  const root = document.getElementById("flow-designer");
  const boot = JSON.parse(document.getElementById("designer-boot").textContent);
  const org = await loadOrg(boot);
  root.textContent = "";
  root.removeAttribute("data-loading");
  render(html`<${Designer} boot=${boot} org=${org} />`, root);
  root.dataset.ready = "true";
}

start();
