#!/usr/bin/env python3
"""`hvsim run --lps N`: hv_model starts every application processor with
INIT-SIPI-SIPI, each enters VMX operation (issue 4 "Boot": VMXON on every
LP), the run still ends as the default one does, and the VPs run where
docs/hypervisor.md "Scheduling" places them: the root's on LP0, each
child's VP on the LP with the fewest VPs, so with N >= 3 the default run's
two one-VP children run on LP1 and LP2, and no VM entry happens on any
other LP.

usage: hv_smp.py HVSIM LPS OUTDIR
"""
import json
import os
import subprocess
import sys

hvsim, lps, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(outdir, exist_ok=True)
p = subprocess.run([hvsim, 'run', '-o', outdir, '--lps', str(lps)], capture_output=True, text=True, timeout=600)
out = p.stdout + p.stderr
fails = 0


def check(ok, what):
    global fails
    print('%s: %s' % ('PASS' if ok else 'FAIL', what))
    fails += not ok


want = 'hv: %d LPs up, VMX on on each' % lps
check(p.returncode == 0 and want in out, '%r in the log, exit status %d' % (want, p.returncode))
if p.returncode == 0:
    with open(os.path.join(outdir, 'stats.json')) as f:
        stats = json.load(f)
    entries = [lp['vmx']['entries'] for lp in stats['lps']]
    check(len(entries) == lps, 'stats.json has %d LPs (want %d)' % (len(entries), lps))
    if lps >= 3:
        check(all(e > 0 for e in entries[:3]), 'VM entries on LP0-LP2 (the root, then one child each): %s' % entries[:3])
        check(all(e == 0 for e in entries[3:]), 'none on the other LPs: %s' % entries[3:])
if fails:
    print(out[-3000:])
sys.exit(1 if fails else 0)
