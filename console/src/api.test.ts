// WispApi against a fake fetch: what goes on the wire (method, URL, headers, body) and how the
// answers (OpenWhisk error bodies, plain text, 200/502/202 invokes, feeds) come back.
import { describe, expect, it } from "vitest";
import { ApiError, WispApi, annotation, base64Utf8, encodeName, relativeName, type FetchFn } from "./api";

const KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  init: RequestInit;
}

type Answer = { status: number; body?: unknown; text?: string } | Error;

/** A fetch that records every call and answers from `answers` in order (JSON bodies unless `text`). */
function fake(...answers: Answer[]): { api: WispApi; calls: Call[] } {
  const calls: Call[] = [];
  const fetchFn: FetchFn = async (url, init) => {
    const body = typeof init.body === "string" ? (JSON.parse(init.body) as unknown) : undefined;
    calls.push({ method: init.method ?? "GET", url, headers: init.headers as Record<string, string>, body, init });
    const a = answers.shift();
    if (a === undefined) throw new Error(`unexpected request ${init.method} ${url}`);
    if (a instanceof Error) throw a;
    const payload = a.text ?? (a.body === undefined ? null : JSON.stringify(a.body));
    return new Response(a.status === 204 ? null : payload, { status: a.status });
  };
  return { api: new WispApi(KEY, fetchFn), calls };
}

const activation = (over: Record<string, unknown> = {}) => ({
  namespace: "guest",
  name: "hello",
  activationId: "0123456789abcdef0123456789abcdef",
  start: 1,
  end: 3,
  duration: 2,
  logs: [],
  response: { status: "success", success: true, result: { ok: true } },
  ...over,
});

describe("authentication", () => {
  it("sends the key as Basic base64(key) in the Authorization header, never in a URL", async () => {
    const { api, calls } = fake(
      { status: 200, body: ["guest"] },
      { status: 200, body: [] },
      { status: 200, body: activation() },
      { status: 200, body: { namespace: "guest", name: "t" } },
      { status: 200, body: activation({ response: { status: "success", success: true, result: {} } }) },
    );
    await api.namespaces();
    await api.listActivations({ name: "hello" });
    await api.invoke("hello", { a: 1 });
    await api.createFeedTrigger("t", "/whisk.system/alarms/alarm", { cron: "* * * * *" });
    expect(calls).toHaveLength(5);
    const expected = `Basic ${Buffer.from(KEY, "utf8").toString("base64")}`;
    const [uuid, secret] = KEY.split(":");
    for (const c of calls) {
      expect(c.headers.Authorization).toBe(expected);
      expect(c.init.credentials).toBe("omit");
      for (const s of [KEY, secret, uuid, encodeURIComponent(KEY), base64Utf8(KEY)]) {
        expect(c.url).not.toContain(s);
      }
      expect(c.url.startsWith("/api/v1/")).toBe(true);
    }
  });

  it("encodes the key as UTF-8 before base64", () => {
    expect(base64Utf8("a:b")).toBe("YTpi");
    expect(base64Utf8("ä:€")).toBe(Buffer.from("ä:€", "utf8").toString("base64"));
  });
});

describe("paths and queries", () => {
  it("percent-encodes each segment of a name and keeps the package slash", async () => {
    const { api, calls } = fake(
      { status: 200, body: {} },
      { status: 200, body: {} },
      { status: 200, body: {} },
      { status: 200, body: {} },
      { status: 200, body: {} },
    );
    await api.getAction("my pkg/hello world");
    await api.getTrigger("a#b?c&d");
    await api.deleteRule("r/..");
    await api.getPackage("p%q");
    await api.getActivation("../x");
    expect(calls.map((c) => c.url)).toEqual([
      "/api/v1/namespaces/_/actions/my%20pkg/hello%20world?code=true",
      "/api/v1/namespaces/_/triggers/a%23b%3Fc%26d",
      "/api/v1/namespaces/_/rules/r/..",
      "/api/v1/namespaces/_/packages/p%25q",
      "/api/v1/namespaces/_/activations/..%2Fx",
    ]);
    expect(calls[2].method).toBe("DELETE");
  });

  it("encodeName drops empty segments", () => {
    expect(encodeName("/pkg//a/")).toBe("pkg/a");
    expect(encodeName("a b")).toBe("a%20b");
    expect(encodeName("ü")).toBe("%C3%BC");
  });

  it("builds queries from the defined values only, encoded", async () => {
    const { api, calls } = fake(
      { status: 200, body: [] },
      { status: 200, body: [] },
      { status: 200, body: [] },
      { status: 200, body: [] },
      { status: 200, body: [] },
      { status: 200, body: {} },
    );
    await api.listActivations({ name: "pkg/a b&c", since: 1700000000000, docs: false });
    await api.listActivations({ docs: true, limit: 5, skip: 10 });
    await api.listPackages();
    await api.listPackages({ public: true });
    await api.listActions({ skip: 0 });
    await api.deletePackage("p", true);
    const q = calls.map((c) => new URL(c.url, "http://x"));
    expect(q[0].pathname).toBe("/api/v1/namespaces/_/activations");
    expect(calls[0].url).toBe("/api/v1/namespaces/_/activations?name=pkg%2Fa%20b%26c&since=1700000000000&limit=30");
    expect(Object.fromEntries(q[1].searchParams)).toEqual({ limit: "5", skip: "10", docs: "true" });
    expect(calls[2].url).toBe("/api/v1/namespaces/_/packages?limit=200");
    expect(calls[3].url).toBe("/api/v1/namespaces/_/packages?limit=200&public=true");
    expect(calls[4].url).toBe("/api/v1/namespaces/_/actions?limit=200&skip=0");
    expect(calls[5].url).toBe("/api/v1/namespaces/_/packages/p?force=true");
  });

  it("sends JSON bodies with a Content-Type, and none on a GET", async () => {
    const { api, calls } = fake({ status: 200, body: {} }, { status: 200, body: { name: "a" } });
    await api.limits();
    await api.putAction("a", { exec: { kind: "python:3", code: "def main(a): return a" } }, true);
    expect(calls[0].url).toBe("/api/v1/namespaces/_/limits");
    expect(calls[0].init.body).toBeUndefined();
    expect(calls[0].headers["Content-Type"]).toBeUndefined();
    expect(calls[1].method).toBe("PUT");
    expect(calls[1].url).toBe("/api/v1/namespaces/_/actions/a?overwrite=true");
    expect(calls[1].headers["Content-Type"]).toBe("application/json");
    expect(calls[1].body).toEqual({ exec: { kind: "python:3", code: "def main(a): return a" } });
  });
});

describe("errors", () => {
  it("maps an OpenWhisk error body {error, code} to ApiError", async () => {
    const { api } = fake({
      status: 404,
      body: { error: "The requested resource does not exist.", code: "5Lq7y8e1" },
    });
    const e = await api.getAction("missing").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    const err = e as ApiError;
    expect(err.status).toBe(404);
    expect(err.message).toBe("The requested resource does not exist.");
    expect(err.code).toBe("5Lq7y8e1");
  });

  it("maps a plain-text or empty answer to a message with the status", async () => {
    const { api } = fake(
      { status: 502, text: "<html>Bad Gateway</html>" },
      { status: 503 },
      { status: 500, text: "x".repeat(400) },
      { status: 400, body: { error: { nested: true } } },
    );
    const a = (await api.listRules().catch((x: unknown) => x)) as ApiError;
    expect(a).toBeInstanceOf(ApiError);
    expect(a.status).toBe(502);
    expect(a.message).toBe("The platform answered 502: <html>Bad Gateway</html>.");
    expect(a.body).toBe("<html>Bad Gateway</html>");
    const b = (await api.listRules().catch((x: unknown) => x)) as ApiError;
    expect(b.status).toBe(503);
    expect(b.message).toBe("The platform answered 503.");
    const c = (await api.listRules().catch((x: unknown) => x)) as ApiError;
    expect(c.message).toBe("The platform answered 500.");
    const d = (await api.listRules().catch((x: unknown) => x)) as ApiError;
    expect(d.status).toBe(400);
    expect(d.message).toBe("The platform answered 400.");
  });

  it("maps a network failure to ApiError status 0", async () => {
    const { api } = fake(new TypeError("Failed to fetch"));
    const e = (await api.namespaces().catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(0);
    expect(e.message).toContain("Failed to fetch");
  });

  it("returns plain-text success bodies as text (rule status answers OK)", async () => {
    const { api, calls } = fake({ status: 200, text: "OK" });
    await expect(api.setRuleStatus("my rule", "inactive")).resolves.toBe("OK");
    expect(calls[0].method).toBe("POST");
    expect(calls[0].url).toBe("/api/v1/namespaces/_/rules/my%20rule");
    expect(calls[0].body).toEqual({ status: "inactive" });
  });
});

describe("invoke", () => {
  it("200: the activation", async () => {
    const { api, calls } = fake({ status: 200, body: activation() });
    const out = await api.invoke("pkg/hello", { name: "x" });
    expect(calls[0].method).toBe("POST");
    expect(calls[0].url).toBe("/api/v1/namespaces/_/actions/pkg/hello?blocking=true");
    expect(calls[0].body).toEqual({ name: "x" });
    expect(out.status).toBe(200);
    expect(out.activationId).toBe("0123456789abcdef0123456789abcdef");
    expect(out.activation?.response?.result).toEqual({ ok: true });
  });

  it("502: the failed activation, not an exception", async () => {
    const failed = activation({
      response: { status: "application error", success: false, result: { error: "boom" } },
    });
    const { api } = fake({ status: 502, body: failed });
    const out = await api.invoke("hello");
    expect(out.status).toBe(502);
    expect(out.activation?.response?.success).toBe(false);
    expect(out.activation?.response?.result).toEqual({ error: "boom" });
  });

  it("202: only the id (the blocking wait timed out)", async () => {
    const { api } = fake({ status: 202, body: { activationId: "ffffffffffffffffffffffffffffffff" } });
    const out = await api.invoke("slow");
    expect(out).toEqual({ status: 202, activationId: "ffffffffffffffffffffffffffffffff" });
  });

  it("an error body (even with status 502) throws", async () => {
    const { api } = fake(
      { status: 404, body: { error: "The requested resource does not exist.", code: "c1" } },
      { status: 502, body: { error: "The action did not produce a valid response.", code: "c2" } },
      { status: 429, body: { error: "Too many requests in the last minute (count: 61, allowed: 60).", code: "c3" } },
    );
    for (const status of [404, 502, 429]) {
      const e = (await api.invoke("x").catch((x: unknown) => x)) as ApiError;
      expect(e).toBeInstanceOf(ApiError);
      expect(e.status).toBe(status);
    }
  });
});

describe("triggers", () => {
  it("fire: 202 gives the activation id, 204 (no active rule) gives undefined", async () => {
    const { api, calls } = fake(
      { status: 202, body: { activationId: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" } },
      { status: 204 },
    );
    await expect(api.fireTrigger("t 1", { a: 1 })).resolves.toBe("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    await expect(api.fireTrigger("t 1")).resolves.toBeUndefined();
    expect(calls[0].url).toBe("/api/v1/namespaces/_/triggers/t%201");
    expect(calls[0].body).toEqual({ a: 1 });
    expect(calls[1].body).toEqual({});
  });

  it("createFeedTrigger: PUT with the feed annotation, then the feed's CREATE with the lifecycle keys", async () => {
    const { api, calls } = fake(
      { status: 200, body: { namespace: "guest", name: "every minute", annotations: [] } },
      { status: 200, body: activation({ response: { status: "success", success: true, result: { status: "success" } } }) },
    );
    const t = await api.createFeedTrigger("every minute", "/whisk.system/alarms/alarm", {
      cron: "* * * * *",
      trigger_payload: { a: 1 },
      lifecycleEvent: "DELETE", // the lifecycle keys win, as with wsk
    });
    expect(t.name).toBe("every minute");
    expect(calls).toHaveLength(2);
    expect(calls[0].method).toBe("PUT");
    expect(calls[0].url).toBe("/api/v1/namespaces/_/triggers/every%20minute?overwrite=false");
    expect(calls[0].body).toEqual({ annotations: [{ key: "feed", value: "/whisk.system/alarms/alarm" }] });
    expect(calls[1].method).toBe("POST");
    expect(calls[1].url).toBe("/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true");
    expect(calls[1].body).toEqual({
      cron: "* * * * *",
      trigger_payload: { a: 1 },
      lifecycleEvent: "CREATE",
      triggerName: "/guest/every minute",
      authKey: KEY,
    });
  });

  it("createFeedTrigger: a relative feed name is resolved in the caller's namespace", async () => {
    const { api, calls } = fake(
      { status: 200, body: { namespace: "guest", name: "t" } },
      { status: 200, body: activation() },
    );
    await api.createFeedTrigger("t", "mypkg/feed", {});
    expect(calls[0].body).toEqual({ annotations: [{ key: "feed", value: "/_/mypkg/feed" }] });
    expect(calls[1].url).toBe("/api/v1/namespaces/_/actions/mypkg/feed?blocking=true");
  });

  it("createFeedTrigger: when the feed fails, the trigger is deleted and the feed's own text is thrown", async () => {
    const failed = activation({
      name: "alarm",
      response: {
        status: "application error",
        success: false,
        result: { error: { error: "cron pattern 'bad' is not valid" } },
      },
    });
    const { api, calls } = fake(
      { status: 200, body: { namespace: "guest", name: "t" } },
      { status: 502, body: failed },
      { status: 200, body: { namespace: "guest", name: "t" } },
    );
    const e = (await api
      .createFeedTrigger("t", "/whisk.system/alarms/alarm", { cron: "bad" })
      .catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(502);
    expect(e.message).toBe("cron pattern 'bad' is not valid");
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "PUT /api/v1/namespaces/_/triggers/t?overwrite=false",
      "POST /api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true",
      "DELETE /api/v1/namespaces/_/triggers/t",
    ]);
  });

  it("createFeedTrigger: a flat {error: text} result and a missing feed both delete the trigger", async () => {
    const flat = activation({
      response: { status: "application error", success: false, result: { error: "unsupported lifecycleEvent" } },
    });
    const { api, calls } = fake(
      { status: 200, body: { namespace: "guest", name: "t" } },
      { status: 502, body: flat },
      { status: 200, body: {} },
      { status: 200, body: { namespace: "guest", name: "u" } },
      { status: 404, body: { error: "The requested resource does not exist.", code: "x" } },
      { status: 404, body: { error: "gone", code: "y" } }, // the delete's failure is not what is thrown
    );
    const a = (await api.createFeedTrigger("t", "/whisk.system/alarms/alarm", {}).catch((x: unknown) => x)) as ApiError;
    expect(a.message).toBe("unsupported lifecycleEvent");
    const b = (await api.createFeedTrigger("u", "/nope/feeds/x", {}).catch((x: unknown) => x)) as ApiError;
    expect(b.status).toBe(404);
    expect(b.message).toBe("The requested resource does not exist.");
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.url)).toEqual([
      "/api/v1/namespaces/_/triggers/t",
      "/api/v1/namespaces/_/triggers/u",
    ]);
  });

  it("createFeedTrigger: a trigger that already exists is not touched", async () => {
    const { api, calls } = fake({ status: 409, body: { error: "resource already exists", code: "z" } });
    const e = (await api.createFeedTrigger("t", "/whisk.system/alarms/once", {}).catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(409);
    expect(calls).toHaveLength(1);
  });

  it("deleteTriggerWithFeed: the feed's DELETE first, then the trigger, even when the feed fails", async () => {
    const trigger = {
      namespace: "guest",
      name: "t",
      annotations: [{ key: "feed", value: "/whisk.system/alarms/interval" }],
    };
    const { api, calls } = fake(
      { status: 200, body: trigger },
      { status: 502, body: activation({ response: { status: "application error", success: false, result: { error: "x" } } }) },
      { status: 200, body: trigger },
    );
    const t = await api.deleteTriggerWithFeed("t");
    expect(t.name).toBe("t");
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "GET /api/v1/namespaces/_/triggers/t",
      "POST /api/v1/namespaces/whisk.system/actions/alarms/interval?blocking=true",
      "DELETE /api/v1/namespaces/_/triggers/t",
    ]);
    expect(calls[1].body).toEqual({ lifecycleEvent: "DELETE", triggerName: "/guest/t", authKey: KEY });
  });

  it("deleteTriggerWithFeed: no feed annotation, no feed call", async () => {
    const { api, calls } = fake({ status: 200, body: { namespace: "guest", name: "t" } }, { status: 200, body: {} });
    await api.deleteTriggerWithFeed("t");
    expect(calls.map((c) => c.method)).toEqual(["GET", "DELETE"]);
  });
});

describe("rules", () => {
  it("PUT sends the trigger and action references", async () => {
    const { api, calls } = fake({ status: 200, body: {} });
    await api.putRule("r", "/_/t", "/_/pkg/a", false);
    expect(calls[0].url).toBe("/api/v1/namespaces/_/rules/r?overwrite=false");
    expect(calls[0].body).toEqual({ trigger: "/_/t", action: "/_/pkg/a" });
  });
});

describe("helpers", () => {
  it("relativeName puts the package in front of the name", () => {
    expect(relativeName({ namespace: "guest", name: "a" })).toBe("a");
    expect(relativeName({ namespace: "guest/pkg", name: "a" })).toBe("pkg/a");
  });
  it("annotation finds a key's value", () => {
    const e = { annotations: [{ key: "feed", value: "/whisk.system/alarms/alarm" }, { key: "web-export", value: true }] };
    expect(annotation(e, "feed")).toBe("/whisk.system/alarms/alarm");
    expect(annotation(e, "web-export")).toBe(true);
    expect(annotation(e, "nope")).toBeUndefined();
    expect(annotation({}, "feed")).toBeUndefined();
  });
});
