import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiError, type Action, type Activation, type InvokeOutcome, type WispApi } from "../api";
import { q, recordingContext, settle } from "../testing/fake_api";

const chartsCleanup = vi.fn();
const renderActionCharts = vi.fn((_ctx: unknown, _el: HTMLElement, _name: string) => chartsCleanup);
vi.mock("./action_charts", () => ({ renderActionCharts }));

const { actionsPage } = await import("./actions");

const XSS = "<img src=x onerror=alert(1)>";

beforeAll(() => {
  // jsdom has no layout: CodeMirror measures text ranges.
  const empty = () => Object.assign([], { item: () => null }) as unknown as DOMRectList;
  Range.prototype.getClientRects = empty;
  Range.prototype.getBoundingClientRect = () => new DOMRect(0, 0, 0, 0);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      if (url !== "/") throw new Error(`unexpected fetch ${url}`);
      return new Response(
        JSON.stringify({
          description: "OpenWhisk",
          runtimes: {
            nodejs: [{ kind: "nodejs:18", default: true }],
            python: [{ kind: "python:3.11", default: true }],
          },
        }),
        { status: 200, headers: { "Content-Type": "application/json" } },
      );
    }),
  );
});

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
  chartsCleanup.mockClear();
  renderActionCharts.mockClear();
});

function setup(params: string[], api: Partial<Record<keyof WispApi, unknown>>) {
  return recordingContext(params, api);
}

/** The CodeMirror content inside the code-editor host's shadow root. */
const cmContent = (root: HTMLElement) =>
  q(root, "code-editor")?.shadowRoot?.querySelector(".cm-content") ?? null;

const hello: Action = {
  namespace: "guest",
  name: "hello",
  version: "0.0.1",
  exec: { kind: "python:3.11", code: "def main(args):\n    return args\n", binary: false },
  parameters: [{ key: "name", value: "Ada" }],
  limits: { timeout: 30000, memory: 128 },
  annotations: [
    { key: "exec", value: "python:3.11" },
    { key: "web-export", value: true },
  ],
};

describe("#/actions", () => {
  it("lists name link, kind, memory, timeout and web; names as text", async () => {
    const { ctx, root } = setup([], {
      listActions: async () => [
        { ...hello, exec: { binary: false } },
        {
          namespace: "guest/pkg",
          name: XSS,
          exec: { binary: false },
          limits: { timeout: 500, memory: 256 },
          annotations: [{ key: "exec", value: "nodejs:18" }],
        },
      ],
    });
    await actionsPage(ctx, root);
    expect(q(root, "new-action").getAttribute("href")).toBe("#/actions/new");
    const rows = [...root.querySelectorAll('[data-testid="action-row"]')];
    expect(rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent))).toEqual([
      ["hello", "python:3.11", "128 MB", "30.00 s", "yes"],
      [`pkg/${XSS}`, "nodejs:18", "256 MB", "500 ms", "no"],
    ]);
    expect(rows[0].querySelector("a")?.getAttribute("href")).toBe("#/actions/hello");
    expect(root.querySelector("img")).toBeNull();
  });
});

describe("#/actions/new", () => {
  it("offers the platform's kinds with a hello world and creates the action", async () => {
    const putAction = vi.fn(async (name: string, body: Partial<Action>, _overwrite: boolean) => ({ ...hello, name, ...body }));
    const { ctx, root, navigated } = setup(["new"], { putAction });
    const cleanup = await actionsPage(ctx, root);
    const kind = q<HTMLSelectElement>(root, "action-kind");
    expect([...kind.options].map((o) => o.value)).toEqual(["python:3.11", "nodejs:18"]);
    expect(kind.value).toBe("python:3.11");
    expect(cmContent(root)?.textContent).toContain("def main(args):");
    expect(q(root, "action-delete")).toBeNull();
    expect(q(root, "invoke-button")).toBeNull();

    // Switching the kind swaps an untouched hello world.
    kind.value = "nodejs:18";
    kind.dispatchEvent(new Event("change"));
    expect(cmContent(root)?.textContent).toContain("function main(params)");

    q<HTMLInputElement>(root, "action-name").value = "greet";
    q<HTMLInputElement>(root, "action-web").checked = true;
    q<HTMLTextAreaElement>(root, "action-params").value = '{"name":"Bo"}';
    q(root, "action-save").click();
    await settle();
    expect(putAction).toHaveBeenCalledTimes(1);
    const [name, body, overwrite] = putAction.mock.calls[0];
    expect(name).toBe("greet");
    expect(overwrite).toBe(false);
    expect(body.exec?.kind).toBe("nodejs:18");
    expect(body.exec?.code).toMatch(/^function main\(params\)/);
    expect(body.parameters).toEqual([{ key: "name", value: "Bo" }]);
    expect(body.limits).toEqual({ memory: 256, timeout: 60000 });
    expect(body.annotations).toContainEqual({ key: "web-export", value: true });
    expect(navigated).toEqual(["#/actions/greet"]);
    (cleanup as () => void)();
  });

  it("says what is wrong with the parameters and does not save", async () => {
    const putAction = vi.fn();
    const { ctx, root, notes } = setup(["new"], { putAction });
    await actionsPage(ctx, root);
    q<HTMLInputElement>(root, "action-name").value = "x";
    q<HTMLTextAreaElement>(root, "action-params").value = "{oops";
    q(root, "action-save").click();
    await settle();
    expect(putAction).not.toHaveBeenCalled();
    expect(notes.at(-1)?.[1]).toBe("error");
    expect(notes.at(-1)?.[0]).toMatch(/^Parameters must be a JSON object: ./);
  });
});

const record = (over: Partial<Activation> = {}): Activation => ({
  namespace: "guest",
  name: "hello",
  activationId: "0123456789abcdef0123456789abcdef",
  start: 1000,
  end: 1042,
  duration: 42,
  response: { status: "success", success: true, result: { html: XSS, s: "<script>alert(1)</script>" } },
  logs: ["2026-12-05T10:00:00.1Z stdout: one", `2026-12-05T10:00:00.2Z stdout: ${XSS}`],
  annotations: [
    { key: "waitTime", value: 12 },
    { key: "initTime", value: 250 },
  ],
  ...over,
});

describe("#/actions/<name>", () => {
  it("edits, invokes and shows the activation as text; the charts are started and stopped", async () => {
    const invoke = vi.fn(async (): Promise<InvokeOutcome> => ({ status: 200, activationId: record().activationId, activation: record() }));
    const putAction = vi.fn(async (_n: string, body: Partial<Action>, _overwrite: boolean) => ({
      ...hello,
      ...body,
      version: "0.0.2",
    }));
    const { ctx, root, notes } = setup(["hello"], { getAction: async () => hello, invoke, putAction });
    const cleanup = await actionsPage(ctx, root);

    expect(q(root, "action-name")).toBeNull();
    expect(q<HTMLInputElement>(root, "action-memory").value).toBe("128");
    expect(q<HTMLInputElement>(root, "action-timeout").value).toBe("30000");
    expect(q<HTMLInputElement>(root, "action-web").checked).toBe(true);
    expect(JSON.parse(q<HTMLTextAreaElement>(root, "action-params").value)).toEqual({ name: "Ada" });
    expect(renderActionCharts).toHaveBeenCalledTimes(1);
    expect(renderActionCharts.mock.calls[0][2]).toBe("hello");
    expect(q(root, "action-charts").contains(renderActionCharts.mock.calls[0][1])).toBe(true);

    q<HTMLTextAreaElement>(root, "invoke-params").value = '{"name":"Cy"}';
    q(root, "invoke-button").click();
    await settle();
    expect(invoke).toHaveBeenCalledWith("hello", { name: "Cy" });
    expect(q(root, "invoke-status").textContent).toBe("success");
    expect(JSON.parse(q(root, "invoke-result").textContent ?? "")).toEqual(record().response!.result);
    expect(q(root, "invoke-logs").textContent?.split("\n")).toEqual(record().logs);
    expect(q(root, "invoke-duration").textContent).toBe("42 ms");
    expect(q(root, "invoke-start").textContent).toBe("cold");
    expect(q(root, "invoke-wait-time").textContent).toBe("12 ms");
    expect(q(root, "invoke-init-time").textContent).toBe("250 ms");
    expect(q(root, "invoke-activation-link").getAttribute("href")).toBe("#/activations/0123456789abcdef0123456789abcdef");
    expect(root.querySelector("img, script")).toBeNull();

    // Save: overwrite, web off.
    q<HTMLInputElement>(root, "action-web").checked = false;
    q(root, "action-save").click();
    await settle();
    const [, body, overwrite] = putAction.mock.calls[0];
    expect(overwrite).toBe(true);
    expect(body.annotations).toContainEqual({ key: "web-export", value: false });
    expect(body.annotations?.some((a) => a.key === "exec")).toBe(false);
    expect(notes.at(-1)).toEqual(["Saved hello (version 0.0.2).", undefined]);

    (cleanup as () => void)();
    expect(chartsCleanup).toHaveBeenCalledTimes(1);
  });

  it("says a 202 is still running and links the activation; a warm start is warm", async () => {
    const outcomes: InvokeOutcome[] = [
      { status: 202, activationId: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
      { status: 200, activationId: "b".repeat(32), activation: record({ activationId: "b".repeat(32), annotations: [{ key: "waitTime", value: 3 }] }) },
    ];
    const invoke = vi.fn(async () => outcomes.shift()!);
    const { ctx, root } = setup(["hello"], { getAction: async () => hello, invoke });
    await actionsPage(ctx, root);
    q(root, "invoke-button").click();
    await settle();
    expect(q(root, "invoke-status").textContent).toMatch(/still running/);
    expect(q(root, "invoke-activation-link").getAttribute("href")).toBe("#/activations/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    q(root, "invoke-button").click();
    await settle();
    expect(q(root, "invoke-start").textContent).toBe("warm");
    expect(q(root, "invoke-init-time").textContent).toBe("");
  });

  it("shows an application error and a refused invoke", async () => {
    const failed = record({ response: { status: "application error", success: false, result: { error: "boom" } } });
    const outcomes: (() => InvokeOutcome)[] = [
      () => ({ status: 502, activationId: failed.activationId, activation: failed }),
      () => {
        throw new ApiError(503, "No invokers available.");
      },
    ];
    const invoke = vi.fn(async () => outcomes.shift()!());
    const { ctx, root, notes } = setup(["hello"], { getAction: async () => hello, invoke });
    await actionsPage(ctx, root);
    q(root, "invoke-button").click();
    await settle();
    expect(q(root, "invoke-status").textContent).toBe("application error");
    expect(q(root, "invoke-status").classList.contains("bad")).toBe(true);
    q(root, "invoke-button").click();
    await settle();
    expect(q(root, "invoke-status").textContent).toBe("not invoked: No invokers available.");
    expect(notes.at(-1)).toEqual(["No invokers available.", "error"]);
  });

  it("shows a sequence's exec without an editor and deletes after confirming", async () => {
    const seq: Action = {
      namespace: "guest",
      name: "seq",
      exec: { kind: "sequence", components: ["/guest/a", "/guest/b"] },
      parameters: [{ key: "_actions", value: ["/guest/a", "/guest/b"] }],
      limits: { timeout: 60000, memory: 256 },
      annotations: [{ key: "exec", value: "sequence" }],
    };
    const deleteAction = vi.fn(async () => seq);
    const { ctx, root, navigated } = setup(["seq"], { getAction: async () => seq, deleteAction });
    vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    await actionsPage(ctx, root);
    expect(q(root, "code-editor")).toBeNull();
    expect(q(root, "action-exec").textContent).toBe("sequence of /guest/a → /guest/b");
    expect([...q(root, "action-components").querySelectorAll("a")].map((a) => a.getAttribute("href"))).toEqual([
      "#/actions/a",
      "#/actions/b",
    ]);
    expect(q<HTMLTextAreaElement>(root, "action-params").value).toBe("{}");
    expect(q(root, "invoke-button")).not.toBeNull();
    q(root, "action-delete").click();
    await settle();
    expect(deleteAction).not.toHaveBeenCalled();
    q(root, "action-delete").click();
    await settle();
    expect(deleteAction).toHaveBeenCalledWith("seq");
    expect(navigated).toEqual(["#/actions"]);
  });

  it("says so when the action does not exist", async () => {
    const getAction = vi.fn(async () => {
      throw new ApiError(404, "The requested resource does not exist.");
    });
    const { ctx, root, notes } = setup([XSS], { getAction });
    await actionsPage(ctx, root);
    expect(q(root, "action-missing").textContent).toBe(`There is no action ${XSS}.`);
    expect(root.querySelector("img")).toBeNull();
    expect(notes.at(-1)).toEqual(["The requested resource does not exist.", "error"]);
    expect(renderActionCharts).not.toHaveBeenCalled();
  });

  it("reads the logs from the stored record when the answer came without them", async () => {
    const answer = record({ logs: [] });
    const stored = record({ logs: ["2026-12-05T10:00:00.1Z stdout: late"] });
    const invoke = vi.fn(async (): Promise<InvokeOutcome> => ({ status: 200, activationId: answer.activationId, activation: answer }));
    const reads: (Activation | Error)[] = [new ApiError(404, "The requested resource does not exist."), stored];
    const getActivation = vi.fn(async (_id: string) => {
      const r = reads.shift()!;
      if (r instanceof Error) throw r;
      return r;
    });
    const { ctx, root } = setup(["hello"], { getAction: async () => hello, invoke, getActivation });
    await actionsPage(ctx, root);
    q(root, "invoke-button").click();
    await settle();
    expect(q(root, "invoke-status").textContent).toBe("success");
    expect(q<HTMLButtonElement>(root, "invoke-button").disabled).toBe(true);
    await vi.waitFor(() => expect(q(root, "invoke-logs").textContent).toBe("2026-12-05T10:00:00.1Z stdout: late"), {
      timeout: 3000,
    });
    await settle();
    expect(q<HTMLButtonElement>(root, "invoke-button").disabled).toBe(false);
    expect(getActivation).toHaveBeenCalledTimes(2);
    expect(getActivation).toHaveBeenCalledWith(answer.activationId);
  });
});
