// The rules page against the in-memory fake API: status from GET rule, enable/disable, create, delete.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeApi, byTestId, context, one, settle, mountRoot, unmountRoot } from "../testing/fake_api";
import { nextStatus, rulesPage } from "./rules";

let root: HTMLElement;
beforeEach(() => {
  root = mountRoot();
});
afterEach(() => unmountRoot(root));

function seed(api: FakeApi): void {
  api.triggers.set("t1", { namespace: "guest", name: "t1" });
  api.triggers.set("t0", { namespace: "guest", name: "t0" });
  api.actions = [
    { namespace: "guest", name: "hello", exec: { kind: "python:3" } },
    { namespace: "guest/pkg", name: "a", exec: { kind: "nodejs:20" } },
  ];
  api.rules.set("r1", {
    namespace: "guest",
    name: "r1",
    status: "active",
    trigger: { path: "guest", name: "t1" },
    action: { path: "guest/pkg", name: "a" },
  });
  api.rules.set("<b>r2</b>", {
    namespace: "guest",
    name: "<b>r2</b>",
    status: "inactive",
    trigger: { path: "guest", name: "t0" },
    action: { path: "guest", name: "hello" },
  });
}

const rowOf = (name: string) =>
  byTestId(root, "rule-row").find((r) => r.querySelector("td")?.textContent === name) as HTMLElement;

describe("rulesPage", () => {
  it("nextStatus flips active and enables anything else", () => {
    expect(nextStatus("active")).toBe("inactive");
    expect(nextStatus("inactive")).toBe("active");
    expect(nextStatus(undefined)).toBe("active");
  });

  it("lists each rule with trigger, action and the status from its own GET", async () => {
    const api = new FakeApi();
    seed(api);
    await rulesPage(context(api), root);
    expect(api.getRule).toHaveBeenCalledTimes(2);
    const r1 = rowOf("r1");
    expect([...r1.querySelectorAll("td")].slice(1, 3).map((td) => td.textContent)).toEqual(["t1", "pkg/a"]);
    expect(one(r1, "rule-status").textContent).toBe("active");
    expect(one(r1, "rule-toggle").textContent).toBe("Disable");
    expect(r1.querySelector('a[href="#/actions/pkg/a"]')).not.toBeNull();
    const r2 = rowOf("<b>r2</b>");
    expect(one(r2, "rule-status").textContent).toBe("inactive");
    expect(one(r2, "rule-toggle").textContent).toBe("Enable");
    expect(root.querySelector("b")).toBeNull();
  });

  it("the toggle posts the other status and the row follows", async () => {
    const api = new FakeApi();
    seed(api);
    const ctx = context(api);
    await rulesPage(ctx, root);
    const r1 = rowOf("r1");
    one(r1, "rule-toggle").click();
    await settle();
    expect(api.setRuleStatus).toHaveBeenLastCalledWith("r1", "inactive");
    expect(one(r1, "rule-status").textContent).toBe("inactive");
    expect(one(r1, "rule-toggle").textContent).toBe("Enable");
    expect(r1.classList.contains("rule-inactive")).toBe(true);
    expect(ctx.notify).toHaveBeenLastCalledWith("rule r1 is inactive");
    one(r1, "rule-toggle").click();
    await settle();
    expect(api.setRuleStatus).toHaveBeenLastCalledWith("r1", "active");
    expect(one(r1, "rule-status").textContent).toBe("active");
    expect(one(r1, "rule-toggle").textContent).toBe("Disable");
    expect(byTestId(root, "rule-row")).toHaveLength(2);
  });

  it("a failed toggle leaves the row and says why", async () => {
    const api = new FakeApi();
    seed(api);
    const ctx = context(api);
    await rulesPage(ctx, root);
    api.rules.delete("r1");
    one(rowOf("r1"), "rule-toggle").click();
    await settle();
    expect(one(rowOf("r1"), "rule-status").textContent).toBe("active");
    expect(ctx.notify).toHaveBeenLastCalledWith(
      "Could not disable r1: Only rules with existing triggers can be activated",
      "error",
    );
  });

  it("creates a rule from the trigger and action lists", async () => {
    const api = new FakeApi();
    seed(api);
    const ctx = context(api);
    await rulesPage(ctx, root);
    const trig = one<HTMLSelectElement>(root, "rule-trigger");
    const act = one<HTMLSelectElement>(root, "rule-action");
    expect([...trig.options].map((o) => o.value)).toEqual(["t0", "t1"]);
    expect([...act.options].map((o) => o.value)).toEqual(["hello", "pkg/a"]);
    one<HTMLInputElement>(root, "rule-name").value = "r3";
    trig.value = "t1";
    act.value = "pkg/a";
    one(root, "rule-create").click();
    await settle();
    expect(api.putRule).toHaveBeenCalledWith("r3", "/_/t1", "/_/pkg/a", false);
    const r3 = rowOf("r3");
    expect(one(r3, "rule-status").textContent).toBe("active");
    expect(ctx.notify).toHaveBeenLastCalledWith("created rule r3: t1 → pkg/a");
  });

  it("refuses a rule without a name, and says when there are no triggers", async () => {
    const api = new FakeApi();
    const ctx = context(api);
    await rulesPage(ctx, root);
    expect(one<HTMLSelectElement>(root, "rule-trigger").value).toBe("");
    expect(root.textContent).toContain("No rules yet.");
    one(root, "rule-create").click();
    await settle();
    expect(api.putRule).not.toHaveBeenCalled();
    expect(ctx.notify).toHaveBeenLastCalledWith("A rule needs a name, a trigger and an action.", "error");
  });

  it("deletes after confirm", async () => {
    const api = new FakeApi();
    seed(api);
    await rulesPage(context(api), root);
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(false);
    one(rowOf("r1"), "rule-delete").click();
    await settle();
    expect(api.deleteRule).not.toHaveBeenCalled();
    confirm.mockReturnValue(true);
    one(rowOf("r1"), "rule-delete").click();
    await settle();
    expect(api.deleteRule).toHaveBeenCalledWith("r1");
    expect(rowOf("r1")).toBeUndefined();
    expect(byTestId(root, "rule-row")).toHaveLength(1);
  });
});
