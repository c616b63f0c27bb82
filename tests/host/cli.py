#!/usr/bin/env python3
"""The hvsim command's contract with its users: clear errors with the file,
the position and the reason, and the documented exit statuses.

usage: cli.py HVSIM WORKDIR IDLE_KERNEL TRIPLE_KERNEL GUEST_KERNEL
"""
import os
import subprocess
import sys

failures = 0


def check(name, argv, status, stderr_has=(), stdout_has=()):
    global failures
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    problems = []
    if r.returncode != status:
        problems.append('exit status %d, expected %d' % (r.returncode, status))
    for s in stderr_has:
        if s not in r.stderr:
            problems.append('stderr lacks %r' % s)
    for s in stdout_has:
        if s not in r.stdout:
            problems.append('stdout lacks %r' % s)
    if 'Traceback' in r.stderr or 'Segmentation' in r.stderr:
        problems.append('crashed')
    if problems:
        failures += 1
        print('FAIL: %s: %s\n  stderr: %s' % (name, '; '.join(problems), r.stderr.strip()))
    else:
        print('PASS: %s' % name)


def main():
    hvsim, work, idle, triple, guest = sys.argv[1:6]
    os.makedirs(work, exist_ok=True)
    q = ['-q', '--no-stats']

    check('--version', [hvsim, '--version'], 0, stdout_has=['hvsim '])
    check('--help', [hvsim, '--help'], 0, stdout_has=['hvsim boot', 'hvsim run', '--raw-exit'])
    check('no command', [hvsim], 2, stderr_has=['usage:'])
    check('unknown command', [hvsim, 'frobnicate'], 2, stderr_has=["unknown command 'frobnicate'"])
    check('unknown option', [hvsim, 'boot', '--frobnicate', guest], 2)
    check('boot without kernel', [hvsim, 'boot'], 2, stderr_has=['missing KERNEL'])
    check('missing kernel file', [hvsim, 'boot'] + q + [os.path.join(work, 'nope.elf')], 2,
          stderr_has=['nope.elf'])
    junk = os.path.join(work, 'junk.elf')
    with open(junk, 'wb') as f:
        f.write(b'\x7fELF' + b'\x01' * 60)
    check('not a kernel', [hvsim, 'boot'] + q + [junk], 2, stderr_has=['junk.elf'])
    check('bad --lps', [hvsim, 'boot', '--lps', '0', guest], 2, stderr_has=['--lps'])
    check('bad --ram', [hvsim, 'boot', '--ram', '12X', guest], 2, stderr_has=['--ram'])
    check('unknown profile', [hvsim, 'boot', '--profile', 'pentium9'] + q + [guest], 2,
          stderr_has=["no profile named 'pentium9'"])
    bad = os.path.join(work, 'bad.yaml')
    with open(bad, 'w') as f:
        f.write('machine:\n  lps: 2\n  rams: 1G\n')
    check('config with an unknown key', [hvsim, 'run'] + q + [bad], 2, stderr_has=['bad.yaml:3:'])
    check('missing config', [hvsim, 'run'] + q + [os.path.join(work, 'none.yaml')], 2,
          stderr_has=['none.yaml'])
    check('guest exit status is (v << 1) | 1', [hvsim, 'boot'] + q + [guest], 1)
    check('--raw-exit passes v through', [hvsim, 'boot', '--raw-exit'] + q + [guest], 0)
    check('every LP halted for good', [hvsim, 'boot'] + q + [idle], 4, stderr_has=['halted'])
    check('triple fault', [hvsim, 'boot'] + q + [triple], 4, stderr_has=['triple fault'])
    check('cycle limit', [hvsim, 'boot', '--max-cycles', '1000'] + q + [guest], 4,
          stderr_has=['cycle limit'])
    junk_trace = os.path.join(work, 'junk.hvt')
    with open(junk_trace, 'w') as f:
        f.write('not a trace\n')
    check('trace dump of a non-trace', [hvsim, 'trace', 'dump', junk_trace], 2,
          stderr_has=['junk.hvt: offset 0: bad magic'])
    check('trace without a subcommand', [hvsim, 'trace'], 2, stderr_has=['hvsim trace dump'])
    check('--trace into a missing directory', [hvsim, 'boot', '--trace', os.path.join(work, 'no', 'x.hvt')] + q +
          [guest], 2, stderr_has=['x.hvt'])
    out = os.path.join(work, 'out')
    check('reports written', [hvsim, 'boot', '-q', '-o', out, guest], 1)
    for name in ('stats.json', 'stats.txt'):
        if not os.path.exists(os.path.join(out, name)):
            global failures
            failures += 1
            print('FAIL: %s not written' % name)
    print('%d failed' % failures)
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
