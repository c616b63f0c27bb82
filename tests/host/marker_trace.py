#!/usr/bin/env python3
"""A guest's marker reaches the event trace with its id and value.

usage: marker_trace.py HVSIM WORKDIR MARKER_KERNEL
"""
import os
import subprocess
import sys


def main():
    hvsim, work, kernel = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    trace = os.path.join(work, 'marker.hvt')
    r = subprocess.run([hvsim, 'boot', '-q', '--no-stats', '--raw-exit', '--trace', trace, kernel],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    if r.returncode != 0:
        sys.exit('guest exit status %d: %s' % (r.returncode, r.stderr.strip()))
    d = subprocess.run([hvsim, 'trace', 'dump', trace], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    markers = [l.split() for l in d.stdout.splitlines() if ' marker ' in l]
    if len(markers) != 1 or markers[0][2:] != ['marker', 'id=16962', 'arg1=0x1234abcd', 'arg2=0x0', 'arg3=0x0']:
        sys.exit('expected one marker id=16962 arg1=0x1234abcd, got %r' % markers)
    print('PASS: marker in the trace: %s' % ' '.join(markers[0]))


if __name__ == '__main__':
    main()
