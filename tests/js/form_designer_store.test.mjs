// The form designer's store: commands, the layout in rows, and undo/redo (run: node --test tests/js/).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { cellOf, initialState, normalise, reduce, keyFromLabel, renameColumnInFormula, renameInFormula, restoredField, stepTarget } from "../../opsloom/designer/pages/static/js/form_designer/store.js";

const field = (key, extra = {}) => ({ id: `f_${key}`, key, type: "text", label: key, ...extra });
const DOC = { key: "visit", label: "Visit", fields: [field("a"), field("b"), field("c")] };
const rows = (state) => state.doc.layout.sections.map((s) => s.rows.map((r) => r.map((c) => `${c.field}:${c.width}`)));
const run = (state, ...actions) => actions.reduce(reduce, state);

describe("normalise", () => {
  test("a document without a layout gets one section with a row per field", () => {
    assert.deepEqual(rows(initialState(DOC)), [[["a:1"], ["b:1"], ["c:1"]]]);
  });
  test("sections of keys in columns become rows of that many fields", () => {
    const doc = normalise({ ...DOC, layout: { sections: [{ title: "T", columns: 2, fields: ["a", "b", "c"] }] } });
    assert.deepEqual(doc.layout.sections[0].rows, [[{ field: "a", width: "1/2" }, { field: "b", width: "1/2" }], [{ field: "c", width: "1/2" }]]);
    assert.equal(doc.layout.sections[0].title, "T");
  });
  test("unknown keys are dropped and fields no section names come last", () => {
    const doc = normalise({ ...DOC, layout: { sections: [{ rows: [[{ field: "zz" }, { field: "b", width: "1/2" }]] }] } });
    assert.deepEqual(doc.layout.sections[0].rows, [[{ field: "b", width: "1/2" }], [{ field: "a", width: "1" }], [{ field: "c", width: "1" }]]);
  });
});

describe("commands", () => {
  test("a field dropped into a row shares it evenly", () => {
    const state = run(initialState(DOC), { type: "move_field", key: "b", to: { s: 0, r: 0, c: 1 } });
    assert.deepEqual(rows(state), [[["a:1/2", "b:1/2"], ["c:1"]]]);
  });
  test("moving up from a shared row gives the field a row of its own above", () => {
    const shared = run(initialState(DOC), { type: "move_field", key: "b", to: { s: 0, r: 0, c: 1 } });
    assert.deepEqual(rows(run(shared, { type: "step_field", key: "b", direction: "up" })), [[["b:1/2"], ["a:1/2"], ["c:1"]]]);
    assert.deepEqual(rows(run(shared, { type: "step_field", key: "b", direction: "left" })), [[["b:1/2", "a:1/2"], ["c:1"]]]);
  });
  test("moving a field alone in its row swaps it with the next row, and stops at the edges", () => {
    const state = initialState(DOC);
    assert.deepEqual(rows(run(state, { type: "step_field", key: "a", direction: "down" })), [[["b:1"], ["a:1"], ["c:1"]]]);
    assert.equal(stepTarget(state.doc, "a", "up"), null);
    assert.equal(stepTarget(state.doc, "c", "down"), null);
    assert.equal(stepTarget(state.doc, "a", "left"), null);
  });
  test("renaming a key renames it in the layout and as the title field", () => {
    const state = run(initialState({ ...DOC, title_field: "a" }), { type: "set_field", id: "f_a", patch: { key: "name" } });
    assert.deepEqual(cellOf(state.doc, "name"), { s: 0, r: 0, c: 0 });
    assert.equal(state.doc.title_field, "name");
    assert.equal(state.doc.fields[0].id, "f_a"); // the identity stays
  });
  test("an added field is placed and selected; a removed one leaves the layout", () => {
    const added = run(initialState(DOC), { type: "add_field", field: field("d"), to: null });
    assert.equal(added.selected, "f_d");
    assert.deepEqual(rows(added), [[["a:1"], ["b:1"], ["c:1"], ["d:1"]]]);
    const removed = run(added, { type: "remove_field", id: "f_b" });
    assert.deepEqual(rows(removed), [[["a:1"], ["c:1"], ["d:1"]]]);
    assert.equal(removed.doc.fields.length, 3);
  });
});

describe("history", () => {
  test("undo and redo walk the documents, and a new change forgets what was undone", () => {
    const one = run(initialState(DOC), { type: "set_field", id: "f_a", patch: { required: true } });
    const two = run(one, { type: "step_field", key: "a", direction: "down" });
    const back = run(two, { type: "undo" }, { type: "undo" });
    assert.equal(back.doc.fields[0].required, undefined);
    const again = run(back, { type: "redo" });
    assert.equal(again.doc.fields[0].required, true);
    const branched = run(again, { type: "remove_field", id: "f_c" });
    assert.equal(branched.future.length, 0);
    assert.equal(run(branched, { type: "redo" }), branched);
  });
  test("typing in one input is one step of undo", () => {
    let state = initialState(DOC);
    for (const text of ["A", "Am", "Amo"]) state = reduce(state, { type: "set_field", id: "f_a", patch: { label: text }, group: "f_a:label" });
    assert.equal(state.past.length, 1);
    assert.equal(reduce(state, { type: "undo" }).doc.fields[0].label, "a");
  });
  test("undoing clears a selection the older document does not have", () => {
    const added = run(initialState(DOC), { type: "add_field", field: field("d"), to: null });
    assert.equal(run(added, { type: "undo" }).selected, null);
  });
});

describe("duplicate", () => {
  test("a copy lands in its own row after the original, with the original's width, and is selected", () => {
    const shared = run(initialState(DOC), { type: "move_field", key: "b", to: { s: 0, r: 0, c: 1 } });
    const copy = { ...field("a_2"), id: "f_copy" };
    const state = run(shared, { type: "duplicate_field", id: "f_a", copy });
    assert.deepEqual(rows(state), [[["a:1/2", "b:1/2"], ["a_2:1/2"], ["c:1"]]]);
    assert.deepEqual(state.doc.fields.map((f) => f.key), ["a", "a_2", "b", "c"]);
    assert.equal(state.selected, "f_copy");
  });
});

describe("renaming a key", () => {
  test("formulas read the new key, but not texts, functions or subform columns of that name", () => {
    assert.equal(renameInFormula('qty * price + SUM(items.qty) & "qty" & qty', "qty", "count"), 'count * price + SUM(items.qty) & "qty" & count');
    assert.equal(renameInFormula("IF(qty > 1, qty, 0)", "IF", "x"), "IF(qty > 1, qty, 0)");
  });
  test("rules and checks that name the old key name the new one; a key still taken twice changes nothing", () => {
    const doc = {
      ...DOC,
      fields: [field("a"), field("b", { visible_when: { and: [{ field: "a", op: "eq", value: "a" }] } }), field("t", { type: "formula", formula: "a & b" })],
      validations: [{ condition: { field: "a", op: "not_empty" }, message: "m", fields: ["a"] }],
    };
    const renamed = run(initialState(doc), { type: "set_field", id: "f_a", patch: { key: "z" } }, { type: "rename_references", from: "a", to: "z" });
    assert.deepEqual(renamed.doc.fields[1].visible_when, { and: [{ field: "z", op: "eq", value: "a" }] });
    assert.equal(renamed.doc.fields[2].formula, "z & b");
    assert.deepEqual(renamed.doc.validations[0], { condition: { field: "z", op: "not_empty" }, message: "m", fields: ["z"] });
    const clash = run(initialState(doc), { type: "set_field", id: "f_a", patch: { key: "b" } }, { type: "rename_references", from: "a", to: "b" });
    assert.equal(clash.doc.fields[2].formula, "a & b");
  });
  test("a subform column renamed: its siblings' formulas and the form's `items.column` read the new key", () => {
    const items = field("items", {
      type: "subform",
      fields: [field("qty", { type: "integer" }), field("price", { type: "decimal" }), field("line", { type: "formula", formula: "qty * price" })],
    });
    const doc = { ...DOC, fields: [items, field("total", { type: "formula", formula: 'SUM(items.qty) + COUNT(other.qty) & "items.qty" & qty' })] };
    const columns = items.fields.map((c) => (c.key === "qty" ? { ...c, key: "count" } : c));
    const renamed = run(
      initialState(doc),
      { type: "set_field", id: "f_items", patch: { fields: columns } },
      { type: "rename_column_references", subform: "f_items", from: "qty", to: "count" },
    );
    const [after, total] = renamed.doc.fields;
    assert.equal(after.fields[2].formula, "count * price");
    assert.equal(total.formula, 'SUM(items.count) + COUNT(other.qty) & "items.qty" & qty');
    assert.equal(renameColumnInFormula("SUM(myitems.qty)", "items", "qty", "n"), "SUM(myitems.qty)");
  });
  test("an archived field comes back with its id, under its key or a free one", () => {
    const archived = { id: "f_old", key: "a", type: "text", label: "A" };
    assert.deepEqual(restoredField({ fields: [field("b")] }, archived), archived);
    const back = restoredField({ fields: [field("a")] }, archived);
    assert.equal(back.id, "f_old");
    assert.equal(back.key, "a_2");
    assert.equal(archived.key, "a"); // the boot's copy is left as it was
  });
  test("an English name suggests a key; a Chinese one suggests none", () => {
    assert.equal(keyFromLabel("Unit price"), "unit_price");
    assert.equal(keyFromLabel("  2nd Line-total (¥) "), "nd_line_total");
    assert.equal(keyFromLabel("单价"), "");
    assert.equal(keyFromLabel("x".repeat(80)).length, 63);
  });
});
