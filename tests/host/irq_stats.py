#!/usr/bin/env python3
"""Interrupts the hypervisor raises for its VPs, followed across LPs
(docs/cli.md stats.json `interrupts`).  With two LPs the root runs on LP0
and the children's VPs elsewhere (docs/hypervisor.md "Scheduling"), so a
message the root posts is injected on another LP than the one that
posted it.

The default run with --lps 2: the enlightened child's synthetic timers
and the root's messages are in stats.json's `synth-timer` and `synic-msg`
sources as many times as the child counted them, each with an `eoi`
sample for every EOM or EOI it wrote, every stage shorter than the run, and in
the trace route + dispatch + deliver = total.  The hypervisor's kicks
between the LPs are its own `hv-kick` source, each ending at an exit or
through the hypervisor's IDT, and none of them is a guest's `ipi`.

A child's virtual APIC with its two VPs on two LPs (tests/hv/vapic.yaml,
apic_timer.yaml with --lps 2): the IPIs between its VPs are `vipi`, as
many as the guest's handlers took and each with its EOI (x2APIC MSR,
HV_X64_MSR_EOI or the VP assist page's EOI assist), and its APIC timer's
interrupts are `vapic-timer`, as many as its handlers counted; neither is
counted as a physical `ipi` or `lapic-timer`.

usage: irq_stats.py HVSIM WORKDIR VAPIC_CONFIG APIC_TIMER_CONFIG
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hv_default import SYNTH_STAGES, check, failures, interrupt_events  # noqa: E402


def run(hvsim, work, name, args):
    """`hvsim run` with a trace: its output, stats.json and trace lines."""
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    trace = os.path.join(d, 'run.hvt')
    r = subprocess.run([hvsim, 'run', '-o', d, '--trace', trace] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    check(r.returncode == 0, '%s: hvsim run %s exits 0 (got %d: %s)' % (name, ' '.join(args), r.returncode,
                                                                        r.stderr.strip()[-200:]))
    stats = {}
    if os.path.exists(os.path.join(d, 'stats.json')):
        stats = json.load(open(os.path.join(d, 'stats.json')))
    t = subprocess.run([hvsim, 'trace', 'dump', trace], stdout=subprocess.PIPE, text=True, timeout=600)
    lines = [l.split() for l in t.stdout.splitlines() if not l.startswith('#')]
    return r.stdout, stats, lines


def run_cycles(stats):
    return max(lp['cycles'] for lp in stats.get('lps', [{'cycles': 0}]))


def check_bounded(name, stats, kind):
    """Every stage of `kind` no longer than the run, min <= median <= p99
    <= max, and as many samples of route, dispatch, deliver and total as
    the count."""
    e = stats.get('interrupts', {}).get(kind, {})
    st, n, end = e.get('stages', {}), e.get('count'), run_cycles(stats)
    check(all(st.get(s, {}).get('count') == n for s in SYNTH_STAGES),
          '%s: %s has %r samples of route, dispatch, deliver and total (want its count %r)' %
          (name, kind, [st.get(s, {}).get('count') for s in SYNTH_STAGES], n))
    check(all(st[s]['min_cycles'] <= st[s]['median_cycles'] <= st[s]['p99_cycles'] <= st[s]['max_cycles'] < end
              for s in st), '%s: %s stages ordered and each shorter than the run (%d cycles): %r' %
          (name, kind, end, {s: st[s]['max_cycles'] for s in st}))


def check_trace_sums(name, lines, kinds):
    """route + dispatch + deliver = total for each synthetic interrupt of
    `kinds` in the trace; returns how many of each kind."""
    bad, seen = [], {}
    for i, l, f, g in interrupt_events(lines, bad):
        src = int(f['source'], 16)
        kind = src >> 8 & 0xff
        if kind not in kinds:
            continue
        seen[kind] = seen.get(kind, 0) + 1
        a, h, e = int(f['assert_ps']), int(f['handler_ps']), int(g['entry_ps'])
        parts = [int(g['route_ps']) - a, e - int(g['route_ps']), h - e]
        if min(parts) < 0 or sum(parts) != h - a or int(f['ack_ps']) or int(g['accept_ps']) or int(g['exit_ps']):
            bad.append('%s / %s' % (' '.join(l), ' '.join(lines[i + 1])))
    check(not bad, '%s: route + dispatch + deliver = total for every interrupt of kinds %r in the trace %s' %
          (name, kinds, bad[:2]))
    return seen


def check_default_lps2(hvsim, work):
    """The default run's enlightened child on LP1, the root posting from
    LP0."""
    out, stats, lines = run(hvsim, work, 'default-lps2', ['--lps', '2'])
    m = re.search(r'enlightened\| PASS: synthetic interrupts: (\d+) direct timer \(vector 0x40\), (\d+) timer messages '
                  r'\(SINT1 vector 0x41\), (\d+) root messages \(SINT3 vector 0x42\), (\d+) EOMs', out)
    check(m is not None, 'default-lps2: the child counted its synthetic interrupts: %s' % (m and m.group(0)))
    direct, tmsg, root, eoms = (int(x) for x in m.groups()) if m else (0, 0, 0, 0)
    check(root == 4 and eoms == tmsg + root and direct > 5 and tmsg > 5,
          'default-lps2: %d direct, %d timer messages, %d root messages, %d EOMs' % (direct, tmsg, root, eoms))
    ints = stats.get('interrupts', {})
    # A message ends at its EOM, a direct-mode timer at its EOI (the child
    # does both for each).
    for kind, want, want_eoi in (('synth-timer', direct + tmsg, direct + tmsg), ('synic-msg', root, root)):
        e = ints.get(kind, {})
        st = e.get('stages', {})
        check(e.get('count') == want and st.get('eoi', {}).get('count') == want_eoi,
              'default-lps2: stats.json interrupts.%s: count %r (want %d, as the child counted), eoi samples %r '
              '(want %d, one per EOM or EOI)' % (kind, e.get('count'), want, st.get('eoi', {}).get('count'), want_eoi))
        check_bounded('default-lps2', stats, kind)
    seen = check_trace_sums('default-lps2', lines, (6, 7))
    check(seen == {6: direct + tmsg, 7: root}, 'default-lps2: trace interrupts by kind %r (want %r)' %
          (seen, {6: direct + tmsg, 7: root}))
    check_kicks('default-lps2', stats, lines)


def check_kicks(name, stats, lines):
    """The hypervisor's kicks (docs/hypervisor.md "Scheduling"): their own
    row, no `ipi` (the root sends none), each ended by an exit or through
    the hypervisor's IDT and EOIed by it; in the trace each one's stages
    sum to its total."""
    ints = stats.get('interrupts', {})
    k = ints.get('hv-kick', {})
    st, n = k.get('stages', {}), k.get('count', 0)
    check(n > 0 and 'ipi' not in ints, '%s: %d hv-kick interrupts, no ipi row (%r)' % (name, n, sorted(ints)))
    check('dispatch' not in st and st.get('exit', {}).get('count', 0) + st.get('deliver', {}).get('count', 0) == n and
          all(st.get(s, {}).get('count') == n for s in ('route', 'accept', 'ack', 'eoi', 'total')),
          '%s: hv-kick stages %r: route, accept, ack, eoi, total for each; exit or deliver' %
          (name, {s: st[s]['count'] for s in st}))
    bad, seen = [], 0
    for i, l, f, g in interrupt_events(lines, bad):
        if int(f['source'], 16) >> 8 & 0xff != 9:
            continue
        seen += 1
        a, ack, h = int(f['assert_ps']), int(f['ack_ps']), int(f['handler_ps'])
        r, acc, x, e = int(g['route_ps']), int(g['accept_ps']), int(g['exit_ps']), int(g['entry_ps'])
        parts = [r - a, acc - r, ack - acc] + ([x - ack] if x else [h - ack])
        if int(f['source'], 16) & 0xff != 0xf2 or e or (x and x != h) or min(parts) < 0 or sum(parts) != h - a:
            bad.append('%s / %s' % (' '.join(l), ' '.join(lines[i + 1])))
    check(seen == n and not bad, '%s: %d kicks in the trace (want %d), vector 0xf2, none injected, '
          'route + accept + ack + exit or deliver = total %s' % (name, seen, n, bad[:2]))


def check_child_apic(hvsim, work, name, config, kind, pattern):
    """One child's interrupts through its virtual APIC: `kind` counted as
    the guest counted them (`pattern`'s first group), an eoi each, bounded,
    in the trace route + dispatch + deliver = total; and no physical IPI."""
    out, stats, lines = run(hvsim, work, name, ['--lps', '2', config])
    m = re.search(pattern, out)
    check(m is not None, '%s: the guest counted them: %s' % (name, m and m.group(0)))
    want = int(m.group(1)) if m else -1
    ints = stats.get('interrupts', {})
    e = ints.get(kind, {})
    st = e.get('stages', {})
    check(e.get('count') == want and st.get('eoi', {}).get('count') == want,
          '%s: stats.json interrupts.%s: count %r, eoi samples %r (want %d each, as the guest counted)' %
          (name, kind, e.get('count'), st.get('eoi', {}).get('count'), want))
    check('ipi' not in ints and not any(s in st for s in ('accept', 'ack', 'exit')),
          '%s: no physical ipi row (%r), no LAPIC stages in %s (%r)' % (name, sorted(ints), kind, sorted(st)))
    check_bounded(name, stats, kind)
    num = {'vapic-timer': 10, 'vipi': 11}[kind]
    seen = check_trace_sums(name, lines, (num,))
    check(seen.get(num) == want, '%s: %r %s interrupts in the trace (want %d)' % (name, seen.get(num), kind, want))
    return stats


def main():
    hvsim, work, vapic, apic_timer = sys.argv[1:5]
    check_default_lps2(hvsim, work)
    check_child_apic(hvsim, work, 'vapic-lps2', vapic, 'vipi', r'vapic\| PASS: IPIs: (\d+) taken')
    check_child_apic(hvsim, work, 'apic-timer-lps2', apic_timer, 'vapic-timer',
                     r'apic_timer\| INFO: APIC timer: (\d+) interrupts taken')
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
