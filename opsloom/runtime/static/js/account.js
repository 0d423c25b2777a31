/**
 * My settings: out-of-office delegation (PUT/DELETE /api/me/delegation) and
 * my password (POST /api/auth/password). Problems are shown at their fields.
 */

import { api, ApiError, announce, scriptReady } from "/static/js/api.js";
import { setupFields, readValues, showErrors, clearErrors, focusFirstError, localise } from "/static/js/fields.js";

const meta = JSON.parse(document.getElementById("form-meta").textContent);

/** A datetime-local value (the browser's clock) as an instant the API reads unambiguously. */
function instant(local) {
  if (!local) return null;
  const moment = new Date(local);
  return Number.isNaN(moment.getTime()) ? local : moment.toISOString();
}

function refused(form, error) {
  if (!(error instanceof ApiError)) throw error;
  const errors = localise(error.errors.length ? error.errors : [{ path: "$", message: error.message }], meta);
  const unplaced = showErrors(form, errors);
  if (unplaced.length) announce(unplaced.map((e) => e.message).join(" "), "error");
  focusFirstError(form);
}

const away = document.getElementById("delegation-form");
setupFields(away, meta);
away.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(away);
  const values = readValues(away);
  const body = { delegate_id: values.delegate_id, starts_at: instant(values.starts_at), ends_at: instant(values.ends_at) };
  try {
    await api("PUT", "/api/me/delegation", body);
    window.location.assign("/me?saved=away");
  } catch (error) {
    refused(away, error);
  }
});

const end = document.querySelector("[data-end-delegation]");
if (end) {
  end.addEventListener("click", async () => {
    try {
      await api("DELETE", "/api/me/delegation");
      window.location.assign("/me?saved=away_ended");
    } catch (error) {
      announce(error.message, "error");
    }
  });
}

const password = document.getElementById("password-form");
password.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(password);
  try {
    await api("POST", "/api/auth/password", readValues(password));
    password.reset();
    announce(password.dataset.saved);
  } catch (error) {
    refused(password, error);
  }
});
scriptReady(away);
scriptReady(password);
