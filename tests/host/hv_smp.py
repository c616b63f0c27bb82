#!/usr/bin/env python3
"""`hvsim run --lps N`: hv_model starts every application processor with
INIT-SIPI-SIPI, each enters VMX operation (issue 4 "Boot": VMXON on every
LP), and the run still ends as the default one does.

usage: hv_smp.py HVSIM LPS
"""
import subprocess
import sys

hvsim, lps = sys.argv[1], int(sys.argv[2])
p = subprocess.run([hvsim, 'run', '--no-stats', '--lps', str(lps)], capture_output=True, text=True, timeout=600)
out = p.stdout + p.stderr
want = 'hv: %d LPs up, VMX on on each' % lps
ok = p.returncode == 0 and want in out
print('%s: %r in the log, exit status %d' % ('PASS' if ok else 'FAIL', want, p.returncode))
if not ok:
    print(out[-3000:])
sys.exit(0 if ok else 1)
