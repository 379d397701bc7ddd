// The feeds page: the parameters each alarm feed gets, the fields shown per type, the feed's error
// in the status bar, and the list of triggers with a feed.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeApi, byTestId, context, one, settle, mountRoot, unmountRoot } from "../testing/fake_api";
import { feedDate, feedParams, feedsPage } from "./feeds";

let root: HTMLElement;
beforeEach(() => {
  root = mountRoot();
});
afterEach(() => unmountRoot(root));

describe("feedParams", () => {
  it("alarm: cron, timezone, start and stop; blank fields and other types' fields left out", () => {
    expect(feedParams({ type: "alarm", cron: " */2 * * * * ", timezone: "", date: "2030-01-01", minutes: "5" })).toEqual({
      cron: "*/2 * * * *",
    });
    expect(
      feedParams({ type: "alarm", cron: "0 9 * * 1", timezone: "Europe/Berlin", stopDate: "1900000000000", payload: '{"a": 1}' }),
    ).toEqual({ cron: "0 9 * * 1", timezone: "Europe/Berlin", stopDate: 1900000000000, trigger_payload: { a: 1 } });
  });
  it("once: the date as ISO-8601 (or epoch ms), deleteAfterFire only when not false", () => {
    expect(feedParams({ type: "once", date: "2030-01-02T03:04:05Z", deleteAfterFire: "false", cron: "x" })).toEqual({
      date: "2030-01-02T03:04:05.000Z",
    });
    expect(feedParams({ type: "once", date: "1900000000000", deleteAfterFire: "rules" })).toEqual({
      date: 1900000000000,
      deleteAfterFire: "rules",
    });
  });
  it("interval: minutes as a number; what is not a number is passed for the feed to refuse", () => {
    expect(feedParams({ type: "interval", minutes: "5", startDate: "2030-01-01T00:00:00Z" })).toEqual({
      minutes: 5,
      startDate: "2030-01-01T00:00:00.000Z",
    });
    expect(feedParams({ type: "interval", minutes: "1.5" })).toEqual({ minutes: "1.5" });
  });
  it("a payload that is not a JSON object is refused here", () => {
    expect(() => feedParams({ type: "alarm", cron: "* * * * *", payload: "[1]" })).toThrow(/payload must be a JSON object/);
    expect(() => feedParams({ type: "alarm", cron: "* * * * *", payload: "{" })).toThrow(/payload must be a JSON object/);
  });
  it("feedDate keeps text Date cannot read", () => {
    expect(feedDate("tomorrow")).toBe("tomorrow");
    expect(feedDate("42")).toBe(42);
  });
});

describe("feedsPage", () => {
  it("shows only the chosen feed's fields", async () => {
    const api = new FakeApi();
    await feedsPage(context(api), root);
    const visible = (id: string) => !(one(root, id).closest("label") as HTMLElement).hidden;
    const type = one<HTMLSelectElement>(root, "feed-type");
    expect([...type.options].map((o) => o.value)).toEqual(["alarm", "once", "interval"]);
    const ids = ["feed-cron", "feed-timezone", "feed-date", "feed-minutes"];
    expect(ids.map(visible)).toEqual([true, true, false, false]);
    type.value = "once";
    type.dispatchEvent(new Event("change"));
    expect(ids.map(visible)).toEqual([false, false, true, false]);
    type.value = "interval";
    type.dispatchEvent(new Event("change"));
    expect(ids.map(visible)).toEqual([false, false, false, true]);
    expect(visible("feed-payload")).toBe(true);
    expect(visible("feed-trigger-name")).toBe(true);
  });

  it("creates an alarm trigger through the feed and lists it", async () => {
    const api = new FakeApi();
    api.triggers.set("plain", { namespace: "guest", name: "plain" });
    const ctx = context(api);
    await feedsPage(ctx, root);
    expect(byTestId(root, "feed-row")).toHaveLength(0);
    one<HTMLInputElement>(root, "feed-trigger-name").value = "tick";
    one<HTMLInputElement>(root, "feed-cron").value = "* * * * *";
    one<HTMLTextAreaElement>(root, "feed-payload").value = '{"message": "tick"}';
    one(root, "feed-create").click();
    await settle();
    expect(api.createFeedTrigger).toHaveBeenCalledWith("tick", "/whisk.system/alarms/alarm", {
      cron: "* * * * *",
      trigger_payload: { message: "tick" },
    });
    expect(ctx.notify).toHaveBeenLastCalledWith("created trigger tick with feed /whisk.system/alarms/alarm");
    const rows = byTestId(root, "feed-row");
    expect(rows.map((r) => r.querySelector("td")?.textContent)).toEqual(["tick"]);
    expect(rows[0].textContent).toContain("/whisk.system/alarms/alarm");
  });

  it("creates an interval trigger", async () => {
    const api = new FakeApi();
    await feedsPage(context(api), root);
    one<HTMLInputElement>(root, "feed-trigger-name").value = "every5";
    const type = one<HTMLSelectElement>(root, "feed-type");
    type.value = "interval";
    type.dispatchEvent(new Event("change"));
    one<HTMLInputElement>(root, "feed-cron").value = "ignored";
    one<HTMLInputElement>(root, "feed-minutes").value = "5";
    one(root, "feed-create").click();
    await settle();
    expect(api.createFeedTrigger).toHaveBeenCalledWith("every5", "/whisk.system/alarms/interval", { minutes: 5 });
  });

  it("shows the feed's error (a bad cron) in the status bar", async () => {
    const api = new FakeApi();
    api.feedError = "cron pattern 'nope' is not valid";
    const ctx = context(api);
    await feedsPage(ctx, root);
    one<HTMLInputElement>(root, "feed-trigger-name").value = "bad";
    one<HTMLInputElement>(root, "feed-cron").value = "nope";
    one(root, "feed-create").click();
    await settle();
    expect(ctx.notify).toHaveBeenLastCalledWith("Could not create bad: cron pattern 'nope' is not valid", "error");
    expect(byTestId(root, "feed-row")).toHaveLength(0);
    expect(one<HTMLButtonElement>(root, "feed-create").disabled).toBe(false);
  });

  it("refuses a bad payload or a blank name before calling the feed", async () => {
    const api = new FakeApi();
    const ctx = context(api);
    await feedsPage(ctx, root);
    one(root, "feed-create").click();
    await settle();
    expect(ctx.notify).toHaveBeenLastCalledWith("Give the trigger a name.", "error");
    one<HTMLInputElement>(root, "feed-trigger-name").value = "t";
    one<HTMLTextAreaElement>(root, "feed-payload").value = "5";
    one(root, "feed-create").click();
    await settle();
    expect(ctx.notify.mock.lastCall?.[1]).toBe("error");
    expect(api.createFeedTrigger).not.toHaveBeenCalled();
  });

  it("lists only triggers with a feed, and deletes through the feed", async () => {
    const api = new FakeApi();
    api.triggers.set("plain", { namespace: "guest", name: "plain" });
    api.triggers.set("daily", {
      namespace: "guest",
      name: "daily",
      annotations: [{ key: "feed", value: "/whisk.system/alarms/alarm" }],
    });
    await feedsPage(context(api), root);
    const rows = byTestId(root, "feed-row");
    expect(rows).toHaveLength(1);
    vi.spyOn(window, "confirm").mockReturnValue(true);
    one(rows[0], "feed-delete").click();
    await settle();
    expect(api.deleteTriggerWithFeed).toHaveBeenCalledWith("daily");
    expect(byTestId(root, "feed-row")).toHaveLength(0);
  });
});
