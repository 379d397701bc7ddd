#!/usr/bin/env python3
"""bench/report.py — merges the parts bench/run.sh collected into one JSON, prints the table
with the issue's targets (PASS/MISS, printed, never asserted) and draws a PNG with gnuplot.

usage: report.py --parts DIR --out FILE.json [--png FILE.png] [--load-end "a b c"] [--seconds S]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


def load(parts, name, default=None):
    path = os.path.join(parts, 'parts', name + '.json')
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def merge(parts):
    with open(os.path.join(parts, 'meta.json')) as f:
        r = json.load(f)
    lat = {row['name']: row for row in load(parts, 'latency', {'rows': []})['rows']}
    r['warm_latency'] = lat
    if 'rest' in lat and 'floor_unix' in lat:
        rest, floor = lat['rest']['latency_ms'], lat['floor_unix']['latency_ms']
        r['overhead_over_floor'] = {
            'floor': 'unix socket (the invoker\'s transport)',
            'p50_us': round((rest['p50'] - floor['p50']) * 1000, 1),
            'p99_us': round((rest['p99'] - floor['p99']) * 1000, 1),
            'ratio_p50': round(rest['p50'] / floor['p50'], 2) if floor['p50'] else None,
        }
    closed = []
    for f in sorted(os.listdir(os.path.join(parts, 'parts'))):
        if f.startswith('closed_'):
            closed.append(load(parts, f[:-5]))
    r['closed_loop'] = sorted(closed, key=lambda c: c['clients'])
    r['open_loop'] = []
    for pct in (50, 80, 100):
        o = load(parts, 'open_%d' % pct)
        if o:
            o['percent_of_max'] = pct
            r['open_loop'].append(o)
    r['cold_start'] = {
        'stem_cell': load(parts, 'cold_stem'),
        'no_stem_cell': load(parts, 'cold_nostem'),
        'docker_run_baseline': load(parts, 'docker_run'),
    }
    r['paused'] = load(parts, 'paused')
    r['simulation'] = load(parts, 'simulation', {}).get('simulation', [])
    r['churn'] = {'within_budget': load(parts, 'churn_fit'), 'over_budget': load(parts, 'churn_over')}
    rss = {}
    for name in ('rss_idle', 'rss_c', 'rss_b', 'rss_a_after'):
        rss.update(load(parts, name, {}))
    loaded = [c for c in r['closed_loop'] if 'rss_mb' in c]
    if loaded:
        top = max(loaded, key=lambda c: c['clients'])
        rss['under_load_clients'] = top['clients']
        rss['under_load_median_mb'] = top['rss_mb']['median']
        rss['under_load_max_mb'] = top['rss_mb']['max']
    r['rss_mb'] = rss
    dist_lat = {row['name']: row for row in load(parts, 'dist_latency', {'rows': []})['rows']}
    dist_closed = [load(parts, f[:-5]) for f in sorted(os.listdir(os.path.join(parts, 'parts')))
                   if f.startswith('dist_closed_')]
    dist1_closed = [load(parts, f[:-5]) for f in sorted(os.listdir(os.path.join(parts, 'parts')))
                    if f.startswith('dist1_closed_')]
    if dist_lat or dist_closed or dist1_closed:
        r['distributed'] = dict(load(parts, 'dist_meta', {}))
        r['distributed']['topology'] = 'nginx (TLS) -> wisp-controller -> dev Kafka broker -> wisp-invoker'
        r['distributed']['warm_latency'] = dist_lat.get('distributed')
        r['distributed']['closed_loop_1_controller_1_invoker'] = sorted(dist1_closed, key=lambda c: c['clients'])
        r['distributed']['closed_loop_1_controller_2_invokers'] = sorted(dist_closed, key=lambda c: c['clients'])
        r['distributed']['idle_rss'] = load(parts, 'dist_rss_idle')
    r['instructions'] = load(parts, 'instr')
    r['soak'] = {'at_400_per_s': load(parts, 'soak_400'), 'at_80_percent_of_best': load(parts, 'soak_80pct')}
    return r


def duration(seconds):
    return '%g min' % (seconds / 60) if seconds >= 60 else '%g s' % seconds


def cpu_per_invoke(run, name=None):
    """CPU ms per invoke of the watched process `name` (or the first) of a closed/open run."""
    for w in (run or {}).get('watch', []):
        if (name is None or w['name'] == name) and w.get('cpu_per_invoke_ms', -1) >= 0:
            return w['cpu_per_invoke_ms']
    return None


def targets(r):
    """The issue's targets table (issue 14), every row, with PASS/MISS (printed, never asserted);
    a row whose figure was not measured in this run says so."""
    t = []

    def add(name, goal, measured, ok):
        t.append({'target': name, 'goal': goal, 'measured': measured,
                  'result': None if ok is None else ('PASS' if ok else 'MISS')})

    def missing(name, goal):
        add(name, goal, 'not measured', None)

    o = r.get('overhead_over_floor')
    name = 'platform overhead p50 (REST - unix floor)'
    if o:
        add(name, '<= 0.25 ms', '%.3f ms' % (o['p50_us'] / 1000), o['p50_us'] <= 250)
    else:
        missing(name, '<= 0.25 ms')
    rest = r['warm_latency'].get('rest')
    name = 'warm REST p99, one client'
    if rest:
        p99 = rest['latency_ms']['p99']
        add(name, '<= 1.5 ms', '%.3f ms' % p99, p99 <= 1.5)
    else:
        missing(name, '<= 1.5 ms')
    c32 = next((c for c in r['closed_loop'] if c['clients'] == 32), None)
    cpu = cpu_per_invoke(c32)
    name = 'platform CPU per warm invoke (closed 32)'
    if cpu is not None:
        add(name, '<= 0.15 ms', '%.3f ms (%s)' % (cpu, c32['watch'][0]['name']), cpu <= 0.15)
    else:
        missing(name, '<= 0.15 ms')
    ins = r.get('instructions')
    name = 'instructions per warm invoke (standalone)'
    if ins and ins.get('per_invoke'):
        add(name, 'measured (no target)', '%s (%s, n %d)' % (format(ins['per_invoke'], ','), ins['tool'],
                                                           ins['invokes']), None)
    else:
        missing(name, 'measured (no target)')
    name = 'throughput, no-op python, 0 errors'
    if r['closed_loop']:
        best = max(r['closed_loop'], key=lambda c: c['rps'])
        errs = sum(c['errors'] for c in r['closed_loop'])
        add(name, '>= 5000/s, 0 errors', '%.0f/s (%d clients), %d errors' % (best['rps'], best['clients'], errs),
            best['rps'] >= 5000 and errs == 0)
    else:
        missing(name, '>= 5000/s, 0 errors')
    cs = r['cold_start']
    name = 'stem-cell cold start p50 (first invoke)'
    row = None
    if cs['stem_cell']:
        # Only the samples that really took a stem cell (waitTime < 5 ms) when there are any.
        row = cs['stem_cell'].get('no_wait_latency_ms') or cs['stem_cell']['latency_ms']
        if not row['n']:
            row = cs['stem_cell']['latency_ms']
    if row and row['n']:
        add(name, '<= 15 ms', '%.1f ms' % row['p50'], row['p50'] <= 15)
    else:
        missing(name, '<= 15 ms')
    name = 'plain cold start p50 (no stem cell)'
    if cs['no_stem_cell'] and cs['docker_run_baseline']:
        p50 = cs['no_stem_cell']['latency_ms']['p50']
        base = cs['docker_run_baseline']['latency_ms']['p50']
        add(name, '<= 0.6 x docker run+/init = %.0f ms' % (0.6 * base), '%.1f ms (%.2f x)' % (p50, p50 / base),
            p50 <= 0.6 * base)
    else:
        missing(name, '<= 0.6 x (docker run + /init)')
    fit = r['churn']['within_budget']
    name = 'churn, %d actions within budget' % (fit['actions'] if fit else 100)
    if fit:
        add(name, '>= 1000/s, 0 removed', '%.0f/s, %d removed, %d errors' % (
            fit['rps'], fit['containers_removed'], fit['errors']),
            fit['rps'] >= 1000 and fit['containers_removed'] == 0 and fit['errors'] == 0)
    else:
        missing(name, '>= 1000/s, 0 removed')
    over = r['churn']['over_budget']
    if over:
        fits = over.get('budget_mb', 0) // over['memory_mb']
        add('churn, %d actions over %d-container budget' % (over['actions'], fits), '>= 50/s',
            '%.1f/s, %.1f creates/s, %d errors' % (over['rps'], over['create_rate'], over['errors']),
            over['rps'] >= 50 and over['errors'] == 0)
    else:
        missing('churn, 100 actions over 16-container budget', '>= 50/s')
    d = r.get('distributed') or {}
    name = 'distributed 1+1 warm p50'
    if d.get('warm_latency'):
        p50 = d['warm_latency']['latency_ms']['p50']
        add(name, '<= 2 ms', '%.3f ms' % p50, p50 <= 2)
    else:
        missing(name, '<= 2 ms')
    name = 'distributed 1+1 throughput, 0 errors'
    runs = d.get('closed_loop_1_controller_1_invoker') or []
    if runs:
        best = max(runs, key=lambda c: c['rps'])
        errs = sum(c['errors'] for c in runs)
        add(name, '>= 3000/s', '%.0f/s (%d clients), %d errors' % (best['rps'], best['clients'], errs),
            best['rps'] >= 3000 and errs == 0)
    else:
        missing(name, '>= 3000/s')
    idle = {'wisp-standalone': r['rss_mb'].get('idle_no_containers_mb'),
            'wisp-controller': (d.get('idle_rss') or {}).get('controller_idle_mb'),
            'wisp-invoker': (d.get('idle_rss') or {}).get('invoker_idle_mb')}
    for proc, mb in idle.items():
        if mb is not None:
            add('idle RSS, %s' % proc, '<= 20 MB', '%.1f MB' % mb, mb <= 20)
        else:
            missing('idle RSS, %s' % proc, '<= 20 MB')
    soak = r['soak']['at_400_per_s']
    w = (soak or {}).get('watch') or []
    name = 'RSS flat over the 400/s soak (standalone)'
    if w and w[0].get('rss_mb'):
        m = w[0]['rss_mb']
        growth = m['end'] - m['after_10pct']
        add(name, 'end - (at 10 %) <= 1 MB', '%.1f -> %.1f -> %.1f MB' % (m['start'], m['after_10pct'], m['end']),
            growth <= 1.0)
    else:
        missing(name, 'end - (at 10 %) <= 1 MB')
    minutes = duration(soak['duration_s']) if soak else '10 min'
    for key, label, goal in (('p99', 'p99', 5), ('p999', 'p99.9', 20), ('max', 'max', 100)):
        name = 'soak at 400/s (%s): %s' % (minutes, label)
        if soak:
            v = soak['latency_ms'][key]
            add(name, '<= %d ms' % goal, '%.2f ms' % v, v <= goal)
        else:
            missing(name, '<= %d ms' % goal)
    name = 'soak at 400/s (%s): errors' % minutes
    if soak:
        add(name, '0', '%d errors of %d' % (soak['errors'], soak['errors'] + soak['latency_ms']['n']),
            soak['errors'] == 0)
    else:
        missing(name, '0')
    s80 = r['soak']['at_80_percent_of_best']
    name = 'soak at 80 % of best: RSS, fds, containers'
    w = (s80 or {}).get('watch') or []
    if w:
        c = s80.get('containers') or {}
        add(name, 'start -> end (no target)', '%.1f->%.1f MB, %d->%d fds, %s->%s cont.' % (
            w[0]['rss_mb']['start'], w[0]['rss_mb']['end'], w[0]['fds']['start'], w[0]['fds']['end'],
            c.get('start', '?'), c.get('end', '?')), None)
    else:
        missing(name, 'start -> end (no target)')
    return t


def fmt_lat(p, digits=3):
    return '%9.*f %9.*f' % (digits, p['p50'], digits, p['p99'])


def print_table(r):
    m = r['machine']
    out = []
    w = out.append
    w('wisp bench — %s on %s, commit %s, mode %s, %s s' % (r['date'], r['host'], r['commit'], r['mode'],
                                                          r.get('seconds', '?')))
    w('machine: %d cores (%s), %.1f GiB memory, Linux %s, docker %s' % (
        m['cores'], m['cpu'], m['memory_gib'], m['kernel'], m['docker']))
    w('load average: start %s, end %s (other work on the machine shows up in every figure)' % (
        ' '.join('%.2f' % x for x in r['load_avg_start']),
        ' '.join('%.2f' % x for x in r.get('load_avg_end', []))))
    w('')
    w('%-52s %9s %9s %7s %6s' % ('(1, 2) warm no-op invoke, one keep-alive client', 'p50 ms', 'p99 ms', 'n', 'errors'))
    names = {'rest': 'REST API, POST ?blocking=true&result=true',
             'floor_unix': 'floor: /run straight to the container, unix socket',
             'floor_port': 'floor: /run via the published 127.0.0.1 port'}
    for key in ('rest', 'floor_unix', 'floor_port'):
        row = r['warm_latency'].get(key)
        if row:
            w('  %-50s %s %7d %6d' % (names[key], fmt_lat(row['latency_ms']), row['latency_ms']['n'], row['errors']))
    o = r.get('overhead_over_floor')
    if o:
        w('  platform overhead over the floor (unix): %+.0f µs at p50 (%+.0f µs at p99), ratio %.2f×' % (
            o['p50_us'], o['p99_us'], o['ratio_p50'] or 0))
    w('')
    w('%-52s %9s %9s %9s %7s %8s %s' % ('(3) closed loop, keep-alive clients', 'invokes/s', 'p50 ms', 'p99 ms', 'errors',
                                         'RSS MB', ' CPU ms/invoke (wisp-standalone)'))
    for c in r['closed_loop']:
        rss = c.get('rss_mb', {}).get('max', float('nan'))
        cpu = cpu_per_invoke(c)
        w('  %-50s %9.0f %9.3f %9.3f %7d %8.1f %9s' % (
            '%d client%s' % (c['clients'], '' if c['clients'] == 1 else 's'), c['rps'], c['latency_ms']['p50'],
            c['latency_ms']['p99'], c['errors'], rss, '-' if cpu is None else '%.3f' % cpu))
    w('%-52s %9s %9s %9s %9s %7s' % ('    open loop, fixed rate (128 connections)', 'done/s', 'p50 ms', 'p80 ms', 'p99 ms', 'errors'))
    for o in r['open_loop']:
        w('  %-50s %9.0f %9.3f %9.3f %9.3f %7d' % ('%d %% of max: %.0f/s offered' % (o['percent_of_max'], o['rate']),
                                                   o['achieved_rps'], o['latency_ms']['p50'], o['latency_ms']['p80'],
                                                   o['latency_ms']['p99'], o['errors']))
    w('')
    w('%-52s %9s %9s %7s %s' % ('(4, 5) cold and paused, client round trip', 'p50 ms', 'p99 ms', 'n', '  record: waitTime / initTime p50 ms'))
    cs = r['cold_start']
    rows = [('first invoke, from a stem cell', cs['stem_cell']),
            ('first invoke, no stem cell (--no-stem-cells)', cs['no_stem_cell']),
            ('baseline: docker run + /init + /run (no Wisp)', cs['docker_run_baseline']),
            ('invoke of a paused container (unpause + /run)', r['paused'])]
    for name, row in rows:
        if not row:
            continue
        extra = ''
        if 'wait_ms' in row:
            extra = '  %.1f' % row['wait_ms']['p50']
            if 'init_ms' in row:
                extra += ' / %.1f' % row['init_ms']['p50']
            if 'no_wait' in row and row is cs['stem_cell']:
                extra += '  (%d of %d with waitTime < 5 ms)' % (row['no_wait'], row['latency_ms']['n'])
        w('  %-50s %s %7d%s' % (name, fmt_lat(row['latency_ms'], 1), row['latency_ms']['n'], extra))
        nw = row.get('no_wait_latency_ms')
        if row is cs['stem_cell'] and nw and nw['n'] and nw['n'] != row['latency_ms']['n']:
            w('  %-50s %s %7d' % ('  of which took a stem cell (waitTime < 5 ms)', fmt_lat(nw, 1), nw['n']))
    w('')
    w('%-52s %9s %9s %9s %7s %s' % ('(6) churn, 128 MB actions round-robin, 8 clients', 'invokes/s', 'p50 ms', 'p99 ms', 'errors', ' created (rate), removed, left'))
    for row in (r['churn']['within_budget'], r['churn']['over_budget']):
        if not row:
            continue
        fits = row.get('budget_mb', 0) // row['memory_mb']
        label = '%d actions, budget for %d%s' % (row['actions'], fits,
                                                 '' if fits >= row['actions'] else ' (evicts on a miss)')
        w('  %-50s %9.1f %9.1f %9.1f %7d  %d (%.1f/s), %d, %s' % (
            label, row['rps'], row['latency_ms']['p50'], row['latency_ms']['p99'], row['errors'],
            row['containers_created'], row['create_rate'], row['containers_removed'],
            row.get('containers_after', '?')))
    base = cs.get('docker_run_baseline')
    if base and base['latency_ms']['p50']:
        w('  (one client doing docker run + /init + /run back to back: %.1f/s)' % (1000 / base['latency_ms']['p50']))
    w('')
    if r.get('simulation'):
        w('%-52s %7s %9s %9s %7s %8s %7s' % ('(S) placement simulation (bench/sim, 1 s samples)', 'warm %',
                                             'cold/s', 'max/mean', 'busy cv', 'place ns', 'p99 ns'))
        for s in r['simulation']:
            w('  %-50s %7.2f %9.2f %9.2f %7.2f %8.0f %7.0f' % (
                '%d invokers, %d actions, %s' % (s['invokers'], s['actions'], s['policy']),
                100 * s['warm_hit_rate'], s['cold_starts_per_s'], s['imbalance_mean'], s['busy_cv'],
                s['placement_ns_p50'], s['placement_ns_p99']))
        w('')
    rss = r['rss_mb']
    w('(7) resident memory of wisp-standalone (VmRSS, MB)')
    for key, name in (('idle_no_containers_mb', 'idle, no containers (--no-stem-cells, %s threads)' % rss.get('idle_threads', '?')),
                      ('idle_no_containers_65536mb_budget_mb', 'same, --user-memory 65536 (%s threads)' % rss.get('idle_threads_65536mb_budget', '?')),
                      ('idle_with_stem_cells_mb', 'idle, stem cells up (--user-memory 65536)'),
                      ('under_load_median_mb', 'under load (%s clients, --user-memory 4096), median' % rss.get('under_load_clients', '?')),
                      ('under_load_max_mb', 'under load, max'),
                      ('after_load_mb', 'after the load (%s containers up)' % rss.get('containers', '?')),
                      ('peak_hwm_mb', 'peak (VmHWM)')):
        if key in rss:
            w('  %-50s %9.1f' % (name, rss[key]))
    di = (r.get('distributed') or {}).get('idle_rss')
    if di:
        w('  %-50s %9.1f' % ('wisp-controller idle (distributed, %s threads)' % di.get('controller_idle_threads', '?'),
                             di['controller_idle_mb']))
        w('  %-50s %9.1f' % ('wisp-invoker idle (distributed, %s threads)' % di.get('invoker_idle_threads', '?'),
                             di['invoker_idle_mb']))
    w('')
    d = r.get('distributed')
    if d:
        w('%-52s %9s %9s %7s %6s' % ('(8) distributed: %s' % d.get('store', '?') + ' store', 'p50 ms', 'p99 ms', 'n', 'errors'))
        w('  %s' % d['topology'])
        rest = r['warm_latency'].get('rest')
        if rest:
            w('  %-50s %s %7d %6d' % ('standalone, warm no-op (row 1 above)', fmt_lat(rest['latency_ms']),
                                      rest['latency_ms']['n'], rest['errors']))
        dl = d.get('warm_latency')
        if dl:
            w('  %-50s %s %7d %6d' % ('1 controller + 1 invoker, warm no-op, one client', fmt_lat(dl['latency_ms']),
                                      dl['latency_ms']['n'], dl['errors']))
        for c in d.get('closed_loop_1_controller_1_invoker', []):
            w('  %-50s %s %7d %6d  %.0f invokes/s, CPU ms/invoke: controller %s, invoker %s' % (
                '1 controller + 1 invoker, %d clients closed loop' % c['clients'], fmt_lat(c['latency_ms']),
                c['latency_ms']['n'], c['errors'], c['rps'],
                *['-' if v is None else '%.3f' % v for v in (cpu_per_invoke(c, 'wisp-controller'),
                                                               cpu_per_invoke(c, 'wisp-invoker'))]))
        for c in d.get('closed_loop_1_controller_2_invokers', []):
            w('  %-50s %s %7d %6d  %.0f invokes/s' % (
                '1 controller + 2 invokers, %d clients closed loop' % c['clients'], fmt_lat(c['latency_ms']),
                c['latency_ms']['n'], c['errors'], c['rps']))
        w('')
    ins = r.get('instructions')
    if ins:
        w('(9) CPU per warm invoke as instructions: %s' % ins['counted'])
        w('  %-50s %14s' % ('%d warm invokes, one client, %s errors' % (ins['invokes'], ins['errors']),
                            format(ins['instructions'], ',')))
        w('  %-50s %14s' % ('idle window as long (%.1f s), subtracted' % ins['window_s'],
                            format(ins['idle_instructions'], ',')))
        w('  %-50s %14s' % ('instructions per warm invoke', format(ins['per_invoke'] or 0, ',')))
        w('')
    soaks = [(n, x) for n, x in (('400/s, logs one line, 32 conn.', r['soak']['at_400_per_s']),
                                 ('80 % of best, 128 conn.', r['soak']['at_80_percent_of_best'])) if x]
    if soaks:
        w('%-44s %8s %8s %8s %8s %9s %9s %7s %6s' % ('(10) soaks, open loop, %s each' % duration(soaks[0][1]['duration_s']),
                                                     'offered', 'done/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms',
                                                     'errors', 'late'))
        for n, x in soaks:
            p = x['latency_ms']
            w('  %-42s %8.0f %8.0f %8.3f %8.3f %9.3f %9.3f %7d %6d' % (n, x['rate'],
                                                                     x['achieved_rps'], p['p50'], p['p99'], p['p999'],
                                                                     p['max'], x['errors'], x['late']))
        w('  %-42s %-26s %-22s %-18s %s' % ('wisp-standalone: start / 10 % / end / max', 'RSS MB', 'open fds',
                                            'containers', 'CPU ms/invoke'))
        for n, x in soaks:
            wt = (x.get('watch') or [{}])[0]
            m, f, c = wt.get('rss_mb') or {}, wt.get('fds') or {}, x.get('containers') or {}
            def four(d, fmt):
                return ' / '.join(fmt % d[k] if k in d else '?' for k in ('start', 'after_10pct', 'end', 'max'))
            w('  %-42s %-26s %-22s %-18s %s' % (n, four(m, '%.1f'), four(f, '%d'),
                                                four(c, '%d'), '%.3f' % wt['cpu_per_invoke_ms'] if wt else '-'))
        for n, x in soaks:
            db = x.get('data_dir_bytes') or {}
            w('  %-42s data dir %.1f -> %.1f MB, %d warnings%s' % (
                n, db.get('start', 0) / 1e6, db.get('end', 0) / 1e6, x.get('warnings', 0),
                ''.join('\n      %5d x %s' % (k['count'], k['text']) for k in x.get('warning_kinds', [])[:3])))
        worst = [(n, max(x.get('series', []), key=lambda s: s['max'], default=None)) for n, x in soaks]
        for n, s in worst:
            if s:
                w('  %-42s worst 10 s window at %.0f s: p99 %.2f ms, max %.2f ms' % (
                    n, s['t'], s['p99'], s['max']))
        w('')
    w('%-46s %-34s %-40s %s' % ('targets (issue 14; printed, never asserted)', 'goal', 'measured', ''))
    for t in r['targets']:
        w('  %-44s %-34s %-40s %s' % (t['target'], t['goal'], t['measured'], t['result'] or '-'))
    print('\n'.join(out))
    sys.stdout.flush()


def draw(r, png):
    gnuplot = shutil.which('gnuplot')
    if not gnuplot:
        print('report: gnuplot not found (tools/install-deps.sh installs gnuplot-nox); no chart', file=sys.stderr)
        return
    d = tempfile.mkdtemp(prefix='wisp-bench-plot.')
    lat_rows = []
    names = {'rest': 'REST', 'floor_unix': 'floor unix', 'floor_port': 'floor port'}
    for key in ('rest', 'floor_unix', 'floor_port'):
        row = r['warm_latency'].get(key)
        if row:
            lat_rows.append((names[key], row['latency_ms']))
    for c in r['closed_loop']:
        lat_rows.append(('closed %d' % c['clients'], c['latency_ms']))
    for o in r['open_loop']:
        lat_rows.append(('open %d%%' % o['percent_of_max'], o['latency_ms']))
    with open(os.path.join(d, 'lat.dat'), 'w') as f:
        for name, p in lat_rows:
            f.write('"%s" %f %f %f %f\n' % (name, p['p50'], p['p90'], p['p99'], p['p999']))
    with open(os.path.join(d, 'tput.dat'), 'w') as f:
        for c in r['closed_loop']:
            f.write('"%d clients" %f\n' % (c['clients'], c['rps']))
        for o in r['open_loop']:
            f.write('"open %d%%" %f\n' % (o['percent_of_max'], o['achieved_rps']))
        for name, row in (('churn fit', r['churn']['within_budget']), ('churn over', r['churn']['over_budget'])):
            if row:
                f.write('"%s" %f\n' % (name, row['rps']))
    with open(os.path.join(d, 'cold.dat'), 'w') as f:
        cs = r['cold_start']
        for name, row in (('stem cell', cs['stem_cell']), ('no stem cell', cs['no_stem_cell']),
                          ('docker run', cs['docker_run_baseline']), ('paused', r['paused'])):
            if row:
                f.write('"%s" %f %f\n' % (name, row['latency_ms']['p50'], row['latency_ms']['p99']))
    soak_lat, soak_rss = [], []
    for key, label in (('at_400_per_s', '400/s'), ('at_80_percent_of_best', '80 %')):
        x = r['soak'].get(key)
        if not x:
            continue
        with open(os.path.join(d, key + '.lat.dat'), 'w') as f:
            for sm in x.get('series', []):
                f.write('%f %f %f\n' % (sm['t'], max(sm['p99'], 1e-3), max(sm['max'], 1e-3)))
        soak_lat.append('"%s/%s.lat.dat" using 1:2 with linespoints title "%s p99", "" using 1:3 with linespoints title "%s max"'
                        % (d, key, label, label))
        with open(os.path.join(d, key + '.rss.dat'), 'w') as f:
            for t, mb in ((x.get('watch') or [{}])[0].get('rss_series') or []):
                f.write('%f %f\n' % (t, mb))
        soak_rss.append('"%s/%s.rss.dat" using 1:2 with lines title "%s"' % (d, key, label))
    if not soak_lat:  # no soak in this run: empty panels
        soak_lat, soak_rss = ['1 notitle'], ['0 notitle']
    m = r['machine']
    title = 'wisp bench %s, %s: %d cores, %.0f GiB, load %.1f' % (
        r['date'][:10], r['host'], m['cores'], m['memory_gib'], r['load_avg_start'][0])
    script = '''
set terminal pngcairo size 1500,1500 font ",10"
set output "{png}"
set multiplot layout 3,2 title "{title}"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set xtics rotate by -30
set key top left
set title "warm no-op invoke latency (ms, log scale)"
set logscale y
plot "{d}/lat.dat" using 2:xtic(1) title "p50", "" using 3 title "p90", "" using 4 title "p99", "" using 5 title "p99.9"
unset logscale y
set title "throughput (invokes/s)"
set yrange [0:*]
plot "{d}/tput.dat" using 2:xtic(1) title "invokes/s" lc rgb "#4477aa"
set title "cold, stem cell, paused (ms)"
plot "{d}/cold.dat" using 2:xtic(1) title "p50", "" using 3 title "p99"
set title "latency vs throughput (ms): open loop 50/80/100 %, closed loop points"
unset xtics
set xtics
set xlabel "invokes/s"
set logscale y
set key top left
plot "{d}/open.dat" using 1:2 with linespoints title "open p50" pt 7, "" using 1:3 with linespoints title "open p99" pt 5, "{d}/closed.dat" using 1:2 with points title "closed p50" pt 6 ps 1.5, "" using 1:3 with points title "closed p99" pt 4 ps 1.5
set title "soaks: p99 and max per 10 s window (ms)"
set xlabel "seconds into the soak"
plot {soak_lat}
unset logscale y
set title "soaks: RSS of wisp-standalone (MB)"
set yrange [0:*]
plot {soak_rss}
unset multiplot
'''.format(png=png, title=title.replace('"', "'"), d=d, soak_lat=', '.join(soak_lat),
           soak_rss=', '.join(soak_rss))
    with open(os.path.join(d, 'closed.dat'), 'w') as f:
        for c in r['closed_loop']:
            f.write('%f %f %f\n' % (c['rps'], c['latency_ms']['p50'], c['latency_ms']['p99']))
    with open(os.path.join(d, 'open.dat'), 'w') as f:
        for o in r['open_loop']:
            f.write('%f %f %f\n' % (o['achieved_rps'], o['latency_ms']['p50'], o['latency_ms']['p99']))
    res = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
    if res.returncode != 0:
        print('report: gnuplot failed: ' + res.stderr, file=sys.stderr)
    else:
        print('chart: %s' % png)
    shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--parts', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--png')
    ap.add_argument('--load-end', default='')
    ap.add_argument('--seconds', type=int)
    a = ap.parse_args()
    r = merge(a.parts)
    if a.load_end:
        r['load_avg_end'] = [float(x) for x in a.load_end.split()]
    if a.seconds is not None:
        r['seconds'] = a.seconds
    r['targets'] = targets(r)
    print_table(r)
    with open(a.out, 'w') as f:
        json.dump(r, f, indent=1)
        f.write('\n')
    print('results: %s' % a.out)
    if a.png:
        draw(r, a.png)


if __name__ == '__main__':
    main()
