/* Model-specific registers as the default profile implements them
 * (SDM Vol. 4 for indices and reset values; Vol. 2B RDMSR/WRMSR: #GP(0)
 * for an unimplemented MSR, a reserved bit, or a read-only MSR). */
#include "guest.h"

#define MSR_UNIMPLEMENTED 0x12345
#define APIC_BASE_BSP_RESET 0xfee00900ull	/* base 0xFEE00000 | EN (11) | BSP (8) */
#define PAT_RESET 0x0007040600070406ull	/* SDM Vol. 3A 13.12.4, table 13-12 */

static void test_gp_cases(void)
{
	uint64_t v = 1;
	int e;

	e = rdmsr_safe(MSR_UNIMPLEMENTED, &v);
	report(e == GP_VECTOR && exc_last.error_code == 0, "RDMSR 0x12345 raises #GP(0) (got %d)", e);
	report(v == 0, "RDMSR 0x12345 left EDX:EAX unchanged (0)");
	e = wrmsr_safe(MSR_UNIMPLEMENTED, 0);
	report(e == GP_VECTOR && exc_last.error_code == 0, "WRMSR 0x12345 raises #GP(0) (got %d)", e);
	e = wrmsr_safe(MSR_EFER, rdmsr(MSR_EFER) | (1ull << 1));
	report(e == GP_VECTOR, "WRMSR EFER with reserved bit 1 raises #GP (got %d)", e);
	report(!(rdmsr(MSR_EFER) & 2), "EFER bit 1 stayed clear");
	e = rdmsr_safe(MSR_IA32_MTRRCAP, &v);
	report(e == EXC_NONE, "RDMSR IA32_MTRRCAP (0xFE) = 0x%lx", (unsigned long)v);
	e = wrmsr_safe(MSR_IA32_MTRRCAP, v);
	report(e == GP_VECTOR, "WRMSR IA32_MTRRCAP (read-only) raises #GP (got %d)", e);
	/* LSTAR must hold a canonical address (SDM Vol. 2B, WRMSR). */
	e = wrmsr_safe(MSR_LSTAR, 0x0000800000000000ull);
	report(e == GP_VECTOR, "WRMSR LSTAR non-canonical raises #GP (got %d)", e);
	/* IA32_TSC_AUX bits 63:32 are reserved. */
	e = wrmsr_safe(MSR_TSC_AUX, 1ull << 32);
	report(e == GP_VECTOR, "WRMSR TSC_AUX with bit 32 raises #GP (got %d)", e);
}

/* Reads an MSR for a report: the value is fetched before report()'s
 * arguments are evaluated (their order is unspecified). */
static bool read_ok(uint32_t msr, uint64_t *v)
{
	return rdmsr_safe(msr, v) == EXC_NONE;
}

static void test_reset_values(void)
{
	uint64_t v = 0;
	bool ok;

	ok = read_ok(MSR_IA32_APIC_BASE, &v);
	report(ok && v == APIC_BASE_BSP_RESET, "IA32_APIC_BASE = 0x%lx (enabled BSP at 0xFEE00000)",
	       (unsigned long)v);
	ok = read_ok(MSR_IA32_PAT, &v);
	report(ok && v == PAT_RESET, "IA32_PAT reset value 0x%lx", (unsigned long)v);
	ok = read_ok(MSR_EFER, &v);
	report(ok && (v & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA),
	       "EFER 0x%lx has LME and LMA in 64-bit mode", (unsigned long)v);
	ok = read_ok(MSR_IA32_MTRR_DEF_TYPE, &v);
	report(ok, "IA32_MTRR_DEF_TYPE readable (0x%lx)", (unsigned long)v);
}

static void round_trip(const char *name, uint32_t msr, uint64_t value)
{
	uint64_t old = 0, got = 0;
	int e1 = rdmsr_safe(msr, &old), e2 = wrmsr_safe(msr, value), e3 = rdmsr_safe(msr, &got);

	report(e1 == EXC_NONE && e2 == EXC_NONE && e3 == EXC_NONE && got == value,
	       "%s (0x%x) round trip 0x%lx -> 0x%lx", name, msr, (unsigned long)value,
	       (unsigned long)got);
	if (e1 == EXC_NONE)
		wrmsr_safe(msr, old);
}

static void test_round_trips(void)
{
	round_trip("STAR", MSR_STAR, 0x0023001000000000ull);
	round_trip("LSTAR", MSR_LSTAR, 0xffffffff81000000ull);
	round_trip("CSTAR", MSR_CSTAR, 0xffffffff81000040ull);
	round_trip("FMASK", MSR_FMASK, 0x47700);
	round_trip("KERNEL_GS_BASE", MSR_KERNEL_GS_BASE, 0xffff888000001000ull);
	round_trip("TSC_AUX", MSR_TSC_AUX, 0x12345678);
	round_trip("PAT", MSR_IA32_PAT, 0x0007010600070106ull);
	round_trip("MTRR_DEF_TYPE", MSR_IA32_MTRR_DEF_TYPE, 0xc06);
}

/* FS_BASE/GS_BASE are the bases the CPU uses for FS:/GS: accesses, and
 * SWAPGS exchanges GS_BASE with KERNEL_GS_BASE (SDM Vol. 2B, SWAPGS). */
static void test_segment_bases(void)
{
	static volatile uint64_t slot_fs = 0x1111, slot_gs = 0x2222, slot_kgs = 0x3333;
	uint64_t fs_old = rdmsr(MSR_FS_BASE), gs_old = rdmsr(MSR_GS_BASE);
	uint64_t kgs_old = rdmsr(MSR_KERNEL_GS_BASE), a, b, c;

	wrmsr(MSR_FS_BASE, (uintptr_t)&slot_fs);
	wrmsr(MSR_GS_BASE, (uintptr_t)&slot_gs);
	wrmsr(MSR_KERNEL_GS_BASE, (uintptr_t)&slot_kgs);
	asm volatile("movq %%fs:0, %0\n\tmovq %%gs:0, %1\n\tswapgs\n\tmovq %%gs:0, %2\n\tswapgs"
		     : "=r"(a), "=r"(b), "=r"(c) : : "memory");
	report(a == 0x1111, "FS: access uses IA32_FS_BASE (0x%lx)", (unsigned long)a);
	report(b == 0x2222, "GS: access uses IA32_GS_BASE (0x%lx)", (unsigned long)b);
	report(c == 0x3333, "SWAPGS brings in IA32_KERNEL_GS_BASE (0x%lx)", (unsigned long)c);
	report(rdmsr(MSR_GS_BASE) == (uintptr_t)&slot_gs, "two SWAPGS restore GS_BASE");
	wrmsr(MSR_FS_BASE, fs_old);
	wrmsr(MSR_GS_BASE, gs_old);
	wrmsr(MSR_KERNEL_GS_BASE, kgs_old);
}

static void test_tsc(void)
{
	uint64_t base = 0x100000000000ull, t, m, old = rdtsc();
	uint32_t aux, lo, hi;
	int e = wrmsr_safe(MSR_IA32_TSC, base);

	/* Writing IA32_TSC sets the counter RDTSC reads (SDM Vol. 3B 18.17). */
	t = rdtsc();
	m = rdmsr(MSR_IA32_TSC);
	report(e == EXC_NONE && t >= base && t - base < 100000,
	       "WRMSR IA32_TSC 0x%lx then RDTSC 0x%lx", (unsigned long)base, (unsigned long)t);
	report(m > t && m - t < 100000, "RDMSR IA32_TSC 0x%lx follows RDTSC", (unsigned long)m);
	wrmsr(MSR_IA32_TSC, old + 2 * (m - base));

	if (cpuid(0x80000000, 0).eax >= 0x80000001 && (cpuid(0x80000001, 0).edx & (1u << 27))) {
		wrmsr(MSR_TSC_AUX, 0xabcd);
		asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
		report(aux == 0xabcd, "RDTSCP returns IA32_TSC_AUX in ECX (0x%x)", aux);
		wrmsr(MSR_TSC_AUX, 0);
	} else {
		report_skip("RDTSCP (CPUID.80000001H:EDX.RDTSCP clear)");
	}
}

/* IA32_MISC_ENABLE (SDM Vol. 4, MSR 1A0H): the R/W bits take writes
 * (kvm-unit-tests' msr test writes 0x400c51809); LIMIT_CPUID caps leaf 0
 * at 2, XD_DISABLE hides XD from CPUID and makes EFER.NXE reserved. */
static void test_misc_enable(void)
{
	uint64_t orig = rdmsr(0x1a0), v = 0;
	uint32_t max0 = cpuid(0, 0).eax;
	bool nx = cpuid(0x80000001, 0).edx & (1u << 20);

	report(wrmsr_safe(0x1a0, 0x400c51809ull) == EXC_NONE && read_ok(0x1a0, &v) && v == 0x400c51809ull,
	       "IA32_MISC_ENABLE takes 0x400c51809 (read back 0x%lx)", (unsigned long)v);
	report(cpuid(0, 0).eax == 2 && max0 > 2, "LIMIT_CPUID: leaf 0 reports 2 (was 0x%x)", max0);
	report(nx && !(cpuid(0x80000001, 0).edx & (1u << 20)), "XD_DISABLE hides CPUID.80000001H:EDX.XD");
	report(wrmsr_safe(MSR_EFER, rdmsr(MSR_EFER) | (1ull << 11)) == GP_VECTOR, "... and EFER.NXE is reserved");
	report(wrmsr_safe(0x1a0, orig | (1ull << 1)) == GP_VECTOR, "bit 1 is reserved: #GP");
	wrmsr(0x1a0, orig);
	report(cpuid(0, 0).eax == max0, "restored: leaf 0 reports 0x%x again", cpuid(0, 0).eax);
}

/* MOV to CR0/CR4/CR3 with a reserved bit raises #GP (SDM Vol. 2B MOV,
 * Vol. 3A 2.5): Unicorn would take them. */
static int write_cr_safe(int cr, uint64_t v)
{
	exc_reset();
	if (cr == 0)
		asm volatile("1: mov %0, %%cr0\n2:\n\t" EX_TABLE("1b", "2b") : : "r"(v) : "memory");
	else if (cr == 3)
		asm volatile("1: mov %0, %%cr3\n2:\n\t" EX_TABLE("1b", "2b") : : "r"(v) : "memory");
	else
		asm volatile("1: mov %0, %%cr4\n2:\n\t" EX_TABLE("1b", "2b") : : "r"(v) : "memory");
	return exc_last.vector;
}

static void test_cr_reserved_bits(void)
{
	uint64_t cr0 = read_cr0(), cr4 = read_cr4(), cr3 = read_cr3();

	report(write_cr_safe(0, cr0 | (1ull << 32)) == GP_VECTOR, "CR0 bit 32: #GP");
	report(write_cr_safe(0, cr0 | (1ull << 29)) == GP_VECTOR, "CR0.NW without CD: #GP");
	report(write_cr_safe(4, cr4 | (1ull << 14)) == GP_VECTOR, "CR4.SMXE without SMX: #GP");
	report(write_cr_safe(4, cr4 | (1ull << 12)) == GP_VECTOR, "CR4 bit 12 (LA57, not enumerated): #GP");
	report(write_cr_safe(3, cr3 | (1ull << 40)) == GP_VECTOR, "CR3 bit 40 above MAXPHYADDR: #GP");
	report(read_cr0() == cr0 && read_cr4() == cr4 && read_cr3() == cr3, "nothing changed");
	report(write_cr_safe(4, cr4 | (1ull << 7)) == EXC_NONE, "CR4.PGE is writable");
	write_cr4(cr4);
}

/* DR7 with a breakpoint enabled reads back as written; hvsim does not
 * fire debug breakpoints (docs/platform.md), and enabling one once
 * crashed it (kvm-unit-tests' vmx "debug controls"). */
static void test_dr7(void)
{
	uint64_t v = 0, big = 1ull << 32;

	asm volatile("mov %0, %%dr0" : : "r"(0ull));
	asm volatile("mov %0, %%dr7" : : "r"(0x402ull));
	asm volatile("nop; mov %%dr7, %0" : "=r"(v));
	report(v == 0x402, "DR7 = 0x402 (G0, breakpoint at 0) reads back 0x%lx", (unsigned long)v);
	asm volatile("mov %0, %%dr7" : : "r"(0x1ull));
	asm volatile("mov %%dr7, %0" : "=r"(v));
	report(v == 0x401, "DR7 bit 10 reads 1 (0x%lx)", (unsigned long)v);
	exc_reset();
	asm volatile("1: mov %0, %%dr7\n2:\n\t" EX_TABLE("1b", "2b") : : "r"(big) : "memory");
	report(exc_last.vector == GP_VECTOR, "DR7 bits 63:32 set: #GP");
	asm volatile("mov %0, %%dr7" : : "r"(0x400ull));
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	test_gp_cases();
	test_misc_enable();
	test_cr_reserved_bits();
	test_dr7();
	test_reset_values();
	test_round_trips();
	test_segment_bases();
	test_tsc();
}
