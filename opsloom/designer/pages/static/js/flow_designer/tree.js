/**
 * The flow designer's model: a flow document (nodes linked by `next`, schemas/flow.schema.json) seen as
 * the vertical tree people draw — start, a chain of steps, end; a condition holds ordered branches (and
 * an else branch) that meet again below it; a parallel holds branches that its join waits for.
 *
 * `fromDocument` reads a document into the tree, `toDocument` writes the tree back (nodes in reading
 * order, so a problem's `nodes[3]` path names a node the page can find). Edits are small commands
 * (`reduce`), so undo and redo come for free, as in the form designer's store.
 */

const HISTORY = 200;
export const STEP_TYPES = ["approval", "handler", "cc", "action"];
export const INSERTABLE = ["approval", "handler", "cc", "condition", "parallel", "action"];
const LINKS = ["next", "branches", "else", "join"];

const clone = (value) => JSON.parse(JSON.stringify(value));

export function freshId(tree, type) {
  const taken = new Set(allIds(tree));
  for (;;) {
    const id = `${type}_${Math.random().toString(36).slice(2, 7)}`;
    if (!taken.has(id)) return id;
  }
}

function allIds(tree) {
  const ids = [tree.start.id, tree.end.id];
  walk(tree.chain, (item) => {
    ids.push(item.id);
    if (item.join) ids.push(item.join.id);
  });
  return ids;
}

/** Every item of a chain and of the chains inside it, depth first. */
export function walk(chain, visit) {
  for (const item of chain) {
    visit(item);
    for (const branch of branchesOf(item)) walk(branch.chain, visit);
  }
}

export function branchesOf(item) {
  if (item.type === "condition") return [...item.branches, ...(item.else ? [item.else] : [])];
  if (item.type === "parallel") return item.branches;
  return [];
}

// ------------------------------------------------------------------ document -> tree

function reachable(byId, from) {
  const order = [];
  const seen = new Set();
  const todo = [from];
  while (todo.length) {
    const id = todo.shift();
    if (!id || seen.has(id) || !byId[id]) continue;
    seen.add(id);
    order.push(id);
    const n = byId[id];
    const nexts = [n.next, n.else, n.join, ...(n.branches || []).map((b) => (typeof b === "string" ? b : b.next))];
    todo.push(...nexts.filter(Boolean));
  }
  return order;
}

/** Where the branches starting at `targets` meet again: the first node every one of them reaches. */
function meeting(byId, targets) {
  const sets = targets.map((t) => new Set(reachable(byId, t)));
  return reachable(byId, targets[0]).find((id) => sets.every((s) => s.has(id))) || null;
}

function stripLinks(node) {
  const out = {};
  for (const [name, value] of Object.entries(node)) if (!LINKS.includes(name)) out[name] = value;
  return out;
}

export function fromDocument(doc) {
  const nodes = Array.isArray(doc.nodes) ? doc.nodes : [];
  const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
  const start = nodes.find((n) => n.type === "start") || { id: "start", type: "start" };
  const end = nodes.find((n) => n.type === "end") || { id: "end", type: "end" };
  let budget = nodes.length * 4 + 10;
  const read = (from, stop) => {
    const chain = [];
    let id = from;
    while (id && id !== stop && budget-- > 0) {
      const n = byId[id];
      if (!n || n.type === "end" || n.type === "start") break;
      if (n.type === "condition") {
        const ordered = (n.branches || []).map((b, i) => ({ b, i })).sort((x, y) => (x.b.priority ?? x.i) - (y.b.priority ?? y.i) || x.i - y.i);
        const targets = [...ordered.map(({ b }) => b.next), ...(n.else ? [n.else] : [])];
        const meet = targets.length ? meeting(byId, targets) : n.next;
        chain.push({
          ...stripLinks(n),
          branches: ordered.map(({ b }) => ({ ...stripLinks(b), chain: read(b.next, meet) })),
          else: n.else ? { else: true, chain: read(n.else, meet) } : null,
        });
        id = meet;
      } else if (n.type === "parallel") {
        const join = byId[n.join] || { id: n.join || `${n.id}_join`, type: "join" };
        chain.push({ ...stripLinks(n), join: stripLinks(join), branches: (n.branches || []).map((b) => ({ chain: read(b, join.id) })) });
        id = join.next;
      } else if (n.type === "join") {
        id = n.next;
      } else {
        chain.push(stripLinks(n));
        id = n.next;
      }
    }
    return chain;
  };
  const meta = stripLinks({ ...doc });
  delete meta.nodes;
  return { meta, start: stripLinks(start), end: stripLinks(end), chain: read(start.next, null) };
}

// ------------------------------------------------------------------ tree -> document

export function toDocument(tree) {
  const byId = {};
  const emit = (chain, after) => {
    let next = after;
    for (let i = chain.length - 1; i >= 0; i--) next = emitItem(chain[i], next);
    return next;
  };
  const emitItem = (item, next) => {
    if (item.type === "condition") {
      const node = { ...stripLinks(item) };
      node.branches = item.branches.map((b, i) => {
        const { chain, ...rest } = b;
        return { ...stripLinks(rest), priority: i, next: emit(chain, next) };
      });
      if (item.else) node.else = emit(item.else.chain, next);
      byId[item.id] = node;
    } else if (item.type === "parallel") {
      const join = { ...item.join, type: "join", next };
      byId[join.id] = join;
      byId[item.id] = { ...stripLinks(item), branches: item.branches.map((b) => emit(b.chain, join.id)), join: join.id };
    } else {
      byId[item.id] = { ...item, next };
    }
    return item.id;
  };
  const first = emit(tree.chain, tree.end.id);
  const nodes = [{ ...tree.start, type: "start", next: first }];
  const order = (chain) => {
    for (const item of chain) {
      nodes.push(byId[item.id]);
      for (const branch of branchesOf(item)) order(branch.chain);
      if (item.join) nodes.push(byId[item.join.id]);
    }
  };
  order(tree.chain);
  nodes.push({ ...tree.end, type: "end" });
  return { ...tree.meta, nodes };
}

// ------------------------------------------------------------------ finding things

/** The chain a path names: "root", "<item id>/<branch index>" or "<item id>/else". */
export function chainAt(tree, path) {
  if (path === "root") return tree.chain;
  const [id, which] = path.split("/");
  const found = locate(tree, id);
  if (!found) return null;
  if (which === "else") return found.item.else ? found.item.else.chain : null;
  const branch = found.item.branches[Number(which)];
  return branch ? branch.chain : null;
}

/** {item, chain, index} of the item with this id (the parallel, for its join's id). */
export function locate(tree, id) {
  const search = (chain) => {
    for (let index = 0; index < chain.length; index++) {
      const item = chain[index];
      if (item.id === id || (item.join && item.join.id === id)) return { item, chain, index };
      for (const branch of branchesOf(item)) {
        const found = search(branch.chain);
        if (found) return found;
      }
    }
    return null;
  };
  return search(tree.chain);
}

// ------------------------------------------------------------------ new items

const both = (zh, en) => ({ "zh-CN": zh, en });
export const DEFAULT_LABELS = {
  approval: both("审批人", "Approval"),
  handler: both("办理人", "Handler"),
  cc: both("抄送人", "CC"),
  condition: both("条件分支", "Condition"),
  parallel: both("并行分支", "Parallel"),
  action: both("自动操作", "Automatic action"),
};

export function newItem(tree, type) {
  const id = freshId(tree, type);
  const label = DEFAULT_LABELS[type];
  if (type === "approval" || type === "handler") {
    return { id, type, label, approvers: [{ kind: "department_head", level: 1 }], mode: "any", when_empty: "admin" };
  }
  if (type === "cc") return { id, type, label, recipients: [{ kind: "submitter" }] };
  if (type === "action") return { id, type, label, action: { kind: "update_record", values: {} } };
  if (type === "condition") {
    return { id, type, label, branches: [{ condition: {}, chain: [] }], else: { else: true, chain: [] } };
  }
  if (type === "parallel") {
    return { id, type, label, join: { id: `${id}_join`, label: both("汇合", "Join") }, branches: [{ chain: [] }, { chain: [] }] };
  }
  throw new Error(`cannot insert a ${type} node`);
}

/** A copy with fresh ids throughout (an item inside it keeps its settings). */
function copyOf(tree, item) {
  const copy = clone(item);
  const taken = new Set(allIds(tree));
  const fresh = (type) => {
    for (;;) {
      const id = `${type}_${Math.random().toString(36).slice(2, 7)}`;
      if (!taken.has(id)) {
        taken.add(id);
        return id;
      }
    }
  };
  const renew = (x) => {
    x.id = fresh(x.type);
    if (x.join) x.join.id = `${x.id}_join`;
    for (const branch of branchesOf(x)) branch.chain.forEach(renew);
  };
  renew(copy);
  return copy;
}

// ------------------------------------------------------------------ commands

function patchInto(target, patch) {
  for (const [name, value] of Object.entries(patch)) {
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length && name !== "approvers")) delete target[name];
    else target[name] = value;
  }
}

const COMMANDS = {
  insert(tree, { path, index, item }) {
    const chain = chainAt(tree, path);
    if (chain) chain.splice(Math.min(index, chain.length), 0, item);
  },
  remove(tree, { id }) {
    const found = locate(tree, id);
    if (found) found.chain.splice(found.index, 1);
  },
  /** One step up or down its chain (the keyboard's way to move a node). */
  step(tree, { id, direction }) {
    const found = locate(tree, id);
    if (!found) return;
    const other = found.index + direction;
    if (other < 0 || other >= found.chain.length) return;
    [found.chain[found.index], found.chain[other]] = [found.chain[other], found.chain[found.index]];
  },
  /** Move a node to a place in any chain (what a drop does). */
  move(tree, { id, path, index }) {
    const found = locate(tree, id);
    const chain = chainAt(tree, path);
    if (!found || !chain) return;
    let inside = false;
    walk([found.item], (x) => {
      for (const b of branchesOf(x)) if (b.chain === chain) inside = true;
    });
    if (inside) return; // not into itself
    const [item] = found.chain.splice(found.index, 1);
    const at = found.chain === chain && found.index < index ? index - 1 : index;
    chain.splice(Math.min(at, chain.length), 0, item);
  },
  copy(tree, { id }) {
    const found = locate(tree, id);
    if (found) found.chain.splice(found.index + 1, 0, copyOf(tree, found.item));
  },
  set(tree, { id, patch }) {
    if (id === tree.start.id) return patchInto(tree.start, patch);
    if (id === tree.end.id) return patchInto(tree.end, patch);
    const found = locate(tree, id);
    if (found) patchInto(found.item, patch);
  },
  set_meta(tree, { patch }) {
    patchInto(tree.meta, patch);
  },
  set_branch(tree, { id, index, patch }) {
    const found = locate(tree, id);
    const branch = found && found.item.branches[index];
    if (branch) patchInto(branch, patch);
  },
  add_branch(tree, { id }) {
    const found = locate(tree, id);
    if (!found) return;
    if (found.item.type === "condition") found.item.branches.push({ condition: {}, chain: [] });
    else found.item.branches.push({ chain: [] });
  },
  remove_branch(tree, { id, index }) {
    const found = locate(tree, id);
    if (!found) return;
    const item = found.item;
    const least = item.type === "parallel" ? 2 : 1;
    if (index === "else") item.else = null;
    else if (item.branches.length > least) item.branches.splice(index, 1);
  },
  add_else(tree, { id }) {
    const found = locate(tree, id);
    if (found && !found.item.else) found.item.else = { else: true, chain: [] };
  },
  /** A branch to another place in the order (by drag, or one step by the keyboard's buttons). */
  move_branch(tree, { id, from, to }) {
    const found = locate(tree, id);
    const branches = found && found.item.branches;
    if (!branches || to < 0 || to >= branches.length || from === to) return;
    const [branch] = branches.splice(from, 1);
    branches.splice(to, 0, branch);
  },
};

export function initialState(doc) {
  return { tree: fromDocument(doc), past: [], future: [], selected: null, group: null, changes: 0 };
}

export function reduce(state, action) {
  switch (action.type) {
    case "undo": {
      if (!state.past.length) return state;
      const tree = state.past[state.past.length - 1];
      return { ...state, tree, past: state.past.slice(0, -1), future: [state.tree, ...state.future], group: null, changes: state.changes + 1 };
    }
    case "redo": {
      if (!state.future.length) return state;
      const [tree, ...future] = state.future;
      return { ...state, tree, past: [...state.past, state.tree], future, group: null, changes: state.changes + 1 };
    }
    case "select":
      return { ...state, selected: action.id, group: null };
    default: {
      const command = COMMANDS[action.type];
      if (!command) throw new Error(`unknown flow designer command ${action.type}`);
      const tree = clone(state.tree);
      command(tree, action);
      const same = action.group && action.group === state.group;
      const past = same ? state.past : [...state.past, state.tree].slice(-HISTORY);
      const selected = action.item ? action.item.id : state.selected;
      return { ...state, tree, past, future: [], group: action.group || null, selected, changes: state.changes + 1 };
    }
  }
}

/**
 * The draft's problems ([{path, message}]) by the tree item they concern: `nodes[3].approvers[0].role`
 * names the fourth node of the document saved (`doc`); a join's problems go to its parallel, a
 * branch's (`nodes[2].branches[1]`) to its condition. The rest concern the flow as a whole.
 */
export function problemsByNode(problems, doc, tree) {
  const out = { flow: [], byId: {} };
  const nodes = (doc && doc.nodes) || [];
  for (const problem of problems || []) {
    const match = /^nodes\[(\d+)\]/.exec(problem.path || "");
    const node = match ? nodes[Number(match[1])] : null;
    let id = node ? node.id : null;
    if (id && id !== tree.start.id && id !== tree.end.id) {
      const found = locate(tree, id);
      id = found ? found.item.id : null;
    }
    const where = match ? problem.path.slice(match[0].length).replace(/^\./, "") : problem.path;
    if (id) (out.byId[id] ||= []).push({ ...problem, where });
    else out.flow.push(problem);
  }
  return out;
}
