// The code editor: CodeMirror 6 (basicSetup) with Python or JavaScript highlighting by the
// action's kind. CodeMirror styles itself with generated CSS; in a document it would put that
// into a <style> element, which the CSP (style-src 'self', no 'unsafe-inline') blocks, leaving
// the editor without its layout and colours. Inside a shadow root it uses a constructed style
// sheet (adoptedStyleSheets) instead, which the CSP allows: so the editor lives in an open
// shadow root of the host element (Playwright's selectors reach into open shadow roots).
import { EditorView, basicSetup } from "codemirror";
import { Compartment, type Extension } from "@codemirror/state";
import { python } from "@codemirror/lang-python";
import { javascript } from "@codemirror/lang-javascript";

export interface CodeEditor {
  getCode(): string;
  setCode(code: string): void;
  /** Switches the highlighting to the kind's language. */
  setKind(kind: string): void;
  destroy(): void;
}

function languageFor(kind: string): Extension {
  const family = kind.split(":")[0];
  if (family === "python") return python();
  if (family === "nodejs") return javascript();
  return [];
}

// The sizes style.css cannot reach inside the shadow root.
const EDITOR_THEME = EditorView.theme({
  "&": { minHeight: "220px", maxHeight: "560px", fontSize: "13px" },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": {
    minHeight: "220px",
    fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, monospace',
  },
});

// Typing over a selection that spans lines (Ctrl+A, then a key) lets Chrome's own editing
// replace it, and Chrome keeps the look of the removed text with an inline style attribute: a
// CSP style-src-attr violation. The editor does that replacement itself instead.
const TYPE_OVER_SELECTION = EditorView.domEventHandlers({
  beforeinput(ev, view) {
    if (ev.inputType !== "insertText" || ev.data === null || view.state.selection.main.empty) return false;
    ev.preventDefault();
    view.dispatch(view.state.replaceSelection(ev.data), { userEvent: "input.type", scrollIntoView: true });
    return true;
  },
});

/** A CodeMirror editor inside `host`, holding `code`. */
export function createEditor(host: HTMLElement, code: string, kind: string): CodeEditor {
  const language = new Compartment();
  const shadow = host.shadowRoot ?? host.attachShadow({ mode: "open" });
  const parent = document.createElement("div");
  shadow.replaceChildren(parent);
  const view = new EditorView({
    doc: code,
    parent,
    root: shadow,
    extensions: [
      basicSetup,
      language.of(languageFor(kind)),
      EditorView.contentAttributes.of({ "aria-label": "Action code" }),
      EDITOR_THEME,
      TYPE_OVER_SELECTION,
    ],
  });
  return {
    getCode: () => view.state.doc.toString(),
    setCode: (c) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: c } }),
    setKind: (k) => view.dispatch({ effects: language.reconfigure(languageFor(k)) }),
    destroy: () => {
      view.destroy();
      shadow.replaceChildren();
    },
  };
}
