// The browser's condition evaluator, operator by operator (run: node --test tests/js/).
// Its agreement with the Python evaluator on random cases is checked by
// tests/runtime/test_conditions_js_agree.py.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ConditionError, evaluate } from "../../opsloom/runtime/static/js/conditions.js";

// What form_meta sends: each field's value kind (a formula's is its result's), a subform's kind is rows.
const FIELDS = {
  title: { kind: "text" },
  qty: { kind: "integer" },
  amount: { kind: "decimal", scale: 2 },
  budget: { kind: "decimal", scale: 2 },
  done: { kind: "boolean" },
  due: { kind: "date" },
  start: { kind: "date" },
  at: { kind: "datetime" },
  kind: { kind: "select" },
  tags: { kind: "multiselect" },
  owner: { kind: "integer" },
  watchers: { kind: "users" },
  items: {
    kind: "rows",
    fields: {
      qty: { kind: "integer" },
      price: { kind: "decimal", scale: 2 },
      line: { kind: "decimal", scale: 3 }, // a formula with a number result
      note: { kind: "text" },
    },
  },
  parts: { kind: "rows", fields: { weight: { kind: "decimal", scale: 2 } } },
};
const USER = { id: 7, department_id: 3, email: "ann@example.com" };

function context(now = "2026-03-01T15:30:00Z", timeZone = "UTC") {
  return { now, timeZone, user: USER, fields: FIELDS };
}

/** Does `record` match {field, op, value}? */
function matches(field, op, value, record, ctx = context()) {
  const condition = value === undefined ? { field, op } : { field, op, value };
  return evaluate(condition, record, ctx);
}

describe("eq and ne", () => {
  test("compare values of the field's type", () => {
    assert.equal(matches("title", "eq", "Laptop", { title: "Laptop" }), true);
    assert.equal(matches("title", "eq", "  Laptop ", { title: "Laptop" }), true); // values are trimmed, as saved
    assert.equal(matches("qty", "eq", "3", { qty: 3 }), true);
    assert.equal(matches("amount", "eq", 10, { amount: "10.00" }), true);
    assert.equal(matches("done", "eq", false, { done: false }), true);
    assert.equal(matches("due", "ne", "2026-01-31", { due: "2026-01-31" }), false);
  });

  test("null means empty; empty never equals a value", () => {
    assert.equal(matches("title", "eq", null, { title: null }), true);
    assert.equal(matches("title", "eq", null, {}), true);
    assert.equal(matches("title", "eq", null, { title: "" }), true); // "" is saved as empty
    assert.equal(matches("title", "eq", "x", { title: null }), false);
    assert.equal(matches("title", "ne", "x", { title: null }), true);
    assert.equal(matches("title", "ne", null, { title: "x" }), true);
    assert.equal(matches("kind", "eq", "", { kind: null }), true); // "" is no option: empty
  });

  test("a multiselect equals an option when that option is all it holds", () => {
    assert.equal(matches("tags", "eq", "a", { tags: ["a"] }), true);
    assert.equal(matches("tags", "eq", "a", { tags: ["a", "b"] }), false);
    assert.equal(matches("tags", "ne", "a", { tags: ["a", "b"] }), true);
    assert.equal(matches("tags", "eq", null, { tags: [] }), true);
  });
});

describe("ordering", () => {
  test("decimals compare exactly, not as floating point", () => {
    assert.equal(matches("amount", "gt", "9.75", { amount: "10.5" }), true);
    assert.equal(matches("amount", "lt", "0.3", { amount: "0.30" }), false);
    assert.equal(matches("amount", "lte", 0.3, { amount: "0.30" }), true);
    assert.equal(matches("amount", "gt", "9999999999999999.98", { amount: "9999999999999999.99" }), true);
    assert.equal(matches("amount", "gt", "-0.01", { amount: "-0.00" }), true);
    assert.equal(matches("amount", "gte", "1E+2", { amount: "100.00" }), true);
    assert.equal(matches("amount", "lt", "-1.5", { amount: "-2" }), true);
  });

  test("integers compare exactly beyond 2**53 when written as text", () => {
    assert.equal(matches("qty", "gt", "9007199254740992", { qty: "9007199254740993" }), true);
    assert.equal(matches("qty", "eq", "9223372036854775807", { qty: "9223372036854775807" }), true);
  });

  test("text orders by code point, as Python and the database do", () => {
    assert.equal(matches("title", "gt", "\uff01", { title: "😀" }), true); // UTF-16 order would say less
    assert.equal(matches("title", "lt", "b", { title: "B" }), true); // case matters for ordering
  });

  test("an empty side never matches", () => {
    for (const op of ["gt", "gte", "lt", "lte"]) {
      assert.equal(matches("qty", op, 1, { qty: null }), false);
      assert.equal(matches("qty", op, { var: "current_user.email" }, { qty: 1 }), false); // not a number: empty
    }
  });

  test("between is inclusive at both ends", () => {
    assert.equal(matches("due", "between", ["2026-01-01", "2026-01-31"], { due: "2026-01-31" }), true);
    assert.equal(matches("due", "between", ["2026-01-01", "2026-01-31"], { due: "2026-02-01" }), false);
    assert.equal(matches("amount", "between", ["1", "1.00"], { amount: "1.00" }), true);
    assert.equal(matches("amount", "between", ["2", "1"], { amount: "1.50" }), false);
  });

  test("datetimes compare to the microsecond", () => {
    const record = { at: "2026-01-31T08:00:00.000001Z" };
    assert.equal(matches("at", "gt", "2026-01-31T08:00:00Z", record), true);
    assert.equal(matches("at", "gt", "2026-01-31T16:00:00.000001+08:00", record), false);
  });
});

describe("in and not_in", () => {
  test("one of / none of the values; empty is none of them", () => {
    assert.equal(matches("kind", "in", ["a", "b"], { kind: "b" }), true);
    assert.equal(matches("kind", "in", [], { kind: "b" }), false);
    assert.equal(matches("kind", "in", ["a"], { kind: null }), false);
    assert.equal(matches("kind", "not_in", ["a"], { kind: null }), true);
    assert.equal(matches("kind", "not_in", [], { kind: "a" }), true);
    assert.equal(matches("amount", "in", ["1", "2.5"], { amount: "2.50" }), true);
  });

  test("a multiselect is in the list when it holds any of the options", () => {
    assert.equal(matches("tags", "in", ["c", "b"], { tags: ["a", "b"] }), true);
    assert.equal(matches("tags", "in", ["c"], { tags: ["a", "b"] }), false);
    assert.equal(matches("tags", "in", ["a"], { tags: null }), false);
  });
});

describe("contains and starts_with", () => {
  test("fold A-Z only, as every database can", () => {
    assert.equal(matches("title", "contains", "TOP", { title: "Laptop" }), true);
    assert.equal(matches("title", "starts_with", "lap", { title: "Laptop" }), true);
    assert.equal(matches("title", "contains", "école", { title: "École" }), false);
    assert.equal(matches("title", "contains", "é", { title: "É" }), false);
    assert.equal(matches("title", "contains", "straße", { title: "STRASSE" }), false);
  });

  test("take the text as written and treat wildcards literally", () => {
    assert.equal(matches("title", "contains", "50%", { title: "save 50% now" }), true);
    assert.equal(matches("title", "contains", "5_%", { title: "save 50% now" }), false);
    assert.equal(matches("title", "contains", " ", { title: "a b" }), true);
    assert.equal(matches("title", "contains", "x", { title: null }), false);
  });

  test("a multiselect contains an option it holds", () => {
    assert.equal(matches("tags", "contains", "b", { tags: ["a", "b"] }), true);
    assert.equal(matches("tags", "contains", "B", { tags: ["a", "b"] }), false);
    assert.equal(matches("tags", "contains", "a", { tags: [] }), false);
  });
});

describe("is_empty and not_empty", () => {
  test("null, empty text and an empty list are empty", () => {
    for (const [field, value] of [["title", null], ["title", "  "], ["tags", []], ["qty", undefined]]) {
      assert.equal(matches(field, "is_empty", undefined, { [field]: value }), true, `${field}=${value}`);
      assert.equal(matches(field, "not_empty", undefined, { [field]: value }), false);
    }
    assert.equal(matches("done", "is_empty", undefined, { done: false }), false);
    assert.equal(matches("qty", "not_empty", undefined, { qty: 0 }), true);
  });
});

describe("periods in the time zone", () => {
  // 15:30 UTC on 1 March is 23:30 on 1 March in Shanghai (UTC+8) and 10:30 in New York.
  const shanghai = context("2026-03-01T15:30:00Z", "Asia/Shanghai");

  test("today is the local day", () => {
    assert.equal(matches("due", "today", undefined, { due: "2026-03-01" }, shanghai), true);
    assert.equal(matches("due", "today", undefined, { due: "2026-03-02" }, shanghai), false);
    const later = context("2026-03-01T16:30:00Z", "Asia/Shanghai"); // already 2 March there
    assert.equal(matches("due", "today", undefined, { due: "2026-03-02" }, later), true);
    assert.equal(matches("due", "today", undefined, { due: "2026-03-01" }, later), false);
  });

  test("a datetime is today from local midnight up to the next one", () => {
    const today = (at) => matches("at", "today", undefined, { at }, shanghai);
    assert.equal(today("2026-02-28T16:00:00Z"), true); // 00:00 on 1 March in Shanghai
    assert.equal(today("2026-02-28T15:59:59.999999Z"), false);
    assert.equal(today("2026-03-01T15:59:59.999999Z"), true);
    assert.equal(today("2026-03-01T16:00:00Z"), false);
  });

  test("weeks start on Monday", () => {
    // Sunday 28 December 2025 at 20:00 UTC is already Monday 29 December in Shanghai.
    const utc = context("2025-12-28T20:00:00Z", "UTC");
    const cst = context("2025-12-28T20:00:00Z", "Asia/Shanghai");
    assert.equal(matches("due", "this_week", undefined, { due: "2025-12-22" }, utc), true);
    assert.equal(matches("due", "this_week", undefined, { due: "2025-12-29" }, utc), false);
    assert.equal(matches("due", "this_week", undefined, { due: "2025-12-28" }, cst), false);
    assert.equal(matches("due", "this_week", undefined, { due: "2026-01-04" }, cst), true);
  });

  test("this_month covers the local month, leap days included", () => {
    const leap = context("2024-02-29T15:59:59.999999Z", "Asia/Shanghai"); // 23:59:59 on 29 February
    assert.equal(matches("due", "this_month", undefined, { due: "2024-02-29" }, leap), true);
    assert.equal(matches("due", "this_month", undefined, { due: "2024-03-01" }, leap), false);
    assert.equal(matches("due", "this_month", undefined, { due: "2026-03-31" }, shanghai), true);
    assert.equal(matches("at", "this_month", undefined, { at: "2026-02-28T16:00:00Z" }, shanghai), true);
  });

  test("last_n_days includes today", () => {
    assert.equal(matches("due", "last_n_days", 1, { due: "2026-03-01" }, shanghai), true);
    assert.equal(matches("due", "last_n_days", 7, { due: "2026-02-23" }, shanghai), true);
    assert.equal(matches("due", "last_n_days", 7, { due: "2026-02-22" }, shanghai), false);
    assert.equal(matches("due", "last_n_days", 7, { due: null }, shanghai), false);
  });

  test("days that begin twice or not at all take the offset in force before the change", () => {
    // São Paulo skipped midnight on 4 November 2018 (00:00 -03 became 01:00 -02).
    const saoPaulo = context("2018-11-04T12:00:00Z", "America/Sao_Paulo");
    assert.equal(matches("at", "today", undefined, { at: "2018-11-04T03:00:00Z" }, saoPaulo), true);
    assert.equal(matches("at", "today", undefined, { at: "2018-11-04T02:59:59Z" }, saoPaulo), false);
    // New York moves its clocks at 02:00 on 8 March 2026; the day still starts at 05:00 UTC.
    const newYork = context("2026-03-08T06:59:00Z", "America/New_York");
    assert.equal(matches("at", "today", undefined, { at: "2026-03-08T05:00:00Z" }, newYork), true);
    assert.equal(matches("at", "today", undefined, { at: "2026-03-09T03:59:59Z" }, newYork), true);
    assert.equal(matches("at", "today", undefined, { at: "2026-03-09T04:00:00Z" }, newYork), false);
  });

  test("a date and time without an offset is read in the zone", () => {
    const record = { at: "2026-03-01T09:00:00Z" };
    assert.equal(matches("at", "gt", "2026-03-01T16:30", record, shanghai), true); // 08:30 UTC
    assert.equal(matches("at", "gt", "2026-03-01T16:30Z", record, shanghai), false);
  });
});

describe("variables", () => {
  const shanghai = context("2026-03-01T16:30:00Z", "Asia/Shanghai"); // 00:30 on 2 March there

  test("today and now take the field's type", () => {
    assert.equal(matches("due", "eq", { var: "today" }, { due: "2026-03-02" }, shanghai), true);
    assert.equal(matches("due", "eq", { var: "now" }, { due: "2026-03-02" }, shanghai), true);
    assert.equal(matches("at", "gte", { var: "today" }, { at: "2026-03-01T16:00:00Z" }, shanghai), true);
    assert.equal(matches("at", "lt", { var: "today" }, { at: "2026-03-01T15:59:59Z" }, shanghai), true);
    assert.equal(matches("at", "eq", { var: "now" }, { at: "2026-03-01T16:30:00Z" }, shanghai), true);
  });

  test("the current user's attributes", () => {
    assert.equal(matches("owner", "eq", { var: "current_user.id" }, { owner: 7 }), true);
    assert.equal(matches("owner", "in", [{ var: "current_user.department_id" }], { owner: 3 }), true);
    assert.equal(matches("title", "eq", { var: "current_user.email" }, { title: "ann@example.com" }), true);
  });

  test("a variable the field cannot hold is empty", () => {
    assert.equal(matches("title", "eq", { var: "current_user.id" }, { title: "7" }), false);
    assert.equal(matches("title", "ne", { var: "today" }, { title: null }), false);
    assert.equal(matches("tags", "contains", { var: "current_user.id" }, { tags: ["7"] }), false);
  });
});

describe("and, or, not", () => {
  const record = { amount: "150000.00", kind: "a", tags: ["x"] };
  const big = { field: "amount", op: "gt", value: "100000" };

  test("combine answers", () => {
    assert.equal(evaluate({ and: [big, { field: "kind", op: "in", value: ["a"] }] }, record, context()), true);
    assert.equal(evaluate({ and: [big, { field: "kind", op: "eq", value: "b" }] }, record, context()), false);
    assert.equal(evaluate({ or: [{ field: "kind", op: "eq", value: "b" }, big] }, record, context()), true);
    assert.equal(evaluate({ not: big }, record, context()), false);
  });

  test("not of a comparison with an empty field is true", () => {
    assert.equal(evaluate({ not: big }, { amount: null }, context()), true);
  });
});

describe("field against field", () => {
  test("compares two fields of the record; both empty counts as equal", () => {
    const ref = (field, op, other, record) => evaluate({ field, op, value: { field: other } }, record, context());
    assert.equal(ref("due", "gte", "start", { due: "2026-02-01", start: "2026-01-31" }), true);
    assert.equal(ref("due", "gte", "start", { due: "2026-02-01", start: null }), false);
    assert.equal(ref("amount", "eq", "budget", { amount: "10.5", budget: "10.50" }), true);
    assert.equal(ref("amount", "eq", "budget", { amount: null, budget: null }), true);
    assert.equal(ref("amount", "ne", "budget", { amount: null, budget: "1" }), true);
  });
});

describe("conditions the server refuses", () => {
  const refused = (condition) => assert.throws(() => evaluate(condition, {}, context()), ConditionError);

  test("throw ConditionError", () => {
    refused({ field: "nope", op: "eq", value: 1 });
    refused({ field: "done", op: "gt", value: true });
    refused({ field: "qty", op: "eq", value: "three" });
    refused({ field: "qty", op: "is_empty", value: 1 });
    refused({ field: "title", op: "contains", value: "" });
    refused({ field: "due", op: "last_n_days", value: 0 });
    refused({ field: "qty", op: "eq", value: { var: "current_user.name" } });
    refused({ and: [] });
    refused({ and: [{ field: "qty", op: "eq", value: 1 }], or: [] });
    refused({ field: "title", op: "gt", value: { field: "kind" } });
  });
});

describe("subform aggregates", () => {
  const agg = (field, agg, op, value, record) => evaluate({ field, agg, op, value }, record, context());
  const order = { items: [{ qty: 2, price: "0.10" }, { qty: 3, price: "0.20" }, { qty: null, price: null }] };

  test("count counts the rows, empty ones included; no rows is 0", () => {
    assert.equal(agg("items", "count", "eq", 3, order), true);
    assert.equal(agg("items", "count", "gt", "2", order), true);
    assert.equal(agg("items", "count", "eq", 0, { items: [] }), true);
    assert.equal(agg("items", "count", "eq", 0, {}), true);
    assert.equal(agg("items", "count", "eq", 0, { items: null }), true);
    assert.equal(agg("parts", "count", "eq", 0, order), true); // another subform's rows are not counted
  });

  test("sum adds the values that are there; no rows sums to 0", () => {
    assert.equal(agg("items.qty", "sum", "eq", 5, order), true);
    assert.equal(agg("items.qty", "sum", "eq", 0, { items: [] }), true);
    assert.equal(agg("items.qty", "sum", "eq", 0, { items: [{ qty: null }] }), true);
    assert.equal(agg("items.qty", "sum", "in", [1, 5], order), true);
    assert.equal(agg("items.qty", "sum", "between", ["5", "5"], order), true);
  });

  test("decimal sums are exact", () => {
    assert.equal(agg("items.price", "sum", "eq", "0.30", order), true); // 0.1 + 0.2 would be 0.30000000000000004
    assert.equal(agg("items.price", "sum", "eq", 0.3, order), true);
    assert.equal(agg("items.price", "sum", "gt", "0.29", order), true);
    assert.equal(agg("items.price", "sum", "lt", "0.31", order), true);
    const many = { items: Array.from({ length: 10 }, () => ({ price: "0.10" })) };
    assert.equal(agg("items.price", "sum", "eq", "1", many), true);
    assert.equal(agg("items.price", "sum", "eq", "0.00", { items: [] }), true);
    assert.equal(agg("items.price", "sum", "eq", "0", { items: [{ price: "-0.50" }, { price: "0.50" }] }), true);
  });

  test("integer sums are exact beyond 2**53", () => {
    const big = { items: [{ qty: "9007199254740993" }, { qty: 1 }] };
    assert.equal(agg("items.qty", "sum", "eq", "9007199254740994", big), true);
    assert.equal(agg("items.qty", "sum", "eq", "9007199254740995", big), false);
  });

  test("a formula column of a number result adds up like a decimal", () => {
    const lines = { items: [{ line: "0.105" }, { line: "0.205" }] };
    assert.equal(agg("items.line", "sum", "eq", "0.31", lines), true);
    assert.equal(agg("items.line", "max", "eq", "0.205", lines), true);
  });

  test("min and max of the values that are there", () => {
    assert.equal(agg("items.qty", "min", "eq", 2, order), true);
    assert.equal(agg("items.qty", "max", "eq", 3, order), true);
    assert.equal(agg("items.price", "max", "gte", "0.2", order), true);
    assert.equal(agg("items.price", "min", "lt", "-0.5", { items: [{ price: "-1.00" }, { price: "10" }] }), true);
  });

  test("min and max of no values are empty", () => {
    for (const record of [{ items: [] }, {}, { items: [{ qty: null }] }]) {
      assert.equal(agg("items.qty", "min", "eq", null, record), true);
      assert.equal(agg("items.qty", "max", "ne", null, record), false);
      for (const op of ["gt", "gte", "lt", "lte", "eq"]) assert.equal(agg("items.qty", "max", op, 0, record), false);
      assert.equal(agg("items.qty", "max", "ne", 0, record), true);
      assert.equal(agg("items.qty", "min", "in", [0, 1], record), false);
      assert.equal(agg("items.qty", "min", "not_in", [0, 1], record), true);
      assert.equal(agg("items.qty", "min", "between", [-10, 10], record), false);
      assert.equal(evaluate({ not: { field: "items.qty", agg: "max", op: "gt", value: 0 } }, record, context()), true);
    }
  });

  test("values are read as the server reads them", () => {
    assert.equal(agg("items", "count", "eq", " 3 ", order), true);
    assert.equal(agg("items", "count", "eq", "\u0663", order), true); // Arabic-Indic 3
    assert.equal(agg("items.price", "sum", "eq", "3E-1", order), true);
    assert.equal(agg("items", "count", "eq", { var: "current_user.department_id" }, order), true); // 3
    assert.equal(agg("items", "count", "ne", { var: "current_user.email" }, order), false); // not a number: no match
    assert.equal(agg("items", "count", "eq", null, { items: [] }), false); // a count is never empty
  });

  test("combine with other conditions", () => {
    const big = { field: "items.qty", agg: "sum", op: "gte", value: 5 };
    const two = { field: "items", agg: "count", op: "lte", value: 2 };
    assert.equal(evaluate({ and: [big, two] }, order, context()), false);
    assert.equal(evaluate({ or: [big, two] }, order, context()), true);
  });

  test("malformed aggregates are refused", () => {
    const refused = (condition) => assert.throws(() => evaluate(condition, order, context()), ConditionError);
    refused({ field: "items", agg: "avg", op: "eq", value: 1 });
    refused({ field: "items", agg: "Count", op: "eq", value: 1 });
    refused({ field: "items.qty", agg: "count", op: "eq", value: 1 }); // count counts rows
    refused({ field: "items", agg: "sum", op: "eq", value: 1 }); // sum of which column?
    refused({ field: "items.note", agg: "max", op: "eq", value: 1 }); // not a number column
    refused({ field: "items.nope", agg: "min", op: "eq", value: 1 });
    refused({ field: "title", agg: "count", op: "eq", value: 1 }); // not a subform
    refused({ field: "nope", agg: "count", op: "eq", value: 1 });
    refused({ field: "items", agg: "count", op: "contains", value: 1 });
    refused({ field: "items", agg: "count", op: "is_empty" });
    refused({ field: "items", agg: "count", op: "eq" });
    refused({ field: "items", agg: "count", op: "eq", value: "three" });
    refused({ field: "items.qty", agg: "sum", op: "eq", value: "1.5" }); // an integer column sums to integers
    refused({ field: "items", agg: "count", op: "eq", value: { field: "qty" } });
    refused({ field: "items.qty", agg: "max", op: "gt", value: { field: "parts.weight" } });
    refused({ field: "items", agg: "count", op: "eq", value: 1, extra: true });
    refused({ field: "items", op: "is_empty" }); // a subform is compared through an aggregate
    refused({ field: "items.qty", op: "eq", value: 1 });
  });
});

describe("users", () => {
  const has = (value, watchers) => matches("watchers", "contains", value, { watchers });

  test("contains asks whether a person is among them", () => {
    assert.equal(has(7, [3, 7]), true);
    assert.equal(has(2, [3, 7]), false);
    assert.equal(has("7", [3, 7]), true);
    assert.equal(has(" 7 ", ["3", "7"]), true);
    assert.equal(has("\u0667", [7]), true); // Arabic-Indic 7, as Python's int() reads it
    assert.equal(has("9007199254740993", ["9007199254740993"]), true);
    assert.equal(has("9007199254740993", ["9007199254740992"]), false);
    assert.equal(has(7, []), false);
    assert.equal(has(7, null), false);
  });

  test("the current user", () => {
    assert.equal(has({ var: "current_user.id" }, [1, 7]), true);
    assert.equal(has({ var: "current_user.id" }, [1, 2]), false);
    assert.equal(has({ var: "current_user.email" }, [7]), false); // no person: no match
    assert.equal(evaluate({ not: { field: "watchers", op: "contains", value: { var: "today" } } }, {}, context()), true);
  });

  test("is_empty and not_empty", () => {
    assert.equal(matches("watchers", "is_empty", undefined, { watchers: [] }), true);
    assert.equal(matches("watchers", "is_empty", undefined, { watchers: null }), true);
    assert.equal(matches("watchers", "not_empty", undefined, { watchers: [7] }), true);
  });

  test("other operators and values that are not people are refused", () => {
    const refused = (op, value) => assert.throws(() => matches("watchers", op, value, { watchers: [7] }), ConditionError);
    refused("eq", 7);
    refused("in", [7]);
    refused("contains", "ann");
    refused("contains", 0);
    refused("contains", -7);
    refused("contains", "1234567890123456789"); // ids have at most 18 digits
    refused("contains", { var: "current_user.name" });
  });
});

describe("the kinds of rating, percent, rich text and address", () => {
  const fields = {
    stars: { kind: "integer" },
    share: { kind: "percent" },
    body: { kind: "rich_text" },
    place: { kind: "address" },
    lines: { kind: "rows", fields: { cut: { kind: "percent" } } },
  };
  const check = (condition, record) =>
    evaluate(condition, record, { now: "2026-03-01T15:30:00Z", timeZone: "UTC", user: USER, fields });

  test("a percentage reads its fraction or its percent sign, exactly", () => {
    assert.equal(check({ field: "share", op: "gt", value: "10%" }, { share: "0.125" }), true);
    assert.equal(check({ field: "share", op: "eq", value: 0.125 }, { share: "0.125" }), true);
    assert.equal(check({ field: "share", op: "lt", value: "12.5%" }, { share: "0.125" }), false);
    const lines = { lines: [{ cut: "0.1" }, { cut: "0.2" }] };
    assert.equal(check({ field: "lines.cut", agg: "sum", op: "eq", value: "30%" }, lines), true);
  });

  test("rich text is searched in its text, not its markup", () => {
    const record = { body: "<p>Tom &amp; <strong>Je</strong>rry</p>" };
    assert.equal(check({ field: "body", op: "contains", value: "tom & jerry" }, record), true);
    assert.equal(check({ field: "body", op: "contains", value: "strong" }, record), false);
    assert.equal(check({ field: "body", op: "contains", value: "amp" }, record), false);
    assert.equal(check({ field: "body", op: "contains", value: "<p>" }, record), false);
    assert.equal(check({ field: "body", op: "is_empty" }, { body: "<p></p>" }), true);
    assert.throws(() => check({ field: "body", op: "eq", value: "x" }, record), ConditionError);
  });

  test("an address is searched in all its parts", () => {
    const record = { place: { province: "广东省", city: "Shenzhen", district: null, detail: "15 Keyuan Rd" } };
    assert.equal(check({ field: "place", op: "contains", value: "shenzhen" }, record), true);
    assert.equal(check({ field: "place", op: "contains", value: "keyuan" }, record), true);
    assert.equal(check({ field: "place", op: "contains", value: "Paris" }, record), false);
    assert.equal(check({ field: "place", op: "is_empty" }, { place: { city: " " } }), true);
  });
});
