// The limits page: one row per key, known keys with a label first, the rest as they come.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeApi, context, one, mountRoot, unmountRoot } from "../testing/fake_api";
import { limitRows, limitsPage } from "./limits";

let root: HTMLElement;
beforeEach(() => {
  root = mountRoot();
});
afterEach(() => unmountRoot(root));

describe("limits", () => {
  it("limitRows labels the known keys and keeps the others", () => {
    const rows = limitRows({
      somethingNew: { a: 1 },
      firesPerMinute: 60,
      invocationsPerMinute: 120,
      concurrentInvocations: 30,
      allowedKinds: ["python:3", "nodejs:20"],
      storeActivations: false,
      maxParameterSize: "1048576 B",
    });
    expect(rows.map((r) => [r.label, r.value])).toEqual([
      ["Invocations per minute", "120"],
      ["Concurrent invocations", "30"],
      ["Trigger fires per minute", "60"],
      ["Allowed kinds", "python:3, nodejs:20"],
      ["Store activations", "false"],
      ["Maximum parameter size", "1048576 B"],
      ["somethingNew", '{\n  "a": 1\n}'],
    ]);
  });

  it("limitsPage draws limits-table from GET limits", async () => {
    const api = new FakeApi();
    api.limits.mockResolvedValue({ invocationsPerMinute: 60, concurrentInvocations: 30, firesPerMinute: 60, "<i>x</i>": "<b>y</b>" } as never);
    await limitsPage(context(api), root);
    const table = one(root, "limits-table");
    const rows = [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent));
    expect(rows).toEqual([
      ["Invocations per minuteinvocationsPerMinute", "60"],
      ["Concurrent invocationsconcurrentInvocations", "30"],
      ["Trigger fires per minutefiresPerMinute", "60"],
      ["<i>x</i>", "<b>y</b>"],
    ]);
    expect(table.querySelector("i, b")).toBeNull();
  });

  it("says when no limit is set", async () => {
    const api = new FakeApi();
    await limitsPage(context(api), root);
    expect(one(root, "limits-table").textContent).toContain("the platform's defaults apply");
  });
});
