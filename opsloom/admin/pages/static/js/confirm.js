/**
 * Forms that change something for good (deactivate a person, revoke a token) ask first:
 * `<form data-confirm="message">`. Without this module the form posts at once, as it did.
 */

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}
