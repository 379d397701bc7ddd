#!/usr/bin/env python3
"""ctest nginx_front_test: deploy/nginx's rendered config in front of two fake controllers.

Renders the template with render.sh for two tiny HTTP servers on 127.0.0.1 (ports from 0) and a
dead controller address, starts Debian's nginx out of a temporary directory, and checks over
HTTPS (verifying the generated certificate for 127.0.0.1) what deploy/nginx/README.md promises:
round-robin over both controllers, the dead one skipped, keep-alive upstream connections reused,
X-Request-ID passed or set, the 50 MB body limit, http -> https 301, the controller's error bodies
unchanged, OpenWhisk-shaped JSON when no controller answers, and make-cert.sh keeping its pair.
Traffic only on 127.0.0.1; waits on conditions with deadlines, never fixed sleeps.
"""

import argparse
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time

MB = 1024 * 1024
FAILURES = []


def check(cond, what):
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        FAILURES.append(what)
    return cond


def free_port():
    """A port nothing listens on (bound from 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, what, deadline_s=30.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)  # polling a condition under a deadline, not a fixed wait
    raise RuntimeError(f"timed out waiting for {what}")


class FakeController(http.server.ThreadingHTTPServer):
    """Answers every request with JSON describing what it received; counts connections."""

    daemon_threads = True

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = []
        super().__init__(("127.0.0.1", 0), Handler)

    def port(self):
        return self.server_address[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the controller

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, *args):
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        received = 0
        while received < length:
            chunk = self.rfile.read(min(MB, length - received))
            if not chunk:
                break
            received += len(chunk)
        seen = {
            "backend": self.server.name,
            "path": self.path,
            "version": self.request_version,
            "body_len": received,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        with self.server.lock:
            self.server.requests.append(seen)
        if self.path.startswith("/api/v1/fail503"):
            # The platform's own error: nginx must pass it on unchanged.
            body = b'{"error":"no invoker for you","code":"from-the-controller"}'
            self.send_response(503)
            self.send_header("X-Controller-Says", "hello")
        elif self.path.startswith("/console"):
            # The web console's page: its own caching and security headers must pass through.
            body = json.dumps(seen).encode()
            self.send_response(200)
            self.send_header("Content-Security-Policy", "default-src 'none'; script-src 'self'")
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")
            self.send_header("ETag", '"c0ffee"')
        else:
            body = json.dumps(seen).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve


class Nginx:
    def __init__(self, render, dir_, controllers, https_port, http_port):
        self.dir = dir_
        self.https_port = https_port
        self.http_port = http_port
        out = subprocess.run(
            [render, "--controllers", ",".join(controllers), "--dir", dir_,
             "--https-port", str(https_port), "--http-port", str(http_port)],
            capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"render.sh failed: {out.stdout}{out.stderr}")
        self.proc = subprocess.Popen(
            ["nginx", "-p", dir_, "-c", os.path.join(dir_, "nginx.conf"),
             "-e", os.path.join(dir_, "logs", "error.log"), "-g", "daemon off;"])
        wait_until(self._listening, f"nginx on 127.0.0.1:{https_port}")

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.error_log()}")
        try:
            socket.create_connection(("127.0.0.1", self.https_port), timeout=5).close()
            return True
        except OSError:
            return False

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "logs", "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def access_log(self):
        with open(os.path.join(self.dir, "logs", "access.log")) as f:
            return f.read()

    def https(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "tls", "tls.crt"))
        return http.client.HTTPSConnection("127.0.0.1", self.https_port, context=ctx, timeout=120)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, master exits
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    return resp, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    render = os.path.join(args.source_dir, "deploy", "nginx", "render.sh")
    if shutil.which("nginx") is None:
        print("FAIL: nginx not installed (run tools/install-deps.sh)")
        return 1

    work = tempfile.mkdtemp(prefix="wisp-nginx-test-")
    backends = [FakeController("c0"), FakeController("c1")]
    for b in backends:
        threading.Thread(target=b.serve_forever, daemon=True).start()
    dead = f"127.0.0.1:{free_port()}"
    instances = []
    try:
        front = Nginx(render, os.path.join(work, "front"),
                      [f"127.0.0.1:{backends[0].port()}", dead, f"127.0.0.1:{backends[1].port()}"],
                      free_port(), free_port())
        instances.append(front)
        test_front(front, backends, dead)
        test_render(render, front, work)

        # No controller answers: nginx's own 503 in OpenWhisk's error shape.
        down = Nginx(render, os.path.join(work, "down"), [dead, f"127.0.0.1:{free_port()}"],
                     free_port(), free_port())
        instances.append(down)
        conn = down.https()
        resp, data = request(conn, "POST", "/api/v1/namespaces/_/actions/a?blocking=true",
                             body=b"{}", headers={"X-Request-ID": "tid-down-1"})
        check(resp.status == 503, f"no live controller: 503 (got {resp.status})")
        body = json.loads(data)
        check(body == {"error": "The server is currently unavailable (because it is overloaded "
                                "or down for maintenance).", "code": "tid-down-1"},
              f"no live controller: OpenWhisk error JSON with the tid ({data!r})")
        check(resp.getheader("X-Request-ID") == "tid-down-1", "no live controller: X-Request-ID")
        check(resp.getheader("Content-Type", "").startswith("application/json"),
              "no live controller: application/json")
    except Exception as e:  # a broken step fails the test with its reason
        FAILURES.append(f"exception: {e!r}")
        print(f"FAIL: {e!r}")
    finally:
        for n in instances:
            n.stop()
        for b in backends:
            b.shutdown()
        if FAILURES:
            for n in instances:
                print(f"--- {n.dir}/logs/error.log\n{n.error_log()}")
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


def test_front(front, backends, dead):
    conn = front.https()  # verifies the certificate for IP 127.0.0.1 against tls.crt

    # Round-robin over both live controllers; the dead one is skipped, so every request works.
    conns_before = sum(b.connections for b in backends)
    n = 24
    seen = []
    for i in range(n):
        resp, data = request(conn, "GET", f"/api/v1/namespaces?i={i}")
        check(resp.status == 200, f"request {i} through nginx: 200 (got {resp.status})")
        seen.append(json.loads(data)["backend"] if resp.status == 200 else None)
    check(seen.count("c0") > 0 and seen.count("c1") > 0,
          f"requests reach both controllers ({seen.count('c0')} c0, {seen.count('c1')} c1)")
    check(seen.count(None) == 0, "the dead controller is skipped: no request failed")
    check(f"upstream: \"http://{dead}" in front.error_log(),
          "the dead controller was in the rotation (nginx logged its refused connect)")
    # Keep-alive upstream: far fewer connections than requests (one per worker and controller).
    conns = sum(b.connections for b in backends) - conns_before
    check(conns < n, f"upstream connections reused: {conns} connections for {n} requests")
    last = backends[0].requests[-1]
    check(last["version"] == "HTTP/1.1", "upstream requests are HTTP/1.1")
    check(last["headers"].get("connection", "").lower() != "close", "no Connection: close upstream")

    # Forwarded headers.
    resp, data = request(conn, "GET", "/api/v1/x")
    h = json.loads(data)["headers"]
    check(h.get("host") == f"127.0.0.1:{front.https_port}",
          f"Host passed as sent ({h.get('host')})")
    check(h.get("x-forwarded-proto") == "https", "X-Forwarded-Proto https")
    check(h.get("x-forwarded-for") == "127.0.0.1", "X-Forwarded-For the client")

    # X-Request-ID: passed through when given, set when absent, replaced when unusable.
    resp, data = request(conn, "GET", "/api/v1/namespaces", headers={"X-Request-ID": "my-tid:42"})
    check(json.loads(data)["headers"].get("x-request-id") == "my-tid:42",
          "the client's X-Request-ID reaches the controller")
    check("[#tid_my-tid:42]" in front.access_log() or wait_for_log(front, "[#tid_my-tid:42]"),
          "the access log carries the client's X-Request-ID")
    ids = []
    for _ in range(2):
        resp, data = request(conn, "GET", "/api/v1/namespaces")
        ids.append(json.loads(data)["headers"].get("x-request-id", ""))
    check(all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids[0] != ids[1],
          f"a missing X-Request-ID is set, fresh per request ({ids})")
    resp, data = request(conn, "GET", "/api/v1/namespaces", headers={"X-Request-ID": '{"a":1}'})
    got = json.loads(data)["headers"].get("x-request-id", "")
    check(re.fullmatch(r"[0-9a-f]{32}", got) is not None,
          f"an unusable X-Request-ID is replaced ({got})")

    # Body limit: 40 MB passes whole, 60 MB gets 413 without reaching a controller.
    resp, data = request(conn, "PUT", "/api/v1/namespaces/_/actions/big", body=b"x" * (40 * MB),
                         headers={"Content-Type": "application/json"})
    check(resp.status == 200 and json.loads(data)["body_len"] == 40 * MB,
          f"a 40 MB body reaches the controller whole (status {resp.status})")
    before = sum(len(b.requests) for b in backends)
    conn2 = front.https()
    resp, data = request(conn2, "PUT", "/api/v1/namespaces/_/actions/huge", body=b"x" * (60 * MB),
                         headers={"Content-Type": "application/json", "X-Request-ID": "big-1"})
    conn2.close()
    check(resp.status == 413, f"a 60 MB body: 413 (got {resp.status})")
    try:
        body = json.loads(data)
    except ValueError:
        body = {}
    check(body.get("code") == "big-1" and
          body.get("error") == f"Request larger than allowed: {60 * MB} > {50 * MB} bytes.",
          f"413 in OpenWhisk's error shape with the controller's wording ({data[:200]!r})")
    check(sum(len(b.requests) for b in backends) == before, "the 60 MB body reached no controller")

    # The controller's own errors pass through unchanged.
    resp, data = request(conn, "GET", "/api/v1/fail503")
    own = b'{"error":"no invoker for you","code":"from-the-controller"}'
    check(resp.status == 503 and data == own
          and resp.getheader("X-Controller-Says") == "hello",
          f"a controller's 503 passes through unchanged ({resp.status} {data!r})")

    # API routes (/api/<namespace>/...) go to the controllers, path unchanged; /metrics is denied.
    resp, data = request(conn, "GET", "/api/0123-ns/some/route", headers={"X-Request-ID": "r-1"})
    got = json.loads(data).get("path") if resp.status == 200 else None
    check(resp.status == 200 and got == "/api/0123-ns/some/route",
          f"/api/<namespace>/... reaches a controller (status {resp.status}, path {got})")
    resp, data = request(conn, "GET", "/metrics")
    check(resp.status == 403, "/metrics not served through the front door")

    # The web console (/console, /console/...): to the controllers, path and headers unchanged.
    for path in ("/console/", "/console", "/console/assets/index-abc.js", "/console/index.html"):
        resp, data = request(conn, "GET", path)
        got = json.loads(data).get("path") if resp.status == 200 else None
        check(resp.status == 200 and got == path,
              f"{path} reaches a controller as {path} (status {resp.status}, path {got})")
        check(resp.getheader("Content-Security-Policy") == "default-src 'none'; script-src 'self'"
              and resp.getheader("Cache-Control") == "public, max-age=31536000, immutable"
              and resp.getheader("ETag") == '"c0ffee"',
              f"{path}: the controller's CSP, Cache-Control and ETag pass through")

    # http -> https, same path and query.
    plain = http.client.HTTPConnection("127.0.0.1", front.http_port, timeout=60)
    resp, _ = request(plain, "POST", "/api/v1/namespaces/_/actions/a?blocking=true&x=1", body=b"{}")
    check(resp.status == 301, f"http: 301 (got {resp.status})")
    want = f"https://127.0.0.1:{front.https_port}/api/v1/namespaces/_/actions/a?blocking=true&x=1"
    check(resp.getheader("Location") == want, f"http: Location {resp.getheader('Location')}")


def wait_for_log(front, needle):
    try:
        wait_until(lambda: needle in front.access_log(), f"{needle} in access.log", 10)
        return True
    except RuntimeError:
        return False


def test_render(render, front, work):
    tls = os.path.join(front.dir, "tls")
    key_mode = stat.S_IMODE(os.stat(os.path.join(tls, "tls.key")).st_mode)
    check(key_mode == 0o600, f"tls.key is 0600 ({oct(key_mode)})")
    with open(os.path.join(tls, "tls.crt"), "rb") as f:
        cert = f.read()
    out = subprocess.run([render, "--controllers", "127.0.0.1:9", "--dir", front.dir,
                          "--https-port", str(front.https_port), "--http-port",
                          str(front.http_port)], capture_output=True, text=True)
    check(out.returncode == 0, f"render.sh again over a running nginx's dir ({out.stderr})")
    with open(os.path.join(tls, "tls.crt"), "rb") as f:
        check(f.read() == cert, "the certificate is kept when present")
    with open(os.path.join(front.dir, "nginx.pid")) as f:
        check(f.read().strip() == str(front.proc.pid), "re-rendering keeps the running pid file")
    bad = subprocess.run([render, "--controllers", "127.0.0.1", "--dir",
                          os.path.join(work, "bad")], capture_output=True, text=True)
    check(bad.returncode == 2 and "HOST:PORT" in bad.stderr, "a controller without port is refused")


if __name__ == "__main__":
    sys.exit(main())
