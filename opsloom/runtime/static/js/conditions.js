/**
 * The condition language in the browser.
 *
 *     evaluate({"and": [{"field": "amount", "op": "gt", "value": "100000"},
 *                       {"field": "dept", "op": "in", "value": ["sales"]}]},
 *              record, {now, timeZone, user, fields})
 *
 * The server decides (opsloom/runtime/conditions.py, in SQL and in Python);
 * this module only mirrors it so a page can show, hide or lock a field as
 * the user types. It must therefore give the very same answers, which
 * tests/runtime/test_conditions_js_agree.py checks on random cases.
 *
 * - `record` maps field keys to values as the API writes them: decimals as
 *   strings ("1200.50"), dates "2026-01-31", datetimes ISO 8601, multiselects
 *   as arrays, null for empty. Values are read the way the server reads a
 *   submitted record (text trimmed, "" is empty), so a half-filled form is
 *   judged as it would be once saved; a value the field cannot take counts
 *   as empty.
 * - `context` = {now: ISO string, timeZone: IANA name, user: {id,
 *   department_id, email}, fields: {key: {kind, options?, fields?}}}: a
 *   field's `kind` is how its values read and compare (the `client_kind` of
 *   the unit its values behave as, runtime/fields/; a formula's is its
 *   result's), a subform's (kind "rows") `fields` its columns.
 *
 * Numbers are never compared as floating point: integers become BigInt,
 * decimals an exact (coefficient, exponent) pair, datetimes BigInt
 * microseconds, dates day numbers. Conditions are checked when they are
 * saved on the server; a malformed one throws ConditionError here.
 */

export class ConditionError extends Error {}

/** A value the field cannot take (the server answers 400 for it). */
class Invalid extends Error {}

const MAX_DEPTH = 16;
const MAX_LIST = 1000;
const NO_VALUE_OPS = new Set(["is_empty", "not_empty", "today", "this_week", "this_month"]);
const VARIABLES = new Set(["today", "now", "current_user.id", "current_user.department_id", "current_user.email"]);
const REF_OPS = new Set(["eq", "ne", "gt", "gte", "lt", "lte"]);

// ------------------------------------------------------ text as Python sees it

// str.isspace() in Python; String.prototype.trim() differs (U+001C-001F, U+0085, U+FEFF).
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const STRIP = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");
const strip = (text) => text.replace(STRIP, "");

/** Lower-case A-Z only, as the SQL evaluators can do identically on every database. */
const fold = (text) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** Code point order, as Python compares str (JavaScript's < compares UTF-16 units). */
function compareText(a, b) {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const diff = x.value.codePointAt(0) - y.value.codePointAt(0);
    if (diff) return Math.sign(diff);
  }
}

/** Python's int() and Decimal() read any Unicode decimal digit ("١٢" is 12). */
function asciiDigits(text) {
  return text.replace(/\p{Nd}/gu, (digit) => {
    // Every run of Nd characters is made of whole blocks 0-9, so the digit's
    // value is its distance from the start of its run, modulo 10.
    let code = digit.codePointAt(0);
    let value = 0;
    while (/\p{Nd}/u.test(String.fromCodePoint(code - 1))) {
      code -= 1;
      value += 1;
    }
    return String(value % 10);
  });
}

// ------------------------------------------------------------ dates and times

const DAY_MS = 86400000;
const DAY_US = 86400000000n;

/** Days since 1970-01-01 of a civil date, or null when there is no such day. */
function dayNumber(year, month, day) {
  if (year < 1 || year > 9999) return null;
  const t = new Date(0);
  t.setUTCFullYear(year, month - 1, day); // Date.UTC would turn year 99 into 1999
  if (t.getUTCMonth() !== month - 1 || t.getUTCDate() !== day) return null;
  return Math.round(t.getTime() / DAY_MS);
}

function civil(day) {
  const t = new Date(day * DAY_MS);
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

const formatters = new Map();

/** The zone's offset (ms) at an instant (ms), read from the wall clock Intl shows there. */
function offsetAt(ms, timeZone) {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  const parts = {};
  for (const { type, value } of format.formatToParts(new Date(ms))) parts[type] = Number(value);
  const wall = new Date(0);
  wall.setUTCFullYear(parts.year, parts.month - 1, parts.day);
  wall.setUTCHours(parts.hour, parts.minute, parts.second);
  return wall.getTime() - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant (µs) of a wall-clock time (µs, as if UTC) in a zone. Like Python's
 * zoneinfo with fold=0, a time the clocks skip or repeat takes the offset in
 * force before the change, so both evaluators put period bounds at one instant.
 */
function wallToInstant(wallUs, timeZone) {
  const wallMs = floorMs(wallUs);
  const before = offsetAt(wallMs - DAY_MS, timeZone);
  const after = offsetAt(wallMs + DAY_MS, timeZone);
  let offset = before;
  if (before !== after && offsetAt(wallMs - before, timeZone) !== before) {
    if (offsetAt(wallMs - after, timeZone) === after) offset = after;
  }
  return wallUs - BigInt(offset) * 1000n;
}

const floorMs = (us) => Number((us - (((us % 1000n) + 1000n) % 1000n)) / 1000n);

function localDay(instantUs, timeZone) {
  const ms = floorMs(instantUs);
  const wallMs = ms + offsetAt(ms, timeZone);
  return Math.floor(wallMs / DAY_MS);
}

const localMidnight = (day, timeZone) => wallToInstant(BigInt(day) * DAY_US, timeZone);

const DATE = /^(?:(\d{4})-(\d{2})-(\d{2})|(\d{4})(\d{2})(\d{2}))/;
// Either 16:30:05.123 or 163005.123, not a mix of the two.
const TIME_EXTENDED = /^(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?/;
const TIME_BASIC = /^(\d{2})(?:(\d{2})(?:(\d{2})(?:[.,](\d+))?)?)?/;
const OFFSET = /^(?:Z|([+-])(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d+))?)?)?)$/;
const MIN_US = -62135596800000000n; // 0001-01-01T00:00:00Z
const MAX_US = 253402300799999999n; // 9999-12-31T23:59:59.999999Z

/** The day number of an ISO date ("2026-01-31" or "20260131"), as date.fromisoformat reads it. */
function readDate(text) {
  const m = DATE.exec(text);
  if (!m || m[0].length !== text.length) return null;
  const [year, month, day] = (m[1] ? m.slice(1, 4) : m.slice(4, 7)).map(Number);
  return dayNumber(year, month, day);
}

const micros = (fraction) => BigInt((fraction ?? "").slice(0, 6).padEnd(6, "0"));

/**
 * ISO 8601 text, as datetime.fromisoformat reads it -> µs since the epoch.
 * A time without an offset is a wall-clock time in `timeZone`.
 */
function readDateTime(text, timeZone) {
  const date = DATE.exec(text);
  if (!date) return null;
  const day = readDate(date[0]);
  if (day === null) return null;
  let wall = BigInt(day) * DAY_US;
  let rest = text.slice(date[0].length);
  if (rest) {
    rest = rest.slice(rest.codePointAt(0) > 0xffff ? 2 : 1); // any one character separates date and time
    const time = (/^\d{2}:/.test(rest) ? TIME_EXTENDED : TIME_BASIC).exec(rest);
    if (!time) return null;
    const [h, mi, s, f] = time.slice(1, 5);
    if (Number(h) > 23 || Number(mi ?? 0) > 59 || Number(s ?? 0) > 59) return null;
    wall += BigInt(Number(h) * 3600 + Number(mi ?? 0) * 60 + Number(s ?? 0)) * 1000000n + micros(f);
    rest = rest.slice(time[0].length);
  }
  let instant;
  if (!rest) {
    instant = wallToInstant(wall, timeZone);
  } else {
    const m = OFFSET.exec(rest);
    if (!m) return null;
    const [, sign, h, mi, s, f] = m;
    let offset = BigInt(Number(h ?? 0) * 3600 + Number(mi ?? 0) * 60 + Number(s ?? 0)) * 1000000n + micros(f);
    if (offset >= DAY_US) return null;
    if (sign === "-") offset = -offset;
    instant = wall - offset;
  }
  return instant >= MIN_US && instant <= MAX_US ? instant : null;
}

/** Variables that are days or moments, told apart from numbers and texts. */
class LocalDate {
  constructor(day) {
    this.day = day;
  }
}

class Moment {
  constructor(us) {
    this.us = us;
  }
}

// ------------------------------------------------------------------ decimals

/** An exact decimal coefficient × 10^exponent, with no trailing zeros so equal values look alike. */
function makeDecimal(coefficient, exponent) {
  if (coefficient === 0n) return { coefficient, exponent: 0 };
  while (coefficient % 10n === 0n) {
    coefficient /= 10n;
    exponent += 1;
  }
  return { coefficient, exponent };
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Decimal(text) in Python: underscores are ignored, Unicode digits are read. */
function readDecimal(text) {
  const m = DECIMAL.exec(asciiDigits(strip(text)).replaceAll("_", ""));
  if (!m || (!m[2] && !m[3])) return null;
  const [, sign, whole, fraction = "", exponent = "0"] = m;
  const coefficient = BigInt(whole + fraction || "0");
  return makeDecimal(sign === "-" ? -coefficient : coefficient, Number(exponent) - fraction.length);
}

function compareDecimal(a, b) {
  const signA = a.coefficient > 0n ? 1 : a.coefficient < 0n ? -1 : 0;
  const signB = b.coefficient > 0n ? 1 : b.coefficient < 0n ? -1 : 0;
  if (signA !== signB || signA === 0) return Math.sign(signA - signB);
  // Same sign: compare magnitudes by the position of the first digit, then digit by digit.
  const digitsA = (a.coefficient < 0n ? -a.coefficient : a.coefficient).toString();
  const digitsB = (b.coefficient < 0n ? -b.coefficient : b.coefficient).toString();
  const lead = digitsA.length + a.exponent - (digitsB.length + b.exponent);
  if (lead) return Math.sign(lead) * signA;
  const width = Math.max(digitsA.length, digitsB.length);
  return compareText(digitsA.padEnd(width, "0"), digitsB.padEnd(width, "0")) * signA;
}

// ----------------------------------------------------------------- field types
// One unit per field type, as in opsloom/runtime/field_types.py: which
// operators it answers, how it reads a JSON value (`parse`, throwing Invalid
// where the server refuses the value) and how two of its values order.

const COMPARISONS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between"];
const TEXT_OPERATORS = ["eq", "ne", "in", "not_in", "contains", "starts_with", "gt", "gte", "lt", "lte", "between"];
const DATE_OPERATORS = [...COMPARISONS, "today", "this_week", "this_month", "last_n_days"];

function parseText(value) {
  if (typeof value !== "string") throw new Invalid("expected a text");
  if (value.includes("\0")) throw new Invalid("contains a NUL character");
  return strip(value) || null;
}

/** Text that must also have a shape (e-mail, phone, web address). */
function shaped(check) {
  return (value, field) => {
    const text = parseText(value, field);
    return text === null ? null : check(text);
  };
}

const NOT_SPACE_OR_AT = `[^@${SPACE}]`;
const EMAIL = new RegExp(`^${NOT_SPACE_OR_AT}+@${NOT_SPACE_OR_AT}+\\.[^@.${SPACE}]+$`);

const textUnit = (parse) => ({ kind: "text", operators: TEXT_OPERATORS, parse, compare: compareText });

// The value kinds, keyed by the units' `client_kind`.
const TYPES = {
  text: textUnit(parseText),
  textarea: textUnit((value) => {
    if (typeof value !== "string") throw new Invalid("expected a text");
    if (value.includes("\0")) throw new Invalid("contains a NUL character");
    return strip(value) ? value : null; // kept as typed, line breaks and all
  }),
  email: textUnit(
    shaped((text) => {
      if (!EMAIL.test(text)) throw new Invalid("not an e-mail address");
      const at = text.lastIndexOf("@");
      return text.slice(0, at + 1) + text.slice(at + 1).toLowerCase();
    }),
  ),
  phone: textUnit(
    shaped((text) => {
      if (!/^\+?[0-9][0-9 ()-]{2,30}$/.test(text)) throw new Invalid("not a phone number");
      return text;
    }),
  ),
  url: textUnit(
    shaped((text) => {
      const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(text.replace(/[\t\r\n]/g, ""));
      if (!m || !["http", "https"].includes(m[1].toLowerCase()) || !m[2] || text.includes(" ")) {
        throw new Invalid("not a web address");
      }
      return text;
    }),
  ),
  integer: {
    kind: "integer",
    operators: COMPARISONS,
    parse(value) {
      let number;
      if (typeof value === "bigint") number = value;
      else if (typeof value === "number" && Number.isInteger(value)) number = BigInt(value);
      else if (typeof value === "string" && /^-?\p{Nd}{1,19}$/u.test(strip(value))) {
        number = BigInt(asciiDigits(strip(value)));
      } else throw new Invalid("expected a whole number");
      if (number > 9223372036854775807n || number < -9223372036854775807n) throw new Invalid("too large");
      return number;
    },
    compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  },
  decimal: {
    kind: "decimal",
    operators: COMPARISONS,
    // The field's precision and scale are checked by the server when the
    // condition is saved; comparing needs only the exact value.
    parse(value) {
      if (typeof value !== "string" && typeof value !== "number") throw new Invalid("expected a decimal");
      const number = readDecimal(String(value));
      if (number === null) throw new Invalid("not a decimal number");
      return number;
    },
    compare: compareDecimal,
  },
  boolean: {
    kind: "boolean",
    operators: ["eq", "ne"],
    parse(value) {
      if (typeof value !== "boolean") throw new Invalid("expected true or false");
      return value;
    },
    compare: (a, b) => Number(a) - Number(b),
  },
  date: {
    kind: "date",
    operators: DATE_OPERATORS,
    parse(value) {
      if (value instanceof LocalDate) return value.day;
      const day = typeof value === "string" ? readDate(strip(value)) : null;
      if (day === null) throw new Invalid('expected a date like "2026-01-31"');
      return day;
    },
    compare: (a, b) => Math.sign(a - b),
  },
  datetime: {
    kind: "datetime",
    operators: DATE_OPERATORS,
    parse(value, field, timeZone) {
      if (value instanceof Moment) return value.us;
      const moment = typeof value === "string" ? readDateTime(strip(value), timeZone) : null;
      if (moment === null) throw new Invalid("expected a date and time in ISO 8601");
      return moment;
    },
    compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  },
  select: {
    kind: "text",
    operators: ["eq", "ne", "in", "not_in"],
    parse(value, field) {
      if (value === "") return null;
      if (typeof value !== "string" || (field.options && !optionValues(field).includes(value))) {
        throw new Invalid("not an option");
      }
      return value;
    },
    compare: compareText,
  },
  multiselect: {
    kind: "multiselect",
    multiple: true,
    operators: ["contains", "in", "eq", "ne"],
    // A condition names one option; a record holds a list of them.
    parse(value, field) {
      if (typeof value !== "string" || (field.options && !optionValues(field).includes(value))) {
        throw new Invalid("not an option");
      }
      return value;
    },
    load(value) {
      if (!Array.isArray(value)) throw new Invalid("expected a list of options");
      const chosen = [...new Set(value.filter((v) => typeof v === "string"))];
      return chosen.length ? chosen : null;
    },
    // Lists of options are only ever tested for equality (as sets: the server keeps them in option order).
    compare: (a, b) => (a.length === b.length && a.every((v) => b.includes(v)) ? 0 : NaN),
  },
};

/** A person or department id, as the server's user field reads it. */
function readId(value) {
  const text = typeof value === "number" && Number.isInteger(value) ? String(value) : value;
  // Python's \s, \d and int(): its spaces, any Unicode decimal digit ("٧" is 7).
  const digits = typeof text === "string" ? strip(text) : "";
  if (!/^\p{Nd}{1,18}$/u.test(digits) || BigInt(asciiDigits(digits)) < 1n) {
    throw new Invalid("expected the id of a user");
  }
  return BigInt(asciiDigits(digits));
}

// Several people: a condition asks whether one person is among them.
TYPES.users = {
  kind: "users",
  multiple: true,
  operators: ["contains"],
  parse: readId,
  load(value) {
    if (!Array.isArray(value)) throw new Invalid("expected a list of user ids");
    const ids = [...new Set(value.map(readId))];
    return ids.length ? ids : null;
  },
  compare: (a, b) => (a.length === b.length && a.every((v) => b.includes(v)) ? 0 : NaN),
};

// A percentage: its exact fraction; "12.5%" is 0.125. Stored with `places` + 2 decimals.
TYPES.percent = {
  kind: "decimal",
  operators: COMPARISONS,
  scale: (field) => (field.places ?? 1) + 2,
  parse(value) {
    if (typeof value !== "string" && typeof value !== "number") throw new Invalid("expected a percentage");
    const text = strip(String(value));
    const scaled = text.endsWith("%");
    const number = readDecimal(scaled ? text.slice(0, -1) : text);
    if (number === null) throw new Invalid("not a percentage");
    return scaled ? makeDecimal(number.coefficient, number.exponent - 2) : number;
  },
  compare: compareDecimal,
};

// Rich text: HTML, searched in its text, never its markup (fields/rich_text.py's search_text):
// a block tag is a line break, any other tag is dropped, the entities nh3 writes are decoded.
const RICH_TEXT_ENTITIES = [["&lt;", "<"], ["&gt;", ">"], ["&quot;", '"'], ["&#39;", "'"], ["&nbsp;", "\u00a0"], ["&amp;", "&"]];
function richTextSearch(markup) {
  let text = markup.replace(/<\/?(p|li|blockquote|pre|h2|h3|ul|ol|br)>/g, "\n").replace(/<[^>]*>/g, "");
  for (const [entity, character] of RICH_TEXT_ENTITIES) text = text.replaceAll(entity, character);
  return text;
}
TYPES.rich_text = {
  kind: "text",
  operators: ["contains"],
  parse() {
    throw new Invalid("rich text is only searched");
  },
  load(value) {
    if (typeof value !== "string") throw new Invalid("expected HTML text");
    return strip(value.replace(/<[^>]*>/g, "")) ? richTextSearch(value) : null;
  },
  compare: compareText,
};

// An address: its parts, searched as one text a line per part (fields/address.py's search_text).
const ADDRESS_PARTS = ["province", "city", "district", "detail"];
TYPES.address = {
  kind: "address",
  operators: ["contains"],
  parse() {
    throw new Invalid("an address is only searched");
  },
  load(value) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Invalid("expected an address");
    const parts = ADDRESS_PARTS.map((part) => (typeof value[part] === "string" ? strip(value[part]) : ""));
    return parts.some(Boolean) ? parts.join("\n") : null;
  },
  compare: () => NaN,
};

function optionValues(field) {
  return field.options.map((o) => (typeof o === "string" ? o : o.value));
}

function unitOf(field) {
  const unit = Object.hasOwn(TYPES, field.kind) ? TYPES[field.kind] : undefined;
  if (!unit) throw new ConditionError(`fields of kind ${field.kind} cannot be used in conditions`);
  return unit;
}

/** A record's value, read as the server would read it on save; unreadable counts as empty. */
function load(field, value, ctx) {
  if (value === null || value === undefined) return null;
  const unit = unitOf(field);
  try {
    return unit.load ? unit.load(value, field) : unit.parse(value, field, ctx.timeZone);
  } catch (problem) {
    if (problem instanceof Invalid) return null;
    throw problem;
  }
}

// ---------------------------------------------------------------- the context

function makeContext(context) {
  const timeZone = context.timeZone ?? "UTC";
  const now = readDateTime(String(context.now), "UTC");
  if (now === null) throw new ConditionError("context.now must be an ISO 8601 date and time");
  return {
    now,
    timeZone,
    today: localDay(now, timeZone),
    user: context.user ?? {},
    fields: context.fields ?? {},
  };
}

function variable(name, ctx) {
  if (name === "today") return new LocalDate(ctx.today);
  if (name === "now") return new Moment(ctx.now);
  return ctx.user[name.slice("current_user.".length)] ?? null;
}

class Var {
  constructor(name) {
    this.name = name;
  }
}

/** A variable's value for this field: days and moments convert, anything else is read by the type. */
function resolve(field, unit, value, ctx) {
  if (Array.isArray(value)) return value.map((v) => resolve(field, unit, v, ctx));
  if (!(value instanceof Var)) return value;
  let resolved = variable(value.name, ctx);
  if (resolved === null) return null;
  if (unit.kind === "datetime" && resolved instanceof LocalDate) {
    resolved = new Moment(localMidnight(resolved.day, ctx.timeZone));
  }
  if (unit.kind === "date" && resolved instanceof Moment) resolved = new LocalDate(localDay(resolved.us, ctx.timeZone));
  if (unit.multiple && unit.kind !== "users") return resolved; // compared as it is: only a text can equal an option
  try {
    return unit.parse(resolved, field, ctx.timeZone);
  } catch (problem) {
    if (problem instanceof Invalid) return null;
    throw problem;
  }
}

// ------------------------------------------------------------ condition values

function scalar(field, unit, raw, ctx) {
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    const keys = Object.keys(raw);
    if (keys.length !== 1 || keys[0] !== "var" || !VARIABLES.has(raw.var)) {
      throw new ConditionError(`a variable is written {"var": NAME}, NAME one of ${[...VARIABLES].join(", ")}`);
    }
    return new Var(raw.var);
  }
  try {
    return unit.parse(raw, field, ctx.timeZone);
  } catch (problem) {
    if (problem instanceof Invalid) throw new ConditionError(`${JSON.stringify(raw)}: ${problem.message}`);
    throw problem;
  }
}

/** The value of a comparison, read as conditions.py's _parse_value reads it. */
function operand(field, unit, op, raw, ctx) {
  if (op === "last_n_days") {
    if (!Number.isInteger(raw) || raw < 1 || raw > 36600) {
      throw new ConditionError("last_n_days expects a number of days from 1 to 36600");
    }
    return raw;
  }
  if (op === "in" || op === "not_in") {
    if (!Array.isArray(raw) || raw.length > MAX_LIST) throw new ConditionError(`${op} expects a list`);
    return raw.map((item) => scalar(field, unit, item, ctx));
  }
  if (op === "between") {
    if (!Array.isArray(raw) || raw.length !== 2) throw new ConditionError("between expects [low, high]");
    return raw.map((item) => scalar(field, unit, item, ctx));
  }
  if ((op === "contains" || op === "starts_with") && !unit.multiple) {
    if (typeof raw !== "string" || !raw) throw new ConditionError(`${op} expects a non-empty text`);
    return unit.term ? unit.term(raw) : raw; // matched as written, spaces included
  }
  if (raw === null && (op === "eq" || op === "ne")) return null;
  return scalar(field, unit, raw, ctx);
}

// ------------------------------------------------------------------ operators
// Each answers (record value, condition value, unit, ctx) exactly as its
// _py_* twin in conditions.py. An empty value is null.

const isEmpty = (x) => x === null || x === "" || (Array.isArray(x) && x.length === 0);
const same = (unit, x, y) => x !== null && y !== null && unit.compare(x, y) === 0;
const holds = (x, option) => Array.isArray(x) && x.includes(option);

function eq(x, v, unit) {
  if (v === null) return x === null;
  if (unit.multiple) return Array.isArray(x) && x.length === 1 && x[0] === v; // only that option
  return same(unit, x, v);
}

function ordered(test) {
  return (x, v, unit) => x !== null && v !== null && test(unit.compare(x, v));
}

function period(op) {
  return (x, v, unit, ctx) => {
    if (x === null) return false;
    const [first, last] = dayRange(op, v, ctx.today);
    if (unit.kind === "date") return first <= x && x <= last;
    // A datetime is in the period from the first day's local midnight up to the next day's.
    return localMidnight(first, ctx.timeZone) <= x && x < localMidnight(last + 1, ctx.timeZone);
  };
}

/** The local days [first, last] a period covers; weeks start on Monday. */
function dayRange(op, n, today) {
  if (op === "today") return [today, today];
  if (op === "this_week") {
    const monday = today - ((new Date(today * DAY_MS).getUTCDay() + 6) % 7);
    return [monday, monday + 6];
  }
  if (op === "this_month") {
    const { year, month } = civil(today);
    const first = dayNumber(year, month, 1);
    const next = month === 12 ? dayNumber(year + 1, 1, 1) : dayNumber(year, month + 1, 1);
    return [first, (next ?? first + 31) - 1];
  }
  return [today - (n - 1), today]; // last_n_days, today included
}

const OPERATORS = {
  eq,
  ne: (x, v, unit) => (v === null ? x !== null : !eq(x, v, unit)),
  gt: ordered((c) => c > 0),
  gte: ordered((c) => c >= 0),
  lt: ordered((c) => c < 0),
  lte: ordered((c) => c <= 0),
  in: (x, v, unit) =>
    unit.multiple
      ? !isEmpty(x) && v.some((option) => option !== null && holds(x, option))
      : v.some((y) => same(unit, x, y)),
  not_in: (x, v, unit) => x === null || !v.some((y) => same(unit, x, y)),
  between: (x, [low, high], unit) =>
    x !== null && low !== null && high !== null && unit.compare(low, x) <= 0 && unit.compare(x, high) <= 0,
  contains: (x, v, unit) => (unit.multiple ? holds(x, v) : x !== null && fold(x).includes(fold(v))),
  starts_with: (x, v) => x !== null && fold(x).startsWith(fold(v)),
  is_empty: (x) => isEmpty(x),
  not_empty: (x) => !isEmpty(x),
  today: period("today"),
  this_week: period("this_week"),
  this_month: period("this_month"),
  last_n_days: period("last_n_days"),
};

// ------------------------------------------------------- field against field
// {"field": "end", "op": "gte", "value": {"field": "start"}}: both empty counts
// as equal; an empty side is never larger or smaller.

function storageKind(field, unit) {
  return unit.kind === "decimal" ? `decimal:${unit.scale ? unit.scale(field) : (field.scale ?? 2)}` : unit.kind;
}

function compareFields(key, field, unit, op, ref, record, ctx) {
  const otherKey = ref.field;
  const other = typeof otherKey === "string" && Object.keys(ref).length === 1 ? ctx.fields[otherKey] : undefined;
  if (!other) throw new ConditionError('compare with another field as {"field": KEY}, KEY a field of this form');
  const otherUnit = unitOf(other);
  if (!REF_OPS.has(op)) throw new ConditionError(`'${op}' cannot compare two fields`);
  if (storageKind(field, unit) !== storageKind(other, otherUnit)) {
    throw new ConditionError(`${key} and ${otherKey} cannot be compared`);
  }
  const textual = unit.kind === "text" || unit.multiple;
  if (textual && op !== "eq" && op !== "ne") throw new ConditionError("two text fields can only be compared with eq or ne");
  const x = load(field, record[key], ctx);
  const o = load(other, record[otherKey], ctx);
  const equal = (x === null && o === null) || same(unit, x, o);
  if (op === "eq") return equal;
  if (op === "ne") return !equal;
  return OPERATORS[op](x, o, unit);
}

// ------------------------------------------------------------------ evaluate

function check(condition, record, ctx, depth) {
  if (depth > MAX_DEPTH) throw new ConditionError(`conditions nest at most ${MAX_DEPTH} levels deep`);
  if (condition === null || typeof condition !== "object" || Array.isArray(condition)) {
    throw new ConditionError('expected an object such as {"field": "amount", "op": "gt", "value": 10}');
  }
  for (const group of ["and", "or", "not"]) {
    if (group in condition && Object.keys(condition).length !== 1) {
      throw new ConditionError(`a '${group}' object takes no other keys`);
    }
  }
  for (const group of ["and", "or"]) {
    if (group in condition) {
      const items = condition[group];
      if (!Array.isArray(items) || !items.length) throw new ConditionError(`'${group}' expects a non-empty list`);
      // Every item is checked, not only up to the first decisive one, so a
      // malformed condition fails at once rather than when the data changes.
      const answers = items.map((item) => check(item, record, ctx, depth + 1));
      return group === "and" ? answers.every(Boolean) : answers.some(Boolean);
    }
  }
  if ("not" in condition) return !check(condition.not, record, ctx, depth + 1);
  return compare(condition, record, ctx);
}

// ------------------------------------------------------------------ aggregates
// {"field": "items", "agg": "count", ...} or {"field": "items.qty", "agg": "sum", ...}:
// a number computed from the record's subform rows, as conditions.py's _py_aggregate.

const AGGREGATES = ["count", "sum", "min", "max"];
const AGGREGATE_OPS = new Set(["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between"]);
const NUMBER_KINDS = new Set(["integer", "decimal", "percent"]);

function addValues(unit, a, b) {
  if (unit.kind === "integer") return a + b;
  const exponent = Math.min(a.exponent, b.exponent);
  const scale = (d) => d.coefficient * 10n ** BigInt(d.exponent - exponent);
  return makeDecimal(scale(a) + scale(b), exponent);
}

function aggregate(condition, record, ctx) {
  const { field: key, agg, op, value } = condition;
  if (!AGGREGATES.includes(agg)) throw new ConditionError(`agg must be one of ${AGGREGATES.join(", ")}`);
  if (typeof key !== "string") throw new ConditionError('name a subform ("items") or a subform column ("items.qty")');
  const dot = key.indexOf(".");
  const subformKey = dot < 0 ? key : key.slice(0, dot);
  const column = dot < 0 ? "" : key.slice(dot + 1);
  const subform = ctx.fields[subformKey];
  if (!subform || subform.kind !== "rows") throw new ConditionError(`'${subformKey}' is not a subform`);
  const rows = Array.isArray(record[subformKey]) ? record[subformKey] : [];
  let field;
  let x;
  if (agg === "count") {
    if (column) throw new ConditionError("count counts rows: name the subform alone");
    field = { kind: "integer" };
    x = BigInt(rows.length);
  } else {
    field = (subform.fields ?? {})[column];
    const number = field && NUMBER_KINDS.has(field.kind);
    if (!number) throw new ConditionError(`${agg} needs a number column of ${subformKey}`);
  }
  const unit = unitOf(field);
  if (agg !== "count") {
    const values = rows.map((row) => load(field, (row ?? {})[column], ctx)).filter((v) => v !== null);
    if (agg === "sum") x = values.reduce((a, b) => addValues(unit, a, b), unit.kind === "integer" ? 0n : makeDecimal(0n, 0));
    else if (!values.length) x = null;
    else x = values.reduce((a, b) => ((agg === "min" ? unit.compare(b, a) < 0 : unit.compare(b, a) > 0) ? b : a));
  }
  if (!AGGREGATE_OPS.has(op)) throw new ConditionError(`an aggregate is compared with one of ${[...AGGREGATE_OPS].join(", ")}`);
  if (value === undefined) throw new ConditionError(`'${op}' needs a value`);
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "field" in value) {
    throw new ConditionError("an aggregate is compared with a value, not with another field");
  }
  const given = operand(field, unit, op, value, ctx);
  const v = resolve(field, unit, given, ctx);
  if (given instanceof Var && v === null) return false;
  return OPERATORS[op](x, v, unit, ctx);
}

function compare(condition, record, ctx) {
  if ("agg" in condition) {
    const extra = Object.keys(condition).filter((name) => !["field", "op", "value", "agg"].includes(name));
    if (extra.length) throw new ConditionError(`unexpected key(s) ${extra.join(", ")}`);
    return aggregate(condition, record, ctx);
  }
  const { field: key, op, value } = condition;
  const extra = Object.keys(condition).filter((name) => !["field", "op", "value"].includes(name));
  if (extra.length) throw new ConditionError(`unexpected key(s) ${extra.join(", ")}; use field, op, value`);
  const field = typeof key === "string" ? ctx.fields[key] : undefined;
  if (!field) throw new ConditionError(`'${key}' is not a field of this form`);
  const unit = unitOf(field);
  if (op !== "is_empty" && op !== "not_empty" && !unit.operators.includes(op)) {
    throw new ConditionError(`'${op}' does not apply to ${field.kind} fields`);
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "field" in value) {
    return compareFields(key, field, unit, op, value, record, ctx);
  }
  let v = null;
  if (NO_VALUE_OPS.has(op)) {
    if (value !== null && value !== undefined) throw new ConditionError(`'${op}' takes no value`);
  } else {
    if (value === undefined) throw new ConditionError(`'${op}' needs a value`);
    const given = operand(field, unit, op, value, ctx);
    v = resolve(field, unit, given, ctx);
    // A variable with no value (a user without a department) matches nothing,
    // so a row scope such as "department = mine" never widens to empty rows.
    if (given instanceof Var && v === null) return false;
  }
  return OPERATORS[op](load(field, record[key], ctx), v, unit, ctx);
}

/**
 * Does `record` match `condition`? The same answer the server gives.
 * Throws ConditionError for a condition the server would refuse.
 */
export function evaluate(condition, record, context) {
  return check(condition, record ?? {}, makeContext(context), 0);
}
