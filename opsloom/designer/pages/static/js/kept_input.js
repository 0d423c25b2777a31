/**
 * A text input whose value is taken when the user commits it (Enter, or leaving the field: the `change`
 * event), and which keeps what is being typed until then.
 *
 * A plain controlled `<input value=${v} onChange=...>` loses typing: any re-render before the commit (an
 * autosave finishing, a sibling's edit) writes `v` back into the box, and the `change` event then never
 * fires. Here the typed text is the component's own state until it is committed or the field is left.
 *
 *   html`<${KeptInput} id="x" aria-label="Value" value=${text} onCommit=${(next) => save(next)} />`
 */
import { html, useState } from "/vendor/preact-htm.js";

export function KeptInput({ value, onCommit, ...attributes }) {
  const [typing, setTyping] = useState(null);
  return html`<input ...${attributes} value=${typing ?? value ?? ""}
    onInput=${(e) => setTyping(e.target.value)}
    onChange=${(e) => { setTyping(null); onCommit(e.target.value); }}
    onBlur=${() => setTyping(null)} />`;
}
