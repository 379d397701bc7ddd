// Chart data shaping (pure, no DOM): activation records → per-minute series over the last hour
// (invocations, p50/p99 duration, cold vs warm, errors), the overall summary, and the timeline
// of a sequence's components. Plus the fetch helper that pages through an action's records.
import { annotation, type Activation, type WispApi } from "./api";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
/** The most records the charts read for one action (10 pages of 200). */
export const RECORD_CAP = 2_000;
export const PAGE_SIZE = 200;

/** The fields of an activation record the charts read (docs=true or the summary form). */
export type ChartRecord = Pick<
  Activation,
  "activationId" | "start" | "end" | "duration" | "statusCode" | "response" | "annotations"
>;

/** Cold start: the record has an `initTime` annotation (the action container was initialised). */
export function isCold(a: Pick<Activation, "annotations">): boolean {
  const v = annotation(a, "initTime");
  return v !== undefined && v !== null;
}

/**
 * A failed activation: statusCode ≠ 0 (the summary form) or response.success false (the full
 * record, where the API drops statusCode from the response).
 */
export function isError(a: Pick<Activation, "statusCode" | "response">): boolean {
  if (typeof a.statusCode === "number" && a.statusCode !== 0) return true;
  const r = a.response;
  if (r) {
    if (r.success === false) return true;
    if (typeof r.statusCode === "number" && r.statusCode !== 0) return true;
  }
  return false;
}

/** The status text: the response's `status`, else the name of statusCode 0..3, else "". */
export function statusText(a: Pick<Activation, "statusCode" | "response">): string {
  if (a.response && typeof a.response.status === "string") return a.response.status;
  const code = typeof a.statusCode === "number" ? a.statusCode : a.response?.statusCode;
  switch (code) {
    case 0:
      return "success";
    case 1:
      return "application error";
    case 2:
      return "action developer error";
    case 3:
      return "whisk internal error";
    default:
      return "";
  }
}

/** The duration in ms: `duration`, else end − start when there is an end; undefined otherwise. */
export function durationOf(a: Pick<Activation, "start" | "end" | "duration">): number | undefined {
  if (typeof a.duration === "number" && Number.isFinite(a.duration)) return a.duration;
  if (typeof a.end === "number" && a.end > 0 && typeof a.start === "number") return Math.max(0, a.end - a.start);
  return undefined;
}

/**
 * The p-th percentile (0 < p ≤ 100) of `values` by the nearest-rank method: the smallest value
 * with at least p% of the values ≤ it. null for no values. `values` need not be sorted.
 */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface ChartSummary {
  invocations: number;
  p50: number | null;
  p99: number | null;
  /** Cold share in percent (0..100, rounded to an integer); null for no invocations. */
  coldPercent: number | null;
  cold: number;
  warm: number;
  errors: number;
}

export interface ActionSeries {
  /** Bucket starts in epoch seconds (uPlot's x unit), oldest first; one per minute. */
  x: number[];
  invocations: number[];
  p50: (number | null)[];
  p99: (number | null)[];
  cold: number[];
  warm: number[];
  /** Cold share per minute in percent; null for a minute without invocations. */
  coldShare: (number | null)[];
  errors: number[];
  summary: ChartSummary;
}

/**
 * Per-minute series over the window [now − windowMs, now]. Buckets are aligned to whole
 * minutes: bucket i covers [x_i, x_i + 1 min); the last bucket holds `now` (and records that
 * start after `now` — a server clock slightly ahead of the browser's); the first holds
 * now − windowMs. Records that started before now − windowMs are left out. Duplicate
 * activation ids count once.
 */
export function shapeActionSeries(
  records: readonly ChartRecord[],
  now: number,
  windowMs: number = HOUR_MS,
): ActionSeries {
  const from = now - windowMs;
  const first = Math.floor(from / MINUTE_MS) * MINUTE_MS;
  const last = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const n = Math.max(1, Math.round((last - first) / MINUTE_MS) + 1);
  const x: number[] = [];
  for (let i = 0; i < n; i++) x.push((first + i * MINUTE_MS) / 1000);
  const invocations = new Array<number>(n).fill(0);
  const cold = new Array<number>(n).fill(0);
  const warm = new Array<number>(n).fill(0);
  const errors = new Array<number>(n).fill(0);
  const durations: number[][] = Array.from({ length: n }, () => []);
  const all: number[] = [];
  const seen = new Set<string>();
  let coldTotal = 0;
  let errorTotal = 0;
  for (const r of records) {
    if (typeof r.start !== "number" || !Number.isFinite(r.start) || r.start < from) continue;
    if (r.activationId) {
      if (seen.has(r.activationId)) continue;
      seen.add(r.activationId);
    }
    const i = Math.min(n - 1, Math.floor((r.start - first) / MINUTE_MS));
    invocations[i]++;
    if (isCold(r)) {
      cold[i]++;
      coldTotal++;
    } else {
      warm[i]++;
    }
    if (isError(r)) {
      errors[i]++;
      errorTotal++;
    }
    const d = durationOf(r);
    if (d !== undefined) {
      durations[i].push(d);
      all.push(d);
    }
  }
  const total = invocations.reduce((a, b) => a + b, 0);
  return {
    x,
    invocations,
    p50: durations.map((d) => percentile(d, 50)),
    p99: durations.map((d) => percentile(d, 99)),
    cold,
    warm,
    coldShare: invocations.map((v, i) => (v === 0 ? null : (100 * cold[i]) / v)),
    errors,
    summary: {
      invocations: total,
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      coldPercent: total === 0 ? null : Math.round((100 * coldTotal) / total),
      cold: coldTotal,
      warm: total - coldTotal,
      errors: errorTotal,
    },
  };
}

function ms(v: number | null): string {
  return v === null ? "-" : String(Math.round(v));
}

/** "<N> invocations in the last hour · p50 <x> ms · p99 <y> ms · <c>% cold · <e> errors". */
export function summaryText(s: ChartSummary, truncated = false): string {
  const text =
    `${s.invocations} invocations in the last hour · p50 ${ms(s.p50)} ms · p99 ${ms(s.p99)} ms · ` +
    `${s.coldPercent === null ? "-" : s.coldPercent}% cold · ${s.errors} errors`;
  return truncated ? `${text} (only the newest ${s.invocations} records read)` : text;
}

export interface FetchResult {
  records: Activation[];
  /** The cap was reached: there may be more records in the window. */
  truncated: boolean;
}

/**
 * An action's records of the last hour: `GET activations?name=<n>&since=<now−1h>&docs=true&
 * limit=200&skip=k` page after page (newest first), until a short page or `cap` records.
 * Records that moved to the next page while paging (new ones arrive at the head) count once.
 */
export async function fetchActionActivations(
  api: Pick<WispApi, "listActivations">,
  name: string,
  now: number,
  opts: { windowMs?: number; pageSize?: number; cap?: number } = {},
): Promise<FetchResult> {
  const pageSize = opts.pageSize ?? PAGE_SIZE;
  const cap = opts.cap ?? RECORD_CAP;
  const since = now - (opts.windowMs ?? HOUR_MS);
  const records: Activation[] = [];
  const seen = new Set<string>();
  for (let skip = 0; records.length < cap; skip += pageSize) {
    const page = await api.listActivations({ name, since, docs: true, limit: pageSize, skip });
    if (!Array.isArray(page)) break;
    for (const r of page) {
      if (records.length >= cap) return { records, truncated: true };
      if (seen.has(r.activationId)) continue;
      seen.add(r.activationId);
      records.push(r);
    }
    if (page.length < pageSize) return { records, truncated: false };
  }
  return { records, truncated: records.length >= cap };
}

// Sequences.

const ACTIVATION_ID = /^[0-9a-f]{32}$/;

/** The component activation ids of a sequence's record (its `logs`), or [] when it is none. */
export function sequenceComponentIds(a: Pick<Activation, "logs" | "annotations">): string[] {
  const logs = Array.isArray(a.logs) ? a.logs : [];
  const kind = annotation(a, "kind");
  const ids = logs.every((l) => typeof l === "string" && ACTIVATION_ID.test(l));
  if (kind === "sequence") return logs.filter((l) => typeof l === "string" && ACTIVATION_ID.test(l));
  if (annotation(a, "topmost") === true && logs.length > 0 && ids) return [...logs];
  return [];
}

/** A sequence: annotation kind "sequence", or topmost with logs that are all activation ids. */
export function isSequence(a: Pick<Activation, "logs" | "annotations">): boolean {
  return annotation(a, "kind") === "sequence" || sequenceComponentIds(a).length > 0;
}

export interface TimelineBar {
  id: string;
  /** The component's name, "" when its record could not be read. */
  name: string;
  /** Start and end relative to the sequence's start, in ms. */
  startMs: number;
  endMs: number;
  /** Position and width in percent of the timeline's span (0..100). */
  leftPct: number;
  widthPct: number;
  failed: boolean;
  /** The record could not be read: the bar is empty. */
  missing: boolean;
}

export interface Timeline {
  /** The span shown: from the sequence's start to the latest end (≥ 1 ms). */
  totalMs: number;
  bars: TimelineBar[];
}

/**
 * The timeline of a sequence: one bar per component id (in order), its start/end relative to
 * the sequence's start, as percentages of the span from the sequence's start to the later of
 * its end and the components' ends. A component without a record gets a missing bar at 0.
 */
export function sequenceTimeline(
  seq: Pick<Activation, "start" | "end" | "duration">,
  ids: readonly string[],
  components: ReadonlyMap<string, Activation> | Record<string, Activation | undefined>,
): Timeline {
  const get = (id: string): Activation | undefined =>
    components instanceof Map ? components.get(id) : (components as Record<string, Activation | undefined>)[id];
  const t0 = seq.start;
  const seqEnd = typeof seq.end === "number" && seq.end > 0 ? seq.end : t0 + (durationOf(seq) ?? 0);
  let end = seqEnd;
  const spans = ids.map((id) => {
    const c = get(id);
    if (!c) return { id, c, s: 0, e: 0 };
    const s = Math.max(0, c.start - t0);
    const d = durationOf(c) ?? 0;
    const e = Math.max(s, c.end && c.end > 0 ? c.end - t0 : s + d);
    end = Math.max(end, t0 + e);
    return { id, c, s, e };
  });
  const totalMs = Math.max(1, end - t0);
  const pct = (v: number) => Math.min(100, Math.max(0, (100 * v) / totalMs));
  return {
    totalMs,
    bars: spans.map(({ id, c, s, e }) => {
      const leftPct = pct(s);
      return {
        id,
        name: c ? c.name : "",
        startMs: s,
        endMs: e,
        leftPct,
        widthPct: Math.min(100 - leftPct, pct(e - s)),
        failed: c ? isError(c) : false,
        missing: !c,
      };
    }),
  };
}
