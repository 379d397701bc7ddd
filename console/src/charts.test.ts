import { describe, expect, it } from "vitest";
import { WispApi, type Activation } from "./api";
import {
  HOUR_MS,
  MINUTE_MS,
  durationOf,
  fetchActionActivations,
  isCold,
  isError,
  isSequence,
  percentile,
  sequenceComponentIds,
  sequenceTimeline,
  shapeActionSeries,
  statusText,
  summaryText,
} from "./charts";

// 2026-12-05 12:30:30 UTC: half a minute into a minute.
const NOW = Date.UTC(2026, 11, 5, 12, 30, 30);
let counter = 0;

function rec(start: number, o: Partial<Activation> & { cold?: boolean; ok?: boolean } = {}): Activation {
  const { cold, ok, ...rest } = o;
  const annotations = [{ key: "path", value: "guest/a" }, { key: "waitTime", value: 3 }];
  if (cold) annotations.push({ key: "initTime", value: 40 });
  const id = (++counter).toString(16).padStart(32, "0");
  return {
    namespace: "guest",
    name: "a",
    activationId: id,
    start,
    end: start + 10,
    duration: 10,
    annotations,
    response: {
      status: ok === false ? "application error" : "success",
      success: ok !== false,
      result: {},
    },
    ...rest,
  };
}

describe("percentile", () => {
  it("is null for no values", () => {
    expect(percentile([], 50)).toBeNull();
  });
  it("uses the nearest rank", () => {
    expect(percentile([5], 50)).toBe(5);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([4, 1, 3, 2], 50)).toBe(2); // unsorted input
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    const twoHundred = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(twoHundred, 99)).toBe(198);
  });
  it("does not sort its input in place", () => {
    const v = [3, 1, 2];
    percentile(v, 50);
    expect(v).toEqual([3, 1, 2]);
  });
  it("p99 of a few values with one outlier is the outlier", () => {
    expect(percentile([10, 10, 10, 1000], 99)).toBe(1000);
  });
});

describe("record predicates", () => {
  it("cold is the initTime annotation", () => {
    expect(isCold(rec(NOW, { cold: true }))).toBe(true);
    expect(isCold(rec(NOW))).toBe(false);
    expect(isCold({ annotations: undefined })).toBe(false);
    expect(isCold({ annotations: [{ key: "initTime", value: 0 }] })).toBe(true);
  });
  it("errors: statusCode ≠ 0 or response.success false", () => {
    expect(isError(rec(NOW))).toBe(false);
    expect(isError(rec(NOW, { ok: false }))).toBe(true);
    expect(isError({ statusCode: 0 })).toBe(false);
    expect(isError({ statusCode: 1 })).toBe(true);
    expect(isError({ statusCode: 2 })).toBe(true);
    expect(isError({ response: { status: "x", success: true, statusCode: 3 } })).toBe(true);
    expect(isError({})).toBe(false);
  });
  it("status text from the response or the code", () => {
    expect(statusText(rec(NOW, { ok: false }))).toBe("application error");
    expect(statusText({ statusCode: 2 })).toBe("action developer error");
    expect(statusText({ statusCode: 3 })).toBe("whisk internal error");
    expect(statusText({ statusCode: 0 })).toBe("success");
    expect(statusText({})).toBe("");
  });
  it("duration from duration or end − start", () => {
    expect(durationOf({ start: 100, duration: 7 })).toBe(7);
    expect(durationOf({ start: 100, end: 150 })).toBe(50);
    expect(durationOf({ start: 100 })).toBeUndefined();
    expect(durationOf({ start: 100, end: 0 })).toBeUndefined();
  });
});

describe("shapeActionSeries", () => {
  it("empty input: 61 zero minute buckets covering the hour, null percentiles", () => {
    const s = shapeActionSeries([], NOW);
    // now−1h is 11:30:30 (in the 11:30 bucket) … now is 12:30:30 (in the 12:30 bucket).
    expect(s.x.length).toBe(61);
    expect(s.x[0] * 1000).toBe(Date.UTC(2026, 11, 5, 11, 30, 0));
    expect(s.x[60] * 1000).toBe(Date.UTC(2026, 11, 5, 12, 30, 0));
    for (let i = 1; i < s.x.length; i++) expect(s.x[i] - s.x[i - 1]).toBe(60);
    expect(s.invocations.every((v) => v === 0)).toBe(true);
    expect(s.errors.every((v) => v === 0)).toBe(true);
    expect(s.p50.every((v) => v === null)).toBe(true);
    expect(s.p99.every((v) => v === null)).toBe(true);
    expect(s.coldShare.every((v) => v === null)).toBe(true);
    expect(s.summary).toEqual({
      invocations: 0,
      p50: null,
      p99: null,
      coldPercent: null,
      cold: 0,
      warm: 0,
      errors: 0,
    });
  });

  it("on a whole minute the window has 61 buckets too, the last one holding now", () => {
    const now = Date.UTC(2026, 11, 5, 12, 30, 0);
    const s = shapeActionSeries([rec(now)], now);
    expect(s.x.length).toBe(61);
    expect(s.invocations[60]).toBe(1);
    expect(s.invocations.reduce((a, b) => a + b)).toBe(1);
  });

  it("bucket edges: a record at a minute's first ms is in that minute, one ms before in the one before", () => {
    const m = Date.UTC(2026, 11, 5, 12, 0, 0);
    const s = shapeActionSeries([rec(m), rec(m - 1), rec(m + MINUTE_MS - 1), rec(m + MINUTE_MS)], NOW);
    const i = s.x.indexOf(m / 1000);
    expect(i).toBeGreaterThan(0);
    expect(s.invocations[i - 1]).toBe(1);
    expect(s.invocations[i]).toBe(2);
    expect(s.invocations[i + 1]).toBe(1);
    expect(s.summary.invocations).toBe(4);
  });

  it("window edges: now−1h is in, one ms earlier is out, records after now go to the last bucket", () => {
    const s = shapeActionSeries(
      [rec(NOW - HOUR_MS), rec(NOW - HOUR_MS - 1), rec(NOW - 2 * HOUR_MS), rec(NOW + 5_000), rec(NOW + 2 * MINUTE_MS)],
      NOW,
    );
    expect(s.invocations[0]).toBe(1);
    expect(s.invocations[60]).toBe(2);
    expect(s.summary.invocations).toBe(3);
  });

  it("duplicate activation ids count once", () => {
    const r = rec(NOW - 1000);
    const s = shapeActionSeries([r, { ...r }, r], NOW);
    expect(s.summary.invocations).toBe(1);
    expect(s.invocations[60]).toBe(1);
  });

  it("percentiles per minute and overall", () => {
    const m = Date.UTC(2026, 11, 5, 12, 10, 0);
    const inMinute = [5, 1, 4, 2, 3].map((d, k) => rec(m + k * 1000, { duration: d }));
    const other = rec(m + 5 * MINUTE_MS, { duration: 100 });
    const s = shapeActionSeries([...inMinute, other], NOW);
    const i = s.x.indexOf(m / 1000);
    expect(s.p50[i]).toBe(3);
    expect(s.p99[i]).toBe(5);
    expect(s.p50[i + 5]).toBe(100);
    expect(s.p99[i + 5]).toBe(100);
    expect(s.p50[i + 1]).toBeNull();
    expect(s.summary.p50).toBe(3);
    expect(s.summary.p99).toBe(100);
  });

  it("records without a duration are counted but not in the percentiles", () => {
    const s = shapeActionSeries([rec(NOW - 10, { end: undefined, duration: undefined }), rec(NOW - 20, { duration: 8 })], NOW);
    expect(s.summary.invocations).toBe(2);
    expect(s.summary.p50).toBe(8);
    expect(s.summary.p99).toBe(8);
  });

  it("duration falls back to end − start", () => {
    const s = shapeActionSeries([rec(NOW - 1000, { duration: undefined, end: NOW - 1000 + 42 })], NOW);
    expect(s.summary.p50).toBe(42);
  });

  it("cold vs warm per minute and overall", () => {
    const m = Date.UTC(2026, 11, 5, 12, 20, 0);
    const s = shapeActionSeries(
      [rec(m, { cold: true }), rec(m + 1, {}), rec(m + 2, {}), rec(m + 3, {}), rec(m + MINUTE_MS, { cold: true })],
      NOW,
    );
    const i = s.x.indexOf(m / 1000);
    expect(s.cold[i]).toBe(1);
    expect(s.warm[i]).toBe(3);
    expect(s.coldShare[i]).toBe(25);
    expect(s.coldShare[i + 1]).toBe(100);
    expect(s.coldShare[i + 2]).toBeNull();
    expect(s.summary.cold).toBe(2);
    expect(s.summary.warm).toBe(3);
    expect(s.summary.coldPercent).toBe(40);
  });

  it("errors per minute from response.success and statusCode", () => {
    const m = Date.UTC(2026, 11, 5, 12, 25, 0);
    const summaryForm = (start: number, statusCode: number): Activation => ({
      namespace: "guest",
      name: "a",
      activationId: (++counter).toString(16).padStart(32, "0"),
      start,
      end: start + 1,
      duration: 1,
      statusCode,
    });
    const s = shapeActionSeries(
      [rec(m, { ok: false }), rec(m + 1), summaryForm(m + 2, 2), summaryForm(m + 3, 0), summaryForm(m + MINUTE_MS, 3)],
      NOW,
    );
    const i = s.x.indexOf(m / 1000);
    expect(s.errors[i]).toBe(2);
    expect(s.errors[i + 1]).toBe(1);
    expect(s.invocations[i]).toBe(4);
    expect(s.summary.errors).toBe(3);
  });

  it("all series have the same length as x", () => {
    const s = shapeActionSeries([rec(NOW - 30 * MINUTE_MS)], NOW);
    for (const a of [s.invocations, s.p50, s.p99, s.cold, s.warm, s.coldShare, s.errors]) {
      expect(a.length).toBe(s.x.length);
    }
  });
});

describe("summaryText", () => {
  it("has the contract's format", () => {
    expect(
      summaryText({ invocations: 12, p50: 3.4, p99: 120.6, coldPercent: 17, cold: 2, warm: 10, errors: 1 }),
    ).toBe("12 invocations in the last hour · p50 3 ms · p99 121 ms · 17% cold · 1 errors");
  });
  it("shows - without data and says when records were capped", () => {
    const t = summaryText({ invocations: 0, p50: null, p99: null, coldPercent: null, cold: 0, warm: 0, errors: 0 });
    expect(t).toBe("0 invocations in the last hour · p50 - ms · p99 - ms · -% cold · 0 errors");
    expect(
      summaryText({ invocations: 2000, p50: 1, p99: 1, coldPercent: 0, cold: 0, warm: 2000, errors: 0 }, true),
    ).toMatch(/^2000 invocations .* \(only the newest 2000 records read\)$/);
  });
});

/** A WispApi whose fetch answers GET activations from `all` (newest first) and records the URLs. */
function fakeApi(all: Activation[], onRequest?: (n: number) => void) {
  const urls: URL[] = [];
  const fetchFn = async (input: string, init: RequestInit): Promise<Response> => {
    const u = new URL(input, "http://127.0.0.1");
    urls.push(u);
    onRequest?.(urls.length);
    expect(init.method).toBe("GET");
    expect((init.headers as Record<string, string>).Authorization).toMatch(/^Basic /);
    const since = Number(u.searchParams.get("since") ?? 0);
    const limit = Number(u.searchParams.get("limit"));
    const skip = Number(u.searchParams.get("skip") ?? 0);
    const rows = all
      .filter((r) => r.start >= since)
      .sort((a, b) => b.start - a.start)
      .slice(skip, skip + limit);
    return new Response(JSON.stringify(rows), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  return { api: new WispApi("uuid:secret", fetchFn), urls };
}

describe("fetchActionActivations", () => {
  it("asks for name, since now−1h, docs, limit 200 and skips by page", async () => {
    const all = Array.from({ length: 450 }, (_, i) => rec(NOW - i * 1000));
    const { api, urls } = fakeApi(all);
    const out = await fetchActionActivations(api, "pkg/a", NOW);
    expect(out.records.length).toBe(450);
    expect(out.truncated).toBe(false);
    expect(urls.length).toBe(3);
    expect(urls.map((u) => u.searchParams.get("skip"))).toEqual(["0", "200", "400"]);
    for (const u of urls) {
      expect(u.pathname).toBe("/api/v1/namespaces/_/activations");
      expect(u.searchParams.get("name")).toBe("pkg/a");
      expect(u.searchParams.get("since")).toBe(String(NOW - HOUR_MS));
      expect(u.searchParams.get("docs")).toBe("true");
      expect(u.searchParams.get("limit")).toBe("200");
    }
  });

  it("stops at a short page; an empty first page is one request", async () => {
    const { api, urls } = fakeApi([]);
    const out = await fetchActionActivations(api, "a", NOW);
    expect(out).toEqual({ records: [], truncated: false });
    expect(urls.length).toBe(1);
  });

  it("a full last page costs one more (empty) request", async () => {
    const all = Array.from({ length: 400 }, (_, i) => rec(NOW - i * 1000));
    const { api, urls } = fakeApi(all);
    const out = await fetchActionActivations(api, "a", NOW);
    expect(out.records.length).toBe(400);
    expect(urls.length).toBe(3);
  });

  it("stops at the cap and says it is truncated", async () => {
    const all = Array.from({ length: 2500 }, (_, i) => rec(NOW - i * 1000));
    const { api, urls } = fakeApi(all);
    const out = await fetchActionActivations(api, "a", NOW);
    expect(out.records.length).toBe(2000);
    expect(out.truncated).toBe(true);
    expect(urls.length).toBe(10);
    // newest first, no gaps
    expect(out.records[0].start).toBe(NOW);
    expect(out.records[1999].start).toBe(NOW - 1999 * 1000);
  });

  it("a small cap cuts inside a page", async () => {
    const all = Array.from({ length: 30 }, (_, i) => rec(NOW - i * 1000));
    const { api, urls } = fakeApi(all);
    const out = await fetchActionActivations(api, "a", NOW, { pageSize: 10, cap: 15 });
    expect(out.records.length).toBe(15);
    expect(out.truncated).toBe(true);
    expect(urls.length).toBe(2);
  });

  it("records in the window only (since is passed to the server)", async () => {
    const all = [rec(NOW - 10), rec(NOW - HOUR_MS - 10)];
    const { api } = fakeApi(all);
    const out = await fetchActionActivations(api, "a", NOW);
    expect(out.records.length).toBe(1);
  });

  it("records pushed to the next page by new arrivals count once", async () => {
    const all = Array.from({ length: 250 }, (_, i) => rec(NOW - 10_000 - i * 1000));
    // After the first page, 5 new activations arrive at the head: the second page repeats 5.
    const { api } = fakeApi(all, (n) => {
      if (n === 2) for (let k = 0; k < 5; k++) all.push(rec(NOW - k));
    });
    const out = await fetchActionActivations(api, "a", NOW);
    const ids = new Set(out.records.map((r) => r.activationId));
    expect(ids.size).toBe(out.records.length);
    expect(out.records.length).toBe(250);
  });

  it("an API error propagates", async () => {
    const api = new WispApi("uuid:secret", async () => new Response(JSON.stringify({ error: "nope" }), { status: 500 }));
    await expect(fetchActionActivations(api, "a", NOW)).rejects.toThrow("nope");
  });
});

describe("sequences", () => {
  const ids = ["a".repeat(32), "b".repeat(32), "c".repeat(32)];
  const seqRec = (o: Partial<Activation> = {}): Activation => ({
    namespace: "guest",
    name: "seq",
    activationId: "f".repeat(32),
    start: 1000,
    end: 1100,
    duration: 90,
    logs: ids,
    annotations: [
      { key: "topmost", value: true },
      { key: "kind", value: "sequence" },
    ],
    ...o,
  });

  it("detects a sequence by kind or by topmost + id logs", () => {
    expect(isSequence(seqRec())).toBe(true);
    expect(sequenceComponentIds(seqRec())).toEqual(ids);
    expect(isSequence(seqRec({ annotations: [{ key: "topmost", value: true }] }))).toBe(true);
    expect(isSequence(seqRec({ annotations: [{ key: "kind", value: "python:3" }] }))).toBe(false);
    expect(isSequence(seqRec({ annotations: [{ key: "topmost", value: true }], logs: ["stdout: hi"] }))).toBe(false);
    expect(isSequence(seqRec({ annotations: [{ key: "topmost", value: true }], logs: [] }))).toBe(false);
    expect(isSequence(seqRec({ annotations: [{ key: "kind", value: "nodejs:20" }], logs: ids }))).toBe(false);
    // a sequence whose logs hold a stray line: the ids only
    expect(sequenceComponentIds(seqRec({ logs: [ids[0], "<b>x</b>"] }))).toEqual([ids[0]]);
  });

  it("timeline: bars relative to the sequence's start, in percent of the span", () => {
    const comps = new Map<string, Activation>([
      [ids[0], rec(1000, { activationId: ids[0], name: "one", end: 1030, duration: 30 })],
      [ids[1], rec(1030, { activationId: ids[1], name: "two", end: 1080, duration: 50 })],
      [ids[2], rec(1080, { activationId: ids[2], name: "three", end: 1100, duration: 20, ok: false })],
    ]);
    const t = sequenceTimeline(seqRec(), ids, comps);
    expect(t.totalMs).toBe(100);
    expect(t.bars.map((b) => [b.name, b.startMs, b.endMs, b.leftPct, b.widthPct])).toEqual([
      ["one", 0, 30, 0, 30],
      ["two", 30, 80, 30, 50],
      ["three", 80, 100, 80, 20],
    ]);
    expect(t.bars.map((b) => b.failed)).toEqual([false, false, true]);
    expect(t.bars.every((b) => !b.missing)).toBe(true);
  });

  it("timeline: a component ending after the sequence widens the span; a missing one is empty", () => {
    const comps: Record<string, Activation> = {
      [ids[0]]: rec(1000, { activationId: ids[0], end: 1200, duration: 200 }),
    };
    const t = sequenceTimeline(seqRec(), ids, comps);
    expect(t.totalMs).toBe(200);
    expect(t.bars[0]).toMatchObject({ leftPct: 0, widthPct: 100, missing: false });
    expect(t.bars[1]).toMatchObject({ id: ids[1], name: "", leftPct: 0, widthPct: 0, missing: true });
    expect(t.bars[2].missing).toBe(true);
  });

  it("timeline: no end, zero durations and starts before the sequence stay within 0..100", () => {
    const comps = new Map<string, Activation>([
      [ids[0], rec(900, { activationId: ids[0], end: undefined, duration: undefined })],
    ]);
    const t = sequenceTimeline({ start: 1000 }, [ids[0]], comps);
    expect(t.totalMs).toBe(1);
    expect(t.bars[0].leftPct).toBe(0);
    expect(t.bars[0].widthPct).toBe(0);
    for (const b of t.bars) {
      expect(b.leftPct + b.widthPct).toBeLessThanOrEqual(100);
    }
  });
});
