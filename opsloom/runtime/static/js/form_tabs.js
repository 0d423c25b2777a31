// Tabs of a record form or page: consecutive sections carrying the same data-tab label become one tab.
// Without this script the sections simply follow one another, so nothing is ever out of reach.
// A field with an error switches to its tab, so a refused save never hides the reason.

function groups(root) {
  const found = [];
  for (const section of root.querySelectorAll("section[data-tab]")) {
    const last = found[found.length - 1];
    const name = section.dataset.tab;
    if (last && last.name === name) {
      last.sections.push(section);
    } else {
      found.push({ name, sections: [section] });
    }
  }
  return found;
}

function install(root) {
  const tabs = groups(root);
  if (tabs.length < 2) return;
  const list = document.createElement("div");
  list.className = "form-tabs";
  list.setAttribute("role", "tablist");
  const buttons = tabs.map((tab, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.id = `form-tab-${i}`;
    button.setAttribute("role", "tab");
    button.textContent = tab.name;
    tab.sections.forEach((section, j) => {
      section.id ||= `form-tab-${i}-panel-${j}`;
      section.setAttribute("role", "tabpanel");
      section.setAttribute("aria-labelledby", button.id);
    });
    button.setAttribute("aria-controls", tab.sections.map((s) => s.id).join(" "));
    button.addEventListener("click", () => select(i));
    button.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      const next = (i + step + tabs.length) % tabs.length;
      select(next);
      buttons[next].focus();
    });
    list.append(button);
    return button;
  });
  function select(chosen) {
    tabs.forEach((tab, i) => {
      buttons[i].setAttribute("aria-selected", String(i === chosen));
      buttons[i].tabIndex = i === chosen ? 0 : -1;
      for (const section of tab.sections) section.hidden = i !== chosen;
    });
  }
  tabs[0].sections[0].before(list);
  select(0);
  // An error shown in a hidden tab: bring its tab forward.
  new MutationObserver(() => {
    const wrong = root.querySelector("[data-error]:not(:empty)");
    const index = tabs.findIndex((tab) => tab.sections.some((s) => wrong && s.contains(wrong)));
    if (index >= 0 && tabs[index].sections.every((s) => s.hidden)) select(index);
  }).observe(root, { subtree: true, childList: true, characterData: true });
}

install(document.querySelector("#record-form") || document.querySelector("main") || document.body);
