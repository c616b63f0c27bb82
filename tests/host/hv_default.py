#!/usr/bin/env python3
"""The default `hvsim run`: the hypervisor, the root and two children
created through hypercalls, with hypercall costs per call code whose
stages sum to their totals (issue 4, "How it will be checked").

usage: hv_default.py HVSIM WORKDIR
"""
import json
import os
import subprocess
import sys

failures = []


def check(ok, what):
    print('%s: %s' % ('PASS' if ok else 'FAIL', what))
    if not ok:
        failures.append(what)


def main():
    hvsim, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    trace = os.path.join(work, 'run.hvt')
    r = subprocess.run([hvsim, 'run', '-o', work, '--trace', trace], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    check(r.returncode == 0, 'hvsim run exits 0 (got %d: %s)' % (r.returncode, r.stderr.strip()[-200:]))
    out = r.stdout
    for name in ('enlightened', 'unenlightened'):
        check('vmms: %s: created -> running' % name in out and 'vmms: %s: running -> stopped' % name in out,
              'child %s created, run and stopped by the root' % name)
    check('hypercalls:' in out and 'HvCallCreatePartition' in out, 'the summary prints hypercall costs per call')

    stats = json.load(open(os.path.join(work, 'stats.json')))
    hc = stats['hypercalls']
    for name in ('HvCallCreatePartition', 'HvCallInitializePartition', 'HvCallCreateVp', 'HvCallMapGpaPages',
                 'HvCallSetVpRegisters', 'HvCallFinalizePartition', 'HvCallWithdrawMemory',
                 'HvCallDeletePartition'):
        check(name in hc and hc[name]['count'] >= 2,
              'stats.json: %s made for both children (%r)' % (name, hc.get(name, {}).get('count')))
    for name, e in hc.items():
        c = e['cycles']
        check(c['min'] <= c['median'] <= c['p99'] <= c['max'], '%s: min <= median <= p99 <= max %r' % (name, c))
    parts = stats['partitions']
    children = [p for pid, p in parts.items() if pid != '1']
    check(len(children) == 2 and all(list(p['lifecycle_cycles']) ==
                                      ['created', 'initialized', 'finalized', 'deleted'] for p in children),
          'two children with the whole lifecycle: %r' % {k: list(v['lifecycle_cycles']) for k, v in parts.items()})

    d = subprocess.run([hvsim, 'trace', 'dump', trace], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    lines = [l.split() for l in d.stdout.splitlines() if not l.startswith('#')]
    calls = 0
    bad = []
    for i, l in enumerate(lines):
        if 'hypercall' not in l:
            continue
        calls += 1
        total = int(dict(x.split('=', 1) for x in l if '=' in x)['cycles'])
        nxt = lines[i + 1] if i + 1 < len(lines) else []
        if 'hypercall_stages' not in nxt:
            bad.append('no stages after %r' % l)
            continue
        st = dict(x.split('=', 1) for x in nxt if '=' in x)
        if sum(int(st[k]) for k in ('exit', 'dispatch', 'body', 'entry')) != total:
            bad.append(' '.join(l) + ' / ' + ' '.join(nxt))
    hc_total = sum(e['count'] for e in hc.values())
    check(calls == hc_total and not bad,
          '%d hypercall events in the trace (stats.json: %d), every one\'s stages sum to its total %s' %
          (calls, hc_total, bad[:2]))
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
