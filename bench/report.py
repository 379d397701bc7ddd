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
    if dist_lat or dist_closed:
        r['distributed'] = dict(load(parts, 'dist_meta', {}))
        r['distributed']['topology'] = 'nginx (TLS) -> wisp-controller -> dev Kafka broker -> wisp-invoker'
        r['distributed']['warm_latency'] = dist_lat.get('distributed')
        r['distributed']['closed_loop_1_controller_2_invokers'] = sorted(dist_closed, key=lambda c: c['clients'])
    return r


def targets(r):
    t = []

    def add(name, target, measured, unit, ok):
        t.append({'target': name, 'goal': target, 'measured': measured, 'unit': unit,
                  'result': None if ok is None else ('PASS' if ok else 'MISS')})

    rest = r['warm_latency'].get('rest')
    if rest:
        p = rest['latency_ms']
        add('warm blocking invoke p50', '<= 1 ms', round(p['p50'], 3), 'ms', p['p50'] <= 1)
        add('warm blocking invoke p99', '<= 3 ms', round(p['p99'], 3), 'ms', p['p99'] <= 3)
    o = r.get('overhead_over_floor')
    if o:
        add('overhead over the floor, p50', '<= 500 us', o['p50_us'], 'us', o['p50_us'] <= 500)
    if r['closed_loop']:
        best = max(r['closed_loop'], key=lambda c: c['rps'])
        errs = sum(c['errors'] for c in r['closed_loop'])
        add('warm invokes/s, zero errors', '>= 5000/s, 0 errors',
            '%.0f/s (%d clients), %d errors' % (best['rps'], best['clients'], errs), '',
            best['rps'] >= 5000 and errs == 0)
    cs = r['cold_start']
    if cs['stem_cell']:
        # Only the samples that really took a stem cell (waitTime < 5 ms); all of them in the table.
        row = cs['stem_cell'].get('no_wait_latency_ms') or cs['stem_cell']['latency_ms']
        if row['n']:
            add('cold start from a stem cell p50', '<= 50 ms', round(row['p50'], 1), 'ms', row['p50'] <= 50)
    if cs['no_stem_cell'] and cs['docker_run_baseline']:
        p50 = cs['no_stem_cell']['latency_ms']['p50']
        base = cs['docker_run_baseline']['latency_ms']['p50']
        add('cold start without a stem cell p50', '<= docker run + 50 ms = %.0f ms' % (base + 50),
            round(p50, 1), 'ms', p50 <= base + 50)
    fit = r['churn']['within_budget']
    if fit:
        add('churn within budget (%d actions)' % fit['actions'], '>= 300/s',
            '%.0f/s, %d errors' % (fit['rps'], fit['errors']), '', fit['rps'] >= 300 and fit['errors'] == 0)
    over = r['churn']['over_budget']
    if over:
        add('churn over budget', 'report next to the create rate',
            '%.1f/s, %.1f creates/s' % (over['rps'], over['create_rate']), '', None)
    dl = (r.get('distributed') or {}).get('warm_latency')
    if dl:
        p = dl['latency_ms']
        add('distributed warm blocking invoke p50', '<= 3 ms', round(p['p50'], 3), 'ms', p['p50'] <= 3)
    idle = r['rss_mb'].get('idle_no_containers_mb')
    if idle is not None:
        add('idle RSS, no containers', '<= 30 MB', idle, 'MB', idle <= 30)
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
    w('%-52s %9s %9s %9s %7s %8s' % ('(3) closed loop, keep-alive clients', 'invokes/s', 'p50 ms', 'p99 ms', 'errors', 'RSS MB'))
    for c in r['closed_loop']:
        rss = c.get('rss_mb', {}).get('max', float('nan'))
        w('  %-50s %9.0f %9.3f %9.3f %7d %8.1f' % ('%d client%s' % (c['clients'], '' if c['clients'] == 1 else 's'),
                                                   c['rps'], c['latency_ms']['p50'], c['latency_ms']['p99'], c['errors'], rss))
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
        for c in d.get('closed_loop_1_controller_2_invokers', []):
            w('  %-50s %s %7d %6d  %.0f invokes/s' % (
                '1 controller + 2 invokers, %d clients closed loop' % c['clients'], fmt_lat(c['latency_ms']),
                c['latency_ms']['n'], c['errors'], c['rps']))
        w('')
    w('%-44s %-32s %-30s %s' % ('targets', 'goal', 'measured', ''))
    for t in r['targets']:
        measured = '%s %s' % (t['measured'], t['unit']) if t['unit'] else str(t['measured'])
        w('  %-42s %-32s %-30s %s' % (t['target'], t['goal'], measured, t['result'] or '-'))
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
    m = r['machine']
    title = 'wisp bench %s, %s: %d cores, %.0f GiB, load %.1f' % (
        r['date'][:10], r['host'], m['cores'], m['memory_gib'], r['load_avg_start'][0])
    script = '''
set terminal pngcairo size 1500,1000 font ",10"
set output "{png}"
set multiplot layout 2,2 title "{title}"
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
unset multiplot
'''.format(png=png, title=title.replace('"', "'"), d=d)
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
