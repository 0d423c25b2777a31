/**
 * Talking to the Opsloom API from a page: the session cookie goes along by
 * itself, the CSRF token comes from the page's <meta name="csrf-token">, and a
 * refusal arrives as an ApiError carrying the problem+json body, whose
 * `errors` ([{path, message}]) the page shows at the fields they name.
 */

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.errors = (problem && problem.errors) || [];
  }
}

/**
 * A form that only its module can send has its submit buttons disabled in the
 * page, so a click that lands before the module attached cannot post the form
 * natively (a reload that would lose what was typed). The module calls this
 * once its submit handler is in place.
 */
export function scriptReady(form) {
  for (const button of form.querySelectorAll("[data-script-ready]")) button.disabled = false;
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** fetch() a JSON API route; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function api(method, url, body, headers = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, { title: document.documentElement.dataset.offline || "Network error" });
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Show a message in the page's live region so screen readers announce it too. */
export function announce(text, kind = "info") {
  const region = document.getElementById("flash");
  if (!region) return;
  region.textContent = text;
  region.dataset.kind = kind;
  region.hidden = !text;
}
