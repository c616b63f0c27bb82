#!/bin/sh
# Boot kvm-unit-tests' x86 test kernels on hvsim's bare platform and
# report each one's result (docs/vmx.md "Conformance").
#
#   scripts/kvm-unit-tests.sh [-b BUILD_DIR] [-k KUT_DIR] [-c [-l LPS]] [TEST...]
#
# With -c each test runs as the guest of a child partition under the
# hv_model hypervisor (`hvsim run --child-kernel`, docs/hypervisor.md
# "Unmodified guests") instead, on LPS logical processors (default 1),
# and TESTs default to the Hyper-V ones: hyperv_synic, hyperv_connections,
# hyperv_stimer, hyperv_stimer_direct, hyperv_clock, and xsave.  A child
# has no initrd, so no TEST_DEVICE=0 there.
#
# KUT_DIR is a kvm-unit-tests checkout (default: ./kvm-unit-tests, cloned
# from upstream if it does not exist: this needs the network).  It is
# configured and built for x86_64 if its .flat files are missing.  TESTs
# default to the ones hvsim is expected to pass: smptest, tsc, msr, xsave,
# x2apic, ioapic, vmx.  Each runs as unittests.cfg describes it (smp count, test
# arguments); the environment kvm-unit-tests reads from its initrd is a
# multiboot module saying TEST_DEVICE=0 (hvsim has no QEMU pc-testdev).
#
# Nothing here is part of the test suite (.ci/run): the kernels are not
# hvsim's and are not vendored.  Exit status: 0 if every test passed.
set -eu

build=build
kut=kvm-unit-tests
upstream=https://gitlab.com/kvm-unit-tests/kvm-unit-tests.git

child=0
lps=1
while getopts b:k:l:ch opt; do
	case $opt in
	b) build=$OPTARG ;;
	k) kut=$OPTARG ;;
	c) child=1 ;;
	l) lps=$OPTARG ;;
	*) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $child = 1 ]; then
	tests=${*:-hyperv_synic hyperv_connections hyperv_stimer hyperv_stimer_direct hyperv_clock xsave}
else
	tests=${*:-smptest tsc msr xsave x2apic ioapic vmx}
fi

hvsim=$build/sim/cli/hvsim
if [ ! -x "$hvsim" ]; then
	echo "kvm-unit-tests.sh: $hvsim not found (build hvsim first, or give -b)" >&2
	exit 2
fi
hvsim=$(cd "$(dirname "$hvsim")" && pwd)/hvsim

if [ ! -d "$kut" ]; then
	echo "kvm-unit-tests.sh: cloning $upstream into $kut"
	git clone -q "$upstream" "$kut"
fi
cd "$kut"
if [ ! -f x86/vmx.flat ]; then
	./configure --arch=x86_64 >/dev/null
	make -j"$(nproc)" >/dev/null
fi

env_file=$(mktemp)
out=$(mktemp)
trap 'rm -f "$env_file" "$out"' EXIT
printf 'TEST_DEVICE=0\n' >"$env_file"

# The value of `key` in the [name] section of x86/unittests.cfg.
cfg() {
	awk -v sec="[$1]" -v key="$2" '
		$0 == sec { in_sec = 1; next }
		/^\[/ { in_sec = 0 }
		in_sec && $1 == key { sub(/^[^=]*= */, ""); gsub(/"/, ""); print; exit }
	' x86/unittests.cfg
}

failed=0
for t in $tests; do
	file=$(cfg "$t" file)
	file=${file:-$t.flat}
	smp=$(cfg "$t" smp)
	smp=${smp:-1}
	args=$(cfg "$t" test_args)
	# 10,000 entries of single-stepping: hours on hvsim (docs/vmx.md
	# "Conformance").
	[ "$t" = vmx ] && args="$args -vmx_preemption_timer_tf_test"
	if [ $child = 1 ]; then
		set -- run --raw-exit --no-stats --lps "$lps" --child-vps "$smp" --child-kernel "x86/$file"
	else
		set -- boot --raw-exit --no-stats --lps "$smp" --module "$env_file" "x86/$file"
	fi
	# shellcheck disable=SC2086 # the test arguments are words
	if timeout 1800 "$hvsim" "$@" $args >"$out" 2>&1; then
		status=pass
	else
		status=FAIL
		failed=1
	fi
	pass=$(grep -ac '^PASS' "$out" || true)
	fail=$(grep -ac '^FAIL' "$out" || true)
	skip=$(grep -ac '^SKIP' "$out" || true)
	printf '%-8s %-5s %5s passed, %s failed, %s skipped\n' "$t" "$status" "$pass" "$fail" "$skip"
	if [ "$status" = FAIL ]; then
		grep -a '^FAIL\|Unhandled exception\|VM-Exit failure' "$out" | head -20 | sed 's/^/    /'
	fi
done
exit $failed
