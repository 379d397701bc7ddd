#!/usr/bin/env python3
"""Where a process's resident memory is: bench/rss_breakdown.py PID [PID...]

Reads /proc/PID/smaps (no ptrace, no pause) and sorts every mapping into
  binary        the executable's own pages (text, rodata, relocated data)
  shared libs   the .so files (Rss counts pages other processes share; Pss splits them)
  [heap]        glibc's main arena (brk)
  arenas        glibc's per-thread malloc arenas (anonymous, 64 MiB-aligned heaps)
  stacks        thread stacks (anonymous, the size of the default stack) and [stack]
  other anon    everything else anonymous: large malloc chunks (mmap'd), library buffers
and prints Rss / Pss / Anonymous per class, the thread count and the threads by name
(/proc/PID/task/*/comm: librdkafka's "rdk:*", gRPC's "grpc_*", Wisp's "wisp-*"; an unnamed
thread carries the process's name). --json prints the same as one JSON object per PID.
"""
import json
import os
import re
import resource
import sys
from collections import Counter

ARENA_ALIGN = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit: every non-main arena heap is aligned to it
HEADER = re.compile(r'^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$')


def mappings(pid):
    cur = None
    with open(f'/proc/{pid}/smaps') as f:
        for line in f:
            m = HEADER.match(line)
            if m:
                if cur:
                    yield cur
                cur = {'start': int(m.group(1), 16), 'end': int(m.group(2), 16), 'perms': m.group(3),
                       'inode': int(m.group(4)), 'path': m.group(5).strip(), 'kb': {}}
                continue
            key, _, rest = line.partition(':')
            parts = rest.split()
            if cur is not None and len(parts) == 2 and parts[1] == 'kB':
                cur['kb'][key] = int(parts[0])
    if cur:
        yield cur


def classify(pid):
    exe = os.readlink(f'/proc/{pid}/exe')
    stack_kb = resource.getrlimit(resource.RLIMIT_STACK)[0] // 1024
    maps = list(mappings(pid))
    classes = {}
    for i, m in enumerate(maps):
        size_kb = (m['end'] - m['start']) // 1024
        path = m['path']
        if path == exe or path.startswith(exe + ' '):
            cls = 'binary'
        elif path == '[heap]':
            cls = '[heap]'
        elif path == '[stack]':
            cls = 'stacks'
        elif path.startswith('[') or m['inode'] != 0:
            cls = 'shared libs' if '.so' in path else ('other file' if m['inode'] else 'kernel')
        elif m['perms'].startswith('---'):
            continue  # guard pages and reserved arena tails: never resident
        elif m['start'] % ARENA_ALIGN == 0 and i + 1 < len(maps) and \
                maps[i + 1]['start'] == m['end'] and maps[i + 1]['perms'].startswith('---') and \
                (maps[i + 1]['end'] - m['start']) == ARENA_ALIGN:
            cls = 'arenas'
        elif m['start'] % ARENA_ALIGN == 0 and size_kb == ARENA_ALIGN // 1024:
            cls = 'arenas'
        elif size_kb in (stack_kb, stack_kb - 4) and i > 0 and maps[i - 1]['end'] == m['start'] and \
                maps[i - 1]['perms'].startswith('---'):
            cls = 'stacks'
        else:
            cls = 'other anon'
        c = classes.setdefault(cls, Counter())
        c['maps'] += 1
        for k in ('Rss', 'Pss', 'Anonymous', 'Private_Dirty'):
            c[k] += m['kb'].get(k, 0)
    status = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            k, _, v = line.partition(':')
            status[k] = v.strip()
    names = Counter()
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/comm') as f:
                names[f.read().strip()] += 1
        except OSError:
            pass
    return {
        'pid': pid, 'exe': os.path.basename(exe),
        'vmrss_kb': int(status['VmRSS'].split()[0]),
        'rss_anon_kb': int(status['RssAnon'].split()[0]),
        'rss_file_kb': int(status['RssFile'].split()[0]),
        'threads': int(status['Threads']),
        'classes': {k: dict(v) for k, v in sorted(classes.items(), key=lambda kv: -kv[1]['Rss'])},
        'thread_names': dict(names.most_common()),
    }


def main():
    args = sys.argv[1:]
    as_json = '--json' in args
    pids = [a for a in args if a != '--json']
    if not pids:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    for pid in pids:
        r = classify(pid)
        if as_json:
            print(json.dumps(r))
            continue
        print(f"{r['exe']} pid {pid}: VmRSS {r['vmrss_kb'] / 1024:.1f} MB "
              f"(anon {r['rss_anon_kb'] / 1024:.1f}, file {r['rss_file_kb'] / 1024:.1f}), "
              f"{r['threads']} threads")
        print(f"  {'class':<12} {'maps':>5} {'Rss kB':>8} {'Pss kB':>8} {'Anon kB':>8}")
        for cls, c in r['classes'].items():
            print(f"  {cls:<12} {c['maps']:>5} {c['Rss']:>8} {c['Pss']:>8} {c['Anonymous']:>8}")
        print('  threads: ' + ', '.join(f'{n} x{c}' for n, c in r['thread_names'].items()))


if __name__ == '__main__':
    main()
