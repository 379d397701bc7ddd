// The packages pages: #/packages (list, create, bind, delete) and #/packages/<name> (its
// actions and feeds as links, its parameters, the package it binds). Names and parameters are
// shown as text.
import "./packages.css";
import { ApiError, type Package } from "../api";
import { h, jsonText, replaceChildren } from "../dom";
import { hashFor, type Page, type PageContext } from "../router";
import { fromKeyValues } from "./action_form";
import { backLink, deleteButton, emptyTableRow, errorText, loadOrMissing, textInput, type Result } from "./common";

export const packagesPage: Page = (ctx, root) => {
  if (ctx.params.length === 0) return listPage(ctx, root);
  return detailPage(ctx, root, ctx.params.join("/"));
};

/**
 * "/ns/pkg" (or "ns/pkg") → the binding body's {namespace, name}; "_" is the caller's namespace
 * (the server resolves it). Anything else is refused with a message.
 */
export function parseBindingSource(text: string): Result<{ namespace: string; name: string }> {
  const t = text.trim();
  const parts = (t.startsWith("/") ? t.slice(1) : t).split("/");
  if (parts.length !== 2 || parts.some((p) => p.trim().length === 0 || p !== p.trim())) {
    return { ok: false, error: "The package to bind looks like /namespace/package (e.g. /whisk.system/utils)." };
  }
  return { ok: true, value: { namespace: parts[0], name: parts[1] } };
}

/** The bound package as "/ns/pkg", or "" for a package that is not a binding (binding false or {}). */
export function bindingSource(pkg: Pick<Package, "binding">): string {
  const b = pkg.binding as unknown;
  if (!b || typeof b !== "object") return "";
  const { namespace, name } = b as { namespace?: unknown; name?: unknown };
  if (typeof name !== "string" || name.length === 0) return "";
  return `/${typeof namespace === "string" ? namespace : "_"}/${name}`;
}

/** The body of a create: a package, published when shared. */
export function packageCreateBody(shared: boolean): Partial<Package> {
  return { publish: shared };
}

/** The body of a bind. */
export function bindingCreateBody(source: { namespace: string; name: string }): Partial<Package> {
  return { binding: { namespace: source.namespace, name: source.name } as unknown as Package["binding"] };
}

/**
 * Deletes a package after asking; a package that still holds actions (409) is deleted with its
 * actions only after a second question. True when it was deleted.
 */
async function confirmDelete(ctx: PageContext, name: string): Promise<boolean> {
  if (!window.confirm(`Delete the package ${name}?`)) return false;
  try {
    await ctx.api.deletePackage(name);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 409) throw e;
    if (!window.confirm(`${e.message}\nDelete ${name} and its actions?`)) return false;
    await ctx.api.deletePackage(name, true);
  }
  ctx.notify(`Deleted ${name}.`);
  return true;
}

// ---- The list --------------------------------------------------------------------------------

async function listPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  const body = h("tbody", {});
  const reload = async () => {
    const pkgs = await ctx.api.listPackages();
    if (pkgs.length === 0) {
      replaceChildren(body, emptyTableRow(4, "No packages yet."));
      return;
    }
    const rows = [...pkgs].sort((a, b) => a.name.localeCompare(b.name)).map((p) => packageRow(p));
    replaceChildren(body, ...rows);
  };
  const fail = (e: unknown) => ctx.notify(errorText(e), "error");

  const packageRow = (p: Package) => {
    const source = bindingSource(p);
    const del = deleteButton("package-delete", () => {
      confirmDelete(ctx, p.name)
        .then((done) => (done ? reload() : undefined))
        .catch(fail);
    });
    return h(
      "tr",
      { testid: "package-row" },
      h("td", {}, h("a", { href: hashFor("packages", p.name) }, p.name)),
      h("td", {}, p.publish ? "yes" : "no"),
      h("td", {}, source),
      h("td", { class: "actions-cell" }, del),
    );
  };

  // Create.
  const name = textInput("package-name", "name", { label: "Package name", type: "text" });
  const shared = h("input", { testid: "package-shared", type: "checkbox" });
  const create = h("button", { class: "primary", testid: "package-create", type: "button" }, "Create");
  create.addEventListener("click", () => {
    const n = name.value.trim();
    if (n.length === 0) {
      ctx.notify("Give the package a name.", "error");
      return;
    }
    create.disabled = true;
    ctx.api
      .putPackage(n, packageCreateBody(shared.checked), false)
      .then(async () => {
        ctx.notify(`Created package ${n}.`);
        name.value = "";
        shared.checked = false;
        await reload();
      })
      .catch(fail)
      .finally(() => {
        create.disabled = false;
      });
  });

  // Bind.
  const bname = textInput("binding-name", "name", { label: "Binding name", type: "text" });
  const bsource = textInput("binding-source", "/whisk.system/utils", { label: "Package to bind", type: "text" });
  const bind = h("button", { class: "primary", testid: "binding-create", type: "button" }, "Bind");
  bind.addEventListener("click", () => {
    const n = bname.value.trim();
    if (n.length === 0) {
      ctx.notify("Give the binding a name.", "error");
      return;
    }
    const src = parseBindingSource(bsource.value);
    if (!src.ok) {
      ctx.notify(src.error, "error");
      return;
    }
    bind.disabled = true;
    ctx.api
      .putPackage(n, bindingCreateBody(src.value), false)
      .then(async () => {
        ctx.notify(`Created binding ${n} to /${src.value.namespace}/${src.value.name}.`);
        bname.value = "";
        bsource.value = "";
        await reload();
      })
      .catch(fail)
      .finally(() => {
        bind.disabled = false;
      });
  });

  replaceChildren(
    root,
    h("h2", {}, "Packages"),
    h(
      "div",
      { class: "package-forms" },
      h(
        "section",
        { class: "panel" },
        h("h3", {}, "New package"),
        h("div", { class: "row" }, name, h("label", { class: "check" }, shared, " Shared (public)"), create),
      ),
      h(
        "section",
        { class: "panel" },
        h("h3", {}, "New binding"),
        h("div", { class: "row" }, bname, bsource, bind),
      ),
    ),
    h(
      "table",
      { testid: "packages-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Shared"), h("th", {}, "Binds"), h("th", {}, ""))),
      body,
    ),
  );
  await reload();
}

// ---- One package -----------------------------------------------------------------------------

async function detailPage(ctx: PageContext, root: HTMLElement, name: string): Promise<void> {
  const loaded = await loadOrMissing(ctx, root, () => ctx.api.getPackage(name), {
    back: ["#/packages", "Packages"],
    testid: "package-missing",
    text: `There is no package ${name}.`,
  });
  if (!loaded) return;
  const p = loaded.value;
  const source = bindingSource(p);
  const ownNs = source.startsWith(`/${ctx.namespace}/`) || source.startsWith("/_/");
  const boundName = source.split("/").slice(2).join("/");

  const actions = p.actions ?? [];
  const feeds = p.feeds ?? [];
  const params = fromKeyValues(p.parameters);
  const entityLinks = (list: { name: string }[], testid: string) =>
    list.length === 0
      ? h("p", { class: "muted" }, "none")
      : h(
          "ul",
          { class: "entity-list", testid },
          ...[...list]
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((a) => h("li", {}, h("a", { href: hashFor("actions", `${name}/${a.name}`) }, `${name}/${a.name}`))),
        );

  const del = deleteButton("package-delete", () => {
    confirmDelete(ctx, name)
      .then((done) => {
        if (done) ctx.navigate("#/packages");
      })
      .catch((e: unknown) => ctx.notify(errorText(e), "error"));
  });

  replaceChildren(
    root,
    backLink("#/packages", "Packages"),
    h("h2", {}, source ? "Binding " : "Package ", h("span", { class: "entity-name", testid: "package-title" }, p.name)),
    h(
      "section",
      { class: "panel" },
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Shared"),
        h("dd", { testid: "package-shared-value" }, p.publish ? "yes" : "no"),
        h("dt", {}, "Binds"),
        h(
          "dd",
          { testid: "package-binding" },
          source === "" ? "—" : ownNs ? h("a", { href: hashFor("packages", boundName) }, source) : source,
        ),
        h("dt", {}, "Version"),
        h("dd", {}, p.version ?? ""),
      ),
      h("div", { class: "toolbar" }, del),
    ),
    h("section", { class: "panel" }, h("h3", {}, "Actions"), entityLinks(actions, "package-actions")),
    feeds.length > 0 ? h("section", { class: "panel" }, h("h3", {}, "Feeds"), entityLinks(feeds, "package-feeds")) : null,
    h(
      "section",
      { class: "panel" },
      h("h3", {}, "Parameters"),
      Object.keys(params).length === 0
        ? h("p", { class: "muted", testid: "package-params" }, "none")
        : h("pre", { testid: "package-params" }, jsonText(params)),
    ),
  );
}
