// Hash routes: #/actions, #/actions/new, #/actions/<name or pkg/name>, #/activations,
// #/activations/<id>, #/triggers, #/triggers/<name>, #/rules, #/feeds, #/packages,
// #/packages/<name>, #/limits. Each page renders into the main element; what it returns is
// called when the page is left (stop its timers).
import type { WispApi } from "./api";

export interface PageContext {
  api: WispApi;
  /** The caller's namespace name (from GET /namespaces). */
  namespace: string;
  /** Decoded path segments after the page's name: #/actions/pkg/a → ["pkg", "a"]. */
  params: string[];
  /** Query of the hash route: #/activations?name=a → name=a. */
  query: URLSearchParams;
  /** Go to another route ("#/actions/a"). */
  navigate(hash: string): void;
  /** Show a message in the page's status bar (errors in red). */
  notify(message: string, kind?: "info" | "error"): void;
}

export type Cleanup = () => void;
export type Page = (ctx: PageContext, root: HTMLElement) => void | Cleanup | Promise<void | Cleanup>;

export interface Route {
  page: string;
  params: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.startsWith("#") ? hash.slice(1) : hash;
  const q = h.indexOf("?"); // not split("?", 2): it drops what follows a second "?"
  const [path, qs] = q < 0 ? [h, ""] : [h.slice(0, q), h.slice(q + 1)];
  const segs = path
    .split("/")
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { page: segs[0] ?? "actions", params: segs.slice(1), query: new URLSearchParams(qs) };
}

/** "#/actions/pkg/a" from ("actions", "pkg/a"); segments are percent-encoded. */
export function hashFor(page: string, name?: string, query?: Record<string, string>): string {
  const segs = name ? name.split("/").filter((s) => s.length > 0).map(encodeURIComponent) : [];
  const qs = query ? new URLSearchParams(query).toString() : "";
  return `#/${[page, ...segs].join("/")}${qs ? `?${qs}` : ""}`;
}
