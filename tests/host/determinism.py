#!/usr/bin/env python3
"""Two runs of the same inputs give identical reports apart from host fields.

usage: determinism.py HVSIM WORKDIR ARGS...   (ARGS after 'hvsim', without -o)
"""
import json
import os
import subprocess
import sys


def run(hvsim, outdir, args):
    os.makedirs(outdir, exist_ok=True)
    r = subprocess.run([hvsim] + args[:1] + ['-q', '-o', outdir] + args[1:],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(os.path.join(outdir, 'stats.json')) as f:
        js = json.load(f)
    with open(os.path.join(outdir, 'stats.txt')) as f:
        txt = [l for l in f if not l.startswith('host.')]
    if 'host' not in js:
        sys.exit('stats.json has no "host" object')
    del js['host']
    return r.returncode, r.stdout, js, txt


def main():
    hvsim, work, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    a = run(hvsim, os.path.join(work, 'a'), args)
    b = run(hvsim, os.path.join(work, 'b'), args)
    if a[2]['totals']['instructions'] == 0:
        sys.exit('the run executed nothing')
    for what, x, y in (('exit status', a[0], b[0]), ('console output', a[1], b[1]),
                       ('stats.json', a[2], b[2]), ('stats.txt', a[3], b[3])):
        if x != y:
            sys.exit('%s differs between two identical runs' % what)
    print('identical: %d instructions, %d cycles' %
          (a[2]['totals']['instructions'], a[2]['totals']['cycles']))


if __name__ == '__main__':
    main()
