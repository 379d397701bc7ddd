#!/usr/bin/env python3
"""`make cluster` is `tools/local-cluster.sh up --foreground`: it must stay up until Ctrl-C and
then stop everything it started. This test starts it in its own process group (as a terminal
runs it), waits for its "running" line, invokes an action through nginx so an action container
exists, then sends SIGINT to the whole group (what Ctrl-C does) and checks: the script exits 0,
every process it started is gone (pid files read before), its containers are removed, its state
file is gone and no `sleep` it waited on is left behind.

usage: local_cluster_foreground_test.py --source-dir SRC --build-dir BUILD
"""
import argparse
import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def fail(msg, log=''):
    print('FAIL: ' + msg, file=sys.stderr)
    if log:
        print(log[-4000:], file=sys.stderr)
    sys.exit(1)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is gone for our purposes (its parent may not have reaped it yet).
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[1][0] != 'Z'
    except OSError:
        return False


def request(method, url, auth, body=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the cluster's self-signed certificate, like `wsk -i`
    req = urllib.request.Request(url, method=method, data=None if body is None else body.encode())
    req.add_header('Authorization', 'Basic ' + base64.b64encode(auth.encode()).decode())
    req.add_header('Content-Type', 'application/json')
    with urllib.request.urlopen(req, context=ctx, timeout=120) as r:
        return r.status, r.read().decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--source-dir', required=True)
    ap.add_argument('--build-dir', required=True)
    a = ap.parse_args()
    script = os.path.join(a.source_dir, 'tools', 'local-cluster.sh')
    work = tempfile.mkdtemp(prefix='wisp-lc-fg-')
    d = os.path.join(work, 'cluster')
    proc = subprocess.Popen(
        [script, 'up', '--foreground', '--dir', d, '--store', 'sqlite', '--build-dir', a.build_dir,
         '--invoker-args', '--no-stem-cells'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    running = threading.Event()

    def reader():
        for line in proc.stdout:
            lines.append(line)
            if 'running; Ctrl-C stops it' in line:
                running.set()
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        # Waits on the script's own line (start-up takes seconds to a minute on a loaded machine).
        deadline = time.monotonic() + 300
        while not running.wait(1):
            if proc.poll() is not None or time.monotonic() > deadline:
                fail('local-cluster.sh up --foreground did not report running', ''.join(lines))
        out = ''.join(lines)
        api = next(l.split('=', 1)[1].strip() for l in lines if l.startswith('APIHOST='))
        auth = next(l.split('=', 1)[1].strip() for l in lines if l.startswith('AUTH='))
        if not api.startswith('https://127.0.0.1:'):
            fail('APIHOST is not https on loopback: ' + api, out)

        # An action container, so that `down` has one to remove.
        code = 'def main(args):\n    return {"ok": True}\n'
        status, _ = request('PUT', api + '/api/v1/namespaces/_/actions/fg?overwrite=true', auth,
                            json.dumps({'exec': {'kind': 'python:3', 'code': code}}))
        if status != 200:
            fail('PUT action: %d' % status, out)
        status, body = request('POST', api + '/api/v1/namespaces/_/actions/fg?blocking=true&result=true',
                               auth, '{}')
        if status != 200 or json.loads(body) != {'ok': True}:
            fail('invoke through nginx: %d %s' % (status, body), out)

        state = open(os.path.join(d, 'state')).read()
        prefix = next(l.split('=', 1)[1].strip().strip("'\"") for l in state.splitlines()
                      if l.startswith('PREFIX='))
        pids = {}
        for f in os.listdir(os.path.join(d, 'pids')):
            pids[f[:-4]] = int(open(os.path.join(d, 'pids', f)).read().strip())
        for name in ('broker', 'controller0', 'invoker0', 'nginx'):
            if not any(n.startswith(name) for n in pids):
                fail('no pid file for %s: %s' % (name, sorted(pids)), out)
        for name, pid in pids.items():
            if not alive(pid):
                fail('%s (pid %d) is not running while up' % (name, pid), out)

        def containers():
            ps = subprocess.run(['docker', 'ps', '-a', '--filter', 'label=wisp.invoker',
                                 '--format', '{{.ID}} {{.Label "wisp.invoker"}}'],
                                capture_output=True, text=True, check=True).stdout
            return [l.split()[0] for l in ps.splitlines()
                    if l.split()[1].startswith(prefix) and l.split()[1][len(prefix):].isdigit()]
        if not containers():
            fail('no action container of this cluster (label prefix %s) after an invoke' % prefix, out)

        # Ctrl-C: SIGINT to the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            rc = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            fail('local-cluster.sh did not exit within 180 s of Ctrl-C', ''.join(lines))
        t.join(5)
        out = ''.join(lines)
        if rc != 0:
            fail('exit code %d after Ctrl-C' % rc, out)
        if 'local-cluster: down' not in out:
            fail('no "down" line after Ctrl-C', out)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(alive(p) for p in pids.values()):
            time.sleep(0.2)  # polling other processes' exit
        left = [n for n, p in pids.items() if alive(p)]
        if left:
            fail('still running after Ctrl-C: %s' % left, out)
        if containers():
            fail('containers left after Ctrl-C: %s' % containers(), out)
        if os.path.exists(os.path.join(d, 'state')):
            fail('state file left after Ctrl-C', out)
        sleepers = subprocess.run(['pgrep', '-s', str(proc.pid)], capture_output=True, text=True).stdout.split()
        if sleepers:
            fail('processes left in the script\'s session: %s' % sleepers, out)
        print('ok: make cluster stops everything on Ctrl-C (%d processes, containers removed)' % len(pids))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            subprocess.run([script, 'down', '--dir', d], capture_output=True)


if __name__ == '__main__':
    main()
