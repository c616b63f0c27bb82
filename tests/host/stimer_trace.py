#!/usr/bin/env python3
"""Synthetic-timer expiry markers in the trace (include/hv/marker.h
HV_MARK_STIMER, docs/hypervisor.md "Synthetic time"): the synthetic-time
test child (tests/hv/stimer.yaml) runs with a trace; every expiry marker
comes at or after the TSC it names as due (a timer never fires early) and
within 10 us of it, names the child's VP 0, and the direct-mode timer's
say so.

usage: stimer_trace.py HVSIM WORKDIR CONFIG
"""
import os
import subprocess
import sys

failures = []


def check(ok, what):
    print('%s: %s' % ('PASS' if ok else 'FAIL', what))
    if not ok:
        failures.append(what)


def main():
    hvsim, work, config = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    trace = os.path.join(work, 'run.hvt')
    r = subprocess.run([hvsim, 'run', '-q', '-o', work, '--trace', trace, config], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    check(r.returncode == 0, 'hvsim run exits 0 (got %d: %s)' % (r.returncode, r.stderr.strip()[-200:]))
    d = subprocess.run([hvsim, 'trace', 'dump', trace], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    marks = []
    for l in d.stdout.splitlines():
        f = l.split()
        if 'marker' not in f:
            continue
        kv = dict(x.split('=', 1) for x in f if '=' in x)
        if int(kv['id']) == 12:
            marks.append((int(f[0]), int(kv['arg1'], 16), int(kv['arg2'], 16), int(kv['arg3'], 16)))
    # stimer_child.c: one-shot, five periodic (more may follow before the
    # disable), direct, two for the busy slot.
    check(len(marks) >= 9, '%d expiry markers (want at least 9)' % len(marks))
    late = [m[0] - m[1] for m in marks]
    check(all(0 <= x <= 34000 for x in late),
          'every marker at or after its due TSC, within 34000 cycles (10 us at 3.4 GHz): %r' % late)
    check(all(m[2] & 0xffffffff == 0 and m[2] >> 32 > 1 for m in marks),
          'every marker names VP 0 of the child: %r' % sorted({hex(m[2]) for m in marks}))
    timers = [(m[3] & 0xff, m[3] >> 8) for m in marks]
    check((2, 1) in timers and all(d == (t == 2) for t, d in timers),
          'timer 2 (and only it) is in direct mode: %r' % timers)
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
