// Test doubles for the page modules: an in-memory fake of the WispApi methods the triggers,
// rules, feeds and limits pages call (FakeApi), PageContexts around a fake (context: notify is a
// vi.fn; recordingContext: notify and navigate collected in arrays), a mounted root, and DOM
// look-ups by data-testid. Only *.test.ts files import this module (src/testing/fake_api.test.ts
// checks it), so it stays out of the bundle.
import { vi } from "vitest";
import { ApiError, type Rule, type Trigger, type WispApi } from "../api";
import type { PageContext } from "../router";

export class FakeApi {
  triggers = new Map<string, Trigger>();
  rules = new Map<string, Rule>();
  actions: { namespace: string; name: string; exec: { kind: string } }[] = [];
  fireAnswer: string | undefined = "0123456789abcdef0123456789abcdef";
  feedError: string | undefined;

  listTriggers = vi.fn(async () =>
    [...this.triggers.values()].map((t) => ({ namespace: t.namespace, name: t.name, annotations: t.annotations })),
  );
  getTrigger = vi.fn(async (name: string) => {
    const t = this.triggers.get(name);
    if (!t) throw new ApiError(404, "The requested resource does not exist.");
    return t;
  });
  putTrigger = vi.fn(async (name: string, t: Partial<Trigger>) => {
    if (this.triggers.has(name)) throw new ApiError(409, "resource already exists");
    const doc: Trigger = { namespace: "guest", name, annotations: t.annotations ?? [] };
    this.triggers.set(name, doc);
    return doc;
  });
  deleteTrigger = vi.fn(async (name: string) => {
    const t = await this.getTrigger(name);
    this.triggers.delete(name);
    return t;
  });
  deleteTriggerWithFeed = vi.fn(async (name: string) => this.deleteTrigger(name));
  fireTrigger = vi.fn(async (_name: string, _params: Record<string, unknown> = {}) => this.fireAnswer);
  createFeedTrigger = vi.fn(async (name: string, feed: string, _params: Record<string, unknown>) => {
    if (this.feedError) throw new ApiError(502, this.feedError);
    return this.putTrigger(name, { annotations: [{ key: "feed", value: feed }] });
  });
  listActions = vi.fn(async () => this.actions);
  listRules = vi.fn(async () => [...this.rules.values()].map((r) => ({ ...r, status: undefined })));
  getRule = vi.fn(async (name: string) => {
    const r = this.rules.get(name);
    if (!r) throw new ApiError(404, "The requested resource does not exist.");
    return { ...r };
  });
  putRule = vi.fn(async (name: string, trigger: string, action: string) => {
    const ref = (s: string) => {
      const parts = s.split("/").filter((x) => x);
      const name = parts.pop() ?? "";
      return { path: ["guest", ...parts.slice(1)].join("/"), name };
    };
    const r: Rule = { namespace: "guest", name, status: "active", trigger: ref(trigger), action: ref(action) };
    this.rules.set(name, r);
    return r;
  });
  setRuleStatus = vi.fn(async (name: string, status: "active" | "inactive") => {
    const r = this.rules.get(name);
    if (!r) throw new ApiError(404, "Only rules with existing triggers can be activated");
    r.status = status;
    return "OK";
  });
  deleteRule = vi.fn(async (name: string) => {
    const r = await this.getRule(name);
    this.rules.delete(name);
    return r;
  });
  limits = vi.fn(async () => ({}));
}

/** A context for namespace guest around any API (a fake, or a WispApi over a fake fetch). */
export function pageContext(api: object, over: Partial<PageContext> = {}): PageContext {
  return {
    api: api as unknown as WispApi,
    namespace: "guest",
    params: [],
    query: new URLSearchParams(),
    navigate: () => undefined,
    notify: () => undefined,
    ...over,
  };
}

export function context(api: FakeApi): PageContext & { notify: ReturnType<typeof vi.fn> } {
  const notify = vi.fn();
  return { ...pageContext(api, { navigate: vi.fn() }), notify };
}

/**
 * A context whose notify calls land in `notes` and navigate calls in `navigated`, and a <main>
 * root appended to the document (the tests' afterEach empties document.body).
 */
export function recordingContext(params: string[], api: object) {
  const notes: [string, string | undefined][] = [];
  const navigated: string[] = [];
  const ctx = pageContext(api, {
    params,
    navigate: (hash) => navigated.push(hash),
    notify: (m, k) => notes.push([m, k]),
  });
  return { ctx, root: mountRoot(), notes, navigated };
}

/** A <main> appended to the document, for a page to render into. */
export function mountRoot(): HTMLElement {
  const root = document.createElement("main");
  document.body.appendChild(root);
  return root;
}

/** The afterEach of a page test: the root out of the document, the spies (window.confirm) restored. */
export function unmountRoot(root: HTMLElement | undefined): void {
  root?.remove();
  vi.restoreAllMocks();
}

export const byTestId = <T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T[] =>
  [...root.querySelectorAll<T>(`[data-testid="${id}"]`)];

/** The first element with that data-testid (null when there is none). */
export const q = <T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T =>
  root.querySelector<T>(`[data-testid="${id}"]`) as T;

export const one = <T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T => {
  const all = byTestId<T>(root, id);
  if (all.length !== 1) throw new Error(`${all.length} elements with data-testid ${id}`);
  return all[0];
};

export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

