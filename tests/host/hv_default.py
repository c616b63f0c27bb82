#!/usr/bin/env python3
"""The default `hvsim run`: the hypervisor, the root and two children
created through hypercalls, with hypercall costs per call code whose
stages sum to their totals (issue 4, "How it will be checked"); and the
emulated-device path of the unenlightened child: its port I/O and its
accesses to the HPET (memory it was not given) reach the root's worker
process as SynIC intercept messages, the worker's serial output and ID
register are what the child wrote and read, and every round trip, I/O
and MMIO, shows its six stage markers in order (include/hv/marker.h); and
the PIT's periodic interrupt delivered to the root through the hypervisor,
stage by stage (docs/hypervisor.md "Physical interrupts"); and the
enlightened child's synthetic interrupts (synthetic timers, the root's
SynIC messages), stage by stage.

usage: hv_default.py HVSIM WORKDIR
"""
import json
import os
import re
import subprocess
import sys

failures = []


def check(ok, what):
    print('%s: %s' % ('PASS' if ok else 'FAIL', what))
    if not ok:
        failures.append(what)


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else None


def interrupt_events(lines, bad):
    """Each `interrupt` event with the `interrupt_stages` event after it:
    (index, fields, its fields, the stages' fields)."""
    for i, l in enumerate(lines):
        if 'interrupt' not in l:
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else []
        if 'interrupt_stages' not in nxt:
            bad.append('no stages after ' + ' '.join(l))
            continue
        yield (i, l, dict(x.split('=', 1) for x in l if '=' in x), dict(x.split('=', 1) for x in nxt if '=' in x))


SYNTH_STAGES = ['route', 'dispatch', 'deliver', 'total']


def check_synthetic(out, stats, lines):
    """The enlightened child's synthetic interrupts (docs/hypervisor.md
    "SynIC", "Synthetic time"; partitions/child/interrupts.c): a direct-mode
    and a message-mode periodic timer and the root's PostMessages, in
    stats.json's `synth-timer` and `synic-msg` sources with the counts the
    child reports, and in the trace, where each one's route, dispatch and
    deliver sum to its total."""
    m = re.search(r'enlightened\| PASS: synthetic interrupts: (\d+) direct timer \(vector 0x40\), (\d+) timer messages '
                  r'\(SINT1 vector 0x41\), (\d+) root messages \(SINT3 vector 0x42\), (\d+) EOMs', out)
    check(m is not None, 'the enlightened child took synthetic interrupts: %s' % (m and m.group(0)))
    direct, tmsg, root, eoms = (int(x) for x in m.groups()) if m else (0, 0, 0, 0)
    posted = re.search(r'PASS: enlightened: (\d+) of (\d+) messages posted to its SINT3', out)
    check(posted is not None and int(posted.group(1)) == root == 4 and direct > 5 and tmsg > 5 and
          eoms == tmsg + root, 'the root posted %s messages, the child took %d; %d direct, %d timer messages, '
          '%d EOMs' % (posted and posted.group(1), root, direct, tmsg, eoms))
    ints = stats.get('interrupts', {})
    for kind, want in (('synth-timer', direct + tmsg), ('synic-msg', root)):
        e = ints.get(kind, {})
        st = e.get('stages', {})
        check(e.get('count') == want and all(n in st for n in SYNTH_STAGES + ['eoi']) and
              not any(n in st for n in ('accept', 'ack', 'exit')),
              'stats.json interrupts.%s: count %r (want %d, as the child counted) with stages %r' %
              (kind, e.get('count'), want, sorted(st)))
        if all(n in st for n in SYNTH_STAGES + ['eoi']):
            med = {n: st[n]['median_cycles'] for n in SYNTH_STAGES + ['eoi']}
            # route: from the due time or the VMCALL into the hypervisor and
            # out to the SynIC, at least an exit; deliver: a VM entry and an
            # IDT delivery; eoi: the handler reads the slot and writes EOM.
            check(med['route'] >= 431 and med['dispatch'] > 0 and 300 < med['deliver'] < 5000 and
                  0 < med['eoi'] < 10000 and all(med[n] <= med['total'] for n in SYNTH_STAGES),
                  '%s stage medians plausible (route >= an exit, dispatch > 0, deliver a VM entry and '
                  'an IDT delivery, eoi > 0, none above the total): %r' % (kind, med))
            check(all(st[n]['min_cycles'] <= st[n]['median_cycles'] <= st[n]['p99_cycles'] <= st[n]['max_cycles']
                      for n in st), '%s stages: min <= median <= p99 <= max' % kind)
    check(re.search(r'^  synth-timer +%d ' % (direct + tmsg), out, re.M) is not None and
          re.search(r'^  synic-msg +%d ' % root, out, re.M) is not None and re.search(r'^  pin +\d+ ', out, re.M),
          'the summary\'s interrupt table has rows for pin, synth-timer and synic-msg')

    # From the trace: per vector (kind 6 synth-timer, 7 synic-msg), each
    # in the child's VP, its routed and injecting-entry times between the
    # assertion and the handler, route + dispatch + deliver = total.
    seen, bad = {}, []
    for i, l, f, g in interrupt_events(lines, bad):
        src = int(f['source'], 16)
        kind, vec = src >> 8 & 0xff, src & 0xff
        if kind == 0:
            continue
        a, h, ack = int(f['assert_ps']), int(f['handler_ps']), int(f['ack_ps'])
        r, acc, x, e = int(g['route_ps']), int(g['accept_ps']), int(g['exit_ps']), int(g['entry_ps'])
        parts = [r - a, e - r, h - e]
        seen[(kind, vec)] = seen.get((kind, vec), 0) + 1
        if 'p1' in l or ack or acc or x or min(parts) < 0 or sum(parts) != h - a or kind not in (6, 7):
            bad.append('%s / %s' % (' '.join(l), ' '.join(lines[i + 1])))
    want = {(6, 0x40): direct, (6, 0x41): tmsg, (7, 0x42): root}
    check(seen == want and not bad,
          'synthetic interrupts in the trace by (kind, vector) %r (want %r), each in the child, with '
          'route + dispatch + deliver = total %s' % (seen, want, bad[:2]))


def check_interrupts(out, stats, lines):
    """The PIT's tick reaches the root through the hypervisor
    (docs/hypervisor.md "Physical interrupts"): counted by the root, in
    stats.json's `pin` source with every stage of the virtualized path,
    and in the trace, where each interrupt's stages sum to its total."""
    m = re.search(r'PASS: timer: (\d+) ticks of the PIT \(IRQ 0 -> GSI 2 -> vector 0x30\) in (\d+) TSC cycles', out)
    ticks = int(m.group(1)) if m else 0
    check(m is not None and ticks > 0, 'the root counted PIT ticks: %s' % (m and m.group(0)))
    sim_s = stats['totals']['sim_seconds']
    tick_s = int(m.group(2)) / (stats['lps'][0]['cycles'] / sim_s) if m else 0
    # 1193182 Hz / 1193 = 1000.15 Hz; the first tick ends the first count.
    check(m is not None and abs(ticks - tick_s * 1000.15) <= 1.5 and ticks <= sim_s * 1000.15,
          '%d ticks in the %.2f ms the PIT ran (of %.2f ms simulated): 1 kHz' % (ticks, tick_s * 1e3, sim_s * 1e3))
    pin = stats.get('interrupts', {}).get('pin', {})
    st = pin.get('stages', {})
    names = ['route', 'accept', 'ack', 'exit', 'dispatch', 'deliver', 'eoi', 'total']
    check(pin.get('count') == ticks and all(n in st for n in names),
          'stats.json interrupts.pin: count %r (want %d, every one a tick) with stages %r' %
          (pin.get('count'), ticks, sorted(st)))
    if all(n in st for n in names):
        med = {n: st[n]['median_cycles'] for n in names}
        check(all(med[n] >= 0 for n in names) and all(med[n] > 0 for n in ('exit', 'dispatch', 'deliver', 'eoi'))
              and all(med[n] <= med['total'] for n in names if n != 'eoi'),
              'pin stage medians plausible (>= 0; exit, dispatch, deliver, eoi > 0; none above the total): %r' % med)
        check(all(st[n]['min_cycles'] <= st[n]['median_cycles'] <= st[n]['p99_cycles'] <= st[n]['max_cycles']
                  for n in names), 'pin stages: min <= median <= p99 <= max')

    # Per interrupt from a device pin (source kind 0), from the trace:
    # assert, ack, handler (interrupt) and route, accept, exit done, entry
    # (interrupt_stages, the next event).
    evs, bad = [], []
    for i, l, f, g in interrupt_events(lines, bad):
        if int(f['source'], 16) >> 8 & 0xff != 0:
            continue
        a, ack, h = int(f['assert_ps']), int(f['ack_ps']), int(f['handler_ps'])
        r, acc, x, e = int(g['route_ps']), int(g['accept_ps']), int(g['exit_ps']), int(g['entry_ps'])
        parts = [r - a, acc - r, ack - acc, x - ack, e - x, h - e]
        if not x or not e or min(parts) < 0 or sum(parts) != h - a:
            bad.append('%s / %s' % (' '.join(l), ' '.join(lines[i + 1])))
        evs.append((int(l[0]), parts))
    check(len(evs) == ticks and not bad,
          '%d interrupt events in the trace (want %d), each from a device pin, through a VM exit and an injecting '
          'VM entry, every stage >= 0 and the six summing to its total %s' % (len(evs), ticks, bad[:2]))

    # Where each arrived (the hypervisor's EXT_INTR marker 32: partition
    # << 32 | VP << 8 | vector) and what ran next: a child's slice ends and
    # the root's VP is the next one entered.
    ctx, late = [], []
    for i, l in enumerate(lines):
        if 'marker' in l and 'id=32' in l:
            part = int(dict(x.split('=', 1) for x in l if '=' in x)['arg1'], 16) >> 32
            nxt = next((n for n in lines[i + 1:] if 'vm_entry' in n), [])
            ctx.append(part)
            if 'p1' not in nxt:
                late.append(' '.join(nxt))
    in_child = sum(1 for p in ctx if p != 1)
    check(len(ctx) == ticks and in_child > 0 and not late,
          '%d interrupts passed on by the hypervisor (want %d), %d of them in a child\'s context; the root\'s VP '
          'is entered next every time %s' % (len(ctx), ticks, in_child, late[:2]))
    if len(ctx) == len(evs):
        for label, sel in (('in a child', lambda p: p != 1), ('in the root', lambda p: p == 1)):
            d = [ev[1] for ev, p in zip(evs, ctx) if sel(p)]
            if d:
                print('interrupt %s (%d): median ps exit %d, dispatch %d, deliver %d' %
                      (label, len(d), median([x[3] for x in d]), median([x[4] for x in d]),
                       median([x[5] for x in d])))


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

    # The emulated-device path (partitions/root/README.md "The worker").
    line = 'hello from the unenlightened child over COM1'
    check('vmwp[unenlightened]: serial: %s' % line in out,
          'the child\'s COM1 text arrived through its worker: %r' %
          [l for l in out.splitlines() if l.startswith('vmwp[unenlightened]: serial')])
    read = re.search(r'unenlightened\| PASS: ID port 0x600 reads (0x[0-9a-f]+)', out)
    returned = re.search(r'vmwp\[unenlightened\]: (\d+) intercepts: .* returned (0x[0-9a-f]+);', out)
    check(read is not None and returned is not None and int(read.group(1), 16) == int(returned.group(2), 16),
          'the ID the child read (%s) is the one its worker returned (%s)' %
          (read and read.group(1), returned and returned.group(2)))
    check('unenlightened| PASS: port 0x700, no device: reads 0xff' in out,
          'a port nobody intercepts reads all ones in the child')
    hpet = [l for l in out.splitlines() if l.startswith('unenlightened| ') and 'HPET' in l]
    check(len(hpet) == 9 and all('| PASS: ' in l for l in hpet),
          'the child\'s HPET checks (ID, counter halted, running, halted again, comparator) passed: %d of 9 %r' %
          (sum('| PASS: ' in l for l in hpet), [l for l in hpet if '| PASS: ' not in l]))
    served = re.search(r'PASS: unenlightened: worker pid \d+ exited 0; intercepts: (\d+) taken, (\d+) completed, '
                       r'0 refused', out)
    taken = int(served.group(1)) if served else -1
    check(served is not None and taken > 2 * len(line) and served.group(1) == served.group(2),
          'intercept messages taken by the VID layer = completed (%s); at least two a byte sent' %
          (served and served.groups(),))
    check(re.search(r'PASS: enlightened: worker pid \d+ exited 0; intercepts: 0 taken', out) is not None,
          'the enlightened child made no port access: its worker got no request')

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
    # The intercept round trips, stage by stage (marker ids 6-11: EXIT,
    # POSTED, TAKEN, WORKER_START, WORKER_DONE, RESUMED; 13, GPA_EXIT, in
    # place of EXIT for an MMIO one), keyed by partition << 32 | VP.
    names = ['exit', 'posted', 'taken', 'worker_start', 'worker_done', 'resumed']
    open_trips, trips, disorder = {}, {'I/O': [], 'MMIO': []}, []
    for l in lines:
        if 'marker' not in l:
            continue
        f = dict(x.split('=', 1) for x in l if '=' in x)
        mid, key = int(f['id']), int(f['arg1'], 16)
        if not (6 <= mid <= 11 or mid == 13):
            continue
        stage, t = 0 if mid == 13 else mid - 6, int(l[0])
        kind, trip = open_trips.setdefault(key, ('MMIO' if mid == 13 else 'I/O', []))
        if len(trip) != stage:
            disorder.append('marker %d after %d stages: %s' % (mid, len(trip), ' '.join(l)))
            kind, trip = open_trips[key] = ('MMIO' if mid == 13 else 'I/O', [])
            if stage != 0:
                continue
        trip.append(t)
        if mid == 11:
            trips[kind].append(trip)
            del open_trips[key]
    mmio = re.search(r'vmwp\[unenlightened\]: (\d+) MMIO accesses emulated: \d+ reads, \d+ writes; (\d+) to the HPET; '
                     r'0 not emulated', out)
    n_mmio = int(mmio.group(1)) if mmio else -1
    check(mmio is not None and n_mmio == int(mmio.group(2)) and n_mmio >= 20 and
          returned is not None and int(returned.group(1)) + n_mmio == taken,
          'the worker emulated %d MMIO accesses, all to the HPET, and the port accesses: %s + %d = %d taken' %
          (n_mmio, returned and returned.group(1), n_mmio, taken))
    check(len(trips['I/O']) + len(trips['MMIO']) == taken and len(trips['MMIO']) == n_mmio and not disorder and
          not open_trips,
          '%d I/O and %d MMIO intercept round trips in the trace, each with its six stages in order (want %d in '
          'all, %d MMIO; %s; %d open)' % (len(trips['I/O']), len(trips['MMIO']), taken, n_mmio, disorder[:2],
                                          len(open_trips)))
    for kind, tr in trips.items():
        if not tr:
            continue
        stages = [sorted(t[i + 1] - t[i] for t in tr) for i in range(5)]
        total = sorted(t[5] - t[0] for t in tr)
        print('%s intercept round trip (%d), median cycles: %s; total %d' %
              (kind, len(tr), ', '.join('%s->%s %d' % (names[i], names[i + 1], stages[i][len(tr) // 2])
                                        for i in range(5)), total[len(tr) // 2]))
        check(all(t[0] < t[1] < t[2] < t[3] < t[4] < t[5] for t in tr),
              'in every %s round trip each stage comes strictly after the one before' % kind)

    check_interrupts(out, stats, lines)
    check_synthetic(out, stats, lines)

    hc_total = sum(e['count'] for e in hc.values())
    check(calls == hc_total and not bad,
          '%d hypercall events in the trace (stats.json: %d), every one\'s stages sum to its total %s' %
          (calls, hc_total, bad[:2]))
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
