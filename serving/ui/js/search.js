// Type-ahead over the code index: an ARIA 1.2 combobox (input + listbox, aria-activedescendant).

import { api } from "./api.js";
import { h, status } from "./dom.js";

export class CodeSearch {
  /** Wire the add-code form; `onPick({code, system, description})` records the addition. */
  constructor(form, { onPick }) {
    this.form = form;
    this.input = form.querySelector("[role=combobox]");
    this.system = form.querySelector("select[name=system]");
    this.list = form.querySelector("[role=listbox]");
    this.onPick = onPick;
    this.results = [];
    this.active = -1;
    this.seq = 0;
    this.timer = 0;
    this.input.addEventListener("input", () => this.schedule());
    this.system.addEventListener("change", () => this.schedule());
    this.input.addEventListener("keydown", (event) => this.key(event));
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.pick(this.active); });
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.query(), 150);
  }

  async query() {
    const q = this.input.value.trim();
    const seq = ++this.seq;
    if (q.length < 2) { this.show([]); return; }
    try {
      const data = await api.search(q, this.system.value, 10);
      // A slower earlier answer must not replace a later one.
      if (seq !== this.seq) return;
      this.show(Array.isArray(data) ? data : data.results || data.items || []);
    } catch (error) {
      if (seq === this.seq) status(`Search failed: ${error.message}`, "error");
    }
  }

  show(results) {
    this.results = results;
    this.active = results.length ? 0 : -1;
    this.list.replaceChildren(...results.map((r, i) => h("li", {
      role: "option", id: `search-opt-${i}`, "aria-selected": i === this.active ? "true" : "false",
      onmousedown: (event) => { event.preventDefault(); this.pick(i); },
    }, h("span.code", {}, r.code), " ", h("span", {}, r.description || ""),
      r.billable === false ? h("span.badge", {}, "header") : null)));
    const open = results.length > 0;
    this.list.hidden = !open;
    this.input.setAttribute("aria-expanded", String(open));
    this.sync();
    const hint = this.form.querySelector(".search-count");
    if (hint) hint.textContent = this.input.value.trim().length < 2 ? "" : `${results.length} result${results.length === 1 ? "" : "s"}`;
  }

  sync() {
    [...this.list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === this.active)));
    if (this.active >= 0) {
      this.input.setAttribute("aria-activedescendant", `search-opt-${this.active}`);
      this.list.children[this.active].scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  key(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!this.results.length) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.results.length) % this.results.length;
      this.sync();
    } else if (event.key === "Escape") {
      if (!this.list.hidden) { event.preventDefault(); event.stopPropagation(); this.close(); }
    }
  }

  close() {
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  async pick(i) {
    const r = this.results[i];
    if (!r) return;
    this.close();
    await this.onPick({ code: r.code, system: r.system || this.system.value, description: r.description });
    this.input.value = "";
    this.show([]);
  }

  /** Focus the search box; the system stays the one the coder chose (issue 21: never switched silently). */
  focus() {
    this.input.focus();
  }
}
