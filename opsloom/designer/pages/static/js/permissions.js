// The permission matrix: a cell's condition shows when its scope is "condition"; the condition builder
// (./condition_builder.js, a Preact component taking {fields, value, onChange}) is mounted in each
// condition slot when it is there. Without it, existing conditions stay as read-only text and are kept.
// The people picker asks /api/users as one types.

const fieldLists = JSON.parse(document.getElementById("perm-fields")?.textContent || "{}");

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

async function mountConditionBuilders() {
  // The page names the builder's module only when the server has it.
  const url = document.querySelector("[data-condition-builder]")?.dataset.conditionBuilder;
  if (!url) return;
  const [module, { html, render }] = await Promise.all([import(url), import("/vendor/preact-htm.js")]);
  const Builder = module.ConditionBuilder || module.default;
  if (!Builder) return;
  for (const option of document.querySelectorAll("option[data-needs-builder]")) {
    option.hidden = false;
    option.disabled = false;
  }
  for (const slot of document.querySelectorAll("[data-condition-slot]")) {
    const input = slot.querySelector("[data-condition-json]");
    const mount = document.createElement("div");
    slot.querySelector(".condition-text")?.remove();
    slot.append(mount);
    const fields = fieldLists[slot.dataset.form] || [];
    const value = input.value ? JSON.parse(input.value) : null;
    const onChange = (next) => {
      input.value = next ? JSON.stringify(next) : "";
    };
    render(html`<${Builder} fields=${fields} value=${value} onChange=${onChange} />`, mount);
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
