// The feeds page: creates a trigger with one of the built-in alarm feeds (/whisk.system/alarms/
// alarm | once | interval) through the feed protocol, as `wsk trigger create T --feed ...` does,
// and lists the triggers that have a feed (delete tells the feed first).
import "./feeds.css";
import { annotation, type Trigger } from "../api";
import { h, replaceChildren } from "../dom";
import type { Page } from "../router";
import { confirmDeleteRow, deleteButton, emptyTableRow, errorText, pageLife, parseJsonObject, textInput } from "./common";

export type FeedType = "alarm" | "once" | "interval";

export const FEED_TYPES: { type: FeedType; label: string }[] = [
  { type: "alarm", label: "alarm: on a cron schedule" },
  { type: "once", label: "once: at a date" },
  { type: "interval", label: "interval: every N minutes" },
];

/** Which form fields each feed takes (the payload goes with all of them). */
export const FEED_FIELDS: Record<FeedType, string[]> = {
  alarm: ["cron", "timezone", "startDate", "stopDate"],
  once: ["date", "deleteAfterFire"],
  interval: ["minutes", "startDate", "stopDate"],
};

export interface FeedForm {
  type: FeedType;
  cron?: string;
  timezone?: string;
  date?: string;
  deleteAfterFire?: string;
  minutes?: string;
  startDate?: string;
  stopDate?: string;
  payload?: string;
}

/**
 * A date as the feed takes it: epoch ms for digits, ISO-8601 (UTC) for anything Date parses (a
 * local "2026-12-31T23:00" is the browser's time zone), else the text itself so that the feed
 * names what is wrong with it.
 */
export function feedDate(text: string): string | number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : t;
}

/**
 * The feed's parameters for the form: only the chosen type's fields, blank ones left out (the
 * feed says which are missing); the payload must be a JSON object.
 */
export function feedParams(f: FeedForm): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  const fields = new Set(FEED_FIELDS[f.type]);
  const text = (k: keyof FeedForm) => (fields.has(k) ? (f[k] ?? "").trim() : "");
  if (text("cron")) p.cron = text("cron");
  if (text("timezone")) p.timezone = text("timezone");
  if (text("date")) p.date = feedDate(text("date"));
  if (text("deleteAfterFire") && text("deleteAfterFire") !== "false") p.deleteAfterFire = text("deleteAfterFire");
  if (text("minutes")) p.minutes = /^-?\d+$/.test(text("minutes")) ? Number(text("minutes")) : text("minutes");
  if (text("startDate")) p.startDate = feedDate(text("startDate"));
  if (text("stopDate")) p.stopDate = feedDate(text("stopDate"));
  if ((f.payload ?? "").trim()) {
    const payload = parseJsonObject(f.payload ?? "", "The payload");
    if (!payload.ok) throw new Error(payload.error);
    p.trigger_payload = payload.value;
  }
  return p;
}

/** The next full hour as ISO-8601 without milliseconds: the date field's example. */
function nextHourIso(now = Date.now()): string {
  return new Date(Math.ceil((now + 1) / 3_600_000) * 3_600_000).toISOString().replace(".000Z", "Z");
}

export const feedsPage: Page = async (ctx, root) => {
  const { notify, alive, leave } = pageLife(ctx);

  const input = (testid: string, placeholder: string, props: Record<string, unknown> = {}) =>
    textInput(testid, placeholder, { props });

  const name = input("feed-trigger-name", "trigger name");
  const type = h(
    "select",
    { testid: "feed-type" },
    FEED_TYPES.map((t) => h("option", { value: t.type }, t.label)),
  );
  const cron = input("feed-cron", "*/5 * * * *");
  const timezone = input("feed-timezone", "UTC");
  const date = input("feed-date", nextHourIso());
  const deleteAfterFire = h(
    "select",
    { testid: "feed-delete-after-fire" },
    h("option", { value: "false" }, "keep the trigger"),
    h("option", { value: "true" }, "delete the trigger"),
    h("option", { value: "rules" }, "delete the trigger and its rules"),
  );
  const minutes = input("feed-minutes", "5", { type: "number", min: "1", step: "1" });
  const startDate = input("feed-start-date", "optional: not before");
  const stopDate = input("feed-stop-date", "optional: not after");
  const payload = h("textarea", {
    testid: "feed-payload",
    rows: 3,
    spellcheck: false,
    attrs: { placeholder: '{"message": "tick"}' },
  });
  const createButton = h("button", { class: "primary", testid: "feed-create", type: "submit" }, "Create trigger");

  const field = (key: string, label: string, control: HTMLElement, hint?: string) =>
    h(
      "label",
      { class: "feed-field", attrs: { "data-field": key } },
      h("span", { class: "feed-label" }, label),
      control,
      hint ? h("span", { class: "feed-hint muted" }, hint) : null,
    );

  const fields = [
    field("cron", "Cron", cron, "5 fields (minutes), or 6 with seconds first; in the time zone below"),
    field("timezone", "Time zone", timezone, "IANA name, e.g. Europe/Berlin (default UTC)"),
    field("date", "Date", date, "ISO-8601 or epoch ms; a time without zone is this browser's"),
    field("deleteAfterFire", "After firing", deleteAfterFire),
    field("minutes", "Every (minutes)", minutes),
    field("startDate", "Start date", startDate, "ISO-8601 or epoch ms"),
    field("stopDate", "Stop date", stopDate, "ISO-8601 or epoch ms"),
  ];
  const showFields = () => {
    const wanted = new Set(FEED_FIELDS[type.value as FeedType] ?? []);
    for (const f of fields) f.hidden = !wanted.has(f.dataset.field ?? "");
  };
  type.addEventListener("change", showFields);
  showFields();

  const form = h(
    "form",
    { class: "panel feed-form", on: { submit: (ev) => void create(ev) } },
    h("h3", {}, "New alarm trigger"),
    field("name", "Trigger name", name),
    field("type", "Feed", type),
    fields,
    field("payload", "Payload", payload, "JSON object: the body of every fire (the rules' actions get it as parameters)"),
    h("div", { class: "row" }, createButton),
  );

  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "feeds-table", testid: "feeds-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Trigger"), h("th", {}, "Feed"), h("th", {}))),
    tbody,
  );
  replaceChildren(root, h("h2", {}, "Feeds"), form, h("h3", {}, "Triggers with a feed"), table);

  async function create(ev: Event): Promise<void> {
    ev.preventDefault();
    const trigger = name.value.trim();
    if (!trigger) {
      notify("Give the trigger a name.", "error");
      return;
    }
    const kind = type.value as FeedType;
    let params: Record<string, unknown>;
    try {
      params = feedParams({
        type: kind,
        cron: cron.value,
        timezone: timezone.value,
        date: date.value,
        deleteAfterFire: deleteAfterFire.value,
        minutes: minutes.value,
        startDate: startDate.value,
        stopDate: stopDate.value,
        payload: payload.value,
      });
    } catch (e) {
      notify(errorText(e), "error");
      return;
    }
    const feed = `/whisk.system/alarms/${kind}`;
    createButton.disabled = true;
    notify(`creating ${trigger} with ${feed} ...`);
    try {
      await ctx.api.createFeedTrigger(trigger, feed, params);
      name.value = "";
      notify(`created trigger ${trigger} with feed ${feed}`);
      await load();
    } catch (e) {
      notify(`Could not create ${trigger}: ${errorText(e)}`, "error");
    } finally {
      createButton.disabled = false;
    }
  }

  function row(t: Trigger, feed: string): HTMLTableRowElement {
    const del = deleteButton("feed-delete", () =>
      void confirmDeleteRow({
        question: `Delete trigger ${t.name} and its ${feed} schedule?`,
        button: del,
        row: tr,
        tbody,
        emptyRow,
        remove: () => ctx.api.deleteTriggerWithFeed(t.name),
        name: t.name,
        deleted: `deleted trigger ${t.name}`,
        notify,
      }),
    );
    const tr = h(
      "tr",
      { testid: "feed-row" },
      h("td", { class: "feed-trigger" }, h("a", { href: "#/triggers" }, t.name)),
      h("td", {}, h("code", {}, feed)),
      h("td", {}, del),
    );
    return tr;
  }

  function emptyRow(): HTMLTableRowElement {
    return emptyTableRow(3, "No trigger has a feed yet.");
  }

  async function load(): Promise<void> {
    const list = await ctx.api.listTriggers();
    if (!alive()) return;
    const rows = list.flatMap((t) => {
      const feed = annotation(t, "feed");
      return typeof feed === "string" ? [row(t, feed)] : [];
    });
    replaceChildren(tbody, rows.length === 0 ? emptyRow() : rows);
  }

  await load();
  return leave;
};
