/**
 * The department tree: drag a department by its handle onto another place in the tree (SortableJS).
 * A drop posts the same form as the "Move" picker beside each department, which is the keyboard's way
 * and works without this module; the server answers with the tree as it now is (or says why not).
 */

const tree = document.querySelector(".dept-tree");
const status = document.getElementById("dept-status");

const refusal = document.getElementById("dept-error");

function putBack(event) {
  const after = event.from.children[event.oldIndex];
  event.from.insertBefore(event.item, after || null);
}

async function move(event) {
  status.textContent = status.dataset.moving;
  const body = new URLSearchParams({ csrf_token: tree.dataset.csrf, parent_id: event.to.dataset.parent });
  let response;
  try {
    response = await fetch(`/admin/departments/${event.item.dataset.id}/move`, { method: "POST", body });
  } catch {
    response = null;
  }
  if (response && response.ok) {
    window.location.assign(response.url || "/admin/departments");
    return;
  }
  putBack(event);
  // The server's page says why the move was refused (a cycle, say): show its words here.
  const page = response ? new DOMParser().parseFromString(await response.text(), "text/html") : null;
  const reason = page && page.querySelector(".field-error[role=alert]");
  refusal.textContent = reason ? reason.textContent : status.dataset.failed;
  refusal.hidden = false;
  status.textContent = "";
}

async function enable() {
  let Sortable;
  try {
    ({ default: Sortable } = await import("/vendor/sortable.esm.js"));
  } catch {
    return; // no drag and drop: the "Move" pickers still work
  }
  for (const handle of tree.querySelectorAll(".drag-handle")) handle.hidden = false;
  for (const list of [tree, ...tree.querySelectorAll(".dept-children")]) {
    Sortable.create(list, {
      group: "departments",
      handle: ".drag-handle",
      draggable: ".dept",
      fallbackOnBody: true,
      swapThreshold: 0.65,
      animation: 150,
      ghostClass: "dept-ghost",
      onStart: () => tree.classList.add("dragging"),
      onEnd: (event) => {
        tree.classList.remove("dragging");
        if (event.from === event.to) return; // only the place in the tree counts; siblings are sorted by name
        move(event);
      },
    });
  }
}

if (tree) enable();
