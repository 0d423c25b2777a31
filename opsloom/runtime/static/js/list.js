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
