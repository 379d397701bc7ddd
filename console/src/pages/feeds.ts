// The feeds page (placeholder until built).
import { h } from "../dom";
import type { Page } from "../router";

export const feedsPage: Page = (_ctx, root) => {
  root.appendChild(h("h2", {}, "feeds"));
};
