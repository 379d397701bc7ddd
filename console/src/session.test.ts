// The sign-in key: taken from the #key= fragment once, kept in sessionStorage, removed from the
// address bar; anything that does not look like uuid:secret is refused.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { forgetKey, isPlausibleKey, storeKey, storedKey, takeKeyFromFragment } from "./session";

const KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";
const STORAGE_KEY = "wisp.console.key";

beforeEach(() => {
  sessionStorage.clear();
  localStorage.clear();
  history.replaceState(null, "", "/console/");
});
afterEach(() => {
  sessionStorage.clear();
});

describe("isPlausibleKey", () => {
  it("takes uuid:secret", () => {
    expect(isPlausibleKey(KEY)).toBe(true);
    expect(isPlausibleKey(` ${KEY}\n`)).toBe(true);
    expect(isPlausibleKey("a:b")).toBe(true);
  });
  it("refuses anything else", () => {
    for (const bad of [
      "",
      ":",
      "nocolon",
      "uuid:",
      ":secret",
      "a:b:c",
      "a b:c",
      "a:b c",
      "a:b?x=1",
      "a:b#c",
      "a:<script>",
      "<img src=x onerror=alert(1)>:x",
      `${"a".repeat(65)}:b`,
      `a:${"b".repeat(129)}`,
    ]) {
      expect(isPlausibleKey(bad), bad).toBe(false);
    }
  });
});

describe("storage", () => {
  it("keeps the key in sessionStorage only, trimmed", () => {
    storeKey(` ${KEY} `);
    expect(sessionStorage.getItem(STORAGE_KEY)).toBe(KEY);
    expect(localStorage.length).toBe(0);
    expect(document.cookie).toBe("");
    expect(storedKey()).toBe(KEY);
    forgetKey();
    expect(storedKey()).toBeUndefined();
    expect(sessionStorage.getItem(STORAGE_KEY)).toBeNull();
  });
  it("ignores a stored value that is not a key", () => {
    sessionStorage.setItem(STORAGE_KEY, "not a key");
    expect(storedKey()).toBeUndefined();
  });
});

describe("takeKeyFromFragment", () => {
  it("stores the fragment's key and rewrites the address bar without it", () => {
    history.replaceState(null, "", `/console/#key=${encodeURIComponent(KEY)}`);
    expect(location.hash).toContain("key=");
    const lengthBefore = history.length;
    expect(takeKeyFromFragment()).toBe(true);
    expect(storedKey()).toBe(KEY);
    expect(location.href).not.toContain(KEY.split(":")[1]);
    expect(location.href).not.toContain("key=");
    expect(location.pathname).toBe("/console/");
    expect(location.hash).toBe("#/actions");
    expect(history.length).toBe(lengthBefore); // replaced, not pushed
  });

  it("takes an unencoded key too", () => {
    history.replaceState(null, "", `/console/#key=${KEY}`);
    expect(takeKeyFromFragment()).toBe(true);
    expect(storedKey()).toBe(KEY);
  });

  it("uses replaceState (no history entry keeps the key)", () => {
    const loc = { hash: `#key=${KEY}`, pathname: "/console/" } as Location;
    const hist = { replaceState: vi.fn(), pushState: vi.fn() } as unknown as History;
    expect(takeKeyFromFragment(loc, hist, sessionStorage)).toBe(true);
    expect(hist.replaceState).toHaveBeenCalledWith(null, "", "/console/#/actions");
    expect(hist.pushState).not.toHaveBeenCalled();
  });

  it("refuses a bad key but still removes it from the address bar", () => {
    for (const bad of ["%3Cscript%3E", "a%3Ab%20c", "%E0%A4%A", "", "x"]) {
      sessionStorage.clear();
      history.replaceState(null, "", `/console/#key=${bad}`);
      expect(takeKeyFromFragment(), bad).toBe(false);
      expect(sessionStorage.getItem(STORAGE_KEY)).toBeNull();
      expect(location.hash).toBe("#/actions");
    }
  });

  it("leaves other fragments alone", () => {
    history.replaceState(null, "", "/console/#/activations?name=a");
    expect(takeKeyFromFragment()).toBe(false);
    expect(location.hash).toBe("#/activations?name=a");
    expect(storedKey()).toBeUndefined();
  });
});
