#!/usr/bin/env python3
"""The docker-compose deployment (docker-compose/), driven with Debian's docker-compose (1.29).

1. config: the production file is valid for docker-compose (with and without the monitoring
   profile) and, without its `profiles` keys, for `docker stack config`; the local override
   merges with it.
2. up: the local override (wisp/kafka-dev, wisp/pouchdb-server, host networking on 127.0.0.1,
   free ports, a unique project name and topic prefix) comes up healthy; the init service
   prints the `wsk property set` line.
3. client checks through nginx over HTTPS with build/bin/wsk -i: the printed property line,
   action create, a blocking invoke with --result, activation list and get; http -> https.
4. scale: `up -d --scale invoker=2`; both invokers (ids chosen by --id auto) are up for both
   controllers; invokes work.
5. kill: `docker kill` of one invoker container under invokes; every accepted activation ends
   with exactly one record and invokes keep working.
6. down -v: no container, network or volume of the project and no action container of its
   invokers is left.

usage: compose_test.py --source-dir SRC --build-dir BUILD [--skip-images]
Needs dockerd (tools/start-dockerd.sh), the runtime images and the platform images
(tools/build-images.sh: run here, it skips images whose inputs did not change).
"""
import argparse
import base64
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

T0 = time.monotonic()


def phase(msg):
    print('[compose_test %6.1fs] %s' % (time.monotonic() - T0, msg), flush=True)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run(cmd, env=None, check_rc=True, timeout=600, input_text=None):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                       input=input_text)
    if check_rc and r.returncode != 0:
        raise Failure('%s exited %d:\n%s\n%s' % (' '.join(cmd), r.returncode, r.stdout[-3000:],
                                                  r.stderr[-3000:]))
    return r


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_for(what, pred, timeout, interval=1.0):
    """Polls `pred` (another process's state) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise Failure('%s: not within %d s (last: %r)' % (what, timeout, last))


class Api:
    def __init__(self, base, auth):
        self.base = base
        self.auth = auth
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE  # nginx's self-signed certificate, like wsk -i

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header('Authorization',
                       'Basic ' + base64.b64encode(self.auth.encode()).decode())
        req.add_header('Content-Type', 'application/json')
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=90) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except (urllib.error.URLError, OSError) as e:
            return 0, str(e)


class Compose:
    def __init__(self, src, project, env):
        self.dir = os.path.join(src, 'docker-compose')
        self.project = project
        self.env = env
        self.base = ['docker-compose', '-p', project, '-f',
                     os.path.join(self.dir, 'docker-compose.yml'), '-f',
                     os.path.join(self.dir, 'docker-compose.local.yml')]

    def __call__(self, *args, check_rc=True, timeout=600):
        return run(self.base + list(args), env=self.env, check_rc=check_rc, timeout=timeout)

    def containers(self, service=None, all_states=False):
        cmd = ['docker', 'ps', '-q', '--filter',
               'label=com.docker.compose.project=' + self.project]
        if all_states:
            cmd.insert(2, '-a')
        if service:
            cmd += ['--filter', 'label=com.docker.compose.service=' + service]
        return run(cmd).stdout.split()

    def health(self):
        """service/number -> (state, health) of every container of the project."""
        ids = self.containers(all_states=True)
        if not ids:
            return {}
        out = run(['docker', 'inspect', '--format',
                   '{{index .Config.Labels "com.docker.compose.service"}}/'
                   '{{index .Config.Labels "com.docker.compose.container-number"}} '
                   '{{.State.Status}} {{.State.ExitCode}} '
                   '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}'] + ids).stdout
        result = {}
        for line in out.splitlines():
            name, status, code, health = line.split()
            result[name] = (status, int(code), health)
        return result

    def logs(self, tail=60):
        return self('logs', '--no-color', '--tail', str(tail), check_rc=False).stdout


def leftovers(project, prefix):
    found = []
    for kind, cmd in (('container', ['docker', 'ps', '-aq']), ('network', ['docker', 'network',
                                                                         'ls', '-q']),
                      ('volume', ['docker', 'volume', 'ls', '-q'])):
        out = run(cmd + ['--filter', 'label=com.docker.compose.project=' + project]).stdout
        found += ['%s %s' % (kind, x) for x in out.split()]
    # Action containers: labelled wisp.invoker=<topic prefix><id>.
    out = run(['docker', 'ps', '-a', '--format', '{{.ID}} {{.Label "wisp.invoker"}}']).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(re.escape(prefix) + r'\d+', parts[1]):
            found.append('action container %s (%s)' % tuple(parts))
    return found


def invokers_up(controller_port, want):
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/invokers' % controller_port,
                                    timeout=10) as r:
            got = json.loads(r.read().decode())
    except (OSError, ValueError):
        return None
    return got if all(got.get('invoker%d/%d' % (i, i)) == 'up' for i in range(want)) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--source-dir', required=True)
    ap.add_argument('--build-dir', required=True)
    ap.add_argument('--skip-images', action='store_true',
                    help='use the wisp/* images as they are (no tools/build-images.sh)')
    args = ap.parse_args()
    src = os.path.abspath(args.source_dir)
    build = os.path.abspath(args.build_dir)
    wsk = os.path.join(build, 'bin', 'wsk')

    phase('config: docker-compose.yml, the monitoring profile, the local override, Swarm')
    env = dict(os.environ)
    env['WISP_COUCHDB_PASSWORD'] = 'config-check'
    base = os.path.join(src, 'docker-compose', 'docker-compose.yml')
    local = os.path.join(src, 'docker-compose', 'docker-compose.local.yml')
    services = run(['docker-compose', '-f', base, 'config', '--services'], env=env).stdout.split()
    for s in ('nginx', 'couchdb', 'kafka', 'init', 'controller0', 'controller1', 'invoker',
              'prometheus', 'grafana'):
        check(s in services, 'docker-compose.yml has no service %s: %s' % (s, services))
    run(['docker-compose', '-f', base, '--profile', 'monitoring', 'config', '-q'], env=env)
    run(['docker-compose', '-f', base, '-f', local, 'config', '-q'], env=env)
    # Without the password the file refuses to render, with a message naming the setting.
    no_pw = {k: v for k, v in env.items() if k != 'WISP_COUCHDB_PASSWORD'}
    r = run(['docker-compose', '-f', base, 'config', '-q'], env=no_pw, check_rc=False)
    check(r.returncode != 0 and 'WISP_COUCHDB_PASSWORD' in r.stderr,
          'config without WISP_COUCHDB_PASSWORD: %d %s' % (r.returncode, r.stderr))
    # Every setting the files read from the host's environment is documented in .env.example.
    used = set()
    for path in (base, local):
        with open(path) as f:
            used |= set(re.findall(r'(?<!\$)\$\{(WISP_[A-Z0-9_]+)', f.read()))
    with open(os.path.join(src, 'docker-compose', '.env.example')) as f:
        documented = set(re.findall(r'(?m)^(WISP_[A-Z0-9_]+)=', f.read()))
    check(used <= documented, 'settings not in .env.example: %s' % sorted(used - documented))
    with open(base) as f:
        stack_text = re.sub(r'(?m)^    profiles:.*\n', '', f.read())
    if run(['docker', 'stack', 'config', '--help'], check_rc=False).returncode == 0:
        run(['docker', 'stack', 'config', '-c', '-'], env=env, input_text=stack_text)
        phase('  docker stack config accepts the file (profiles lines removed)')
    else:
        phase('  docker stack config not available in this docker CLI: Swarm check skipped')

    if not args.skip_images:
        phase('images: tools/build-images.sh (skips images whose inputs did not change)')
        run([os.path.join(src, 'tools', 'start-dockerd.sh')], timeout=120)
        run([os.path.join(src, 'tools', 'build-runtime-images.sh'), '--build-dir', build],
            timeout=1800)
        run([os.path.join(src, 'tools', 'build-images.sh'), '--build-dir', build, 'controller',
             'invoker', 'nginx', 'kafka-dev', 'pouchdb-server'], timeout=1800)

    project = 'wispct%d%s' % (os.getpid(), secrets.token_hex(2))
    https, http, kafka, couch, c0, c1 = free_ports(6)
    env.update({
        'WISP_TOPIC_PREFIX': project,
        'WISP_CONTROL_TOKEN': secrets.token_hex(16),
        'WISP_LOCAL_HTTPS_PORT': str(https),
        'WISP_LOCAL_HTTP_PORT': str(http),
        'WISP_LOCAL_KAFKA_PORT': str(kafka),
        'WISP_LOCAL_COUCHDB_PORT': str(couch),
        'WISP_LOCAL_CONTROLLER0_PORT': str(c0),
        'WISP_LOCAL_CONTROLLER1_PORT': str(c1),
        'WISP_INVOKER_MEMORY': '1024',
    })
    compose = Compose(src, project, env)
    tmp = tempfile.mkdtemp(prefix='compose_test.')
    wsk_env = dict(os.environ, WSK_CONFIG_FILE=os.path.join(tmp, 'wskprops'))
    failed = None
    try:
        phase('up: project %s, https 127.0.0.1:%d, http %d, controllers %d %d, kafka %d, '
              'couchdb %d' % (project, https, http, c0, c1, kafka, couch))
        compose('up', '-d')
        want = ('controller0/1', 'controller1/1', 'couchdb/1', 'kafka/1', 'nginx-local/1',
                'invoker/1')

        def healthy():
            h = compose.health()
            for name, (status, code, health) in h.items():
                check(not (name.startswith('init/') and status == 'exited' and code != 0),
                      'init exited %d' % code)
            ok = all(h.get(n, ('', 0, ''))[2] == 'healthy' for n in want)
            return h if ok and h.get('init/1', ('',))[0] == 'exited' else None

        h = wait_for('every service healthy and init done', healthy, 300, 2)
        phase('  healthy: ' + ', '.join('%s %s' % (k, v[2] if v[2] != 'none' else v[0])
                                         for k, v in sorted(h.items())))

        init_log = compose('logs', '--no-color', 'init').stdout
        m = re.search(r'(wsk property set --apihost (\S+) --auth (\S+) -i)', init_log)
        check(m, 'init printed no wsk property set line:\n' + init_log)
        check(m.group(2) == 'https://127.0.0.1:%d' % https, 'apihost %s' % m.group(2))
        auth = m.group(3)
        phase('client: ' + m.group(1).replace(auth, auth[:8] + '...'))
        run([wsk, 'property', 'set', '--apihost', m.group(2), '--auth', auth], env=wsk_env)

        def wsk_run(*a, check_rc=True):
            return run([wsk, '-i'] + list(a), env=wsk_env, check_rc=check_rc, timeout=120)

        wait_for('invoker0 up for controller0', lambda: invokers_up(c0, 1), 120)
        code = os.path.join(tmp, 'echo.py')
        with open(code, 'w') as f:
            f.write('def main(args):\n    return {"n": args.get("n", 0), "via": "compose"}\n')
        r = wsk_run('action', 'create', 'compose-echo', code, '--kind', 'python:3.11')
        check(r.stdout.strip() == 'ok: created action compose-echo', r.stdout)
        r = wsk_run('action', 'invoke', 'compose-echo', '-p', 'n', '7', '--blocking', '--result')
        check(json.loads(r.stdout) == {'n': 7, 'via': 'compose'}, 'result: ' + r.stdout)
        r = wsk_run('activation', 'list', 'compose-echo')
        m = re.search(r'\n\S+ \S+ ([0-9a-f]{32}) python:3.11 +(cold|warm) +\S+ +success +'
                      r'guest/compose-echo:0.0.1\n', r.stdout)
        check(m, 'activation list: ' + r.stdout)
        r = wsk_run('activation', 'get', m.group(1))
        check(r.stdout.startswith('ok: got activation ' + m.group(1)), r.stdout)
        got = json.loads(r.stdout.split('\n', 1)[1])
        check(got['response']['result'] == {'n': 7, 'via': 'compose'}, r.stdout)
        phase('  wsk: create, blocking invoke --result, activation list/get through nginx: ok')
        # http -> https (301 to the public https port), nothing proxied over plain http.
        conn = socket.create_connection(('127.0.0.1', http), timeout=10)
        conn.sendall(b'GET /api/v1?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n'
                     % http)
        head = conn.recv(4096).decode(errors='replace')
        conn.close()
        check(head.startswith('HTTP/1.1 301') and
              'Location: https://127.0.0.1:%d/api/v1?x=1' % https in head, head)

        phase('scale: up -d --scale invoker=2')
        compose('up', '-d', '--scale', 'invoker=2')
        for port in (c0, c1):
            got = wait_for('invoker0 and invoker1 up for the controller on %d' % port,
                           lambda: invokers_up(port, 2), 180)
        phase('  controllers see ' + json.dumps(got))
        ids = {}
        for c in compose.containers('invoker'):
            log = run(['docker', 'logs', c], check_rc=False).stderr
            m = re.search(r'id auto: claimed (invoker\d+)', log)
            check(m, 'invoker container %s logged no chosen id:\n%s' % (c, log[-2000:]))
            ids[c] = m.group(1)
        check(sorted(ids.values()) == ['invoker0', 'invoker1'], 'auto ids: %r' % ids)
        phase('  auto ids: ' + ', '.join('%s=%s' % (c[:12], i) for c, i in ids.items()))

        api = Api('https://127.0.0.1:%d' % https, auth)
        path = '/api/v1/namespaces/_/actions/'
        accepted = []
        # Several actions so that both invokers get work (home invoker by action name).
        names = ['compose-echo-%d' % i for i in range(6)]
        for n in names:
            st, body = api.call('PUT', path + n, {
                'exec': {'kind': 'python:3.11', 'code':
                         'def main(a):\n    return {"n": a.get("n", 0)}\n'}})
            check(st == 200, 'create %s: %d %s' % (n, st, body))

        def invoke(i, blocking):
            n = names[i % len(names)]
            st, body = api.call('POST', path + n + ('?blocking=true' if blocking else ''),
                                {'n': i})
            if st in (200, 202):
                accepted.append((n, json.loads(body)['activationId']))
            return st, body

        for i in range(12):
            st, body = invoke(i, blocking=True)
            check(st == 200, 'blocking invoke %d after scaling: %d %s' % (i, st, body))
        phase('  12 blocking invokes over 2 invokers: ok')

        victim = sorted(ids)[1]
        phase('kill: docker kill %s (%s) while invokes are in flight' % (victim[:12], ids[victim]))
        for i in range(12, 24):
            invoke(i, blocking=False)
        run(['docker', 'kill', victim])
        statuses = []
        for i in range(24, 36):
            st, body = invoke(i, blocking=False)
            statuses.append(st)
        check(all(s == 202 for s in statuses), 'non-blocking invokes after the kill: %r'
              % statuses)
        # The killed container comes back (restart policy) or compose starts it again; its id is
        # taken back after the claim lease and what was left on its topic runs.
        state = run(['docker', 'inspect', '--format', '{{.State.Status}} {{.RestartCount}}',
                     victim]).stdout.strip()
        phase('  killed container now: %s' % state)
        if not state.startswith(('running', 'restarting')):
            phase('  not restarted by the policy: up -d --scale invoker=2 starts it again')
            compose('up', '-d', '--scale', 'invoker=2')
        # The restarted invoker takes the killed holder's id back (after the claim lease).
        survivor = [c for c in ids if c != victim][0]

        def reclaimed():
            for c in compose.containers('invoker'):
                if c == survivor:
                    continue
                log = run(['docker', 'logs', c], check_rc=False).stderr
                claims = re.findall(r'id auto: claimed (invoker\d+)', log)
                if len(claims) >= (2 if c == victim else 1):
                    return c, claims[-1]
            return None

        container, claimed = wait_for('the restarted invoker claims an id', reclaimed, 180)
        check(claimed == ids[victim], 'the restarted invoker %s claimed %s, not the killed '
              "one's %s" % (container[:12], claimed, ids[victim]))
        phase('  the restarted invoker (%s) claimed %s again' % (container[:12], claimed))
        wait_for('both invokers up again for controller0', lambda: invokers_up(c0, 2), 180)
        for i in range(36, 42):
            st, body = invoke(i, blocking=True)
            check(st == 200, 'blocking invoke %d after the kill: %d %s' % (i, st, body))
        phase('  invokes after the kill: ok; checking the records of %d accepted activations'
              % len(accepted))

        def all_recorded():
            missing = [a for _, a in accepted
                       if api.call('GET', '/api/v1/namespaces/_/activations/' + a)[0] != 200]
            return True if not missing else None

        wait_for('a record for every accepted activation', all_recorded, 300, 3)
        # Exactly one each: no id listed twice.
        listed = []
        for n in names:
            st, body = api.call('GET', '/api/v1/namespaces/_/activations?limit=200&name=' + n)
            check(st == 200, 'list %s: %d %s' % (n, st, body))
            listed += [a['activationId'] for a in json.loads(body)]
        dupes = sorted({a for a in listed if listed.count(a) > 1})
        check(not dupes, 'activations with more than one record: %r' % dupes)
        missing = sorted({a for _, a in accepted} - set(listed))
        check(not missing, 'accepted activations not listed: %r' % missing)
        phase('  %d accepted, %d records, 0 lost, 0 duplicated' % (len(accepted), len(listed)))
    except (Failure, subprocess.TimeoutExpired) as e:
        failed = str(e)
        print('FAIL: %s' % failed, file=sys.stderr)
        print(compose.logs(), file=sys.stderr)
    finally:
        phase('down -v')
        r = compose('down', '-v', '--remove-orphans', '--timeout', '60', check_rc=False,
                    timeout=600)
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
        left = leftovers(project, project)
        if left:
            print('FAIL: left after down -v: %s' % left, file=sys.stderr)
            failed = failed or 'leftovers'
            # Clean up anyway so the next run starts clean.
            for item in left:
                parts = item.split()
                if parts[0] == 'action':
                    run(['docker', 'rm', '-f', parts[2]], check_rc=False)
                elif parts[0] == 'container':
                    run(['docker', 'rm', '-f', parts[1]], check_rc=False)
                else:
                    run(['docker', parts[0], 'rm', parts[1]], check_rc=False)
        else:
            phase('  no container, network, volume or action container of %s left' % project)
    if failed:
        sys.exit(1)
    phase('ok')


if __name__ == '__main__':
    main()
