/* Exception delivery through the 64-bit IDT (SDM Vol. 3A chapter 6):
 * vector, error code (or none), the pushed RIP/CS/RFLAGS/RSP/SS, CR2 for
 * page faults, faults versus traps, IST stacks, and a run of faults in a
 * row that must each arrive as themselves, never as #DF. */
#include "guest.h"

#define ALIAS_VA 0x40000000ull	/* a 2 MiB region the tests remap */
#define PAGE_2M 0x200000ull
#define X86_RFLAGS_RSVD1 (1ull << 1)
#define X86_RFLAGS_RF (1ull << 16)

/* Checks the frame of the last exception against what the fault should
 * have pushed. */
static void check_exc(const char *what, int vector, uint64_t error_code, uint64_t rip,
		      uint64_t rsp)
{
	bool ok = exc_last.count == 1 && exc_last.vector == vector &&
		  exc_last.error_code == error_code && exc_last.rip == rip;

	report(ok, "%s: vector %d error 0x%lx at RIP 0x%lx (want %d 0x%lx 0x%lx, count %u)", what,
	       exc_last.vector, (unsigned long)exc_last.error_code, (unsigned long)exc_last.rip,
	       vector, (unsigned long)error_code, (unsigned long)rip, exc_last.count);
	report(exc_last.cs == GUEST_CS64 && exc_last.ss == GUEST_DS && exc_last.rsp == rsp,
	       "%s: pushed CS 0x%lx SS 0x%lx RSP 0x%lx (want 0x%x 0x%x 0x%lx)", what,
	       (unsigned long)exc_last.cs, (unsigned long)exc_last.ss, (unsigned long)exc_last.rsp,
	       GUEST_CS64, GUEST_DS, (unsigned long)rsp);
	report((exc_last.rflags & X86_RFLAGS_RSVD1) && !(exc_last.rflags & X86_RFLAGS_IF),
	       "%s: pushed RFLAGS 0x%lx has bit 1 set and IF clear", what,
	       (unsigned long)exc_last.rflags);
}

static void test_de(void)
{
	uint64_t rip, rsp, a = 1234, d = 0;
	uint64_t ia = 0x8000000000000000ull, id = ~0ull;

	exc_reset();
	asm volatile("leaq 1f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n"
		     "1:\tdivq %[zero]\n"
		     "2:\n\t" EX_TABLE("1b", "2b")
		     : [rip] "=&r"(rip), [rsp] "=&r"(rsp), "+a"(a), "+d"(d)
		     : [zero] "c"(0ull) : "memory");
	check_exc("#DE divide by zero", DE_VECTOR, 0, rip, rsp);
	report(a == 1234 && d == 0, "#DE: the faulting DIV changed no register");

	/* The quotient of INT64_MIN / -1 does not fit: also #DE (SDM Vol. 2A,
	 * IDIV). */
	exc_reset();
	asm volatile("leaq 1f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n\t"
		     "cqto\n"
		     "1:\tidivq %[m1]\n"
		     "2:\n\t" EX_TABLE("1b", "2b")
		     : [rip] "=&r"(rip), [rsp] "=&r"(rsp), "+a"(ia), "=d"(id)
		     : [m1] "c"(-1ll) : "memory");
	check_exc("#DE idiv overflow", DE_VECTOR, 0, rip, rsp);
}

static void test_ud(void)
{
	uint64_t rip, rsp;

	exc_reset();
	asm volatile("leaq 1f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n"
		     "1:\tud2\n"
		     "2:\n\t" EX_TABLE("1b", "2b")
		     : [rip] "=&r"(rip), [rsp] "=&r"(rsp) : : "memory");
	check_exc("#UD ud2", UD_VECTOR, 0, rip, rsp);

	/* VMCALL outside VMX operation raises #UD (SDM Vol. 3C 31.3, VMCALL). */
	exc_reset();
	asm volatile("leaq 1f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n"
		     "1:\tvmcall\n"
		     "2:\n\t" EX_TABLE("1b", "2b")
		     : [rip] "=&r"(rip), [rsp] "=&r"(rsp) : : "memory");
	check_exc("#UD vmcall outside VMX operation", UD_VECTOR, 0, rip, rsp);
}

static void test_gp(void)
{
	uint64_t rip, rsp, v = 0;

	/* A non-canonical data address is #GP(0) (SDM Vol. 3A 3.3.7.1). */
	exc_reset();
	asm volatile("leaq 1f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n"
		     "1:\tmovq (%[addr]), %[v]\n"
		     "2:\n\t" EX_TABLE("1b", "2b")
		     : [rip] "=&r"(rip), [rsp] "=&r"(rsp), [v] "+r"(v)
		     : [addr] "r"(0x0000800000000000ull) : "memory");
	check_exc("#GP non-canonical load", GP_VECTOR, 0, rip, rsp);

	/* MOV to DS with a selector beyond the GDT limit is #GP(selector)
	 * (SDM Vol. 2B, MOV "Protected Mode Exceptions"); the error code is
	 * the selector's index and TI bit, RPL bits clear. */
	exc_reset();
	asm volatile("leaq 1f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n"
		     "1:\tmovw %w[sel], %%ds\n"
		     "2:\n\t" EX_TABLE("1b", "2b")
		     : [rip] "=&r"(rip), [rsp] "=&r"(rsp) : [sel] "r"(0xffbu) : "memory");
	check_exc("#GP selector beyond the GDT limit", GP_VECTOR, 0xff8, rip, rsp);

	/* ... and with a selector for a system descriptor (the TSS). */
	exc_reset();
	asm volatile("leaq 1f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n"
		     "1:\tmovw %w[sel], %%ds\n"
		     "2:\n\t" EX_TABLE("1b", "2b")
		     : [rip] "=&r"(rip), [rsp] "=&r"(rsp) : [sel] "r"(GUEST_TSS) : "memory");
	check_exc("#GP DS loaded with a TSS selector", GP_VECTOR, GUEST_TSS, rip, rsp);
	asm volatile("movw %w0, %%ds" : : "r"(GUEST_DS));
}

/* ---- page faults ---- */

static uint64_t *alias_pde;
static uint64_t alias_pde_saved;

/* Changes the alias PDE and flushes the TLB by reloading CR3 (SDM Vol. 3A
 * 4.10.4.1); INVLPG on a large page is tested separately. */
static void alias_set(uint64_t pde)
{
	*alias_pde = pde;
	write_cr3(read_cr3());
}

static void alias_restore(void)
{
	alias_set(alias_pde_saved);
}

static volatile uint64_t pf_marker = 0x5a5a1234a5a5cafeull;

/* A function to fetch from through the alias, and where a page fault on
 * that fetch resumes: fetch_probe returns 1 if it ran, fetch_fixup 0. */
asm(".pushsection .text\n"
    ".globl fetch_probe\n"
    "fetch_probe:\n\t"
    "movl $1, %eax\n\t"
    "ret\n"
    "fetch_fixup:\n\t"
    "xorl %eax, %eax\n\t"
    "ret\n\t"
    EX_TABLE("fetch_probe + 0x40000000", "fetch_fixup")
    ".popsection\n");
extern const char fetch_probe[];

static int call_alias(uint64_t *rsp)
{
	uint64_t target = ALIAS_VA + (uintptr_t)fetch_probe;
	int r;

	exc_reset();
	/* The fault pushes RSP with the CALL's return address on it. */
	asm volatile("leaq -8(%%rsp), %[rsp]\n\t"
		     "call *%[t]"
		     : "=a"(r), [rsp] "=&r"(*rsp) : [t] "r"(target) : "memory");
	return r;
}

static void read_alias(uint64_t va, uint64_t *v, uint64_t *rip, uint64_t *rsp)
{
	exc_reset();
	asm volatile("leaq 1f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n"
		     "1:\tmovq (%[va]), %[v]\n"
		     "2:\n\t" EX_TABLE("1b", "2b")
		     : [rip] "=&r"(*rip), [rsp] "=&r"(*rsp), [v] "+r"(*v) : [va] "r"(va) : "memory");
}

static void write_alias(uint64_t va, uint64_t v, uint64_t *rip, uint64_t *rsp)
{
	exc_reset();
	asm volatile("leaq 1f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n"
		     "1:\tmovq %[v], (%[va])\n"
		     "2:\n\t" EX_TABLE("1b", "2b")
		     : [rip] "=&r"(*rip), [rsp] "=&r"(*rsp) : [v] "r"(v), [va] "r"(va) : "memory");
}

static void check_pf(const char *what, uint64_t err, uint64_t addr, uint64_t rip, uint64_t rsp)
{
	check_exc(what, PF_VECTOR, err, rip, rsp);
	report(exc_last.cr2 == addr, "%s: CR2 0x%lx (want 0x%lx)", what,
	       (unsigned long)exc_last.cr2, (unsigned long)addr);
}

static void test_pf(void)
{
	uint64_t va = ALIAS_VA + 0x1238, rip, rsp, v;
	uint64_t marker_alias = ALIAS_VA + (uintptr_t)&pf_marker;
	uint64_t target = ALIAS_VA + (uintptr_t)fetch_probe;
	int r;

	alias_pde = guest_pde(ALIAS_VA);
	alias_pde_saved = *alias_pde;
	if ((uintptr_t)fetch_probe >= PAGE_2M || (uintptr_t)&pf_marker >= PAGE_2M) {
		report(false, "#PF tests need the kernel inside the first 2 MiB");
		return;
	}

	/* Not present: error code P = 0; W says whether it was a write
	 * (SDM Vol. 3A 4.7). */
	alias_set(0);
	v = 7;
	read_alias(va, &v, &rip, &rsp);
	check_pf("#PF read of a not-present page", 0, va, rip, rsp);
	report(v == 7, "#PF: the faulting load left its destination alone");
	write_alias(va, 1, &rip, &rsp);
	check_pf("#PF write to a not-present page", PF_ERR_W, va, rip, rsp);
	/* Without EFER.NXE and CR4.SMEP the I/D bit stays 0 even for a
	 * fetch (SDM Vol. 3A 4.7, "I/D flag"); RIP = CR2 = the target. */
	r = call_alias(&rsp);
	check_pf("#PF fetch from a not-present page (NXE=0)", 0, target, target, rsp);
	report(r == 0, "#PF fetch: the code at the fault never ran");

	/* Present, read-only alias of physical 0-2 MiB: reads see the same
	 * memory as the identity map; a supervisor write with CR0.WP = 1 is
	 * a protection fault, error code P | W. */
	alias_set(0 | PTE_P | PTE_PS);
	v = 0;
	read_alias(marker_alias, &v, &rip, &rsp);
	report(exc_last.count == 0 && v == pf_marker,
	       "read through a non-identity mapping sees the physical page (0x%lx)",
	       (unsigned long)v);
	write_alias(marker_alias, 1, &rip, &rsp);
	check_pf("#PF write to a read-only page (CR0.WP=1)", PF_ERR_P | PF_ERR_W, marker_alias, rip,
		 rsp);
	report(pf_marker == 0x5a5a1234a5a5cafeull, "#PF: the read-only page kept its contents");
	r = call_alias(&rsp);
	report(exc_last.count == 0 && r == 1, "code runs through a present alias");

	/* Execute-disable, if the CPU has it (CPUID.80000001H:EDX.NX[20]). */
	if (cpuid(0x80000000, 0).eax >= 0x80000001 && (cpuid(0x80000001, 0).edx & (1u << 20))) {
		uint64_t efer = rdmsr(MSR_EFER);

		if (wrmsr_safe(MSR_EFER, efer | EFER_NXE) != EXC_NONE) {
			report(false, "EFER.NXE can be set when CPUID reports NX");
		} else {
			alias_set(0 | PTE_P | PTE_PS | PTE_XD);
			r = call_alias(&rsp);
			check_pf("#PF fetch from an XD page", PF_ERR_P | PF_ERR_I, target, target,
				 rsp);
			report(r == 0, "#PF XD: the code never ran");
			alias_set(0);
			r = call_alias(&rsp);
			check_pf("#PF fetch from a not-present page (NXE=1)", PF_ERR_I, target, target,
				 rsp);
			alias_restore();
			wrmsr(MSR_EFER, efer);
		}
	} else {
		report_skip("execute-disable (CPUID NX clear)");
	}
	alias_restore();
}

/* INVLPG of any address in a 2 MiB page invalidates every TLB entry for
 * that page (SDM Vol. 3A 4.10.4.1), for data and for instruction fetch. */
static void test_invlpg_large_page(void)
{
	uint64_t marker_alias = ALIAS_VA + (uintptr_t)&pf_marker;
	uint64_t v = 0, rip, rsp;
	int r;

	alias_pde = guest_pde(ALIAS_VA);
	alias_pde_saved = *alias_pde;
	alias_set(0 | PTE_P | PTE_PS);
	read_alias(marker_alias, &v, &rip, &rsp);	/* caches the translation */
	*alias_pde = 0;
	invlpg((const void *)ALIAS_VA);
	read_alias(marker_alias, &v, &rip, &rsp);
	report(exc_last.vector == PF_VECTOR && exc_last.cr2 == marker_alias,
	       "INVLPG elsewhere in a 2 MiB page drops its data translation");
	alias_set(0 | PTE_P | PTE_PS);
	r = call_alias(&rsp);				/* caches the fetch translation */
	*alias_pde = 0;
	invlpg((const void *)ALIAS_VA);
	r = call_alias(&rsp);
	report(r == 0 && exc_last.vector == PF_VECTOR,
	       "INVLPG elsewhere in a 2 MiB page drops its fetch translation");
	alias_restore();
}

/* ---- traps and IST ---- */

static void test_bp(void)
{
	uint64_t rip, rsp, frame;

	/* INT3 is a trap: the pushed RIP is the next instruction
	 * (SDM Vol. 3A 6.5, table 6-1). */
	exc_reset();
	asm volatile("leaq 2f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n\t"
		     "int3\n"
		     "2:\n\t" EX_TABLE("2b", "2b")
		     : [rip] "=&r"(rip), [rsp] "=&r"(rsp) : : "memory");
	check_exc("#BP int3 (trap: RIP after)", BP_VECTOR, 0, rip, rsp);
	frame = exc_last.frame;
	report(frame > rsp - 512 && frame < rsp, "#BP without IST ran on the current stack");

	/* With IST1 the CPU switches to the TSS's IST1 stack unconditionally
	 * (SDM Vol. 3A 6.14.5). */
	exc_set_ist(BP_VECTOR, 1);
	exc_reset();
	asm volatile("leaq 2f(%%rip), %[rip]\n\t"
		     "movq %%rsp, %[rsp]\n\t"
		     "int3\n"
		     "2:\n\t" EX_TABLE("2b", "2b")
		     : [rip] "=&r"(rip), [rsp] "=&r"(rsp) : : "memory");
	exc_set_ist(BP_VECTOR, 0);
	check_exc("#BP on IST1", BP_VECTOR, 0, rip, rsp);
	frame = exc_last.frame;
	report(frame >= (uintptr_t)guest_ist1_stack &&
	       frame < (uintptr_t)guest_ist1_stack + GUEST_IST_STACK_SIZE,
	       "#BP with IST1 ran on the IST1 stack (frame 0x%lx)", (unsigned long)frame);
}

/* Several faults back to back: each must arrive as itself.  A CPU model
 * that does not retire a delivered fault reports the second one as #DF
 * (which this runtime treats as an unexpected exception). */
static void test_many(void)
{
	unsigned ok = 0, total = 0;

	alias_pde = guest_pde(ALIAS_VA);
	alias_pde_saved = *alias_pde;
	alias_set(0);
	for (int i = 0; i < 8; i++) {
		uint64_t a = 1, d = 0, v = 0;

		exc_reset();
		asm volatile("1: divq %[z]\n2:\n\t" EX_TABLE("1b", "2b")
			     : "+a"(a), "+d"(d) : [z] "c"(0ull) : "memory");
		ok += exc_last.vector == DE_VECTOR && exc_last.count == 1;
		exc_reset();
		asm volatile("1: ud2\n2:\n\t" EX_TABLE("1b", "2b") ::: "memory");
		ok += exc_last.vector == UD_VECTOR && exc_last.count == 1;
		exc_reset();
		asm volatile("1: movq (%[p]), %[v]\n2:\n\t" EX_TABLE("1b", "2b")
			     : [v] "+r"(v) : [p] "r"(0xffff000000000000ull) : "memory");
		ok += exc_last.vector == GP_VECTOR && exc_last.count == 1;
		exc_reset();
		asm volatile("1: movq (%[p]), %[v]\n2:\n\t" EX_TABLE("1b", "2b")
			     : [v] "+r"(v) : [p] "r"(ALIAS_VA + 8 * i) : "memory");
		ok += exc_last.vector == PF_VECTOR && exc_last.count == 1 &&
		      exc_last.cr2 == ALIAS_VA + 8 * i;
		total += 4;
	}
	alias_restore();
	report(ok == total, "32 faults in a row (#DE #UD #GP #PF x 8) each delivered as itself (%u/%u)",
	       ok, total);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	test_de();
	test_ud();
	test_gp();
	test_pf();
	test_invlpg_large_page();
	test_bp();
	test_many();
}
