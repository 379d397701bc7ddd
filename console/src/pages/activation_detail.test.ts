import { describe, expect, it } from "vitest";
import { ApiError, WispApi } from "../api";
import type { PageContext } from "../router";
import { getActivationWhenStored } from "./activation_detail";

function ctxAnswering(statuses: number[]): { ctx: PageContext; calls: () => number } {
  let calls = 0;
  const api = new WispApi("uuid:secret", async () => {
    const status = statuses[Math.min(calls, statuses.length - 1)];
    calls++;
    const body =
      status === 200
        ? { namespace: "guest", name: "a", activationId: "a".repeat(32), start: 1 }
        : { error: "The requested resource does not exist.", code: "x" };
    return new Response(JSON.stringify(body), { status });
  });
  const ctx = { api } as unknown as PageContext;
  return { ctx, calls: () => calls };
}

describe("getActivationWhenStored", () => {
  it("asks again after a 404 until the record is stored", async () => {
    const { ctx, calls } = ctxAnswering([404, 404, 200]);
    const a = await getActivationWhenStored(ctx, "a".repeat(32), () => false, 10, 1);
    expect(a.name).toBe("a");
    expect(calls()).toBe(3);
  });

  it("gives up after the tries with the 404", async () => {
    const { ctx, calls } = ctxAnswering([404]);
    await expect(getActivationWhenStored(ctx, "a".repeat(32), () => false, 3, 1)).rejects.toMatchObject({
      status: 404,
    });
    expect(calls()).toBe(3);
  });

  it("does not ask again for other errors, nor once the page is left", async () => {
    const other = ctxAnswering([500, 200]);
    await expect(getActivationWhenStored(other.ctx, "a".repeat(32), () => false, 10, 1)).rejects.toBeInstanceOf(
      ApiError,
    );
    expect(other.calls()).toBe(1);
    const left = ctxAnswering([404, 200]);
    await expect(getActivationWhenStored(left.ctx, "a".repeat(32), () => true, 10, 1)).rejects.toMatchObject({
      status: 404,
    });
    expect(left.calls()).toBe(1);
  });
});
