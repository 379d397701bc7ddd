// The code editor: CodeMirror 6 (basicSetup) with Python or JavaScript highlighting by the
// action's kind. CodeMirror builds its own DOM and styles through CSSOM (adopted style sheets),
// which the CSP (style-src 'self') allows.
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

/** A CodeMirror editor inside `host`, holding `code`. */
export function createEditor(host: HTMLElement, code: string, kind: string): CodeEditor {
  const language = new Compartment();
  const view = new EditorView({
    doc: code,
    parent: host,
    extensions: [
      basicSetup,
      language.of(languageFor(kind)),
      EditorView.contentAttributes.of({ "aria-label": "Action code" }),
    ],
  });
  return {
    getCode: () => view.state.doc.toString(),
    setCode: (c) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: c } }),
    setKind: (k) => view.dispatch({ effects: language.reconfigure(languageFor(k)) }),
    destroy: () => view.destroy(),
  };
}
