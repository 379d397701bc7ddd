// The helpers the pages share (common.ts).
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, type WispApi } from "../api";
import type { PageContext } from "../router";
import { confirmDeleteRow, deleteButton, emptyTableRow, errorText, loadOrMissing, pageLife, parseJsonObject, textInput } from "./common";

describe("parseJsonObject", () => {
  it("takes objects and blank, refuses the rest (JSON that is not an object, bad JSON)", () => {
    expect(parseJsonObject("")).toEqual({ ok: true, value: {} });
    expect(parseJsonObject("  ")).toEqual({ ok: true, value: {} });
    expect(parseJsonObject('{"a": [1]}')).toEqual({ ok: true, value: { a: [1] } });
    for (const bad of ["[1]", "1", "null", '"x"', "{a:1}", "{"]) {
      const r = parseJsonObject(bad);
      expect(!r.ok && r.error, bad).toMatch(/JSON object/);
    }
  });
  it("takes an object, and an empty text as {}", () => {
    expect(parseJsonObject('{"a": 1, "b": [true]}')).toEqual({ ok: true, value: { a: 1, b: [true] } });
    expect(parseJsonObject("  \n")).toEqual({ ok: true, value: {} });
  });
  it("says what is wrong with bad JSON, with the parser's message", () => {
    const r = parseJsonObject("{name: 1}");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.startsWith("Parameters must be a JSON object: ")).toBe(true);
      expect(r.error.length).toBeGreaterThan("Parameters must be a JSON object: ".length);
    }
  });
  it("refuses arrays, null and scalars", () => {
    for (const t of ["[1]", "null", "3", '"s"']) {
      const r = parseJsonObject(t);
      expect(r.ok, t).toBe(false);
    }
    const r = parseJsonObject("[1]");
    expect(!r.ok && r.error).toBe("Parameters must be a JSON object: got an array");
  });
});

describe("errorText", () => {
  it("an Error's message, anything else as a string", () => {
    expect(errorText(new Error("boom"))).toBe("boom");
    expect(errorText("plain")).toBe("plain");
  });
});

describe("textInput and deleteButton", () => {
  it("an input without autocomplete; the type only when given", () => {
    const a = textInput("x-name", "name", { label: "X name" });
    expect(a.dataset.testid).toBe("x-name");
    expect(a.getAttribute("autocomplete")).toBe("off");
    expect(a.spellcheck).toBe(false);
    expect(a.getAttribute("placeholder")).toBe("name");
    expect(a.getAttribute("aria-label")).toBe("X name");
    expect(a.hasAttribute("type")).toBe(false);
    const b = textInput("n", "5", { type: "number", props: { class: "c", min: "1" } });
    expect(b.type).toBe("number");
    expect(b.className).toBe("c");
    expect(b.min).toBe("1");
    expect(b.hasAttribute("aria-label")).toBe(false);
  });
  it("emptyTableRow: one muted cell across the columns, the text as text", () => {
    const tr = emptyTableRow(5, "No <i>rows</i> yet.", { class: "empty-row" });
    expect(tr.className).toBe("empty-row");
    const td = tr.querySelector("td")!;
    expect([td.className, td.colSpan, td.textContent]).toEqual(["muted", 5, "No <i>rows</i> yet."]);
    expect(tr.querySelector("i")).toBeNull();
  });
  it("a danger button that calls back", () => {
    const onClick = vi.fn();
    const b = deleteButton("x-delete", onClick);
    expect([b.dataset.testid, b.className, b.type, b.textContent]).toEqual(["x-delete", "danger", "button", "Delete"]);
    b.click();
    expect(onClick).toHaveBeenCalledTimes(1);
  });
});

function ctxWithNotes(): { ctx: PageContext; notes: [string, string | undefined][] } {
  const notes: [string, string | undefined][] = [];
  const ctx = {
    api: {} as WispApi,
    namespace: "guest",
    params: [],
    query: new URLSearchParams(),
    navigate: () => undefined,
    notify: (m: string, k?: "info" | "error") => notes.push([m, k]),
  } as unknown as PageContext;
  return { ctx, notes };
}

describe("loadOrMissing", () => {
  it("shows loading…, then answers the value", async () => {
    const { ctx, notes } = ctxWithNotes();
    const root = document.createElement("main");
    let seen = "";
    const r = await loadOrMissing(ctx, root, async () => ((seen = root.textContent ?? ""), 7), {
      back: ["#/xs", "Xs"],
      testid: "x-missing",
      text: "There is no x.",
    });
    expect(seen).toBe("loading…");
    expect(r).toEqual({ value: 7 });
    expect(notes).toEqual([]);
  });
  it("a 404 shows the link back and the text (as text) and tells the status bar", async () => {
    const { ctx, notes } = ctxWithNotes();
    const root = document.createElement("main");
    const r = await loadOrMissing(ctx, root, () => Promise.reject(new ApiError(404, "gone")), {
      back: ["#/xs", "Xs"],
      testid: "x-missing",
      text: "There is no <b>x</b>.",
    });
    expect(r).toBeUndefined();
    expect(root.querySelector("a.back")?.getAttribute("href")).toBe("#/xs");
    expect(root.querySelector("a.back")?.textContent).toBe("← Xs");
    expect(root.querySelector('[data-testid="x-missing"]')?.textContent).toBe("There is no <b>x</b>.");
    expect(root.querySelector("b")).toBeNull();
    expect(notes).toEqual([["gone", "error"]]);
  });
  it("other errors are thrown", async () => {
    const { ctx } = ctxWithNotes();
    const root = document.createElement("main");
    const missing = { back: ["#/xs", "Xs"] as [string, string], testid: "x-missing", text: "no" };
    await expect(loadOrMissing(ctx, root, () => Promise.reject(new ApiError(500, "down")), missing)).rejects.toThrow("down");
  });
});

describe("confirmDeleteRow", () => {
  afterEach(() => vi.restoreAllMocks());
  const table = () => {
    const tbody = document.createElement("tbody");
    const row = tbody.appendChild(document.createElement("tr"));
    const button = document.createElement("button");
    const notify = vi.fn();
    const emptyRow = () => {
      const tr = document.createElement("tr");
      tr.textContent = "none";
      return tr;
    };
    return { tbody, row, button, notify, emptyRow, name: "x", question: "Delete x?", deleted: "deleted x" };
  };
  it("does nothing without a yes", async () => {
    vi.spyOn(window, "confirm").mockReturnValue(false);
    const t = table();
    const remove = vi.fn(async () => undefined);
    await confirmDeleteRow({ ...t, remove });
    expect(remove).not.toHaveBeenCalled();
    expect(t.tbody.children).toHaveLength(1);
  });
  it("removes the row, and the last one leaves the empty row", async () => {
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(true);
    const t = table();
    await confirmDeleteRow({ ...t, remove: async () => undefined });
    expect(confirm).toHaveBeenCalledWith("Delete x?");
    expect(t.notify).toHaveBeenCalledWith("deleted x");
    expect(t.row.isConnected).toBe(false);
    expect(t.tbody.textContent).toBe("none");
  });
  it("an error is told and the button works again", async () => {
    vi.spyOn(window, "confirm").mockReturnValue(true);
    const t = table();
    let disabledWhileRemoving = false;
    await confirmDeleteRow({
      ...t,
      remove: async () => {
        disabledWhileRemoving = t.button.disabled;
        throw new Error("nope");
      },
    });
    expect(disabledWhileRemoving).toBe(true);
    expect(t.button.disabled).toBe(false);
    expect(t.notify).toHaveBeenCalledWith("Could not delete x: nope", "error");
    expect(t.tbody.contains(t.row)).toBe(true);
  });
});

describe("pageLife", () => {
  it("notify stops when the page is left", () => {
    const { ctx, notes } = ctxWithNotes();
    const life = pageLife(ctx);
    life.notify("one");
    expect(life.alive()).toBe(true);
    life.leave();
    life.notify("two");
    expect(life.alive()).toBe(false);
    expect(notes).toEqual([["one", undefined]]);
  });
});
