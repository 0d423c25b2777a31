/**
 * Picture widgets in the browser: templates/widgets/images.html and signature.html.
 *
 *     setupImages(box, changed)      // [data-images]: pictures uploaded as they are chosen, shown as thumbnails
 *     setupSignature(box, changed)   // [data-signature]: a pad drawn with a pointer, or a name typed instead
 *
 * Both keep what the field holds as [data-file-id] items of their [data-file-list],
 * which fields.js reads as file ids (data-reads="files"). Files go to the
 * widget's data-upload URL (POST .../files?field=KEY) and are shown from its
 * data-download URL (GET .../files/{id}?size=thumb).
 *
 * The pad is signature_pad from npm (/vendor/signature_pad.js), loaded when a
 * pad is on the page; without it the typed name still signs. Each finished
 * stroke, or a pause in typing, uploads the pad as one PNG and replaces the
 * field's file; "Clear" empties both.
 */

import { api, ApiError } from "/static/js/api.js";

const TYPING_PAUSE_MS = 400;
const PAD_HEIGHT_PX = 160;
const MAX_PIXEL_RATIO = 2; // the server takes signatures of at most 2400 × 1200 pixels

function errorOf(box) {
  const wrapper = box.closest("[data-field]");
  return wrapper ? [...wrapper.querySelectorAll("[data-error]")].pop() : null;
}

function showError(box, message) {
  const error = errorOf(box);
  if (error) error.textContent = message;
  const wrapper = box.closest("[data-field]");
  if (wrapper) wrapper.classList.toggle("has-error", Boolean(message));
}

function messageOf(problem) {
  return problem instanceof ApiError ? (problem.errors[0] || {}).message || problem.message : String(problem);
}

function upload(box, file, name) {
  const body = new FormData();
  body.append("file", file, name);
  return api("POST", box.dataset.upload, body);
}

function thumbnail(box, stored, alt) {
  const image = document.createElement("img");
  image.src = `${box.dataset.download}/${stored.id}?size=thumb`;
  image.alt = alt;
  image.loading = "lazy";
  return image;
}

// ------------------------------------------------------------------ images

export function setupImages(box, changed) {
  const input = box.querySelector("input[type=file]");
  const list = box.querySelector("[data-file-list]");
  box.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove]");
    if (remove && box.contains(remove)) {
      remove.closest("[data-file-id]").remove();
      if (input) input.focus();
      changed();
    }
  });
  if (!input) return;
  input.addEventListener("change", async () => {
    showError(box, "");
    for (const file of [...input.files]) {
      const item = document.createElement("li");
      item.className = "thumb thumb-loading";
      item.textContent = `${file.name} …`;
      list.append(item);
      try {
        const stored = await upload(box, file, file.name);
        item.className = "thumb";
        item.dataset.fileId = stored.id;
        item.textContent = "";
        const link = document.createElement("a");
        link.href = `${box.dataset.download}/${stored.id}?size=medium`;
        link.target = "_blank";
        link.append(thumbnail(box, stored, stored.name));
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "thumb-remove";
        remove.dataset.remove = "";
        remove.textContent = "×";
        remove.setAttribute("aria-label", `${box.dataset.removeLabel || "Remove"} ${stored.name}`);
        item.append(link, remove);
      } catch (problem) {
        item.remove();
        showError(box, `${file.name}: ${messageOf(problem)}`);
      }
    }
    input.value = "";
    changed();
  });
}

// ------------------------------------------------------------------ signature

export function setupSignature(box, changed) {
  const canvas = box.querySelector("canvas[data-pad]");
  const typed = box.querySelector("input[data-typed]");
  const clear = box.querySelector("[data-clear]");
  const list = box.querySelector("[data-file-list]");
  const status = box.querySelector("[data-signature-status]");
  if (!canvas) return; // read-only: the kept signature is shown as a picture
  let pad = null;
  let sequence = 0;
  let timer = 0;

  const say = (text) => {
    if (status) status.textContent = text;
  };

  const keep = (stored) => {
    list.replaceChildren();
    const item = document.createElement("li");
    item.dataset.fileId = stored.id;
    item.append(thumbnail(box, stored, box.dataset.signedLabel || "Signature"));
    list.append(item);
    list.hidden = true; // the pad shows what was signed
  };

  const send = async () => {
    const mine = ++sequence;
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    if (!blob || mine !== sequence) return;
    showError(box, "");
    say(box.dataset.savingLabel || "…");
    try {
      const stored = await upload(box, blob, "signature.png");
      if (mine !== sequence) return; // a newer stroke is on its way
      keep(stored);
      say(box.dataset.savedLabel || "");
      changed();
    } catch (problem) {
      if (mine === sequence) {
        say("");
        showError(box, messageOf(problem));
      }
    }
  };

  const empty = () => {
    sequence += 1;
    clearTimeout(timer);
    list.replaceChildren();
    list.hidden = true;
    say("");
    changed();
  };

  const size = () => {
    const ratio = Math.min(window.devicePixelRatio || 1, MAX_PIXEL_RATIO);
    const width = canvas.offsetWidth || canvas.parentElement.offsetWidth || 300;
    const drawn = pad && !pad.isEmpty() ? pad.toData() : null;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(PAD_HEIGHT_PX * ratio);
    canvas.getContext("2d").setTransform(ratio, 0, 0, ratio, 0, 0);
    if (pad) {
      pad.clear();
      if (drawn) pad.fromData(drawn);
      else if (typed && typed.value.trim()) write(typed.value.trim());
    }
  };

  const write = (name) => {
    // the typed name, drawn in a handwriting face, is the signature
    const context = canvas.getContext("2d");
    const ratio = canvas.width / (canvas.offsetWidth || canvas.width);
    const width = canvas.width / ratio;
    if (pad) pad.clear();
    else context.clearRect(0, 0, width, PAD_HEIGHT_PX);
    let points = 56;
    const face = (n) => `italic ${n}px "Segoe Script", "Brush Script MT", "URW Chancery L", cursive`;
    context.font = face(points);
    while (points > 14 && context.measureText(name).width > width - 32) {
      points -= 2;
      context.font = face(points);
    }
    context.fillStyle = "#1a1a2e";
    context.textBaseline = "middle";
    context.fillText(name, 16, PAD_HEIGHT_PX / 2);
  };

  if (clear) {
    clear.addEventListener("click", () => {
      if (pad) pad.clear();
      else canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      if (typed) typed.value = "";
      empty();
      (typed || canvas).focus();
    });
  }
  if (typed) {
    typed.addEventListener("input", () => {
      clearTimeout(timer);
      const name = typed.value.trim();
      if (!name) {
        if (pad) pad.clear();
        empty();
        return;
      }
      write(name);
      timer = setTimeout(send, TYPING_PAUSE_MS);
    });
  }

  size();
  import("/vendor/signature_pad.js")
    .then(({ default: SignaturePad }) => {
      pad = new SignaturePad(canvas, { penColor: "#1a1a2e", minWidth: 1, maxWidth: 2.6 });
      pad.addEventListener("beginStroke", () => {
        clearTimeout(timer);
        if (typed && typed.value) {
          typed.value = ""; // drawing replaces a typed name
          if (pad.isEmpty()) canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
        }
      });
      pad.addEventListener("endStroke", () => {
        clearTimeout(timer);
        timer = setTimeout(send, 150);
      });
      box.dataset.padReady = "";
    })
    .catch(() => {
      canvas.hidden = true; // no pad: the typed name still signs
    });
  window.addEventListener("resize", () => {
    const ratio = Math.min(window.devicePixelRatio || 1, MAX_PIXEL_RATIO);
    if (canvas.offsetWidth && Math.abs(canvas.offsetWidth * ratio - canvas.width) > 2) size();
  });
}
