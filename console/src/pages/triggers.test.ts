// The triggers page against an in-memory fake of the API: rows, create, fire, delete.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, type Trigger } from "../api";
import { FakeApi, byTestId, context, one, settle, mountRoot, unmountRoot } from "../testing/fake_api";
import { refName, triggerRules, triggersPage } from "./triggers";

const XSS = `<img src=x onerror="window.__pwned=1">`;

function seed(api: FakeApi): void {
  api.triggers.set("t1", {
    namespace: "guest",
    name: "t1",
    annotations: [],
    rules: {
      "guest/r1": { action: { path: "guest", name: "hello" }, status: "active" },
      "guest/r0": { action: { path: "guest/pkg", name: "a" }, status: "inactive" },
    },
  });
  api.triggers.set("every minute", {
    namespace: "guest",
    name: "every minute",
    annotations: [{ key: "feed", value: "/whisk.system/alarms/alarm" }],
  });
  api.triggers.set(XSS, { namespace: "guest", name: XSS, annotations: [{ key: "feed", value: XSS }] });
}

let root: HTMLElement;
beforeEach(() => {
  root = mountRoot();
});
afterEach(() => unmountRoot(root));

describe("helpers", () => {
  it("refName is relative to the namespace", () => {
    expect(refName({ path: "guest", name: "a" }, "guest")).toBe("a");
    expect(refName({ path: "guest/pkg", name: "a" }, "guest")).toBe("pkg/a");
    expect(refName({ path: "whisk.system/utils", name: "echo" }, "guest")).toBe("/whisk.system/utils/echo");
    expect(refName({ path: "guestx", name: "a" }, "guest")).toBe("/guestx/a");
    expect(refName(undefined, "guest")).toBe("");
  });
  it("triggerRules lists rule → action (status), sorted", () => {
    const t: Trigger = {
      namespace: "guest",
      name: "t",
      rules: {
        "guest/b": { action: { path: "guest", name: "x" }, status: "inactive" },
        "guest/a": { action: { path: "guest/p", name: "y" }, status: "active" },
      },
    };
    expect(triggerRules(t, "guest")).toEqual([
      { rule: "a", action: "p/y", status: "active" },
      { rule: "b", action: "x", status: "inactive" },
    ]);
    expect(triggerRules({ namespace: "guest", name: "t" }, "guest")).toEqual([]);
  });
});

describe("triggersPage", () => {
  it("lists each trigger with its feed and its rules (from GET trigger), names as text", async () => {
    const api = new FakeApi();
    seed(api);
    await triggersPage(context(api), root);
    const rows = byTestId(root, "trigger-row");
    expect(rows).toHaveLength(3);
    expect(api.getTrigger).toHaveBeenCalledTimes(3);
    const t1 = rows.find((r) => r.textContent?.startsWith("t1"));
    expect(t1?.textContent).toContain("r0 → pkg/a inactive");
    expect(t1?.textContent).toContain("r1 → hello active");
    const feed = rows.find((r) => r.textContent?.startsWith("every minute"));
    expect(feed?.textContent).toContain("/whisk.system/alarms/alarm");
    expect(root.querySelector("img")).toBeNull();
    expect(root.textContent).toContain(XSS);
    for (const r of rows) {
      expect(byTestId(r, "trigger-fire")).toHaveLength(1);
      expect(byTestId(r, "trigger-delete")).toHaveLength(1);
    }
  });

  it("#/triggers/<name> marks that trigger's row; Enter in the parameters fires", async () => {
    const api = new FakeApi();
    seed(api);
    const ctx = { ...context(api), params: ["every minute"] };
    await triggersPage(ctx, root);
    const selected = byTestId(root, "trigger-row").filter((r) => r.classList.contains("trigger-selected"));
    expect(selected.map((r) => r.querySelector("td")?.textContent)).toEqual(["every minute"]);
    const input = one<HTMLInputElement>(selected[0], "trigger-fire-params");
    input.value = '{"a": 1}';
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    await settle();
    expect(api.fireTrigger).toHaveBeenCalledWith("every minute", { a: 1 });
  });

  it("says when there is none", async () => {
    const api = new FakeApi();
    await triggersPage(context(api), root);
    expect(byTestId(root, "trigger-row")).toHaveLength(0);
    expect(root.textContent).toContain("No triggers yet.");
  });

  it("creates a trigger and shows it", async () => {
    const api = new FakeApi();
    const ctx = context(api);
    await triggersPage(ctx, root);
    one<HTMLInputElement>(root, "trigger-name").value = " new one ";
    one(root, "trigger-create").click();
    await settle();
    expect(api.putTrigger).toHaveBeenCalledWith("new one", {}, false);
    expect(byTestId(root, "trigger-row").map((r) => r.querySelector("td")?.textContent)).toEqual(["new one"]);
    expect(ctx.notify).toHaveBeenLastCalledWith("created trigger new one");
    expect(one<HTMLInputElement>(root, "trigger-name").value).toBe("");

    one<HTMLInputElement>(root, "trigger-name").value = "new one";
    one(root, "trigger-create").click();
    await settle();
    expect(ctx.notify).toHaveBeenLastCalledWith("Could not create trigger new one: resource already exists", "error");
  });

  it("refuses a blank name", async () => {
    const api = new FakeApi();
    const ctx = context(api);
    await triggersPage(ctx, root);
    one(root, "trigger-create").click();
    await settle();
    expect(api.putTrigger).not.toHaveBeenCalled();
    expect(ctx.notify).toHaveBeenLastCalledWith("Give the trigger a name.", "error");
  });

  it("fires with JSON parameters: the activation id, or no active rule", async () => {
    const api = new FakeApi();
    seed(api);
    const ctx = context(api);
    await triggersPage(ctx, root);
    const row = byTestId(root, "trigger-row").find((r) => r.textContent?.startsWith("t1")) as HTMLElement;
    row.querySelector<HTMLInputElement>("input")!.value = '{"name": "x"}';
    one(row, "trigger-fire").click();
    await settle();
    expect(api.fireTrigger).toHaveBeenCalledWith("t1", { name: "x" });
    expect(ctx.notify).toHaveBeenLastCalledWith("fired, activation 0123456789abcdef0123456789abcdef");
    expect(row.querySelector('a[href="#/activations/0123456789abcdef0123456789abcdef"]')).not.toBeNull();

    api.fireAnswer = undefined;
    row.querySelector<HTMLInputElement>("input")!.value = "";
    one(row, "trigger-fire").click();
    await settle();
    expect(api.fireTrigger).toHaveBeenLastCalledWith("t1", {});
    expect(ctx.notify).toHaveBeenLastCalledWith("no active rule");

    row.querySelector<HTMLInputElement>("input")!.value = "[1, 2]";
    one(row, "trigger-fire").click();
    await settle();
    expect(api.fireTrigger).toHaveBeenCalledTimes(2);
    expect(ctx.notify.mock.lastCall?.[1]).toBe("error");
  });

  it("deletes after confirm; a trigger with a feed through the feed", async () => {
    const api = new FakeApi();
    seed(api);
    const ctx = context(api);
    await triggersPage(ctx, root);
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(false);
    const rowOf = (name: string) => byTestId(root, "trigger-row").find((r) => r.querySelector("td")?.textContent === name);

    one(rowOf("t1")!, "trigger-delete").click();
    await settle();
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(api.deleteTrigger).not.toHaveBeenCalled();
    expect(byTestId(root, "trigger-row")).toHaveLength(3);

    confirm.mockReturnValue(true);
    one(rowOf("t1")!, "trigger-delete").click();
    await settle();
    expect(api.deleteTrigger).toHaveBeenCalledWith("t1");
    expect(api.deleteTriggerWithFeed).not.toHaveBeenCalled();
    expect(rowOf("t1")).toBeUndefined();

    one(rowOf("every minute")!, "trigger-delete").click();
    await settle();
    expect(api.deleteTriggerWithFeed).toHaveBeenCalledWith("every minute");
    expect(ctx.notify).toHaveBeenLastCalledWith("deleted trigger every minute");
    expect(byTestId(root, "trigger-row")).toHaveLength(1);
  });

  it("a 401 on the first load reaches the shell (it signs out)", async () => {
    const api = new FakeApi();
    api.listTriggers.mockRejectedValueOnce(new ApiError(401, "The supplied authentication is invalid"));
    await expect(triggersPage(context(api), root)).rejects.toMatchObject({ status: 401 });
  });
});
