#!/usr/bin/env python3
"""MSI delivery, measured: the edu PCI device's guest test
(tests/guest/pci_edu.c) run with two LPs, a trace and the reports.
stats.json's `interrupts` has an `msi` row counting every MSI the
handlers saw (the BSP's and the AP's, as the guest's last line says) and
a `pin` row for its INTx interrupts, with the bare platform's stages
(route, accept, ack, deliver, eoi, total; no VM exit or entry).  In the
trace, every MSI comes from 00:03.0 (origin pin = devfn 0x18) with the
vector the guest programmed for its LP (0x62 the BSP, 0x70 the AP);
each stage is >= 0; the APIC bus is synchronous, so accept = route; and
exactly one was routed later than asserted: the one held in its pending
bit while masked (PCI 3.0 6.8.3.4), routed at the unmask.  Two runs
write byte-identical traces.

usage: pci_msi.py HVSIM WORKDIR PCI_EDU_KERNEL
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hv_default import check, failures, interrupt_events  # noqa: E402

BARE_STAGES = ['accept', 'ack', 'deliver', 'eoi', 'route', 'total']
EDU_DEVFN = 3 << 3
VECTOR = {'lp0': 0x62, 'lp1': 0x70}


def main():
    hvsim, work, kernel = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    traces = [os.path.join(work, n) for n in ('a.hvt', 'b.hvt')]
    out = ''
    for t in traces:
        r = subprocess.run([hvsim, 'boot', '--raw-exit', '--lps', '2', '-o', work, '--trace', t, kernel],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        check(r.returncode == 0, 'the guest test passes (exit %d: %s)' % (r.returncode, r.stderr.strip()[-200:]))
        out = r.stdout
    check(open(traces[0], 'rb').read() == open(traces[1], 'rb').read(), 'two runs write the same trace')

    m = re.search(r'edu: (\d+) MSIs and (\d+) INTx interrupts handled', out)
    check(m is not None, 'the guest counted its interrupts: %s' % (m and m.group(0)))
    n_msi, n_intx = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    ints = json.load(open(os.path.join(work, 'stats.json'))).get('interrupts', {})
    for kind, want in (('msi', n_msi), ('pin', n_intx)):
        e = ints.get(kind, {})
        st = e.get('stages', {})
        check(e.get('count') == want and want > 0 and sorted(st) == BARE_STAGES,
              'stats.json interrupts.%s: count %r (want %d) with stages %r (want %r)' %
              (kind, e.get('count'), want, sorted(st), BARE_STAGES))

    d = subprocess.run([hvsim, 'trace', 'dump', traces[0]], stdout=subprocess.PIPE, text=True, timeout=120)
    lines = [l.split() for l in d.stdout.splitlines() if not l.startswith('#')]
    bad, n, late, per_lp = [], 0, 0, {}
    for i, l, f, g in interrupt_events(lines, bad):
        src = int(f['source'], 16)
        if src >> 8 & 0xff != 1:
            continue
        n += 1
        per_lp[l[1]] = per_lp.get(l[1], 0) + 1
        a, ack, h = int(f['assert_ps']), int(f['ack_ps']), int(f['handler_ps'])
        r, acc = int(g['route_ps']), int(g['accept_ps'])
        parts = [r - a, acc - r, ack - acc, h - ack]
        if (src & 0xff != VECTOR.get(l[1]) or src >> 16 & 0xff != EDU_DEVFN or min(parts) < 0 or acc != r or
                int(g['exit_ps']) or int(g['entry_ps'])):
            bad.append(' '.join(l) + ' / ' + ' '.join(lines[i + 1]))
        late += r > a
    check(n == n_msi and per_lp.get('lp1') == 2 and not bad,
          '%d MSIs in the trace (want %d), %r by LP (2 on the AP), each from 00:03.0 on its LP\'s vector, '
          'stages >= 0, accepted as routed %s' % (n, n_msi, per_lp, bad[:2]))
    check(late == 1, '%d MSI routed after it was asserted (want 1: the one masked until the unmask)' % late)
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
