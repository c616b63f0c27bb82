/* "Unrestricted guest" (SDM Vol. 3C 23.8, 25.6.2, 27.2.1.1, 27.3.1.1,
 * 27.3.1.2, 28.2/A.6): the capability, the VM-entry checks it changes,
 * a guest entered in real mode that runs 16-bit code and switches itself
 * to protected mode, event injection and exceptions in real mode, and a
 * guest entered in 32-bit protected mode with paging off that turns on
 * PAE paging and IA-32e mode itself, then leaves IA-32e mode again; the
 * VM exits store IA32_EFER.LMA in the "IA-32e mode guest" control.
 *
 * This kernel is the hypervisor; its guests run on an EPT identity map
 * (lib/vmx.c), so guest-physical addresses are this kernel's physical
 * ones.  The real-mode guest lives below 64 KiB:
 *   0x5000  its IVT (IDTR base)
 *   0x6000  data it writes (DATA), its stack below 0x6f00
 *   0x6100  the GDT pseudo-descriptor it loads with LGDT
 *   0x7000  its code (CS = 0700H), copied from rm_start below */
#include "vmx.h"

#define IVT_PA 0x5000u
#define DATA_PA 0x6000u
#define GDTD_PA 0x6100u
#define RM_SP 0x6f00u
#define RM_CS 0x0700u
#define RM_BASE 0x7000u
#define RM_OFF(label) ((uint16_t)((label) - rm_start))

#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define GUEST_FAIL (EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_INVALID_GUEST_STATE)

/* The real-mode guest.  Its main path sums 1..100, writes through DS and
 * through an ES it loads itself, takes INT 80H through its IVT, stores CS,
 * CR0 and SP, and VMCALLs at rm_vmcall; resumed after that VMCALL it loads
 * a GDT and enters protected mode (pm32_from_real).  rm_gp is its #GP
 * handler (for an injected #GP), rm_bad_cr0 a MOV to CR0 that faults. */
extern const char rm_start[], rm_vmcall[], rm_int80[], rm_gp[], rm_gp_vmcall[], rm_bad_cr0[], rm_bad_cr0_mov[],
	rm_end[];
extern const char rm_exits[], rm_x_cpuid[], rm_x_rdmsr[], rm_x_wrmsr[], rm_x_in[], rm_x_out[], rm_x_hlt[],
	rm_x_vmcall[];
extern const char pm32_from_real[], pm32_vmcall[];
volatile uint32_t pm32_marker;
asm(".pushsection .text\n"
    ".code16\n"
    "rm_start:\n"
    "	xorw %ax, %ax\n"
    "	movw %ax, %ds\n"
    "	movw $1, %cx\n"
    "	xorw %bx, %bx\n"
    "1:	addw %cx, %bx\n"
    "	incw %cx\n"
    "	cmpw $101, %cx\n"
    "	jne 1b\n"
    "	movw %bx, 0x6000\n"
    "	movw $0x0600, %ax\n"
    "	movw %ax, %es\n"
    "	movw $0xbeef, %es:0x10\n"
    "	int $0x80\n"
    "	movw %cs, %ax\n"
    "	movw %ax, 0x6030\n"
    "	movl %cr0, %eax\n"
    "	movl %eax, 0x6034\n"
    "	movw %sp, 0x6038\n"
    "rm_vmcall:\n"
    "	vmcall\n"
    "	lgdtl 0x6100\n"
    "	movl %cr0, %eax\n"
    "	orl $1, %eax\n"
    "	movl %eax, %cr0\n"
    "	ljmpl $0x18, $pm32_from_real\n"
    "rm_int80:\n"
    "	movw $0x1234, 0x6020\n"
    "	iret\n"
    "rm_gp:\n"
    "	movw %sp, %bp\n"
    "	movw (%bp), %ax\n"
    "	movw %ax, 0x6040\n"
    "	movw 2(%bp), %ax\n"
    "	movw %ax, 0x6042\n"
    "	movw 4(%bp), %ax\n"
    "	movw %ax, 0x6044\n"
    "	movw %sp, 0x6046\n"
    "rm_gp_vmcall:\n"
    "	vmcall\n"
    "rm_bad_cr0:\n"
    "	movl $0x80000030, %eax\n"	/* PG without PE */
    "rm_bad_cr0_mov:\n"
    "	movl %eax, %cr0\n"
    "	vmcall\n"
    "rm_exits:\n"
    "	movl $1, %eax\n"
    "rm_x_cpuid:\n"
    "	cpuid\n"
    "	movl $0x10, %ecx\n"
    "rm_x_rdmsr:\n"
    "	rdmsr\n"
    "	movl $0x174, %ecx\n"
    "rm_x_wrmsr:\n"
    "	wrmsr\n"
    "rm_x_in:\n"
    "	inb $0x70, %al\n"
    "rm_x_out:\n"
    "	outw %ax, %dx\n"
    "rm_x_hlt:\n"
    "	hlt\n"
    "rm_x_vmcall:\n"
    "	vmcall\n"
    "rm_end:\n"
    ".code32\n"
    "pm32_from_real:\n"
    "	movl $0x10, %eax\n"
    "	movl %eax, %ds\n"
    "	movl $0x32323232, pm32_marker\n"
    "pm32_vmcall:\n"
    "	vmcall\n"
    ".code64\n"
    ".popsection\n");

/* The protected-mode guest: entered with paging off at pm_start, it sets
 * CR4.PAE, CR3, IA32_EFER.LME (WRMSR) and CR0.PG, reads IA32_EFER, jumps
 * to 64-bit code and VMCALLs at lm_vmcall64; resumed, it returns to
 * 32-bit code, clears CR0.PG and VMCALLs at lm_vmcall32. */
extern const char pm_start[], pm_set_pg[], lm_vmcall64[], lm_vmcall32[];
volatile uint32_t lm_cr3, lm_efer_compat, lm_efer_after, lm_marker;
asm(".pushsection .text\n"
    ".code32\n"
    "pm_start:\n"
    "	movl %cr4, %eax\n"
    "	orl $0x20, %eax\n"
    "	movl %eax, %cr4\n"
    "	movl lm_cr3, %eax\n"
    "	movl %eax, %cr3\n"
    "	movl $0xc0000080, %ecx\n"
    "	rdmsr\n"
    "	orl $0x100, %eax\n"
    "	wrmsr\n"
    "	movl %cr0, %eax\n"
    "	orl $0x80000000, %eax\n"
    "pm_set_pg:\n"
    "	movl %eax, %cr0\n"
    "	rdmsr\n"
    "	movl %eax, lm_efer_compat\n"
    "	ljmp $0x08, $lm_64\n"
    ".code64\n"
    "lm_64:\n"
    "	movl $0x64, lm_marker(%rip)\n"
    "lm_vmcall64:\n"
    "	vmcall\n"
    "	pushq $0x18\n"
    "	leaq lm_compat(%rip), %rax\n"
    "	pushq %rax\n"
    "	lretq\n"
    ".code32\n"
    "lm_compat:\n"
    "	movl %cr0, %eax\n"
    "	andl $0x7fffffff, %eax\n"
    "	movl %eax, %cr0\n"
    "	movl $0xc0000080, %ecx\n"
    "	rdmsr\n"
    "	movl %eax, lm_efer_after\n"
    "lm_vmcall32:\n"
    "	vmcall\n"
    ".code64\n"
    ".popsection\n");

/* A paging-off read: pm_read loads the dword at pm_read_addr into
 * pm_read_val and VMCALLs. */
extern const char pm_read[], pm_read_insn[], pm_read_vmcall[];
volatile uint32_t pm_read_addr, pm_read_val;
asm(".pushsection .text\n"
    ".code32\n"
    "pm_read:\n"
    "	movl pm_read_addr, %ebx\n"
    "pm_read_insn:\n"
    "	movl (%ebx), %eax\n"
    "	movl %eax, pm_read_val\n"
    "pm_read_vmcall:\n"
    "	vmcall\n"
    ".code64\n"
    ".popsection\n");

static uint8_t guest_stack[8192] __attribute__((aligned(16)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));

static void guest_vmcall64(void)
{
	for (;;)
		asm volatile("vmcall");
}

static volatile uint16_t *d16(unsigned off)
{
	return (volatile uint16_t *)(uintptr_t)(DATA_PA + off);
}

static volatile uint32_t *d32(unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(DATA_PA + off);
}

static int exit_is(uint32_t reason)
{
	return vmread(VMCS_EXIT_REASON) == reason;
}

/* A VM-entry failure for invalid guest state with qualification 0
 * (SDM 27.8, 28.2.1). */
static int guest_state_refused(int r)
{
	return r == 0 && exit_is(GUEST_FAIL) && vmread(VMCS_EXIT_QUALIFICATION) == 0;
}

static int control_refused(int r)
{
	return r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_INVALID_CONTROL_FIELD;
}

static int ia32e_control(void)
{
	return !!(vmread(VMCS_ENTRY_CTLS) & VM_ENTRY_IA32E_MODE);
}

/* The 64-bit guest of lib/vmx.c, with the fields it leaves alone and an
 * earlier check of this test may have set (VMCLEAR keeps the region's
 * contents) back to their defaults. */
static void fresh_vmcs(void (*entry)(void))
{
	vmx_setup_vmcs(entry, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, 0);
	vmwrite(VMCS_CR4_GUEST_HOST_MASK, 0);
	vmwrite(VMCS_CR0_READ_SHADOW, 0);
	vmwrite(VMCS_CR4_READ_SHADOW, 0);
}

/* ... with "unrestricted guest" and the EPT identity map; IA32_EFER
 * saved on exit. */
static void ug_vmcs(void (*entry)(void))
{
	fresh_vmcs(entry);
	vmwrite(VMCS_EXIT_CTLS, vmx_ctl(MSR_IA32_VMX_TRUE_EXIT_CTLS, VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_SAVE_EFER));
	vmx_set_unrestricted();
}

/* ... with the real-mode guest at CS:IP = 0700H:ip. */
static void rm_vmcs(uint16_t ip)
{
	ug_vmcs(guest_vmcall64);
	vmx_guest_real_mode(RM_CS, ip, RM_SP, IVT_PA);
}

/* ... with the protected-mode guest: flat 32-bit code and data of this
 * kernel's GDT, paging off, IA32_EFER = 0, MSR accesses not exiting. */
static void pm_vmcs(void)
{
	ug_vmcs(guest_vmcall64);
	vmwrite(VMCS_PROC_BASED_CTLS, vmread(VMCS_PROC_BASED_CTLS) | CPU_BASED_USE_MSR_BITMAPS);
	vmwrite(VMCS_MSR_BITMAP, (uintptr_t)msr_bitmap);
	vmwrite(VMCS_GUEST_CS_SELECTOR, GUEST_CS32);
	vmwrite(VMCS_GUEST_CS_AR_BYTES, 0xc09b);
	vmwrite(VMCS_GUEST_CR0, X86_CR0_PE | CR0_ET | CR0_NE);
	vmwrite(VMCS_GUEST_CR3, 0);
	vmwrite(VMCS_GUEST_CR4, rdmsr(MSR_IA32_VMX_CR4_FIXED0));
	vmwrite(VMCS_GUEST_RIP, (uintptr_t)pm_start);
	vmwrite(VMCS_GUEST_IA32_EFER, 0);
	vmwrite(VMCS_ENTRY_CTLS, (vmread(VMCS_ENTRY_CTLS) & ~(uint64_t)VM_ENTRY_IA32E_MODE) | VM_ENTRY_LOAD_EFER);
}

/* ---- 1. capabilities ---------------------------------------------------- */

static int test_capabilities(void)
{
	uint64_t ctls2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2), misc = rdmsr(MSR_IA32_VMX_MISC);
	uint64_t fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
	int ok;

	ok = report((ctls2 >> 32) & SECONDARY_UNRESTRICTED_GUEST,
		    "IA32_VMX_PROCBASED_CTLS2 allowed-1 0x%x offers unrestricted guest (bit 7)",
		    (unsigned)(ctls2 >> 32));
	ok &= report((ctls2 >> 32) & SECONDARY_ENABLE_EPT, "... and enable EPT (bit 1), which it needs");
	ok &= report(misc & VMX_MISC_SAVE_EFER_LMA,
		     "IA32_VMX_MISC 0x%lx: VM exits store IA32_EFER.LMA in \"IA-32e mode guest\" (bit 5)",
		     (unsigned long)misc);
	/* The fixed-0 MSR still reports PE and PG (SDM A.7); "unrestricted
	 * guest" is what lifts them in non-root operation. */
	report((fixed0 & (X86_CR0_PE | X86_CR0_PG)) == (X86_CR0_PE | X86_CR0_PG),
	       "IA32_VMX_CR0_FIXED0 0x%lx still has PE and PG", (unsigned long)fixed0);
	return ok && vmx_ept_identity();
}

/* ---- 2. VM-entry checks ------------------------------------------------- */

/* VMLAUNCH of the current VMCS, with the outcome `what` should have:
 * VMfailValid with error 7 (a control check), a VM-entry failure for
 * invalid guest state, or an entry that runs the guest to its VMCALL. */
enum { CONTROL_ERROR, GUEST_STATE_FAILURE, RUNS };

static void expect(int want, const char *what)
{
	int r = vmx_enter(0);
	unsigned long reason = (unsigned long)vmread(VMCS_EXIT_REASON);

	switch (want) {
	case CONTROL_ERROR:
		report(control_refused(r), "%s: VMfailValid, error 7 (entry %d, error %lu)", what, r,
		       (unsigned long)vmread(VMCS_VM_INSTRUCTION_ERROR));
		break;
	case GUEST_STATE_FAILURE:
		report(guest_state_refused(r), "%s: entry failure, reason 0x%lx, qualification %lu (entry %d)", what,
		       reason, (unsigned long)vmread(VMCS_EXIT_QUALIFICATION), r);
		break;
	default:
		report(r == 0 && reason == EXIT_REASON_VMCALL, "%s: entry succeeds, the guest VMCALLs (entry %d, reason 0x%lx)",
		       what, r, reason);
		break;
	}
}

static void test_entry_checks(void)
{
	/* 27.2.1.1: "unrestricted guest" needs "enable EPT". */
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_PROC_BASED_CTLS2, SECONDARY_UNRESTRICTED_GUEST);
	expect(CONTROL_ERROR, "unrestricted guest without enable EPT");

	/* 27.3.1.1: without it, CR0.PE = 0 breaks the fixed bits. */
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_PROC_BASED_CTLS2, SECONDARY_ENABLE_EPT);
	expect(GUEST_STATE_FAILURE, "real mode with EPT but not unrestricted guest");
	/* With it, only PE and PG are exempt: NE stays fixed. */
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_GUEST_CR0, CR0_ET);
	expect(GUEST_STATE_FAILURE, "unrestricted guest with CR0.NE = 0");
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_GUEST_CR0, X86_CR0_PG | CR0_NE | CR0_ET);
	expect(GUEST_STATE_FAILURE, "CR0.PG = 1 with PE = 0");

	/* "IA-32e mode guest" needs CR0.PG and CR4.PAE, unrestricted or not. */
	pm_vmcs();
	vmwrite(VMCS_ENTRY_CTLS, vmread(VMCS_ENTRY_CTLS) | VM_ENTRY_IA32E_MODE);
	vmwrite(VMCS_GUEST_CR4, vmread(VMCS_GUEST_CR4) | X86_CR4_PAE);
	vmwrite(VMCS_GUEST_IA32_EFER, EFER_LME | EFER_LMA);
	expect(GUEST_STATE_FAILURE, "IA-32e mode guest with CR0.PG = 0");
	vmwrite(VMCS_GUEST_CR0, vmread(VMCS_GUEST_CR0) | X86_CR0_PG);
	vmwrite(VMCS_GUEST_CR3, read_cr3());
	vmwrite(VMCS_GUEST_CR4, vmread(VMCS_GUEST_CR4) & ~X86_CR4_PAE);
	expect(GUEST_STATE_FAILURE, "IA-32e mode guest with CR0.PG = 1 and CR4.PAE = 0");

	/* "load IA32_EFER": LME must equal LMA only when CR0.PG = 1. */
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_GUEST_IA32_EFER, EFER_LME);
	expect(RUNS, "IA32_EFER.LME = 1, LMA = 0 with paging off");
	report(vmread(VMCS_GUEST_IA32_EFER) == EFER_LME && !ia32e_control(), "... EFER saved 0x%lx, IA-32e mode guest %d",
	       (unsigned long)vmread(VMCS_GUEST_IA32_EFER), ia32e_control());

	/* 27.3.1.2, CS: type 3 (read/write accessed data) only with
	 * "unrestricted guest", and then with DPL 0. */
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_GUEST_CS_AR_BYTES, 0x93);
	expect(RUNS, "CS type 3 with unrestricted guest");
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_GUEST_CR0, vmread(VMCS_GUEST_CR0) | X86_CR0_PE);
	vmwrite(VMCS_GUEST_CS_AR_BYTES, 0xf3);
	vmwrite(VMCS_GUEST_SS_AR_BYTES, 0xf3);
	expect(GUEST_STATE_FAILURE, "CS type 3 with DPL 3");
	fresh_vmcs(guest_vmcall64);
	vmwrite(VMCS_GUEST_CS_AR_BYTES, 0xa093);
	expect(GUEST_STATE_FAILURE, "CS type 3 without unrestricted guest");

	/* SS: DPL 0 when CR0.PE = 0 (CS.DPL = SS.DPL = 3 otherwise
	 * consistent); in protected mode the same DPLs are a CPL-3 guest,
	 * whose VMCALL exits. */
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_GUEST_CS_AR_BYTES, 0xfb);
	vmwrite(VMCS_GUEST_SS_AR_BYTES, 0xf3);
	expect(GUEST_STATE_FAILURE, "real mode with SS.DPL = 3");
	vmwrite(VMCS_GUEST_CR0, vmread(VMCS_GUEST_CR0) | X86_CR0_PE);
	expect(RUNS, "the same with CR0.PE = 1 (paging off, CPL 3)");

	/* SS.RPL = CS.RPL and SS.DPL = SS.RPL are not checked with
	 * "unrestricted guest". */
	ug_vmcs(guest_vmcall64);
	vmwrite(VMCS_GUEST_SS_SELECTOR, GUEST_DS | 3);
	expect(RUNS, "SS selector RPL 3 under CS RPL 0, SS.DPL 0, unrestricted guest");
	fresh_vmcs(guest_vmcall64);
	vmwrite(VMCS_GUEST_SS_SELECTOR, GUEST_DS | 3);
	expect(GUEST_STATE_FAILURE, "the same without unrestricted guest");

	/* DS, ES, FS, GS: DPL below RPL only with "unrestricted guest". */
	ug_vmcs(guest_vmcall64);
	vmwrite(VMCS_GUEST_DS_SELECTOR, GUEST_DS | 3);
	vmwrite(VMCS_GUEST_FS_SELECTOR, GUEST_DS | 2);
	expect(RUNS, "DS and FS RPL above DPL 0 with unrestricted guest");
	fresh_vmcs(guest_vmcall64);
	vmwrite(VMCS_GUEST_DS_SELECTOR, GUEST_DS | 3);
	expect(GUEST_STATE_FAILURE, "DS RPL 3 above DPL 0 without unrestricted guest");

	/* TR: no exemption; unusable is refused in real mode too. */
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_GUEST_TR_AR_BYTES, 0x8b | VMX_AR_UNUSABLE);
	expect(GUEST_STATE_FAILURE, "real mode with TR unusable");
	vmwrite(VMCS_GUEST_TR_AR_BYTES, 0x83);
	expect(RUNS, "real mode with a busy 16-bit TSS in TR");

	/* 27.3.1.4: RFLAGS.VM = 0 with CR0.PE = 0. */
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_GUEST_RFLAGS, 2 | X86_RFLAGS_VM);
	expect(GUEST_STATE_FAILURE, "CR0.PE = 0 with RFLAGS.VM = 1");

	/* 27.2.1.3: with CR0.PE = 0 an injected hardware exception delivers
	 * no error code, so deliver-error-code must be 0. */
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION << 8 | GP_VECTOR | INTR_INFO_DELIVER_CODE);
	vmwrite(VMCS_ENTRY_EXCEPTION_ERROR_CODE, 0);
	expect(CONTROL_ERROR, "#GP injected into real mode with an error code");
}

/* ---- 3. a real-mode guest ------------------------------------------------ */

static void test_real_mode(void)
{
	volatile uint32_t *ivt = (volatile uint32_t *)(uintptr_t)IVT_PA;
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) gdtd = { GUEST_GDT_ENTRIES * 8 - 1, (uint32_t)(uintptr_t)guest_gdt };
	uint64_t ar;
	int r;

	memset((void *)(uintptr_t)DATA_PA, 0, 0x100);
	memcpy((void *)(uintptr_t)GDTD_PA, &gdtd, sizeof(gdtd));
	ivt[0x80] = RM_CS << 16 | RM_OFF(rm_int80);
	ivt[GP_VECTOR] = RM_CS << 16 | RM_OFF(rm_gp);

	rm_vmcs(0);
	r = vmx_enter(0);
	report(r == 0 && exit_is(EXIT_REASON_VMCALL) && vmread(VMCS_EXIT_INSTRUCTION_LEN) == 3,
	       "real-mode guest runs to its VMCALL (reason 0x%lx, length %lu)", (unsigned long)vmread(VMCS_EXIT_REASON),
	       (unsigned long)vmread(VMCS_EXIT_INSTRUCTION_LEN));
	report(*d16(0) == 5050, "16-bit loop: 1 + ... + 100 = %u at DS:6000H", *d16(0));
	report(*d16(0x10) == 0xbeef, "store through ES = 0600H landed at 6010H (0x%x)", *d16(0x10));
	report(*d16(0x20) == 0x1234, "INT 80H ran its IVT handler (0x%x)", *d16(0x20));
	report(*d16(0x30) == RM_CS, "CS read by the guest: 0x%x", *d16(0x30));
	report(!(*d32(0x34) & X86_CR0_PE), "CR0 read by the guest: 0x%x, PE clear", *d32(0x34));
	report(*d16(0x38) == RM_SP, "SP after the handler's IRET: 0x%x", *d16(0x38));
	report(vmread(VMCS_GUEST_RIP) == RM_OFF(rm_vmcall) && vmread(VMCS_GUEST_CS_SELECTOR) == RM_CS &&
		       vmread(VMCS_GUEST_CS_BASE) == RM_BASE,
	       "exit state: CS:IP %04lx:%04lx, CS base 0x%lx", (unsigned long)vmread(VMCS_GUEST_CS_SELECTOR),
	       (unsigned long)vmread(VMCS_GUEST_RIP), (unsigned long)vmread(VMCS_GUEST_CS_BASE));
	report(vmread(VMCS_GUEST_ES_SELECTOR) == 0x0600 && vmread(VMCS_GUEST_ES_BASE) == 0x6000,
	       "exit state: ES %04lx, base 0x%lx", (unsigned long)vmread(VMCS_GUEST_ES_SELECTOR),
	       (unsigned long)vmread(VMCS_GUEST_ES_BASE));
	report(!(vmread(VMCS_GUEST_CR0) & (X86_CR0_PE | X86_CR0_PG)) && vmread(VMCS_GUEST_RSP) == RM_SP,
	       "exit state: CR0 0x%lx (PE, PG clear), RSP 0x%lx", (unsigned long)vmread(VMCS_GUEST_CR0),
	       (unsigned long)vmread(VMCS_GUEST_RSP));
	report(!ia32e_control() && vmread(VMCS_GUEST_IA32_EFER) == 0, "exit state: IA-32e mode guest %d, IA32_EFER 0x%lx",
	       ia32e_control(), (unsigned long)vmread(VMCS_GUEST_IA32_EFER));

	/* Resumed, the guest enters protected mode: LGDT, CR0.PE, far JMP. */
	vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + vmread(VMCS_EXIT_INSTRUCTION_LEN));
	r = vmx_enter(1);
	ar = vmread(VMCS_GUEST_CS_AR_BYTES);
	report(r == 0 && exit_is(EXIT_REASON_VMCALL) && vmread(VMCS_GUEST_RIP) == (uintptr_t)pm32_vmcall,
	       "the guest switched to protected mode itself and VMCALLed at 0x%lx (reason 0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_RIP), (unsigned long)vmread(VMCS_EXIT_REASON));
	report((vmread(VMCS_GUEST_CR0) & X86_CR0_PE) && vmread(VMCS_GUEST_CS_SELECTOR) == GUEST_CS32 &&
		       (ar & VMX_AR_DB) && (ar & VMX_AR_TYPE_MASK) == 11 && pm32_marker == 0x32323232,
	       "exit state: CR0 0x%lx, CS %lx with access rights 0x%lx (32-bit code)",
	       (unsigned long)vmread(VMCS_GUEST_CR0), (unsigned long)vmread(VMCS_GUEST_CS_SELECTOR), (unsigned long)ar);

	/* An injected #GP in real mode goes through the IVT: FLAGS, CS and
	 * IP (the guest RIP) pushed, no error code (SDM 27.6.1, 20.1.4). */
	memset((void *)(uintptr_t)DATA_PA, 0, 0x100);
	rm_vmcs(RM_OFF(rm_vmcall));
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION << 8 | GP_VECTOR);
	r = vmx_enter(0);
	report(r == 0 && exit_is(EXIT_REASON_VMCALL) && vmread(VMCS_GUEST_RIP) == RM_OFF(rm_gp_vmcall),
	       "injected #GP: the IVT handler ran to its VMCALL (reason 0x%lx, IP 0x%lx)",
	       (unsigned long)vmread(VMCS_EXIT_REASON), (unsigned long)vmread(VMCS_GUEST_RIP));
	report(*d16(0x40) == RM_OFF(rm_vmcall) && *d16(0x42) == RM_CS && *d16(0x44) == 2 && *d16(0x46) == RM_SP - 6,
	       "the handler's frame: IP 0x%x, CS 0x%x, FLAGS 0x%x, SP 0x%x (want 0x%x, 0x%x, 2, 0x%x)", *d16(0x40),
	       *d16(0x42), *d16(0x44), *d16(0x46), RM_OFF(rm_vmcall), RM_CS, RM_SP - 6);
	report(!(vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID), "the injection's valid bit is cleared by the exit");

	/* A #GP the guest raises in real mode exits through the exception
	 * bitmap with no error code (SDM 28.2.2). */
	rm_vmcs(RM_OFF(rm_bad_cr0));
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << GP_VECTOR);
	r = vmx_enter(0);
	report(r == 0 && exit_is(EXIT_REASON_EXCEPTION_NMI) &&
		       vmread(VMCS_EXIT_INTR_INFO) == (INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION << 8 | GP_VECTOR) &&
		       vmread(VMCS_GUEST_RIP) == RM_OFF(rm_bad_cr0_mov),
	       "MOV to CR0 setting PG with PE clear: #GP exit, interruption info 0x%lx (no error code), IP 0x%lx",
	       (unsigned long)vmread(VMCS_EXIT_INTR_INFO), (unsigned long)vmread(VMCS_GUEST_RIP));
}

/* Instruction exits from real mode: the guest RIP saved is the IP, an
 * offset into CS, not the linear address (SDM 28.3.3 "Saving RIP, RSP,
 * RFLAGS, and SSP"), with the instruction's length (28.2.4), so the
 * hypervisor resumes the guest past the instruction.  CS base 7000H
 * makes a linear address wrong by that much. */
static void test_real_mode_exits(void)
{
	static const struct {
		const char *at;
		uint32_t reason;
		unsigned len;
		const char *what;
	} want[] = {
		{ rm_x_cpuid, EXIT_REASON_CPUID, 2, "CPUID" },
		{ rm_x_rdmsr, EXIT_REASON_MSR_READ, 2, "RDMSR" },
		{ rm_x_wrmsr, EXIT_REASON_MSR_WRITE, 2, "WRMSR" },
		{ rm_x_in, EXIT_REASON_IO_INSTRUCTION, 2, "IN AL, imm8" },
		{ rm_x_out, EXIT_REASON_IO_INSTRUCTION, 1, "OUT DX, AX" },
		{ rm_x_hlt, EXIT_REASON_HLT, 1, "HLT" },
		{ rm_x_vmcall, EXIT_REASON_VMCALL, 3, "VMCALL" },
	};
	int r;

	rm_vmcs(RM_OFF(rm_exits));
	vmwrite(VMCS_PROC_BASED_CTLS,
		vmread(VMCS_PROC_BASED_CTLS) | CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING);
	r = vmx_enter(0);
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t ip = vmread(VMCS_GUEST_RIP), len = vmread(VMCS_EXIT_INSTRUCTION_LEN);

		report(r == 0 && exit_is(want[i].reason) && ip == RM_OFF(want[i].at) && len == want[i].len &&
			       vmread(VMCS_GUEST_CS_BASE) == RM_BASE,
		       "real mode %s: exit 0x%lx at IP 0x%lx, length %lu (want 0x%x at 0x%x, length %u)", want[i].what,
		       (unsigned long)vmread(VMCS_EXIT_REASON), (unsigned long)ip, (unsigned long)len,
		       want[i].reason, RM_OFF(want[i].at), want[i].len);
		if (want[i].reason == EXIT_REASON_VMCALL)
			break;
		vmwrite(VMCS_GUEST_RIP, ip + len);
		r = vmx_enter(1);
	}
}

/* ---- 4. protected mode without paging, into IA-32e mode and out --------- */

static void test_long_mode_switch(void)
{
	uint64_t ar;
	int r;

	lm_cr3 = (uint32_t)read_cr3();
	lm_efer_compat = lm_efer_after = lm_marker = 0;

	/* The host owns CR0.PG: the guest's MOV that sets it exits. */
	pm_vmcs();
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, X86_CR0_PG);
	vmwrite(VMCS_CR0_READ_SHADOW, 0);
	r = vmx_enter(0);
	report(r == 0 && exit_is(EXIT_REASON_CR_ACCESS) && vmread(VMCS_EXIT_QUALIFICATION) == 0 &&
		       vmread(VMCS_GUEST_RIP) == (uintptr_t)pm_set_pg && !(vmread(VMCS_GUEST_CR0) & X86_CR0_PG),
	       "CR0.PG owned by the host: MOV to CR0 exits (reason %lu, qualification 0x%lx), PG still 0",
	       (unsigned long)vmread(VMCS_EXIT_REASON), (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));

	/* Not owned: the guest enters IA-32e mode itself. */
	pm_vmcs();
	r = vmx_enter(0);
	ar = vmread(VMCS_GUEST_CS_AR_BYTES);
	report(r == 0 && exit_is(EXIT_REASON_VMCALL) && vmread(VMCS_GUEST_RIP) == (uintptr_t)lm_vmcall64,
	       "32-bit guest with paging off enabled paging and long mode, VMCALL at 0x%lx (reason 0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_RIP), (unsigned long)vmread(VMCS_EXIT_REASON));
	report(lm_marker == 0x64 && (lm_efer_compat & EFER_LMA), "it ran 64-bit code; IA32_EFER read in compatibility mode 0x%x",
	       lm_efer_compat);
	report(ia32e_control(), "the exit set \"IA-32e mode guest\" from IA32_EFER.LMA (entry controls 0x%lx)",
	       (unsigned long)vmread(VMCS_ENTRY_CTLS));
	report((vmread(VMCS_GUEST_IA32_EFER) & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA),
	       "saved guest IA32_EFER 0x%lx: LME and LMA", (unsigned long)vmread(VMCS_GUEST_IA32_EFER));
	report((vmread(VMCS_GUEST_CR0) & (X86_CR0_PE | X86_CR0_PG)) == (X86_CR0_PE | X86_CR0_PG) &&
		       (vmread(VMCS_GUEST_CR4) & X86_CR4_PAE) && vmread(VMCS_GUEST_CR3) == lm_cr3,
	       "saved CR0 0x%lx, CR3 0x%lx, CR4 0x%lx", (unsigned long)vmread(VMCS_GUEST_CR0),
	       (unsigned long)vmread(VMCS_GUEST_CR3), (unsigned long)vmread(VMCS_GUEST_CR4));
	report(vmread(VMCS_GUEST_CS_SELECTOR) == GUEST_CS64 && (ar & VMX_AR_L) && !(ar & VMX_AR_DB),
	       "saved CS %lx, access rights 0x%lx (64-bit code)", (unsigned long)vmread(VMCS_GUEST_CS_SELECTOR),
	       (unsigned long)ar);

	/* Resumed in IA-32e mode (the VMCS now says so), the guest goes back
	 * to compatibility mode and clears CR0.PG: IA-32e mode ends. */
	vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + vmread(VMCS_EXIT_INSTRUCTION_LEN));
	r = vmx_enter(1);
	report(r == 0 && exit_is(EXIT_REASON_VMCALL) && vmread(VMCS_GUEST_RIP) == (uintptr_t)lm_vmcall32,
	       "resumed in IA-32e mode, the guest left it and VMCALLed at 0x%lx (entry %d, reason 0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_RIP), r, (unsigned long)vmread(VMCS_EXIT_REASON));
	report(!ia32e_control() && (vmread(VMCS_GUEST_IA32_EFER) & (EFER_LME | EFER_LMA)) == EFER_LME &&
		       (lm_efer_after & (EFER_LME | EFER_LMA)) == EFER_LME,
	       "\"IA-32e mode guest\" %d, saved IA32_EFER 0x%lx, guest's own read 0x%x: LME without LMA", ia32e_control(),
	       (unsigned long)vmread(VMCS_GUEST_IA32_EFER), lm_efer_after);
	report(!(vmread(VMCS_GUEST_CR0) & X86_CR0_PG) && vmread(VMCS_GUEST_CS_SELECTOR) == GUEST_CS32,
	       "saved CR0 0x%lx (PG clear), CS %lx", (unsigned long)vmread(VMCS_GUEST_CR0),
	       (unsigned long)vmread(VMCS_GUEST_CS_SELECTOR));
}

/* ---- 5. paging off: linear addresses are guest-physical, through EPT -- */

#define REMAP_GPA 0x40000000ull		/* 1 GiB: mapped by EPT to ... */
#define REMAP_HPA 0x01200000ull		/* ... 18 MiB */
#define HOLE_GPA 0x40200000ull		/* the next 2 MiB: not mapped */

static void test_ept_paging_off(void)
{
	uint64_t *pde_remap = vmx_ept_identity_pde(REMAP_GPA), *pde_hole = vmx_ept_identity_pde(HOLE_GPA);
	uint64_t keep_remap = *pde_remap, keep_hole = *pde_hole, eptp = vmx_ept_identity();
	volatile uint32_t *target = (volatile uint32_t *)(uintptr_t)(REMAP_HPA + 0x10);
	int r;

	*pde_remap = REMAP_HPA | (keep_remap & 0xfffull);
	*pde_hole = 0;
	invept(2, eptp);	/* all contexts */
	*target = 0x7a7a7a7a;

	pm_vmcs();
	vmwrite(VMCS_GUEST_RIP, (uintptr_t)pm_read);
	pm_read_addr = REMAP_GPA + 0x10;
	pm_read_val = 0;
	r = vmx_enter(0);
	report(r == 0 && exit_is(EXIT_REASON_VMCALL) && pm_read_val == 0x7a7a7a7a,
	       "paging off: linear 0x%lx read through EPT from HPA 0x%lx (0x%x)", (unsigned long)(REMAP_GPA + 0x10),
	       (unsigned long)(REMAP_HPA + 0x10), pm_read_val);

	/* An EPT violation: the GPA is the linear address, and the exit says
	 * so (read, not present, linear address valid and translated; SDM
	 * 28.2.1, table "Exit Qualification for EPT Violations"). */
	pm_vmcs();
	vmwrite(VMCS_GUEST_RIP, (uintptr_t)pm_read);
	pm_read_addr = HOLE_GPA + 0x24;
	r = vmx_enter(0);
	report(r == 0 && exit_is(EXIT_REASON_EPT_VIOLATION) && vmread(VMCS_GUEST_PHYSICAL_ADDRESS) == HOLE_GPA + 0x24 &&
		       vmread(VMCS_GUEST_LINEAR_ADDRESS) == HOLE_GPA + 0x24 && vmread(VMCS_GUEST_RIP) == (uintptr_t)pm_read_insn,
	       "paging off, unmapped GPA: EPT violation (reason %lu), GPA 0x%lx, GLA 0x%lx, RIP 0x%lx",
	       (unsigned long)vmread(VMCS_EXIT_REASON), (unsigned long)vmread(VMCS_GUEST_PHYSICAL_ADDRESS),
	       (unsigned long)vmread(VMCS_GUEST_LINEAR_ADDRESS), (unsigned long)vmread(VMCS_GUEST_RIP));
	report(vmread(VMCS_EXIT_QUALIFICATION) == (EXIT_QUAL_EPT_READ | EXIT_QUAL_EPT_GLA_VALID | EXIT_QUAL_EPT_GLA_TRANSLATED),
	       "exit qualification 0x%lx", (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));

	*pde_remap = keep_remap;
	*pde_hole = keep_hole;
	invept(2, eptp);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	(void)magic;
	(void)info;
	if (!(cpuid(1, 0).ecx & (1u << 5)))
		guest_skip("no VMX");
	if (!report(vmx_on() == 0, "VMXON"))
		return;
	if (!test_capabilities()) {
		report_skip("unrestricted guest or its EPT not offered");
		vmxoff();
		return;
	}
	memcpy((void *)(uintptr_t)RM_BASE, rm_start, (size_t)(rm_end - rm_start));
	test_entry_checks();
	test_real_mode();
	test_real_mode_exits();
	test_long_mode_switch();
	test_ept_paging_off();
	report(vmxoff() == 0, "VMXOFF");
}
