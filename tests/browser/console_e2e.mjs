// The web console end to end in a real browser (issue 16): Debian's chromium driven by
// playwright-core (from console/node_modules) against a fresh wisp-standalone on a free loopback
// port. Run by ctest as console_browser_test (label browser):
//   node --test tests/browser/console_e2e.mjs
// Environment (CMake sets the first two):
//   WISP_STANDALONE     build/bin/wisp-standalone (default: <repo>/build/bin/wisp-standalone)
//   WISP_ARTIFACTS_DIR  where the screenshots and the standalone's log go
//                       (default: <repo>/build/test-artifacts/console)
//   WISP_CONSOLE_DIR    the console's source folder with node_modules (default: <repo>/console)
//   WISP_CHROMIUM       the browser (default: /usr/bin/chromium; tools/test-setup.sh installs it)
// The flows run in order on one page (one signed-in tab), as a user would: sign in by the link and
// by a pasted key; create a python action in the editor; invoke it; watch it in the live
// activations list and its detail; a trigger and a rule, disabled and enabled; the per-action
// charts; an XSS probe; and, across all of it, no CSP violation, no console error, and no request
// to another origin. Each flow saves screenshots of the pages it visits.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const STANDALONE = process.env.WISP_STANDALONE || path.join(REPO, "build/bin/wisp-standalone");
const ARTIFACTS =
  process.env.WISP_ARTIFACTS_DIR || path.join(REPO, "build/test-artifacts/console");
const CONSOLE_DIR = process.env.WISP_CONSOLE_DIR || path.join(REPO, "console");
const CHROMIUM = process.env.WISP_CHROMIUM || "/usr/bin/chromium";

// Generous: CI is a loaded 2-core machine, and the first invoke of a kind starts a container.
const UI_TIMEOUT = 45_000;
const INVOKE_TIMEOUT = 120_000;
const FLOW_TIMEOUT = 300_000;

// The Content-Security-Policy every /console/ response carries (the contract, issue 16).
const EXPECTED_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";

const RUN = `${process.pid}`;
const ACTION = `hello-${RUN}`;
const XSS_ACTION = `xss-${RUN}`;
const TRIGGER = `tick-${RUN}`;
const RULE = `tick-to-hello-${RUN}`;
const SEQUENCE = `twice-${RUN}`;
const ALARM = `every-5-minutes-${RUN}`;
const PACKAGE = `tools-${RUN}`;
const LOG_LINE = `hello from the console ${RUN}`;
// Typed line by line with Enter: the editor indents the body after the colon itself (by its
// indent unit) and closes brackets and quotes as they are typed over; CODE_RE is what it holds.
const CODE_LINES = ["def main(params):", `print("${LOG_LINE}")`, "return params"];
const CODE_RE = new RegExp(`^def main\\(params\\):\n( +)print\\("${LOG_LINE}"\\)\n\\1return params$`);
const XSS_RESULT = {
  html: "<img src=x onerror=window.__xss=1>",
  s: "<script>window.__xss=2</script>",
};
const XSS_LOG = "<img src=x onerror=window.__xss=3>";
const XSS_CODE = [
  "def main(args):",
  `    print(${JSON.stringify(XSS_LOG)})`,
  `    return ${JSON.stringify(XSS_RESULT)}`,
  "",
].join("\n");

// ---- playwright-core and chromium ------------------------------------------------------------

function loadPlaywright() {
  const require = createRequire(path.join(CONSOLE_DIR, "package.json"));
  try {
    return require("playwright-core");
  } catch (e) {
    throw new Error(
      `playwright-core is missing from ${CONSOLE_DIR}/node_modules (${e.message}): the build ` +
        "installs it (tools/build-console.sh runs npm ci of console/package-lock.json); by hand: " +
        "(cd console && npm ci)",
    );
  }
}

// ---- wisp-standalone -------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A running wisp-standalone: its process group, port, data folder, output, and the links. */
class Standalone {
  static async start() {
    let lastError;
    for (let attempt = 0; attempt < 3; attempt++) {
      const s = new Standalone(await freePort());
      try {
        await s.waitReady(90_000);
        return s;
      } catch (e) {
        lastError = e;
        await s.stop();
        // Only a lost port race is worth another try.
        if (!/ddress already in use/.test(s.output)) break;
      }
    }
    throw lastError;
  }

  constructor(port) {
    this.port = port;
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wisp-browser-data-"));
    this.output = "";
    this.log = fs.createWriteStream(path.join(ARTIFACTS, "standalone.log"), { flags: "a" });
    this.proc = spawn(
      STANDALONE,
      ["--port", String(port), "--data-dir", this.dataDir, "--shutdown-grace", "20"],
      // Its own process group: SIGTERM reaches it and nothing else; stdin closed.
      { detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.exited = new Promise((resolve) => {
      this.proc.once("exit", (code, signal) => resolve({ code, signal }));
      this.proc.once("error", (err) => resolve({ code: -1, signal: null, err }));
    });
    this.running = true;
    this.exited.then(() => {
      this.running = false;
    });
    const take = (chunk) => {
      this.output += chunk.toString();
      this.log.write(chunk);
    };
    this.proc.stdout.on("data", take);
    this.proc.stderr.on("data", take);
  }

  /** Waits for the `wsk property set` line, then (briefly) for H1's `console:` link line. */
  async waitReady(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    const wsk = /wsk property set --apihost (\S+) --auth (\S+)/;
    const link = /console: (http\S+\/console\/#key=\S+)/;
    let m;
    while (!(m = wsk.exec(this.output))) {
      if (!this.running) throw new Error(`wisp-standalone exited before it was ready:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`wisp-standalone was not ready in time:\n${this.tail()}`);
      await Promise.race([this.nextOutput(), this.exited]);
    }
    this.apiHost = m[1];
    this.auth = m[2];
    // The link line follows the wsk line at once (same printf batch); a build without it
    // (an older standalone) makes the same link from the key.
    const linkDeadline = Date.now() + 5_000;
    let l;
    while (!(l = link.exec(this.output)) && Date.now() < linkDeadline && this.running) {
      await Promise.race([this.nextOutput(), deadline(linkDeadline - Date.now())]);
    }
    this.printedLink = Boolean(l);
    this.consoleLink = l ? l[1] : `${this.apiHost}/console/#key=${encodeURIComponent(this.auth)}`;
  }

  nextOutput() {
    return new Promise((resolve) => {
      const done = () => {
        this.proc.stdout.off("data", done);
        this.proc.stderr.off("data", done);
        resolve();
      };
      this.proc.stdout.on("data", done);
      this.proc.stderr.on("data", done);
    });
  }

  tail(n = 6000) {
    return this.output.slice(-n);
  }

  /** SIGTERM to its process group, wait (then SIGKILL); removes containers it left behind. */
  async stop() {
    if (this.running) {
      signalGroup(this.proc.pid, "SIGTERM");
      const timedOut = await Promise.race([this.exited.then(() => false), deadline(40_000).then(() => true)]);
      if (timedOut) {
        signalGroup(this.proc.pid, "SIGKILL");
        await this.exited;
      }
    }
    // Its containers are labelled wisp.invoker=0-<port> (standalone/main.cpp); quiet when
    // docker is absent or nothing is left.
    spawnSync(
      "sh",
      [
        "-c",
        `ids=$(docker ps -aq --filter label=wisp.invoker=0-${this.port} 2>/dev/null); ` +
          '[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1',
      ],
      { stdio: "ignore" },
    );
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    await new Promise((resolve) => this.log.end(resolve));
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** A delay that does not keep the process alive (for Promise.race against an event). */
function deadline(ms) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}

/** Polls `check` (async, returns a truthy value when done) until it holds or `timeoutMs` ends. */
async function eventually(what, check, timeoutMs = UI_TIMEOUT, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    }
    await delay(intervalMs);
  }
}

// ---- the test --------------------------------------------------------------------------------

describe("web console in chromium against wisp-standalone", () => {
  /** @type {Standalone} */
  let wisp;
  let browser;
  let page;
  let consoleResponse;
  let invokes = 0; // invocations of ACTION (UI and REST)
  const cspViolations = [];
  const consoleErrors = [];
  const expectedErrors = [];
  // Answers the browser logs as errors that the flows cause on purpose (the console error
  // Chrome prints for any 4xx/5xx), by status and URL; the flows add theirs.
  const allowedErrors = [
    // The invoke panel reads the logs from the activation record, which is stored a moment
    // after the blocking answer: a 404 while it polls for the record.
    { status: 404, url: /\/api\/v1\/namespaces\/[^/]+\/activations\/[0-9a-f]{32}$/ },
  ];
  const pageErrors = [];
  const requests = [];

  // REST with the guest's key, as any client: Basic auth, JSON.
  async function rest(method, p, body) {
    const res = await fetch(`${wisp.apiHost}/api/v1${p}`, {
      method,
      headers: {
        Authorization: `Basic ${Buffer.from(wisp.auth).toString("base64")}`,
        "Content-Type": "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  const byId = (id) => page.getByTestId(id);
  const shot = async (name, locator) => {
    const file = path.join(ARTIFACTS, `${name}.png`);
    if (locator) await locator.screenshot({ path: file });
    else await page.screenshot({ path: file, fullPage: true });
  };
  const go = async (hash) => {
    await page.evaluate((h) => {
      location.hash = h;
    }, hash);
  };
  const text = async (id) => ((await byId(id).first().textContent()) ?? "").trim();

  /** A select gets the option whose value or label is `value` or ends with /value; else fill. */
  async function setField(locator, value) {
    const tag = await locator.evaluate((el) => el.tagName);
    if (tag !== "SELECT") {
      await locator.fill(value);
      return;
    }
    const options = await locator
      .locator("option")
      .evaluateAll((os) => os.map((o) => ({ value: o.value, label: (o.textContent ?? "").trim() })));
    const hit = options.find(
      (o) =>
        o.value === value ||
        o.label === value ||
        o.value.endsWith(`/${value}`) ||
        o.label.endsWith(`/${value}`),
    );
    assert.ok(hit, `no option ${value} in ${JSON.stringify(options)}`);
    await locator.selectOption(hit.value);
  }

  /** Clicks invoke-button and waits for a new invoke-activation-link (a new activation). */
  async function invokeInUi(params) {
    if (params !== undefined) await byId("invoke-params").fill(JSON.stringify(params));
    const link = byId("invoke-activation-link");
    const before = (await link.count()) > 0 ? await link.getAttribute("href") : null;
    await byId("invoke-button").click();
    const href = await eventually(
      "a new invoke-activation-link and the invoke button enabled again",
      async () => {
        if ((await link.count()) === 0 || !(await byId("invoke-button").isEnabled())) return false;
        const href = await link.getAttribute("href");
        return href && href !== before ? href : false;
      },
      INVOKE_TIMEOUT,
    );
    const status = await text("invoke-status");
    assert.ok(!/still running|not invoked/i.test(status), `invoke-status: ${status}`);
    return href;
  }

  /** Waits until the activation record of `href` (#/activations/<id>) is stored. */
  async function recordStored(href) {
    const id = href.split("/").pop();
    await eventually(`the record of ${id}`, async () => (await rest("GET", `/namespaces/_/activations/${id}`)).status === 200, INVOKE_TIMEOUT);
  }

  // Each flow takes a screenshot of where it failed.
  function flow(name, fn) {
    test(name, { timeout: FLOW_TIMEOUT }, async () => {
      try {
        await fn();
      } catch (e) {
        if (page) {
          await page
            .screenshot({ path: path.join(ARTIFACTS, `failed-${name.replace(/\W+/g, "-")}.png`), fullPage: true })
            .catch(() => {});
        }
        if (wisp && !wisp.running) {
          // Say so when the platform itself is gone: every later flow fails the same way.
          const { code, signal } = await wisp.exited;
          throw new Error(
            `${e.message}\nwisp-standalone exited (code ${code}, signal ${signal}); its last output:\n${wisp.output.slice(-3000)}`,
          );
        }
        throw e;
      }
    });
  }

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.rmSync(path.join(ARTIFACTS, "standalone.log"), { force: true });
    const { chromium } = loadPlaywright();
    assert.ok(
      fs.existsSync(CHROMIUM),
      `${CHROMIUM} is missing: tools/test-setup.sh installs Debian's chromium (apt-get install chromium)`,
    );
    assert.ok(fs.existsSync(STANDALONE), `${STANDALONE} is missing: build wisp-standalone first`);
    wisp = await Standalone.start();
    // A killed test runner must not leave the standalone running.
    process.once("exit", () => wisp?.running && signalGroup(wisp.proc.pid, "SIGKILL"));
    for (const sig of ["SIGINT", "SIGTERM"]) {
      process.once(sig, () => {
        if (wisp?.running) signalGroup(wisp.proc.pid, "SIGTERM");
        process.exit(130);
      });
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // CSP violations, in every document the tab loads (the init script runs before the page's).
    await context.exposeFunction("__wispReportCsp", (v) => {
      cspViolations.push(v);
    });
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        const v = {
          directive: e.violatedDirective,
          blocked: e.blockedURI,
          source: e.sourceFile,
          line: e.lineNumber,
          sample: e.sample,
        };
        window.__cspViolations.push(v);
        window.__wispReportCsp?.(v);
      });
    });
    page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const url = m.location()?.url ?? "";
      const entry = `${m.text()} (${url})`;
      const status = Number(/status of (\d+)/.exec(m.text())?.[1] ?? 0);
      const expected = allowedErrors.some((a) => a.status === status && a.url.test(url));
      (expected ? expectedErrors : consoleErrors).push(entry);
    });
    page.on("pageerror", (e) => pageErrors.push(String(e?.stack ?? e)));
    page.on("request", (r) => requests.push(r.url()));
    page.on("dialog", (d) => void d.accept()); // action-delete asks window.confirm
  });

  after(async () => {
    if (expectedErrors.length > 0) {
      console.log(`expected console errors (caused on purpose, or records polled before they were stored):\n  ${expectedErrors.join("\n  ")}`);
    }
    await browser?.close().catch(() => {});
    if (wisp) {
      await wisp.stop();
      if (!wisp.printedLink) {
        console.log("note: wisp-standalone printed no `console:` link line; the test made the link");
      }
    }
  });

  flow("1 sign in by the link, sign out, sign in by a pasted key", async () => {
    consoleResponse = await page.goto(wisp.consoleLink);
    assert.ok(consoleResponse, "no response for the console link");
    assert.equal(
      consoleResponse.status(),
      200,
      "GET /console/ did not answer 200: is the console part of this build (WISP_CONSOLE=ON and " +
        "Node.js >= 20.19 when it was configured)?",
    );
    await byId("nav-actions").waitFor();
    const secret = wisp.auth.split(":")[1];
    assert.ok(!page.url().includes("key="), `the key stayed in the address bar: ${page.url()}`);
    assert.ok(!page.url().includes(secret), `the secret is in the address bar: ${page.url()}`);
    assert.equal(await text("namespace"), "guest");
    await shot("signed-in");

    await byId("signout").click();
    await byId("signin-key").waitFor();
    await shot("signin");

    // An unknown (well-formed) key is refused with a message; its 401 is an expected console error.
    allowedErrors.push({ status: 401, url: /\/api\/v1\/namespaces$/ });
    await byId("signin-key").fill("00000000-0000-0000-0000-000000000000:notakey");
    await byId("signin-submit").click();
    await eventually("the sign-in error", async () => (await text("signin-error")).length > 0);
    assert.equal(await byId("nav-actions").count(), 0, "signed in with an unknown key");

    await byId("signin-key").fill(wisp.auth);
    await byId("signin-submit").click();
    await byId("nav-actions").waitFor();
    assert.equal(await text("namespace"), "guest");
    assert.ok(!page.url().includes(secret), "a pasted key went into the address bar");
  });

  flow("2 create a python action in the editor", async () => {
    await byId("nav-actions").click();
    await byId("new-action").click();
    await page.waitForURL((u) => u.hash === "#/actions/new");
    await byId("action-name").fill(ACTION);
    const kind = byId("action-kind");
    // The kinds come from GET / (runtimes); wait until a python one is listed.
    const python = await eventually("a python kind in action-kind", async () => {
      const values = await kind.locator("option").evaluateAll((os) => os.map((o) => o.value));
      return values.find((v) => v.startsWith("python"));
    });
    await kind.selectOption(python);
    // Type the code into CodeMirror (after selecting whatever template is there).
    const cm = byId("code-editor").locator(".cm-content");
    await cm.click();
    await page.keyboard.press("Control+A");
    for (const [i, line] of CODE_LINES.entries()) {
      if (i > 0) await page.keyboard.press("Enter");
      await page.keyboard.type(line);
    }
    await eventually("the typed code in the editor", async () =>
      ((await cm.textContent()) ?? "").includes(`return params`),
    );
    await byId("action-params").fill(JSON.stringify({ origin: "console" }));
    await shot("editor");
    await byId("action-save").click();
    await page.waitForURL((u) => u.hash === `#/actions/${ACTION}`);

    const got = await rest("GET", `/namespaces/_/actions/${ACTION}`);
    assert.equal(got.status, 200, got.text);
    assert.ok(got.json.exec.kind.startsWith("python"), got.text);
    assert.match(got.json.exec.code.trim(), CODE_RE);
    const origin = (got.json.parameters ?? []).find((p) => p.key === "origin");
    assert.equal(origin?.value, "console", `default parameter: ${got.text}`);

    await byId("nav-actions").click();
    const row = byId("action-row").filter({ hasText: ACTION });
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /python/);
    await shot("actions-list");
  });

  flow("3 invoke with JSON parameters: result, log line, cold/warm, duration", async () => {
    await go(`#/actions/${ACTION}`);
    await byId("invoke-button").waitFor();
    await invokeInUi({ greeting: "hello", n: 3 });
    invokes++;
    const result = JSON.parse(await text("invoke-result"));
    assert.deepEqual(result, { origin: "console", greeting: "hello", n: 3 });
    assert.match(await text("invoke-status"), /success/i);
    assert.match(await text("invoke-start"), /^(cold|warm)$/);
    assert.match(await text("invoke-duration"), /\d/);
    for (const id of ["invoke-wait-time", "invoke-init-time"]) {
      assert.equal(await byId(id).count() > 0, true, `${id} is missing`);
    }

    // Again: a new activation, warm now (the container of the first one serves it).
    await invokeInUi({ greeting: "again", n: 4 });
    invokes++;
    assert.equal(JSON.parse(await text("invoke-result")).greeting, "again");
    assert.equal(await text("invoke-start"), "warm");
    // A blocking answer may come before the logs are collected (as in OpenWhisk: "logs": []);
    // the page then shows them from the activation record.
    await eventually("the log line in invoke-logs", async () => (await text("invoke-logs")).includes(LOG_LINE));
    await shot("invoke-result");
  });

  flow("4 activations: the list, a live arrival without reload, the detail", async () => {
    await byId("nav-activations").click();
    await byId("activation-row").filter({ hasText: ACTION }).first().waitFor({ timeout: INVOKE_TIMEOUT });
    await byId("live-toggle").waitFor();
    assert.equal(await byId("live-toggle").isChecked(), true, "live is on by default");
    // A marker that a reload would drop.
    await page.evaluate(() => {
      window.__wispNoReload = true;
    });
    const r = await rest("POST", `/namespaces/_/actions/${ACTION}?blocking=true`, { greeting: "live", n: 5 });
    assert.equal(r.status, 200, r.text);
    invokes++;
    const id = r.json.activationId;
    assert.ok(id, r.text);
    const row = byId("activation-row").filter({ hasText: id });
    await row.waitFor({ timeout: INVOKE_TIMEOUT });
    assert.equal(await page.evaluate(() => window.__wispNoReload), true, "the page reloaded");
    // New rows come on top.
    assert.ok(((await byId("activation-row").first().textContent()) ?? "").includes(id), "the new row is not on top");
    await shot("activations");

    await row.getByRole("link", { name: id }).click();
    await page.waitForURL((u) => u.hash === `#/activations/${id}`);
    await eventually("activation-id", async () => (await text("activation-id")).includes(id));
    assert.ok((await text("activation-name")).includes(ACTION));
    assert.match(await text("activation-status"), /success/i);
    const shown = await text("activation-result");
    assert.ok(shown.includes("live"), `activation-result: ${shown}`);
    assert.ok((await text("activation-logs")).includes(LOG_LINE));
    await byId("activation-annotations").waitFor();
    await shot("activation-detail");
  });

  flow("5 a trigger and a rule: the rule disabled and enabled again", async () => {
    await byId("nav-triggers").click();
    await byId("trigger-name").fill(TRIGGER);
    await byId("trigger-create").click();
    await byId("trigger-row").filter({ hasText: TRIGGER }).waitFor();
    await shot("triggers");

    await byId("nav-rules").click();
    await byId("rule-name").fill(RULE);
    // The trigger and action lists may be selects filled from the API: wait for ours.
    await eventually("the trigger and the action in the rule form", async () => {
      await setField(byId("rule-trigger"), TRIGGER);
      await setField(byId("rule-action"), ACTION);
      return true;
    });
    await byId("rule-create").click();
    const row = byId("rule-row").filter({ hasText: RULE });
    await row.waitFor();
    const status = row.getByTestId("rule-status");
    await eventually("rule-status active", async () => (await status.textContent())?.trim() === "active");
    let got = await rest("GET", `/namespaces/_/rules/${RULE}`);
    assert.equal(got.json?.status, "active", got.text);

    await row.getByTestId("rule-toggle").click();
    await eventually("rule-status inactive", async () => (await status.textContent())?.trim() === "inactive");
    got = await rest("GET", `/namespaces/_/rules/${RULE}`);
    assert.equal(got.json?.status, "inactive", got.text);
    assert.match((await row.getByTestId("rule-toggle").textContent()) ?? "", /enable/i);
    await shot("rules");

    await row.getByTestId("rule-toggle").click();
    await eventually("rule-status active again", async () => (await status.textContent())?.trim() === "active");
    got = await rest("GET", `/namespaces/_/rules/${RULE}`);
    assert.equal(got.json?.status, "active", got.text);
  });

  flow("6 the action's charts count its invocations", async () => {
    await go(`#/actions/${ACTION}`);
    await byId("invoke-button").waitFor();
    await invokeInUi({ greeting: "chart", n: 6 });
    invokes++;
    const charts = byId("action-charts");
    await charts.waitFor();
    const summary = charts.getByTestId("chart-summary");
    await summary.waitFor();
    // Records are written after the answer: refresh until every invocation is counted (the page
    // also refreshes itself every 10 s).
    await eventually(
      `chart-summary data-invocations >= ${invokes}`,
      async () => {
        const n = Number(await summary.getAttribute("data-invocations"));
        if (n >= invokes) return true;
        if ((await charts.getByTestId("chart-refresh").count()) > 0) await charts.getByTestId("chart-refresh").click();
        return false;
      },
      90_000,
      2_000,
    );
    assert.match((await summary.textContent()) ?? "", /invocations/);
    for (const id of ["chart-invocations", "chart-duration", "chart-coldwarm", "chart-errors"]) {
      const canvases = await charts.getByTestId(id).locator("canvas").count();
      assert.ok(canvases > 0, `${id} has no canvas`);
    }
    await shot("charts", charts);
    await shot("action-page"); // the README's docs/console.png comes from this one
  });

  flow("7 an XSS probe shows as text and runs nothing", async () => {
    const put = await rest("PUT", `/namespaces/_/actions/${XSS_ACTION}?overwrite=true`, {
      exec: { kind: "python:3", code: XSS_CODE },
      parameters: [{ key: "note", value: "<img src=x onerror=window.__xss=4>" }],
      annotations: [{ key: "description", value: "<script>window.__xss=5</script>" }],
    });
    assert.equal(put.status, 200, put.text);
    await go(`#/actions/${XSS_ACTION}`);
    await byId("invoke-button").waitFor();
    const href = await invokeInUi({ probe: "<b onmouseover=window.__xss=6>x</b>" });
    const result = await text("invoke-result");
    assert.ok(result.includes(XSS_RESULT.html), `invoke-result: ${result}`);
    assert.ok(result.includes(XSS_RESULT.s), `invoke-result: ${result}`);
    await shot("xss-invoke");
    const probe = async (where) => {
      assert.equal(await page.evaluate(() => typeof window.__xss), "undefined", `markup ran on ${where}`);
      assert.equal(await page.locator('img[src="x"]').count(), 0, `an <img> was made on ${where}`);
      assert.equal(await page.locator("b[onmouseover]").count(), 0, `a <b> was made on ${where}`);
      const scripts = await page.locator("script").evaluateAll((ss) => ss.map((s) => s.textContent ?? ""));
      assert.ok(!scripts.some((s) => s.includes("__xss")), `a <script> was made on ${where}`);
    };
    await probe("the action page");

    // The record is stored a moment after the answer (a user reading the result takes longer).
    await recordStored(href);
    await byId("invoke-activation-link").click();
    await eventually("the activation detail", async () => (await text("activation-result")).includes(XSS_RESULT.html));
    assert.ok((await text("activation-result")).includes(XSS_RESULT.s));
    assert.ok((await text("activation-logs")).includes(XSS_LOG));
    await probe("the activation detail");
    await shot("xss-activation");

    await byId("nav-activations").click();
    await byId("activation-row").filter({ hasText: XSS_ACTION }).first().waitFor();
    await probe("the activations list");

    // Last (checked on the action page once more): the logged markup as text in invoke-logs.
    await go(`#/actions/${XSS_ACTION}`);
    await byId("invoke-button").waitFor();
    await invokeInUi({});
    await eventually("the logged markup in invoke-logs", async () => (await text("invoke-logs")).includes(XSS_LOG));
    await probe("the action page after a second invoke");
  });

  flow("8 the other pages: an alarm trigger from the feeds form, a package, the limits", async () => {
    await byId("nav-feeds").click();
    await byId("feed-trigger-name").fill(ALARM);
    await byId("feed-type").selectOption("alarm");
    await byId("feed-cron").fill("*/5 * * * *");
    await byId("feed-payload").fill(JSON.stringify({ message: "tick" }));
    await byId("feed-create").click();
    await byId("feed-row").filter({ hasText: ALARM }).waitFor();
    const trigger = await rest("GET", `/namespaces/_/triggers/${ALARM}`);
    assert.equal(trigger.status, 200, trigger.text);
    const feed = (trigger.json.annotations ?? []).find((a) => a.key === "feed");
    assert.equal(feed?.value, "/whisk.system/alarms/alarm", trigger.text);
    await shot("feeds");

    // A bad cron: the feed's refusal (502, as OpenWhisk's feed protocol answers) shows in the
    // status bar; no trigger is left.
    allowedErrors.push({ status: 502, url: /\/actions\/alarms\/alarm\?blocking=true$/ });
    await byId("feed-trigger-name").fill(`${ALARM}-bad`);
    await byId("feed-type").selectOption("alarm");
    await byId("feed-cron").fill("not a cron");
    await byId("feed-create").click();
    await eventually("the feed's error in the status bar", async () => /cron/i.test(await text("status")));
    await shot("feeds-bad-cron");
    assert.equal(await byId("feed-row").filter({ hasText: `${ALARM}-bad` }).count(), 0);
    assert.equal((await rest("GET", `/namespaces/_/triggers/${ALARM}-bad`)).status, 404);

    await byId("nav-packages").click();
    await byId("package-name").fill(PACKAGE);
    await byId("package-create").click();
    await byId("package-row").filter({ hasText: PACKAGE }).waitFor();
    assert.equal((await rest("GET", `/namespaces/_/packages/${PACKAGE}`)).status, 200);
    await shot("packages");
    await byId("nav-limits").click();
    await byId("limits-table").locator("tr").first().waitFor();
    assert.match((await text("limits-table")) ?? "", /\d/);
    await shot("limits");
  });

  flow("9 a sequence's activation: its components as links and a timeline", async () => {
    const put = await rest("PUT", `/namespaces/_/actions/${SEQUENCE}?overwrite=true`, {
      exec: { kind: "sequence", components: [`/guest/${ACTION}`, `/guest/${ACTION}`] },
    });
    assert.equal(put.status, 200, put.text);
    await go(`#/actions/${SEQUENCE}`);
    await byId("invoke-button").waitFor();
    const href = await invokeInUi({ greeting: "sequence", n: 7 });
    invokes += 2; // each component is an activation of ACTION
    assert.equal(JSON.parse(await text("invoke-result")).greeting, "sequence");
    await recordStored(href);
    await byId("invoke-activation-link").click();
    const components = byId("sequence-components").locator("a");
    await eventually("two sequence components", async () => (await components.count()) === 2);
    const hrefs = await components.evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    for (const href of hrefs) assert.match(href ?? "", /^#\/activations\/[0-9a-f]{32}$/);
    await byId("sequence-timeline").waitFor();
    await shot("sequence-detail");
    await recordStored(hrefs[0]);
    await components.first().click();
    await page.waitForURL((u) => u.hash === hrefs[0]);
    await eventually("the first component's detail", async () => (await text("activation-name")).includes(ACTION));
  });

  flow("10 CSP on /console/, no violations, no console errors, same origin only", async () => {
    assert.ok(consoleResponse, "the console was never loaded");
    const headers = consoleResponse.headers();
    assert.equal(headers["content-security-policy"], EXPECTED_CSP);
    assert.equal(headers["x-content-type-options"], "nosniff");
    assert.equal(headers["x-frame-options"], "DENY");
    assert.equal(headers["referrer-policy"], "no-referrer");
    assert.equal(headers["access-control-allow-origin"], undefined, "CORS on the console");

    const inPage = await page.evaluate(() => window.__cspViolations ?? []);
    assert.deepEqual([...cspViolations, ...inPage], [], "CSP violations");
    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
    assert.deepEqual(consoleErrors, [], "console errors");

    const origin = new URL(wisp.apiHost).origin;
    const foreign = requests.filter((u) => !u.startsWith("data:") && new URL(u).origin !== origin);
    assert.deepEqual(foreign, [], "requests to another origin");
    assert.ok(requests.some((u) => u.includes("/api/v1/")), "the page made no API request");
    // The key never appears in a URL the page requested.
    const secret = wisp.auth.split(":")[1];
    assert.ok(!requests.some((u) => u.includes(secret)), "the key went into a request URL");

    // The listener works: an inline script planted now is blocked and reported.
    await page.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.__wispInline = 1";
      document.head.append(s);
    });
    await eventually("the planted inline script's violation", async () => cspViolations.length > 0);
    assert.equal(cspViolations[0].directive, "script-src-elem");
    assert.equal(await page.evaluate(() => typeof window.__wispInline), "undefined");
  });
});
