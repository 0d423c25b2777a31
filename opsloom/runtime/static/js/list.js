/**
 * The record list's filter bar, enhanced: add and remove condition rows, and
 * let the operators and the value input follow the chosen field. Without this
 * script the bar still works as a plain GET form (one empty row per visit).
 *
 * Each field <option> carries data-filter = {"ops": [...], "inputs": {op: kind},
 * "options": [[value, label], ...]}; the form carries data-op-labels = {op: label}.
 * Every row always submits exactly one f_field, f_op and f_value, so the
 * server can pair them up by position.
 */

function fieldInfo(row) {
  const select = row.querySelector('[data-role="field"]');
  const raw = select.selectedOptions[0] ? select.selectedOptions[0].dataset.filter : "";
  return raw ? JSON.parse(raw) : null;
}

function valueControl(kind, options, id, labels) {
  let control;
  if (kind === "select" || kind === "boolean") {
    control = document.createElement("select");
    const choices = kind === "boolean" ? [["true", labels.yes], ["false", labels.no]] : [["", "—"], ...options];
    for (const [value, label] of choices) control.add(new Option(label, value));
  } else {
    control = document.createElement("input");
    control.type = kind === "none" ? "hidden" : kind;
    if (kind === "number") control.step = "any";
  }
  control.name = "f_value";
  control.id = id;
  return control;
}

function refreshOps(bar, row) {
  const info = fieldInfo(row);
  const select = row.querySelector('[data-role="op"]');
  const labels = JSON.parse(bar.dataset.opLabels || "{}");
  const current = select.value;
  const ops = info ? info.ops : Object.keys(labels);
  select.replaceChildren(...ops.map((op) => new Option(labels[op] || op, op)));
  if (ops.includes(current)) select.value = current;
  refreshValue(bar, row);
}

function refreshValue(bar, row) {
  const info = fieldInfo(row);
  const op = row.querySelector('[data-role="op"]').value;
  const slot = row.querySelector('[data-role="value"]');
  const old = slot.querySelector('[name="f_value"]');
  const kind = info ? info.inputs[op] || "text" : "text";
  const labels = { yes: bar.dataset.yes || "Yes", no: bar.dataset.no || "No" };
  const control = valueControl(kind, info ? info.options : [], old.id, labels);
  if (old.tagName === control.tagName && old.type === control.type) return; // keep what was typed
  old.replaceWith(control);
}

function renumber(bar) {
  bar.querySelectorAll("[data-filter-row]").forEach((row, i) => {
    for (const role of ["field", "op", "value"]) {
      const control = role === "value" ? row.querySelector('[name="f_value"]') : row.querySelector(`[data-role="${role}"]`);
      const label = row.querySelector(`label[for="${control.id}"]`);
      control.id = `f-${role}-${i + 1}`;
      if (label) label.htmlFor = control.id;
    }
  });
}

function wire(bar, row) {
  row.querySelector('[data-role="field"]').addEventListener("change", () => refreshOps(bar, row));
  row.querySelector('[data-role="op"]').addEventListener("change", () => refreshValue(bar, row));
  const remove = row.querySelector('[data-role="remove"]');
  remove.hidden = false;
  remove.addEventListener("click", () => {
    const rows = bar.querySelectorAll("[data-filter-row]");
    if (rows.length > 1) {
      row.remove();
      renumber(bar);
    } else {
      row.querySelector('[data-role="field"]').value = "";
      refreshOps(bar, row);
    }
  });
}

function enhance(bar) {
  const list = bar.querySelector(".filter-rows");
  const rows = [...bar.querySelectorAll("[data-filter-row]")];
  const blank = rows[rows.length - 1].cloneNode(true);
  rows.forEach((row) => wire(bar, row));
  const add = bar.querySelector('[data-role="add"]');
  add.hidden = false;
  add.addEventListener("click", () => {
    const row = blank.cloneNode(true);
    list.append(row);
    wire(bar, row);
    renumber(bar);
    row.querySelector('[data-role="field"]').focus();
  });
}

document.querySelectorAll("[data-filter-bar]").forEach(enhance);

// ------------------------------------------------------------------ selected rows and their actions

function enhanceBulk(bar) {
  const all = document.querySelector("[data-bulk-all]");
  const boxes = [...document.querySelectorAll("[data-bulk-row]")];
  const count = bar.querySelector("[data-bulk-count]");
  const actions = [...bar.querySelectorAll("[data-bulk-action]")];
  const refresh = () => {
    const n = boxes.filter((box) => box.checked).length;
    const template = n === 1 ? bar.dataset.selectedOne : bar.dataset.selectedOther;
    count.textContent = template.replace("{count}", String(n));
    for (const button of actions) button.disabled = n === 0;
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
  };
  boxes.forEach((box) => box.addEventListener("change", refresh));
  if (all) {
    all.addEventListener("change", () => {
      boxes.forEach((box) => (box.checked = all.checked));
      refresh();
    });
  }
  bar.addEventListener("submit", (event) => {
    if (event.submitter && event.submitter.value === "delete" && !window.confirm(bar.dataset.confirmDelete)) {
      event.preventDefault();
    }
  });
  refresh();
}

// ------------------------------------------------------------------ the order of the columns a view shows

function enhanceColumnOrder(list) {
  const button = (text, name, step) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link-button move";
    b.textContent = step < 0 ? "↑" : "↓";
    b.setAttribute("aria-label", text.replace("{name}", name));
    b.addEventListener("click", () => {
      const item = b.closest("li");
      const other = step < 0 ? item.previousElementSibling : item.nextElementSibling;
      if (!other) return;
      if (step < 0) other.before(item);
      else other.after(item);
      b.focus();
    });
    return b;
  };
  for (const item of list.children) {
    const name = item.querySelector("span").textContent;
    item.append(button(list.dataset.up, name, -1), button(list.dataset.down, name, 1));
  }
}

// ------------------------------------------------------------------ column widths (pointer or arrow keys)

const MIN_WIDTH = 48;
const MAX_WIDTH = 1200;

function enhanceResize(table) {
  const widths = {};
  // Each <col> with data-key describes the header cell at its place.
  const cells = [...table.querySelector("thead tr").children];
  const heads = [...table.querySelectorAll("colgroup col")]
    .map((col, i) => [col, cells[i]])
    .filter(([col, th]) => col.dataset.key && th);
  const setWidth = (col, th, px) => {
    const width = Math.max(MIN_WIDTH, Math.min(MAX_WIDTH, Math.round(px)));
    th.style.width = `${width}px`;
    th.style.minWidth = `${width}px`;
    widths[col.dataset.key] = width;
    return width;
  };
  for (const [col, th] of heads) if (col.dataset.width) setWidth(col, th, Number(col.dataset.width));
  const keep = async () => {
    const text = JSON.stringify(widths);
    document.querySelectorAll("[data-widths-input]").forEach((input) => (input.value = text));
    if (!table.dataset.viewUrl) return;
    const { api, announce } = await import("./api.js");
    try {
      await api("PATCH", table.dataset.viewUrl, { widths });
      announce(table.dataset.resizeSaved);
    } catch (error) {
      announce(error.message, "error");
    }
  };
  for (const [col, th] of heads) {
    th.classList.add("resizable");
    const handle = document.createElement("span");
    handle.className = "col-resize";
    handle.tabIndex = 0;
    handle.setAttribute("role", "separator");
    handle.setAttribute("aria-orientation", "vertical");
    handle.setAttribute("aria-label", table.dataset.resizeLabel.replace("{name}", col.dataset.label));
    handle.setAttribute("aria-valuemin", String(MIN_WIDTH));
    handle.setAttribute("aria-valuemax", String(MAX_WIDTH));
    const show = () => handle.setAttribute("aria-valuenow", String(Math.round(th.getBoundingClientRect().width)));
    show();
    handle.addEventListener("keydown", (event) => {
      const step = event.shiftKey ? 64 : 16;
      const delta = { ArrowRight: step, ArrowLeft: -step }[event.key];
      if (!delta) return;
      event.preventDefault();
      setWidth(col, th, th.getBoundingClientRect().width + delta);
      show();
    });
    handle.addEventListener("keyup", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") keep();
    });
    handle.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      const startX = event.clientX;
      const startWidth = th.getBoundingClientRect().width;
      handle.setPointerCapture(event.pointerId);
      const move = (e) => {
        setWidth(col, th, startWidth + e.clientX - startX);
        show();
      };
      const up = () => {
        handle.removeEventListener("pointermove", move);
        handle.removeEventListener("pointerup", up);
        keep();
      };
      handle.addEventListener("pointermove", move);
      handle.addEventListener("pointerup", up);
    });
    th.append(handle);
  }
}

document.querySelectorAll("[data-bulk]").forEach(enhanceBulk);
document.querySelectorAll("[data-column-order]").forEach(enhanceColumnOrder);
document.querySelectorAll("table[data-records]").forEach(enhanceResize);
