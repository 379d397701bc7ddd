import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, type Package } from "../api";
import { byTestId, q, recordingContext, settle } from "../testing/fake_api";
import { bindingCreateBody, bindingSource, packageCreateBody, packagesPage, parseBindingSource } from "./packages";

describe("parseBindingSource", () => {
  it("reads /ns/pkg and ns/pkg", () => {
    expect(parseBindingSource("/whisk.system/utils")).toEqual({
      ok: true,
      value: { namespace: "whisk.system", name: "utils" },
    });
    expect(parseBindingSource(" guest/pkg ")).toEqual({ ok: true, value: { namespace: "guest", name: "pkg" } });
    expect(parseBindingSource("/_/pkg")).toEqual({ ok: true, value: { namespace: "_", name: "pkg" } });
  });
  it("refuses anything else", () => {
    for (const t of ["", "utils", "/a/b/c", "//b", "/a/", "/a/ b"]) {
      expect(parseBindingSource(t).ok, t).toBe(false);
    }
  });
});

describe("bindingSource", () => {
  it("is /ns/pkg for a binding and empty otherwise", () => {
    expect(bindingSource({ binding: { namespace: "whisk.system", name: "utils" } as unknown as Package["binding"] })).toBe(
      "/whisk.system/utils",
    );
    expect(bindingSource({ binding: false as unknown as Package["binding"] })).toBe("");
    expect(bindingSource({ binding: {} })).toBe("");
    expect(bindingSource({})).toBe("");
  });
});

describe("bodies", () => {
  it("create and bind", () => {
    expect(packageCreateBody(true)).toEqual({ publish: true });
    expect(packageCreateBody(false)).toEqual({ publish: false });
    expect(bindingCreateBody({ namespace: "whisk.system", name: "utils" })).toEqual({
      binding: { namespace: "whisk.system", name: "utils" },
    });
  });
});

// ---- The page against a fake API ------------------------------------------------------------------

type Fake = {
  listPackages: ReturnType<typeof vi.fn>;
  getPackage: ReturnType<typeof vi.fn>;
  putPackage: ReturnType<typeof vi.fn>;
  deletePackage: ReturnType<typeof vi.fn>;
};

function setup(params: string[], packages: Package[]) {
  const fake: Fake = {
    listPackages: vi.fn(async () => packages),
    getPackage: vi.fn(async (name: string) => packages.find((p) => p.name === name)),
    putPackage: vi.fn(async (name: string, body: Partial<Package>) => {
      const p = { namespace: "guest", name, ...body } as Package;
      packages.push(p);
      return p;
    }),
    deletePackage: vi.fn(async () => ({})),
  };
  return { fake, ...recordingContext(params, fake) };
}


afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

const XSS = "<img src=x onerror=alert(1)>";

describe("packagesPage list", () => {
  it("shows rows with name, shared and binding; names as text", async () => {
    const { ctx, root } = setup([], [
      { namespace: "guest", name: "util", publish: true },
      { namespace: "guest", name: XSS, publish: false, binding: { namespace: "whisk.system", name: "utils" } as never },
    ]);
    await packagesPage(ctx, root);
    const rows = byTestId(root, "package-row");
    expect(rows.map((r) => [...r.querySelectorAll("td")].slice(0, 3).map((td) => td.textContent))).toEqual([
      [XSS, "no", "/whisk.system/utils"],
      ["util", "yes", ""],
    ]);
    expect(root.querySelector("img")).toBeNull();
    expect(rows[1].querySelector("a")?.getAttribute("href")).toBe("#/packages/util");
  });

  it("creates a shared package and a binding with the right bodies", async () => {
    const { ctx, root, fake, notes } = setup([], []);
    await packagesPage(ctx, root);
    (q(root, "package-name") as HTMLInputElement).value = "mine";
    (q(root, "package-shared") as HTMLInputElement).checked = true;
    q(root, "package-create").click();
    await settle();
    await settle();
    expect(fake.putPackage).toHaveBeenCalledWith("mine", { publish: true }, false);
    expect(byTestId(root, "package-row").length).toBe(1);

    (q(root, "binding-name") as HTMLInputElement).value = "b";
    (q(root, "binding-source") as HTMLInputElement).value = "/whisk.system/utils";
    q(root, "binding-create").click();
    await settle();
    await settle();
    expect(fake.putPackage).toHaveBeenLastCalledWith("b", { binding: { namespace: "whisk.system", name: "utils" } }, false);
    expect(byTestId(root, "package-row").length).toBe(2);

    (q(root, "binding-name") as HTMLInputElement).value = "c";
    (q(root, "binding-source") as HTMLInputElement).value = "utils";
    q(root, "binding-create").click();
    expect(fake.putPackage).toHaveBeenCalledTimes(2);
    expect(notes.at(-1)?.[1]).toBe("error");
  });

  it("deletes after confirming, and with force after a 409 and a second yes", async () => {
    const { ctx, root, fake } = setup([], [{ namespace: "guest", name: "full" }]);
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(true);
    fake.deletePackage.mockImplementationOnce(async () => {
      throw new ApiError(409, "Package not empty (contains 1 entities).");
    });
    await packagesPage(ctx, root);
    (q(root, "package-delete") as HTMLButtonElement).click();
    await settle();
    await settle();
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(fake.deletePackage.mock.calls).toEqual([["full"], ["full", true]]);
  });

  it("does not delete when the user says no", async () => {
    const { ctx, root, fake } = setup([], [{ namespace: "guest", name: "p" }]);
    vi.spyOn(window, "confirm").mockReturnValue(false);
    await packagesPage(ctx, root);
    q(root, "package-delete").click();
    await settle();
    expect(fake.deletePackage).not.toHaveBeenCalled();
  });
});

describe("packagesPage detail", () => {
  it("lists the actions as links, the parameters and the binding", async () => {
    const { ctx, root } = setup(["b"], [
      {
        namespace: "guest",
        name: "b",
        binding: { namespace: "guest", name: "src" } as never,
        parameters: [{ key: "greeting", value: XSS }],
        actions: [{ name: "echo" }, { name: "cat" }],
      },
    ]);
    await packagesPage(ctx, root);
    const links = [...q(root, "package-actions").querySelectorAll("a")];
    expect(links.map((a) => [a.textContent, a.getAttribute("href")])).toEqual([
      ["b/cat", "#/actions/b/cat"],
      ["b/echo", "#/actions/b/echo"],
    ]);
    expect(q(root, "package-binding").textContent).toBe("/guest/src");
    expect(q(root, "package-binding").querySelector("a")?.getAttribute("href")).toBe("#/packages/src");
    expect(JSON.parse(q(root, "package-params").textContent ?? "")).toEqual({ greeting: XSS });
    expect(root.querySelector("img")).toBeNull();
  });

  it("says so when the package does not exist", async () => {
    const { ctx, root, fake } = setup(["nope"], []);
    fake.getPackage.mockImplementationOnce(async () => {
      throw new ApiError(404, "The requested resource does not exist.");
    });
    await packagesPage(ctx, root);
    expect(q(root, "package-missing").textContent).toBe("There is no package nope.");
  });
});
