/* EPT and VPID on the bare platform: the EPTP entry checks, EPT
 * violations and misconfigurations with their exit information, large
 * EPT pages, cached translations and their invalidation by INVEPT and
 * INVVPID, and the EPT accessed/dirty flags (SDM Vol. 3C 25.6.11,
 * 27.2.1.1, 28.2.1, 29.1, 29.3, 29.4, 31.3 INVEPT/INVVPID).
 *
 * This kernel is the hypervisor.  Its EPT identity-maps the low 4 GiB
 * with 2 MiB pages, except the 2 MiB test region at TR_BASE, which one
 * EPT page table maps with 4 KiB pages so a check can give one page the
 * permissions it needs.  The guest is a command loop (gx_loop below)
 * running on this kernel's code, stack and, unless a check gives it its
 * own, page tables.  Guest general-purpose registers survive exits
 * (ept_enter), so a VMRESUME after an EPT violation re-executes the
 * faulting instruction with its operands intact. */
#include "vmx.h"

/* ---- memory layout (physical = guest-physical unless EPT says not) ---- */

#define TR_BASE 0x1000000ull		/* test region: 2 MiB, EPT 4 KiB pages */
#define TR_PAGE(n) (TR_BASE + (uint64_t)(n) * 4096)
#define PG_DATA0 0			/* read checks */
#define PG_DATA1 1			/* write checks */
#define PG_CODE 2			/* fetch checks: VMCALL; RET */
#define PG_XO 3				/* execute-only checks: VMCALL; RET */
#define PG_MC 4				/* misconfiguration checks */
#define PG_INV 5			/* INVEPT: GPA X, pointed at HPA A or B */
#define PG_GPML4 8			/* the guest's own paging structures */
#define PG_GPDPT 9
#define PG_GPD 10
#define PG_GPT 11
#define PG_P1 12			/* targets of the guest's own PTE */
#define PG_P2 13
#define PG_USED 16			/* pages ept_reset() restores */
#define PG_GPML4B 16			/* second guest paging structures (guest_tables_b) */
#define PG_GPDPTB 17
#define PG_GPDB 18
#define PG_GPTB 19

#define HPA_A 0x1400000ull		/* INVEPT remapping targets */
#define HPA_B 0x1401000ull
#define ALIAS_GPA 0xc0000000ull		/* 2 MiB EPT page at a non-identity GPA ... */
#define ALIAS_HPA 0x1200000ull		/* ... mapping this HPA */
#define GIG_GPA 0x80000000ull		/* 1 GiB EPT page at GPA 2 GiB, mapping HPA 0 */

#define GL_BASE 0x40000000ull		/* linear 1 GiB: the guest's own PD and PT */
#define GL_IDX 5			/* the PTE the VPID checks rewrite */
#define GL_ADDR (GL_BASE + GL_IDX * 4096ull)
#define OFF 0x238ull			/* byte offset of the accesses in a page */

/* EPT entry bits (SDM 29.3.2, tables "Format of an EPT ... Entry"). */
#define R EPTE_READ
#define W EPTE_WRITE
#define X EPTE_EXEC
#define RWX (R | W | X)
#define MT(t) ((uint64_t)(t) << EPTE_MEMTYPE_SHIFT)
#define MT_WB MT(6)

/* EPT-violation exit qualification bits 0-8 (SDM 28.2.1, table "Exit
 * Qualification for EPT Violations"). */
#define Q_PERMS(p) ((uint64_t)(p) << 3)
#define Q_LIN (EXIT_QUAL_EPT_GLA_VALID | EXIT_QUAL_EPT_GLA_TRANSLATED)	/* final access */
#define Q_WALK EXIT_QUAL_EPT_GLA_VALID				/* guest paging-structure access */

static uint64_t ept_pml4[512] __attribute__((aligned(4096)));
static uint64_t ept_pdpt[512] __attribute__((aligned(4096)));
static uint64_t ept_pd[4][512] __attribute__((aligned(4096)));
static uint64_t ept_pt[512] __attribute__((aligned(4096)));
static uint64_t eptb_pml4[512] __attribute__((aligned(4096)));	/* a second EPT (test_transitions) */
static uint64_t eptb_pdpt[512] __attribute__((aligned(4096)));
static uint64_t eptb_pd[512] __attribute__((aligned(4096)));
static uint64_t eptb_pt[512] __attribute__((aligned(4096)));
static uint8_t guest_stack[8192] __attribute__((aligned(4096)));

static uint64_t cap;		/* IA32_VMX_EPT_VPID_CAP */
static uint32_t proc2_may1;	/* allowed-1 secondary controls */
static unsigned maxphyaddr;
static uint64_t eptp;		/* the EPTP of the identity map */

/* ---- the guest ---------------------------------------------------------- */

enum { CMD_NOP, CMD_READ, CMD_WRITE, CMD_CALL };

/* Guest GPRs by the SDM register number (0 RAX ... 15 R15; 4, RSP, is in
 * the VMCS), loaded before VMLAUNCH/VMRESUME and stored after an exit. */
uint64_t ept_gregs[16];
volatile uint64_t ept_cmd, ept_arg, ept_arg2, ept_val;

int ept_enter(int resume);
extern const char gx_loop[], gx_read[], gx_write[], gx_call[], gx_vmcall[];
extern const char gx_invept[], gx_invept_end[], gx_invvpid[], gx_invvpid_end[];

/* The guest loop reads its command from memory, performs one access and
 * VMCALLs; the access instructions carry labels so the checks know the
 * RIP an exit must report.  ept_enter is vmx_enter (lib/vmx.S) plus the
 * guest GPRs. */
asm(".text\n"
    ".globl gx_loop, gx_read, gx_write, gx_call, gx_vmcall\n"
    "gx_loop:\n"
    "	mov ept_cmd(%rip), %rax\n"
    "	mov ept_arg(%rip), %rdx\n"
    "	mov ept_arg2(%rip), %rcx\n"
    "	cmp $1, %rax\n"
    "	je gx_read\n"
    "	cmp $2, %rax\n"
    "	je gx_write\n"
    "	cmp $3, %rax\n"
    "	je gx_call\n"
    "	jmp gx_vmcall\n"
    "gx_read:\n"
    "	mov (%rdx), %rax\n"
    "	mov %rax, ept_val(%rip)\n"
    "	jmp gx_vmcall\n"
    "gx_write:\n"
    "	mov %rcx, (%rdx)\n"
    "	jmp gx_vmcall\n"
    "gx_call:\n"
    "	call *%rdx\n"
    "gx_vmcall:\n"
    "	vmcall\n"
    "	jmp gx_loop\n"
    /* INVEPT/INVVPID in VMX non-root operation exit unconditionally
     * (SDM 26.1.2) before their operands are looked at. */
    ".globl gx_invept, gx_invept_end, gx_invvpid, gx_invvpid_end\n"
    "gx_invept:\n"
    "	invept 0x10(%rbx), %rcx\n"
    "gx_invept_end:\n"
    "	vmcall\n"
    "gx_invvpid:\n"
    "	invvpid -0x20(%rsi,%rdi,8), %rdx\n"
    "gx_invvpid_end:\n"
    "	vmcall\n"
    ".globl ept_enter\n"
    "ept_enter:\n"
    "	push %rbp\n"
    "	push %rbx\n"
    "	push %r12\n"
    "	push %r13\n"
    "	push %r14\n"
    "	push %r15\n"
    "	mov $0x6c14, %eax\n"		/* VMCS_HOST_RSP */
    "	vmwrite %rsp, %rax\n"
    "	lea ept_host_entry(%rip), %rdx\n"
    "	mov $0x6c16, %eax\n"		/* VMCS_HOST_RIP */
    "	vmwrite %rdx, %rax\n"
    "	test %edi, %edi\n"		/* MOV leaves ZF alone */
    "	mov ept_gregs+0(%rip), %rax\n"
    "	mov ept_gregs+8(%rip), %rcx\n"
    "	mov ept_gregs+16(%rip), %rdx\n"
    "	mov ept_gregs+24(%rip), %rbx\n"
    "	mov ept_gregs+40(%rip), %rbp\n"
    "	mov ept_gregs+48(%rip), %rsi\n"
    "	mov ept_gregs+56(%rip), %rdi\n"
    "	mov ept_gregs+64(%rip), %r8\n"
    "	mov ept_gregs+72(%rip), %r9\n"
    "	mov ept_gregs+80(%rip), %r10\n"
    "	mov ept_gregs+88(%rip), %r11\n"
    "	mov ept_gregs+96(%rip), %r12\n"
    "	mov ept_gregs+104(%rip), %r13\n"
    "	mov ept_gregs+112(%rip), %r14\n"
    "	mov ept_gregs+120(%rip), %r15\n"
    "	jnz 1f\n"
    "	vmlaunch\n"
    "	jmp 2f\n"
    "1:	vmresume\n"
    "2:	mov $1, %eax\n"			/* VMfailInvalid: CF */
    "	jc 3f\n"
    "	mov $2, %eax\n"			/* VMfailValid: ZF */
    "3:	pop %r15\n"
    "	pop %r14\n"
    "	pop %r13\n"
    "	pop %r12\n"
    "	pop %rbx\n"
    "	pop %rbp\n"
    "	ret\n"
    "ept_host_entry:\n"
    "	mov %rax, ept_gregs+0(%rip)\n"
    "	mov %rcx, ept_gregs+8(%rip)\n"
    "	mov %rdx, ept_gregs+16(%rip)\n"
    "	mov %rbx, ept_gregs+24(%rip)\n"
    "	mov %rbp, ept_gregs+40(%rip)\n"
    "	mov %rsi, ept_gregs+48(%rip)\n"
    "	mov %rdi, ept_gregs+56(%rip)\n"
    "	mov %r8, ept_gregs+64(%rip)\n"
    "	mov %r9, ept_gregs+72(%rip)\n"
    "	mov %r10, ept_gregs+80(%rip)\n"
    "	mov %r11, ept_gregs+88(%rip)\n"
    "	mov %r12, ept_gregs+96(%rip)\n"
    "	mov %r13, ept_gregs+104(%rip)\n"
    "	mov %r14, ept_gregs+112(%rip)\n"
    "	mov %r15, ept_gregs+120(%rip)\n"
    "	xor %eax, %eax\n"
    "	jmp 3b\n");

/* ---- host helpers --------------------------------------------------------- */

static volatile uint64_t *hp(uint64_t pa)
{
	return (volatile uint64_t *)(uintptr_t)pa;
}

static uint64_t magic(uint64_t pa)
{
	return 0x5eed000000000000ull | pa;
}

static int has(uint64_t bit)
{
	return !!(cap & bit);
}

/* Back to the identity map and the test region's default contents: every
 * page RWX write-back, the data pages holding magic(address) at OFF. */
static void ept_reset(void)
{
	ept_pml4[0] = (uintptr_t)ept_pdpt | RWX;
	for (int i = 0; i < 4; i++)
		ept_pdpt[i] = (uintptr_t)ept_pd[i] | RWX;
	ept_pd[TR_BASE >> 30][(TR_BASE >> 21) & 511] = (uintptr_t)ept_pt | RWX;
	ept_pd[ALIAS_GPA >> 30][(ALIAS_GPA >> 21) & 511] = ALIAS_GPA | RWX | MT_WB | EPTE_LARGE_PAGE;
	for (int i = 0; i < PG_USED; i++)
		ept_pt[i] = TR_PAGE(i) | RWX | MT_WB;
	for (int i = 0; i < PG_USED; i++)
		if (i != PG_CODE && i != PG_XO && i < PG_GPML4)
			*hp(TR_PAGE(i) + OFF) = magic(TR_PAGE(i) + OFF);
	*hp(TR_PAGE(PG_P1) + OFF) = magic(TR_PAGE(PG_P1) + OFF);
	*hp(TR_PAGE(PG_P2) + OFF) = magic(TR_PAGE(PG_P2) + OFF);
}

static void ept_build(void)
{
	static const uint8_t code[] = { 0x0f, 0x01, 0xc1, 0xc3 };	/* VMCALL; RET */

	for (int i = 0; i < 2048; i++)
		ept_pd[i / 512][i % 512] = ((uint64_t)i << 21) | RWX | MT_WB | EPTE_LARGE_PAGE;
	for (int i = 0; i < 512; i++)
		ept_pt[i] = TR_PAGE(i) | RWX | MT_WB;
	/* The code pages are written once, before any guest runs: the
	 * guest engine's translated-code cache never sees them change. */
	memcpy((void *)(uintptr_t)TR_PAGE(PG_CODE), code, sizeof(code));
	memcpy((void *)(uintptr_t)TR_PAGE(PG_XO), code, sizeof(code));
	ept_reset();
}

/* The guest's own paging structures, 4-level (SDM 4.5): linear 0-1 GiB
 * and 2-4 GiB through this kernel's PDs, linear 1-2 GiB through one PD
 * and one PT in the test region.  PTE i maps TR page i, except PTE
 * GL_IDX, which maps page P1.  Returns the guest CR3. */
static uint64_t guest_tables(void)
{
	volatile uint64_t *pml4 = hp(TR_PAGE(PG_GPML4)), *pdpt = hp(TR_PAGE(PG_GPDPT));
	volatile uint64_t *pd = hp(TR_PAGE(PG_GPD)), *pt = hp(TR_PAGE(PG_GPT));

	for (int i = 0; i < 512; i++)
		pml4[i] = pdpt[i] = pd[i] = pt[i] = 0;
	pml4[0] = TR_PAGE(PG_GPDPT) | PTE_P | PTE_W;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (uintptr_t)guest_pd[i] | PTE_P | PTE_W;
	pdpt[1] = TR_PAGE(PG_GPD) | PTE_P | PTE_W;
	pd[0] = TR_PAGE(PG_GPT) | PTE_P | PTE_W;
	for (int i = 0; i < 16; i++)
		pt[i] = TR_PAGE(i) | PTE_P | PTE_W;
	pt[GL_IDX] = TR_PAGE(PG_P1) | PTE_P | PTE_W;
	return TR_PAGE(PG_GPML4);
}

/* A copy of guest_tables()'s structures in TR pages 16-19 in which PTE
 * GL_IDX maps page P2.  Call after guest_tables(); returns their CR3. */
static uint64_t guest_tables_b(void)
{
	volatile uint64_t *pml4 = hp(TR_PAGE(PG_GPML4B)), *pdpt = hp(TR_PAGE(PG_GPDPTB));
	volatile uint64_t *pd = hp(TR_PAGE(PG_GPDB)), *pt = hp(TR_PAGE(PG_GPTB));

	for (int i = 0; i < 512; i++) {
		pml4[i] = *hp(TR_PAGE(PG_GPML4) + 8 * i);
		pdpt[i] = *hp(TR_PAGE(PG_GPDPT) + 8 * i);
		pd[i] = *hp(TR_PAGE(PG_GPD) + 8 * i);
		pt[i] = *hp(TR_PAGE(PG_GPT) + 8 * i);
	}
	pml4[0] = TR_PAGE(PG_GPDPTB) | PTE_P | PTE_W;
	pdpt[1] = TR_PAGE(PG_GPDB) | PTE_P | PTE_W;
	pd[0] = TR_PAGE(PG_GPTB) | PTE_P | PTE_W;
	pt[GL_IDX] = TR_PAGE(PG_P2) | PTE_P | PTE_W;
	return TR_PAGE(PG_GPML4B);
}

static int vmcs_launched;

/* A fresh VMCS for the guest loop with EPT on (EPTP `ptr`), `extra`
 * secondary controls, VPID `vpid` and guest CR3 `cr3`; every exception
 * exits, so a guest fault cannot run this kernel's handlers. */
static void ept_vmcs(uint64_t ptr, uint32_t extra, uint16_t vpid, uint64_t cr3)
{
	vmx_setup_vmcs((void (*)(void))gx_loop, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_PROC_BASED_CTLS,
		vmx_ctl(MSR_IA32_VMX_TRUE_PROCBASED_CTLS, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS));
	vmwrite(VMCS_PROC_BASED_CTLS2, vmx_ctl(MSR_IA32_VMX_PROCBASED_CTLS2, SECONDARY_ENABLE_EPT | extra));
	vmwrite(VMCS_EPT_POINTER, ptr);
	if (proc2_may1 & SECONDARY_ENABLE_VPID)
		vmwrite(VMCS_VPID, vpid);
	vmwrite(VMCS_EXCEPTION_BITMAP, ~0u);
	if (cr3)
		vmwrite(VMCS_GUEST_CR3, cr3);
	for (int i = 0; i < 16; i++)
		ept_gregs[i] = 0;
	vmcs_launched = 0;
}

static uint32_t reason(void)
{
	return (uint32_t)vmread(VMCS_EXIT_REASON);
}

/* Run the guest until its next exit with command (cmd, arg, arg2); after
 * a VMCALL exit the guest continues past the VMCALL, after any other
 * exit it re-executes the instruction that exited.  Returns the exit
 * reason, or 0x10000 | the VMX result if the entry instruction failed. */
static uint32_t go(uint64_t cmd, uint64_t arg, uint64_t arg2)
{
	int r;

	ept_cmd = cmd;
	ept_arg = arg;
	ept_arg2 = arg2;
	if (vmcs_launched && reason() == EXIT_REASON_VMCALL)
		vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + vmread(VMCS_EXIT_INSTRUCTION_LEN));
	r = ept_enter(vmcs_launched);
	if (r)
		return 0x10000 | r;
	vmcs_launched = 1;
	return reason();
}

/* Re-execute after an EPT exit (the command stays). */
static uint32_t resume(void)
{
	return go(ept_cmd, ept_arg, ept_arg2);
}

static uint64_t rip(void)
{
	return vmread(VMCS_GUEST_RIP);
}

static uint64_t qual(void)
{
	return vmread(VMCS_EXIT_QUALIFICATION);
}

static uint64_t gpa(void)
{
	return vmread(VMCS_GUEST_PHYSICAL_ADDRESS);
}

static uint64_t gla(void)
{
	return vmread(VMCS_GUEST_LINEAR_ADDRESS);
}

static uint64_t insn_err(void)
{
	return vmread(VMCS_VM_INSTRUCTION_ERROR);
}

/* Qualification bits 9-11 are defined only with advanced VM-exit
 * information for EPT violations (A.10 bit 22); else they are 0, as are
 * bit 12 (no IRET here) and the bits above. */
static uint64_t qual_cmp(uint64_t q)
{
	return has(EPT_VPID_CAP_ADVANCED_EXIT_INFO) ? q & 0x1ff : q;
}

/* An EPT-violation exit as SDM 28.2.1 defines it for an access at linear
 * address `lin` (guest-physical `pa`) by the instruction at `at`. */
static void expect_violation(const char *what, uint32_t r, uint64_t q, uint64_t pa, uint64_t lin, uint64_t at)
{
	report(r == EXIT_REASON_EPT_VIOLATION, "%s: exit reason 48 (got 0x%x)", what, r);
	if (r != EXIT_REASON_EPT_VIOLATION)
		return;
	report(qual_cmp(qual()) == q, "%s: qualification 0x%lx (got 0x%lx)", what, (unsigned long)q,
	       (unsigned long)qual());
	report(gpa() == pa, "%s: guest-physical address 0x%lx (got 0x%lx)", what, (unsigned long)pa,
	       (unsigned long)gpa());
	report(gla() == lin, "%s: guest-linear address 0x%lx (got 0x%lx)", what, (unsigned long)lin,
	       (unsigned long)gla());
	report(rip() == at, "%s: guest RIP is the faulting instruction 0x%lx (got 0x%lx)", what, (unsigned long)at,
	       (unsigned long)rip());
}

/* An EPT-misconfiguration exit: the GPA accessed, exact (SDM 28.2.1);
 * no exit qualification is saved for it, so the field is cleared. */
static void expect_misconfig(const char *what, uint32_t r, uint64_t pa, uint64_t at)
{
	report(r == EXIT_REASON_EPT_MISCONFIG && gpa() == pa && rip() == at && qual() == 0,
	       "%s: exit reason 49, GPA 0x%lx, RIP 0x%lx, qualification 0 (got 0x%x, 0x%lx, 0x%lx, 0x%lx)", what,
	       (unsigned long)pa, (unsigned long)at, r, (unsigned long)gpa(), (unsigned long)rip(),
	       (unsigned long)qual());
}

/* After a VMCALL exit from the guest loop: the value its last read saw. */
static void expect_read(const char *what, uint32_t r, uint64_t want)
{
	report(r == EXIT_REASON_VMCALL && ept_val == want, "%s: reads 0x%lx (exit %u, read 0x%lx)", what,
	       (unsigned long)want, r, (unsigned long)ept_val);
}

/* After a check changed EPT entries back: drop what the guest cached. */
static void invept_single(void)
{
	int r = invept(INVEPT_SINGLE_CONTEXT, eptp);

	if (r)
		report(0, "INVEPT single-context of the test EPTP failed (%d, error %lu)", r,
		       (unsigned long)insn_err());
}

/* ---- 1. capabilities and the EPTP/VPID VM-entry checks ------------------ */

static int test_caps(void)
{
	uint64_t procbased = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS), v;
	uint32_t pa = cpuid(0x80000000, 0).eax >= 0x80000008 ? cpuid(0x80000008, 0).eax : 36;

	maxphyaddr = pa & 0xff;
	if (!(procbased >> 63)) {
		report_skip("no secondary processor-based controls: no EPT, no VPID");
		return 0;
	}
	proc2_may1 = (uint32_t)(rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2) >> 32);
	if (!(proc2_may1 & (SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID))) {
		report_skip("neither EPT nor VPID offered (PROCBASED_CTLS2 allowed-1 0x%x)", proc2_may1);
		return 0;
	}
	/* The capability MSR exists when either control may be 1 (A.10). */
	report(rdmsr_safe(MSR_IA32_VMX_EPT_VPID_CAP, &v) == EXC_NONE, "IA32_VMX_EPT_VPID_CAP is readable");
	cap = v;
	printf("PROCBASED_CTLS2 allowed-1 0x%x, EPT_VPID_CAP 0x%lx, MAXPHYADDR %u\n", proc2_may1,
	       (unsigned long)cap, maxphyaddr);
	if (!(proc2_may1 & SECONDARY_ENABLE_EPT)) {
		report_skip("EPT not offered");
		return 0;
	}
	if (!has(EPT_VPID_CAP_PWL4) || !has(EPT_VPID_CAP_2MB) || !(cap & (EPT_VPID_CAP_WB | EPT_VPID_CAP_UC))) {
		report_skip("EPT without 4-level walks, 2 MiB pages or a usable EPTP memory type");
		return 0;
	}
	eptp = (uintptr_t)ept_pml4 | (3ull << EPTP_WALK_LENGTH_SHIFT) | (has(EPT_VPID_CAP_WB) ? 6 : 0);
	return 1;
}

/* VMLAUNCH of the guest loop with EPTP `ptr`: VMfailValid with error 7
 * expected (SDM 27.2.1.1) unless `ok`, when the guest must reach its
 * VMCALL. */
static void entry_eptp(uint64_t ptr, int ok, const char *what)
{
	uint32_t r;

	ept_vmcs(ptr, 0, 1, 0);
	r = go(CMD_NOP, 0, 0);
	if (ok)
		report(r == EXIT_REASON_VMCALL, "EPTP 0x%lx (%s): VM entry succeeds (exit 0x%x)", (unsigned long)ptr,
		       what, r);
	else
		report(r == (0x10000 | VMX_FAIL_VALID) && insn_err() == VMXERR_ENTRY_INVALID_CONTROL_FIELD,
		       "EPTP 0x%lx (%s): VMfailValid, error 7 (got 0x%x, error %lu)", (unsigned long)ptr, what, r,
		       (unsigned long)insn_err());
}

static void test_entry_checks(void)
{
	uint64_t base = eptp & ~0xfffull;
	uint32_t r;

	entry_eptp(eptp, 1, "valid");
	/* Bits 2:0: only UC (0) and WB (6), each if A.10 offers it. */
	entry_eptp(base | 0x18 | 1, 0, "memory type WC");
	entry_eptp(base | 0x18 | 2, 0, "memory type 2");
	entry_eptp(base | 0x18 | 7, 0, "memory type 7");
	entry_eptp(base | 0x18 | 0, has(EPT_VPID_CAP_UC), "memory type UC");
	entry_eptp(base | 0x18 | 6, has(EPT_VPID_CAP_WB), "memory type WB");
	/* Bits 5:3: the page-walk length minus 1; 3 (4 levels), or 4 if
	 * 5-level EPT is offered. */
	entry_eptp((eptp & ~EPTP_WALK_LENGTH_MASK) | (2ull << 3), 0, "3-level walk");
	entry_eptp((eptp & ~EPTP_WALK_LENGTH_MASK) | (0ull << 3), 0, "1-level walk");
	if (!has(EPT_VPID_CAP_PWL5))
		entry_eptp((eptp & ~EPTP_WALK_LENGTH_MASK) | (4ull << 3), 0, "5-level walk not offered");
	/* Bit 6: A/D flags only if offered. */
	if (!has(EPT_VPID_CAP_AD))
		entry_eptp(eptp | EPTP_AD_ENABLE, 0, "A/D enable without A.10 bit 21");
	else
		entry_eptp(eptp | EPTP_AD_ENABLE, 1, "A/D enable");
	/* Bits 11:7 reserved (bit 7 only without supervisor shadow-stack
	 * control, A.10 bit 23). */
	{
		static const char *const name[] = { "reserved bit 7", "reserved bit 8", "reserved bit 9",
						     "reserved bit 10", "reserved bit 11" };

		for (int b = has(EPT_VPID_CAP_SSS) ? 8 : 7; b <= 11; b++)
			entry_eptp(eptp | (1ull << b), 0, name[b - 7]);
	}
	/* Bits 63:N beyond the physical-address width. */
	if (maxphyaddr < 64)
		entry_eptp(eptp | (1ull << maxphyaddr), 0, "bit MAXPHYADDR");
	entry_eptp(eptp | (1ull << 63), 0, "bit 63");

	/* "enable VPID" with VPID 0 (SDM 27.2.1.1). */
	if (!(proc2_may1 & SECONDARY_ENABLE_VPID)) {
		report_skip("VPID not offered: VPID 0 entry check");
		return;
	}
	ept_vmcs(eptp, SECONDARY_ENABLE_VPID, 0, 0);
	r = go(CMD_NOP, 0, 0);
	report(r == (0x10000 | VMX_FAIL_VALID) && insn_err() == VMXERR_ENTRY_INVALID_CONTROL_FIELD,
	       "enable VPID with VPID 0: VMfailValid, error 7 (got 0x%x, error %lu)", r, (unsigned long)insn_err());
	ept_vmcs(eptp, SECONDARY_ENABLE_VPID, 0xffff, 0);
	r = go(CMD_NOP, 0, 0);
	report(r == EXIT_REASON_VMCALL, "enable VPID with VPID 0xffff: VM entry succeeds (exit 0x%x)", r);
}

/* ---- 2. EPT violations --------------------------------------------------- */

static void test_violations(void)
{
	uint64_t a, *pde = &ept_pd[TR_BASE >> 30][(TR_BASE >> 21) & 511];
	uint64_t gcr3;
	uint32_t r;

	/* Read of a page whose EPT PTE is not present: perms 0. */
	ept_reset();
	a = TR_PAGE(PG_DATA0) + OFF;
	ept_pt[PG_DATA0] = 0;
	ept_vmcs(eptp, 0, 0, 0);
	r = go(CMD_READ, a, 0);
	expect_violation("read, PTE not present", r, EXIT_QUAL_EPT_READ | Q_LIN, a, a, (uintptr_t)gx_read);
	ept_pt[PG_DATA0] = TR_PAGE(PG_DATA0) | R | MT_WB;
	invept_single();
	r = resume();
	expect_read("read, PTE made readable, VMRESUME", r, magic(a));
	report(rip() == (uintptr_t)gx_vmcall, "the resumed read completed and the guest reached its VMCALL");

	/* A not-present PTE whose other bits are garbage is still only not
	 * present (SDM 29.3.2: bits 63:3 are ignored). */
	ept_reset();
	ept_pt[PG_DATA0] = 0xfff0000000ffff78ull;
	ept_vmcs(eptp, 0, 0, 0);
	r = go(CMD_READ, a, 0);
	expect_violation("read, not-present PTE with reserved bits", r, EXIT_QUAL_EPT_READ | Q_LIN, a, a,
			 (uintptr_t)gx_read);

	/* The walk stops at a not-present PDE: perms 0 too. */
	ept_reset();
	*pde = 0;
	ept_vmcs(eptp, 0, 0, 0);
	r = go(CMD_READ, TR_PAGE(PG_DATA1) + OFF, 0);
	expect_violation("read, PDE not present", r, EXIT_QUAL_EPT_READ | Q_LIN, TR_PAGE(PG_DATA1) + OFF,
			 TR_PAGE(PG_DATA1) + OFF, (uintptr_t)gx_read);
	ept_reset();
	invept_single();
	r = resume();
	expect_read("read, PDE restored, VMRESUME", r, magic(TR_PAGE(PG_DATA1) + OFF));

	/* Write to a read/execute page. */
	ept_reset();
	a = TR_PAGE(PG_DATA1) + OFF;
	ept_pt[PG_DATA1] = TR_PAGE(PG_DATA1) | R | X | MT_WB;
	ept_vmcs(eptp, 0, 0, 0);
	r = go(CMD_WRITE, a, 0x1234567887654321ull);
	expect_violation("write, PTE R-X", r, EXIT_QUAL_EPT_WRITE | Q_PERMS(R | X) | Q_LIN, a, a,
			 (uintptr_t)gx_write);
	report(*hp(a) == magic(a), "the refused write left memory alone (0x%lx)", (unsigned long)*hp(a));
	ept_pt[PG_DATA1] = TR_PAGE(PG_DATA1) | R | W | MT_WB;
	invept_single();
	r = resume();
	report(r == EXIT_REASON_VMCALL && *hp(a) == 0x1234567887654321ull,
	       "write, PTE made writable, VMRESUME: the write completes (exit %u, memory 0x%lx)", r,
	       (unsigned long)*hp(a));

	/* The qualification's permissions are the AND over the walk: PDE
	 * R-X above an RWX PTE refuses the write and reports R-X. */
	ept_reset();
	*pde = (uintptr_t)ept_pt | R | X;
	ept_vmcs(eptp, 0, 0, 0);
	r = go(CMD_WRITE, a, 1);
	expect_violation("write, PDE R-X over PTE RWX", r, EXIT_QUAL_EPT_WRITE | Q_PERMS(R | X) | Q_LIN, a, a,
			 (uintptr_t)gx_write);

	/* Instruction fetch from a read/write page: the CALL completed, the
	 * fetch at its target exits. */
	ept_reset();
	a = TR_PAGE(PG_CODE);
	ept_pt[PG_CODE] = a | R | W | MT_WB;
	ept_vmcs(eptp, 0, 0, 0);
	r = go(CMD_CALL, a, 0);
	expect_violation("fetch, PTE RW-", r, EXIT_QUAL_EPT_FETCH | Q_PERMS(R | W) | Q_LIN, a, a, a);
	ept_pt[PG_CODE] = a | X | R | MT_WB;
	invept_single();
	r = resume();
	report(r == EXIT_REASON_VMCALL && rip() == a,
	       "fetch, PTE made executable, VMRESUME: the VMCALL on that page runs (exit %u, RIP 0x%lx)", r,
	       (unsigned long)rip());

	/* Execute-only pages (A.10 bit 0): reads refused, fetches work. */
	if (has(EPT_VPID_CAP_EXEC_ONLY)) {
		ept_reset();
		a = TR_PAGE(PG_XO);
		ept_pt[PG_XO] = a | X | MT_WB;
		ept_vmcs(eptp, 0, 0, 0);
		r = go(CMD_READ, a + OFF, 0);
		expect_violation("read, execute-only PTE", r, EXIT_QUAL_EPT_READ | Q_PERMS(X) | Q_LIN, a + OFF,
				 a + OFF, (uintptr_t)gx_read);
		ept_vmcs(eptp, 0, 0, 0);
		r = go(CMD_CALL, a, 0);
		report(r == EXIT_REASON_VMCALL && rip() == a,
		       "fetch from an execute-only page runs its VMCALL (exit %u, RIP 0x%lx, qual 0x%lx, GPA 0x%lx)", r,
		       (unsigned long)rip(), (unsigned long)qual(), (unsigned long)gpa());
	} else {
		report_skip("execute-only EPT pages not offered");
	}

	/* The guest's own page walk: its PT lies in a page EPT does not
	 * map, so reading the PTE exits with bit 8 clear and the PTE's
	 * address as the GPA; the linear address is the access's. */
	ept_reset();
	gcr3 = guest_tables();
	ept_pt[PG_GPT] = 0;
	ept_vmcs(eptp, 0, 0, gcr3);
	a = GL_ADDR + OFF;
	r = go(CMD_READ, a, 0);
	expect_violation("guest page walk reads a PTE in a not-present page", r, EXIT_QUAL_EPT_READ | Q_WALK,
			 TR_PAGE(PG_GPT) + GL_IDX * 8, a, (uintptr_t)gx_read);
	ept_pt[PG_GPT] = TR_PAGE(PG_GPT) | R | W | MT_WB;
	invept_single();
	r = resume();
	expect_read("guest PT made readable, VMRESUME", r, magic(TR_PAGE(PG_P1) + OFF));

	/* Final access through the guest's own tables: GPA and linear
	 * address differ. */
	ept_reset();
	guest_tables();
	ept_pt[PG_P1] = 0;
	ept_vmcs(eptp, 0, 0, gcr3);
	r = go(CMD_READ, a, 0);
	expect_violation("read through the guest's own PTE, EPT PTE not present", r, EXIT_QUAL_EPT_READ | Q_LIN,
			 TR_PAGE(PG_P1) + OFF, a, (uintptr_t)gx_read);
}

/* ---- 3. EPT misconfigurations ------------------------------------------- */

static void misconfig_leaf(uint64_t e, const char *what)
{
	uint64_t a = TR_PAGE(PG_MC) + OFF;

	ept_reset();
	ept_pt[PG_MC] = e;
	ept_vmcs(eptp, 0, 0, 0);
	expect_misconfig(what, go(CMD_READ, a, 0), a, (uintptr_t)gx_read);
}

static void test_misconfig(void)
{
	uint64_t pg = TR_PAGE(PG_MC), a = pg + OFF, *pde = &ept_pd[TR_BASE >> 30][(TR_BASE >> 21) & 511];
	uint32_t r;

	/* SDM 29.3.3.1: bits 2:0 = 010b or 110b. */
	misconfig_leaf(pg | W | MT_WB, "PTE write-only");
	misconfig_leaf(pg | W | X | MT_WB, "PTE write/execute");
	if (!has(EPT_VPID_CAP_EXEC_ONLY))
		misconfig_leaf(pg | X | MT_WB, "PTE execute-only, not offered");
	/* A leaf's memory type 2, 3 or 7. */
	misconfig_leaf(pg | RWX | MT(2), "PTE memory type 2");
	misconfig_leaf(pg | RWX | MT(3), "PTE memory type 3");
	misconfig_leaf(pg | RWX | MT(7), "PTE memory type 7");
	/* Reserved bits 51:N. */
	if (maxphyaddr < 52)
		misconfig_leaf(pg | (1ull << maxphyaddr) | RWX | MT_WB, "PTE bit MAXPHYADDR");
	misconfig_leaf(pg | (1ull << 51) | RWX | MT_WB, "PTE bit 51");

	/* A PDE that references a table: bits 6:3 reserved. */
	ept_reset();
	*pde = (uintptr_t)ept_pt | RWX | (1ull << 3);
	ept_vmcs(eptp, 0, 0, 0);
	expect_misconfig("PDE (table) bit 3", go(CMD_READ, a, 0), a, (uintptr_t)gx_read);
	/* A 2 MiB PDE: bits 20:12 reserved. */
	ept_reset();
	*pde = TR_BASE | (1ull << 12) | RWX | MT_WB | EPTE_LARGE_PAGE;
	ept_vmcs(eptp, 0, 0, 0);
	expect_misconfig("2 MiB PDE bit 12", go(CMD_READ, a, 0), a, (uintptr_t)gx_read);
	/* A 1 GiB PDPTE: bit 7 reserved without A.10 bit 17, else bits
	 * 29:12 reserved. */
	ept_reset();
	ept_pdpt[GIG_GPA >> 30] = (has(EPT_VPID_CAP_1GB) ? 1ull << 12 : 0) | RWX | MT_WB | EPTE_LARGE_PAGE;
	ept_vmcs(eptp, 0, 0, 0);
	expect_misconfig(has(EPT_VPID_CAP_1GB) ? "1 GiB PDPTE bit 12" : "PDPTE bit 7 without 1 GiB pages",
			 go(CMD_READ, GIG_GPA + OFF, 0), GIG_GPA + OFF, (uintptr_t)gx_read);
	/* An EPT PML4E: bits 7:3 reserved.  The guest's first access is
	 * its page walk for the first fetch, reading its PML4E (this
	 * kernel's tables): that GPA, exact, is reported. */
	ept_reset();
	ept_pml4[0] |= 1ull << 7;
	ept_vmcs(eptp, 0, 0, 0);
	expect_misconfig("EPT PML4E bit 7, at the guest's first PML4E read", go(CMD_READ, a, 0),
			 (read_cr3() & ~0xfffull) + 8 * (((uintptr_t)gx_loop >> 39) & 511), (uintptr_t)gx_loop);
	/* A misconfiguration met by the guest's own page walk: the GPA is
	 * that of the guest PTE read. */
	ept_reset();
	ept_pt[PG_GPT] = TR_PAGE(PG_GPT) | RWX | MT(7);
	ept_vmcs(eptp, 0, 0, guest_tables());
	expect_misconfig("guest PT page with EPT memory type 7, guest page walk", go(CMD_READ, GL_ADDR + OFF, 0),
			 TR_PAGE(PG_GPT) + GL_IDX * 8, (uintptr_t)gx_read);
	/* A misconfiguration anywhere in the walk wins over the
	 * permissions, which are only looked at once the walk is done
	 * (SDM 29.3.3.3): a write through a PDE R-X to a misconfigured
	 * PTE is a misconfiguration. */
	ept_reset();
	*pde = (uintptr_t)ept_pt | R | X;
	ept_pt[PG_MC] = pg | W | MT_WB;
	ept_vmcs(eptp, 0, 0, 0);
	r = go(CMD_WRITE, a, 5);
	expect_misconfig("write via PDE R-X to a write-only PTE", r, a, (uintptr_t)gx_write);
	/* After the fix the access completes. */
	ept_reset();
	invept_single();
	r = resume();
	report(r == EXIT_REASON_VMCALL && *hp(a) == 5, "PTE fixed, VMRESUME: the write completes (exit %u)", r);
}

/* ---- 4. large pages ------------------------------------------------------- */

static volatile uint64_t gig_target;

static void test_large_pages(void)
{
	uint32_t r;

	ept_reset();
	*hp(ALIAS_HPA + 0x1238) = 0xa11a5a11a5000001ull;
	*hp(ALIAS_HPA + 0x1ffff8) = 0xa11a5a11a5000002ull;
	ept_pd[ALIAS_GPA >> 30][(ALIAS_GPA >> 21) & 511] = ALIAS_HPA | RWX | MT_WB | EPTE_LARGE_PAGE;
	ept_vmcs(eptp, 0, 0, 0);
	r = go(CMD_READ, ALIAS_GPA + 0x1238, 0);
	expect_read("2 MiB EPT page GPA 0xc0000000 -> HPA 0x1200000, offset 0x1238", r, 0xa11a5a11a5000001ull);
	r = go(CMD_READ, ALIAS_GPA + 0x1ffff8, 0);
	expect_read("2 MiB EPT page, offset 0x1ffff8 (bits 20:0 from the GPA)", r, 0xa11a5a11a5000002ull);

	if (!has(EPT_VPID_CAP_1GB)) {
		report_skip("1 GiB EPT pages not offered");
		return;
	}
	gig_target = 0x1617181920212223ull;
	ept_reset();
	ept_pdpt[GIG_GPA >> 30] = 0 | RWX | MT_WB | EPTE_LARGE_PAGE;
	ept_vmcs(eptp, 0, 0, 0);
	r = go(CMD_READ, GIG_GPA + (uintptr_t)&gig_target, 0);
	expect_read("1 GiB EPT page GPA 2 GiB -> HPA 0", r, 0x1617181920212223ull);
}

/* ---- 5. INVEPT ------------------------------------------------------------- */

static void test_invept(void)
{
	uint64_t x = TR_PAGE(PG_INV) + OFF, info, defined;
	uint16_t vpid = (proc2_may1 & SECONDARY_ENABLE_VPID) ? 1 : 0;
	uint32_t r;
	int v;

	if (!has(EPT_VPID_CAP_INVEPT)) {
		report_skip("INVEPT not offered (A.10 bit 20)");
		return;
	}
	/* Types: 1 single-context, 2 all-context, each if offered; the
	 * whole 64-bit register is the type (SDM 31.3 INVEPT). */
	{
		static const uint64_t bad[] = { 0, 3, 4, 0x100000001ull, ~0ull };

		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			v = invept(bad[i], eptp);
			report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
			       "INVEPT type 0x%lx: VMfailValid, error 28 (got %d, error %lu)", (unsigned long)bad[i], v,
			       (unsigned long)insn_err());
		}
	}
	for (uint64_t t = 1; t <= 2; t++) {
		int offered = has(t == 1 ? EPT_VPID_CAP_INVEPT_SINGLE : EPT_VPID_CAP_INVEPT_ALL);

		v = invept(t, eptp);
		if (offered)
			report(v == 0, "INVEPT type %lu (offered) succeeds (got %d)", (unsigned long)t, v);
		else
			report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
			       "INVEPT type %lu, not offered: error 28 (got %d)", (unsigned long)t, v);
	}
	if (has(EPT_VPID_CAP_INVEPT_SINGLE)) {
		/* Single-context with an EPTP VM entry would refuse. */
		v = invept(INVEPT_SINGLE_CONTEXT, (eptp & ~7ull) | 1);
		report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
		       "INVEPT single-context with EPTP memory type 1: error 28 (got %d)", v);
		v = invept(INVEPT_SINGLE_CONTEXT, eptp | (1ull << 9));
		report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
		       "INVEPT single-context with EPTP bit 9 set: error 28 (got %d)", v);
	}

	/* Stale guest-physical translations (SDM 29.4.3.1, 29.4.3.3): with
	 * VPID on, VM entries and exits keep combined mappings, so a changed
	 * EPT leaf takes effect only after INVEPT. */
	*hp(HPA_A + OFF) = 0xaaaa0000aaaa0000ull;
	*hp(HPA_B + OFF) = 0xbbbb0000bbbb0000ull;
	for (uint64_t t = 1; t <= 2; t++) {
		uint64_t first = t == 1 ? HPA_A : HPA_B, second = t == 1 ? HPA_B : HPA_A;

		if (!has(t == 1 ? EPT_VPID_CAP_INVEPT_SINGLE : EPT_VPID_CAP_INVEPT_ALL))
			continue;
		ept_reset();
		ept_pt[PG_INV] = first | RWX | MT_WB;
		ept_vmcs(eptp, vpid ? SECONDARY_ENABLE_VPID : 0, vpid, 0);
		r = go(CMD_READ, x, 0);
		expect_read(t == 1 ? "INVEPT 1: GPA X -> HPA A" : "INVEPT 2: GPA X -> HPA B", r, *hp(first + OFF));
		ept_pt[PG_INV] = second | RWX | MT_WB;
		if (vpid) {
			r = go(CMD_READ, x, 0);
			/* Same VPID and EPTP: the entry keeps the cached
			 * translation (SDM 29.4.3.1). */
			expect_read("EPT leaf changed, no INVEPT, same VPID: the cached translation stays", r,
				    *hp(first + OFF));
		} else {
			report_skip("VPID not offered: stale EPT translation across entries");
		}
		v = invept(t, eptp);
		report(v == 0, "INVEPT type %lu succeeds (got %d)", (unsigned long)t, v);
		r = go(CMD_READ, x, 0);
		expect_read(t == 1 ? "after INVEPT single-context the new HPA" : "after INVEPT all-context the new HPA",
			    r, *hp(second + OFF));
	}

	/* INVEPT and INVVPID in VMX non-root operation: exit reasons 50
	 * and 53; qualification = the displacement, sign-extended (SDM
	 * 28.2.1); instruction information per SDM 28.2.5 table "...Used
	 * for INVEPT, INVPCID, and INVVPID" (bits 6:2, 14:11 undefined, and
	 * scaling/index undefined without an index register). */
	ept_reset();
	ept_vmcs(eptp, 0, 0, 0);
	vmwrite(VMCS_GUEST_RIP, (uintptr_t)gx_invept);
	r = go(CMD_NOP, 0, 0);
	info = vmread(VMCS_EXIT_INSTRUCTION_INFO);
	defined = 0xffffffffull & ~(0x7cull | 0x7800ull | 0x3ull | INSN_INFO_INDEX_MASK);
	report(r == EXIT_REASON_INVEPT && qual() == 0x10 && rip() == (uintptr_t)gx_invept &&
		       vmread(VMCS_EXIT_INSTRUCTION_LEN) == (uint64_t)(gx_invept_end - gx_invept),
	       "INVEPT in non-root operation: exit 50, qualification 0x10, RIP and length %lu (got %u, 0x%lx, 0x%lx, %lu)",
	       (unsigned long)(gx_invept_end - gx_invept), r, (unsigned long)qual(), (unsigned long)rip(),
	       (unsigned long)vmread(VMCS_EXIT_INSTRUCTION_LEN));
	/* invept 0x10(%rbx), %rcx: 64-bit address size, DS, no index, base
	 * RBX (3), reg2 RCX (1). */
	report((info & defined) == ((2u << 7) | (3u << 15) | INSN_INFO_INDEX_INVALID | (3u << 23) | (1u << 28)),
	       "INVEPT instruction information 0x%lx (defined bits 0x%lx)", (unsigned long)info,
	       (unsigned long)(info & defined));
	if (!(proc2_may1 & SECONDARY_ENABLE_VPID) || !has(EPT_VPID_CAP_INVVPID))
		return;
	ept_vmcs(eptp, 0, 0, 0);
	vmwrite(VMCS_GUEST_RIP, (uintptr_t)gx_invvpid);
	r = go(CMD_NOP, 0, 0);
	info = vmread(VMCS_EXIT_INSTRUCTION_INFO);
	defined = 0xffffffffull & ~(0x7cull | 0x7800ull);
	report(r == EXIT_REASON_INVVPID && qual() == (uint64_t)-0x20 && rip() == (uintptr_t)gx_invvpid &&
		       vmread(VMCS_EXIT_INSTRUCTION_LEN) == (uint64_t)(gx_invvpid_end - gx_invvpid),
	       "INVVPID in non-root operation: exit 53, qualification -0x20 sign-extended (got %u, 0x%lx, len %lu)", r,
	       (unsigned long)qual(), (unsigned long)vmread(VMCS_EXIT_INSTRUCTION_LEN));
	/* invvpid -0x20(%rsi,%rdi,8), %rdx: scale 3, 64-bit, DS, index RDI
	 * (7), base RSI (6), reg2 RDX (2). */
	report((info & defined) == (3u | (2u << 7) | (3u << 15) | (7u << 18) | (6u << 23) | (2u << 28)),
	       "INVVPID instruction information 0x%lx (defined bits 0x%lx)", (unsigned long)info,
	       (unsigned long)(info & defined));
}

/* ---- 6. VPID and INVVPID --------------------------------------------------- */

static const char *const invvpid_name[4] = { "individual-address", "single-context", "all-context",
					     "single-context retaining globals" };

static void test_vpid(void)
{
	uint64_t gcr3, pte = TR_PAGE(PG_GPT) + GL_IDX * 8, a = GL_ADDR + OFF;
	uint64_t p1 = TR_PAGE(PG_P1) | PTE_P | PTE_W, p2 = TR_PAGE(PG_P2) | PTE_P | PTE_W;
	uint64_t v1 = magic(TR_PAGE(PG_P1) + OFF), v2 = magic(TR_PAGE(PG_P2) + OFF);
	uint64_t cur_pte, cur_val, old_val;
	uint32_t r;
	int v;

	if (!(proc2_may1 & SECONDARY_ENABLE_VPID)) {
		report_skip("VPID not offered");
		return;
	}
	/* Errors (SDM 31.3 INVVPID): a type not offered, VPID 0 with types
	 * 0/1/3, descriptor bits 63:16, a non-canonical address with type 0. */
	if (has(EPT_VPID_CAP_INVVPID)) {
		for (uint64_t t = 0; t <= 3; t++) {
			v = invvpid(t, 0, 0);
			if (!has(EPT_VPID_CAP_INVVPID_ADDR << t))
				report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
				       "INVVPID %s, not offered: error 28 (got %d)", invvpid_name[t], v);
			else if (t == 2)
				report(v == 0, "INVVPID all-context ignores the VPID field: succeeds (got %d)", v);
			else
				report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
				       "INVVPID %s with VPID 0: error 28 (got %d, error %lu)", invvpid_name[t], v,
				       (unsigned long)insn_err());
		}
		v = invvpid(4, 1, 0);
		report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
		       "INVVPID type 4: error 28 (got %d)", v);
		v = invvpid(0x100000001ull, 1, 0);
		report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
		       "INVVPID type 0x100000001: error 28 (got %d)", v);
		if (has(EPT_VPID_CAP_INVVPID_ADDR)) {
			v = invvpid(INVVPID_INDIVIDUAL_ADDRESS, 1, 0x0000800000000000ull);
			report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
			       "INVVPID individual-address, non-canonical 0x800000000000: error 28 (got %d)", v);
			v = invvpid(INVVPID_INDIVIDUAL_ADDRESS, 1, 0xffff800000000000ull);
			report(v == 0, "INVVPID individual-address, canonical 0xffff800000000000: succeeds (got %d)", v);
		}
		if (has(EPT_VPID_CAP_INVVPID_SINGLE)) {
			v = invvpid(INVVPID_SINGLE_CONTEXT, 1 | (1ull << 16), 0);
			report(v == VMX_FAIL_VALID && insn_err() == VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID,
			       "INVVPID with descriptor bit 16 set: error 28 (got %d)", v);
			v = invvpid(INVVPID_SINGLE_CONTEXT, 1, 0x0000800000000000ull);
			report(v == 0, "INVVPID single-context ignores the linear address: succeeds (got %d)", v);
		}
	} else {
		report_skip("INVVPID not offered");
	}

	/* VPID off: every VM entry and exit invalidates the linear and
	 * combined mappings of VPID 0 (SDM 29.4.3.1), so the guest's own PTE
	 * change is seen at the next entry without INVLPG. */
	ept_reset();
	gcr3 = guest_tables();
	ept_vmcs(eptp, 0, 0, gcr3);
	r = go(CMD_READ, a, 0);
	expect_read("VPID off: the guest reads through its PTE (page P1)", r, v1);
	r = go(CMD_WRITE, pte, p2);
	report(r == EXIT_REASON_VMCALL && *hp(pte) == p2, "the guest rewrote its own PTE to page P2 (no INVLPG)");
	r = go(CMD_READ, a, 0);
	expect_read("VPID off: after an exit and entry the guest sees P2", r, v2);

	/* VPID on: translations cached under VPID 1 survive the exit and
	 * the entry (SDM 29.1, 29.4.3.1). */
	ept_reset();
	gcr3 = guest_tables();
	ept_vmcs(eptp, SECONDARY_ENABLE_VPID, 1, gcr3);
	r = go(CMD_READ, a, 0);
	expect_read("VPID 1: the guest reads through its PTE (page P1)", r, v1);
	r = go(CMD_WRITE, pte, p2);
	report(r == EXIT_REASON_VMCALL && *hp(pte) == p2, "VPID 1: the guest rewrote its own PTE to page P2");
	r = go(CMD_READ, a, 0);
	/* No invalidation, same VPID: the translation to P1 is still
	 * cached (SDM 29.4.3.1). */
	expect_read("VPID 1, same VPID at the next entry: the stale translation to P1 stays", r, v1);
	/* A different VPID: VPID 1's translations do not apply. */
	vmwrite(VMCS_VPID, 2);
	r = go(CMD_READ, a, 0);
	expect_read("VPID 2: the guest sees its PTE's page P2", r, v2);

	/* Each INVVPID type offered invalidates what VPID 1 (now 2) cached:
	 * flip the PTE, see the stale page, INVVPID, see the new one. */
	cur_pte = p2;
	cur_val = v2;
	for (uint64_t t = 0; t <= 3; t++) {
		uint64_t next_pte = cur_pte == p1 ? p2 : p1, next_val = cur_val == v1 ? v2 : v1;

		if (!has(EPT_VPID_CAP_INVVPID) || !has(EPT_VPID_CAP_INVVPID_ADDR << t)) {
			report_skip("INVVPID %s not offered", invvpid_name[t]);
			continue;
		}
		old_val = cur_val;
		r = go(CMD_READ, a, 0);
		expect_read("VPID 2: the guest reads its current page", r, cur_val);
		r = go(CMD_WRITE, pte, next_pte);
		r = go(CMD_READ, a, 0);
		expect_read("VPID 2: the PTE changed, no invalidation: the stale page", r, old_val);
		v = invvpid(t, 2, a);
		report(v == 0, "INVVPID %s for VPID 2 succeeds (got %d)", invvpid_name[t], v);
		r = go(CMD_READ, a, 0);
		expect_read(t == 0 ? "after INVVPID individual-address: the new page" :
			    t == 1 ? "after INVVPID single-context: the new page" :
			    t == 2 ? "after INVVPID all-context: the new page" :
				     "after INVVPID single-context retaining globals: the new page (PTE not global)",
			    r, next_val);
		cur_pte = next_pte;
		cur_val = next_val;
	}
}

/* ---- 7. What a VM entry or exit itself invalidates ------------------------ *
 *
 * Without VPID, every entry and exit invalidates the linear and combined
 * mappings of VPID 0000H (SDM 29.4.3.1), the host's among them; with
 * VPID they need not invalidate any linear or combined mapping (29.4.3.2),
 * and those are tagged by VPID, PCID and (combined) EP4TA, not by CR3
 * (29.4.2).  hvsim keeps what it may keep: these checks hold its host-side
 * caches (one Unicorn TLB per engine) to the same rules. */
static void test_transitions(void)
{
	uint64_t a = GL_ADDR + OFF, x = TR_PAGE(PG_INV) + OFF, pte = TR_PAGE(PG_GPT) + GL_IDX * 8;
	uint64_t v1 = magic(TR_PAGE(PG_P1) + OFF), v2 = magic(TR_PAGE(PG_P2) + OFF), ga, gb, hcr3, eptp_b;
	int vpid_ok = !!(proc2_may1 & SECONDARY_ENABLE_VPID);
	uint32_t r;

	/* The entry loads another guest CR3. */
	ept_reset();
	ga = guest_tables();
	gb = guest_tables_b();
	ept_vmcs(eptp, 0, 0, ga);
	r = go(CMD_READ, a, 0);
	expect_read("VPID off, guest CR3 A: page P1", r, v1);
	vmwrite(VMCS_GUEST_CR3, gb);
	r = go(CMD_READ, a, 0);
	expect_read("VPID off, the entry loads guest CR3 B: page P2", r, v2);
	if (vpid_ok) {
		ept_vmcs(eptp, SECONDARY_ENABLE_VPID, 1, ga);
		r = go(CMD_READ, a, 0);
		expect_read("VPID 1, guest CR3 A: page P1", r, v1);
		vmwrite(VMCS_GUEST_CR3, gb);
		r = go(CMD_READ, a, 0);
		expect_read("VPID 1, the entry loads guest CR3 B: VPID 1's mapping survives, page P1", r, v1);
		if (has(EPT_VPID_CAP_INVVPID) && has(EPT_VPID_CAP_INVVPID_SINGLE)) {
			report(invvpid(INVVPID_SINGLE_CONTEXT, 1, 0) == 0, "INVVPID single-context for VPID 1");
			r = go(CMD_READ, a, 0);
			expect_read("VPID 1, guest CR3 B after INVVPID: page P2", r, v2);
		}
	}

	/* The entry loads another EPTP: combined mappings are tagged by
	 * EP4TA, so the guest sees the new EPT's leaf at once. */
	ept_reset();
	for (int i = 0; i < 512; i++) {
		eptb_pml4[i] = ept_pml4[i];
		eptb_pdpt[i] = ept_pdpt[i];
		eptb_pd[i] = ept_pd[TR_BASE >> 30][i];
		eptb_pt[i] = ept_pt[i];
	}
	eptb_pml4[0] = (uintptr_t)eptb_pdpt | RWX;
	eptb_pdpt[TR_BASE >> 30] = (uintptr_t)eptb_pd | RWX;
	eptb_pd[(TR_BASE >> 21) & 511] = (uintptr_t)eptb_pt | RWX;
	ept_pt[PG_INV] = HPA_A | RWX | MT_WB;
	eptb_pt[PG_INV] = HPA_B | RWX | MT_WB;
	*hp(HPA_A + OFF) = 0xaaaa0000aaaa0000ull;
	*hp(HPA_B + OFF) = 0xbbbb0000bbbb0000ull;
	eptp_b = (uintptr_t)eptb_pml4 | (eptp & 0xfff);
	ept_vmcs(eptp, vpid_ok ? SECONDARY_ENABLE_VPID : 0, vpid_ok, 0);
	r = go(CMD_READ, x, 0);
	expect_read("EPTP A: GPA X -> HPA A", r, *hp(HPA_A + OFF));
	vmwrite(VMCS_EPT_POINTER, eptp_b);
	r = go(CMD_READ, x, 0);
	expect_read("the entry loads EPTP B, same VPID: GPA X -> HPA B", r, *hp(HPA_B + OFF));
	vmwrite(VMCS_EPT_POINTER, eptp);
	ept_reset();
	if (has(EPT_VPID_CAP_INVEPT_ALL))
		invept(INVEPT_ALL_CONTEXT, 0);

	/* The host's own mappings: this kernel runs on the guest's tables A
	 * (which map all it uses) and reads `a` through its PTE. */
	hcr3 = read_cr3();
	ga = guest_tables();
	write_cr3(ga);
	ept_vmcs(eptp, 0, 0, ga);	/* HOST_CR3 = ga too */
	report(*hp(a) == v1, "host on tables A reads page P1 at 0x%lx", (unsigned long)a);
	*hp(pte) = TR_PAGE(PG_P2) | PTE_P | PTE_W;	/* no INVLPG */
	r = go(CMD_NOP, 0, 0);
	report(r == EXIT_REASON_VMCALL && *hp(a) == v2,
	       "VPID off: the entry and exit invalidated the host's mappings, it reads page P2 (exit %u)", r);
	if (vpid_ok) {
		ept_vmcs(eptp, SECONDARY_ENABLE_VPID, 1, ga);
		report(*hp(a) == v2, "host reads page P2");
		*hp(pte) = TR_PAGE(PG_P1) | PTE_P | PTE_W;	/* no INVLPG */
		r = go(CMD_NOP, 0, 0);
		report(r == EXIT_REASON_VMCALL && *hp(a) == v2,
		       "VPID 1: the entry and exit keep the host's mapping, it still reads page P2 (exit %u)", r);
		invlpg((const void *)(uintptr_t)a);
		report(*hp(a) == v1, "after INVLPG the host reads page P1");
	}
	write_cr3(hcr3);
}

/* ---- 8. EPT accessed and dirty flags -------------------------------------- */

static void test_ad(void)
{
	uint64_t a = TR_PAGE(PG_DATA0) + OFF, ad = EPTE_ACCESSED | EPTE_DIRTY, *pde;
	uint64_t gcr3;
	uint32_t r;

	if (!has(EPT_VPID_CAP_AD)) {
		report_skip("EPT accessed/dirty flags not offered (A.10 bit 21)");
		return;
	}
	pde = &ept_pd[TR_BASE >> 30][(TR_BASE >> 21) & 511];
	ept_reset();
	ept_pml4[0] &= ~ad;
	ept_pdpt[0] &= ~ad;
	*pde &= ~ad;
	ept_pt[PG_DATA0] &= ~ad;
	ept_vmcs(eptp | EPTP_AD_ENABLE, 0, 0, 0);
	r = go(CMD_READ, a, 0);
	report(r == EXIT_REASON_VMCALL && (ept_pt[PG_DATA0] & ad) == EPTE_ACCESSED,
	       "EPT A/D: a read sets A, not D, in the PTE (0x%lx)", (unsigned long)ept_pt[PG_DATA0]);
	report((ept_pml4[0] & EPTE_ACCESSED) && (ept_pdpt[0] & EPTE_ACCESSED) && (*pde & EPTE_ACCESSED),
	       "EPT A/D: A set in the PML4E, PDPTE and PDE used");
	r = go(CMD_WRITE, a, 7);
	report(r == EXIT_REASON_VMCALL && (ept_pt[PG_DATA0] & ad) == ad, "EPT A/D: a write sets D in the PTE (0x%lx)",
	       (unsigned long)ept_pt[PG_DATA0]);

	/* With A/D on, the guest's page-walk accesses count as writes
	 * (SDM 29.3.3.2): its PT in a read-only page makes a violation
	 * reporting both read and write. */
	ept_reset();
	gcr3 = guest_tables();
	ept_pt[PG_GPT] = TR_PAGE(PG_GPT) | R | MT_WB;
	ept_vmcs(eptp | EPTP_AD_ENABLE, 0, 0, gcr3);
	r = go(CMD_READ, GL_ADDR + OFF, 0);
	expect_violation("EPT A/D: guest PTE read in a read-only page", r,
			 EXIT_QUAL_EPT_READ | EXIT_QUAL_EPT_WRITE | Q_PERMS(R) | Q_WALK, TR_PAGE(PG_GPT) + GL_IDX * 8,
			 GL_ADDR + OFF, (uintptr_t)gx_read);
}

void test_main(uint32_t magic_, struct multiboot_info *info)
{
	if (!(cpuid(1, 0).ecx & (1u << 5))) {
		report_skip("no VMX");
		guest_exit(report_summary());
	}
	report(vmx_on() == 0, "VMXON succeeds");
	if (test_caps()) {
		ept_build();
		test_entry_checks();
		test_violations();
		test_misconfig();
		test_large_pages();
		test_invept();
		test_vpid();
		test_transitions();
		test_ad();
	}
	report(vmxoff() == 0, "VMXOFF succeeds");
	guest_exit(report_summary());
}
