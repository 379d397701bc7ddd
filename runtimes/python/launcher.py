"""Wisp's Python launcher: keeps one interpreter warm for every activation of a container.

Started by wisp-action-proxy as

    python3 -u launcher.py <action_dir> <main> <source|archive>

or, as a zygote at container start (before /init), as

    python3 -u launcher.py --zygote

or, as a fork server at container start (the zygote that survives /wisp/reset), as

    python3 -u launcher.py --fork-server

with fd 3 a SOCK_SEQPACKET socket to the proxy (see fork_server() below).

with its stdin and fd 3 piped to the proxy and its stdout/stderr shared with the container.
Line protocol (runtimes/README.md):
  * zygote only: the first stdin line is the load order
    {"argv":["<action_dir>","<main>","<source|archive>"],"env":[["NAME","value"],...]}:
    sys.argv[1:] becomes argv and the /init env is set, {"loading":true} goes to fd 3 (the
    order was taken; none of the action's code has run), then it goes on as if started so;
  * once the action is loaded: {"ok":true} on fd 3, or {"ok":false,"error":"..."} and exit 1;
  * per stdin line (a /run body): every key but "value" becomes os.environ["__OW_<KEY>"],
    main(value) runs, and json.dumps(result) + "\\n" goes to fd 3. An exception becomes
    {"error": str(ex)} with the traceback on stderr.
"""

import glob
import importlib.machinery
import importlib.util
import json
import os
import site
import sys
import traceback


def write_line(out, obj):
    out.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
    out.flush()


def activate_virtualenv(action_dir):
    venv = os.path.join(action_dir, "virtualenv")
    if not os.path.isdir(venv):
        return
    activate_this = os.path.join(venv, "bin", "activate_this.py")
    if os.path.exists(activate_this):
        with open(activate_this) as f:
            exec(compile(f.read(), activate_this, "exec"), {"__file__": activate_this})
        return
    # A virtualenv made with "python3 -m venv" has no activate_this.py: add its site-packages
    # in front, honouring .pth files.
    packages = glob.glob(os.path.join(venv, "lib", "python3*", "site-packages"))
    if not packages:
        raise RuntimeError(
            "Invalid virtualenv. Zip file does not include 'activate_this.py' "
            "or 'lib/python3.*/site-packages'.")
    before = list(sys.path)
    for path in packages:
        site.addsitedir(path)
    added = [p for p in sys.path if p not in before]
    sys.path[:] = added + before


def load_main(action_dir, main_name):
    activate_virtualenv(action_dir)
    source = os.path.join(action_dir, "__main__.py")
    if not os.path.exists(source):
        source = os.path.join(action_dir, "exec")  # OpenWhisk also accepts "exec"
    if not os.path.exists(source):
        raise RuntimeError("Zip file does not include __main__.py")
    sys.path.insert(0, action_dir)
    loader = importlib.machinery.SourceFileLoader("main__", source)
    spec = importlib.util.spec_from_loader("main__", loader, origin=source)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = source
    sys.modules["main__"] = module
    loader.exec_module(module)
    fn = getattr(module, main_name, None)
    if not callable(fn):
        raise RuntimeError("Action entrypoint '%s' is not a function." % main_name)
    return fn


def await_load_order(stdin, out):
    """Zygote: blocks until the proxy sends the code's location (at /init); EOF ends it."""
    line = stdin.readline()
    if not line:
        sys.exit(0)
    take_load_order(line, out)


def take_load_order(line, out):
    """Applies a load-order line: sys.argv and the /init env, then {"loading":true}."""
    order = json.loads(line)
    sys.argv[1:] = order["argv"]
    environ = os.environ
    for name, value in order["env"]:  # in order, as the proxy would have spawned us
        environ[name] = value
    importlib.invalidate_caches()  # the action directory may have been written since start
    # Taken, before any of the action's code runs: a zygote that dies before this line is
    # replaced by a fresh process; after it, its death is the action's failure.
    out.write(b'{"loading":true}\n')
    out.flush()


def main():
    if sys.argv[1:] == ["--fork-server"]:
        fork_server()  # never returns
    out = os.fdopen(3, "wb")
    os.set_inheritable(3, False)  # processes the action starts must not hold the result pipe
    # The protocol stream moves off fd 0 (the copy is close-on-exec), so neither the action
    # nor the processes it starts can read requests; their stdin is /dev/null.
    stdin = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    if sys.argv[1:] == ["--zygote"]:
        await_load_order(stdin, out)
    serve(stdin, out)


def serve(stdin, out):
    """Loads the action named by sys.argv[1:3], answers the ready line, then runs requests."""
    action_dir, main_name = sys.argv[1], sys.argv[2]
    os.chdir(action_dir)

    try:
        action = load_main(action_dir, main_name)
    except SyntaxError as ex:
        traceback.print_exc(limit=0)
        sys.stderr.flush()
        write_line(out, {"ok": False, "error": "%s: %s" % (type(ex).__name__, ex)})
        sys.exit(1)
    except BaseException as ex:
        traceback.print_exc()
        sys.stderr.flush()
        text = str(ex) if isinstance(ex, RuntimeError) else "%s: %s" % (type(ex).__name__, ex)
        write_line(out, {"ok": False, "error": text})
        sys.exit(1)
    write_line(out, {"ok": True})

    env = os.environ
    previous = set()
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode  # what json.dumps does
    while True:
        line = stdin.readline()
        if not line:
            break
        args = json.loads(line)
        payload = args.get("value", {})
        if payload is None:
            payload = {}
        current = set()
        for key, value in args.items():
            if key == "value":
                continue
            name = "__OW_%s" % key.upper()
            if isinstance(value, str):
                text = value
            elif value is None:
                text = ""
            else:
                text = json.dumps(value, separators=(",", ":"))
            try:
                if env.get(name) != text:  # putenv only what changed (most keys stay the same)
                    env[name] = text
                current.add(name)
            except ValueError:  # a NUL byte cannot go into the environment
                pass
        for stale in previous - current:  # e.g. api_key not sent this time
            env.pop(stale, None)
        previous = current

        try:
            result = action(payload)
        except Exception as ex:
            traceback.print_exc()
            result = {"error": str(ex)}
        try:
            data = encode(result).encode("utf-8")
        except (TypeError, ValueError) as ex:
            data = json.dumps({"error": "The action returned a value that is not JSON: %s" % ex},
                              ensure_ascii=False).encode("utf-8")
        sys.stdout.flush()
        sys.stderr.flush()
        out.write(data + b"\n")
        out.flush()


PR_SET_DUMPABLE = 4


def fork_server():
    """--fork-server: the zygote that survives /wisp/reset (runtimes/README.md "Fork server").

    Imports done, it serves the proxy over fd 3, a SOCK_SEQPACKET socket, one request per
    message, one answer each:
      * a load-order line (as a zygote's, see take_load_order) with two descriptors, the read
        end of the launcher's request pipe and the write end of its result pipe: a launcher is
        forked (through an intermediate process that exits at once, so the launcher becomes a
        child of the proxy, which reaps it) and its pid is the answer ("error" when the fork
        failed). The launcher takes the order and goes on as one spawned with it would;
      * b"kill" (only sent by a proxy that is PID 1): kill(-1, SIGKILL), which ends every
        process but PID 1 (the proxy) and this one, whatever they did; b"killed" answers;
      * end of file: exit.
    It is not dumpable (prctl PR_SET_DUMPABLE 0): processes of the same uid without
    CAP_SYS_PTRACE, i.e. every action, cannot ptrace it, read or write its memory or take its
    descriptors. It blocks every signal it can (an action may signal it; SIGKILL ends it and the
    proxy then starts a fresh one, SIGSTOP is undone by the proxy's SIGCONT before a request).
    """
    known = set(sys.modules)  # what a spawned launcher has imported at this point
    import ctypes
    import signal
    import socket

    server_only = [name for name in sys.modules if name not in known]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        os._exit(3)  # the proxy sees the end and spawns launchers instead
    ctl = socket.socket(fileno=3)
    os.set_inheritable(3, False)
    catchable = set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
    signal.pthread_sigmask(signal.SIG_BLOCK, catchable)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctl, 1 << 20, 2)
        except InterruptedError:
            continue
        except OSError:
            os._exit(1)
        if not msg:
            os._exit(0)
        if msg == b"kill":
            for fd in fds:
                os.close(fd)
            try:
                os.kill(-1, signal.SIGKILL)  # not us, not PID 1 (Linux kill(2))
            except ProcessLookupError:  # nothing else there
                pass
            ctl.send(b"killed")
            continue
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            ctl.send(b"error")
            continue
        try:
            middle = os.fork()
        except OSError:
            middle = -1
        if middle == 0:
            code = 1
            try:
                try:
                    pid = os.fork()
                except OSError:
                    pid = -1
                if pid == 0:
                    forked_launcher(ctl, fds, msg, server_only, libc, signal)  # never returns
                ctl.send(b"error" if pid < 0 else b"%d" % pid)
                code = 0
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        if middle < 0:
            ctl.send(b"error")
            continue
        while True:
            try:
                _, status = os.waitpid(middle, 0)
                break
            except InterruptedError:
                continue
        if status != 0:  # it ended before it could answer
            ctl.send(b"error")


def forked_launcher(ctl, fds, order, server_only, libc, signal):
    """A launcher forked by the fork server: becomes what a spawned launcher with `order`
    would be (own session and process group, no blocked signals, dumpable, fd 3 the result
    pipe, the server's own modules out of sys.modules), then serves. Never returns."""
    code = 1
    try:
        ctl.close()
        os.setsid()
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        requests, results = fds
        if results != 3:
            os.dup2(results, 3, inheritable=False)
            os.close(results)
        os.set_inheritable(requests, False)
        for name in server_only:
            sys.modules.pop(name, None)
        out = os.fdopen(3, "wb")
        stdin = os.fdopen(requests, "rb")
        take_load_order(order, out)
        serve(stdin, out)
        code = 0
    except SystemExit as ex:
        code = ex.code if isinstance(ex.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    main()
