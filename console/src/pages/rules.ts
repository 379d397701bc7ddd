// The rules page: each rule with its trigger, action and status (enable/disable with POST
// {"status"}), create from the namespace's triggers and actions, delete.
import "./rules.css";
import { relativeName, type Rule } from "../api";
import { h, replaceChildren } from "../dom";
import { hashFor, type Page } from "../router";
import { confirmDeleteRow, deleteButton, emptyTableRow, errorText, pageLife, textInput } from "./common";
import { refName } from "./triggers";

/** The status the toggle sets: active → inactive, anything else → active. */
export function nextStatus(status: string | undefined): "active" | "inactive" {
  return status === "active" ? "inactive" : "active";
}

export const rulesPage: Page = async (ctx, root) => {
  const { notify, alive, leave } = pageLife(ctx);

  const nameInput = textInput("rule-name", "rule name", { label: "rule name" });
  const triggerSelect = h("select", { testid: "rule-trigger", attrs: { "aria-label": "trigger" } });
  const actionSelect = h("select", { testid: "rule-action", attrs: { "aria-label": "action" } });
  const createButton = h("button", { class: "primary", testid: "rule-create", type: "submit" }, "Create");
  const form = h(
    "form",
    { class: "toolbar rules-form", on: { submit: (ev) => void create(ev) } },
    nameInput,
    h("label", {}, "when ", triggerSelect),
    h("label", {}, "fires, invoke ", actionSelect),
    createButton,
  );
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "rules-table", testid: "rules-table" },
    h(
      "thead",
      {},
      h("tr", {}, h("th", {}, "Name"), h("th", {}, "Trigger"), h("th", {}, "Action"), h("th", {}, "Status"), h("th", {})),
    ),
    tbody,
  );
  replaceChildren(root, h("h2", {}, "Rules"), form, table);

  function fillSelect(sel: HTMLSelectElement, names: string[], what: string): void {
    const keep = sel.value;
    replaceChildren(
      sel,
      names.length === 0 ? h("option", { value: "", disabled: true, selected: true }, `no ${what}s yet`) : null,
      names.map((n) => h("option", { value: n }, n)),
    );
    if (names.includes(keep)) sel.value = keep;
  }

  async function loadChoices(): Promise<void> {
    const [triggers, actions] = await Promise.all([ctx.api.listTriggers(), ctx.api.listActions()]);
    if (!alive()) return;
    fillSelect(triggerSelect, triggers.map((t) => t.name).sort(), "trigger");
    fillSelect(actionSelect, actions.map(relativeName).sort(), "action");
  }

  async function create(ev: Event): Promise<void> {
    ev.preventDefault();
    const name = nameInput.value.trim();
    const trigger = triggerSelect.value;
    const action = actionSelect.value;
    if (!name || !trigger || !action) {
      notify("A rule needs a name, a trigger and an action.", "error");
      return;
    }
    createButton.disabled = true;
    try {
      await ctx.api.putRule(name, `/_/${trigger}`, `/_/${action}`, false);
      nameInput.value = "";
      notify(`created rule ${name}: ${trigger} → ${action}`);
      await load();
    } catch (e) {
      notify(`Could not create rule ${name}: ${errorText(e)}`, "error");
    } finally {
      createButton.disabled = false;
    }
  }

  function row(initial: Rule): HTMLTableRowElement {
    let rule = initial;
    const status = h("span", { class: "tag", testid: "rule-status" });
    const toggle = h("button", { testid: "rule-toggle", type: "button" });
    const del = deleteButton("rule-delete");
    const triggerCell = h("td");
    const actionCell = h("td");

    const show = () => {
      const s = rule.status ?? "";
      status.textContent = s === "active" || s === "inactive" ? s : s || "unknown";
      status.className = `tag rule-status ${s === "active" ? "active" : "inactive"}`;
      toggle.textContent = s === "active" ? "Disable" : "Enable";
      tr.classList.toggle("rule-inactive", s !== "active");
      const t = refName(rule.trigger, ctx.namespace);
      const a = refName(rule.action, ctx.namespace);
      replaceChildren(triggerCell, h("a", { href: "#/triggers" }, t));
      replaceChildren(actionCell, a.startsWith("/") ? a : h("a", { href: hashFor("actions", a) }, a));
    };

    toggle.addEventListener("click", () => void doToggle());
    del.addEventListener("click", () => void doDelete());

    async function doToggle(): Promise<void> {
      const want = nextStatus(rule.status);
      toggle.disabled = true;
      try {
        await ctx.api.setRuleStatus(rule.name, want);
        rule = await ctx.api.getRule(rule.name).catch(() => ({ ...rule, status: want }));
        show();
        notify(`rule ${rule.name} is ${rule.status ?? want}`);
      } catch (e) {
        notify(`Could not ${want === "active" ? "enable" : "disable"} ${rule.name}: ${errorText(e)}`, "error");
      } finally {
        toggle.disabled = false;
      }
    }

    function doDelete(): Promise<void> {
      return confirmDeleteRow({
        question: `Delete rule ${rule.name}?`,
        button: del,
        row: tr,
        tbody,
        emptyRow,
        remove: () => ctx.api.deleteRule(rule.name),
        name: rule.name,
        deleted: `deleted rule ${rule.name}`,
        notify,
      });
    }

    const tr = h(
      "tr",
      { testid: "rule-row" },
      h("td", { class: "rule-name" }, rule.name),
      triggerCell,
      actionCell,
      h("td", {}, status),
      h("td", { class: "rule-buttons" }, toggle, " ", del),
    );
    show();
    return tr;
  }

  function emptyRow(): HTMLTableRowElement {
    return emptyTableRow(5, "No rules yet.");
  }

  /** The list has no status: each rule's own GET has it (from its trigger's link). */
  async function load(): Promise<void> {
    const list = await ctx.api.listRules();
    const full = await Promise.all(list.map((r) => ctx.api.getRule(r.name).catch(() => r)));
    if (!alive()) return;
    replaceChildren(tbody, full.length === 0 ? emptyRow() : full.map(row));
  }

  await Promise.all([load(), loadChoices()]);
  return leave;
};
