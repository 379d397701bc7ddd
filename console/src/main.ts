// The console's shell: sign-in, the navigation, and the page for the current hash route.
import "./style.css";
import { ApiError, WispApi } from "./api";
import { h, replaceChildren } from "./dom";
import { parseHash, type Cleanup, type Page, type PageContext } from "./router";
import { forgetKey, isPlausibleKey, storeKey, storedKey, takeKeyFromFragment } from "./session";
import { actionsPage } from "./pages/actions";
import { activationsPage } from "./pages/activations";
import { triggersPage } from "./pages/triggers";
import { rulesPage } from "./pages/rules";
import { feedsPage } from "./pages/feeds";
import { packagesPage } from "./pages/packages";
import { textInput } from "./pages/common";
import { limitsPage } from "./pages/limits";

const PAGES: { name: string; title: string; page: Page }[] = [
  { name: "actions", title: "Actions", page: actionsPage },
  { name: "activations", title: "Activations", page: activationsPage },
  { name: "triggers", title: "Triggers", page: triggersPage },
  { name: "rules", title: "Rules", page: rulesPage },
  { name: "feeds", title: "Feeds", page: feedsPage },
  { name: "packages", title: "Packages", page: packagesPage },
  { name: "limits", title: "Limits", page: limitsPage },
];

const app = document.getElementById("app") as HTMLElement;
let cleanup: Cleanup | undefined;
let renderSeq = 0;

function signInPage(message?: string): void {
  cleanup?.();
  cleanup = undefined;
  const input = textInput("signin-key", "uuid:key", { label: "API key", type: "password" });
  const error = h("p", { class: "error", testid: "signin-error" }, message ?? "");
  const form = h(
    "form",
    {
      class: "signin",
      on: {
        submit: (ev) => {
          ev.preventDefault();
          const key = input.value.trim();
          if (!isPlausibleKey(key)) {
            error.textContent = "That is not a key: it looks like uuid:secret (wsk property get --auth).";
            return;
          }
          void signIn(key);
        },
      },
    },
    h("h1", {}, "Wisp console"),
    h("p", {}, "Paste your API key (", h("code", {}, "wsk property get --auth"), "). It stays in this tab only."),
    input,
    h("button", { class: "primary", testid: "signin-submit", type: "submit" }, "Sign in"),
    error,
  );
  replaceChildren(app, form);
  input.focus();
}

async function signIn(key: string): Promise<void> {
  const api = new WispApi(key);
  try {
    const namespaces = await api.namespaces();
    storeKey(key);
    shell(api, namespaces[0] ?? "_");
  } catch (e) {
    const status = e instanceof ApiError ? e.status : 0;
    forgetKey();
    signInPage(
      status === 401
        ? "The platform does not know this key."
        : `Could not sign in: ${(e as Error).message}`,
    );
  }
}

function shell(api: WispApi, namespace: string): void {
  const status = h("div", { class: "status", testid: "status", attrs: { role: "status" } });
  const main = h("main", { testid: "page" });
  const links = PAGES.map((p) =>
    h("a", { href: `#/${p.name}`, testid: `nav-${p.name}`, class: "nav-link" }, p.title),
  );
  const nav = h(
    "nav",
    {},
    h("span", { class: "brand" }, "Wisp"),
    ...links,
    h("span", { class: "spacer" }),
    h("span", { class: "namespace", testid: "namespace" }, namespace),
    h(
      "button",
      {
        testid: "signout",
        on: {
          click: () => {
            forgetKey();
            location.hash = "#/actions";
            signInPage();
          },
        },
      },
      "Sign out",
    ),
  );
  replaceChildren(app, nav, status, main);

  const notify = (message: string, kind: "info" | "error" = "info") => {
    status.className = `status ${kind}`;
    status.textContent = message;
  };

  const render = async () => {
    const seq = ++renderSeq;
    cleanup?.();
    cleanup = undefined;
    const route = parseHash(location.hash);
    const entry = PAGES.find((p) => p.name === route.page) ?? PAGES[0];
    for (const a of links) a.classList.toggle("active", a.dataset.testid === `nav-${entry.name}`);
    notify("");
    replaceChildren(main);
    const ctx: PageContext = {
      api,
      namespace,
      params: route.params,
      query: route.query,
      navigate: (hash) => {
        location.hash = hash;
      },
      notify,
    };
    try {
      const c = await entry.page(ctx, main);
      if (seq !== renderSeq) c?.();
      else if (c) cleanup = c;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        forgetKey();
        signInPage("The key is no longer valid: sign in again.");
        return;
      }
      notify((e as Error).message, "error");
    }
  };
  window.onhashchange = () => void render();
  void render();
}

takeKeyFromFragment();
const key = storedKey();
if (key) void signIn(key);
else signInPage();
