import { describe, expect, it, vi } from "vitest";
import type { Action, Activation } from "../api";
import {
  FALLBACK_KINDS,
  buildActionPut,
  componentInNamespace,
  defaultCode,
  execSummary,
  formValuesOf,
  fromKeyValues,
  initTimeOf,
  isEditable,
  isWebAction,
  kindsFromRoot,
  logsFromRecord,
  logsText,
  startOf,
  statusOf,
  toKeyValues,
  validateName,
  waitTimeOf,
  withWebAnnotations,
  type ActionFormValues,
} from "./action_form";

const form = (over: Partial<ActionFormValues> = {}): ActionFormValues => ({
  name: "hello",
  kind: "python:3.11",
  code: "def main(args):\n    return args\n",
  memory: "256",
  timeout: "60000",
  web: false,
  params: "{}",
  ...over,
});

const action = (over: Partial<Action> = {}): Action => ({
  namespace: "guest",
  name: "hello",
  version: "0.0.1",
  exec: { kind: "python:3.11", code: "def main(args):\n    return args\n", binary: false },
  parameters: [{ key: "name", value: "Ada" }],
  limits: { timeout: 30000, memory: 128, logs: 10, concurrency: 1 },
  annotations: [
    { key: "provide-api-key", value: false },
    { key: "exec", value: "python:3.11" },
  ],
  ...over,
});

describe("kindsFromRoot", () => {
  it("lists the usable kinds, python first, each family's default first", () => {
    const root = {
      description: "OpenWhisk",
      runtimes: {
        nodejs: [
          { kind: "nodejs:16", default: false, deprecated: false },
          { kind: "nodejs:18", default: true, deprecated: false },
          { kind: "nodejs:14", default: false, deprecated: true },
        ],
        java: [{ kind: "java:8", default: true, requireMain: true }],
        python: [{ kind: "python:3.11", default: true, deprecated: false }],
      },
    };
    expect(kindsFromRoot(root)).toEqual(["python:3.11", "nodejs:18", "nodejs:16"]);
  });
  it("falls back when GET / has no runtimes or answered nothing", () => {
    expect(kindsFromRoot(undefined)).toEqual(FALLBACK_KINDS);
    expect(kindsFromRoot({ description: "x" })).toEqual(FALLBACK_KINDS);
    expect(kindsFromRoot({ runtimes: [] })).toEqual(FALLBACK_KINDS);
    expect(kindsFromRoot({ runtimes: { python: [{ kind: 3 }, null] } })).toEqual(FALLBACK_KINDS);
    expect(FALLBACK_KINDS).toEqual(["python:default", "nodejs:default"]);
  });
});

describe("defaultCode", () => {
  it("is a hello world for python and nodejs", () => {
    expect(defaultCode("python:3.11")).toMatch(/^def main\(args\):/);
    expect(defaultCode("python:default")).toContain("return {");
    expect(defaultCode("nodejs:18")).toMatch(/^function main\(params\) \{/);
    expect(defaultCode("go:1.22")).toBe("");
  });
});

describe("componentInNamespace", () => {
  it("is the relative name for the caller's namespace only", () => {
    expect(componentInNamespace("/guest/a", "guest")).toBe("a");
    expect(componentInNamespace("/guest/pkg/a", "guest")).toBe("pkg/a");
    expect(componentInNamespace("/_/a", "guest")).toBe("a");
    expect(componentInNamespace("/whisk.system/utils/echo", "guest")).toBeUndefined();
    expect(componentInNamespace("/guest", "guest")).toBeUndefined();
  });
});

describe("key values", () => {
  it("round-trips and drops omitted keys", () => {
    expect(toKeyValues({ a: 1, b: { c: "x" } })).toEqual([
      { key: "a", value: 1 },
      { key: "b", value: { c: "x" } },
    ]);
    expect(fromKeyValues([{ key: "_actions", value: ["/g/a"] }, { key: "x", value: 2 }], ["_actions"])).toEqual({ x: 2 });
    expect(fromKeyValues(undefined)).toEqual({});
  });
});

describe("web annotations", () => {
  it("sets what wsk --web true sets, keeping the others", () => {
    const out = withWebAnnotations([{ key: "a", value: 1 }, { key: "web-export", value: false }], true);
    expect(out).toEqual([
      { key: "a", value: 1 },
      { key: "web-export", value: true },
      { key: "raw-http", value: false },
      { key: "final", value: true },
    ]);
    expect(isWebAction({ annotations: out })).toBe(true);
  });
  it("sets what wsk --web false sets", () => {
    const out = withWebAnnotations([{ key: "raw-http", value: true }, { key: "final", value: true }], false);
    expect(out).toEqual([
      { key: "web-export", value: false },
      { key: "raw-http", value: false },
      { key: "final", value: false },
    ]);
    expect(isWebAction({ annotations: out })).toBe(false);
    expect(isWebAction({})).toBe(false);
    expect(isWebAction({ annotations: [{ key: "web-export", value: "true" }] })).toBe(false);
  });
});

describe("validateName", () => {
  it("takes a name or pkg/name", () => {
    expect(validateName("hello")).toBeUndefined();
    expect(validateName("pkg/hello-2")).toBeUndefined();
    expect(validateName("")).toBe("Give the action a name.");
    expect(validateName("a/b/c")).toBeDefined();
    expect(validateName("<img src=x>")).toBeDefined();
    expect(validateName("-x")).toBeDefined();
  });
});

describe("buildActionPut", () => {
  it("builds a create body: exec, parameters, limits, no annotations for a non-web action", () => {
    const r = buildActionPut(form({ params: '{"name":"Ada"}', memory: "128", timeout: "3000" }));
    expect(r).toEqual({
      ok: true,
      value: {
        exec: { kind: "python:3.11", code: "def main(args):\n    return args\n" },
        parameters: [{ key: "name", value: "Ada" }],
        limits: { memory: 128, timeout: 3000 },
      },
    });
  });
  it("adds the web annotations for a new web action", () => {
    const r = buildActionPut(form({ web: true }));
    expect(r.ok && r.value.annotations).toEqual([
      { key: "web-export", value: true },
      { key: "raw-http", value: false },
      { key: "final", value: true },
    ]);
  });
  it("leaves out limits that are blank", () => {
    const r = buildActionPut(form({ memory: "", timeout: " " }));
    expect(r.ok && r.value.limits).toBeUndefined();
  });
  it("refuses bad parameters, limits, names and empty code", () => {
    const bad = (f: ActionFormValues) => {
      const r = buildActionPut(f);
      return r.ok ? "" : r.error;
    };
    expect(bad(form({ params: "{" }))).toMatch(/^Parameters must be a JSON object: /);
    expect(bad(form({ params: "[]" }))).toBe("Parameters must be a JSON object: got an array");
    expect(bad(form({ memory: "12.5" }))).toBe("Memory must be a whole number of MB.");
    expect(bad(form({ timeout: "-1" }))).toBe("Timeout must be a whole number of milliseconds.");
    expect(bad(form({ name: "" }))).toBe("Give the action a name.");
    expect(bad(form({ code: "  " }))).toBe("The code is empty.");
  });
  it("an edit keeps the other annotations (not exec) and sets the web ones off", () => {
    const existing = action({
      annotations: [
        { key: "provide-api-key", value: false },
        { key: "web-export", value: true },
        { key: "exec", value: "python:3.11" },
      ],
    });
    const r = buildActionPut(form({ web: false, name: "ignored" }), existing);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.annotations).toEqual([
      { key: "provide-api-key", value: false },
      { key: "web-export", value: false },
      { key: "raw-http", value: false },
      { key: "final", value: false },
    ]);
    expect(r.value.exec).toEqual({ kind: "python:3.11", code: "def main(args):\n    return args\n" });
  });
  it("an edit of a sequence sends neither exec nor parameters", () => {
    const seq = action({
      exec: { kind: "sequence", components: ["/guest/a", "/guest/b"] },
      parameters: [{ key: "_actions", value: ["/guest/a", "/guest/b"] }],
    });
    const r = buildActionPut(form({ kind: "sequence", code: "", params: "{}" }), seq);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.exec).toBeUndefined();
    expect(r.value.parameters).toBeUndefined();
    expect(r.value.limits).toEqual({ memory: 256, timeout: 60000 });
  });
  it("an edit of a binary action keeps its exec", () => {
    const zip = action({ exec: { kind: "python:3.11", code: "UEsDBA==", binary: true } });
    const r = buildActionPut(form({ code: "" }), zip);
    expect(r.ok && r.value.exec).toBeUndefined();
  });
});

describe("formValuesOf", () => {
  it("reads an action back into the form", () => {
    expect(formValuesOf(action())).toEqual({
      name: "hello",
      kind: "python:3.11",
      code: "def main(args):\n    return args\n",
      memory: "128",
      timeout: "30000",
      web: false,
      params: '{\n  "name": "Ada"\n}',
    });
  });
  it("hides a sequence's _actions", () => {
    const seq = action({
      exec: { kind: "sequence", components: ["/guest/a"] },
      parameters: [{ key: "_actions", value: ["/guest/a"] }],
    });
    expect(formValuesOf(seq).params).toBe("{}");
  });
});

describe("exec", () => {
  it("edits code actions only", () => {
    expect(isEditable(undefined)).toBe(true);
    expect(isEditable({ kind: "nodejs:18", code: "x", binary: false })).toBe(true);
    expect(isEditable({ kind: "nodejs:18", code: "UEsDBA==", binary: true })).toBe(false);
    expect(isEditable({ kind: "sequence", components: [] })).toBe(false);
    expect(isEditable({ kind: "blackbox", image: "u/i" })).toBe(false);
  });
  it("summarises the others", () => {
    expect(execSummary({ kind: "sequence", components: ["/guest/a", "/guest/b"] })).toBe("sequence of /guest/a → /guest/b");
    expect(execSummary({ kind: "blackbox", image: "openwhisk/dockerskeleton" })).toBe(
      "blackbox image openwhisk/dockerskeleton",
    );
  });
});

const activation = (annotations: { key: string; value: unknown }[], over: Partial<Activation> = {}): Activation => ({
  namespace: "guest",
  name: "hello",
  activationId: "c7bb1339cb4f40e3a6ccead6c99f804e",
  start: 1,
  end: 3,
  duration: 2,
  response: { status: "success", success: true, result: { ok: true } },
  logs: ["2026-12-05T10:00:00.1Z stdout: hi", "2026-12-05T10:00:00.2Z stderr: <b>x</b>"],
  annotations,
  ...over,
});

describe("activation facts", () => {
  it("cold when initTime is there, warm otherwise", () => {
    const cold = activation([
      { key: "waitTime", value: 412 },
      { key: "initTime", value: 38 },
    ]);
    expect(startOf(cold)).toBe("cold");
    expect(initTimeOf(cold)).toBe(38);
    expect(waitTimeOf(cold)).toBe(412);
    const warm = activation([{ key: "waitTime", value: 5 }]);
    expect(startOf(warm)).toBe("warm");
    expect(initTimeOf(warm)).toBeUndefined();
    expect(startOf(activation([], { annotations: undefined }))).toBe("warm");
  });
  it("logs one per line, status from the response", () => {
    expect(logsText(activation([]))).toBe("2026-12-05T10:00:00.1Z stdout: hi\n2026-12-05T10:00:00.2Z stderr: <b>x</b>");
    expect(statusOf(activation([]))).toBe("success");
    expect(
      statusOf(activation([], { response: { status: "application error", success: false, result: { error: "x" } } })),
    ).toBe("application error");
    expect(statusOf(activation([], { response: undefined, statusCode: 2 }))).toBe("action developer error");
    expect(statusOf(activation([], { response: undefined }))).toBe("unknown");
  });
});

describe("logsFromRecord", () => {
  const noSleep = async () => {};
  const notFound = Object.assign(new Error("The requested resource does not exist."), { status: 404 });
  const rec = (logs: string[] | undefined) => activation([], { logs });

  it("asks again while the record is not stored and returns its logs", async () => {
    const answers: (Activation | Error)[] = [notFound, notFound, rec(["l1", "l2"])];
    const get = vi.fn(async (_id: string) => {
      const a = answers.shift()!;
      if (a instanceof Error) throw a;
      return a;
    });
    expect(await logsFromRecord(get, "id1", { sleep: noSleep })).toEqual(["l1", "l2"]);
    expect(get).toHaveBeenCalledTimes(3);
    expect(get).toHaveBeenCalledWith("id1");
  });
  it("stops after two reads without logs", async () => {
    const get = vi.fn(async () => rec(undefined));
    expect(await logsFromRecord(get, "x", { sleep: noSleep })).toEqual([]);
    expect(get).toHaveBeenCalledTimes(2);
  });
  it("gives up after the delays, on another error, or when the page is left", async () => {
    const missing = vi.fn(async (): Promise<Activation> => {
      throw notFound;
    });
    expect(await logsFromRecord(missing, "x", { sleep: noSleep, delays: [1, 1, 1] })).toBeUndefined();
    expect(missing).toHaveBeenCalledTimes(3);
    const broken = vi.fn(async (): Promise<Activation> => {
      throw Object.assign(new Error("boom"), { status: 500 });
    });
    expect(await logsFromRecord(broken, "x", { sleep: noSleep })).toBeUndefined();
    expect(broken).toHaveBeenCalledTimes(1);
    const get = vi.fn(async () => rec(["l"]));
    expect(await logsFromRecord(get, "x", { sleep: noSleep, stop: () => true })).toBeUndefined();
    expect(get).not.toHaveBeenCalled();
  });
  it("waits the given delays", async () => {
    const waited: number[] = [];
    const get = vi.fn(async () => rec(undefined));
    await logsFromRecord(get, "x", { sleep: async (ms) => void waited.push(ms) });
    expect(waited).toEqual([150, 250]);
  });
});
