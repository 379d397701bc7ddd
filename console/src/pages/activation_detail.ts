// #/activations/<id>: one activation record — id, name, status, timing, result, logs,
// annotations, the enclosing sequence (cause); for a sequence its components as links and a
// timeline of their start/end; for a trigger the activations its rules started.
// Everything shown comes from the record and is untrusted: text nodes only. The timeline's
// bars are placed with el.style.left/width (CSSOM; CSP style-src 'self' allows it).
import { annotation, ApiError, type Activation, type KeyValue } from "../api";
import { formatDuration, formatTime, h, jsonText, replaceChildren } from "../dom";
import { hashFor, type Cleanup, type PageContext } from "../router";
import { isError, sequenceComponentIds, sequenceTimeline, statusText } from "../charts";
import { activationDisplayName, startKind } from "./activation_format";
import { errorText } from "./common";

/** The most components whose records are read for the timeline. */
export const MAX_COMPONENTS = 50;

const ACTIVATION_ID = /^[0-9a-f]{32}$/;

/** A trigger's logs: one JSON object per rule with the activation it started. */
export function triggerRuleActivations(a: Pick<Activation, "logs" | "annotations">): { id: string; rule: string; action: string; ok: boolean }[] {
  if (a.annotations && a.annotations.length > 0) return [];
  const out: { id: string; rule: string; action: string; ok: boolean }[] = [];
  for (const line of a.logs ?? []) {
    if (typeof line !== "string" || !line.startsWith("{")) continue;
    try {
      const v = JSON.parse(line) as Record<string, unknown>;
      if (typeof v.activationId === "string" && ACTIVATION_ID.test(v.activationId)) {
        out.push({
          id: v.activationId,
          rule: typeof v.rule === "string" ? v.rule : "",
          action: typeof v.action === "string" ? v.action : "",
          ok: v.success !== false,
        });
      }
    } catch {
      // not a rule line
    }
  }
  return out;
}

function annotationValue(v: unknown): string {
  return typeof v === "string" ? v : jsonText(v);
}

function annotationsTable(anns: KeyValue[] | undefined): HTMLElement {
  if (!anns || anns.length === 0) {
    return h("p", { class: "muted", testid: "activation-annotations" }, "No annotations.");
  }
  return h(
    "table",
    { testid: "activation-annotations", class: "kv" },
    h(
      "tbody",
      {},
      anns.map((a) => h("tr", {}, h("th", {}, String(a.key)), h("td", {}, h("code", {}, annotationValue(a.value))))),
    ),
  );
}

function idLink(id: string, text?: string): HTMLAnchorElement {
  return h("a", { href: hashFor("activations", id), class: "mono" }, text ?? id);
}

function field(label: string, ...value: (Node | string)[]): HTMLElement[] {
  return [h("dt", {}, label), h("dd", {}, ...value)];
}

async function renderSequence(ctx: PageContext, a: Activation, ids: string[], host: HTMLElement, isStopped: () => boolean): Promise<void> {
  const list = h("ol", { testid: "sequence-components", class: "components" });
  const timeline = h("div", { testid: "sequence-timeline", class: "timeline" });
  const rows = ids.map((id) => {
    const name = h("span", { class: "component-name" });
    const li = h("li", {}, idLink(id), " ", name);
    list.appendChild(li);
    return { id, name };
  });
  replaceChildren(
    host,
    h("h3", {}, "Components"),
    list,
    h("h3", {}, "Timeline"),
    timeline,
  );
  const wanted = ids.slice(0, MAX_COMPONENTS);
  const got = await Promise.all(wanted.map((id) => ctx.api.getActivation(id).catch(() => undefined)));
  if (isStopped()) return;
  const comps = new Map<string, Activation>();
  for (const c of got) if (c) comps.set(c.activationId, c);
  for (const r of rows) {
    const c = comps.get(r.id);
    if (c) {
      r.name.textContent = `${activationDisplayName(c)} · ${statusText(c)} · ${formatDuration(c.duration)}`;
      r.name.className = `component-name ${isError(c) ? "bad" : "ok"}`;
    }
  }
  const t = sequenceTimeline(a, wanted, comps);
  replaceChildren(
    timeline,
    t.bars.map((b) => {
      const bar = h("div", {
        class: `timeline-bar${b.failed ? " failed" : ""}${b.missing ? " missing" : ""}`,
        attrs: { title: `${b.name || b.id}: ${b.startMs}–${b.endMs} ms` },
      });
      bar.style.left = `${b.leftPct}%`;
      bar.style.width = `${b.widthPct}%`;
      return h(
        "div",
        { class: "timeline-line", attrs: { "data-activation-id": b.id } },
        h("a", { href: hashFor("activations", b.id), class: "timeline-label" }, b.name || b.id.slice(0, 8)),
        h("div", { class: "timeline-row" }, bar),
        h("span", { class: "timeline-ms muted" }, b.missing ? "?" : `${b.startMs}–${b.endMs} ms`),
      );
    }),
    h("p", { class: "muted" }, `0 – ${t.totalMs} ms from the sequence's start`),
    ids.length > MAX_COMPONENTS ? h("p", { class: "muted" }, `Only the first ${MAX_COMPONENTS} components are drawn.`) : null,
  );
}

/**
 * The record; a 404 is asked again for a while (a record is stored a moment after a blocking
 * invoke answers, so a link followed at once can be early). Other errors throw at once.
 */
export const detailRetry = { tries: 10, delayMs: 1000 };

export async function getActivationWhenStored(
  ctx: PageContext,
  id: string,
  isStopped: () => boolean,
  tries = detailRetry.tries,
  delayMs = detailRetry.delayMs,
): Promise<Activation> {
  for (let i = 1; ; i++) {
    try {
      return await ctx.api.getActivation(id);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404 || i >= tries || isStopped()) throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

export function renderActivationDetail(ctx: PageContext, root: HTMLElement, id: string): Cleanup {
  let stopped = false;
  const isStopped = () => stopped;
  replaceChildren(
    root,
    h("p", {}, h("a", { href: "#/activations" }, "← Activations")),
    h("h2", {}, "Activation ", h("code", { testid: "activation-id" }, id)),
    h("p", { class: "muted" }, "Loading…"),
  );

  void (async () => {
    let a: Activation;
    try {
      a = await getActivationWhenStored(ctx, id, isStopped);
    } catch (e) {
      if (!stopped) {
        ctx.notify(errorText(e), "error");
        const p = root.querySelector("p.muted");
        if (p) p.textContent = `The activation could not be read: ${errorText(e)}`;
      }
      return;
    }
    if (stopped) return;
    const name = activationDisplayName(a);
    const failed = isError(a);
    const kind = startKind(a);
    const waitTime = annotation(a, "waitTime");
    const initTime = annotation(a, "initTime");
    const execKind = annotation(a, "kind");
    const seqIds = sequenceComponentIds(a);
    const isSeq = execKind === "sequence" || seqIds.length > 0;
    const ruleActs = triggerRuleActivations(a);
    const nameIsAction = execKind !== undefined || isSeq; // trigger records carry no annotations

    const dl = h(
      "dl",
      { class: "fields" },
      field(
        "Name",
        h(
          "span",
          { testid: "activation-name" },
          nameIsAction ? h("a", { href: hashFor("actions", name) }, name) : name,
        ),
      ),
      field("Status", h("span", { testid: "activation-status", class: failed ? "bad" : "ok" }, statusText(a) || "-")),
      field("Kind", typeof execKind === "string" ? execKind : isSeq ? "sequence" : "", kind && kind !== "sequence" ? ` (${kind})` : ""),
      field("Start", formatTime(a.start)),
      a.end ? field("End", formatTime(a.end)) : [],
      field("Duration", h("span", { testid: "activation-duration" }, formatDuration(a.duration))),
      typeof waitTime === "number" ? field("Wait time", formatDuration(waitTime)) : [],
      typeof initTime === "number" ? field("Init time", formatDuration(initTime)) : [],
      a.cause ? field("Part of", h("span", { testid: "activation-cause" }, idLink(a.cause))) : [],
      field("Namespace", a.namespace),
      a.subject ? field("Subject", a.subject) : [],
    );

    const seqHost = h("section", { class: "sequence" });
    const logs = Array.isArray(a.logs) ? a.logs : [];
    replaceChildren(
      root,
      h("p", {}, h("a", { href: "#/activations" }, "← Activations")),
      h("h2", {}, "Activation ", h("code", { testid: "activation-id" }, a.activationId)),
      dl,
      isSeq ? seqHost : null,
      ruleActs.length > 0
        ? h(
            "section",
            {},
            h("h3", {}, "Started by this trigger"),
            h(
              "ul",
              { testid: "trigger-activations" },
              ruleActs.map((r) => h("li", {}, idLink(r.id), ` ${r.rule} → ${r.action}`, r.ok ? "" : " (failed)")),
            ),
          )
        : null,
      h("h3", {}, "Result"),
      h("pre", { testid: "activation-result" }, jsonText(a.response?.result ?? {})),
      h("h3", {}, isSeq ? "Logs (component activation ids)" : "Logs"),
      h("pre", { testid: "activation-logs" }, logs.join("\n")),
      h("h3", {}, "Annotations"),
      annotationsTable(a.annotations),
    );
    if (isSeq) await renderSequence(ctx, a, seqIds, seqHost, isStopped);
  })();

  return () => {
    stopped = true;
  };
}
