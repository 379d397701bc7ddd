// The rules page (placeholder until built).
import { h } from "../dom";
import type { Page } from "../router";

export const rulesPage: Page = (_ctx, root) => {
  root.appendChild(h("h2", {}, "rules"));
};
