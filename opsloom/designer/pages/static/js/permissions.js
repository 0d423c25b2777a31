// The permission matrix: a cell's condition shows when its scope is "condition"; the condition builder
// (./condition_builder.js) is mounted in each condition slot when it is there, with the form's fields as
// the builder offers them (from the field-type registry the page embeds) and the page's `cb.*` messages.
// Without it, existing conditions stay as read-only text and are kept.
// The people picker asks /api/users as one types.

const boot = JSON.parse(document.getElementById("perm-builder")?.textContent || "{}");

function slotOf(select) {
  return select.closest("td").querySelector("[data-condition-slot]");
}

for (const select of document.querySelectorAll("select[data-scope]")) {
  select.addEventListener("change", () => {
    const slot = slotOf(select);
    slot.hidden = select.value !== "condition";
    select.toggleAttribute("data-granted", select.value !== "");
  });
}

function translate(key) {
  const text = (boot.messages || {})[key];
  return typeof text === "string" ? text : key;
}

async function mountConditionBuilders() {
  // The page names the builder's module only when the server has it.
  const url = document.querySelector("[data-condition-builder]")?.dataset.conditionBuilder;
  if (!url) return;
  const [module, { html, render, useState }] = await Promise.all([import(url), import("/vendor/preact-htm.js")]);
  const { ConditionBuilder, builderFields } = module;
  if (!ConditionBuilder || !builderFields) return;
  // The builder shows what it is given: the cell keeps the condition and writes it to the hidden input.
  function Cell({ fields, initial, input, idPrefix }) {
    const [value, setValue] = useState(initial);
    const onChange = (next) => {
      input.value = next ? JSON.stringify(next) : "";
      setValue(next);
    };
    return html`<${ConditionBuilder} fields=${fields} value=${value} onChange=${onChange} t=${translate} idPrefix=${idPrefix} />`;
  }
  for (const option of document.querySelectorAll("option[data-needs-builder]")) {
    option.hidden = false;
    option.disabled = false;
  }
  for (const slot of document.querySelectorAll("[data-condition-slot]")) {
    const input = slot.querySelector("[data-condition-json]");
    const mount = document.createElement("div");
    slot.querySelector(".condition-text")?.remove();
    slot.append(mount);
    const formFields = (boot.forms || {})[slot.dataset.form] || [];
    const fields = builderFields(formFields, boot.field_types || [], boot.locale);
    const initial = input.value ? JSON.parse(input.value) : null;
    const idPrefix = `cb-${slot.dataset.form.replace("*", "all")}-${slot.dataset.action}`;
    render(html`<${Cell} fields=${fields} initial=${initial} input=${input} idPrefix=${idPrefix} />`, mount);
  }
}

mountConditionBuilders();

const search = document.querySelector("[data-people-search]");
if (search) {
  const list = document.getElementById(search.getAttribute("list"));
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    const q = search.value.trim();
    if (q.length < 1 || q.includes("<")) return;
    timer = setTimeout(async () => {
      const response = await fetch(`/api/users?limit=20&q=${encodeURIComponent(q)}`, {
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const { items } = await response.json();
      list.replaceChildren(
        ...items.map((person) => {
          const option = document.createElement("option");
          option.value = `${person.name} <${person.email}>`;
          return option;
        }),
      );
    }, 250);
  });
}

const problem = document.getElementById("perm-problem");
if (problem) problem.focus();
