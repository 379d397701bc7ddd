// h() puts strings in as text, never as HTML, and refuses what the CSP would block or what could
// run script (style/on* attributes, javascript: links, srcdoc); and no source file builds DOM
// from HTML strings (innerHTML & co.), evaluates code, or writes inline styles.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { formatDuration, h, isSafeHref, jsonText, replaceChildren } from "./dom";

const PROBE = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

describe("h() text", () => {
  it("puts a markup string in as one text node", () => {
    const el = h("div", {}, PROBE);
    expect(el.childNodes).toHaveLength(1);
    expect(el.firstChild?.nodeType).toBe(Node.TEXT_NODE);
    expect(el.textContent).toBe(PROBE);
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("script")).toBeNull();
    expect(el.children).toHaveLength(0);
  });

  it("keeps markup as text in nested children, arrays and numbers; skips null/false", () => {
    const el = h("ul", {}, [h("li", {}, PROBE), [PROBE, 42]], null, undefined, false);
    expect(el.querySelectorAll("img, script")).toHaveLength(0);
    expect(el.children).toHaveLength(1);
    expect(el.textContent).toBe(`${PROBE}${PROBE}42`);
  });

  it("replaceChildren puts strings in as text too", () => {
    const el = h("div", {}, h("span", {}, "old"));
    replaceChildren(el, PROBE);
    expect(el.children).toHaveLength(0);
    expect(el.textContent).toBe(PROBE);
  });

  it("an attribute value holding markup stays an attribute value", () => {
    const el = h("input", { attrs: { placeholder: PROBE }, value: PROBE, title: PROBE });
    const host = h("div", {}, el);
    expect(host.querySelectorAll("img, script")).toHaveLength(0);
    expect(el.getAttribute("placeholder")).toBe(PROBE);
    expect(el.value).toBe(PROBE);
  });

  it("jsonText shows a result holding markup as text", () => {
    const pre = h("pre", {}, jsonText({ html: PROBE }));
    expect(pre.querySelector("img")).toBeNull();
    expect(pre.textContent).toContain("<img src=x");
  });

  it("nothing in the probe ran", () => {
    document.body.appendChild(h("div", {}, PROBE));
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });
});

describe("h() props", () => {
  it("sets class, data-testid, attributes, properties and listeners", () => {
    const click = vi.fn();
    const b = h("button", { class: "primary", testid: "x-btn", attrs: { "aria-label": "go" }, type: "submit", on: { click } }, "Go");
    expect(b.className).toBe("primary");
    expect(b.dataset.testid).toBe("x-btn");
    expect(b.getAttribute("data-testid")).toBe("x-btn");
    expect(b.getAttribute("aria-label")).toBe("go");
    expect(b.type).toBe("submit");
    b.click();
    expect(click).toHaveBeenCalledTimes(1);
  });

  it("refuses style and on* attributes, whatever their case", () => {
    for (const k of ["style", "STYLE", "Style", "onclick", "onerror", "OnClick", "ONLOAD", "srcdoc", "SrcDoc"]) {
      expect(() => h("div", { attrs: { [k]: "alert(1)" } }), k).toThrow();
    }
  });

  it("refuses on* properties, innerHTML, outerHTML and srcdoc", () => {
    for (const k of ["onclick", "onerror", "innerHTML", "outerHTML", "srcdoc"]) {
      expect(() => h("iframe", { [k]: "<b>x</b>" }), k).toThrow();
    }
  });

  it("refuses javascript:, data: and protocol-relative links, as property or attribute", () => {
    for (const href of [
      "javascript:alert(1)",
      "JavaScript:alert(1)",
      " javascript:alert(1)",
      "java\tscript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:x",
      "//evil.example/",
    ]) {
      expect(() => h("a", { href }), href).toThrow();
      expect(() => h("a", { attrs: { href } }), `attrs ${href}`).toThrow();
      expect(isSafeHref(href), href).toBe(false);
    }
  });

  it("allows same-document and http(s) links", () => {
    for (const href of ["#/actions", "#/activations/abc", "/console/", "https://example.com/x", "http://127.0.0.1:3233/"]) {
      expect(isSafeHref(href), href).toBe(true);
      expect(h("a", { href }).getAttribute("href")).toBe(href);
      expect(h("a", { attrs: { href } }).getAttribute("href")).toBe(href);
    }
  });

  it("formats durations", () => {
    expect(formatDuration(35.4)).toBe("35 ms");
    expect(formatDuration(1200)).toBe("1.20 s");
    expect(formatDuration(undefined)).toBe("");
  });
});

// ---- The source scan. ----

const SRC = dirname(fileURLToPath(import.meta.url));

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

const FORBIDDEN: { what: string; re: RegExp }[] = [
  { what: "innerHTML", re: /innerHTML/ },
  { what: "outerHTML", re: /outerHTML/ },
  { what: "insertAdjacentHTML", re: /insertAdjacentHTML/ },
  { what: "document.write", re: /document\s*\.\s*write(ln)?\b/ },
  { what: "eval(", re: /\beval\s*\(/ },
  { what: "new Function", re: /\bnew\s+Function\b/ },
  { what: 'setAttribute("style")', re: /setAttribute\(\s*["'`]style["'`]/i },
  { what: "style= in a string", re: /["'`][^"'`\n]*\bstyle\s*=/i },
  { what: "an on*= handler in a string", re: /["'`][^"'`\n]*<[^>]*\son[a-z]+\s*=/i },
  { what: "createContextualFragment", re: /createContextualFragment/ },
  { what: "DOMParser", re: /\bDOMParser\b/ },
  { what: "srcdoc", re: /srcdoc/i },
];

/** dom.ts names what it refuses: those comparisons are the only allowed mentions. */
const ALLOWED_IN_DOM_TS = [/k(ey)?\s*===\s*"(innerHTML|outerHTML|srcdoc)"/g, /"srcdoc"/g];

/** The lines of `text` that break a rule, comments (whole-line // and block comment lines) left out. */
export function violations(text: string, file = "x.ts"): string[] {
  const found: string[] = [];
  let inBlock = false;
  text.split("\n").forEach((raw, i) => {
    let line = raw.trim();
    if (inBlock) {
      if (line.includes("*/")) {
        inBlock = false;
        line = line.slice(line.indexOf("*/") + 2).trim();
      } else return;
    }
    if (line.startsWith("//")) return;
    if (line.startsWith("/*")) {
      if (!line.includes("*/")) inBlock = true;
      return;
    }
    if (file.endsWith("dom.ts")) for (const a of ALLOWED_IN_DOM_TS) line = line.replace(a, "");
    for (const f of FORBIDDEN) {
      if (f.re.test(line)) found.push(`${file}:${i + 1}: ${f.what}: ${raw.trim()}`);
    }
  });
  return found;
}

describe("source scan", () => {
  it("finds the forbidden constructs (the scanner can fail)", () => {
    const bad = [
      "el.innerHTML = x;",
      "el.outerHTML = x;",
      "el.insertAdjacentHTML('beforeend', x);",
      "document.write(x);",
      "document.writeln(x);",
      "const f = eval(code);",
      "const f = new Function('return 1');",
      'el.setAttribute("style", "color:red");',
      'const s = `<div style="color:red">`;',
      "const s = '<img src=x onerror=alert(1)>';",
      "range.createContextualFragment(x);",
      "new DOMParser().parseFromString(x, 'text/html');",
      "frame.srcdoc = x;",
      "x; // trailing comments are scanned: el.innerHTML",
    ];
    for (const b of bad) expect(violations(b), b).toHaveLength(1);
  });

  it("passes ordinary code and comments", () => {
    const ok = [
      "// innerHTML is never used",
      "/* no eval( here",
      " * nor document.write",
      " */",
      "el.textContent = retrieval(x);",
      "el.style.width = `${w}px`;",
      "const evaluate = (x: number) => x;",
      'h("a", { href: "#/actions" }, name);',
    ];
    expect(violations(ok.join("\n"))).toEqual([]);
  });

  it("no src/**/*.ts (tests aside) builds DOM from HTML, evaluates code or writes inline styles", () => {
    const files = sourceFiles(SRC);
    expect(files.map((f) => relative(SRC, f))).toEqual(expect.arrayContaining(["main.ts", "dom.ts", "api.ts"]));
    const found = files.flatMap((f) => violations(readFileSync(f, "utf8"), relative(SRC, f)));
    expect(found).toEqual([]);
  });
});
