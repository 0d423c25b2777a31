// The flow designer's tree: a flow document read as a tree and written back, and its commands (run: node --test tests/js/).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { fromDocument, initialState, newItem, problemsByNode, reduce, toDocument } from "../../opsloom/designer/pages/static/js/flow_designer/tree.js";

const PURCHASE = JSON.parse(readFileSync(new URL("../../examples/procurement/flows/purchase_approval.json", import.meta.url)));
const links = (doc) => Object.fromEntries(doc.nodes.map((n) => [n.id, [n.next, n.else, n.join, ...(n.branches || []).map((b) => (typeof b === "string" ? b : b.next))].filter(Boolean)]));
const run = (state, ...actions) => actions.reduce(reduce, state);

describe("reading and writing", () => {
  test("the purchase approval reads as a chain with a condition whose else branch is empty", () => {
    const tree = fromDocument(PURCHASE);
    assert.deepEqual(tree.chain.map((i) => i.id), ["head", "amount_check", "finance", "cc_manager"]);
    const condition = tree.chain[1];
    assert.deepEqual(condition.branches[0].chain.map((i) => i.id), ["vp"]);
    assert.deepEqual(condition.else.chain, []);
  });
  test("written back, every node links where it did", () => {
    assert.deepEqual(links(toDocument(fromDocument(PURCHASE))), links(PURCHASE));
  });
  test("a parallel region writes its join, and reads back the same", () => {
    let state = initialState(PURCHASE);
    const parallel = newItem(state.tree, "parallel");
    state = run(state, { type: "insert", path: "root", index: 0, item: parallel }, { type: "insert", path: `${parallel.id}/0`, index: 0, item: newItem(state.tree, "approval") });
    const doc = toDocument(state.tree);
    const written = doc.nodes.find((n) => n.id === parallel.id);
    assert.equal(doc.nodes.find((n) => n.id === written.join).type, "join");
    assert.deepEqual(links(toDocument(fromDocument(doc))), links(doc));
  });
});

describe("commands", () => {
  test("insert, step, copy and remove, each undone", () => {
    let state = initialState(PURCHASE);
    const cc = newItem(state.tree, "cc");
    state = run(state, { type: "insert", path: "root", index: 1, item: cc });
    assert.equal(state.tree.chain[1].id, cc.id);
    state = run(state, { type: "step", id: cc.id, direction: -1 });
    assert.equal(state.tree.chain[0].id, cc.id);
    state = run(state, { type: "copy", id: cc.id });
    assert.equal(state.tree.chain[1].type, "cc");
    assert.notEqual(state.tree.chain[1].id, cc.id);
    state = run(state, { type: "remove", id: cc.id }, { type: "undo" }, { type: "undo" });
    assert.equal(state.tree.chain[0].id, cc.id);
    assert.equal(state.tree.chain[1].id, "head");
  });
  test("branches move in their order and keep their priority by place", () => {
    let state = initialState(PURCHASE);
    state = run(state, { type: "add_branch", id: "amount_check" }, { type: "move_branch", id: "amount_check", from: 1, to: 0 });
    const doc = toDocument(state.tree);
    const condition = doc.nodes.find((n) => n.id === "amount_check");
    assert.deepEqual(condition.branches.map((b) => [b.priority, b.next]), [[0, "finance"], [1, "vp"]]);
  });
  test("a problem's path finds its node; a join's goes to its parallel", () => {
    const state = initialState(PURCHASE);
    const doc = toDocument(state.tree);
    const at = doc.nodes.findIndex((n) => n.id === "vp");
    const found = problemsByNode([{ path: `nodes[${at}].approvers[0].role`, message: "no role" }, { path: "form", message: "x" }], doc, state.tree);
    assert.equal(found.byId.vp[0].where, "approvers[0].role");
    assert.equal(found.flow.length, 1);
  });
});
