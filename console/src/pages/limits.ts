// The limits page: the namespace's limits from GET /namespaces/_/limits, one row per key.
import "./limits.css";
import type { NamespaceLimits } from "../api";
import { h, jsonText, replaceChildren } from "../dom";
import type { Page } from "../router";
import { emptyTableRow } from "./common";

export const LIMIT_LABELS: Record<string, string> = {
  invocationsPerMinute: "Invocations per minute",
  concurrentInvocations: "Concurrent invocations",
  firesPerMinute: "Trigger fires per minute",
  allowedKinds: "Allowed kinds",
  storeActivations: "Store activations",
  minActionMemory: "Minimum action memory (MB)",
  maxActionMemory: "Maximum action memory (MB)",
  minActionTimeout: "Minimum action timeout (ms)",
  maxActionTimeout: "Maximum action timeout (ms)",
  minActionLogs: "Minimum action log size (MB)",
  maxActionLogs: "Maximum action log size (MB)",
  minActionConcurrency: "Minimum action concurrency",
  maxActionConcurrency: "Maximum action concurrency",
  maxParameterSize: "Maximum parameter size",
  maxPayloadSize: "Maximum payload size",
  truncationSize: "Truncation size",
  maxActionInstances: "Maximum containers per action",
  maxKeepWarm: "Maximum keep-warm annotation",
};

/** The keys first in the order of LIMIT_LABELS, then the others as they come. */
export function limitRows(limits: NamespaceLimits): { key: string; label: string; value: string }[] {
  const known = Object.keys(LIMIT_LABELS);
  const keys = Object.keys(limits ?? {}).sort((a, b) => {
    const ia = known.indexOf(a);
    const ib = known.indexOf(b);
    return (ia < 0 ? known.length : ia) - (ib < 0 ? known.length : ib);
  });
  return keys.map((key) => {
    const v = limits[key];
    const value =
      typeof v === "string"
        ? v
        : typeof v === "number" || typeof v === "boolean"
          ? String(v)
          : Array.isArray(v) && v.every((x) => typeof x === "string")
            ? v.join(", ")
            : jsonText(v);
    return { key, label: LIMIT_LABELS[key] ?? key, value };
  });
}

export const limitsPage: Page = async (ctx, root) => {
  const limits = await ctx.api.limits();
  const rows = limitRows(limits);
  replaceChildren(
    root,
    h("h2", {}, "Limits"),
    h("p", { class: "muted" }, "The limits of namespace ", h("code", {}, ctx.namespace), " (GET /namespaces/_/limits)."),
    h(
      "table",
      { class: "limits-table", testid: "limits-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Limit"), h("th", {}, "Value"))),
      h(
        "tbody",
        {},
        rows.length === 0
          ? emptyTableRow(2, "No limits are set for this namespace: the platform's defaults apply.")
          : rows.map((r) =>
              h(
                "tr",
                { attrs: { "data-limit": r.key } },
                h("td", { class: "limit-name" }, r.label, r.label !== r.key ? h("span", { class: "limit-key muted" }, r.key) : null),
                h("td", { class: "limit-value" }, r.value),
              ),
            ),
      ),
    ),
  );
};
