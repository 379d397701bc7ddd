// The actions pages: #/actions (the list), #/actions/new (create) and #/actions/<name or
// pkg/name> (edit, invoke, charts). Everything an action holds (name, code, parameters, results,
// logs) is shown as text.
import "./actions.css";
import { ApiError, annotation, relativeName, type Action, type Activation } from "../api";
import { formatDuration, h, jsonText, replaceChildren } from "../dom";
import { createEditor, type CodeEditor } from "../editor";
import { hashFor, type Cleanup, type Page, type PageContext } from "../router";
import { renderActionCharts } from "./action_charts";
import {
  FALLBACK_KINDS,
  buildActionPut,
  componentInNamespace,
  defaultCode,
  execSummary,
  formValuesOf,
  initTimeOf,
  isEditable,
  isWebAction,
  kindsFromRoot,
  logsFromRecord,
  logsText,
  startOf,
  statusOf,
  waitTimeOf,
} from "./action_form";
import { backLink, deleteButton, emptyTableRow, errorText, loadOrMissing, parseJsonObject, textInput } from "./common";

export const actionsPage: Page = (ctx, root) => {
  const [first] = ctx.params;
  if (first === undefined) return listPage(ctx, root);
  if (first === "new" && ctx.params.length === 1) return editPage(ctx, root, undefined);
  return editPage(ctx, root, ctx.params.join("/"));
};

// ---- The list --------------------------------------------------------------------------------

async function listPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  const body = h("tbody", {});
  replaceChildren(
    root,
    h(
      "div",
      { class: "toolbar" },
      h("h2", {}, "Actions"),
      h("span", { class: "spacer" }),
      h("a", { class: "button primary", href: "#/actions/new", testid: "new-action" }, "New action"),
    ),
    h(
      "table",
      { testid: "actions-table", class: "actions-table" },
      h(
        "thead",
        {},
        h("tr", {}, h("th", {}, "Name"), h("th", {}, "Kind"), h("th", {}, "Memory"), h("th", {}, "Timeout"), h("th", {}, "Web")),
      ),
      body,
    ),
  );
  const actions = await ctx.api.listActions();
  if (actions.length === 0) {
    replaceChildren(body, emptyTableRow(5, "No actions yet: create one with New action."));
    return;
  }
  const rows = [...actions]
    .sort((a, b) => relativeName(a).localeCompare(relativeName(b)))
    .map((a) => actionRow(a));
  replaceChildren(body, ...rows);
}

function actionRow(a: Action): HTMLTableRowElement {
  const name = relativeName(a);
  const kind = annotation(a, "exec");
  const memory = a.limits?.memory;
  const timeout = a.limits?.timeout;
  return h(
    "tr",
    { testid: "action-row" },
    h("td", {}, h("a", { href: hashFor("actions", name) }, name)),
    h("td", {}, typeof kind === "string" ? kind : (a.exec?.kind ?? "")),
    h("td", {}, memory !== undefined ? `${memory} MB` : ""),
    h("td", {}, timeout !== undefined ? formatDuration(timeout) : ""),
    h("td", {}, isWebAction(a) ? "yes" : "no"),
  );
}

// ---- Kinds -----------------------------------------------------------------------------------

let kindsPromise: Promise<string[]> | undefined;

/** The kinds from the unauthenticated GET / (same origin), fetched once; FALLBACK_KINDS on failure. */
function loadKinds(): Promise<string[]> {
  kindsPromise ??= fetch("/", { credentials: "omit", headers: { Accept: "application/json" }, cache: "no-store" })
    .then((r) => (r.ok ? r.json() : undefined))
    .then((j: unknown) => kindsFromRoot(j))
    .catch(() => {
      kindsPromise = undefined; // ask again next time
      return [...FALLBACK_KINDS];
    });
  return kindsPromise;
}

// ---- Create and edit -------------------------------------------------------------------------

/** A labelled form control (the edit form and the invoke panel): label, control, optional hint. */
function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), control, hint ? h("span", { class: "muted hint" }, hint) : null);
}

async function editPage(ctx: PageContext, root: HTMLElement, name: string | undefined): Promise<Cleanup> {
  const cleanups: Cleanup[] = [];
  let left = false;
  const cleanup: Cleanup = () => {
    left = true;
    for (const c of cleanups.splice(0)) c();
  };

  const loaded = await loadOrMissing(
    ctx,
    root,
    () => Promise.all([loadKinds(), name === undefined ? Promise.resolve(undefined) : ctx.api.getAction(name)]),
    { back: ["#/actions", "Actions"], testid: "action-missing", text: `There is no action ${name}.` },
  );
  if (!loaded) return cleanup;
  const [kinds, existing] = loaded.value;
  if (left) return cleanup;

  const values = existing ? formValuesOf(existing) : undefined;
  const editable = isEditable(existing?.exec);

  // Kind.
  const kindList = [...kinds];
  if (existing && !kindList.includes(existing.exec.kind)) kindList.unshift(existing.exec.kind);
  let kind = existing ? existing.exec.kind : kindList[0];
  const kindSelect = h(
    "select",
    { testid: "action-kind", disabled: !editable, attrs: { "aria-label": "Kind" } },
    ...kindList.map((k) => h("option", { value: k, selected: k === kind }, k)),
  );

  // Code: an editor for code actions, the exec as text otherwise.
  const editorHost = h("div", { class: "editor", testid: "code-editor" });
  let editor: CodeEditor | undefined;
  let codeArea: HTMLElement;
  if (editable) {
    editor = createEditor(editorHost, values?.code ?? defaultCode(kind), kind);
    const ed = editor;
    cleanups.push(() => ed.destroy());
    codeArea = editorHost;
  } else {
    codeArea = h("pre", { testid: "action-exec", class: "exec-summary" }, execSummary(existing!.exec));
    const components = existing!.exec.kind === "sequence" ? (existing!.exec.components ?? []) : [];
    if (components.length > 0) {
      codeArea = h(
        "div",
        {},
        codeArea,
        h(
          "ol",
          { class: "components", testid: "action-components" },
          ...components.map((c) => {
            const rel = componentInNamespace(c, ctx.namespace);
            return h("li", {}, rel === undefined ? c : h("a", { href: hashFor("actions", rel) }, c));
          }),
        ),
      );
    }
  }
  kindSelect.addEventListener("change", () => {
    const next = kindSelect.value;
    if (editor) {
      // A hello-world nobody has touched follows the kind.
      const code = editor.getCode();
      if (code.trim().length === 0 || code === defaultCode(kind)) editor.setCode(defaultCode(next));
      editor.setKind(next);
    }
    kind = next;
  });

  const nameInput = textInput("action-name", "hello or pkg/hello", { label: "Name", type: "text" });
  const memory = h("input", {
    testid: "action-memory",
    type: "number",
    value: values?.memory ?? "256",
    attrs: { min: "128", max: "512", step: "1", "aria-label": "Memory (MB)" },
  });
  const timeout = h("input", {
    testid: "action-timeout",
    type: "number",
    value: values?.timeout ?? "60000",
    attrs: { min: "100", max: "300000", step: "1", "aria-label": "Timeout (ms)" },
  });
  const web = h("input", { testid: "action-web", type: "checkbox", checked: values?.web ?? false });
  const isSequence = existing?.exec.kind === "sequence";
  const params = h("textarea", {
    testid: "action-params",
    class: "json",
    rows: 4,
    spellcheck: false,
    readOnly: isSequence,
    value: values?.params ?? "{}",
    attrs: { "aria-label": "Default parameters (JSON object)" },
  });

  let current = existing;
  const save = h("button", { class: "primary", testid: "action-save", type: "button" }, existing ? "Save" : "Create");
  save.addEventListener("click", () => {
    const form = {
      name: existing ? existing.name : nameInput.value.trim(),
      kind: kindSelect.value,
      code: editor ? editor.getCode() : "",
      memory: memory.value,
      timeout: timeout.value,
      web: web.checked,
      params: params.value,
    };
    const body = buildActionPut(form, current);
    if (!body.ok) {
      ctx.notify(body.error, "error");
      return;
    }
    const target = name ?? form.name;
    save.disabled = true;
    ctx.api
      .putAction(target, body.value, current !== undefined)
      .then((saved) => {
        if (left) return;
        if (current === undefined) {
          ctx.notify(`Created ${target}.`);
          ctx.navigate(hashFor("actions", target));
          return;
        }
        current = { ...current, ...saved };
        ctx.notify(`Saved ${target} (version ${saved.version ?? "?"}).`);
      })
      .catch((e: unknown) => {
        if (!left) ctx.notify(errorText(e), "error");
      })
      .finally(() => {
        save.disabled = false;
      });
  });

  const del = existing
    ? deleteButton("action-delete", () => {
        if (!window.confirm(`Delete the action ${name}?`)) return;
        ctx.api
          .deleteAction(name!)
          .then(() => {
            ctx.notify(`Deleted ${name}.`);
            ctx.navigate("#/actions");
          })
          .catch((e: unknown) => {
            if (!left) ctx.notify(errorText(e), "error");
          });
      })
    : null;

  const form = h(
    "section",
    { class: "panel action-form" },
    existing ? null : field("Name", nameInput),
    field("Kind", kindSelect),
    h("div", { class: "field code" }, h("span", { class: "label" }, "Code"), codeArea),
    h(
      "div",
      { class: "row limits" },
      field("Memory (MB)", memory),
      field("Timeout (ms)", timeout),
      h("label", { class: "check" }, web, " Web action"),
    ),
    field(
      "Default parameters",
      params,
      isSequence ? "A sequence's parameters are the platform's (its components)." : "A JSON object, e.g. {\"name\": \"world\"}",
    ),
    h("div", { class: "toolbar" }, save, del),
  );

  const title = existing
    ? h("h2", {}, "Action ", h("span", { class: "entity-name" }, relativeName(existing)))
    : h("h2", {}, "New action");
  const back = backLink("#/actions", "Actions");

  if (!existing) {
    replaceChildren(root, back, title, form);
    nameInput.focus();
    return cleanup;
  }

  const chartsBody = h("div", {});
  const charts = h("section", { class: "panel", testid: "action-charts" }, h("h3", {}, "Last hour"), chartsBody);
  replaceChildren(root, back, title, form, invokePanel(ctx, name!, () => left), charts);
  cleanups.push(renderActionCharts(ctx, chartsBody, name!));
  return cleanup;
}

// ---- Invoke ----------------------------------------------------------------------------------

function invokePanel(ctx: PageContext, name: string, isLeft: () => boolean): HTMLElement {
  const params = h("textarea", {
    testid: "invoke-params",
    class: "json",
    rows: 3,
    spellcheck: false,
    value: "{}",
    attrs: { "aria-label": "Invoke parameters (JSON object)" },
  });
  const status = h("span", { testid: "invoke-status", class: "invoke-status" });
  const result = h("pre", { testid: "invoke-result" });
  const logs = h("pre", { testid: "invoke-logs" });
  const duration = h("span", { testid: "invoke-duration" });
  const start = h("span", { testid: "invoke-start" });
  const waitTime = h("span", { testid: "invoke-wait-time" });
  const initTime = h("span", { testid: "invoke-init-time" });
  const linkSlot = h("span", {});
  const output = h(
    "div",
    { class: "invoke-output hidden" },
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"),
      h("dd", {}, status),
      h("dt", {}, "Duration"),
      h("dd", {}, duration),
      h("dt", {}, "Start"),
      h("dd", {}, start),
      h("dt", {}, "Wait time"),
      h("dd", {}, waitTime),
      h("dt", {}, "Init time"),
      h("dd", {}, initTime),
      h("dt", {}, "Activation"),
      h("dd", {}, linkSlot),
    ),
    h("h4", {}, "Result"),
    result,
    h("h4", {}, "Logs"),
    logs,
  );

  const link = (id: string) =>
    h("a", { testid: "invoke-activation-link", href: hashFor("activations", id) }, id);

  const show = (a: Activation) => {
    const s = statusOf(a);
    status.textContent = s;
    status.className = `invoke-status ${s === "success" ? "ok" : "bad"}`;
    result.textContent = jsonText(a.response?.result ?? {});
    logs.textContent = logsText(a);
    duration.textContent = formatDuration(a.duration);
    start.textContent = startOf(a);
    const wait = waitTimeOf(a);
    const init = initTimeOf(a);
    waitTime.textContent = wait !== undefined ? formatDuration(wait) : "";
    initTime.textContent = init !== undefined ? formatDuration(init) : "";
    replaceChildren(linkSlot, link(a.activationId));
  };
  const clear = () => {
    for (const el of [status, result, logs, duration, start, waitTime, initTime]) el.textContent = "";
    status.className = "invoke-status";
    replaceChildren(linkSlot);
  };

  // A blocking answer comes before the logs are collected: they are read from the stored record
  // (the invoke button stays disabled until then, so what the panel shows belongs together).
  const fillLogs = async (id: string) => {
    logs.classList.add("pending");
    const lines = await logsFromRecord((i) => ctx.api.getActivation(i), id, { stop: isLeft });
    logs.classList.remove("pending");
    if (lines !== undefined && !isLeft()) logs.textContent = lines.join("\n");
  };

  const button = h("button", { class: "primary", testid: "invoke-button", type: "button" }, "Invoke");
  button.addEventListener("click", () => {
    const p = parseJsonObject(params.value, "Parameters");
    if (!p.ok) {
      ctx.notify(p.error, "error");
      return;
    }
    button.disabled = true;
    clear();
    output.classList.remove("hidden");
    status.textContent = "running…";
    ctx.api
      .invoke(name, p.value)
      .then(async (out) => {
        if (isLeft()) return;
        if (out.activation) {
          show(out.activation);
          if ((out.activation.logs ?? []).length === 0) await fillLogs(out.activation.activationId);
        } else {
          status.textContent = "still running (202): the result will be in the activation record";
          status.className = "invoke-status muted";
          replaceChildren(linkSlot, link(out.activationId));
        }
      })
      .catch(async (e: unknown) => {
        if (isLeft()) return;
        // A whisk internal error (500) still carries the activation record.
        const body = e instanceof ApiError ? (e.body as Partial<Activation> | undefined) : undefined;
        if (body && typeof body === "object" && typeof body.activationId === "string" && body.response) {
          show(body as Activation);
          if ((body.logs ?? []).length === 0) await fillLogs(body.activationId);
          return;
        }
        status.textContent = `not invoked: ${errorText(e)}`;
        status.className = "invoke-status bad";
        ctx.notify(errorText(e), "error");
      })
      .finally(() => {
        button.disabled = false;
      });
  });

  return h(
    "section",
    { class: "panel invoke" },
    h("h3", {}, "Invoke"),
    field("Parameters (JSON object)", params),
    h("div", { class: "toolbar" }, button),
    output,
  );
}
