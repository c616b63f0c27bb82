/* VMX on the bare platform: VMXON preconditions, VM-instruction errors,
 * VMCS fields, and a guest whose VMCALL and CPUID exit with the SDM's
 * exit information (SDM Vol. 3C ch. 23-28, 31). */
#include "vmx.h"

static uint8_t guest_stack[8192] __attribute__((aligned(16)));
static volatile uint64_t guest_counter;

static void guest_vmcall_loop(void)
{
	for (;;) {
		guest_counter++;
		asm volatile("vmcall" ::: "memory");
	}
}

/* A VMCALL in the shadow of a MOV SS. */
static void guest_movss_vmcall(void)
{
	for (;;)
		asm volatile("mov %%ss, %%ax\n\tmov %%ax, %%ss\n\tvmcall" ::: "rax", "memory");
}

static void guest_cpuid(void)
{
	uint32_t a = 0, b, c = 0, d;

	asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	asm volatile("hlt");
}

static void test_preconditions(void)
{
	int r;
	uint64_t cr4 = read_cr4();

	/* CR4.VMXE = 0: VMXON is #UD (SDM 31.3 VMXON). */
	write_cr4(cr4 & ~CR4_VMXE);
	r = vmxon((uint64_t)(uintptr_t)vmx_vmxon_region);
	report(r == VMX_EXC(UD_VECTOR), "VMXON with CR4.VMXE=0 raises #UD (got 0x%x)", r);
	/* Outside VMX operation the other instructions are #UD too. */
	r = vmptrld((uint64_t)(uintptr_t)vmx_vmcs_region);
	report(r == VMX_EXC(UD_VECTOR), "VMPTRLD outside VMX operation raises #UD (got 0x%x)", r);
	/* FEATURE_CONTROL unlocked: #GP(0). */
	write_cr4(cr4 | CR4_VMXE);
	if (!(rdmsr(MSR_IA32_FEATURE_CONTROL) & FEATURE_CONTROL_LOCKED)) {
		r = vmxon((uint64_t)(uintptr_t)vmx_vmxon_region);
		report(r == VMX_EXC(GP_VECTOR) && exc_last.error_code == 0,
		       "VMXON with IA32_FEATURE_CONTROL unlocked raises #GP(0) (got 0x%x)", r);
	}
	write_cr4(cr4);
}

static void test_instruction_errors(void)
{
	uint64_t vmcs = (uint64_t)(uintptr_t)vmx_vmcs_region, v;
	uint32_t rev = (uint32_t)rdmsr(MSR_IA32_VMX_BASIC) & 0x7fffffff;
	int r;

	r = vmxon((uint64_t)(uintptr_t)vmx_vmxon_region);
	report(r == VMX_FAIL_INVALID, "VMXON in VMX root operation: VMfailInvalid with no current VMCS (got %d)", r);
	r = vmptrst(&v);
	report(r == 0 && v == ~0ull, "VMPTRST with no current VMCS stores FFFFFFFF_FFFFFFFF (0x%lx)", (unsigned long)v);
	r = vmread_safe(VMCS_GUEST_RIP, &v);
	report(r == VMX_FAIL_INVALID, "VMREAD with no current VMCS: VMfailInvalid (got %d)", r);
	r = vmclear(vmcs | 0x800);
	report(r == VMX_FAIL_INVALID, "VMCLEAR of a misaligned address: VMfailInvalid when no VMCS is current (got %d)", r);
	*(uint32_t *)vmx_vmcs_region = rev + 1;
	r = vmptrld(vmcs);
	report(r == VMX_FAIL_INVALID, "VMPTRLD with a wrong revision id, no current VMCS: VMfailInvalid (got %d)", r);
	*(uint32_t *)vmx_vmcs_region = rev;
	r = vmclear(vmcs);
	report(r == 0, "VMCLEAR succeeds (got %d)", r);
	r = vmptrld(vmcs);
	report(r == 0, "VMPTRLD succeeds (got %d)", r);
	r = vmptrst(&v);
	report(r == 0 && v == vmcs, "VMPTRST stores the current VMCS pointer");
	/* Now VMfailValid, with the error number in the VMCS (SDM 31.4). */
	r = vmclear((uint64_t)(uintptr_t)vmx_vmxon_region);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_VMCLEAR_VMXON_POINTER,
	       "VMCLEAR of the VMXON pointer: VMfailValid, error 3 (got %d, %lu)", r,
	       (unsigned long)vmread(VMCS_VM_INSTRUCTION_ERROR));
	r = vmptrld((uint64_t)(uintptr_t)vmx_vmxon_region);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_VMPTRLD_VMXON_POINTER,
	       "VMPTRLD of the VMXON pointer: error 10");
	r = vmptrld(vmcs + 8);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_VMPTRLD_INVALID_ADDRESS,
	       "VMPTRLD of a misaligned address: error 9");
	r = vmclear(1ull << 40);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_VMCLEAR_INVALID_ADDRESS,
	       "VMCLEAR beyond the physical-address width: error 2");
	r = vmwrite_safe(VMCS_EXIT_REASON, 5);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_VMWRITE_READ_ONLY_COMPONENT,
	       "VMWRITE to the read-only exit reason: error 13");
	r = vmwrite_safe(0x1234, 5);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_UNSUPPORTED_VMCS_COMPONENT,
	       "VMWRITE of an undefined field: error 12");
	r = vmread_safe(0x1234, &v);
	report(r == VMX_FAIL_VALID, "VMREAD of an undefined field: VMfailValid");
	/* Field widths (SDM 24.11.2): 16-bit fields keep 16 bits. */
	vmwrite(VMCS_GUEST_ES_SELECTOR, 0x123456789abcull);
	report(vmread(VMCS_GUEST_ES_SELECTOR) == 0x9abc, "16-bit field truncates on VMWRITE");
	vmwrite(VMCS_GUEST_ES_LIMIT, 0x123456789abcull);
	report(vmread(VMCS_GUEST_ES_LIMIT) == 0x56789abc, "32-bit field truncates on VMWRITE");
	vmwrite(VMCS_TSC_OFFSET, 0x1122334455667788ull);
	report(vmread(VMCS_TSC_OFFSET + 1) == 0x11223344, "high access of a 64-bit field reads bits 63:32");
	r = vmx_enter(1);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_VMRESUME_NONLAUNCHED_VMCS,
	       "VMRESUME of a clear VMCS: error 5 (got %d)", r);
	r = 0;
	asm volatile("vmcall; setc %b0" : "+r"(r) :: "cc");
	report(vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_VMCALL_IN_VMXROOT, "VMCALL in VMX root operation: error 1");
}

static void test_entry_checks(void)
{
	int r;

	vmx_setup_vmcs(guest_vmcall_loop, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_HOST_CR0, 0);
	r = vmx_enter(0);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_INVALID_HOST_STATE_FIELD,
	       "VMLAUNCH with host CR0 violating the fixed bits: error 8 (got %d)", r);
	vmx_setup_vmcs(guest_vmcall_loop, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_PIN_BASED_CTLS, 0);
	r = vmx_enter(0);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_INVALID_CONTROL_FIELD,
	       "VMLAUNCH with pin-based reserved-1 bits clear: error 7 (got %d)", r);
	vmx_setup_vmcs(guest_vmcall_loop, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_GUEST_RFLAGS, 0);
	r = vmx_enter(0);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == (EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_INVALID_GUEST_STATE) &&
		       vmread(VMCS_EXIT_QUALIFICATION) == 0,
	       "VMLAUNCH with RFLAGS bit 1 clear: entry failure, reason 0x80000021 (got %d, 0x%lx)", r,
	       (unsigned long)vmread(VMCS_EXIT_REASON));
	vmx_setup_vmcs(guest_vmcall_loop, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_LINK_POINTER, 0);
	r = vmx_enter(0);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == (EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_INVALID_GUEST_STATE) &&
		       vmread(VMCS_EXIT_QUALIFICATION) == 4,
	       "VMCS link pointer not all ones: entry failure with qualification 4");
	/* SS.RPL must equal CS.RPL even when SS is unusable (SDM 27.3.1.2:
	 * a rule on the selector field). */
	vmx_setup_vmcs(guest_vmcall_loop, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_GUEST_SS_AR_BYTES, vmread(VMCS_GUEST_SS_AR_BYTES) | (1u << 16));
	vmwrite(VMCS_GUEST_SS_SELECTOR, vmread(VMCS_GUEST_SS_SELECTOR) | 3);
	r = vmx_enter(0);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == (EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_INVALID_GUEST_STATE),
	       "unusable SS with RPL 3, CS RPL 0: entry failure (got %d, 0x%lx)", r,
	       (unsigned long)vmread(VMCS_EXIT_REASON));
	/* An unusable LDTR's base is not checked; a usable one's must be
	 * canonical (SDM 27.3.1.2). */
	vmx_setup_vmcs(guest_vmcall_loop, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_GUEST_LDTR_AR_BYTES, 1u << 16);
	vmwrite(VMCS_GUEST_LDTR_BASE, 0xaaaaaaaaaaaaaaaaull);
	r = vmx_enter(0);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL,
	       "unusable LDTR with a non-canonical base: entry succeeds (reason 0x%lx)",
	       (unsigned long)vmread(VMCS_EXIT_REASON));
}

static void test_vmcall_exits(void)
{
	uint64_t t0, t1;
	int r, n = 100;

	vmx_setup_vmcs(guest_vmcall_loop, guest_stack + sizeof(guest_stack));
	guest_counter = 0;
	r = vmx_enter(0);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL, "VMLAUNCH runs the guest to its VMCALL (reason %lu)",
	       (unsigned long)vmread(VMCS_EXIT_REASON));
	report(vmread(VMCS_EXIT_INSTRUCTION_LEN) == 3, "VMCALL exit instruction length 3");
	report(guest_counter == 1, "the guest ran once before exiting (%lu)", (unsigned long)guest_counter);
	r = vmx_enter(0);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_VMLAUNCH_NONCLEAR_VMCS,
	       "VMLAUNCH of a launched VMCS: error 4");
	/* Round trips: the guest's RIP advanced past VMCALL each time. */
	t0 = rdtsc();
	for (int i = 0; i < n; i++) {
		vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + vmread(VMCS_EXIT_INSTRUCTION_LEN));
		r = vmx_enter(1);
		if (r)
			break;
	}
	t1 = rdtsc();
	report(r == 0 && guest_counter == (uint64_t)n + 1, "%d VMRESUME round trips (counter %lu)", n,
	       (unsigned long)guest_counter);
	printf("VMCALL round trip including the handler: %lu cycles\n", (unsigned long)((t1 - t0) / n));
}

static void test_cpuid_exit(void)
{
	int r;

	vmx_setup_vmcs(guest_cpuid, guest_stack + sizeof(guest_stack));
	r = vmx_enter(0);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_CPUID && vmread(VMCS_EXIT_INSTRUCTION_LEN) == 2 &&
		       vmread(VMCS_GUEST_RIP) != (uint64_t)(uintptr_t)guest_cpuid,
	       "CPUID exits unconditionally with length 2 (reason %lu)", (unsigned long)vmread(VMCS_EXIT_REASON));
	vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + 2);
	vmwrite(VMCS_PROC_BASED_CTLS, vmread(VMCS_PROC_BASED_CTLS) | CPU_BASED_HLT_EXITING);
	r = vmx_enter(1);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_HLT && vmread(VMCS_EXIT_INSTRUCTION_LEN) == 1,
	       "HLT exits with HLT exiting set (reason %lu)", (unsigned long)vmread(VMCS_EXIT_REASON));
}

/* A non-canonical memory operand is #GP(0), or #SS(0) through SS (an
 * RSP/RBP base), before anything is read (kvm-unit-tests' invvpid_test
 * checks both). */
static void test_noncanonical_operands(void)
{
	uint64_t nc = 0x8000000000000000ull;

	exc_reset();
	asm volatile("1: vmptrld (%0)\n2:\n\t" EX_TABLE("1b", "2b") : : "r"(nc) : "memory", "cc");
	report(exc_last.vector == GP_VECTOR && exc_last.error_code == 0, "VMPTRLD of a non-canonical DS operand: #GP(0)");
	exc_reset();
	asm volatile("mov %%rsp, %%rcx\n\t"
		     "sub %%rsp, %0\n"
		     "1: vmptrld (%%rsp,%0,1)\n2:\n\t" EX_TABLE("1b", "2b")
		     : "+r"(nc) : : "rcx", "memory", "cc");
	report(exc_last.vector == SS_VECTOR && exc_last.error_code == 0,
	       "VMPTRLD of a non-canonical SS operand (RSP base): #SS(0) (got %d)", exc_last.vector);
}

/* Blocking by MOV SS (SDM 25.4.2, 27.1): a VMLAUNCH in its shadow fails
 * with error 26 ahead of the launch-state check, and a VMCALL in its
 * shadow exits with blocking by MOV SS (bit 1), not by STI. */
static void test_movss_blocking(void)
{
	uint64_t fl = 0, blk;
	int r;

	vmx_setup_vmcs(guest_movss_vmcall, guest_stack + sizeof(guest_stack));
	r = vmx_enter(0);
	blk = vmread(VMCS_GUEST_INTERRUPTIBILITY);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL && blk == GUEST_INTR_STATE_MOV_SS,
	       "VMCALL right after MOV SS: interruptibility 0x%lx (want 2, blocking by MOV SS)", (unsigned long)blk);
	/* The VMCS is launched now: VMLAUNCH would fail with error 4, but
	 * the MOV SS shadow comes first. */
	asm volatile("mov %%ss, %%ax\n\tmov %%ax, %%ss\n\tvmlaunch\n\tpushfq\n\tpop %0" : "=r"(fl) : : "rax", "memory", "cc");
	report((fl & 0x40) && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS,
	       "VMLAUNCH in a MOV SS shadow: VMfailValid, error %lu (want 26)",
	       (unsigned long)vmread(VMCS_VM_INSTRUCTION_ERROR));
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	if (!(cpuid(1, 0).ecx & (1u << 5))) {
		report_skip("no VMX");
		return;
	}
	test_preconditions();
	report(vmx_on() == 0, "VMXON succeeds");
	test_instruction_errors();
	test_noncanonical_operands();
	test_movss_blocking();
	test_entry_checks();
	test_vmcall_exits();
	test_cpuid_exit();
	report(vmxoff() == 0, "VMXOFF succeeds");
}
