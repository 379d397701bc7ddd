// What several pages share: the JSON-object parse of a parameters textarea, an error's message
// for the status bar, the text inputs, the Delete button, the "loading… / There is no X" start of
// an entity's page, and the confirm-then-delete of a table row. Everything shown is text (h()).
import "./common.css";
import { ApiError } from "../api";
import { h, replaceChildren, type Props } from "../dom";
import type { PageContext } from "../router";

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * "" or blanks → {}; a JSON object → it; anything else → an error `<what> must be a JSON object:
 * <reason>` (the parser's message for bad JSON).
 */
export function parseJsonObject(text: string, what = "Parameters"): Result<Record<string, unknown>> {
  if (text.trim().length === 0) return { ok: true, value: {} };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `${what} must be a JSON object: ${(e as Error).message}` };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    const got = v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`;
    return { ok: false, error: `${what} must be a JSON object: got ${got}` };
  }
  return { ok: true, value: v as Record<string, unknown> };
}

/** An error's message for the status bar. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A one-line input without autocomplete or spellcheck: `label` becomes its aria-label, `type` its
 * type (left unset when not given), `props` anything else h() takes.
 */
export function textInput(
  testid: string,
  placeholder: string,
  opts: { label?: string; type?: string; props?: Props } = {},
): HTMLInputElement {
  return h("input", {
    testid,
    ...(opts.type === undefined ? {} : { type: opts.type }),
    autocomplete: "off",
    spellcheck: false,
    attrs: opts.label === undefined ? { placeholder } : { placeholder, "aria-label": opts.label },
    ...opts.props,
  });
}

/** A red "Delete" button with that data-testid. */
export function deleteButton(testid: string, onClick?: () => void): HTMLButtonElement {
  return h(
    "button",
    { class: "danger", testid, type: "button", ...(onClick ? { on: { click: onClick } } : {}) },
    "Delete",
  );
}

/** The one row of an empty table: `text`, muted, across `columns` columns. */
export function emptyTableRow(columns: number, text: string, rowProps: Props = {}): HTMLTableRowElement {
  return h("tr", rowProps, h("td", { class: "muted", attrs: { colspan: String(columns) } }, text));
}

/** "← Actions": the link back to a list. */
export function backLink(href: string, label: string): HTMLAnchorElement {
  return h("a", { href, class: "back" }, `← ${label}`);
}

/**
 * An entity's page starts with "loading…" in `root` while `load` runs. A 404 shows the link back
 * and `<testid>` "There is no <what> <name>." and puts the error in the status bar: the answer is
 * then undefined. Other errors are thrown.
 */
export async function loadOrMissing<T>(
  ctx: PageContext,
  root: HTMLElement,
  load: () => Promise<T>,
  missing: { back: [href: string, label: string]; testid: string; text: string },
): Promise<{ value: T } | undefined> {
  replaceChildren(root, h("p", { class: "muted" }, "loading…"));
  try {
    return { value: await load() };
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    replaceChildren(root, backLink(...missing.back), h("p", { class: "error", testid: missing.testid }, missing.text));
    ctx.notify(e.message, "error");
    return undefined;
  }
}

/**
 * A row's Delete: asks `question`; yes disables the button and runs `remove`; done, it says
 * `deleted`, takes the row out of its table body and puts `emptyRow()` there when it was the
 * last; an error says `Could not delete <name>: <why>` and enables the button again.
 */
export async function confirmDeleteRow(o: {
  question: string;
  button: HTMLButtonElement;
  row: HTMLTableRowElement;
  tbody: HTMLElement;
  emptyRow: () => HTMLTableRowElement;
  remove: () => Promise<unknown>;
  name: string;
  deleted: string;
  notify: PageContext["notify"];
}): Promise<void> {
  if (!window.confirm(o.question)) return;
  o.button.disabled = true;
  try {
    await o.remove();
    o.notify(o.deleted);
    o.row.remove();
    if (!o.tbody.firstChild) replaceChildren(o.tbody, o.emptyRow());
  } catch (e) {
    o.notify(`Could not delete ${o.name}: ${errorText(e)}`, "error");
    o.button.disabled = false;
  }
}

/**
 * For a page that keeps working after an await: its notify stops once the page is left
 * (`leave`, the page's Cleanup), and `alive()` says whether it still is shown.
 */
export function pageLife(ctx: PageContext): { notify: PageContext["notify"]; alive: () => boolean; leave: () => void } {
  let alive = true;
  return {
    notify: (...args) => {
      if (alive) ctx.notify(...args);
    },
    alive: () => alive,
    leave: () => {
      alive = false;
    },
  };
}
