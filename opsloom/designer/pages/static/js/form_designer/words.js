/** The designer's messages (`fd.*`, `cb.*` from the page's catalog) and where the draft's problems belong. */

export function makeT(messages) {
  return (key, params = {}) => {
    let text = messages[key];
    if (text === undefined) return key;
    if (typeof text === "object") text = params.count === 1 ? text.one || text.other : text.other;
    return text.replace(/\{(\w+)\}/g, (_, name) => (params[name] !== undefined ? String(params[name]) : `{${name}}`));
  };
}

/**
 * The draft's problems ([{path, message}]) by the field id they concern (`fields[3].max_length` -> the
 * fourth field; `fields[2].fields[0].key` -> the subform's), the rest under `form`.
 */
export function problemsByField(problems, doc) {
  const out = { form: [], byId: {} };
  for (const problem of problems || []) {
    const match = /^fields\[(\d+)\]/.exec(problem.path);
    const field = match ? doc.fields[Number(match[1])] : null;
    if (field) (out.byId[field.id] ||= []).push({ ...problem, where: problem.path.slice(match[0].length).replace(/^\./, "") });
    else out.form.push(problem);
  }
  return out;
}
