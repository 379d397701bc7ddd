// Small display helpers for activation records (shared by the list and the detail).
import { annotation, type Activation } from "../api";
import { isCold } from "../charts";

/** The name relative to the namespace: the `path` annotation without its namespace, else name. */
export function activationDisplayName(a: Pick<Activation, "name" | "annotations">): string {
  const path = annotation(a, "path");
  if (typeof path === "string") {
    const slash = path.indexOf("/");
    if (slash > 0 && slash < path.length - 1) return path.slice(slash + 1);
  }
  return a.name;
}

/** "cold" (initTime), "warm", "sequence", or "" (a trigger's record carries no annotations). */
export function startKind(a: Pick<Activation, "annotations">): string {
  if (annotation(a, "kind") === "sequence") return "sequence";
  if (isCold(a)) return "cold";
  if (!a.annotations || a.annotations.length === 0) return "";
  return "warm";
}
