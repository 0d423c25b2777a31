/**
 * The widgets of a record form (templates/widgets.html) in the browser.
 *
 *     const fields = setupFields(root, meta);   // pickers, rows, files, live rules
 *     readValues(root)                          // {key: value} as the API takes it
 *     showErrors(root, problem.errors)          // [{path, message}] at their fields
 *
 * DOM contract: a field is a wrapper [data-field=KEY][data-widget=WIDGET]
 * (templates/widgets/WIDGET.html) holding its control ([data-control]) and a
 * [data-error] paragraph; a read-only one carries [data-locked]. Its
 * [data-reads] says how its value is read (see readField). A picker is
 * [data-picker=record|user|department] ([data-multiple] when it takes several).
 * Subform rows are tr[data-row] (stored ones with data-row-id) in
 * tbody[data-rows], cloned from template[data-row-template].
 * `meta` is field_views.form_meta(): {fields: {key: {kind, options, rules,
 * fields (subform columns)}}, context: {now, timeZone, user}, preview: URL,
 * values: the stored record, for rules about fields shown only as text}.
 *
 * Rules (visible_when, readonly_when, required_when) are evaluated here by
 * conditions.js as the user types, on the values as they would be saved and
 * the formulas the server last computed; the server checks them again on save.
 * Formulas are computed by the server (POST meta.preview), so totals are exact
 * decimals formatted for the reader's locale.
 */

import { evaluate } from "/static/js/conditions.js";
import { api, ApiError } from "/static/js/api.js";
import { setupImages, setupSignature } from "/static/js/pictures.js";

const PICKER_LIMIT = 10;
let rowCounter = 0;

// ------------------------------------------------------------------ reading

/** The field wrappers directly under `scope` (not those inside subform rows or nested fields). */
function ownFields(scope) {
  return [...scope.querySelectorAll("[data-field]")].filter((el) => {
    const parent = el.parentElement.closest("[data-field], [data-row]");
    return parent === null || !scope.contains(parent) || parent === scope;
  });
}

function control(wrapper) {
  return wrapper.querySelector("[data-control]");
}

function chipIds(wrapper) {
  return [...wrapper.querySelectorAll("[data-chips] > [data-id]")].map((chip) => Number(chip.dataset.id));
}

/**
 * One field's value as the API takes it, read as its wrapper's [data-reads]
 * says; undefined when it is not sent (computed, read-only).
 */
export function readField(wrapper) {
  const reads = wrapper.dataset.reads || "text";
  if (reads === "nothing" || wrapper.hasAttribute("data-locked")) return undefined;
  const input = control(wrapper);
  switch (reads) {
    case "checked":
      return Boolean(input && input.checked);
    case "checked_values":
      return [...wrapper.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
    case "chips": {
      const picker = wrapper.querySelector("[data-picker]");
      return picker && picker.hasAttribute("data-multiple") ? chipIds(wrapper) : chipIds(wrapper)[0] ?? null;
    }
    case "files":
      return [...wrapper.querySelectorAll("[data-file-id]")].map((item) => Number(item.dataset.fileId));
    case "checked_value": {
      // a radio group: the checked radio's value ("" is none)
      const checked = wrapper.querySelector("input[type=radio]:checked");
      return checked && checked.value !== "" ? checked.value : null;
    }
    case "suffixed": {
      // the control's text with the unit it is typed before (a percentage's "%")
      const text = input ? input.value.trim() : "";
      const suffix = (input && input.dataset.suffix) || "";
      return text === "" ? null : text.endsWith(suffix) ? text : text + suffix;
    }
    case "html":
      // an editable area's markup; none when it holds no text (the server cleans the rest)
      return input && input.textContent.trim() !== "" ? input.innerHTML : null;
    case "parts": {
      // several named inputs ([data-part]) sent as one object; none when all are empty
      const parts = {};
      for (const part of wrapper.querySelectorAll("[data-part]")) parts[part.dataset.part] = part.value.trim() || null;
      return Object.values(parts).some((v) => v !== null) ? parts : null;
    }
    case "rows":
      return rowsOf(wrapper).map((row) => readRow(row));
    default: {
      // the control's text (numbers and dates too: the server reads them exactly)
      const text = input ? input.value : "";
      return text.trim() === "" ? null : text;
    }
  }
}

/** A subform: a field whose value is rows. */
function hasRows(wrapper) {
  return wrapper.dataset.reads === "rows";
}

function rowsOf(subform) {
  const body = subform.querySelector("[data-rows]");
  return body ? [...body.children].filter((row) => row.matches("[data-row]")) : [];
}

function readRow(row, leaveHidden = false) {
  const values = row.dataset.rowId ? { id: Number(row.dataset.rowId) } : {};
  for (const cell of ownFields(row)) {
    if (leaveHidden && cell.hidden) continue;
    const value = readField(cell);
    if (value !== undefined) values[cell.dataset.field] = value;
  }
  return values;
}

/**
 * The values of the fields under `root`, as the records API takes them. A field
 * its rules hide is left out: the server keeps a hidden field empty, and refuses
 * a value sent for it.
 */
export function readValues(root) {
  const values = {};
  for (const wrapper of ownFields(root)) {
    if (wrapper.hidden) continue;
    const value =
      hasRows(wrapper) && !wrapper.hasAttribute("data-locked")
        ? rowsOf(wrapper).map((row) => readRow(row, true))
        : readField(wrapper);
    if (value !== undefined) values[wrapper.dataset.field] = value;
  }
  return values;
}

// ------------------------------------------------------------------ errors

/**
 * Errors in the reader's language: a form's validation in its own words
 * (meta.messages), the server's commonest phrasings by how they start
 * (meta.words: [start, words, keep the rest]); anything else as the server wrote it.
 */
export function localise(errors, meta) {
  const messages = (meta && meta.messages) || {};
  const words = (meta && meta.words) || [];
  const translate = (message) => {
    if (messages[message]) return messages[message];
    for (const [start, text, keepRest] of words) {
      if (message.startsWith(start)) return keepRest ? text + message.slice(start.length) : text;
    }
    return message;
  };
  return (errors || []).map((error) => ({ ...error, message: translate(error.message || "") }));
}

/** The wrapper a problem's path names: "title", "items[2].qty", "values.amount". */
function wrapperAt(root, path) {
  const match = /^(?:values\.|records\[\d+\]\.)?([^.[\]]+)(?:\[(\d+)\](?:\.([^.[\]]+))?)?$/.exec(path || "");
  if (!match) return null;
  const [, key, index, column] = match;
  const field = ownFields(root).find((el) => el.dataset.field === key);
  if (!field || index === undefined) return field || null;
  const row = rowsOf(field)[Number(index)];
  if (!row) return field;
  if (!column) return row.querySelector("[data-field]") || field;
  return ownFields(row).find((el) => el.dataset.field === column) || field;
}

export function clearErrors(root) {
  for (const el of root.querySelectorAll(".has-error")) el.classList.remove("has-error");
  for (const el of root.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of root.querySelectorAll("[data-error]")) el.textContent = "";
  for (const el of root.querySelectorAll("[data-error-paths]")) {
    delete el.dataset.errorPaths;
    delete el.dataset.errorValue;
  }
}

function ownMessage(wrapper) {
  return [...wrapper.querySelectorAll("[data-error]")].find((p) => p.closest("[data-field]") === wrapper);
}

/**
 * Clear the errors of the fields the user has fixed since they were shown: their
 * value changed and the server's check of the draft (`problems`, from the
 * preview) no longer names them. Returns the paths whose errors went away.
 */
export function clearFixed(root, problems) {
  const open = new Set((problems || []).map((problem) => problem.path));
  const cleared = [];
  for (const wrapper of root.querySelectorAll(".has-error[data-error-paths]")) {
    const paths = wrapper.dataset.errorPaths.split(" ");
    if (paths.some((path) => open.has(path))) continue;
    if (JSON.stringify(readField(wrapper) ?? null) === wrapper.dataset.errorValue) continue;
    wrapper.classList.remove("has-error");
    const message = ownMessage(wrapper);
    if (message) message.textContent = "";
    const input = control(wrapper);
    if (input) input.removeAttribute("aria-invalid");
    delete wrapper.dataset.errorPaths;
    delete wrapper.dataset.errorValue;
    cleared.push(...paths);
  }
  return cleared;
}

/** Show each error at its field; returns the errors no field on the page could take. */
export function showErrors(root, errors) {
  const unplaced = [];
  for (const error of errors || []) {
    const wrapper = wrapperAt(root, error.path);
    if (!wrapper || wrapper.hidden) {
      unplaced.push(error);
      continue;
    }
    wrapper.classList.add("has-error");
    wrapper.dataset.errorPaths = [wrapper.dataset.errorPaths, error.path].filter(Boolean).join(" ");
    wrapper.dataset.errorValue = JSON.stringify(readField(wrapper) ?? null);
    const message = ownMessage(wrapper);
    if (message) message.textContent = message.textContent ? `${message.textContent}; ${error.message}` : error.message;
    const input = control(wrapper);
    if (input) input.setAttribute("aria-invalid", "true");
  }
  return unplaced;
}

/** Focus the first field showing an error, so keyboard and screen-reader users land on it. */
export function focusFirstError(root) {
  const wrapper = root.querySelector(".has-error");
  const target = wrapper && (wrapper.querySelector("[aria-invalid]") || wrapper.querySelector("input, select, textarea, button"));
  if (target) target.focus();
  return Boolean(target);
}

// ------------------------------------------------------------------ rules

function holds(condition, record, context, fields) {
  if (!condition) return false;
  try {
    return evaluate(condition, record, { ...context, fields });
  } catch (problem) {
    return false; // the server checks its rules on save either way
  }
}

function setLocked(wrapper, locked) {
  wrapper.toggleAttribute("data-locked", locked);
  for (const el of wrapper.querySelectorAll("input, select, textarea, button")) {
    if (!el.closest("[data-row]") || !hasRows(wrapper)) el.disabled = locked;
  }
  for (const el of wrapper.querySelectorAll("[contenteditable]")) {
    if (!el.closest("[data-row]") || !hasRows(wrapper)) el.setAttribute("contenteditable", String(!locked));
  }
}

/** A widget that needs a script names its module ([data-enhance]); the module's setup(element, changed) runs once. */
function enhance(scope, changed) {
  for (const el of scope.querySelectorAll("[data-enhance]")) {
    if (el.hasAttribute("data-enhanced")) continue;
    el.setAttribute("data-enhanced", "");
    import(el.dataset.enhance).then((widget) => widget.setup(el, changed));
  }
}

function setRequired(wrapper, required) {
  const label = wrapper.querySelector("label, legend");
  let mark = label && label.querySelector(".required");
  if (required && label && !mark) {
    mark = document.createElement("span");
    mark.className = "required";
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = " *";
    label.append(mark);
  } else if (!required && mark) {
    mark.remove();
  }
  const input = control(wrapper);
  if (input && required) input.setAttribute("aria-required", "true");
  else if (input) input.removeAttribute("aria-required");
}

function applyRules(wrappers, record, fields, context, ruleLocked) {
  for (const wrapper of wrappers) {
    const info = fields[wrapper.dataset.field];
    if (!info) continue;
    if (info.visible_when) wrapper.hidden = !holds(info.visible_when, record, context, fields);
    if (info.readonly_when && !ruleLocked.has(wrapper)) setLocked(wrapper, holds(info.readonly_when, record, context, fields));
    if (info.required_when) setRequired(wrapper, info.required || holds(info.required_when, record, context, fields));
  }
}

// ------------------------------------------------------------------ pickers

function optionLabel(kind, item, titleField) {
  if (kind === "record") return String(item[titleField] ?? "") || `#${item.id}`;
  if (kind === "department") return item.name || `#${item.id}`;
  return item.email ? `${item.name} (${item.email})` : item.name;
}

function addChip(picker, id, text) {
  const chips = picker.querySelector("[data-chips]");
  if (!picker.hasAttribute("data-multiple")) chips.replaceChildren();
  if (chips.querySelector(`[data-id="${CSS.escape(String(id))}"]`)) return;
  const chip = document.createElement("li");
  chip.className = "chip";
  chip.dataset.id = id;
  const name = document.createElement("span");
  name.textContent = text;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "chip-remove";
  remove.dataset.remove = "";
  remove.setAttribute("aria-label", `${document.documentElement.dataset.removeLabel || "Remove"} ${text}`);
  remove.textContent = "×";
  chip.append(name, remove);
  chips.append(chip);
}

function setupPicker(picker, changed) {
  const input = picker.querySelector("input[type=search]");
  const list = picker.querySelector("[role=listbox]");
  if (!input || !list) return;
  const kind = picker.dataset.picker;
  let timer = null;
  let active = -1;
  let items = [];

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const highlight = (index) => {
    const options = [...list.children];
    active = Math.max(0, Math.min(index, options.length - 1));
    options.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
    if (options[active]) {
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }
  };
  const choose = (index) => {
    const item = items[index];
    if (!item) return;
    addChip(picker, item.id, optionLabel(kind, item, picker.dataset.titleField));
    input.value = "";
    close();
    changed();
  };
  let latest = 0;
  const search = async () => {
    const q = input.value.trim();
    const source = picker.dataset.source;
    const url = kind === "department" ? source : `${source}?${new URLSearchParams({ q, limit: String(PICKER_LIMIT) })}`;
    const mine = ++latest;
    let found = [];
    try {
      const data = await api("GET", url);
      found = (data.items || []).filter((item) => kind !== "department" || !q || (item.name || "").includes(q)).slice(0, PICKER_LIMIT);
    } catch (error) {
      found = [];
    }
    if (mine !== latest) return; // an older search answering late must not replace a newer one
    items = found;
    list.replaceChildren(
      ...items.map((item, i) => {
        const option = document.createElement("li");
        option.id = `${list.id}-${i}`;
        option.setAttribute("role", "option");
        option.textContent = optionLabel(kind, item, picker.dataset.titleField);
        option.addEventListener("mousedown", (event) => {
          event.preventDefault();
          choose(i);
        });
        return option;
      }),
    );
    if (!items.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = document.documentElement.dataset.noMatch || "—";
      list.append(none);
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    if (items.length) highlight(0);
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
  input.addEventListener("focus", () => {
    if (!input.value) search();
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (list.hidden) search();
      else highlight(active + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active - 1);
    } else if (event.key === "Enter" && !list.hidden) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      close();
    }
  });
  picker.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove]");
    if (remove && picker.contains(remove)) {
      remove.closest("[data-id]").remove();
      input.focus();
      changed();
    }
  });
}

// ------------------------------------------------------------------ files

function setupFiles(box, changed) {
  const input = box.querySelector("input[type=file]");
  const list = box.querySelector("[data-file-list]");
  box.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove]");
    if (remove && box.contains(remove)) {
      remove.closest("[data-file-id]").remove();
      changed();
    }
  });
  if (!input) return;
  input.addEventListener("change", async () => {
    const wrapper = box.closest("[data-field]");
    const error = [...wrapper.querySelectorAll("[data-error]")].pop();
    if (error) error.textContent = "";
    for (const file of [...input.files]) {
      const body = new FormData();
      body.append("file", file);
      const item = document.createElement("li");
      item.textContent = `${file.name} …`;
      list.append(item);
      try {
        const stored = await api("POST", box.dataset.upload, body);
        item.dataset.fileId = stored.id;
        item.textContent = `${stored.name} `;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link-button";
        remove.dataset.remove = "";
        remove.textContent = box.dataset.removeLabel || "×";
        remove.setAttribute("aria-label", `${box.dataset.removeLabel || "Remove"} ${stored.name}`);
        item.append(remove);
      } catch (problem) {
        item.remove();
        const message = problem instanceof ApiError ? (problem.errors[0] || {}).message || problem.message : String(problem);
        if (error) error.textContent = `${file.name}: ${message}`;
        wrapper.classList.add("has-error");
      }
    }
    input.value = "";
    changed();
  });
}

// ------------------------------------------------------------------ subform rows

function renumber(subform) {
  rowsOf(subform).forEach((row, i) => {
    const number = row.querySelector("[data-row-number]");
    if (number) number.textContent = String(i + 1);
  });
}

function addRow(subform, setupRow) {
  const template = subform.querySelector("template[data-row-template]");
  const body = subform.querySelector("[data-rows]");
  rowCounter += 1;
  const html = template.innerHTML.replaceAll("__row__", `n${rowCounter}`);
  body.insertAdjacentHTML("beforeend", html);
  const row = body.lastElementChild;
  setupRow(row);
  renumber(subform);
  const first = row.querySelector("input:not([type=hidden]), select, textarea");
  if (first) first.focus();
  return row;
}

function setupSubform(subform, setupRow, changed) {
  const body = subform.querySelector("[data-rows]");
  subform.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || button.closest('[data-reads="rows"]') !== subform) return;
    const row = button.closest("[data-row]");
    if (button.hasAttribute("data-add-row")) {
      addRow(subform, setupRow);
    } else if (row && button.hasAttribute("data-remove-row")) {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      const focus = next ? next.querySelector("[data-remove-row]") : subform.querySelector("[data-add-row]");
      if (focus) focus.focus();
    } else if (row && button.dataset.move === "up" && row.previousElementSibling) {
      row.previousElementSibling.before(row);
      button.focus();
    } else if (row && button.dataset.move === "down" && row.nextElementSibling) {
      row.nextElementSibling.after(row);
      button.focus();
    } else {
      return;
    }
    renumber(subform);
    changed();
  });
  renumber(subform);
  if (body && subform.querySelector("template[data-row-template]")) {
    import("/vendor/sortable.esm.js")
      .then(({ default: Sortable }) =>
        Sortable.create(body, { handle: ".drag-handle", animation: 150, onEnd: () => { renumber(subform); changed(); } }),
      )
      .catch(() => {}); // dragging is a convenience: the arrow buttons do the same
  }
}

// ------------------------------------------------------------------ preview

function showComputed(root, preview) {
  for (const [key, text] of Object.entries(preview.text || {})) {
    const wrapper = ownFields(root).find((el) => el.dataset.field === key);
    const output = wrapper && wrapper.querySelector("output[data-computed]");
    if (output) output.textContent = text;
  }
  for (const [key, rows] of Object.entries(preview.rows || {})) {
    const wrapper = ownFields(root).find((el) => el.dataset.field === key);
    if (!wrapper) continue;
    rowsOf(wrapper).forEach((row, i) => {
      for (const [column, text] of Object.entries(rows[i] || {})) {
        const cell = ownFields(row).find((el) => el.dataset.field === column);
        const output = cell && cell.querySelector("output[data-computed]");
        if (output) output.textContent = text;
      }
    });
  }
}

// ------------------------------------------------------------------ setup

/**
 * Wire every widget under `root` and keep rules and computed values live;
 * `onFixed(paths)` hears of the errors that went away as the user fixed them.
 */
export function setupFields(root, meta, { onFixed } = {}) {
  const fields = meta.fields || {};
  const context = meta.context || { now: new Date().toISOString(), timeZone: "UTC", user: {} };
  const ruleLocked = new Set(ownFields(root).filter((w) => w.hasAttribute("data-locked") && !fields[w.dataset.field]?.readonly_when));
  let computed = { values: {}, rows: {} };
  let timer = null;
  let sequence = 0;

  const record = () => {
    const values = { ...(meta.values || {}), ...readAll(root), ...computed.values };
    for (const [key, rows] of Object.entries(computed.row_values || {})) {
      if (Array.isArray(values[key])) values[key] = values[key].map((row, i) => ({ ...row, ...(rows[i] || {}) }));
    }
    return values;
  };
  const rules = () => {
    const values = record();
    applyRules(ownFields(root), values, fields, context, ruleLocked);
    for (const subform of ownFields(root).filter(hasRows)) {
      const columns = (fields[subform.dataset.field] || {}).fields || {};
      rowsOf(subform).forEach((row, i) => {
        applyRules(ownFields(row), (values[subform.dataset.field] || [])[i] || {}, columns, context, new Set());
      });
    }
  };
  const preview = async () => {
    if (!meta.preview) return;
    const mine = ++sequence;
    try {
      const answer = await api("POST", meta.preview, { values: readAll(root), record_id: meta.record_id ?? null });
      if (mine !== sequence) return; // a newer preview is on its way
      computed = answer;
      showComputed(root, answer);
      rules();
      const cleared = clearFixed(root, answer.problems);
      if (cleared.length && onFixed) onFixed(cleared);
    } catch (error) {
      // the save will report what is wrong; a failed preview only leaves totals as they were
    }
  };
  const changed = () => {
    rules();
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  };
  const setupRow = (row) => {
    for (const picker of row.querySelectorAll("[data-picker]")) setupPicker(picker, changed);
    for (const box of row.querySelectorAll("[data-files]")) setupFiles(box, changed);
    enhance(row, changed);
    for (const box of row.querySelectorAll("[data-images]")) setupImages(box, changed);
    for (const box of row.querySelectorAll("[data-signature]")) setupSignature(box, changed);
  };

  for (const wrapper of ownFields(root)) {
    if (hasRows(wrapper)) setupSubform(wrapper, setupRow, changed);
  }
  setupRow(root);
  root.addEventListener("input", changed);
  root.addEventListener("change", changed);
  rules();
  if (meta.preview) preview();
  return { changed, preview, record };
}

/** readValues, but including read-only fields: what the rules and formulas see. */
function readAll(root) {
  const values = {};
  for (const wrapper of ownFields(root)) {
    const locked = wrapper.hasAttribute("data-locked");
    if (locked) wrapper.removeAttribute("data-locked");
    const value = readField(wrapper);
    if (locked) wrapper.setAttribute("data-locked", "");
    if (value !== undefined) values[wrapper.dataset.field] = value;
  }
  return values;
}
