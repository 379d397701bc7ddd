// The triggers page: the namespace's triggers with their feed and rules, create, fire with JSON
// parameters, delete (a trigger with a feed tells the feed first, as `wsk trigger delete` does).
import "./triggers.css";
import { annotation, type EntityRef, type Trigger } from "../api";
import { h, replaceChildren } from "../dom";
import { hashFor, type Page } from "../router";
import { confirmDeleteRow, deleteButton, emptyTableRow, errorText, pageLife, parseJsonObject, textInput } from "./common";

/** A reference relative to the caller's namespace: {path "guest/pkg", name "a"} → "pkg/a"; another namespace stays "/ns/..". */
export function refName(ref: EntityRef | undefined, namespace: string): string {
  if (!ref) return "";
  const path = ref.path ?? "";
  if (path === "" || path === namespace || path === "_") return ref.name;
  if (path.startsWith(`${namespace}/`)) return `${path.slice(namespace.length + 1)}/${ref.name}`;
  return `/${path}/${ref.name}`;
}

/** The trigger's rules as "rule → action (status)" lines, from the `rules` map of GET trigger. */
export function triggerRules(t: Trigger, namespace: string): { rule: string; action: string; status: string }[] {
  return Object.entries(t.rules ?? {})
    .map(([key, link]) => ({
      rule: key.startsWith(`${namespace}/`) ? key.slice(namespace.length + 1) : key,
      action: refName(link?.action, namespace),
      status: String(link?.status ?? ""),
    }))
    .sort((a, b) => a.rule.localeCompare(b.rule));
}

export const triggersPage: Page = async (ctx, root) => {
  const { notify, alive, leave } = pageLife(ctx);

  const nameInput = textInput("trigger-name", "trigger name", { label: "trigger name" });
  const createButton = h("button", { class: "primary", testid: "trigger-create", type: "submit" }, "Create");
  const form = h(
    "form",
    { class: "toolbar", on: { submit: (ev) => void create(ev) } },
    nameInput,
    createButton,
    h("span", { class: "muted" }, "Triggers with an alarm feed are created on the ", h("a", { href: "#/feeds" }, "Feeds"), " page."),
  );
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "triggers-table", testid: "triggers-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Feed"), h("th", {}, "Rules"), h("th", {}, "Fire"), h("th", {}))),
    tbody,
  );
  replaceChildren(root, h("h2", {}, "Triggers"), form, table);

  async function create(ev: Event): Promise<void> {
    ev.preventDefault();
    const name = nameInput.value.trim();
    if (!name) {
      notify("Give the trigger a name.", "error");
      return;
    }
    createButton.disabled = true;
    try {
      await ctx.api.putTrigger(name, {}, false);
      nameInput.value = "";
      notify(`created trigger ${name}`);
      await load();
    } catch (e) {
      notify(`Could not create trigger ${name}: ${errorText(e)}`, "error");
    } finally {
      createButton.disabled = false;
    }
  }

  function row(t: Trigger): HTMLTableRowElement {
    const feed = annotation(t, "feed");
    const rules = triggerRules(t, ctx.namespace);
    const params = textInput("trigger-fire-params", '{"key": "value"}', {
      label: `parameters to fire ${t.name} with`,
      props: { class: "trigger-fire-params" },
    });
    const outcome = h("span", { class: "trigger-fire-outcome muted" });
    const fire = h("button", { testid: "trigger-fire", type: "button" }, "Fire");
    fire.addEventListener("click", () => void doFire());
    params.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") void doFire();
    });
    const del = deleteButton("trigger-delete", () => void doDelete());

    async function doFire(): Promise<void> {
      const parsed = parseJsonObject(params.value);
      if (!parsed.ok) {
        notify(parsed.error, "error");
        return;
      }
      const body = parsed.value;
      fire.disabled = true;
      try {
        const id = await ctx.api.fireTrigger(t.name, body);
        if (id) {
          notify(`fired, activation ${id}`);
          replaceChildren(outcome, h("a", { href: hashFor("activations", id) }, id));
        } else {
          notify("no active rule");
          replaceChildren(outcome, "no active rule");
        }
      } catch (e) {
        notify(`Could not fire ${t.name}: ${errorText(e)}`, "error");
      } finally {
        fire.disabled = false;
      }
    }

    function doDelete(): Promise<void> {
      const what = typeof feed === "string" ? ` and tell its feed ${feed}` : "";
      return confirmDeleteRow({
        question: `Delete trigger ${t.name}${what}?`,
        button: del,
        row: tr,
        tbody,
        emptyRow,
        remove: () => (typeof feed === "string" ? ctx.api.deleteTriggerWithFeed(t.name) : ctx.api.deleteTrigger(t.name)),
        name: t.name,
        deleted: `deleted trigger ${t.name}`,
        notify,
      });
    }

    const tr = h(
      "tr",
      { testid: "trigger-row", class: ctx.params.join("/") === t.name ? "trigger-selected" : "" },
      h("td", { class: "trigger-name" }, t.name),
      h("td", { class: "trigger-feed" }, typeof feed === "string" ? h("code", {}, feed) : h("span", { class: "muted" }, "—")),
      h(
        "td",
        { class: "trigger-rules" },
        rules.length === 0
          ? h("span", { class: "muted" }, "no rules")
          : h(
              "ul",
              {},
              rules.map((r) =>
                h(
                  "li",
                  {},
                  h("a", { href: "#/rules" }, r.rule),
                  " → ",
                  h("a", { href: hashFor("actions", r.action.startsWith("/") ? undefined : r.action) }, r.action),
                  " ",
                  h("span", { class: `tag ${r.status === "active" ? "ok" : "muted"}` }, r.status),
                ),
              ),
            ),
      ),
      h("td", { class: "trigger-fire" }, h("div", { class: "row" }, params, fire, outcome)),
      h("td", {}, del),
    );
    return tr;
  }

  function emptyRow(): HTMLTableRowElement {
    return emptyTableRow(5, "No triggers yet.");
  }

  /** The list, then each trigger's own document (the list has no rules). */
  async function load(): Promise<void> {
    const list = await ctx.api.listTriggers();
    const full = await Promise.all(list.map((t) => ctx.api.getTrigger(t.name).catch(() => t)));
    if (!alive()) return;
    replaceChildren(tbody, full.length === 0 ? emptyRow() : full.map(row));
  }

  await load();
  return leave;
};
