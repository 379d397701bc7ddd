// The packages page (placeholder until built).
import { h } from "../dom";
import type { Page } from "../router";

export const packagesPage: Page = (_ctx, root) => {
  root.appendChild(h("h2", {}, "packages"));
};
