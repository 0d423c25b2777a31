/**
 * The form designer: palette, canvas and properties around one store (store.js).
 *
 * Everything the page starts from is in the #designer-boot JSON block; every edit is a command to the
 * store, every change is saved after a pause (PUT with If-Match: "<draft_revision>", so a designer
 * never overwrites what someone else saved meanwhile), and the preview frame reloads after each save.
 */
import { html, render, useEffect, useReducer, useRef, useState, useCallback } from "/vendor/preact-htm.js";
import { api, ApiError } from "/static/js/api.js";
import { cellOf, initialState, reduce, restoredField, storable } from "./store.js";
import { Canvas, Palette, newField } from "./canvas.js";
import { Properties, FormProperties } from "./properties.js";
import { makeT, problemsByField } from "./words.js";

const SAVE_AFTER_MS = 700;

function useAutosave(boot, state, t) {
  const [status, setStatus] = useState({ kind: "saved" });
  const [problems, setProblems] = useState(boot.problems);
  const [savedAt, setSavedAt] = useState(0);
  const revision = useRef(boot.draft_revision);
  const saving = useRef(null);
  const pending = useRef(null);
  const conflict = useRef(false);
  const first = useRef(true);

  const save = useCallback(async (doc) => {
    if (conflict.current) return;
    if (saving.current) {
      pending.current = doc;
      return;
    }
    saving.current = doc;
    setStatus({ kind: "saving" });
    try {
      const saved = await api("PUT", boot.urls.draft, storable(doc), { "If-Match": `"${revision.current}"` });
      revision.current = saved.draft_revision;
      setProblems(saved.problems);
      setSavedAt(Date.now());
      setStatus({ kind: pending.current ? "saving" : "saved" }); // a later edit waits its turn: not saved yet
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        conflict.current = true;
        setStatus({ kind: "conflict" });
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
    const timer = setTimeout(() => save(state.doc), SAVE_AFTER_MS);
    return () => clearTimeout(timer);
  }, [state.changes]);

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

  return { status, problems, savedAt, retry: () => save(state.doc) };
}

function useShortcuts(dispatch) {
  useEffect(() => {
    const onKey = (event) => {
      if (event.key === "Escape" && !event.target.closest("details[open] summary, select")) {
        dispatch({ type: "select", id: null });
        return;
      }
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      const key = event.key.toLowerCase();
      const typing = event.target.matches && event.target.matches("input:not([type=checkbox]):not([type=radio]), textarea");
      if (typing) return; // the text field's own undo
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

function SaveStatus({ status, t, retry }) {
  const text = {
    saved: t("fd.saved"),
    saving: t("fd.saving"),
    unsaved: t("fd.unsaved"),
    failed: t("fd.save_failed"),
    conflict: t("fd.conflict_short"),
  }[status.kind];
  return html`<span class=${`fd-status fd-status-${status.kind}`} role="status" aria-live="polite" data-save-status=${status.kind}>
    ${text}${status.kind === "failed" && html` <button type="button" class="link-button" onClick=${retry}>${t("fd.retry")}</button>`}
  </span>`;
}

function Toolbar({ state, dispatch, t, boot, saver, view, setView }) {
  return html`<div class="fd-toolbar" role="toolbar" aria-label=${t("fd.toolbar")}>
    <div class="fd-toolbar-group">
      <button type="button" class="button secondary small" data-undo disabled=${!state.past.length} onClick=${() => dispatch({ type: "undo" })}
        aria-keyshortcuts="Control+Z Meta+Z" title=${t("fd.undo_hint")}><span aria-hidden="true">↶</span> ${t("fd.undo")}</button>
      <button type="button" class="button secondary small" data-redo disabled=${!state.future.length} onClick=${() => dispatch({ type: "redo" })}
        aria-keyshortcuts="Control+Shift+Z Meta+Shift+Z" title=${t("fd.redo_hint")}><span aria-hidden="true">↷</span> ${t("fd.redo")}</button>
    </div>
    <${SaveStatus} status=${saver.status} t=${t} retry=${saver.retry} />
    <div class="fd-toolbar-group fd-views" role="group" aria-label=${t("fd.view")}>
      ${["edit", "preview"].map((v) => html`<button type="button" class=${`button small ${view === v ? "" : "secondary"}`} aria-pressed=${view === v} onClick=${() => setView(v)}>${t(`fd.view_${v}`)}</button>`)}
    </div>
    <a class="button primary small" href=${boot.urls.publish}>${t("fd.publish")}</a>
  </div>`;
}

function Conflict({ t }) {
  return html`<div class="fd-conflict" role="alert">
    <p><strong>${t("fd.conflict_title")}</strong> ${t("fd.conflict_body")}</p>
    <button type="button" class="button primary small" onClick=${() => window.location.reload()}>${t("fd.reload")}</button>
  </div>`;
}

function Preview({ boot, savedAt, t }) {
  const [width, setWidth] = useState("desktop");
  const src = `${boot.urls.preview}?sample=1&v=${savedAt}`;
  return html`<section class="fd-preview" aria-labelledby="fd-preview-title">
    <div class="fd-preview-head">
      <h2 id="fd-preview-title">${t("fd.preview")}</h2>
      <div role="group" aria-label=${t("fd.preview_width")}>
        ${["desktop", "phone"].map((w) => html`<button type="button" class=${`button small ${width === w ? "" : "secondary"}`} aria-pressed=${width === w} onClick=${() => setWidth(w)}>${t(`fd.width_${w}`)}</button>`)}
      </div>
    </div>
    <p class="muted">${t("fd.preview_note")}</p>
    <div class=${`fd-preview-frame fd-preview-${width}`}>
      <iframe src=${src} title=${t("fd.preview_frame")} loading="lazy"></iframe>
    </div>
  </section>`;
}

function Designer({ boot }) {
  const t = makeT(boot.messages);
  const [state, dispatch] = useReducer(reduce, boot.draft, initialState);
  const saver = useAutosave(boot, state, t);
  const [view, setView] = useState("edit");
  const [panelOpen, setPanelOpen] = useState(false);
  useShortcuts(dispatch);
  const types = Object.fromEntries(boot.field_types.map((ft) => [ft.type, ft]));
  const problems = problemsByField(saver.problems, state.doc);
  const selected = state.selected ? state.doc.fields.find((f) => f.id === state.selected) : null;
  // Pressing a palette item puts its field in a row of its own after the selected field (else at the end).
  const afterSelected = () => {
    const at = selected ? cellOf(state.doc, selected.key) : null;
    return at ? { s: at.s, r: at.r + 1, newRow: true } : null;
  };
  const add = (type, to) =>
    dispatch({ type: "add_field", field: newField(state.doc, types[type], boot.forms), to: to || afterSelected() });
  useEffect(() => {
    if (selected) setPanelOpen(true);
  }, [state.selected]);
  const env = { boot, types, t, dispatch, doc: state.doc, problems, locale: boot.locale };
  return html`
    <div class="fd-head">
      <h1>${labelOf(state.doc.label, boot.locale) || boot.form}</h1>
      <${Toolbar} state=${state} dispatch=${dispatch} t=${t} boot=${boot} saver=${saver} view=${view} setView=${setView} />
    </div>
    ${saver.status.kind === "conflict" && html`<${Conflict} t=${t} />`}
    ${problems.form.length > 0 && html`<div class="fd-problems" role="status">
      <p>${t("fd.problems_intro")}</p>
      <ul>${problems.form.map((p) => html`<li><code>${p.path}</code> ${p.message}</li>`)}</ul>
    </div>`}
    ${view === "preview"
      ? html`<${Preview} boot=${boot} savedAt=${saver.savedAt} t=${t} />`
      : html`<div class="fd-workspace">
          <${Palette} env=${env} onAdd=${add}
            onRestore=${(f) => dispatch({ type: "add_field", field: restoredField(state.doc, f), to: afterSelected() })} />
          <${Canvas} env=${env} selected=${state.selected} onAdd=${add} />
          <aside class=${`fd-properties ${panelOpen ? "open" : ""}`} aria-labelledby="fd-properties-title">
            ${selected
              ? html`<${Properties} env=${env} field=${selected} onClose=${() => { dispatch({ type: "select", id: null }); setPanelOpen(false); }} />`
              : html`<${FormProperties} env=${env} />`}
          </aside>
        </div>`}
  `;
}

export function labelOf(label, locale) {
  if (label == null) return "";
  if (typeof label === "string") return label;
  return label[locale] || label.en || label["zh-CN"] || "";
}

const root = document.getElementById("form-designer");
const boot = JSON.parse(document.getElementById("designer-boot").textContent);
root.textContent = "";
root.removeAttribute("data-loading");
render(html`<${Designer} boot=${boot} />`, root);
root.dataset.ready = "true";
