/**
 * The app shell: the app's colour, the side navigation (collapsed on a
 * desktop, remembered; a drawer on a phone, closed by Escape or a tap outside)
 * and the counts of my to-dos and unread notifications in the top bar.
 */

import { api } from "/static/js/api.js";

const body = document.body;
const phone = window.matchMedia("(max-width: 47.99rem)");
const toggle = document.querySelector("[data-nav-toggle]");
const sidebar = document.getElementById("app-nav");
const COLLAPSED = "opsloom.sidebar.collapsed";

// Each app tile's icon in its app's colour.
for (const el of document.querySelectorAll(".app-icon[data-color]")) {
  if (/^#[0-9a-fA-F]{6}$/.test(el.dataset.color)) el.style.background = el.dataset.color;
}
for (const el of document.querySelectorAll("[data-app-color]")) {
  if (/^#[0-9a-fA-F]{6}$/.test(el.dataset.appColor)) document.documentElement.style.setProperty("--app-color", el.dataset.appColor);
}
for (const tile of document.querySelectorAll(".app-icon[data-color]")) {
  if (/^#[0-9a-fA-F]{6}$/.test(tile.dataset.color)) tile.style.setProperty("--app-color", tile.dataset.color);
}

function expanded() {
  return phone.matches ? body.classList.contains("nav-open") : !body.classList.contains("sidebar-collapsed");
}

function sync() {
  if (toggle) toggle.setAttribute("aria-expanded", String(expanded()));
}

function closeDrawer(focusToggle) {
  body.classList.remove("nav-open");
  sync();
  if (focusToggle && toggle) toggle.focus();
}

if (toggle && sidebar) {
  toggle.hidden = false;
  if (localStorage.getItem(COLLAPSED) === "1") body.classList.add("sidebar-collapsed");
  toggle.addEventListener("click", () => {
    if (phone.matches) {
      body.classList.remove("sidebar-collapsed");
      body.classList.toggle("nav-open");
      if (body.classList.contains("nav-open")) {
        const current = sidebar.querySelector("[aria-current]") || sidebar.querySelector("a");
        if (current) current.focus();
      }
    } else {
      body.classList.toggle("sidebar-collapsed");
      localStorage.setItem(COLLAPSED, body.classList.contains("sidebar-collapsed") ? "1" : "0");
    }
    sync();
  });
  document.querySelector("[data-nav-close]")?.addEventListener("click", () => closeDrawer(true));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && body.classList.contains("nav-open")) closeDrawer(true);
  });
  phone.addEventListener("change", () => {
    body.classList.remove("nav-open");
    body.classList.toggle("sidebar-collapsed", !phone.matches && localStorage.getItem(COLLAPSED) === "1");
    sync();
  });
  if (phone.matches) body.classList.remove("sidebar-collapsed");
  sync();
}

function showCount(name, count, cap = 99) {
  const badge = document.querySelector(`[data-count="${name}"]`);
  if (!badge) return;
  badge.textContent = count > cap ? `${cap}+` : String(count);
  badge.hidden = !count;
}

if (document.querySelector("[data-count]")) {
  api("GET", "/api/tasks/counts")
    .then((counts) => showCount("pending", counts.pending || 0))
    .catch(() => {});
  api("GET", "/api/notifications/counts")
    .then((counts) => showCount("unread", counts.unread || 0))
    .catch(() => {});
}
