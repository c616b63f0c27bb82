#!/usr/bin/env python3
"""Event-flag interrupts, stage by stage: the SynIC test device's run
(tests/hv/synic_device.yaml), where the enlightened child signals events
on a connection to its own SINT6 (partitions/child/README.md "Synthetic
interrupts").  stats.json's `event-flag` source counts what the child
counted, with route, dispatch, deliver and total, and eoi for each (the
handler EOIs its virtual APIC: SINT6 has no auto-EOI); in the trace each
one's stages sum to its total.

usage: synic_stats.py HVSIM CONFIG WORKDIR
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hv_default import SYNTH_STAGES, check, failures, interrupt_events  # noqa: E402


def main():
    hvsim, config, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    trace = os.path.join(work, 'run.hvt')
    r = subprocess.run([hvsim, 'run', '-o', work, '--trace', trace, config], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    check(r.returncode == 0, 'hvsim run exits 0 (got %d: %s)' % (r.returncode, r.stderr.strip()[-200:]))
    # The child's log overflows its mailbox here, so its event line may
    # be dropped: its check (3 SignalEvents, 3 interrupts) passed when
    # none failed.
    m = re.search(r'PASS: synicdev: (\d+) checks, 0 failed', r.stdout)
    events = 3 if m else 0
    check(m is not None, 'the child\'s checks passed, its 3 SignalEvents on SINT6 among them: %s' %
          (m and m.group(0)))
    e = json.load(open(os.path.join(work, 'stats.json'))).get('interrupts', {}).get('event-flag', {})
    st = e.get('stages', {})
    want = sorted(SYNTH_STAGES + ['eoi'])
    check(e.get('count') == events and sorted(st) == want and st['eoi']['count'] == events,
          'stats.json interrupts.event-flag: count %r (want %d) with stages %r (want %r, an eoi each)' %
          (e.get('count'), events, sorted(st), want))
    if sorted(st) == want:
        med = {n: st[n]['median_cycles'] for n in SYNTH_STAGES}
        # route: the SignalEvent's VMCALL exit and the hypervisor up to
        # the flag; dispatch: the rest of the call and the entry.
        check(med['route'] >= 431 and med['dispatch'] > 0 and med['deliver'] > 300 and
              all(med[n] <= med['total'] for n in SYNTH_STAGES),
              'event-flag stage medians plausible (route >= an exit, dispatch > 0, deliver a VM entry and an '
              'IDT delivery, none above the total): %r' % med)
    d = subprocess.run([hvsim, 'trace', 'dump', trace], stdout=subprocess.PIPE, text=True, timeout=600)
    lines = [l.split() for l in d.stdout.splitlines() if not l.startswith('#')]
    bad, n = [], 0
    for i, l, f, g in interrupt_events(lines, bad):
        src = int(f['source'], 16)
        if src >> 8 & 0xff != 8:
            continue
        n += 1
        a, h, e_ = int(f['assert_ps']), int(f['handler_ps']), int(g['entry_ps'])
        parts = [int(g['route_ps']) - a, e_ - int(g['route_ps']), h - e_]
        if src & 0xff != 0x43 or src >> 16 & 0xff != 6 or min(parts) < 0 or sum(parts) != h - a:
            bad.append(' '.join(l))
    check(n == events and not bad, '%d event-flag interrupts in the trace (want %d), vector 0x43 from SINT6, '
          'route + dispatch + deliver = total %s' % (n, events, bad[:2]))
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
