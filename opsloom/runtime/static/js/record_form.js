/**
 * The record form page: create or edit a record through the records API.
 *
 * Save POSTs (or PATCHes with If-Match) the values fields.js reads; "save and
 * submit" then submits the record to its form's flow. A refusal shows each
 * problem+json error at its field and in a summary at the top that links to
 * the fields, and focus moves to the first one.
 */

import { api, ApiError, announce, scriptReady } from "/static/js/api.js";
import { setupFields, readValues, showErrors, clearErrors, focusFirstError, localise } from "/static/js/fields.js";

const form = document.getElementById("record-form");
const meta = JSON.parse(document.getElementById("form-meta").textContent);
const summary = form.querySelector("[data-error-summary]");
let submitter = "save";
let busy = false;

let shown = { errors: [], unplaced: [] }; // what the summary lists
setupFields(form, meta, {
  onFixed: (paths) => {
    const fixed = (error) => paths.includes(error.path);
    showSummary(shown.errors.filter((e) => !fixed(e)), shown.unplaced.filter((e) => !fixed(e)));
  },
});

for (const button of form.querySelectorAll("button[data-action]")) {
  button.addEventListener("click", () => {
    submitter = button.dataset.action;
  });
}

function labelText(wrapper) {
  const label = wrapper && wrapper.querySelector("label, legend");
  return label ? label.textContent.replace(/\s*\*\s*$/, "").trim() : "";
}

/** "Line items 2 · Quantity" for items[1].qty, "Title" for title. */
function fieldLabel(path) {
  const match = /^([^.[\]]+)(?:\[(\d+)\](?:\.([^.[\]]+))?)?/.exec(path || "");
  if (!match) return "";
  const wrapper = form.querySelector(`[data-field="${CSS.escape(match[1])}"]`);
  const name = labelText(wrapper);
  if (match[2] === undefined) return name;
  const column = match[3] && wrapper && wrapper.querySelector(`tr[data-row] [data-field="${CSS.escape(match[3])}"]`);
  return `${name} ${Number(match[2]) + 1}${column ? ` · ${labelText(column)}` : ""}`;
}

function showSummary(errors, unplaced) {
  shown = { errors, unplaced };
  const list = summary.querySelector("[data-error-list]");
  list.replaceChildren(
    ...errors.map((error) => {
      const item = document.createElement("li");
      const name = fieldLabel(error.path);
      const target = !unplaced.includes(error) && form.querySelector(`[data-field="${CSS.escape((/^([^.[\]]+)/.exec(error.path) || [])[1] || "")}"]`);
      if (target) {
        const link = document.createElement("a");
        link.href = "#";
        link.textContent = name ? `${name}: ${error.message}` : error.message;
        link.addEventListener("click", (event) => {
          event.preventDefault();
          const input = target.querySelector("[aria-invalid], input, select, textarea");
          if (input) input.focus();
        });
        item.append(link);
      } else {
        item.textContent = name ? `${name}: ${error.message}` : error.message;
      }
      return item;
    }),
  );
  summary.hidden = errors.length === 0;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (busy) return;
  busy = true;
  clearErrors(form);
  summary.hidden = true;
  const values = readValues(form);
  const recordId = form.dataset.recordId;
  try {
    const saved = recordId
      ? await api("PATCH", `${form.dataset.records}/${recordId}`, values, { "If-Match": `"${form.dataset.version}"` })
      : await api("POST", form.dataset.records, values);
    let notice = "saved";
    if (submitter === "submit") {
      await api("POST", `${form.dataset.records}/${saved.id}/submit`, {}, { "Idempotency-Key": `submit-${saved.id}-${saved.version}` });
      notice = "submitted";
    }
    window.location.assign(`${form.dataset.detail}${saved.id}?notice=${notice}`);
  } catch (error) {
    busy = false;
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 412) {
      announce(form.dataset.stale, "error");
      return;
    }
    const errors = localise(error.errors.length ? error.errors : [{ path: "$", message: error.message }], meta);
    const unplaced = showErrors(form, errors);
    showSummary(errors, unplaced);
    if (!focusFirstError(form)) summary.focus();
    announce(""); // the summary (an alert) says it: one banner, not two
  }
});
scriptReady(form);
