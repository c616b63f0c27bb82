#!/usr/bin/env python3
"""MMIO accesses the root's worker cannot emulate (docs/hypervisor.md
"Intercepts"): two children of tests/hv/mmio_crash.yaml touch memory they
were not given, one where no device is and one with an instruction the
worker does not decode (an ADD to the HPET).  Each reaches the worker as
an unmapped-GPA intercept; the worker reports it as a guest crash, with
the GPA and RIP the child logged before the access, and stops that child,
which never runs past it.  The root and the other two children (the
built unenlightened child, HPET included, and the enlightened one) go on
and finish; every child is torn down and every page comes back.  The
same again with two LPs, where the crashing children run on the other LP.

usage: mmio_crash.py HVSIM CONFIG
"""
import re
import subprocess
import sys

hvsim, config = sys.argv[1:3]
failures = 0


def check(ok, what):
    global failures
    print('%s: %s' % ('PASS' if ok else 'FAIL', what))
    failures += not ok


CRASHES = {'nodev': 'an access where no device is', 'notmov': 'an instruction other than MOV, MOVZX, MOVSX'}

for lps in ('1', '2'):
    r = subprocess.run([hvsim, 'run', '--no-stats', '--lps', lps, config], capture_output=True, text=True,
                       timeout=600)
    out = r.stdout
    print('--- %s LP(s) ---' % lps)
    # The root's checks fail for the two crashed children only: exit 1.
    root = re.search(r'^root: (\d+) passed, (\d+) failed$', out, re.M)
    check(r.returncode == 1 and root is not None and root.group(2) == '2',
          'the run ends with the root\'s report, 2 failures (the crashed children), exit 1: %s, exit %d' %
          (root and root.group(0), r.returncode))
    for name, why in CRASHES.items():
        said = re.search(r'^%s\| INFO: .* at GPA (0x[0-9a-f]+), RIP (0x[0-9a-f]+)$' % name, out, re.M)
        fail = re.search(r'^FAIL: vmwp\[%s\]: VP 0: (.*) at GPA (0x[0-9a-f]+), RIP (0x[0-9a-f]+): the child is stopped$'
                         % name, out, re.M)
        check(said is not None and fail is not None and fail.group(1) == why and
              fail.group(2, 3) == said.group(1, 2),
              '%s: the worker\'s FAIL line names %r at the GPA and RIP the child logged (%s; child %s)' %
              (name, why, fail and fail.group(0), said and said.group(1, 2)))
        check('%s| FAIL' % name not in out and re.search(r'^%s\| INFO: \d+ checks' % name, out, re.M) is None,
              '%s never ran past the access (no FAIL of its own, no final INFO line)' % name)
        check(re.search(r'^FAIL: %s: stopped by its worker: an access it could not emulate$' % name, out, re.M)
              is not None and
              re.search(r'^PASS: %s: worker pid \d+ exited 0; intercepts: 1 taken, 0 completed, 1 refused$' % name,
                        out, re.M) is not None and
              re.search(r'^vmwp\[%s\]: 0 MMIO accesses emulated: 0 reads, 0 writes; 0 to the HPET; 1 not emulated$'
                        % name, out, re.M) is not None,
              '%s: the root reports it stopped by its worker; one intercept, refused; its worker exited 0' % name)
    for name in ('unenlightened', 'enlightened'):
        ok = re.search(r'^PASS: %s: (\d+) checks, 0 failed' % name, out, re.M)
        check(ok is not None and int(ok.group(1)) > 10 and '%s| FAIL' % name not in out,
              '%s finished with every check passed (%s)' % (name, ok and ok.group(0)))
    hpet = [l for l in out.splitlines() if l.startswith('unenlightened| PASS: HPET')]
    check(len(hpet) == 9, 'the unenlightened child\'s 9 HPET checks passed beside the crashes (%d)' % len(hpet))
    for name in ('unenlightened', 'nodev', 'notmov', 'enlightened'):
        check(re.search(r'^PASS: %s: finalized, \d+ pages withdrawn, deleted' % name, out, re.M) is not None,
              '%s finalized, withdrawn and deleted' % name)
    check('PASS: every page deposited for the children came back' in out and
          'PASS: every intercept message was for a child\'s worker (0 were not)' in out,
          'every deposited page came back; no stray intercept message')

sys.exit(1 if failures else 0)
