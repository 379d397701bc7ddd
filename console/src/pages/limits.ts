// The limits page (placeholder until built).
import { h } from "../dom";
import type { Page } from "../router";

export const limitsPage: Page = (_ctx, root) => {
  root.appendChild(h("h2", {}, "limits"));
};
