#!/usr/bin/env python3
"""ctest images_test: tools/build-images.sh and the platform images it makes.

Runs the script (a no-op when the images are current), then checks what deploy/images/README.md
promises: every image has its <version>-<sha> and latest tags and the wisp.inputs.hash label; a
second run rebuilds nothing; wisp/controller runs as uid 10001, its binaries find every shared
library, and it serves /ping against the dev broker and pouchdb-server; wisp/standalone, with the
Docker socket and the socket-folder bind mount and its API published on 127.0.0.1 only, answers
/ping and runs an action; pouchdb-server answers GET / with its CouchDB welcome; the kafka-dev
broker accepts a connection; nginx renders its configuration from the environment and answers
301/503 by itself; every HEALTHCHECK turns healthy. Every container it starts (and the
standalone's action containers) is removed at the end, also on failure or a signal. Traffic
only to 127.0.0.1; waits on conditions under deadlines, never fixed sleeps.
"""

import argparse
import atexit
import base64
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

IMAGES = ["controller", "invoker", "standalone", "kafka-dev", "pouchdb-server", "nginx"]
FAILURES = []
STARTED = []  # container names to remove
PREFIX = f"wisp-images-test-{os.getpid()}"


def check(cond, what):
    print(f"{'ok' if cond else 'FAIL'}: {what}", flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def run(args, check_rc=True, **kw):
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def free_port():
    """A port nothing listens on (bound from 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, what, deadline_s=120.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if cond():
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)  # polling a condition under a deadline, not a fixed wait
    raise RuntimeError(f"timed out waiting for {what}")


def cleanup():
    for name in reversed(STARTED):
        # stop first: the standalone removes its action containers on SIGTERM
        subprocess.run(["docker", "stop", "-t", "30", name], capture_output=True)
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)
    STARTED.clear()


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def docker_run(role, args):
    name = f"{PREFIX}-{role}"
    STARTED.append(name)
    run(["docker", "run", "-d", "--name", name] + args)
    return name


def logs(name):
    p = run(["docker", "logs", name], check_rc=False)
    return p.stdout + p.stderr


def http_get(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode()


def published_port(name, port):
    out = run(["docker", "port", name, f"{port}/tcp"]).stdout.split()
    return int(out[0].rsplit(":", 1)[1])


def health(name):
    return run(["docker", "inspect", "-f", "{{.State.Health.Status}}", name]).stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--build-dir", required=True)
    opts = ap.parse_args()
    script = os.path.join(opts.source_dir, "tools", "build-images.sh")
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # --- the script: build (or confirm), then a second run that skips everything ----------
    first = run([script, "--build-dir", opts.build_dir], check_rc=False)
    print(first.stdout, first.stderr, sep="", flush=True)
    if not check(first.returncode == 0, "tools/build-images.sh succeeds"):
        return
    listed = run([script, "--list"]).stdout.split()
    check(len(listed) == 2 * len(IMAGES) and all(f"wisp/{i}:latest" in listed for i in IMAGES),
          f"--list names two tags per image: {listed}")
    second = run([script, "--build-dir", opts.build_dir], check_rc=False)
    up_to_date = [l for l in second.stdout.splitlines() if "is up to date" in l]
    check(second.returncode == 0 and "==> building" not in second.stdout
          and "bootstrapping" not in second.stdout and len(up_to_date) >= len(IMAGES),
          "a second run rebuilds nothing (every image 'is up to date')")
    if FAILURES:
        print(second.stdout, second.stderr, sep="", flush=True)
    # The tags the run made, from its last line ("==> done: wisp/controller:0.1.0-abc1234 ...").
    done = [l for l in second.stdout.splitlines() if l.startswith("==> done: ")]
    made = done[-1].split()[2:] if done else []
    version_tag = re.compile(r"^wisp/([a-z-]+):\d+\.\d+\.\d+-[0-9a-f]{4,}$")
    check(sorted(version_tag.match(t).group(1) for t in made if version_tag.match(t)) ==
          sorted(IMAGES), f"the run names a <version>-<sha> tag for every image: {made}")
    for t in made + [f"wisp/{i}:latest" for i in IMAGES]:
        p = run(["docker", "image", "inspect", "-f",
                 '{{index .Config.Labels "wisp.inputs.hash"}} '
                 '{{index .Config.Labels "org.opencontainers.image.version"}}', t],
                check_rc=False)
        check(p.returncode == 0 and len(p.stdout.split()) == 2,
              f"{t} exists with wisp.inputs.hash and OCI version labels")

    # --- controller: non-root, every library resolves -----------------------------------------
    uid = run(["docker", "run", "--rm", "--entrypoint", "id", "wisp/controller", "-u"],
              check_rc=False).stdout.strip()
    check(uid == "10001", f"wisp/controller runs as uid 10001 (got {uid!r})")
    p = run(["docker", "run", "--rm", "wisp/controller", "--help"], check_rc=False)
    check(p.returncode == 0 and "wisp-controller" in p.stdout,
          "wisp-controller --help runs inside wisp/controller")
    for img, bins in [("controller", "wisp-controller wisp-admin wsk"),
                      ("invoker", "wisp-invoker wisp-admin"),
                      ("standalone", "wisp-standalone wsk"), ("kafka-dev", "wisp-kafka-dev-broker")]:
        script_ldd = "; ".join(f"ldd /usr/local/bin/{b}" for b in bins.split())
        p = run(["docker", "run", "--rm", "--entrypoint", "sh", f"wisp/{img}", "-c", script_ldd],
                check_rc=False)
        check(p.returncode == 0 and "not found" not in p.stdout,
              f"wisp/{img}: {bins} find every shared library")

    # --- start the long-running ones, then check them while they all come up -----------------
    if run(["docker", "image", "inspect", "wisp/action-nodejs:18"], check_rc=False).returncode:
        raise RuntimeError("wisp/action-nodejs:18 is missing (the standalone's action needs it): "
                           "run tools/build-runtime-images.sh --build-dir " + opts.build_dir)
    # Standalone: its API port inside = outside, so its invoker id (0-<port>) and container names
    # are this test's own; the socket folder is the same path on the host and in the container.
    sa_port = free_port()
    standalone = docker_run("standalone", [
        "-v", "/var/run/docker.sock:/var/run/docker.sock",
        "-v", "/run/wisp/containers:/run/wisp/containers",
        "-e", f"WISP_STANDALONE_PORT={sa_port}", "-p", f"127.0.0.1:{sa_port}:{sa_port}",
        "wisp/standalone"])
    pouch = docker_run("pouchdb", ["-p", "127.0.0.1::5984", "wisp/pouchdb-server"])
    kafka_port = free_port()
    kafka = docker_run("kafka", ["--network", "host", "-e", f"WISP_KAFKA_DEV_PORT={kafka_port}",
                                 "wisp/kafka-dev"])
    nginx = docker_run("nginx", ["-p", "127.0.0.1::443", "-p", "127.0.0.1::80",
                                 "-e", "WISP_NGINX_CONTROLLERS=127.0.0.1:9",
                                 "-e", "WISP_NGINX_PUBLIC_HTTPS_PORT=8443", "wisp/nginx"])

    # standalone: /ping through the published port, then an action invoked end to end
    base = f"http://127.0.0.1:{sa_port}"
    wait_until(lambda: http_get(base + "/ping")[1].strip() == "pong", "standalone /ping")
    check(True, "wisp/standalone answers /ping on a published 127.0.0.1 port")
    wait_until(lambda: "--auth " in logs(standalone), "the standalone's wsk property line")
    auth = re.search(r"--auth (\S+)", logs(standalone)).group(1)
    user, key = auth.split(":", 1)
    hdr = {"Authorization": "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode(),
           "Content-Type": "application/json"}
    action = {"exec": {"kind": "nodejs:18",
                       "code": "function main(p) { return {doubled: p.n * 2}; }"}}
    req = urllib.request.Request(base + "/api/v1/namespaces/_/actions/images_test?overwrite=true",
                                 data=json.dumps(action).encode(), headers=hdr, method="PUT")
    with urllib.request.urlopen(req, timeout=30) as r:
        check(r.status == 200, "action created in the containerized standalone")
    req = urllib.request.Request(
        base + "/api/v1/namespaces/_/actions/images_test?blocking=true&result=true",
        data=json.dumps({"n": 21}).encode(), headers=hdr, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            result = json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        result = {"status": e.code, "body": e.read().decode()}
    check(result == {"doubled": 42},
          f"the standalone in a container runs an action in a sibling container: {result}")

    # pouchdb-server: CouchDB's welcome on a published loopback port
    pouch_port = published_port(pouch, 5984)
    wait_until(lambda: http_get(f"http://127.0.0.1:{pouch_port}/")[0] == 200, "pouchdb-server")
    welcome = json.loads(http_get(f"http://127.0.0.1:{pouch_port}/")[1])
    check(any(str(v).startswith("Welcome") for v in welcome.values()) and "version" in welcome,
          f"wisp/pouchdb-server answers GET / with the welcome JSON: {welcome}")
    uid = run(["docker", "exec", pouch, "id", "-u"], check_rc=False).stdout.strip()
    check(uid == "10001", f"wisp/pouchdb-server runs as uid 10001 (got {uid!r})")

    # kafka-dev: the bootstrap port accepts connections
    def kafka_up():
        with socket.create_connection(("127.0.0.1", kafka_port), timeout=5):
            return True
    wait_until(kafka_up, "the kafka-dev broker's port")
    check(f"bootstrap=127.0.0.1:{kafka_port}" in logs(kafka),
          f"wisp/kafka-dev accepts a TCP connection on 127.0.0.1:{kafka_port}")

    # controller: up against the dev broker and pouchdb-server (host network, 127.0.0.1 only)
    ctl_port = free_port()
    controller = docker_run("controller", [
        "--network", "host", "-e", "WISP_ID=0", "-e", "WISP_HOST=127.0.0.1",
        "-e", f"WISP_PORT={ctl_port}", "-e", f"WISP_KAFKA=127.0.0.1:{kafka_port}",
        "-e", f"WISP_STORE=couchdb:http://127.0.0.1:{pouch_port}", "wisp/controller"])
    wait_until(lambda: http_get(f"http://127.0.0.1:{ctl_port}/ping")[1].strip() == "pong",
               "the controller's /ping")
    check(True, "wisp/controller serves /ping with the dev broker and pouchdb-server")
    uid = run(["docker", "exec", controller, "id", "-u"], check_rc=False).stdout.strip()
    check(uid == "10001", f"the running wisp/controller is uid 10001 (got {uid!r})")

    # nginx: rendered from the environment, TLS with a made certificate, 503 JSON, 301
    https_port = published_port(nginx, 443)
    http_port = published_port(nginx, 80)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def nginx_ping():
        c = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=10, context=ctx)
        c.request("GET", "/ping")
        r = c.getresponse()
        return r.status, r.read().decode()
    wait_until(lambda: nginx_ping()[0] == 503, "nginx's 503 with no controller")
    status, body = nginx_ping()
    check(status == 503 and "currently unavailable" in body,
          "wisp/nginx answers over TLS with OpenWhisk's 503 JSON when no controller is up")
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    c.request("GET", "/api/v1?x=1")
    r = c.getresponse()
    check(r.status == 301 and r.getheader("Location", "").endswith(":8443/api/v1?x=1"),
          f"wisp/nginx redirects HTTP to HTTPS on the public port: {r.getheader('Location')}")

    # health checks: every one of these turns healthy
    for name, what in [(standalone, "wisp/standalone"), (pouch, "wisp/pouchdb-server"),
                       (controller, "wisp/controller"), (kafka, "wisp/kafka-dev"),
                       (nginx, "wisp/nginx")]:
        try:
            wait_until(lambda: health(name) == "healthy", f"{what} healthy", 90)
            check(True, f"{what}'s HEALTHCHECK reports healthy")
        except RuntimeError as e:
            check(False, f"{what}'s HEALTHCHECK: {e} (status {health(name)})")

    # the standalone stops cleanly and takes its action containers with it
    run(["docker", "stop", "-t", "30", standalone], check_rc=False)
    left = run(["docker", "ps", "-aq", "--filter", f"label=wisp.invoker=0-{sa_port}"]).stdout.split()
    check(not left, f"the standalone removed its action containers on stop ({left})")
    if left:
        run(["docker", "rm", "-f"] + left, check_rc=False)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report and fail
        print(f"FAIL: {e}", flush=True)
        FAILURES.append(str(e))
    finally:
        for n in list(STARTED):
            if FAILURES:
                print(f"--- docker logs {n} (last 20 lines)\n" +
                      "\n".join(logs(n).splitlines()[-20:]), flush=True)
        cleanup()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        sys.exit(1)
    print("all checks passed")
