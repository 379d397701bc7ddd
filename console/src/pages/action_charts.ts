// Per-action charts over the last hour, drawn with uPlot from the action's activation records:
// invocations per minute, p50/p99 duration per minute, cold vs warm starts, errors per minute,
// and a one-line summary. Refreshed every 10 s while shown and by the refresh button.
// uPlot builds its DOM with createElement/textContent and sets sizes through CSSOM (el.style.x =),
// which CSP style-src 'self' allows; its stylesheet is bundled by Vite as a file.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./action_charts.css";
import { h, replaceChildren } from "../dom";
import { hashFor, type Cleanup, type PageContext } from "../router";
import { fetchActionActivations, shapeActionSeries, summaryText, type ActionSeries } from "../charts";
import { errorText } from "./common";

export const REFRESH_MS = 10_000;

const ACCENT = "#2f6fdb";
const BAD = "#c0392b";
const COLD = "#e67e22";
const WARM = "#7fb3ee";
const P99 = "#8e44ad";

type ChartKey = "invocations" | "duration" | "coldwarm" | "errors";

interface ChartSpec {
  key: ChartKey;
  title: string;
  series: uPlot.Series[];
  data(s: ActionSeries): uPlot.AlignedData;
  yLabel: string;
  /** Whole counts: no 0.5 ticks. */
  integer: boolean;
}

const INTEGER_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000];

function bars(): uPlot.Series.PathBuilder | undefined {
  const b = uPlot.paths?.bars;
  return b ? b({ size: [0.7, 40], gap: 1 }) : undefined;
}

/** Legend text of a count series: a minute without bars (null, drawn as no bar) counts 0. */
function countValue(_u: uPlot, v: number | null, _si: number, idx: number | null): string {
  return idx === null || idx === undefined ? "-" : String(v ?? 0);
}

/** Bars of height 0 still draw their outline: a minute without any is drawn as null. */
export function zeroToNull(a: readonly number[]): (number | null)[] {
  return a.map((v) => (v === 0 ? null : v));
}

function msValue(_u: uPlot, v: number | null): string {
  return v === null || v === undefined ? "-" : `${Math.round(v)} ms`;
}

/** The data of each chart: x (epoch seconds) + its y series. */
export function chartSpecs(): ChartSpec[] {
  let lastWarm: number[] = [];
  return [
    {
      key: "invocations",
      title: "Invocations per minute",
      yLabel: "invocations",
      integer: true,
      series: [
        {},
        { label: "invocations", stroke: ACCENT, fill: "rgba(47,111,219,0.35)", paths: bars(), value: countValue },
      ],
      data: (s) => [s.x, zeroToNull(s.invocations)],
    },
    {
      key: "duration",
      title: "Duration per minute (p50 and p99)",
      yLabel: "ms",
      integer: false,
      series: [
        {},
        { label: "p50", stroke: ACCENT, width: 2, spanGaps: false, value: msValue, points: { show: true, size: 4 } },
        { label: "p99", stroke: P99, width: 2, spanGaps: false, value: msValue, points: { show: true, size: 4 } },
      ],
      data: (s) => [s.x, s.p50, s.p99],
    },
    {
      key: "coldwarm",
      title: "Cold vs warm starts per minute",
      yLabel: "invocations",
      integer: true,
      // Stacked: the "warm" bar is drawn to cold + warm behind the cold bar; its legend shows warm.
      series: [
        {},
        {
          label: "warm",
          stroke: WARM,
          fill: WARM,
          paths: bars(),
          value: (_u, _v, _si, idx) => (idx === null || idx === undefined ? "-" : String(lastWarm[idx] ?? 0)),
        },
        { label: "cold", stroke: COLD, fill: COLD, paths: bars(), value: countValue },
      ],
      data: (s) => {
        lastWarm = s.warm;
        return [s.x, zeroToNull(s.warm.map((w, i) => w + s.cold[i])), zeroToNull(s.cold)];
      },
    },
    {
      key: "errors",
      title: "Errors per minute",
      yLabel: "errors",
      integer: true,
      series: [{}, { label: "errors", stroke: BAD, fill: "rgba(192,57,43,0.35)", paths: bars(), value: countValue }],
      data: (s) => [s.x, zeroToNull(s.errors)],
    },
  ];
}

function chartWidth(host: HTMLElement): number {
  const w = host.clientWidth;
  return w > 100 ? w - 16 : 460;
}

export function renderActionCharts(ctx: PageContext, el: HTMLElement, name: string): Cleanup {
  const summary = h(
    "p",
    { class: "chart-summary", testid: "chart-summary", attrs: { "data-invocations": "0" } },
    "Loading the last hour…",
  );
  let stopped = false;
  let loading = false;
  let wasConnected = false;
  const refresh = h(
    "button",
    { testid: "chart-refresh", type: "button", on: { click: () => void load() } },
    "Refresh",
  );
  const specs = chartSpecs();
  const hosts = new Map<ChartKey, HTMLElement>();
  const plots = new Map<ChartKey, uPlot>();
  const boxes = specs.map((spec) => {
    const host = h("div", { class: "chart-plot", testid: `chart-${spec.key}` });
    hosts.set(spec.key, host);
    return h("div", { class: "chart" }, h("h4", {}, spec.title), host);
  });
  replaceChildren(
    el,
    h(
      "div",
      { class: "toolbar chart-toolbar" },
      summary,
      h(
        "span",
        { class: "chart-actions" },
        h("a", { href: hashFor("activations", undefined, { name }), testid: "chart-activations-link" }, "Activations"),
        refresh,
      ),
    ),
    h("div", { class: "charts" }, ...boxes),
  );

  const draw = (series: ActionSeries) => {
    for (const spec of specs) {
      const data = spec.data(series);
      const existing = plots.get(spec.key);
      if (existing) {
        existing.setData(data);
        continue;
      }
      const host = hosts.get(spec.key) as HTMLElement;
      const opts: uPlot.Options = {
        width: chartWidth(host),
        height: 180,
        series: spec.series,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1) * 1.1] } },
        axes: [{}, { label: spec.yLabel, size: 50, ...(spec.integer ? { incrs: INTEGER_STEPS } : {}) }],
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
      };
      try {
        plots.set(spec.key, new uPlot(opts, data, host));
      } catch (e) {
        // A browser without canvas: the summary still carries the numbers.
        host.textContent = `The chart could not be drawn: ${errorText(e)}`;
      }
    }
  };

  // A refresh asked for while a load is under way runs right after it (its answer may predate
  // an invoke that was just made), so the button always leads to a fresh read.
  let again = false;
  const load = async (): Promise<void> => {
    if (stopped) return;
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const now = Date.now();
      const { records, truncated } = await fetchActionActivations(ctx.api, name, now);
      if (stopped) return;
      const series = shapeActionSeries(records, now);
      summary.dataset.invocations = String(series.summary.invocations);
      summary.textContent = summaryText(series.summary, truncated);
      draw(series);
    } catch (e) {
      if (!stopped) {
        summary.textContent = `The activations could not be read: ${errorText(e)}`;
        ctx.notify(errorText(e), "error");
      }
    } finally {
      loading = false;
      if (again && !stopped) {
        again = false;
        void load();
      }
    }
  };

  const onResize = () => {
    for (const [key, plot] of plots) {
      const host = hosts.get(key) as HTMLElement;
      plot.setSize({ width: chartWidth(host), height: 180 });
    }
  };
  window.addEventListener("resize", onResize);

  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    window.removeEventListener("resize", onResize);
    for (const p of plots.values()) p.destroy();
    plots.clear();
  };

  const timer = setInterval(() => {
    // Left without the cleanup being called (the host was removed): stop on our own.
    if (el.isConnected) wasConnected = true;
    else if (wasConnected) return stop();
    if (typeof document !== "undefined" && document.hidden) return;
    void load();
  }, REFRESH_MS);
  void load();
  return stop;
}
