import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WispApi, type Activation } from "../api";
import { pageContext } from "../testing/fake_api";

// uPlot needs a canvas (jsdom has none): a fake records what the page asks of it.
const plots: FakePlot[] = [];
class FakePlot {
  data: unknown;
  destroyed = false;
  constructor(
    readonly opts: { series: { label?: string }[] },
    data: unknown,
    readonly host: HTMLElement,
  ) {
    this.data = data;
    plots.push(this);
  }
  setData(d: unknown) {
    this.data = d;
  }
  setSize() {}
  destroy() {
    this.destroyed = true;
  }
  static paths = { bars: () => () => null };
}
vi.mock("uplot", () => ({ default: FakePlot }));
vi.mock("uplot/dist/uPlot.min.css", () => ({}));

const { renderActionCharts, REFRESH_MS } = await import("./action_charts");

function rec(start: number, o: Partial<Activation> = {}): Activation {
  return {
    namespace: "guest",
    name: "a",
    activationId: Math.random().toString(16).slice(2).padEnd(32, "0"),
    start,
    end: start + 10,
    duration: 10,
    annotations: [],
    response: { status: "success", success: true },
    ...o,
  };
}

function setup(records: () => Activation[]) {
  const urls: string[] = [];
  const api = new WispApi("uuid:secret", async (input) => {
    urls.push(input);
    return new Response(JSON.stringify(records()), { status: 200 });
  });
  const notes: string[] = [];
  const ctx = pageContext(api, { notify: (m) => notes.push(m) });
  const el = document.createElement("section");
  document.body.appendChild(el);
  return { ctx, el, urls, notes };
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
};

describe("renderActionCharts", () => {
  beforeEach(() => {
    plots.length = 0;
    document.body.replaceChildren();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("draws four charts and the summary from the action's records", async () => {
    const now = Date.now();
    const recs = [
      rec(now - 1000, { annotations: [{ key: "initTime", value: 30 }], duration: 50 }),
      rec(now - 2000, { duration: 10 }),
      rec(now - 3000, { duration: 20, response: { status: "application error", success: false } }),
      rec(now - 4000, { duration: 30 }),
    ];
    const { ctx, el, urls } = setup(() => recs);
    const stop = renderActionCharts(ctx, el, "pkg/a");
    await flush();
    for (const id of ["chart-invocations", "chart-duration", "chart-coldwarm", "chart-errors", "chart-refresh"]) {
      expect(el.querySelector(`[data-testid="${id}"]`)).not.toBeNull();
    }
    const summary = el.querySelector('[data-testid="chart-summary"]') as HTMLElement;
    expect(summary.dataset.invocations).toBe("4");
    expect(summary.textContent).toBe("4 invocations in the last hour · p50 20 ms · p99 50 ms · 25% cold · 1 errors");
    expect(plots.length).toBe(4);
    expect(plots.map((p) => p.host.dataset.testid)).toEqual([
      "chart-invocations",
      "chart-duration",
      "chart-coldwarm",
      "chart-errors",
    ]);
    expect(urls[0]).toMatch(/name=pkg%2Fa/);
    expect(el.querySelector('[data-testid="chart-activations-link"]')?.getAttribute("href")).toBe(
      "#/activations?name=pkg%2Fa",
    );
    expect(urls[0]).toMatch(/docs=true/);
    // cold/warm is stacked: warm bar drawn to the total, cold on top.
    const sum = (a: (number | null)[]) => a.reduce<number>((x, y) => x + (y ?? 0), 0);
    const cw = plots[2].data as (number | null)[][];
    expect(sum(cw[1])).toBe(4);
    expect(sum(cw[2])).toBe(1);
    // minutes without invocations are null (no zero-height bar outlines)
    expect(cw[2].filter((v) => v === 0).length).toBe(0);
    expect(cw[2].filter((v) => v === null).length).toBe(cw[2].length - 1);
    expect(sum((plots[3].data as (number | null)[][])[1])).toBe(1);
    stop();
    expect(plots.every((p) => p.destroyed)).toBe(true);
  });

  it("refreshes every 10 s and on the button, updating the plots in place; cleanup stops it", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    let recs: Activation[] = [];
    const { ctx, el, urls } = setup(() => recs);
    const stop = renderActionCharts(ctx, el, "a");
    await flush();
    expect(urls.length).toBe(1);
    recs = [rec(Date.now() - 10)];
    vi.advanceTimersByTime(REFRESH_MS);
    await flush();
    expect(urls.length).toBe(2);
    const summary = el.querySelector('[data-testid="chart-summary"]') as HTMLElement;
    expect(summary.dataset.invocations).toBe("1");
    expect(plots.length).toBe(4); // setData, not new plots
    (el.querySelector('[data-testid="chart-refresh"]') as HTMLButtonElement).click();
    await flush();
    expect(urls.length).toBe(3);
    stop();
    vi.advanceTimersByTime(5 * REFRESH_MS);
    await flush();
    expect(urls.length).toBe(3);
  });

  it("a refresh asked for during a load runs once more after it (not dropped, not doubled)", async () => {
    let release: (() => void) | undefined;
    let calls = 0;
    let recs: Activation[] = [];
    const { ctx, el } = setup(() => recs);
    ctx.api = new WispApi("uuid:secret", async () => {
      calls++;
      const body = JSON.stringify(recs);
      if (calls === 1) await new Promise<void>((r) => (release = r));
      return new Response(body, { status: 200 });
    });
    const stop = renderActionCharts(ctx, el, "a");
    await flush();
    expect(calls).toBe(1);
    recs = [rec(Date.now() - 5)];
    const button = el.querySelector('[data-testid="chart-refresh"]') as HTMLButtonElement;
    button.click();
    button.click();
    await flush();
    expect(calls).toBe(1);
    release?.();
    await flush();
    await flush();
    expect(calls).toBe(2);
    expect((el.querySelector('[data-testid="chart-summary"]') as HTMLElement).dataset.invocations).toBe("1");
    stop();
  });

  it("stops by itself once its host left the document", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const { ctx, el, urls } = setup(() => []);
    renderActionCharts(ctx, el, "a");
    await flush();
    vi.advanceTimersByTime(REFRESH_MS);
    await flush();
    expect(urls.length).toBe(2);
    el.remove();
    vi.advanceTimersByTime(3 * REFRESH_MS);
    await flush();
    expect(urls.length).toBe(2);
    expect(plots.every((p) => p.destroyed)).toBe(true);
  });

  it("an API error shows in the summary and the status bar", async () => {
    const { ctx, el, notes } = setup(() => []);
    ctx.api = new WispApi("uuid:secret", async () => new Response('{"error":"boom"}', { status: 500 }));
    const stop = renderActionCharts(ctx, el, "a");
    await flush();
    expect(el.querySelector('[data-testid="chart-summary"]')?.textContent).toMatch(/boom/);
    expect(notes).toEqual(["boom"]);
    stop();
  });
});
