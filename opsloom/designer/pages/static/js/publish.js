// The publish page: while a publish that converts records in batches runs, show how far it has got.
// The page works without this module (the form posts, the server answers with the result).

const POLL_MS = 700;

function follow(form) {
  const box = form.querySelector("[data-progress]");
  const text = form.querySelector("[data-progress-text]");
  const bar = form.querySelector("[data-progress-bar]");
  const template = form.querySelector("[data-progress-message]").innerHTML;
  const lastJob = Number(form.dataset.lastJob || 0);
  box.hidden = false;
  const poll = async () => {
    try {
      const response = await fetch(form.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const job = await response.json();
        if (job.job > lastJob && job.total > 0) {
          bar.max = job.total;
          bar.value = job.done;
          text.textContent = template.replace("{done}", job.done).replace("{total}", job.total);
        }
      }
    } catch {
      // The page is going to the answer; nothing to show.
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}

for (const form of document.querySelectorAll("form[data-publish]")) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.busy) {
      event.preventDefault(); // one publish at a time
      return;
    }
    if (!event.submitter || !event.submitter.hasAttribute("data-publish-button")) return;
    form.dataset.busy = "true";
    for (const button of form.querySelectorAll("button[type=submit]")) {
      if (button !== event.submitter) button.disabled = true;
    }
    event.submitter.setAttribute("aria-busy", "true");
    follow(form);
  });
}
