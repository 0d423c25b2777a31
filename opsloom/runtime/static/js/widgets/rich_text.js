/**
 * The rich text widget (templates/widgets/rich_text.html): an editable area
 * and a toolbar of formatting buttons. The browser's own editing commands do
 * the formatting (Ctrl+B and Ctrl+I work too); the server cleans whatever HTML
 * arrives (nh3), so nothing here needs to be trusted.
 *
 *     setup(box, changed)   // box: the [data-enhance] element; changed(): the form's values moved
 */

export function setup(box, changed) {
  const editor = box.querySelector("[data-editor]");
  const buttons = [...box.querySelectorAll("[data-command]")];
  if (!editor) return;
  const editable = () => editor.getAttribute("contenteditable") === "true";

  const showState = () => {
    for (const button of buttons) {
      if (!button.hasAttribute("aria-pressed")) continue;
      let on = false;
      try {
        on = editable() && editor.contains(document.getSelection().anchorNode) && document.queryCommandState(button.dataset.command);
      } catch (problem) {
        on = false;
      }
      button.setAttribute("aria-pressed", String(on));
    }
  };

  for (const button of buttons) {
    // keep the selection in the editor while the button is pressed
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", () => {
      if (!editable()) return;
      editor.focus();
      const command = button.dataset.command;
      if (command === "createLink") {
        const address = window.prompt(button.dataset.prompt || "https://", "https://");
        if (!address || !/^(https?:\/\/|mailto:)/i.test(address.trim())) return;
        document.execCommand("createLink", false, address.trim());
      } else {
        document.execCommand(command, false, null);
      }
      showState();
      changed();
    });
  }
  editor.addEventListener("focus", () => document.execCommand("defaultParagraphSeparator", false, "p"));
  editor.addEventListener("keyup", showState);
  editor.addEventListener("mouseup", showState);
  // pasted content arrives as plain text: formatting from elsewhere is rarely wanted and never trusted
  editor.addEventListener("paste", (event) => {
    if (!editable()) return;
    event.preventDefault();
    const text = (event.clipboardData || window.clipboardData).getData("text/plain");
    document.execCommand("insertText", false, text);
  });
}
