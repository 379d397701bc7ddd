// The test doubles under src/testing/ stay out of the bundle: only *.test.ts files import them.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const src = join(dirname(fileURLToPath(import.meta.url)), "..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The files that import something under src/testing/ without being a test. */
export function nonTestImporters(files: { path: string; text: string }[]): string[] {
  return files
    .filter((f) => !f.path.endsWith(".test.ts") && !f.path.startsWith("testing/"))
    .filter((f) => /from\s+["'][./]*testing\//.test(f.text))
    .map((f) => f.path);
}

describe("src/testing", () => {
  it("is imported by test files only", () => {
    const files = sources(src).map((p) => ({ path: relative(src, p), text: readFileSync(p, "utf8") }));
    expect(files.some((f) => f.path === "testing/fake_api.ts")).toBe(true);
    expect(nonTestImporters(files)).toEqual([]);
  });
  it("the check finds a page that imports a test double", () => {
    const page = { path: "pages/x.ts", text: 'import { FakeApi } from "../testing/fake_api";' };
    const main = { path: "main.ts", text: 'import { q } from "./testing/fake_api";' };
    const test = { path: "pages/x.test.ts", text: page.text };
    expect(nonTestImporters([page, main, test])).toEqual(["pages/x.ts", "main.ts"]);
  });
});
