// The console's only way to the platform: the public REST API (/api/v1), the user's key sent as
// the Authorization header (Basic), same origin. No private endpoints.

export interface KeyValue {
  key: string;
  value: unknown;
  init?: boolean;
}

export interface Limits {
  timeout?: number;
  memory?: number;
  logs?: number;
  concurrency?: number;
}

export interface Exec {
  kind: string;
  code?: string;
  binary?: boolean;
  main?: string;
  image?: string;
  components?: string[];
}

export interface Action {
  namespace: string;
  name: string;
  version?: string;
  publish?: boolean;
  exec: Exec;
  annotations?: KeyValue[];
  parameters?: KeyValue[];
  limits?: Limits;
  updated?: number;
}

export interface Trigger {
  namespace: string;
  name: string;
  version?: string;
  annotations?: KeyValue[];
  parameters?: KeyValue[];
  limits?: Record<string, unknown>;
  rules?: Record<string, { action: { name: string; path: string }; status: string }>;
  updated?: number;
}

export interface EntityRef {
  path: string;
  name: string;
}

export interface Rule {
  namespace: string;
  name: string;
  version?: string;
  status?: string;
  trigger: EntityRef;
  action: EntityRef;
  annotations?: KeyValue[];
  updated?: number;
}

export interface Package {
  namespace: string;
  name: string;
  version?: string;
  publish?: boolean;
  binding?: EntityRef | Record<string, never>;
  annotations?: KeyValue[];
  parameters?: KeyValue[];
  actions?: { name: string; version?: string; annotations?: KeyValue[] }[];
  feeds?: { name: string; version?: string; annotations?: KeyValue[] }[];
  updated?: number;
}

export interface ActivationResponse {
  status: string; // "success" | "application error" | "action developer error" | "whisk internal error"
  statusCode?: number;
  success: boolean;
  result?: unknown;
  size?: number;
}

export interface Activation {
  namespace: string;
  name: string;
  version?: string;
  subject?: string;
  activationId: string;
  start: number;
  end?: number;
  duration?: number;
  statusCode?: number;
  cause?: string;
  response?: ActivationResponse;
  logs?: string[];
  annotations?: KeyValue[];
  publish?: boolean;
}

export interface NamespaceLimits {
  invocationsPerMinute?: number;
  concurrentInvocations?: number;
  firesPerMinute?: number;
  [k: string]: unknown;
}

/** An answer other than 2xx. `message` is OpenWhisk's `error` field when the body has one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The outcome of a blocking invoke: the activation (200 or 502), or only its id (202). */
export interface InvokeOutcome {
  status: number;
  activationId: string;
  activation?: Activation;
}

export type FetchFn = (input: string, init: RequestInit) => Promise<Response>;

type Query = Record<string, string | number | boolean | undefined>;

/** `pkg/a` → `pkg/a` with each segment percent-encoded; a leading `/ns/` is not accepted here. */
export function encodeName(name: string): string {
  return name
    .split("/")
    .filter((s) => s.length > 0)
    .map(encodeURIComponent)
    .join("/");
}

/** The value of annotation `key`, or undefined. */
export function annotation(entity: { annotations?: KeyValue[] }, key: string): unknown {
  return entity.annotations?.find((a) => a.key === key)?.value;
}

/** "ns/pkg" + "a" → "pkg/a" (the name relative to the namespace); "ns" + "a" → "a". */
export function relativeName(entity: { namespace: string; name: string }): string {
  const slash = entity.namespace.indexOf("/");
  return slash < 0 ? entity.name : `${entity.namespace.slice(slash + 1)}/${entity.name}`;
}

/** Base64 of a UTF-8 string (btoa only takes Latin-1). */
export function base64Utf8(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export class WispApi {
  private readonly auth: string;

  /** `key` is "uuid:secret", as `wsk property set --auth` takes it. */
  constructor(
    readonly key: string,
    private readonly fetchFn: FetchFn = (i, r) => fetch(i, r),
    private readonly base = "/api/v1",
  ) {
    this.auth = `Basic ${base64Utf8(key)}`;
  }

  async request<T>(method: string, path: string, query: Query = {}, body?: unknown): Promise<T> {
    const { status, json } = await this.raw(method, path, query, body);
    if (status < 200 || status > 299) throw toError(status, json);
    return json as T;
  }

  /** The status and the parsed body, whatever the status. Network failures throw ApiError(0). */
  async raw(
    method: string,
    path: string,
    query: Query = {},
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const qs = Object.entries(query)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join("&");
    const url = `${this.base}${path}${qs ? `?${qs}` : ""}`;
    const headers: Record<string, string> = { Authorization: this.auth, Accept: "application/json" };
    const init: RequestInit = { method, headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await this.fetchFn(url, init);
    } catch (e) {
      throw new ApiError(0, `The platform did not answer (${(e as Error).message}).`);
    }
    const text = await res.text();
    let json: unknown = undefined;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
    }
    return { status: res.status, json };
  }

  // Namespaces and limits.
  namespaces(): Promise<string[]> {
    return this.request("GET", "/namespaces");
  }
  limits(): Promise<NamespaceLimits> {
    return this.request("GET", "/namespaces/_/limits");
  }

  // Actions.
  listActions(opts: { skip?: number; limit?: number } = {}): Promise<Action[]> {
    return this.request("GET", "/namespaces/_/actions", { limit: opts.limit ?? 200, skip: opts.skip });
  }
  getAction(name: string, code = true): Promise<Action> {
    return this.request("GET", `/namespaces/_/actions/${encodeName(name)}`, { code });
  }
  putAction(name: string, action: Partial<Action>, overwrite: boolean): Promise<Action> {
    return this.request("PUT", `/namespaces/_/actions/${encodeName(name)}`, { overwrite }, action);
  }
  deleteAction(name: string): Promise<Action> {
    return this.request("DELETE", `/namespaces/_/actions/${encodeName(name)}`);
  }
  /** A blocking invoke; a 502 (the action failed) still gives the activation. */
  async invoke(name: string, params: Record<string, unknown> = {}): Promise<InvokeOutcome> {
    const { status, json } = await this.raw(
      "POST",
      `/namespaces/_/actions/${encodeName(name)}`,
      { blocking: true },
      params,
    );
    const body = (json ?? {}) as Partial<Activation> & { error?: string; code?: string };
    if ((status === 200 || status === 502) && typeof body.activationId === "string") {
      return { status, activationId: body.activationId, activation: body as Activation };
    }
    if (status === 202 && typeof body.activationId === "string") {
      return { status, activationId: body.activationId };
    }
    throw toError(status, json);
  }

  // Triggers.
  listTriggers(): Promise<Trigger[]> {
    return this.request("GET", "/namespaces/_/triggers", { limit: 200 });
  }
  getTrigger(name: string): Promise<Trigger> {
    return this.request("GET", `/namespaces/_/triggers/${encodeName(name)}`);
  }
  putTrigger(name: string, trigger: Partial<Trigger>, overwrite: boolean): Promise<Trigger> {
    return this.request("PUT", `/namespaces/_/triggers/${encodeName(name)}`, { overwrite }, trigger);
  }
  deleteTrigger(name: string): Promise<Trigger> {
    return this.request("DELETE", `/namespaces/_/triggers/${encodeName(name)}`);
  }
  /** Fires; the activation id, or undefined when no rule is active (204). */
  async fireTrigger(name: string, params: Record<string, unknown> = {}): Promise<string | undefined> {
    const r = await this.request<{ activationId?: string } | undefined>(
      "POST",
      `/namespaces/_/triggers/${encodeName(name)}`,
      {},
      params,
    );
    return r?.activationId;
  }

  /**
   * `wsk trigger create NAME --feed FEED -p ...`: the trigger (annotated `feed`), then a blocking
   * invoke of the feed action with lifecycleEvent CREATE; when that fails, the trigger is deleted
   * again and the feed's error is thrown.
   */
  async createFeedTrigger(name: string, feed: string, params: Record<string, unknown>): Promise<Trigger> {
    const feedPath = feed.startsWith("/") ? feed : `/_/${feed}`;
    const trigger = await this.putTrigger(name, { annotations: [{ key: "feed", value: feedPath }] }, false);
    const ns = trigger.namespace;
    try {
      const out = await this.invokeFeed(feedPath, {
        ...params,
        lifecycleEvent: "CREATE",
        triggerName: `/${ns}/${name}`,
        authKey: this.key,
      });
      if (out.status !== 200) {
        // The alarms feed answers {"error":{"error":text}}; others {"error":text}.
        const result = out.activation?.response?.result as { error?: unknown } | undefined;
        const inner = (result?.error as { error?: unknown } | undefined)?.error;
        const msg =
          typeof result?.error === "string"
            ? result.error
            : typeof inner === "string"
              ? inner
              : JSON.stringify(result ?? {});
        throw new ApiError(out.status, msg);
      }
    } catch (e) {
      await this.deleteTrigger(name).catch(() => undefined);
      throw e;
    }
    return trigger;
  }

  /** `wsk trigger delete`: the feed action with lifecycleEvent DELETE first, when there is one. */
  async deleteTriggerWithFeed(name: string): Promise<Trigger> {
    const trigger = await this.getTrigger(name);
    const feed = annotation(trigger, "feed");
    if (typeof feed === "string") {
      await this.invokeFeed(feed, {
        lifecycleEvent: "DELETE",
        triggerName: `/${trigger.namespace}/${name}`,
        authKey: this.key,
      }).catch(() => undefined);
    }
    return this.deleteTrigger(name);
  }

  private async invokeFeed(feedPath: string, params: Record<string, unknown>): Promise<InvokeOutcome> {
    // "/whisk.system/alarms/alarm" → namespace whisk.system, name alarms/alarm.
    const parts = feedPath.split("/").filter((s) => s.length > 0);
    const ns = parts[0] === "_" ? "_" : parts[0];
    const rest = parts.slice(1).map(encodeURIComponent).join("/");
    const { status, json } = await this.raw(
      "POST",
      `/namespaces/${encodeURIComponent(ns)}/actions/${rest}`,
      { blocking: true },
      params,
    );
    const body = (json ?? {}) as Partial<Activation>;
    if ((status === 200 || status === 502) && typeof body.activationId === "string") {
      return { status, activationId: body.activationId, activation: body as Activation };
    }
    throw toError(status, json);
  }

  // Rules.
  listRules(): Promise<Rule[]> {
    return this.request("GET", "/namespaces/_/rules", { limit: 200 });
  }
  getRule(name: string): Promise<Rule> {
    return this.request("GET", `/namespaces/_/rules/${encodeName(name)}`);
  }
  putRule(name: string, trigger: string, action: string, overwrite: boolean): Promise<Rule> {
    return this.request("PUT", `/namespaces/_/rules/${encodeName(name)}`, { overwrite }, { trigger, action });
  }
  deleteRule(name: string): Promise<Rule> {
    return this.request("DELETE", `/namespaces/_/rules/${encodeName(name)}`);
  }
  setRuleStatus(name: string, status: "active" | "inactive"): Promise<unknown> {
    return this.request("POST", `/namespaces/_/rules/${encodeName(name)}`, {}, { status });
  }

  // Packages.
  listPackages(opts: { public?: boolean } = {}): Promise<Package[]> {
    return this.request("GET", "/namespaces/_/packages", { limit: 200, public: opts.public || undefined });
  }
  getPackage(name: string): Promise<Package> {
    return this.request("GET", `/namespaces/_/packages/${encodeName(name)}`);
  }
  putPackage(name: string, pkg: Partial<Package>, overwrite: boolean): Promise<Package> {
    return this.request("PUT", `/namespaces/_/packages/${encodeName(name)}`, { overwrite }, pkg);
  }
  deletePackage(name: string, force = false): Promise<Package> {
    return this.request("DELETE", `/namespaces/_/packages/${encodeName(name)}`, { force: force || undefined });
  }

  // Activations.
  listActivations(
    opts: { name?: string; since?: number; upto?: number; limit?: number; skip?: number; docs?: boolean } = {},
  ): Promise<Activation[]> {
    return this.request("GET", "/namespaces/_/activations", {
      name: opts.name,
      since: opts.since,
      upto: opts.upto,
      limit: opts.limit ?? 30,
      skip: opts.skip,
      docs: opts.docs || undefined,
    });
  }
  getActivation(id: string): Promise<Activation> {
    return this.request("GET", `/namespaces/_/activations/${encodeURIComponent(id)}`);
  }
  activationLogs(id: string): Promise<{ logs: string[] }> {
    return this.request("GET", `/namespaces/_/activations/${encodeURIComponent(id)}/logs`);
  }
  activationResult(id: string): Promise<ActivationResponse> {
    return this.request("GET", `/namespaces/_/activations/${encodeURIComponent(id)}/result`);
  }
}

function toError(status: number, json: unknown): ApiError {
  const body = json as { error?: unknown; code?: unknown } | undefined;
  if (body && typeof body === "object" && typeof body.error === "string") {
    return new ApiError(status, body.error, typeof body.code === "string" ? body.code : undefined, json);
  }
  const text = typeof json === "string" && json.length > 0 && json.length < 300 ? `: ${json}` : "";
  return new ApiError(status, `The platform answered ${status}${text}.`, undefined, json);
}
