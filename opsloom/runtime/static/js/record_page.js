/**
 * The buttons of a record's page: submit to the flow, delete. (Withdraw and
 * remind are templates/flow_buttons.html, handled by task.js.) Each asks the
 * API; a refusal is announced in the page's live region.
 */

import { api, ApiError, announce } from "/static/js/api.js";

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
