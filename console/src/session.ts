// The signed-in key: kept in sessionStorage (this tab only, gone when it closes), never in a URL
// query. wisp-standalone prints a link that carries the local guest's key in the URL fragment
// (#key=...): the fragment is never sent to a server; it is read once and removed from the
// address bar.

const STORAGE_KEY = "wisp.console.key";
const KEY_RE = /^[0-9a-zA-Z-]{1,64}:[0-9a-zA-Z]{1,128}$/;

export function isPlausibleKey(key: string): boolean {
  return KEY_RE.test(key.trim());
}

export function storedKey(storage: Storage = sessionStorage): string | undefined {
  const k = storage.getItem(STORAGE_KEY);
  return k && isPlausibleKey(k) ? k : undefined;
}

export function storeKey(key: string, storage: Storage = sessionStorage): void {
  storage.setItem(STORAGE_KEY, key.trim());
}

export function forgetKey(storage: Storage = sessionStorage): void {
  storage.removeItem(STORAGE_KEY);
}

/**
 * A key in the fragment (#key=<uuid:secret>, from the sign-in link): stored, and the address
 * bar rewritten without it (history.replaceState: no history entry keeps it). Returns whether a
 * key was taken.
 */
export function takeKeyFromFragment(
  loc: Location = location,
  hist: History = history,
  storage: Storage = sessionStorage,
): boolean {
  const m = /^#key=([^&]*)/.exec(loc.hash);
  if (!m) return false;
  let key = "";
  try {
    key = decodeURIComponent(m[1]);
  } catch {
    key = "";
  }
  hist.replaceState(null, "", `${loc.pathname}#/actions`);
  if (!isPlausibleKey(key)) return false;
  storeKey(key, storage);
  return true;
}
