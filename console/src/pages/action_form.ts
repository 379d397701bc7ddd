// The action page's logic without the DOM: the kinds the platform offers, the hello-world for a
// kind, the form's values → the PUT body (parameters, limits, the web annotations as
// `wsk action update --web true|false` sets them), and what an activation says about its start.
import type { Action, Activation, Exec, KeyValue } from "../api";
import { parseJsonObject, type Result } from "./common";

/** When GET / does not answer with runtimes. */
export const FALLBACK_KINDS = ["python:default", "nodejs:default"];

/** The annotations `wsk --web` manages. */
export const WEB_KEYS = ["web-export", "raw-http", "final"] as const;

interface RuntimeEntry {
  kind?: unknown;
  default?: unknown;
  deprecated?: unknown;
  requireMain?: unknown;
}

/**
 * The kinds an editor can create from GET /'s `runtimes` ({"python":[{"kind":"python:3.11",
 * "default":true,...}],...}): not deprecated, not needing a `main` (java, dotnet); each family's
 * default first within the family; python's family first, then the rest by name. Anything else
 * (no runtimes, a failed request) → FALLBACK_KINDS.
 */
export function kindsFromRoot(root: unknown): string[] {
  const runtimes = (root as { runtimes?: unknown } | null | undefined)?.runtimes;
  if (!runtimes || typeof runtimes !== "object" || Array.isArray(runtimes)) return [...FALLBACK_KINDS];
  const families = Object.keys(runtimes as Record<string, unknown>).sort((a, b) =>
    a === "python" ? -1 : b === "python" ? 1 : a.localeCompare(b),
  );
  const kinds: string[] = [];
  for (const family of families) {
    const list = (runtimes as Record<string, unknown>)[family];
    if (!Array.isArray(list)) continue;
    const usable = (list as RuntimeEntry[]).filter(
      (e) =>
        e !== null &&
        typeof e === "object" &&
        typeof e.kind === "string" &&
        e.kind.length > 0 &&
        e.deprecated !== true &&
        e.requireMain !== true,
    );
    usable.sort((a, b) => Number(b.default === true) - Number(a.default === true));
    for (const e of usable) kinds.push(e.kind as string);
  }
  return kinds.length > 0 ? kinds : [...FALLBACK_KINDS];
}

/** "python:3.11" → "python". */
export function familyOf(kind: string): string {
  const i = kind.indexOf(":");
  return i < 0 ? kind : kind.slice(0, i);
}

/** The hello-world a new action of `kind` starts from. */
export function defaultCode(kind: string): string {
  switch (familyOf(kind)) {
    case "python":
      return [
        "def main(args):",
        '    name = args.get("name", "world")',
        '    print(f"hello {name}")',
        '    return {"greeting": f"Hello, {name}!"}',
        "",
      ].join("\n");
    case "nodejs":
      return [
        "function main(params) {",
        '  const name = params.name || "world";',
        "  console.log(`hello ${name}`);",
        "  return { greeting: `Hello, ${name}!` };",
        "}",
        "",
      ].join("\n");
    default:
      return "";
  }
}

/** True when the page can edit this exec's code (a text code action, not a sequence, blackbox or zip). */
export function isEditable(exec: Exec | undefined): boolean {
  if (!exec) return true;
  if (exec.kind === "sequence" || exec.kind === "blackbox") return false;
  return exec.binary !== true;
}

/** What the page shows instead of an editor for a sequence, blackbox or binary action. */
export function execSummary(exec: Exec): string {
  if (exec.kind === "sequence") return `sequence of ${(exec.components ?? []).join(" → ")}`;
  if (exec.kind === "blackbox") {
    return `blackbox image ${exec.image ?? "?"}${exec.binary ? " (with a zip)" : exec.code ? " (with code)" : ""}`;
  }
  return `${exec.kind}: binary (zip) code, ${(exec.code ?? "").length} base64 characters; update it with wsk`;
}

/**
 * A sequence component "/ns/pkg/a" as a name relative to `namespace` ("pkg/a"), for a link to
 * its page; undefined when it lives in another namespace ("_" counts as the caller's).
 */
export function componentInNamespace(fqn: string, namespace: string): string | undefined {
  const parts = fqn.split("/").filter((s) => s.length > 0);
  if (parts.length < 2 || parts.length > 3) return undefined;
  if (parts[0] !== namespace && parts[0] !== "_") return undefined;
  return parts.slice(1).join("/");
}

/** {a: 1} → [{key: "a", value: 1}]. */
export function toKeyValues(obj: Record<string, unknown>): KeyValue[] {
  return Object.entries(obj).map(([key, value]) => ({ key, value }));
}

/** [{key, value}] → {key: value}, leaving out `omit` (a sequence's `_actions`). */
export function fromKeyValues(kvs: KeyValue[] | undefined, omit: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs ?? []) if (!omit.includes(kv.key)) out[kv.key] = kv.value;
  return out;
}

/** The action is a web action when its web-export annotation is true. */
export function isWebAction(entity: { annotations?: KeyValue[] }): boolean {
  return entity.annotations?.find((a) => a.key === "web-export")?.value === true;
}

/**
 * `wsk action update --web true|false`: the other annotations kept, then web-export, raw-http
 * and final set to (true, false, true) or (false, false, false).
 */
export function withWebAnnotations(annotations: KeyValue[] | undefined, web: boolean): KeyValue[] {
  const kept = (annotations ?? []).filter((a) => !(WEB_KEYS as readonly string[]).includes(a.key));
  return [
    ...kept,
    { key: "web-export", value: web },
    { key: "raw-http", value: false },
    { key: "final", value: web },
  ];
}

/** The form's values, as the page reads them. */
export interface ActionFormValues {
  name: string;
  kind: string;
  code: string;
  memory: string;
  timeout: string;
  web: boolean;
  params: string;
}

const NAME_RE = /^([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])$/;

/** An action name relative to the namespace: `a` or `pkg/a`, each part an OpenWhisk name. */
export function validateName(name: string): string | undefined {
  if (name.length === 0) return "Give the action a name.";
  const parts = name.split("/");
  if (parts.length > 2 || !parts.every((p) => NAME_RE.test(p))) {
    return `"${name}" is not a valid action name (letters, digits, _ @ . & - and spaces; optionally package/name).`;
  }
  return undefined;
}

function intField(text: string, label: string, unit: string): Result<number | undefined> {
  const t = text.trim();
  if (t.length === 0) return { ok: true, value: undefined };
  if (!/^\d+$/.test(t)) return { ok: false, error: `${label} must be a whole number of ${unit}.` };
  return { ok: true, value: Number(t) };
}

/**
 * The PUT body for the form. `existing` is the action being edited (undefined when creating):
 * its non-web annotations are kept; a sequence, blackbox or binary action keeps its exec (not
 * sent) and a sequence's parameters are the server's (`_actions`), so none are sent.
 */
export function buildActionPut(form: ActionFormValues, existing?: Action): Result<Partial<Action>> {
  if (!existing) {
    const bad = validateName(form.name.trim());
    if (bad) return { ok: false, error: bad };
    if (form.kind.length === 0) return { ok: false, error: "Choose a kind." };
  }
  const params = parseJsonObject(form.params, "Parameters");
  if (!params.ok) return params;
  const memory = intField(form.memory, "Memory", "MB");
  if (!memory.ok) return memory;
  const timeout = intField(form.timeout, "Timeout", "milliseconds");
  if (!timeout.ok) return timeout;

  const body: Partial<Action> = {};
  if (!existing || isEditable(existing.exec)) {
    const kind = form.kind.length > 0 ? form.kind : (existing?.exec.kind ?? "");
    if (form.code.trim().length === 0) return { ok: false, error: "The code is empty." };
    body.exec = { kind, code: form.code };
    if (existing?.exec.main) body.exec.main = existing.exec.main;
  }
  if (existing?.exec.kind !== "sequence") body.parameters = toKeyValues(params.value);
  const limits: { memory?: number; timeout?: number } = {};
  if (memory.value !== undefined) limits.memory = memory.value;
  if (timeout.value !== undefined) limits.timeout = timeout.value;
  if (Object.keys(limits).length > 0) body.limits = limits;
  const base = (existing?.annotations ?? []).filter((a) => a.key !== "exec");
  // A new action that is not a web action needs no annotations; any other case says what it is.
  if (existing || form.web) body.annotations = withWebAnnotations(base, form.web);
  return { ok: true, value: body };
}

/** The form's values for an existing action. */
export function formValuesOf(action: Action): ActionFormValues {
  const omit = action.exec.kind === "sequence" ? ["_actions"] : [];
  const params = fromKeyValues(action.parameters, omit);
  return {
    name: action.name,
    kind: action.exec.kind,
    code: action.exec.code ?? "",
    memory: action.limits?.memory !== undefined ? String(action.limits.memory) : "",
    timeout: action.limits?.timeout !== undefined ? String(action.limits.timeout) : "",
    web: isWebAction(action),
    params: Object.keys(params).length > 0 ? JSON.stringify(params, null, 2) : "{}",
  };
}

/** The value of an activation's annotation `key`. */
function ann(a: Activation, key: string): unknown {
  return a.annotations?.find((x) => x.key === key)?.value;
}

/** cold when the activation carries an initTime annotation (the container was initialised for it). */
export function startOf(a: Activation): "cold" | "warm" {
  return ann(a, "initTime") !== undefined ? "cold" : "warm";
}

/** The waitTime / initTime annotation in ms, when present and numeric. */
export function waitTimeOf(a: Activation): number | undefined {
  const v = ann(a, "waitTime");
  return typeof v === "number" ? v : undefined;
}
export function initTimeOf(a: Activation): number | undefined {
  const v = ann(a, "initTime");
  return typeof v === "number" ? v : undefined;
}

/** The text of the logs, one line per log line (a log line's own newlines stay inside it). */
export function logsText(a: Activation): string {
  return (a.logs ?? []).join("\n");
}

/** "success", "application error", ... (what the record says), or the status code's name. */
export function statusOf(a: Activation): string {
  if (a.response?.status) return a.response.status;
  const names = ["success", "application error", "action developer error", "whisk internal error"];
  const code = a.response?.statusCode ?? a.statusCode;
  return code !== undefined && names[code] ? names[code] : "unknown";
}

/** Waits between the reads of a just-answered activation's record (about 6 s in all). */
export const LOG_POLL_DELAYS_MS = [150, 250, 400, 600, 800, 1000, 1200, 1500];

/**
 * The logs of an activation whose blocking answer came without them: the answer is sent before
 * the invoker has collected the logs (as OpenWhisk's), the stored record has them. Reads the
 * record until it has logs, or it was found twice without any (the action wrote none), or the
 * delays run out; a record not stored yet (404) is asked again. Undefined when nothing was
 * learnt or `stop()` said the page was left.
 */
export async function logsFromRecord(
  get: (id: string) => Promise<Activation>,
  id: string,
  opts: {
    sleep?: (ms: number) => Promise<void>;
    stop?: () => boolean;
    delays?: number[];
    isNotFound?: (e: unknown) => boolean;
  } = {},
): Promise<string[] | undefined> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const notFound = opts.isNotFound ?? ((e: unknown) => (e as { status?: unknown })?.status === 404);
  let emptyReads = 0;
  let last: string[] | undefined;
  for (const d of opts.delays ?? LOG_POLL_DELAYS_MS) {
    await sleep(d);
    if (opts.stop?.()) return undefined;
    let rec: Activation;
    try {
      rec = await get(id);
    } catch (e) {
      if (notFound(e)) continue;
      return last;
    }
    last = rec.logs ?? [];
    if (last.length > 0 || ++emptyReads >= 2) return last;
  }
  return last;
}
