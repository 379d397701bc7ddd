// The triggers page: the namespace's triggers with their feed and rules, create, fire with JSON
// parameters, delete (a trigger with a feed tells the feed first, as `wsk trigger delete` does).
import "./triggers.css";
import { annotation, type EntityRef, type Trigger } from "../api";
import { h, replaceChildren } from "../dom";
import { hashFor, type Page, type PageContext } from "../router";

/** A JSON object typed by the user; blank is {}. Throws an Error whose message suits the status bar. */
export function parseJsonObject(text: string, what = "Parameters"): Record<string, unknown> {
  const t = text.trim();
  if (t === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch (e) {
    throw new Error(`${what} must be a JSON object: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new Error(`${what} must be a JSON object, like {"name": "value"}.`);
  }
  return v as Record<string, unknown>;
}

/** An error's message for the status bar. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

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
  let alive = true;
  const notify: PageContext["notify"] = (...args) => {
    if (alive) ctx.notify(...args);
  };

  const nameInput = h("input", {
    testid: "trigger-name",
    autocomplete: "off",
    spellcheck: false,
    attrs: { placeholder: "trigger name", "aria-label": "trigger name" },
  });
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
    const params = h("input", {
      class: "trigger-fire-params",
      testid: "trigger-fire-params",
      autocomplete: "off",
      spellcheck: false,
      attrs: { placeholder: '{"key": "value"}', "aria-label": `parameters to fire ${t.name} with` },
    });
    const outcome = h("span", { class: "trigger-fire-outcome muted" });
    const fire = h("button", { testid: "trigger-fire", type: "button" }, "Fire");
    fire.addEventListener("click", () => void doFire());
    params.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") void doFire();
    });
    const del = h("button", { class: "danger", testid: "trigger-delete", type: "button" }, "Delete");
    del.addEventListener("click", () => void doDelete());

    async function doFire(): Promise<void> {
      let body: Record<string, unknown>;
      try {
        body = parseJsonObject(params.value);
      } catch (e) {
        notify(errorText(e), "error");
        return;
      }
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

    async function doDelete(): Promise<void> {
      const what = typeof feed === "string" ? ` and tell its feed ${feed}` : "";
      if (!window.confirm(`Delete trigger ${t.name}${what}?`)) return;
      del.disabled = true;
      try {
        if (typeof feed === "string") await ctx.api.deleteTriggerWithFeed(t.name);
        else await ctx.api.deleteTrigger(t.name);
        notify(`deleted trigger ${t.name}`);
        tr.remove();
        if (!tbody.firstChild) replaceChildren(tbody, emptyRow());
      } catch (e) {
        notify(`Could not delete ${t.name}: ${errorText(e)}`, "error");
        del.disabled = false;
      }
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
    return h("tr", {}, h("td", { class: "muted", colSpan: 5 }, "No triggers yet."));
  }

  /** The list, then each trigger's own document (the list has no rules). */
  async function load(): Promise<void> {
    const list = await ctx.api.listTriggers();
    const full = await Promise.all(list.map((t) => ctx.api.getTrigger(t.name).catch(() => t)));
    if (!alive) return;
    replaceChildren(tbody, full.length === 0 ? emptyRow() : full.map(row));
  }

  await load();
  return () => {
    alive = false;
  };
};
