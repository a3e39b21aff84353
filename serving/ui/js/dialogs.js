// Modal dialogs (native <dialog>: focus moves in, Escape cancels, focus returns to the opener).
// Cancel buttons are type="button", so Enter in a dialog submits its primary action, not Cancel.

import { h } from "./dom.js";
import { alternatives } from "./siblings.js";

for (const button of document.querySelectorAll("dialog [data-cancel]")) {
  button.addEventListener("click", () => button.closest("dialog").close("cancel"));
}

function run(dialog, focusTarget) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (opener && document.contains(opener)) opener.focus();
      resolve(dialog.returnValue);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    (focusTarget || dialog.querySelector("input, select, textarea, button")).focus();
  });
}

/** Ask why a code is rejected; resolves to the reason text, or null when cancelled. */
export async function askRejectReason(code, description) {
  const dialog = document.getElementById("reject-dialog");
  const form = dialog.querySelector("form");
  form.reset();
  dialog.querySelector(".dialog-code").textContent = `${code} ${description || ""}`;
  const first = form.querySelector("input[name=reason]");
  first.checked = true;
  const answer = await run(dialog, first);
  if (answer !== "ok") return null;
  const data = new FormData(form);
  const note = (data.get("comment") || "").trim();
  return note ? `${data.get("reason")}: ${note}` : data.get("reason");
}

/** Offer the code's alternatives; resolves to the chosen {code, description}, or null. */
export async function askAlternative(system, code, description) {
  const dialog = document.getElementById("modify-dialog");
  const list = dialog.querySelector(".alternatives");
  const ok = dialog.querySelector("button[value=ok]");
  dialog.querySelector(".dialog-code").textContent = `${code} ${description || ""}`;
  list.replaceChildren(h("p", { role: "status" }, "Loading alternatives…"));
  ok.disabled = true;
  const pending = run(dialog, dialog.querySelector("button[data-cancel]"));
  let options = [];
  try {
    options = await alternatives(system, code);
  } catch (error) {
    list.replaceChildren(h("p.error", { role: "alert" }, `Could not load alternatives: ${error.message}`));
  }
  if (dialog.open && !list.querySelector(".error")) {
    if (!options.length) {
      list.replaceChildren(h("p", {}, "This code has no sibling, child or other laterality to change to."));
    } else {
      const groups = [...new Set(options.map((o) => o.kind))];
      list.replaceChildren(...groups.map((kind) => h("fieldset", {},
        h("legend", {}, kind),
        ...options.filter((o) => o.kind === kind).map((o) => h("label.option", {},
          h("input", { type: "radio", name: "alternative", value: o.code, "data-description": o.description }),
          h("span.code", {}, o.code), " ", o.description)))));
      ok.disabled = false;
      const firstRadio = list.querySelector("input");
      firstRadio.checked = true;
      firstRadio.focus();
    }
  }
  const answer = await pending;
  const chosen = list.querySelector("input[name=alternative]:checked");
  if (answer !== "ok" || !chosen) return null;
  return { code: chosen.value, description: chosen.dataset.description };
}

/** Confirm the final codes (the confirmed ones, in sequence) before submitting; resolves to true when confirmed.
 * `errorCount` counts the error findings of the coding being built; `unconfirmed` its codes not yet confirmed. */
export async function confirmSubmit(finalCodes, errorCount, unconfirmed = []) {
  const dialog = document.getElementById("submit-dialog");
  dialog.querySelector(".final-list").replaceChildren(...(finalCodes.length
    ? finalCodes.map((c) => h("li", {}, `${c.sequence}. `, h("span.code", {}, c.code), ` ${c.description || ""} (${c.system})`,
      c.principal ? h("span.badge", {}, "principal") : null, c.poa ? ` POA ${c.poa}` : ""))
    : [h("li", {}, "No codes: the encounter will be submitted with an empty code set.")]));
  const warnings = [];
  if (errorCount) warnings.push(`${errorCount} error finding${errorCount === 1 ? "" : "s"} on this coding still open.`);
  if (unconfirmed.length) warnings.push(`Not confirmed, so not submitted: ${unconfirmed.join(", ")}.`);
  dialog.querySelector(".submit-warning").textContent = warnings.join(" ");
  return (await run(dialog, dialog.querySelector("button[value=ok]"))) === "ok";
}

/** The keyboard shortcuts, in a modal dialog: Escape closes it and the page stays where it was. */
export function showShortcuts() {
  const dialog = document.getElementById("shortcuts");
  if (dialog.open) return;
  run(dialog, dialog.querySelector("button[data-cancel]"));
}
