#!/usr/bin/env python3
"""VM entries and exits in the reports: stats.json lps[].vmx and the
system.lpN.vmx.* lines of stats.txt, from the calibration guest (16
timed VMCALL round trips after one untimed, the last exit not resumed).

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


def main():
    hvsim, work, kernel, profile = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    r = subprocess.run([hvsim, 'boot', '-q', '--raw-exit', '-o', work, kernel, 'round_trip=784'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    failures = []
    if r.returncode != 0:
        failures.append('guest exit status %d: %s' % (r.returncode, r.stderr.strip()))
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
    txt = open(os.path.join(work, 'stats.txt')).read()
    if not re.search(r'^system\.lp0\.vmx\.exit\.vmcall\.count\s+%d\s+#' % EXITS, txt, re.M):
        failures.append('stats.txt lacks system.lp0.vmx.exit.vmcall.count %d' % EXITS)
    for f in failures:
        print('FAIL: ' + f)
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
