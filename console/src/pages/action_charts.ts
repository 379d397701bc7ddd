// Per-action charts over the last hour (minimal version; the uPlot charts follow).
import { h, replaceChildren } from "../dom";
import type { Cleanup, PageContext } from "../router";

export function renderActionCharts(ctx: PageContext, el: HTMLElement, name: string): Cleanup {
  const summary = h("p", { testid: "chart-summary", attrs: { "data-invocations": "0" } }, "loading…");
  let stopped = false;
  const load = async () => {
    try {
      const recs = await ctx.api.listActivations({ name, since: Date.now() - 3_600_000, docs: true, limit: 200 });
      if (stopped) return;
      summary.dataset.invocations = String(recs.length);
      summary.textContent = `${recs.length} invocations in the last hour`;
    } catch (e) {
      if (!stopped) ctx.notify((e as Error).message, "error");
    }
  };
  const refresh = h("button", { testid: "chart-refresh", on: { click: () => void load() } }, "Refresh");
  replaceChildren(el, h("div", { class: "toolbar" }, summary, refresh));
  void load();
  const timer = setInterval(() => void load(), 10_000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
