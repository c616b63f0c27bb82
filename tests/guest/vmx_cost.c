/* What a guest pays for the instructions the CPU model intercepts, in VMX
 * non-root operation under EPT: the profile's cost of each instruction,
 * plus the VM exit and VM entry when it exits, and nothing for the
 * model's own work (DESIGN.md "Costs", "Markers"; docs/vmx.md "Costs").
 * hvsim looks at the bytes of every RDTSC, RDMSR and MOV CR it
 * intercepts and decodes each new block; those looks are not the guest's
 * accesses and must not be priced as TLB misses with EPT walks.
 *
 * The command line names the profile's figures: round_trip (VM exit + VM
 * entry), alu, branch, tsc, msr and serial (a profile in sim/cpu/profiles/).
 * Each loop below runs N and then 2N times; the difference of the two
 * RDTSC brackets over N is the cost of one iteration, whatever the
 * bracket costs and whichever pages were first touched (priced once as
 * TLB misses) before.  VPID keeps the guest's translations across its
 * exits and entries (SDM 29.4.3.1), so an exiting loop pays no refill. */
#include "vmx.h"

#define N 64
#define MSR_PAT 0x277		/* read through: its bitmap bit is clear */
#define MSR_EXITING 0x174	/* IA32_SYSENTER_CS: its bitmap bit is set */

static uint8_t guest_stack[8192] __attribute__((aligned(16)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));

/* One iteration's cycles in each loop, root and non-root. */
struct per_iter {
	uint64_t rdtsc, rdmsr, mov_cr3, rdmsr_exit;
};

static struct per_iter root_pi, guest_pi;
volatile uint8_t cost_finished;	/* the guest is done: the handler returns to C */

int cost_enter(void);
uint64_t cost_handler_time(void);
uint64_t cost_bracket_time(void);

/* The host's handler of the exiting RDMSR: GUEST_RIP += the exit's
 * instruction length (SDM 28.2.4, 24.4.1), then VMRESUME; once the guest
 * has set cost_finished (its last exit is a VMCALL), back to C.  It
 * changes RAX, RCX, RDX and the flags, as the guest's RDMSR loop lets it. */
asm(VMX_GUEST_RIP_SKIP_MACRO
    ".macro COST_HANDLER done\n"
    "	cmpb $0, cost_finished(%rip)\n"
    "	jne \\done\n"
    "	GUEST_RIP_SKIP\n"
    ".endm\n"
    GUEST_TSC_MACROS
    ".pushsection .text\n"
    /* int cost_enter(void): VMLAUNCH and serve exits until the guest is
     * done; 0 then, 1 if the entry failed. */
    "cost_enter:\n"
    "	push %rbp; push %rbx; push %r12; push %r13; push %r14; push %r15\n"
    "	mov $0x6c14, %eax\n"		/* VMCS_HOST_RSP */
    "	vmwrite %rsp, %rax\n"
    "	lea cost_exit(%rip), %rdx\n"
    "	mov $0x6c16, %eax\n"		/* VMCS_HOST_RIP */
    "	vmwrite %rdx, %rax\n"
    "	vmlaunch\n"
    "	mov $1, %eax\n"
    "	jmp 1f\n"
    "cost_exit:\n"
    "	COST_HANDLER cost_done\n"
    "	vmresume\n"
    "	mov $1, %eax\n"
    "	jmp 1f\n"
    "cost_done:\n"
    "	xor %eax, %eax\n"
    "1:	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbx; pop %rbp\n"
    "	ret\n"
    /* uint64_t cost_handler_time(void): the handler up to its VMRESUME,
     * timed in root operation (it changes GUEST_RIP: callers reset). */
    "cost_handler_time:\n"
    "	TSC_BEGIN\n"
    "	COST_HANDLER 2f\n"
    "2:	TSC_END\n"
    "	ret\n"
    /* uint64_t cost_bracket_time(void): the bracket alone. */
    "cost_bracket_time:\n"
    "	TSC_BEGIN\n"
    "	TSC_END\n"
    "	ret\n"
    ".popsection");

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* The loops, each timed by one RDTSC bracket (noinline: the code around
 * the loop is the same for N and 2N). */
static __attribute__((noinline)) uint64_t loop_rdtsc(uint64_t n)
{
	uint64_t t0 = tsc();

	asm volatile("1: rdtsc; dec %%rsi; jnz 1b" : "+S"(n) : : "rax", "rdx", "cc");
	return tsc() - t0;
}

static __attribute__((noinline)) uint64_t loop_rdmsr(uint64_t n, uint32_t msr)
{
	uint64_t t0 = tsc();

	asm volatile("1: mov %1, %%ecx; rdmsr; dec %%rsi; jnz 1b"
		     : "+S"(n) : "D"(msr) : "rax", "rcx", "rdx", "cc", "memory");
	return tsc() - t0;
}

static __attribute__((noinline)) uint64_t loop_mov_cr3(uint64_t n)
{
	uint64_t t0 = tsc();

	asm volatile("1: mov %%cr3, %%rax; dec %%rsi; jnz 1b" : "+S"(n) : : "rax", "cc");
	return tsc() - t0;
}

/* Cycles of one iteration: a warm-up, then N and 2N. */
static uint64_t per_iteration(uint64_t (*loop)(uint64_t, uint32_t), uint32_t arg)
{
	uint64_t t1, t2;

	loop(N, arg);
	t1 = loop(N, arg);
	t2 = loop(2 * N, arg);
	return (t2 - t1) / N;
}

static uint64_t run_rdtsc(uint64_t n, uint32_t arg)
{
	return loop_rdtsc(n);
}

static uint64_t run_rdmsr(uint64_t n, uint32_t msr)
{
	return loop_rdmsr(n, msr);
}

static uint64_t run_mov_cr3(uint64_t n, uint32_t arg)
{
	return loop_mov_cr3(n);
}

static void measure(struct per_iter *pi, int guest)
{
	pi->rdtsc = per_iteration(run_rdtsc, 0);
	pi->rdmsr = per_iteration(run_rdmsr, MSR_PAT);
	pi->mov_cr3 = per_iteration(run_mov_cr3, 0);
	if (guest)
		pi->rdmsr_exit = per_iteration(run_rdmsr, MSR_EXITING);
}

static void cost_guest(void)
{
	measure(&guest_pi, 1);
	cost_finished = 1;
	asm volatile("vmcall" : : : "memory");
	for (;;)
		asm volatile("hlt");
}

static void check(const char *what, uint64_t got, uint64_t want)
{
	report(got == want, "%s: %lu cycles per iteration, want %lu", what, (unsigned long)got, (unsigned long)want);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	uint64_t round_trip = guest_cmdline_value(info, "round_trip="), alu = guest_cmdline_value(info, "alu=");
	uint64_t branch = guest_cmdline_value(info, "branch="), tsc_cost = guest_cmdline_value(info, "tsc=");
	uint64_t msr = guest_cmdline_value(info, "msr="), serial = guest_cmdline_value(info, "serial=");
	uint64_t eptp, handler;
	uint32_t proc2;
	int r;

	if (!(cpuid(1, 0).ecx & (1u << 5)))
		guest_skip("no VMX");
	if (!round_trip || !alu || !branch || !tsc_cost || !msr || !serial)
		guest_skip("the profile's figures are not on the command line");

	/* Root operation has no priced translation: the loops cost their
	 * instructions. */
	measure(&root_pi, 0);
	check("root: RDTSC; DEC; JNZ", root_pi.rdtsc, tsc_cost + alu + branch);
	check("root: MOV ECX; RDMSR; DEC; JNZ", root_pi.rdmsr, alu + msr + alu + branch);
	check("root: MOV from CR3; DEC; JNZ", root_pi.mov_cr3, serial + alu + branch);

	report(vmx_on() == 0, "VMXON");
	vmx_setup_vmcs(cost_guest, guest_stack + sizeof(guest_stack) - 8);
	eptp = vmx_ept_identity();
	proc2 = vmx_ctl(MSR_IA32_VMX_PROCBASED_CTLS2, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID);
	if (!eptp || !(proc2 & SECONDARY_ENABLE_EPT) || !(proc2 & SECONDARY_ENABLE_VPID))
		guest_skip("no EPT or no VPID");
	vmwrite(VMCS_PROC_BASED_CTLS, vmx_ctl(MSR_IA32_VMX_TRUE_PROCBASED_CTLS,
					      CPU_BASED_ACTIVATE_SECONDARY_CONTROLS | CPU_BASED_USE_MSR_BITMAPS));
	vmwrite(VMCS_PROC_BASED_CTLS2, proc2);
	vmwrite(VMCS_EPT_POINTER, eptp);
	vmwrite(VMCS_VPID, 1);
	/* Read bitmap for low MSRs: bytes 0-1023 (SDM 25.6.9). */
	msr_bitmap[MSR_EXITING / 8] |= 1u << (MSR_EXITING % 8);
	vmwrite(VMCS_MSR_BITMAP, (uint64_t)(uintptr_t)msr_bitmap);

	handler = cost_handler_time() - cost_bracket_time();
	vmwrite(VMCS_GUEST_RIP, (uint64_t)(uintptr_t)cost_guest);
	r = cost_enter();
	report(r == 0 && cost_finished && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL,
	       "the guest ran its loops under EPT and VPID (entry result %d, last exit %lu)", r,
	       (unsigned long)vmread(VMCS_EXIT_REASON));

	/* Non-root, translations cached: the same costs as in root
	 * operation, the model's looks at the instructions free. */
	check("non-root: RDTSC; DEC; JNZ", guest_pi.rdtsc, tsc_cost + alu + branch);
	check("non-root: MOV ECX; RDMSR (bitmap clear); DEC; JNZ", guest_pi.rdmsr, alu + msr + alu + branch);
	check("non-root: MOV from CR3; DEC; JNZ", guest_pi.mov_cr3, serial + alu + branch);
	/* An exiting RDMSR: fault-like, it does not run; the exit, the
	 * handler and the entry take its place (CALIBRATION.md). */
	printf("exiting RDMSR: handler %lu cycles; per iteration %lu\n", (unsigned long)handler,
	       (unsigned long)guest_pi.rdmsr_exit);
	check("non-root: MOV ECX; RDMSR (exits); DEC; JNZ", guest_pi.rdmsr_exit,
	      alu + round_trip + handler + alu + branch);
	vmxoff();
}
