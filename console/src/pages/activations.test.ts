import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WispApi, type Activation, type KeyValue } from "../api";
import type { Cleanup, PageContext } from "../router";
import { pageContext, q } from "../testing/fake_api";
import {
  LOOKBACK_MS,
  POLL_MS,
  activationDisplayName,
  activationsPage,
  insertIndex,
  matchesStatus,
  startKind,
} from "./activations";
import { detailRetry, triggerRuleActivations } from "./activation_detail";

let n = 0;
const nextId = () => (++n).toString(16).padStart(32, "0");

function rec(start: number, o: Partial<Activation> & { cold?: boolean; ok?: boolean } = {}): Activation {
  const { cold, ok, ...rest } = o;
  const annotations: KeyValue[] = [
    { key: "path", value: "guest/a" },
    { key: "kind", value: "python:3" },
  ];
  if (cold) annotations.push({ key: "initTime", value: 40 });
  return {
    namespace: "guest",
    name: "a",
    activationId: nextId(),
    start,
    end: start + 12,
    duration: 12,
    annotations,
    logs: [],
    response: {
      status: ok === false ? "application error" : "success",
      success: ok !== false,
      result: { ok: true },
    },
    ...rest,
  };
}

const XSS = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;

interface Fake {
  ctx: PageContext;
  root: HTMLElement;
  urls: URL[];
  notes: string[];
  /** Records GET activations answers (filtered by name/since/limit like the server). */
  store: Activation[];
}

function fake(store: Activation[] = []): Fake {
  const urls: URL[] = [];
  const notes: string[] = [];
  const f: Fake = { ctx: undefined as unknown as PageContext, root: document.createElement("main"), urls, notes, store };
  const api = new WispApi("uuid:secret", async (input) => {
    const u = new URL(input, "http://127.0.0.1");
    urls.push(u);
    const m = /^\/api\/v1\/namespaces\/_\/activations(?:\/([0-9a-f]+))?$/.exec(u.pathname);
    if (!m) return new Response('{"error":"not found"}', { status: 404 });
    if (m[1]) {
      const r = f.store.find((x) => x.activationId === m[1]);
      return r ? new Response(JSON.stringify(r)) : new Response('{"error":"The requested resource does not exist."}', { status: 404 });
    }
    const name = u.searchParams.get("name");
    const since = Number(u.searchParams.get("since") ?? 0);
    const limit = Number(u.searchParams.get("limit") ?? 30);
    const rows = f.store
      .filter((r) => r.start >= since && (!name || activationDisplayName(r) === name))
      .sort((a, b) => b.start - a.start)
      .slice(0, limit);
    return new Response(JSON.stringify(rows));
  });
  f.ctx = pageContext(api, { notify: (m) => notes.push(m) });
  document.body.appendChild(f.root);
  return f;
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
};

const rows = (root: ParentNode) => [...root.querySelectorAll<HTMLTableRowElement>('[data-testid="activation-row"]')];
const visibleIds = (root: ParentNode) =>
  rows(root)
    .filter((r) => !r.hidden)
    .map((r) => r.querySelector("a")?.textContent);

async function open(f: Fake, params: string[] = [], query = ""): Promise<Cleanup | undefined> {
  f.ctx.params = params;
  f.ctx.query = new URLSearchParams(query);
  const c = await activationsPage(f.ctx, f.root);
  await flush();
  return c ?? undefined;
}

describe("helpers", () => {
  it("display name from the path annotation", () => {
    expect(activationDisplayName({ name: "a", annotations: [{ key: "path", value: "guest/pkg/a" }] })).toBe("pkg/a");
    expect(activationDisplayName({ name: "a", annotations: [{ key: "path", value: "guest/a" }] })).toBe("a");
    expect(activationDisplayName({ name: "t", annotations: [] })).toBe("t");
  });
  it("start kind", () => {
    expect(startKind(rec(1, { cold: true }))).toBe("cold");
    expect(startKind(rec(1))).toBe("warm");
    expect(startKind({ annotations: [{ key: "kind", value: "sequence" }] })).toBe("sequence");
    expect(startKind({ annotations: [] })).toBe("");
  });
  it("status filter", () => {
    expect(matchesStatus(rec(1), "all")).toBe(true);
    expect(matchesStatus(rec(1), "success")).toBe(true);
    expect(matchesStatus(rec(1), "failed")).toBe(false);
    expect(matchesStatus(rec(1, { ok: false }), "failed")).toBe(true);
    expect(matchesStatus({ statusCode: 2 }, "success")).toBe(false);
  });
  it("insert index keeps newest first", () => {
    const s = [{ start: 30, activationId: "c" }, { start: 20, activationId: "b" }, { start: 10, activationId: "a" }];
    expect(insertIndex(s, { start: 40, activationId: "x" })).toBe(0);
    expect(insertIndex(s, { start: 25, activationId: "x" })).toBe(1);
    expect(insertIndex(s, { start: 5, activationId: "x" })).toBe(3);
    expect(insertIndex(s, { start: 20, activationId: "c" })).toBe(1); // same start: larger id first
    expect(insertIndex(s, { start: 20, activationId: "a" })).toBe(2);
    expect(insertIndex([], { start: 1, activationId: "a" })).toBe(0);
  });
  it("a trigger's rule lines", () => {
    const id = "e".repeat(32);
    const t = {
      annotations: [],
      logs: [
        JSON.stringify({ statusCode: 0, success: true, activationId: id, rule: "guest/r", action: "guest/a" }),
        "not json",
        JSON.stringify({ activationId: "<b>" }),
      ],
    };
    expect(triggerRuleActivations(t)).toEqual([{ id, rule: "guest/r", action: "guest/a", ok: true }]);
    expect(triggerRuleActivations({ ...t, annotations: [{ key: "kind", value: "x" }] })).toEqual([]);
  });
});

describe("#/activations list", () => {
  beforeEach(() => document.body.replaceChildren());
  afterEach(() => vi.useRealTimers());

  it("lists the newest first with id link, name, cold/warm, start, duration, status", async () => {
    const old = rec(1_000_000, { cold: true });
    const newer = rec(2_000_000, { ok: false, duration: 1500 });
    const f = fake([old, newer]);
    const stop = await open(f);
    expect(q(f.root, "activations-table")).not.toBeNull();
    expect((q(f.root, "live-toggle") as HTMLInputElement).checked).toBe(true);
    expect([...(q(f.root, "filter-status") as HTMLSelectElement).options].map((o) => o.value)).toEqual(["all", "success", "failed"]);
    const r = rows(f.root);
    expect(r.length).toBe(2);
    const cells = (row: HTMLTableRowElement) => [...row.cells].map((c) => c.textContent);
    expect(cells(r[0])[0]).toBe(newer.activationId);
    expect(r[0].querySelector("a")?.getAttribute("href")).toBe(`#/activations/${newer.activationId}`);
    expect(cells(r[0]).slice(1, 3)).toEqual(["a", "warm"]);
    expect(cells(r[0])[4]).toBe("1.50 s");
    expect(cells(r[0])[5]).toBe("application error");
    expect(cells(r[1])[2]).toBe("cold");
    expect(cells(r[1])[4]).toBe("12 ms");
    expect(cells(r[1])[5]).toBe("success");
    const first = f.urls[0];
    expect(first.searchParams.get("docs")).toBe("true");
    expect(first.searchParams.get("name")).toBeNull();
    stop?.();
  });

  it("polls every 2 s with since = newest start − lookback and inserts new rows on top, keeping the old row nodes", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const a = rec(5_000_000);
    const f = fake([a]);
    const stop = await open(f);
    const before = rows(f.root)[0];
    const fresh = rec(5_000_500);
    const fresher = rec(5_001_000);
    f.store.push(fresh, fresher);
    vi.advanceTimersByTime(POLL_MS);
    await flush();
    const poll = f.urls[f.urls.length - 1];
    expect(poll.searchParams.get("since")).toBe(String(5_000_000 - LOOKBACK_MS));
    expect(visibleIds(f.root)).toEqual([fresher.activationId, fresh.activationId, a.activationId]);
    expect(rows(f.root)[2]).toBe(before); // not re-rendered
    expect(rows(f.root).map((r) => r.classList.contains("new"))).toEqual([true, true, false]);
    // the same records again: no duplicates
    vi.advanceTimersByTime(POLL_MS);
    await flush();
    expect(rows(f.root).length).toBe(3);
    // a long activation that started earlier but was written later lands in its place
    const late = rec(5_000_700);
    f.store.push(late);
    vi.advanceTimersByTime(POLL_MS);
    await flush();
    expect(visibleIds(f.root)).toEqual([fresher.activationId, late.activationId, fresh.activationId, a.activationId]);
    stop?.();
    const count = f.urls.length;
    vi.advanceTimersByTime(5 * POLL_MS);
    await flush();
    expect(f.urls.length).toBe(count);
  });

  it("live off stops polling; on again polls at once", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const f = fake([rec(1000)]);
    const stop = await open(f);
    const live = q(f.root, "live-toggle") as HTMLInputElement;
    live.checked = false;
    live.dispatchEvent(new Event("change"));
    const count = f.urls.length;
    vi.advanceTimersByTime(5 * POLL_MS);
    await flush();
    expect(f.urls.length).toBe(count);
    f.store.push(rec(2000));
    live.checked = true;
    live.dispatchEvent(new Event("change"));
    await flush();
    expect(f.urls.length).toBe(count + 1);
    expect(rows(f.root).length).toBe(2);
    stop?.();
  });

  it("filters by status on the client", async () => {
    const ok1 = rec(100);
    const bad = rec(200, { ok: false });
    const ok2 = rec(300);
    const f = fake([ok1, bad, ok2]);
    const stop = await open(f);
    const sel = q(f.root, "filter-status") as HTMLSelectElement;
    sel.value = "failed";
    sel.dispatchEvent(new Event("change"));
    expect(visibleIds(f.root)).toEqual([bad.activationId]);
    sel.value = "success";
    sel.dispatchEvent(new Event("change"));
    expect(visibleIds(f.root)).toEqual([ok2.activationId, ok1.activationId]);
    sel.value = "all";
    sel.dispatchEvent(new Event("change"));
    expect(visibleIds(f.root).length).toBe(3);
    stop?.();
  });

  it("filters by name on the server and takes name/status from the route's query", async () => {
    const a = rec(100);
    const b = rec(200, { name: "b", annotations: [{ key: "path", value: "guest/pkg/b" }] });
    const f = fake([a, b]);
    const stop = await open(f, [], "name=pkg/b&status=success");
    expect((q(f.root, "filter-name") as HTMLInputElement).value).toBe("pkg/b");
    expect((q(f.root, "filter-status") as HTMLSelectElement).value).toBe("success");
    expect(f.urls[0].searchParams.get("name")).toBe("pkg/b");
    expect(visibleIds(f.root)).toEqual([b.activationId]);
    const input = q(f.root, "filter-name") as HTMLInputElement;
    input.value = "a";
    input.dispatchEvent(new Event("change"));
    await flush();
    expect(f.urls[f.urls.length - 1].searchParams.get("name")).toBe("a");
    expect(visibleIds(f.root)).toEqual([a.activationId]);
    stop?.();
  });

  it("shows markup in names as text", async () => {
    const x = rec(100, { name: XSS, annotations: [{ key: "path", value: `guest/${XSS}` }] });
    const f = fake([x]);
    const stop = await open(f);
    expect(rows(f.root)[0].cells[1].textContent).toBe(XSS);
    expect(f.root.querySelector("img, script")).toBeNull();
    stop?.();
  });

  it("an API error goes to the status bar", async () => {
    const f = fake();
    f.ctx.api = new WispApi("uuid:secret", async () => new Response('{"error":"nope"}', { status: 500 }));
    const stop = await open(f);
    expect(f.notes).toContain("nope");
    stop?.();
  });
});

describe("#/activations/<id>", () => {
  beforeEach(() => document.body.replaceChildren());

  it("shows id, name, status, result, logs, annotations and the cause link, all as text", async () => {
    const cause = "c".repeat(32);
    const a = rec(1_000, {
      cold: true,
      cause,
      logs: [`2026-12-05T12:00:00Z stdout: ${XSS}`, "second line"],
      response: { status: "application error", success: false, result: { error: XSS } },
    });
    const f = fake([a]);
    const stop = await open(f, [a.activationId]);
    expect(q(f.root, "activation-id").textContent).toBe(a.activationId);
    expect(q(f.root, "activation-name").textContent).toBe("a");
    expect(q(f.root, "activation-name").querySelector("a")?.getAttribute("href")).toBe("#/actions/a");
    expect(q(f.root, "activation-status").textContent).toBe("application error");
    expect(JSON.parse(q(f.root, "activation-result").textContent ?? "")).toEqual({ error: XSS });
    expect(q(f.root, "activation-logs").textContent).toBe(`2026-12-05T12:00:00Z stdout: ${XSS}\nsecond line`);
    const ann = q(f.root, "activation-annotations");
    expect(ann.textContent).toContain("initTime");
    expect(ann.textContent).toContain("guest/a");
    expect(q(f.root, "activation-cause").querySelector("a")?.getAttribute("href")).toBe(`#/activations/${cause}`);
    expect(f.root.querySelector("img, script")).toBeNull();
    expect(q(f.root, "sequence-components")).toBeNull();
    expect(q(f.root, "sequence-timeline")).toBeNull();
    stop?.();
  });

  it("a sequence: component links and timeline bars placed by start/end", async () => {
    const c1 = rec(10_000, { name: "one", annotations: [{ key: "path", value: "guest/one" }], end: 10_030, duration: 30 });
    const c2 = rec(10_030, { name: "two", annotations: [{ key: "path", value: "guest/two" }], end: 10_100, duration: 70, ok: false });
    const missing = "d".repeat(32);
    const seq = rec(10_000, {
      name: "s",
      end: 10_100,
      duration: 100,
      logs: [c1.activationId, c2.activationId, missing],
      annotations: [
        { key: "topmost", value: true },
        { key: "kind", value: "sequence" },
        { key: "path", value: "guest/s" },
      ],
    });
    c1.cause = seq.activationId;
    c2.cause = seq.activationId;
    const f = fake([seq, c1, c2]);
    const stop = await open(f, [seq.activationId]);
    await flush();
    const links = [...q(f.root, "sequence-components").querySelectorAll("a")].map((a) => a.getAttribute("href"));
    expect(links).toEqual([c1.activationId, c2.activationId, missing].map((id) => `#/activations/${id}`));
    expect(q(f.root, "sequence-components").textContent).toContain("one");
    const bars = [...q(f.root, "sequence-timeline").querySelectorAll<HTMLElement>(".timeline-bar")];
    expect(bars.map((b) => [b.style.left, b.style.width])).toEqual([
      ["0%", "30%"],
      ["30%", "70%"],
      ["0%", "0%"],
    ]);
    expect(bars[1].classList.contains("failed")).toBe(true);
    expect(bars[2].classList.contains("missing")).toBe(true);
    for (const b of bars) expect(b.getAttribute("style") ?? "").not.toMatch(/url|expression/);
    stop?.();
  });

  it("a topmost record whose logs are ids is a sequence even without kind", async () => {
    const c1 = rec(10, { end: 20, duration: 10 });
    const seq = rec(10, { logs: [c1.activationId], annotations: [{ key: "topmost", value: true }] });
    const f = fake([seq, c1]);
    const stop = await open(f, [seq.activationId]);
    await flush();
    expect(q(f.root, "sequence-components").querySelectorAll("a").length).toBe(1);
    expect(q(f.root, "sequence-timeline").querySelectorAll(".timeline-bar").length).toBe(1);
    stop?.();
  });

  it("an unknown id: asked again for a while, then the error in the page and the status bar", async () => {
    const saved = { ...detailRetry };
    Object.assign(detailRetry, { tries: 3, delayMs: 20 });
    const f = fake([]);
    const stop = await open(f, ["0".repeat(32)]);
    expect(f.notes).toEqual([]); // still asking: a record is stored a moment after the invoke answers
    await vi.waitFor(() => expect(f.notes.length).toBe(1));
    Object.assign(detailRetry, saved);
    expect(f.urls.filter((u) => u.pathname.endsWith("0".repeat(32))).length).toBeGreaterThan(1);
    expect(f.notes[0]).toMatch(/does not exist/);
    expect(f.root.textContent).toMatch(/could not be read/);
    stop?.();
  });
});
