// App settings: the menu order moved by drag (SortableJS) or by the up/down buttons, which then move the
// item in place instead of posting; the icon and colour preview follows the choices.

import Sortable from "/vendor/sortable.esm.js";

const list = document.querySelector("[data-menu-order]");
const status = document.querySelector("[data-menu-status]");

function refresh() {
  const items = [...list.children];
  items.forEach((item, i) => {
    item.querySelector('[data-move="up"]').disabled = i === 0;
    item.querySelector('[data-move="down"]').disabled = i === items.length - 1;
  });
}

function announce(item) {
  const items = [...list.children];
  status.textContent = status.dataset.moved
    .replace("{form}", item.querySelector(".menu-name").textContent)
    .replace("{position}", String(items.indexOf(item) + 1))
    .replace("{count}", String(items.length));
}

if (list) {
  Sortable.create(list, {
    handle: ".drag-handle",
    animation: 150,
    onEnd: (event) => {
      refresh();
      announce(event.item);
    },
  });
  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-move]");
    if (!button) return;
    event.preventDefault();
    const item = button.closest("li");
    if (button.dataset.move === "up" && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (button.dataset.move === "down" && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    }
    refresh();
    // Keep the focus on the button pressed, or on its partner once the item reaches an end.
    const target = button.disabled ? item.querySelector(`[data-move="${button.dataset.move === "up" ? "down" : "up"}"]`) : button;
    target.focus();
    announce(item);
  });
}

const preview = document.querySelector("[data-preview-icon]");
const form = document.querySelector("[data-app-settings]");
if (preview && form) {
  const own = form.querySelector("[data-icon-own]");
  const colorOwn = form.querySelector("[data-color-own]");
  form.addEventListener("change", (event) => {
    const input = event.target;
    if (input.name === "icon" && input.type === "radio") {
      own.value = "";
      preview.textContent = input.value || input.nextElementSibling.textContent;
    } else if (input === own && own.value) {
      for (const radio of form.querySelectorAll('input[name="icon"][type="radio"]')) radio.checked = false;
      preview.textContent = own.value;
    } else if (input.name === "color" || input === colorOwn) {
      if (input === colorOwn) {
        for (const radio of form.querySelectorAll('input[name="color"]')) radio.checked = false;
      } else {
        colorOwn.value = input.value;
      }
      form.querySelector('[name="no_color"]').checked = false;
      preview.style.setProperty("--app-color", input.value);
    } else if (input.name === "no_color") {
      preview.style.setProperty("--app-color", input.checked ? "" : colorOwn.value);
    }
  });
}

for (const swatch of document.querySelectorAll(".swatch.color[data-color]")) {
  if (/^#[0-9a-fA-F]{6}$/.test(swatch.dataset.color)) swatch.style.setProperty("--swatch", swatch.dataset.color);
}
