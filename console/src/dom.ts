// The only way the console builds DOM: elements with properties, attributes and children given
// as nodes or strings. Strings always become text nodes (textContent), never HTML, so a name or a
// result that holds markup shows as text. innerHTML, outerHTML, insertAdjacentHTML and
// document.write are not used anywhere in src/ (dom.test.ts checks that).

export type Child = Node | string | number | null | undefined | false | Child[];

export interface Props {
  class?: string;
  /** data-testid: the hook the browser tests use. */
  testid?: string;
  /** Attributes, set with setAttribute (never `style` or `on*`: use `on` and CSSOM). */
  attrs?: Record<string, string>;
  /** Event listeners. */
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (ev: HTMLElementEventMap[K]) => void }>;
  /** Extra properties assigned to the element (value, checked, disabled, type, href ...). */
  [prop: string]: unknown;
}

const RESERVED = new Set(["class", "testid", "attrs", "on"]);

export function appendChildren(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) appendChildren(parent, c);
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(String(c)));
  }
}

/** h("button", {class: "primary", on: {click: f}}, "Invoke") */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.testid) el.dataset.testid = props.testid;
  for (const [k, v] of Object.entries(props.attrs ?? {})) {
    const name = k.toLowerCase(); // setAttribute lowercases: STYLE is style
    if (name === "style" || name.startsWith("on") || name === "srcdoc") {
      throw new Error(`dom: attribute ${k} is not allowed`);
    }
    if ((name === "href" || name === "xlink:href") && !isSafeHref(v)) {
      throw new Error(`dom: unsafe href ${v}`);
    }
    el.setAttribute(k, v);
  }
  for (const [ev, fn] of Object.entries(props.on ?? {})) {
    el.addEventListener(ev, fn as EventListener);
  }
  for (const [k, v] of Object.entries(props)) {
    if (RESERVED.has(k) || v === undefined) continue;
    if (k === "innerHTML" || k === "outerHTML" || k === "srcdoc" || k.startsWith("on")) {
      throw new Error(`dom: property ${k} is not allowed`);
    }
    if (k === "href" && typeof v === "string" && !isSafeHref(v)) {
      throw new Error(`dom: unsafe href ${v}`);
    }
    (el as unknown as Record<string, unknown>)[k] = v;
  }
  appendChildren(el, children);
  return el;
}

/** Only same-document links (#/...) and http(s) URLs; never javascript: or data:. */
export function isSafeHref(href: string): boolean {
  if (href.startsWith("#") || href.startsWith("/")) return !href.startsWith("//");
  try {
    const u = new URL(href);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

/** Replaces every child of `el` with `children`. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  appendChildren(el, children);
}

/** Pretty JSON for display (as text). */
export function jsonText(v: unknown): string {
  return JSON.stringify(v, null, 2) ?? "undefined";
}

/** "2026-12-05 12:00:00" in the browser's local time. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "";
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(
    d.getMinutes(),
  )}:${p(d.getSeconds())}`;
}

/** "35 ms", "1.20 s". */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
