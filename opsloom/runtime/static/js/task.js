/**
 * The task page's action dialogs, and the submitter's withdraw / urge buttons.
 *
 * DOM contract (templates/task.html, templates/flow_buttons.html; browser tests rely on it):
 *
 *   [data-task][data-task-id=ID][data-done-url]       the task page's root
 *   [data-task-record][data-editable="k1 k2"]         the record; editable fields are widgets.html's
 *                                                     wrappers [data-field=KEY] (fields.js reads them)
 *   [data-task-record][data-row-rules=JSON]           {subform key: {add, edit, delete}}: what the step lets
 *                                                     its rows do (add button, stored rows' cells and ✕)
 *   script#form-meta                                  field_views.form_meta() + context, as JSON
 *   [data-task-actions] button[data-open-dialog=A]    one button per allowed action A:
 *                                                     approve, reject, return, transfer, delegate, add_signer
 *   dialog#dialog-A[data-action=A]                    its dialog (aria-labelledby its h2), holding
 *     form[data-action-form]                            the form; on submit POST /api/tasks/ID/A
 *     textarea[name=comment]                            every dialog (required where the step asks: [data-required])
 *     select[name=target]                               return: "submitter", "previous" or a node id
 *     input[data-user-search] + select[name=to]         transfer, delegate: search people, pick one
 *     input[data-user-search] + select[name=users]      add_signer (multiple), with
 *     input[type=radio][name=position]                  before | after | parallel
 *     [data-error-for=PATH]                             where the error at PATH (comment, to, ...) shows
 *     [data-values-errors]                              approve: errors at values.KEY, also shown at the field
 *     [data-dialog-error]                               what no field could take
 *     button[data-submit], button[data-close]           send, cancel (Escape cancels too)
 *
 *   [data-flow-buttons][data-record-url=URL]          withdraw / urge for the submitter
 *     button[data-flow-action=urge]                     POST URL/urge, then a message in #flash
 *     button[data-flow-action=withdraw]                 opens the dialog[data-confirm=withdraw] next to it,
 *                                                       whose form posts URL/withdraw {comment}
 *
 * After an action the browser goes to /tasks?done=approved|rejected|returned|transferred|delegated|add_signer
 * (the list then says what happened in its [role=status][data-done]); withdrawing
 * goes to /tasks?box=submitted&done=withdrawn.
 *
 * To approve in a test: click [data-open-dialog=approve], fill #dialog-approve-comment,
 * click #dialog-approve [data-submit]; the page then is /tasks?done=approved.
 */

import { api, announce } from "/static/js/api.js";
import { setupFields, readValues, showErrors, clearErrors, localise } from "/static/js/fields.js";

const SEARCH_DELAY = 250;
// What the list page says after each action (/tasks?done=...).
const DONE = {
  approve: "approved",
  reject: "rejected",
  return: "returned",
  transfer: "transferred",
  delegate: "delegated",
  add_signer: "add_signer",
};

// ------------------------------------------------------------------ dialogs

/** Open `dialog` modally from `opener`; focus goes to its first field and comes back when it closes. */
function openDialog(dialog, opener) {
  dialog.showModal();
  const first = dialog.querySelector("input:not([type=hidden]):not([disabled]), select, textarea");
  (first || dialog.querySelector("[data-submit]")).focus();
  dialog.addEventListener("close", () => opener && opener.focus(), { once: true });
}

function wireClose(dialog) {
  for (const button of dialog.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => dialog.close());
  }
  // A search field would take the first Escape to clear itself; Escape always closes the dialog.
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      dialog.close();
    }
  });
}

function clearDialogErrors(dialog) {
  for (const el of dialog.querySelectorAll("[data-error-for], [data-dialog-error], [data-values-errors]")) {
    el.textContent = "";
  }
  for (const el of dialog.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** Put each error at the dialog's field its path names; answer those it has no place for. */
function placeErrors(dialog, errors) {
  const left = [];
  for (const error of errors) {
    const spot = dialog.querySelector(`[data-error-for="${CSS.escape(error.path || "")}"]`);
    if (!spot) {
      left.push(error);
      continue;
    }
    spot.textContent = spot.textContent ? `${spot.textContent} ${error.message}` : error.message;
    const control = dialog.querySelector(`[name="${CSS.escape(error.path)}"]`);
    if (control) control.setAttribute("aria-invalid", "true");
  }
  return left;
}

function showGeneral(dialog, text) {
  const region = dialog.querySelector("[data-dialog-error]");
  if (region) region.textContent = text;
}

function focusFirstInvalid(dialog) {
  const invalid = dialog.querySelector("[aria-invalid]");
  if (invalid) invalid.focus();
}

/** Fields the browser can check before asking the server: required comment, a chosen person. */
function missing(form) {
  const errors = [];
  for (const control of form.querySelectorAll("[data-required]")) {
    const empty = control.multiple ? control.selectedOptions.length === 0 : !control.value.trim();
    if (empty) errors.push({ path: control.name, message: control.dataset.required });
  }
  return errors;
}

// ------------------------------------------------------------------ finding people

function wirePeopleSearch(dialog) {
  const search = dialog.querySelector("[data-user-search]");
  const select = dialog.querySelector("[data-user-select]");
  if (!search || !select) return;
  let timer = null;
  let loaded = false;
  let latest = 0;
  const load = async () => {
    const query = search.value.trim();
    const mine = ++latest;
    try {
      const answer = await api("GET", `/api/users?limit=50${query ? `&q=${encodeURIComponent(query)}` : ""}`);
      if (mine !== latest) return; // a newer search is on its way; an older answer must not replace it
      fillPeople(select, answer.items || []);
      loaded = true;
    } catch (error) {
      showGeneral(dialog, error.message);
    }
  };
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(load, SEARCH_DELAY);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault(); // search, do not submit
      clearTimeout(timer);
      load();
    }
  });
  dialog.addEventListener("focusin", () => loaded || load(), { once: true });
}

/** Replace the options by `people`, keeping those already chosen. */
function fillPeople(select, people) {
  const chosen = [...select.selectedOptions].filter((o) => o.value);
  const keep = new Set(chosen.map((o) => o.value));
  for (const option of [...select.options]) {
    if (option.value && !keep.has(option.value)) option.remove();
  }
  for (const person of people) {
    if (keep.has(String(person.id))) continue;
    const option = document.createElement("option");
    option.value = String(person.id);
    option.textContent = person.email ? `${person.name || person.email} <${person.email}>` : person.name;
    select.append(option);
  }
}

// ------------------------------------------------------------------ the task's actions

function bodyOf(action, form, record) {
  const data = new FormData(form);
  const body = {};
  const comment = (data.get("comment") || "").trim();
  if (comment) body.comment = comment;
  if (action === "approve" && record) {
    const editable = new Set((record.dataset.editable || "").split(" ").filter(Boolean));
    const values = Object.fromEntries(Object.entries(readValues(record)).filter(([key]) => editable.has(key)));
    if (Object.keys(values).length) body.values = values;
  }
  if (action === "return") body.target = data.get("target") || "submitter";
  if (action === "transfer" || action === "delegate") body.to = Number(data.get("to"));
  if (action === "add_signer") {
    body.users = data.getAll("users").map(Number);
    body.position = data.get("position") || "after";
  }
  return body;
}

function showApproveErrors(dialog, record, errors) {
  const atValues = errors.filter((e) => (e.path || "").startsWith("values."));
  const others = errors.filter((e) => !(e.path || "").startsWith("values."));
  if (record) {
    clearErrors(record);
    showErrors(record, atValues);
  }
  const list = dialog.querySelector("[data-values-errors]");
  if (list) {
    for (const error of atValues) {
      const key = error.path.slice("values.".length).split(/[.[]/)[0];
      const wrapper = record && record.querySelector(`[data-field="${CSS.escape(key)}"] label, [data-field="${CSS.escape(key)}"] legend`);
      const item = document.createElement("li");
      item.textContent = `${wrapper ? wrapper.textContent.replace(/\s*\*$/, "") : key}: ${error.message}`;
      list.append(item);
    }
  }
  return others;
}

function wireTaskDialog(root, dialog, record) {
  const action = dialog.dataset.action;
  const form = dialog.querySelector("[data-action-form]");
  wireClose(dialog);
  wirePeopleSearch(dialog);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearDialogErrors(dialog);
    const before = missing(form);
    if (before.length) {
      placeErrors(dialog, before);
      focusFirstInvalid(dialog);
      return;
    }
    const submit = form.querySelector("[data-submit]");
    submit.disabled = true;
    try {
      await api("POST", `/api/tasks/${root.dataset.taskId}/${action}`, bodyOf(action, form, record));
      window.location.assign(`${root.dataset.doneUrl || "/tasks"}?done=${DONE[action] || action}`);
    } catch (error) {
      const all = localise(error.errors, meta);
      const rest = action === "approve" ? showApproveErrors(dialog, record, all) : all;
      const left = placeErrors(dialog, rest);
      const placed = all.length - left.length;
      const detail = left.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join(" ");
      showGeneral(dialog, placed && !detail ? "" : `${error.message} ${detail}`.trim());
      focusFirstInvalid(dialog);
    } finally {
      submit.disabled = false;
    }
  });
}

const metaElement = document.getElementById("form-meta");
const meta = metaElement ? JSON.parse(metaElement.textContent) : {};

/** What the step does not let the rows of an editable subform do is not offered (the server refuses it too). */
function applyRowRules(record) {
  const rules = JSON.parse(record.dataset.rowRules || "{}");
  for (const [key, rule] of Object.entries(rules)) {
    const subform = record.querySelector(`[data-field="${CSS.escape(key)}"][data-reads="rows"]`);
    if (!subform) continue;
    if (!rule.add) for (const button of subform.querySelectorAll("[data-add-row]")) button.hidden = true;
    for (const row of subform.querySelectorAll("tr[data-row-id]")) {
      if (!rule.delete) for (const button of row.querySelectorAll("[data-remove-row]")) button.hidden = true;
      if (!rule.edit) for (const cell of row.querySelectorAll("td.field")) cell.inert = true;
    }
  }
}

function setupTask(root) {
  const record = root.querySelector("[data-task-record]");
  if (record && metaElement && record.querySelector("[data-field]")) setupFields(record, meta);
  if (record) applyRowRules(record);
  for (const dialog of root.querySelectorAll("dialog[data-action]")) wireTaskDialog(root, dialog, record);
  for (const button of root.querySelectorAll("[data-open-dialog]")) {
    const dialog = root.querySelector(`dialog[data-action="${CSS.escape(button.dataset.openDialog)}"]`);
    if (dialog) button.addEventListener("click", () => openDialog(dialog, button));
  }
}

// ------------------------------------------------------------------ withdraw and urge

function setupFlowButtons(box) {
  const url = box.dataset.recordUrl;
  const urge = box.querySelector('[data-flow-action="urge"]');
  if (urge) {
    urge.addEventListener("click", async () => {
      urge.disabled = true;
      try {
        await api("POST", `${url}/urge`);
        announce(box.dataset.urged || "", "success");
      } catch (error) {
        announce(error.message, "error");
      } finally {
        urge.disabled = false;
      }
    });
  }
  const withdraw = box.querySelector('[data-flow-action="withdraw"]');
  const dialog = box.querySelector('dialog[data-confirm="withdraw"]');
  if (!withdraw || !dialog) return;
  wireClose(dialog);
  withdraw.addEventListener("click", () => openDialog(dialog, withdraw));
  const form = dialog.querySelector("[data-action-form]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearDialogErrors(dialog);
    const submit = form.querySelector("[data-submit]");
    submit.disabled = true;
    const comment = (new FormData(form).get("comment") || "").trim();
    try {
      await api("POST", `${url}/withdraw`, comment ? { comment } : {});
      window.location.assign("/tasks?box=submitted&done=withdrawn");
    } catch (error) {
      const left = placeErrors(dialog, error.errors || []);
      showGeneral(dialog, left.map((e) => e.message).join(" ") || error.message);
    } finally {
      submit.disabled = false;
    }
  });
}

for (const root of document.querySelectorAll("[data-task]")) setupTask(root);
for (const box of document.querySelectorAll("[data-flow-buttons]")) setupFlowButtons(box);
