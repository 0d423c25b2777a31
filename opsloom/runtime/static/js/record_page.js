/**
 * The buttons of a record's page: submit to the flow, delete (withdraw and
 * remind are templates/flow_buttons.html, handled by task.js), and a comment
 * on its flow that may tell people by @. Each asks the
 * API; a refusal is announced in the page's live region.
 */

import { api, ApiError, announce, scriptReady } from "/static/js/api.js";
import { setupFields, readValues, showErrors, clearErrors, focusFirstError } from "/static/js/fields.js";

const actions = document.getElementById("record-actions");

async function run(action) {
  const record = actions.dataset.record;
  if (action === "delete") {
    if (!window.confirm(actions.dataset.confirmDelete)) return;
    await api("DELETE", record, undefined, { "If-Match": `"${actions.dataset.version}"` });
    window.location.assign(`${actions.dataset.list}?notice=deleted`);
    return;
  }
  await api("POST", `${record}/submit`, {}, { "Idempotency-Key": `submit-${actions.dataset.version}-${Date.now()}` });
  window.location.assign(`${window.location.pathname}?notice=submitted`);
}

if (actions) {
  actions.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-record-action]");
    if (!button) return;
    button.disabled = true;
    try {
      await run(button.dataset.recordAction);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const detail = error.errors.map((e) => e.message).join(" ");
      announce(detail ? `${error.message} ${detail}` : error.message, "error");
    } finally {
      button.disabled = false;
    }
  });
}

// A comment on the record's flow, optionally telling people by @ (they get a notification).
const comments = document.getElementById("comment-form");
if (comments) {
  const meta = { fields: {}, words: [] };
  setupFields(comments, meta);
  comments.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(comments);
    const { text, mentions } = readValues(comments);
    const picked = comments.querySelector("#comment-files");
    const files = [];
    try {
      // Each file is uploaded first; the comment then names the uploads, which the record keeps.
      for (const file of picked ? picked.files : []) {
        const body = new FormData();
        body.append("file", file);
        files.push((await api("POST", picked.dataset.upload, body)).id);
      }
    } catch (error) {
      showErrors(comments, [{ path: "files", message: error.message }]);
      focusFirstError(comments);
      return;
    }
    try {
      await api("POST", comments.dataset.comments, { text: text || "", mentions: mentions || [], files }, {
        "Idempotency-Key": `comment-${Date.now()}-${Math.random().toString(36).slice(2)}`,
      });
      window.location.assign(`${window.location.pathname}?notice=commented`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const errors = error.errors.length ? error.errors : [{ path: "text", message: error.message }];
      const unplaced = showErrors(comments, errors);
      if (unplaced.length) announce(unplaced.map((e) => e.message).join(" "), "error");
      focusFirstError(comments);
    }
  });
  scriptReady(comments);
}
