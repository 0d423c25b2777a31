/**
 * A dashboard: its reports and process views on a CSS grid (x, y, w, h of the document; one column on a phone), the shared
 * filters, refresh, full screen, cross-filtering and a PNG of each chart.
 *
 * One small store holds what the viewer chose (shared filters, the point clicked); every change renders the
 * items again from it. Each item comes from the server as a fragment (`data-fragment`) (its table or pivot rendered there,
 * its chart's data as JSON), fetched with the shared filters; a click on a chart point filters the other
 * reports by that point's dimension values (the point's `cross` condition).
 */
import { drawCharts, resizeAll } from "/static/js/report_view.js";

const root = document.getElementById("dashboard");
const boot = JSON.parse(document.getElementById("dashboard-boot").textContent);
const grid = root.querySelector(".dashboard-grid");
const form = root.querySelector("[data-filters]");
const crossBar = root.querySelector("[data-cross]");
const ROW_HEIGHT = 72; // px per grid row unit

const state = { shared: {}, cross: null }; // cross: {item, condition, text, href}
const charts = new Map(); // item index -> ECharts instances

function place() {
  grid.style.setProperty("--columns", grid.dataset.columns || "12");
  grid.style.setProperty("--row-height", `${ROW_HEIGHT}px`);
  for (const item of grid.querySelectorAll("[data-item]")) {
    const { x, y, w, h } = item.dataset;
    item.style.setProperty("--x", String(Number(x) + 1));
    item.style.setProperty("--y", String(Number(y) + 1));
    item.style.setProperty("--w", w);
    item.style.setProperty("--h", h);
  }
}

function sharedFromForm() {
  const shared = {};
  if (!form) return shared;
  const data = new FormData(form);
  const period = data.get("period");
  if (period === "custom") {
    if (data.get("from") && data.get("to")) shared.date_range = { from: data.get("from"), to: data.get("to") };
  } else if (period === "last_30" || period === "last_90") {
    shared.date_range = { period: "last_n_days", days: period === "last_30" ? 30 : 90 };
  } else if (period) {
    shared.date_range = { period };
  }
  const department = data.get("department");
  if (department) shared.department = department === "current" ? "current" : Number(department);
  const parts = [];
  for (const input of form.querySelectorAll("[data-field]")) {
    const value = input.value.trim();
    if (value) parts.push({ field: input.dataset.field, op: "eq", value });
  }
  if (parts.length) shared.filter = parts.length === 1 ? parts[0] : { and: parts };
  return shared;
}

function filtersFor(index) {
  const shared = { ...state.shared };
  if (state.cross && state.cross.item !== index) {
    const parts = [shared.filter, state.cross.condition].filter(Boolean);
    shared.filter = parts.length === 1 ? parts[0] : { and: parts };
  }
  return shared;
}

async function loadItem(element) {
  const index = Number(element.dataset.item);
  const body = element.querySelector("[data-body]");
  const shared = filtersFor(index);
  const url = new URL(element.dataset.fragment, window.location.href);
  if (Object.keys(shared).length) url.searchParams.set("filters", JSON.stringify(shared));
  element.setAttribute("aria-busy", "true");
  let html;
  try {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    html = await response.text();
  } catch (error) {
    html = `<p class="report-error" role="alert">${document.documentElement.dataset.offline || "Network error"}</p>`;
  }
  for (const chart of charts.get(index) || []) chart.dispose();
  body.innerHTML = html;
  const drawn = drawCharts(body, (point) => crossFilter(index, element, point));
  charts.set(index, drawn);
  const png = element.querySelector("[data-png]");
  png.hidden = drawn.length === 0;
  element.toggleAttribute("data-cross-source", Boolean(state.cross && state.cross.item === index));
  element.removeAttribute("aria-busy");
}

function crossFilter(index, element, point) {
  if (!point.cross) {
    if (point.href) window.location.assign(point.href);
    return;
  }
  const title = element.querySelector("h2").textContent.trim();
  state.cross = { item: index, condition: point.cross, text: `${title}: ${point.labels.join(" · ")}`, href: point.href };
  render();
}

function renderCross() {
  crossBar.hidden = !state.cross;
  if (!state.cross) return;
  crossBar.querySelector("[data-cross-text]").textContent = `${crossBar.dataset.prefix || ""}${state.cross.text}`;
  const link = crossBar.querySelector("[data-cross-records]");
  link.hidden = !state.cross.href;
  if (state.cross.href) link.href = state.cross.href;
}

function render() {
  renderCross();
  return Promise.all([...grid.querySelectorAll("[data-item]")].map(loadItem)).then(() => {
    root.dataset.ready = "true";
  });
}

place();
state.shared = sharedFromForm();
if (form) {
  const toggleCustom = () => {
    const custom = form.elements.period && form.elements.period.value === "custom";
    for (const field of form.querySelectorAll("[data-custom-range]")) field.hidden = !custom;
  };
  toggleCustom();
  form.addEventListener("change", (event) => {
    if (event.target.name === "period") toggleCustom();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.shared = sharedFromForm();
    render();
  });
}
crossBar.querySelector("[data-cross-clear]").addEventListener("click", () => {
  state.cross = null;
  render();
});
root.querySelector("[data-refresh]").addEventListener("click", () => render());
const full = root.querySelector("[data-fullscreen]");
full.addEventListener("click", async () => {
  if (document.fullscreenElement) await document.exitFullscreen();
  else if (root.requestFullscreen) await root.requestFullscreen();
});
document.addEventListener("fullscreenchange", () => {
  full.setAttribute("aria-pressed", document.fullscreenElement ? "true" : "false");
  for (const list of charts.values()) resizeAll(list);
});
grid.addEventListener("click", (event) => {
  const button = event.target.closest("[data-png]");
  if (!button) return;
  const element = button.closest("[data-item]");
  const [chart] = charts.get(Number(element.dataset.item)) || [];
  if (!chart) return;
  const a = document.createElement("a");
  a.href = chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#ffffff" });
  a.download = `${element.dataset.name}.png`;
  document.body.append(a);
  a.click();
  a.remove();
});
window.addEventListener("resize", () => {
  for (const list of charts.values()) resizeAll(list);
});
render();
