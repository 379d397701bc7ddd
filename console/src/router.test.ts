// Hash routes: parseHash and hashFor are inverse for every name (packages, spaces, #, ?, %).
import { describe, expect, it } from "vitest";
import { hashFor, parseHash } from "./router";

describe("parseHash", () => {
  it("splits page, decoded params and query", () => {
    const r = parseHash("#/actions/pkg/hello%20world?x=1&y=a%20b");
    expect(r.page).toBe("actions");
    expect(r.params).toEqual(["pkg", "hello world"]);
    expect(r.query.get("x")).toBe("1");
    expect(r.query.get("y")).toBe("a b");
  });
  it("defaults to the actions page", () => {
    expect(parseHash("").page).toBe("actions");
    expect(parseHash("#").page).toBe("actions");
    expect(parseHash("#/").params).toEqual([]);
  });
  it("takes a hash without '#' and ignores empty segments", () => {
    expect(parseHash("/rules//r1/").params).toEqual(["r1"]);
    expect(parseHash("/rules//r1/").page).toBe("rules");
  });
  it("keeps a malformed escape as it is", () => {
    expect(parseHash("#/actions/%E0%A4%A").params).toEqual(["%E0%A4%A"]);
  });
  it("keeps a '?' inside the query", () => {
    expect(parseHash("#/activations?name=a?b").query.get("name")).toBe("a?b");
  });
});

describe("hashFor", () => {
  it("builds routes", () => {
    expect(hashFor("triggers")).toBe("#/triggers");
    expect(hashFor("actions", "pkg/a")).toBe("#/actions/pkg/a");
    expect(hashFor("actions", "a b")).toBe("#/actions/a%20b");
    expect(hashFor("activations", undefined, { name: "a b" })).toBe("#/activations?name=a+b");
  });

  it("round trips through parseHash", () => {
    const names = [
      "hello",
      "pkg/hello",
      "with space/and#hash",
      "a?b&c=d",
      "100%",
      "ünïcödé/日本",
      "<img src=x onerror=alert(1)>",
      "0123456789abcdef0123456789abcdef",
    ];
    for (const page of ["actions", "activations", "packages", "triggers"]) {
      for (const name of names) {
        const r = parseHash(hashFor(page, name));
        expect(r.page).toBe(page);
        expect(r.params.join("/"), name).toBe(name);
        expect([...r.query.keys()]).toEqual([]);
      }
    }
  });

  it("round trips queries", () => {
    const q = { name: "pkg/a b", status: "failed", odd: "x&y=z?#" };
    const r = parseHash(hashFor("activations", "x", q));
    expect(r.params).toEqual(["x"]);
    expect(Object.fromEntries(r.query)).toEqual(q);
  });
});
