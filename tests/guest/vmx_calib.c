/* Calibration: the hardware-only VMX round trip of a VMCALL with an
 * empty handler (VM exit + VM entry), as CALIBRATION.md quotes it from
 * Agesen et al., USENIX ATC 2012, Table 1.  The command line names the
 * profile's figure: round_trip=CYCLES.
 *
 * The guest times VMCALL with RDTSC; the host's handler only advances
 * the guest RIP and resumes.  The handler's instructions are timed alone
 * in root operation with the same RDTSC bracket and subtracted, which
 * leaves what the processor itself spends on the two transitions. */
#include "vmx.h"

#define ITERATIONS 16

static uint8_t guest_stack[4096] __attribute__((aligned(16)));

volatile uint64_t calib_left, calib_i, calib_deltas[ITERATIONS + 1];

int calib_enter(void);
uint64_t calib_handler_time(void);
void calib_guest(void);

/* The handler: GUEST_RIP += exit instruction length, count down
 * (SDM 28.2.4 instruction length; 24.4.1 guest RIP). */
asm(VMX_GUEST_RIP_SKIP_MACRO
    ".macro CALIB_HANDLER done\n"
    "	GUEST_RIP_SKIP\n"
    "	decq calib_left(%rip)\n"
    "	jz \\done\n"
    ".endm\n"
    GUEST_TSC_MACROS
    ".pushsection .text\n"
    /* int calib_enter(void): VMLAUNCH, loop until calib_left reaches
     * 0; 0 when done, 1 if an entry failed. */
    "calib_enter:\n"
    "	push %rbp; push %rbx; push %r12; push %r13; push %r14; push %r15\n"
    "	mov $0x6c14, %eax\n"		/* VMCS_HOST_RSP */
    "	vmwrite %rsp, %rax\n"
    "	lea calib_exit(%rip), %rdx\n"
    "	mov $0x6c16, %eax\n"		/* VMCS_HOST_RIP */
    "	vmwrite %rdx, %rax\n"
    "	vmlaunch\n"
    "	jmp calib_failed\n"
    "calib_exit:\n"
    "	CALIB_HANDLER calib_done\n"
    "	vmresume\n"
    "calib_failed:\n"
    "	mov $1, %eax\n"
    "	jmp 1f\n"
    "calib_done:\n"
    "	xor %eax, %eax\n"
    "1:	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbx; pop %rbp\n"
    "	ret\n"
    /* uint64_t calib_handler_time(void): the handler, timed in root
     * operation (it changes GUEST_RIP and calib_left: callers reset). */
    "calib_handler_time:\n"
    "	TSC_BEGIN\n"
    "	CALIB_HANDLER 2f\n"
    "2:	TSC_END\n"
    "	ret\n"
    /* The guest: time each VMCALL, keep the deltas. */
    "calib_guest:\n"
    "	TSC_BEGIN\n"
    "	vmcall\n"
    "	TSC_END\n"
    "	mov calib_i(%rip), %rcx\n"
    "	mov %rax, calib_deltas(,%rcx,8)\n"
    "	incq calib_i(%rip)\n"
    "	jmp calib_guest\n"
    ".popsection");

void test_main(uint32_t magic, struct multiboot_info *info)
{
	uint64_t want = guest_cmdline_value(info, "round_trip="), handler, rt, first;
	uint64_t rip0 = (uint64_t)(uintptr_t)calib_guest;
	bool same = true;
	int r;

	if (!(cpuid(1, 0).ecx & (1u << 5)))
		guest_skip("no VMX");
	if (!want)
		guest_skip("no round_trip=CYCLES on the command line: the profile claims no figure");
	report(vmx_on() == 0, "VMXON");
	vmx_setup_vmcs(calib_guest, guest_stack + sizeof(guest_stack));

	calib_left = 2;
	handler = calib_handler_time();
	vmwrite(VMCS_GUEST_RIP, rip0);

	calib_left = ITERATIONS + 1;
	calib_i = 0;
	r = calib_enter();
	report(r == 0 && calib_i == ITERATIONS && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL,
	       "%d VMCALL round trips (entry result %d, %lu timed)", ITERATIONS, r, (unsigned long)calib_i);

	/* The model is deterministic: every round trip costs the same. */
	first = calib_deltas[0];
	for (unsigned i = 1; i < ITERATIONS; i++)
		same &= calib_deltas[i] == first;
	report(same, "every round trip takes the same time (%lu cycles timed)", (unsigned long)first);

	rt = first - handler;
	printf("VMX round trip (VMCALL, empty handler): %lu cycles; VMCALL timed %lu, handler %lu; profile figure %lu\n",
	       (unsigned long)rt, (unsigned long)first, (unsigned long)handler, (unsigned long)want);
	report(rt * 50 >= want * 49 && rt * 50 <= want * 51,
	       "round trip %lu cycles within 2%% of the profile's %lu (CALIBRATION.md)", (unsigned long)rt,
	       (unsigned long)want);
	vmxoff();
}
