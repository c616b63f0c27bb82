#!/usr/bin/env python3
"""VM entries and exits in the reports: stats.json lps[].vmx, the
system.lpN.vmx.* lines of stats.txt and the --trace event trace, from the
calibration guest (16 timed VMCALL round trips after one untimed, the
last exit not resumed).

usage: vmx_stats.py HVSIM WORKDIR VMX_CALIB_KERNEL PROFILE_YAML
"""
import json
import os
import re
import subprocess
import sys

EXITS = 17      # vmx_calib: ITERATIONS + 1 VMCALLs
RESUMED = 16    # ... each but the last followed by a VMRESUME


def profile_costs(path):
    """vm_exit and vm_entry from the profile's vmx_costs section."""
    text = open(path).read()
    sect = text[text.index('\nvmx_costs:'):]
    get = lambda k: int(re.search(r'\n\s+%s:\s*(\d+)' % k, sect).group(1))
    return get('vm_exit'), get('vm_entry')


def check_trace(hvsim, path, vm_exit, vm_entry):
    """The dump: one vm_entry per VMLAUNCH/VMRESUME, one vm_exit per
    VMCALL, alternating, with the profile's transition costs."""
    r = subprocess.run([hvsim, 'trace', 'dump', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    if r.returncode != 0:
        return ['trace dump exit status %d: %s' % (r.returncode, r.stderr.strip())]
    lines = r.stdout.splitlines()
    meta = [l for l in lines if l.startswith('# ')]
    ev = [l.split() for l in lines if not l.startswith('#')]
    bad = []
    if '# profile=sandybridge' not in meta or '# lps=1' not in meta:
        bad.append('trace meta %r' % meta)
    kinds = [e[2] for e in ev]
    if kinds != ['vm_entry', 'vm_exit'] * EXITS:
        bad.append('trace events %r' % kinds[:6])
        return bad
    for i, e in enumerate(ev):
        f = dict(x.split('=', 1) for x in e[3:])
        if e[1] != 'lp0':
            bad.append('event %d on %s' % (i, e[1]))
        if e[2] == 'vm_entry':
            want = {'launch': '1' if i == 0 else '0', 'intr_info': '0x0', 'cycles': str(vm_entry)}
        else:
            want = {'reason': '0x12(vmcall)', 'qual': '0x0', 'cycles': str(vm_exit)}
        for k, w in want.items():
            if f.get(k) != w:
                bad.append('event %d: %s=%r, expected %r' % (i, k, f.get(k), w))
    stamps = [int(e[0]) for e in ev]
    if stamps != sorted(stamps):
        bad.append('cycle stamps go backwards on one LP')
    return bad


def main():
    hvsim, work, kernel, profile = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    traces = [os.path.join(work, n) for n in ('a.hvt', 'b.hvt')]
    failures = []
    for t in traces:
        r = subprocess.run([hvsim, 'boot', '-q', '--raw-exit', '-o', work, '--trace', t, kernel, 'round_trip=784'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        if r.returncode != 0:
            failures.append('guest exit status %d: %s' % (r.returncode, r.stderr.strip()))
    if open(traces[0], 'rb').read() != open(traces[1], 'rb').read():
        failures.append('two identical runs wrote different traces')
    vm_exit, vm_entry = profile_costs(profile)
    v = json.load(open(os.path.join(work, 'stats.json')))['lps'][0]['vmx']
    want = {'entries': EXITS, 'failed_entries': 0, 'exits': EXITS,
            'entry_cycles': EXITS * vm_entry, 'exit_cycles': EXITS * vm_exit}
    for k, w in want.items():
        if v.get(k) != w:
            failures.append('vmx.%s = %r, expected %r' % (k, v.get(k), w))
    by = v.get('exits_by_reason', {})
    if list(by) != ['vmcall']:
        failures.append('exits_by_reason has %r, expected only vmcall' % list(by))
    else:
        vc = by['vmcall']
        if vc['reason'] != 18 or vc['count'] != EXITS:
            failures.append('vmcall: reason %r count %r' % (vc['reason'], vc['count']))
        # Each resumed exit: both transitions plus the handler's few
        # instructions (a VMREAD pair, an add, a VMWRITE, a decrement).
        per = vc['cycles'] / RESUMED
        if vc['cycles'] % RESUMED or not vm_exit + vm_entry < per < vm_exit + vm_entry + 200:
            failures.append('vmcall cycles %r: %r per round trip' % (vc['cycles'], per))
    failures += check_trace(hvsim, traces[0], vm_exit, vm_entry)
    txt = open(os.path.join(work, 'stats.txt')).read()
    if not re.search(r'^system\.lp0\.vmx\.exit\.vmcall\.count\s+%d\s+#' % EXITS, txt, re.M):
        failures.append('stats.txt lacks system.lp0.vmx.exit.vmcall.count %d' % EXITS)
    for f in failures:
        print('FAIL: ' + f)
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
