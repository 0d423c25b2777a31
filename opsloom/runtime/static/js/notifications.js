/** "Mark all as read" on the notifications page: POST /api/notifications/read, then show the page again. */

import { api, announce } from "/static/js/api.js";

const button = document.querySelector("[data-mark-read]");
if (button) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", "/api/notifications/read");
      window.location.reload();
    } catch (error) {
      button.disabled = false;
      announce(error.message, "error");
    }
  });
}
