#!/usr/bin/env python3
"""`hvsim run --child-kernel`: an unmodified multiboot kernel as the guest
of a child partition (docs/hypervisor.md "Unmodified guests").

Checks that the run's output is the guest's own (the same lines
`hvsim boot` prints for it, nothing of the hypervisor or the root before
them), that its debug-exit value becomes the run's exit status as boot
makes it, and what happens to guests that go wrong: one that halts for
good without writing the port, one that triple-faults, an image whose
multiboot header asks for what is not offered, and a file that is no
kernel at all.

usage: child_guest.py HVSIM WORKDIR GOOD_KERNEL IDLE_KERNEL TRIPLE_KERNEL
"""
import os
import struct
import subprocess
import sys

hvsim, work, good, idle, triple = sys.argv[1:6]
os.makedirs(work, exist_ok=True)
failures = 0


def check(ok, what):
    global failures
    print('%s: %s' % ('PASS' if ok else 'FAIL', what))
    failures += not ok


def run(*args):
    p = subprocess.run([hvsim] + list(args), capture_output=True, text=True, timeout=900)
    return p.returncode, p.stdout, p.stderr


def guest_lines(out):
    """The guest's lines: everything before the run's summary."""
    return out.split('\n==== hvsim ')[0].rstrip('\n').split('\n')


# The guest's own output, and its exit value turned into the status.
rc_boot, out_boot, _ = run('boot', '--no-stats', good)
rc_run, out_run, err_run = run('run', '--no-stats', '--child-kernel', good)
g_boot, g_run = guest_lines(out_boot), guest_lines(out_run)
check(rc_boot == 1 and rc_run == 1, 'a passing guest: boot and run --child-kernel both exit 1 ((0 << 1) | 1): %d %d'
      % (rc_boot, rc_run))
check(g_run == g_boot and len(g_run) > 5,
      'run --child-kernel prints the %d lines boot prints for the guest, and nothing before them' % len(g_boot))
if g_run != g_boot:
    print('\n'.join(g_run[:10]))
rc, _, _ = run('run', '--no-stats', '--raw-exit', '--child-kernel', good)
check(rc == 0, '--raw-exit: the value the guest wrote (0): %d' % rc)

# A guest that halts for good: the root reports it and the run fails
# the way a guest failure does.
rc, out, _ = run('run', '--no-stats', '--child-kernel', idle)
check(rc == 3 and 'FAIL: guest: did not write its debug-exit port' in out,
      'a guest halted with interrupts off: FAIL, exit 3 (%d)' % rc)

# A triple fault stops the child, not the machine.
rc, out, _ = run('run', '--no-stats', '--child-kernel', triple)
check(rc == 3 and 'vmms: guest: stopped by the hypervisor' in out and 'FAIL: guest: did not write' in out,
      'a guest that triple-faults is stopped by the hypervisor; the run ends, exit 3 (%d)' % rc)
# Its unfinished line is ended before the root's own lines.
check('about to fault\nFAIL: guest: did not write' in out,
      'the line the guest left unfinished is ended; the root\'s FAIL starts a line: %r' % out[:80])

# Flag 3 is a requirement hvsim does not offer (Multiboot 3.1.2).
bad = os.path.join(work, 'flag3.bin')
with open(bad, 'wb') as f:
    flags = 0x00010008
    f.write(struct.pack('<8I', 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xffffffff,
                        0x100000, 0x100000, 0, 0, 0x100020) + b'\xf4' * 64)
rc, out, _ = run('run', '--no-stats', '--child-kernel', bad)
check(rc == 3 and 'FAIL: guest: multiboot kernel' in out and 'asks for a feature not offered' in out,
      'a header asking for flag 3: the root refuses it with the reason, exit 3 (%d)' % rc)

# Neither ELF nor multiboot: hvsim refuses it before the machine starts.
junk = os.path.join(work, 'junk.bin')
with open(junk, 'wb') as f:
    f.write(b'not a kernel\n' * 10)
rc, out, err = run('run', '--no-stats', '--child-kernel', junk)
check(rc == 2 and 'neither an ELF image nor a multiboot kernel' in err and junk in err,
      'a file that is no kernel: error naming it, exit 2 (%d)' % rc)

# Options that belong to --child-kernel.
rc, _, err = run('run', '--child-vps', '2')
check(rc == 2 and '--child-kernel' in err, '--child-vps without --child-kernel: exit 2 (%d)' % rc)
rc, _, err = run('run', '--child-memory', '3M', '--child-kernel', good)
check(rc == 2 and '--child-memory' in err, '--child-memory 3M: exit 2 (%d)' % rc)

sys.exit(1 if failures else 0)
