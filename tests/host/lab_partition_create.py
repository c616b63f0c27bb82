#!/usr/bin/env python3
"""hvsim lab partition-create: its transcripts, batch and scripted, equal the
expected ones checked in under tests/host/expected/, and a bad script is a
clear error (file, line, reason) with exit status 2.

usage: lab_partition_create.py HVSIM WORKDIR SCRIPT EXPECTED_DIR

The transcripts depend on the code of hv_model and the root kernel (cycle
counts, addresses).  After changing either, regenerate them:

    HVSIM_LAB_REGENERATE=1 meson test -C build lab-partition-create

and review the difference before committing it.
"""
import difflib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli  # noqa: E402  (its check(): exit status and stderr of one command)

failures = 0


def run(argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)


def compare(name, argv, expected_path):
    global failures
    r = run(argv)
    if r.returncode != 0:
        failures += 1
        print('FAIL: %s: exit status %d\n  stderr: %s' % (name, r.returncode, r.stderr.strip()))
        return
    if os.environ.get('HVSIM_LAB_REGENERATE'):
        with open(expected_path, 'w') as f:
            f.write(r.stdout)
        print('REGENERATED: %s -> %s' % (name, expected_path))
        return
    try:
        with open(expected_path) as f:
            expected = f.read()
    except OSError as e:
        failures += 1
        print('FAIL: %s: %s (HVSIM_LAB_REGENERATE=1 writes it)' % (name, e))
        return
    if r.stdout != expected:
        failures += 1
        diff = difflib.unified_diff(expected.splitlines(True), r.stdout.splitlines(True),
                                    expected_path, 'hvsim output', n=2)
        print('FAIL: %s: the transcript differs from %s:' % (name, expected_path))
        sys.stdout.writelines(list(diff)[:80])
        print('(if the change is intended: HVSIM_LAB_REGENERATE=1 meson test -C build lab-partition-create)')
    else:
        print('PASS: %s' % name)


def main():
    hvsim, work, script, expected = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    lab = [hvsim, 'lab', 'partition-create']
    compare('batch', lab + ['--batch'], os.path.join(expected, 'lab_partition_create_batch.txt'))
    compare('script', lab + ['--script', script], os.path.join(expected, 'lab_partition_create_script.txt'))

    bad = os.path.join(work, 'bad.script')
    with open(bad, 'w') as f:
        f.write('# a comment\ns\nregs\nfrobnicate 3\nq\n')
    cli.check('unknown command', lab + ['--script', bad], 2, stderr_has=[bad + ':4: unknown command \'frobnicate 3\''])
    cli.check('missing script', lab + ['--script', os.path.join(work, 'none.script')], 2, stderr_has=['none.script: '])
    cli.check('batch and script', lab + ['--batch', '--script', script], 2, stderr_has=['exclude each other'])
    cli.check('unknown lab', [hvsim, 'lab', 'vmbus'], 2, stderr_has=["unknown lab 'vmbus'"])
    empty = os.path.join(work, 'empty.yaml')
    with open(empty, 'w') as f:
        f.write('partitions: []\n')
    cli.check('config without a child', lab + ['--batch', '--config', empty], 2, stderr_has=['no partitions'])
    return 1 if failures or cli.failures else 0


if __name__ == '__main__':
    sys.exit(main())
