// #/activations: the live list (filter by name on the server, by status here; polling every 2 s
// while live is on: new rows are inserted in place, newest on top, without reloading the table).
// #/activations/<id>: the detail (activation_detail.ts). Every value is untrusted: text only.
import "./activations.css";
import type { Activation } from "../api";
import { formatDuration, formatTime, h, replaceChildren } from "../dom";
import { hashFor, type Cleanup, type Page, type PageContext } from "../router";
import { isError, statusText } from "../charts";
import { activationDisplayName, startKind } from "./activation_format";
import { emptyTableRow, errorText } from "./common";
import { renderActivationDetail } from "./activation_detail";

export const POLL_MS = 2_000;
/** Rows read when the list opens. */
export const FIRST_PAGE = 50;
/** The most rows kept; older ones drop off the bottom. */
export const MAX_ROWS = 500;
/**
 * A record is written when the activation ends but ordered by its start: a poll asks for
 * since = newest start − this much, so a long activation that started before the newest one
 * but ended after the last poll is not missed (duplicates are dropped by id).
 */
export const LOOKBACK_MS = 60_000;

export { activationDisplayName, startKind };

export type StatusFilter = "all" | "success" | "failed";

export function matchesStatus(a: Pick<Activation, "statusCode" | "response">, f: StatusFilter): boolean {
  if (f === "all") return true;
  return f === "failed" ? isError(a) : !isError(a);
}

/** Newest first: by start descending, then by id descending (the API's order). */
export function newerFirst(a: Pick<Activation, "start" | "activationId">, b: Pick<Activation, "start" | "activationId">): number {
  if (a.start !== b.start) return b.start - a.start;
  return a.activationId < b.activationId ? 1 : a.activationId > b.activationId ? -1 : 0;
}

/**
 * Where `rec` goes in `sorted` (newest first) so the order stays newest first: the index of the
 * first entry that is older.
 */
export function insertIndex(sorted: readonly Pick<Activation, "start" | "activationId">[], rec: Pick<Activation, "start" | "activationId">): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newerFirst(sorted[mid], rec) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function statusCell(a: Activation): HTMLElement {
  const text = statusText(a) || (a.end ? "" : "-");
  return h("td", { class: isError(a) ? "bad" : "ok" }, text);
}

export function activationRow(a: Activation): HTMLTableRowElement {
  const kind = startKind(a);
  return h(
    "tr",
    { testid: "activation-row", attrs: { "data-activation-id": a.activationId } },
    h("td", {}, h("a", { href: hashFor("activations", a.activationId), class: "mono" }, a.activationId)),
    h("td", {}, activationDisplayName(a)),
    h("td", {}, kind ? h("span", { class: `tag start-${kind}` }, kind) : ""),
    h("td", { class: "nowrap" }, formatTime(a.start)),
    h("td", { class: "num" }, formatDuration(a.duration)),
    statusCell(a),
  );
}

interface Entry {
  rec: Activation;
  row: HTMLTableRowElement;
}

function listPage(ctx: PageContext, root: HTMLElement): Cleanup {
  const initialStatus = ctx.query.get("status");
  let statusFilter: StatusFilter =
    initialStatus === "success" || initialStatus === "failed" ? initialStatus : "all";
  const nameInput = h("input", {
    testid: "filter-name",
    type: "search",
    value: ctx.query.get("name") ?? "",
    spellcheck: false,
    attrs: { placeholder: "action name (a or pkg/a)", "aria-label": "Filter by name" },
  });
  const statusSelect = h(
    "select",
    { testid: "filter-status", attrs: { "aria-label": "Filter by status" } },
    ...(["all", "success", "failed"] as const).map((v) => h("option", { value: v, selected: v === statusFilter }, v)),
  );
  const live = h("input", { testid: "live-toggle", type: "checkbox", checked: true, id: "live-toggle" });
  const tbody = h("tbody", {});
  const empty = emptyTableRow(6, "No activations yet.", { class: "empty-row" });
  const table = h(
    "table",
    { testid: "activations-table", class: "activations" },
    h(
      "thead",
      {},
      h("tr", {}, h("th", {}, "Activation"), h("th", {}, "Name"), h("th", {}, "Kind"), h("th", {}, "Start"), h("th", {}, "Duration"), h("th", {}, "Status")),
    ),
    tbody,
  );
  const counter = h("span", { class: "muted", testid: "activations-count" });
  replaceChildren(
    root,
    h("h2", {}, "Activations"),
    h(
      "div",
      { class: "toolbar" },
      nameInput,
      statusSelect,
      h("label", { class: "live" }, live, " live"),
      counter,
    ),
    table,
  );

  let entries: Entry[] = [];
  const known = new Set<string>();
  let stopped = false;
  let polling = false;
  let generation = 0; // bumps when the name filter changes: answers of older queries are dropped
  let timer: ReturnType<typeof setInterval> | undefined;

  const applyStatus = () => {
    let shown = 0;
    for (const e of entries) {
      const show = matchesStatus(e.rec, statusFilter);
      e.row.hidden = !show;
      if (show) shown++;
    }
    if (shown === 0 && !empty.isConnected) tbody.appendChild(empty);
    if (shown > 0 && empty.isConnected) empty.remove();
    counter.textContent = entries.length === 0 ? "" : `${shown} shown`;
  };

  let loaded = false; // rows added after the first page are marked new (they flash once)
  const add = (records: Activation[]) => {
    const fresh = records.filter((r) => r && typeof r.activationId === "string" && !known.has(r.activationId));
    fresh.sort(newerFirst);
    for (const rec of fresh) {
      known.add(rec.activationId);
      const idx = insertIndex(entries.map((e) => e.rec), rec);
      const row = activationRow(rec);
      if (loaded) row.classList.add("new");
      tbody.insertBefore(row, entries[idx]?.row ?? (empty.isConnected ? empty : null));
      entries.splice(idx, 0, { rec, row });
    }
    while (entries.length > MAX_ROWS) {
      const old = entries.pop() as Entry;
      old.row.remove();
      known.delete(old.rec.activationId);
    }
    if (fresh.length > 0) applyStatus();
  };

  const name = () => nameInput.value.trim() || undefined;

  const reload = async () => {
    const gen = ++generation;
    loaded = false;
    entries = [];
    known.clear();
    replaceChildren(tbody);
    applyStatus();
    try {
      const list = await ctx.api.listActivations({ name: name(), limit: FIRST_PAGE, docs: true });
      if (stopped || gen !== generation) return;
      add(list);
      applyStatus();
      loaded = true;
    } catch (e) {
      if (!stopped && gen === generation) {
        loaded = true;
        ctx.notify(errorText(e), "error");
      }
    }
  };

  const poll = async () => {
    if (stopped || polling || !live.checked) return;
    if (typeof document !== "undefined" && document.hidden) return;
    polling = true;
    const gen = generation;
    try {
      const newest = entries.length > 0 ? entries[0].rec.start : undefined;
      const since = newest === undefined ? undefined : Math.max(0, newest - LOOKBACK_MS);
      const list = await ctx.api.listActivations({ name: name(), since, limit: 200, docs: true });
      if (stopped || gen !== generation) return;
      add(list);
    } catch (e) {
      if (!stopped && gen === generation) ctx.notify(errorText(e), "error");
    } finally {
      polling = false;
    }
  };

  const setLive = (pollNow: boolean) => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    if (live.checked && !stopped) {
      timer = setInterval(() => void poll(), POLL_MS);
      if (pollNow) void poll();
    }
  };

  let debounce: ReturnType<typeof setTimeout> | undefined;
  let lastName = nameInput.value.trim();
  const nameChanged = () => {
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = undefined;
    const n = nameInput.value.trim();
    if (n === lastName) return;
    lastName = n;
    void reload();
  };
  nameInput.addEventListener("input", () => {
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = setTimeout(nameChanged, 400);
  });
  nameInput.addEventListener("change", nameChanged);
  nameInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") nameChanged();
  });
  statusSelect.addEventListener("change", () => {
    statusFilter = statusSelect.value as StatusFilter;
    applyStatus();
  });
  live.addEventListener("change", () => setLive(true));

  void reload().then(() => {
    if (!stopped) setLive(false);
  });

  return () => {
    stopped = true;
    if (timer !== undefined) clearInterval(timer);
    if (debounce !== undefined) clearTimeout(debounce);
  };
}

export const activationsPage: Page = (ctx, root) => {
  const id = ctx.params[0];
  if (id) return renderActivationDetail(ctx, root, id);
  return listPage(ctx, root);
};
