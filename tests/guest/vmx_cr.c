/* Control- and debug-register accesses under VMX: CR0/CR4 guest/host
 * masks and read shadows, CR3-load/store exiting with the CR3-target
 * list, CR8 exiting, CLTS, LMSW, SMSW, MOV DR exiting, and the fixed
 * bits of CR0/CR4 in VMX operation (SDM Vol. 3C 23.8, 25.1.3, 26.3,
 * 28.2.1 Table 28-3 and 28-4). */
#include "vmx.h"

#define CR0_MP (1ull << 1)
#define CR0_TS (1ull << 3)
#define CR0_NE (1ull << 5)
#define CR0_AM (1ull << 18)

/* Exit-qualification fields of a control-register access (Table 28-3). */
#define CRQ(cr, type, gpr) ((uint64_t)(cr) | (uint64_t)(type) << 4 | (uint64_t)(gpr) << 8)
#define CRQ_TO 0
#define CRQ_FROM 1
#define CRQ_CLTS 2
#define CRQ_LMSW 3
enum { RAX, RCX, RDX, RBX };

static uint8_t guest_stack[8192] __attribute__((aligned(16)));

/* Guest inputs and outputs, and the guests: each does one access with
 * fixed registers (so the qualification's GPR field is known), stores
 * what it read in g_val, and ends with VMCALL. */
volatile uint64_t g_arg, g_val;
volatile uint16_t g_msw;

void g_cr0_read(void), g_cr0_write(void), g_cr0_write_insn(void), g_cr4_read(void), g_cr4_write(void);
void g_cr3_read(void), g_cr3_write(void), g_cr8_write(void), g_cr8_read(void), g_clts(void);
void g_lmsw_reg(void), g_lmsw_mem(void), g_smsw(void), g_dr7_read(void), g_dr0_write(void), g_dr1_write(void);

asm(".pushsection .text\n"
    "g_cr0_read: mov %cr0, %rbx; mov %rbx, g_val(%rip); vmcall; ud2\n"
    "g_cr0_write: mov g_arg(%rip), %rbx\n"
    "g_cr0_write_insn: mov %rbx, %cr0; vmcall; ud2\n"
    "g_cr4_read: mov %cr4, %rbx; mov %rbx, g_val(%rip); vmcall; ud2\n"
    "g_cr4_write: mov g_arg(%rip), %rbx; mov %rbx, %cr4; vmcall; ud2\n"
    "g_cr3_read: mov %cr3, %rcx; mov %rcx, g_val(%rip); vmcall; ud2\n"
    "g_cr3_write: mov g_arg(%rip), %rbx; mov %rbx, %cr3; vmcall; ud2\n"
    "g_cr8_write: xor %eax, %eax; mov %rax, %cr8; vmcall; ud2\n"
    "g_cr8_read: mov %cr8, %rdx; vmcall; ud2\n"
    "g_clts: clts; vmcall; ud2\n"
    "g_lmsw_reg: mov g_arg(%rip), %rax; lmsw %ax; vmcall; ud2\n"
    "g_lmsw_mem: lmsw g_msw(%rip); vmcall; ud2\n"
    "g_smsw: smsw %eax; mov %rax, g_val(%rip); vmcall; ud2\n"
    "g_dr7_read: mov %dr7, %rdx; vmcall; ud2\n"
    "g_dr0_write: mov $0x1234, %eax; mov %rax, %dr0; vmcall; ud2\n"
    "g_dr1_write: mov $0xabc000, %eax; mov %rax, %dr1; vmcall; ud2\n"
    ".popsection");

static uint64_t host_cr0, host_cr4;

static void setup(void (*guest)(void))
{
	vmx_setup_vmcs(guest, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, 0);
	vmwrite(VMCS_CR4_GUEST_HOST_MASK, 0);
	vmwrite(VMCS_CR0_READ_SHADOW, 0);
	vmwrite(VMCS_CR4_READ_SHADOW, 0);
}

static void proc_set(uint32_t bits)
{
	vmwrite(VMCS_PROC_BASED_CTLS, vmread(VMCS_PROC_BASED_CTLS) | bits);
}

static uint64_t run(void)
{
	int r = vmx_enter(0);

	return r ? ~0ull : vmread(VMCS_EXIT_REASON);
}

static bool cr_exit_is(uint64_t reason, uint64_t qual, unsigned len)
{
	return reason == EXIT_REASON_CR_ACCESS && vmread(VMCS_EXIT_QUALIFICATION) == qual &&
	       vmread(VMCS_EXIT_INSTRUCTION_LEN) == len;
}

/* Root operation: CR0/CR4 must keep the fixed bits (SDM 23.8). */
static void test_fixed_bits_in_root(void)
{
	exc_reset();
	asm volatile("1: mov %0, %%cr4\n2:\n\t" EX_TABLE("1b", "2b") :: "r"(host_cr4 & ~CR4_VMXE));
	report(exc_last.vector == GP_VECTOR && exc_last.error_code == 0 && (read_cr4() & CR4_VMXE),
	       "VMX root: clearing CR4.VMXE raises #GP(0) (vector %d)", exc_last.vector);
	exc_reset();
	asm volatile("1: mov %0, %%cr0\n2:\n\t" EX_TABLE("1b", "2b") :: "r"(host_cr0 & ~CR0_NE));
	report(exc_last.vector == GP_VECTOR && exc_last.error_code == 0 && (read_cr0() & CR0_NE),
	       "VMX root: clearing CR0.NE (IA32_VMX_CR0_FIXED0) raises #GP(0) (vector %d)", exc_last.vector);
}

static void test_cr0(void)
{
	uint64_t g0 = host_cr0 & ~(CR0_TS | CR0_MP), r;

	/* MOV from CR0: host-owned TS and MP read from the shadow. */
	setup(g_cr0_read);
	vmwrite(VMCS_GUEST_CR0, g0);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_TS | CR0_MP);
	vmwrite(VMCS_CR0_READ_SHADOW, CR0_TS);
	r = run();
	report(r == EXIT_REASON_VMCALL && g_val == (g0 | CR0_TS),
	       "MOV from CR0 reads host-owned bits from the read shadow (0x%lx, want 0x%lx)", (unsigned long)g_val,
	       (unsigned long)(g0 | CR0_TS));

	/* MOV to CR0 agreeing with the shadow: no exit; guest-owned AM
	 * changes, host-owned TS keeps its real value 0. */
	setup(g_cr0_write);
	vmwrite(VMCS_GUEST_CR0, g0);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_TS | CR0_MP);
	vmwrite(VMCS_CR0_READ_SHADOW, CR0_TS);
	g_arg = (g0 | CR0_TS) ^ CR0_AM;
	r = run();
	report(r == EXIT_REASON_VMCALL && vmread(VMCS_GUEST_CR0) == (g0 ^ CR0_AM),
	       "MOV to CR0 matching the shadow: no exit, host-owned bits unchanged (CR0 0x%lx, want 0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_CR0), (unsigned long)(g0 ^ CR0_AM));

	/* ... and one changing a host-owned bit exits (25.1.3). */
	setup(g_cr0_write);
	vmwrite(VMCS_GUEST_CR0, g0);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_TS | CR0_MP);
	vmwrite(VMCS_CR0_READ_SHADOW, CR0_TS);
	g_arg = g0;
	r = run();
	report(cr_exit_is(r, CRQ(0, CRQ_TO, RBX), 3) && vmread(VMCS_GUEST_RIP) == (uintptr_t)g_cr0_write_insn &&
		       vmread(VMCS_GUEST_CR0) == g0,
	       "MOV to CR0 changing a host-owned bit: exit 28, qualification 0x300, length 3 (reason %lu qual 0x%lx)",
	       (unsigned long)r, (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));

	/* A guest-owned bit set against the fixed bits: #GP in the guest. */
	setup(g_cr0_write);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << GP_VECTOR);
	g_arg = host_cr0 & ~CR0_NE;
	r = run();
	report(r == EXIT_REASON_EXCEPTION_NMI && vmread(VMCS_EXIT_INTR_INFO) == 0x80000b0d &&
		       vmread(VMCS_EXIT_INTR_ERROR_CODE) == 0 && vmread(VMCS_GUEST_RIP) == (uintptr_t)g_cr0_write_insn,
	       "guest MOV to CR0 clearing NE (fixed to 1, not masked): #GP(0) (reason %lu, info 0x%lx)",
	       (unsigned long)r, (unsigned long)vmread(VMCS_EXIT_INTR_INFO));
}

static void test_cr4(void)
{
	uint64_t r;

	setup(g_cr4_read);
	vmwrite(VMCS_CR4_GUEST_HOST_MASK, CR4_VMXE);
	r = run();
	report(r == EXIT_REASON_VMCALL && g_val == (host_cr4 & ~CR4_VMXE),
	       "MOV from CR4 hides VMXE behind a zero read shadow (0x%lx)", (unsigned long)g_val);

	setup(g_cr4_write);
	vmwrite(VMCS_CR4_GUEST_HOST_MASK, CR4_VMXE);
	g_arg = host_cr4 & ~CR4_VMXE;
	r = run();
	report(r == EXIT_REASON_VMCALL && vmread(VMCS_GUEST_CR4) == host_cr4,
	       "MOV to CR4 clearing the shadowed VMXE: no exit, real VMXE stays set (CR4 0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_CR4));

	setup(g_cr4_write);
	vmwrite(VMCS_CR4_GUEST_HOST_MASK, CR4_VMXE);
	g_arg = host_cr4;
	r = run();
	report(cr_exit_is(r, CRQ(4, CRQ_TO, RBX), 3),
	       "MOV to CR4 setting VMXE against the shadow: exit, qualification 0x304 (reason %lu qual 0x%lx)",
	       (unsigned long)r, (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));
}

static void test_cr3(void)
{
	uint64_t cr3 = read_cr3(), r;
	uint32_t plain = (uint32_t)rdmsr(MSR_IA32_VMX_PROCBASED_CTLS);
	uint32_t tru = (uint32_t)rdmsr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
	unsigned ntargets = (rdmsr(MSR_IA32_VMX_MISC) >> 16) & 0x1ff;

	/* CR3-load/store exiting are default1 controls: must-be-1 in the
	 * plain MSR, optional in the TRUE one (SDM A.3.2). */
	report((plain & (CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING)) ==
			       (CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING) &&
		       !(tru & (CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING)),
	       "CR3 exiting is must-be-1 in PROCBASED_CTLS, may-be-0 in TRUE_PROCBASED_CTLS");

	setup(g_cr3_read);
	proc_set(CPU_BASED_CR3_STORE_EXITING);
	r = run();
	report(cr_exit_is(r, CRQ(3, CRQ_FROM, RCX), 3),
	       "MOV from CR3 with CR3-store exiting: qualification 0x113 (reason %lu qual 0x%lx)", (unsigned long)r,
	       (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));

	setup(g_cr3_read);
	r = run();
	report(r == EXIT_REASON_VMCALL && g_val == cr3, "MOV from CR3 without exiting reads CR3");

	setup(g_cr3_write);
	proc_set(CPU_BASED_CR3_LOAD_EXITING);
	g_arg = cr3;
	r = run();
	report(cr_exit_is(r, CRQ(3, CRQ_TO, RBX), 3),
	       "MOV to CR3 with CR3-load exiting, no targets: qualification 0x303 (reason %lu qual 0x%lx)",
	       (unsigned long)r, (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));

	if (ntargets < 2) {
		report_skip("CR3-target list: %u values", ntargets);
		return;
	}
	setup(g_cr3_write);
	proc_set(CPU_BASED_CR3_LOAD_EXITING);
	vmwrite(VMCS_CR3_TARGET_COUNT, 2);
	vmwrite(VMCS_CR3_TARGET_VALUE0, cr3 + 0x1000);
	vmwrite(VMCS_CR3_TARGET_VALUE1, cr3);
	r = run();
	report(r == EXIT_REASON_VMCALL, "MOV to CR3 of a CR3-target value does not exit (reason %lu)", (unsigned long)r);

	setup(g_cr3_write);
	proc_set(CPU_BASED_CR3_LOAD_EXITING);
	vmwrite(VMCS_CR3_TARGET_COUNT, 1);
	vmwrite(VMCS_CR3_TARGET_VALUE0, cr3 + 0x1000);
	vmwrite(VMCS_CR3_TARGET_VALUE1, cr3);
	r = run();
	report(cr_exit_is(r, CRQ(3, CRQ_TO, RBX), 3),
	       "a target value beyond CR3_TARGET_COUNT does not count (reason %lu)", (unsigned long)r);

	setup(g_cr3_write);
	vmwrite(VMCS_CR3_TARGET_COUNT, ntargets + 1);
	r = vmx_enter(0);
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_INVALID_CONTROL_FIELD,
	       "CR3_TARGET_COUNT above IA32_VMX_MISC[24:16] fails entry with error 7");
}

static void test_cr8(void)
{
	uint64_t r;

	setup(g_cr8_write);
	proc_set(CPU_BASED_CR8_LOAD_EXITING);
	r = run();
	report(cr_exit_is(r, CRQ(8, CRQ_TO, RAX), 4),
	       "MOV to CR8 with CR8-load exiting: qualification 0x8, length 4 (reason %lu qual 0x%lx)", (unsigned long)r,
	       (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));
	setup(g_cr8_read);
	proc_set(CPU_BASED_CR8_STORE_EXITING);
	r = run();
	report(cr_exit_is(r, CRQ(8, CRQ_FROM, RDX), 4),
	       "MOV from CR8 with CR8-store exiting: qualification 0x218 (reason %lu qual 0x%lx)", (unsigned long)r,
	       (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));
}

static void test_clts_lmsw_smsw(void)
{
	uint64_t g0 = host_cr0 & ~(CR0_TS | CR0_MP), r, src;

	setup(g_clts);
	vmwrite(VMCS_GUEST_CR0, g0 | CR0_TS);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_TS);
	vmwrite(VMCS_CR0_READ_SHADOW, CR0_TS);
	r = run();
	report(cr_exit_is(r, CRQ(0, CRQ_CLTS, 0), 2),
	       "CLTS with TS set in mask and shadow: exit, qualification 0x20, length 2 (reason %lu qual 0x%lx)",
	       (unsigned long)r, (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));

	setup(g_clts);
	vmwrite(VMCS_GUEST_CR0, g0 | CR0_TS);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_TS);
	r = run();
	report(r == EXIT_REASON_VMCALL && (vmread(VMCS_GUEST_CR0) & CR0_TS),
	       "CLTS with host-owned TS and shadow TS clear: no exit, CR0.TS unchanged");

	setup(g_clts);
	vmwrite(VMCS_GUEST_CR0, g0 | CR0_TS);
	r = run();
	report(r == EXIT_REASON_VMCALL && !(vmread(VMCS_GUEST_CR0) & CR0_TS), "CLTS with TS guest-owned clears CR0.TS");

	/* LMSW setting host-owned TS against the shadow: exit with the
	 * source data in bits 31:16 (Table 28-3). */
	src = (g0 & 0xf) | CR0_TS;
	setup(g_lmsw_reg);
	vmwrite(VMCS_GUEST_CR0, g0);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_TS);
	g_arg = src;
	r = run();
	report(cr_exit_is(r, CRQ(0, CRQ_LMSW, 0) | src << 16, 3),
	       "LMSW AX changing host-owned TS: qualification 0x%lx, length 3 (reason %lu qual 0x%lx)",
	       (unsigned long)(CRQ(0, CRQ_LMSW, 0) | src << 16), (unsigned long)r,
	       (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));

	setup(g_lmsw_mem);
	vmwrite(VMCS_GUEST_CR0, g0);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_TS);
	g_msw = (uint16_t)src;
	r = run();
	report(cr_exit_is(r, CRQ(0, CRQ_LMSW, 0) | 1u << 6 | src << 16, 7) &&
		       vmread(VMCS_GUEST_LINEAR_ADDRESS) == (uintptr_t)&g_msw,
	       "LMSW m16: qualification bit 6 and the operand's linear address (qual 0x%lx gla 0x%lx)",
	       (unsigned long)vmread(VMCS_EXIT_QUALIFICATION), (unsigned long)vmread(VMCS_GUEST_LINEAR_ADDRESS));

	/* PE host-owned and clear in the shadow: LMSW setting it exits. */
	setup(g_lmsw_reg);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, 1);
	g_arg = host_cr0 & 0xf;
	r = run();
	report(cr_exit_is(r, CRQ(0, CRQ_LMSW, 0) | (host_cr0 & 0xf) << 16, 3),
	       "LMSW setting host-owned PE with shadow PE clear exits (reason %lu qual 0x%lx)", (unsigned long)r,
	       (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));

	/* Not exiting: guest-owned MP loads, host-owned TS stays. */
	setup(g_lmsw_reg);
	vmwrite(VMCS_GUEST_CR0, g0 | CR0_TS);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_TS);
	vmwrite(VMCS_CR0_READ_SHADOW, CR0_TS);
	g_arg = (g0 & 0xf) | CR0_MP | CR0_TS;
	r = run();
	report(r == EXIT_REASON_VMCALL && vmread(VMCS_GUEST_CR0) == (g0 | CR0_MP | CR0_TS),
	       "LMSW matching the shadow: no exit, MP loaded (CR0 0x%lx)", (unsigned long)vmread(VMCS_GUEST_CR0));

	setup(g_smsw);
	vmwrite(VMCS_GUEST_CR0, g0);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_MP);
	vmwrite(VMCS_CR0_READ_SHADOW, CR0_MP);
	r = run();
	report(r == EXIT_REASON_VMCALL && (uint32_t)g_val == (uint32_t)(g0 | CR0_MP),
	       "SMSW reads host-owned bits from the shadow (0x%lx)", (unsigned long)g_val);
}

static void test_mov_dr(void)
{
	uint64_t r, dr1;

	setup(g_dr7_read);
	proc_set(CPU_BASED_MOV_DR_EXITING);
	r = run();
	report(r == EXIT_REASON_DR_ACCESS && vmread(VMCS_EXIT_QUALIFICATION) == (7 | 1u << 4 | RDX << 8) &&
		       vmread(VMCS_EXIT_INSTRUCTION_LEN) == 3,
	       "MOV from DR7 with MOV-DR exiting: exit 29, qualification 0x217 (reason %lu qual 0x%lx)",
	       (unsigned long)r, (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));
	setup(g_dr0_write);
	proc_set(CPU_BASED_MOV_DR_EXITING);
	r = run();
	report(r == EXIT_REASON_DR_ACCESS && vmread(VMCS_EXIT_QUALIFICATION) == 0,
	       "MOV to DR0 from RAX: qualification 0 (reason %lu qual 0x%lx)", (unsigned long)r,
	       (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));
	/* Without the control the write happens; DR0-DR3 are not switched
	 * by a VM exit (SDM 28.5), so the host sees the guest's value. */
	setup(g_dr1_write);
	r = run();
	asm volatile("mov %%dr1, %0" : "=r"(dr1));
	report(r == EXIT_REASON_VMCALL && dr1 == 0xabc000, "MOV to DR1 without exiting: DR1 = 0x%lx after the exit",
	       (unsigned long)dr1);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	if (!(cpuid(1, 0).ecx & (1u << 5)))
		guest_skip("no VMX");
	if (vmx_on()) {
		report(false, "VMXON");
		return;
	}
	host_cr0 = read_cr0();
	host_cr4 = read_cr4();
	test_fixed_bits_in_root();
	test_cr0();
	test_cr4();
	test_cr3();
	test_cr8();
	test_clts_lmsw_smsw();
	test_mov_dr();
	vmxoff();
}
