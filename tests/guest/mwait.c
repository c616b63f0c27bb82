/* MONITOR and MWAIT (SDM Vol. 2B MONITOR, MWAIT; Vol. 3A 8.10.4) as the
 * default profile offers them: CPUID.01H:ECX.MONITOR and leaf 05H, the
 * #GP(0) for extensions MONITOR does not have and MWAIT hints it does not
 * know, and MONITOR/MWAIT pairs that complete: MWAIT returns at once (no
 * C-state is modelled; the SDM lets it leave the wait for any event),
 * with interrupts masked and asked to break the wait (ECX[0]) too. */
#include "guest.h"

#define ECX_MONITOR (1u << 3)

static volatile uint64_t line[8] __attribute__((aligned(64)));

static int monitor_v(const volatile void *a, uint32_t ecx)
{
	exc_reset();
	asm volatile("1: monitor\n2:\n\t" EX_TABLE("1b", "2b") : : "a"(a), "c"(ecx), "d"(0) : "memory");
	return exc_last.vector;
}

static int mwait_v(uint32_t eax, uint32_t ecx)
{
	exc_reset();
	asm volatile("1: mwait\n2:\n\t" EX_TABLE("1b", "2b") : : "a"(eax), "c"(ecx) : "memory");
	return exc_last.vector;
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	struct cpuid_regs r = cpuid(1, 0), l5;
	int v;

	(void)magic;
	(void)info;
	if (!(r.ecx & ECX_MONITOR))
		guest_skip("no MONITOR in CPUID");
	l5 = cpuid(5, 0);
	report(l5.eax == 64 && l5.ebx == 64, "leaf 05H: monitor line 64..64 bytes (EAX %u, EBX %u)", l5.eax, l5.ebx);
	report((l5.ecx & 3) == 3, "leaf 05H ECX 0x%x: extensions enumerated, interrupts break MWAIT", l5.ecx);

	v = monitor_v(line, 1);
	report(v == GP_VECTOR && exc_last.error_code == 0, "MONITOR with ECX = 1 (no extension): #GP(0) (vector %d)",
	       v);
	v = mwait_v(0, 2);
	report(v == GP_VECTOR && exc_last.error_code == 0, "MWAIT with ECX = 2 (reserved): #GP(0) (vector %d)", v);

	v = monitor_v(line, 0);
	report(v == EXC_NONE, "MONITOR on a write-back line (vector %d)", v);
	v = mwait_v(0, 0);
	report(v == EXC_NONE, "MWAIT C1 hint returns (vector %d)", v);
	asm volatile("cli");
	v = monitor_v(line, 0);
	if (v == EXC_NONE)
		v = mwait_v(0x10, 1);
	asm volatile("sti");
	report(v == EXC_NONE, "MWAIT with interrupts masked and ECX[0] = 1 returns (vector %d)", v);
	v = mwait_v(0, 0);
	report(v == EXC_NONE, "MWAIT without MONITOR returns (vector %d)", v);
}
