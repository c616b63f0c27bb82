/* VM exits and event injection on the bare platform: this kernel is the
 * hypervisor of small guest programs (below, in assembly, so that every
 * instruction address and length is known) and checks the exit
 * information the SDM defines for each exit.
 *
 * Section numbers follow the SDM editions that put "Virtual Machine
 * Control Structures" in Vol. 3C chapter 25 (as include/hv/vmx.h does):
 * 25.6 VM-execution controls, 26 VMX non-root operation, 27 VM entries,
 * 28 VM exits, Vol. 3D appendix A capability MSRs.
 *
 * The guests run in 64-bit mode on the host's page tables and GDT (lib
 * vmx_setup_vmcs()) but with their own IDT: every vector a test expects
 * to reach the guest records what the CPU pushed and executes VMCALL, so
 * an event that should not have exited shows up as a VMCALL exit with
 * the record filled in.  Guest GPRs are loaded before and saved after
 * each entry (gx_enter), as a VMM's entry path does, since VM entries and
 * exits do not switch them (SDM 28.1). */
#include <hv/costs.h>

#include "vmx.h"

/* ---- guest GPRs across VM entries ---- */

struct gregs {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/* gx_enter(resume, regs): load the guest GPRs from *regs (all but RSP),
 * VMLAUNCH (resume 0) or VMRESUME; after the VM exit store the guest
 * GPRs back to *regs.  Returns 0 after an exit, 1 VMfailInvalid, 2
 * VMfailValid, like vmx_enter(). */
int gx_enter(int resume, struct gregs *regs);

asm(".pushsection .text\n"
    ".globl gx_enter\n"
    "gx_enter:\n\t"
    "push %rbp\n\tpush %rbx\n\tpush %r12\n\tpush %r13\n\tpush %r14\n\tpush %r15\n\t"
    "push %rsi\n\t"			/* the regs pointer, for the exit path */
    "mov $0x6c14, %eax\n\t"		/* VMCS_HOST_RSP */
    "vmwrite %rsp, %rax\n\t"
    "lea gx_exit(%rip), %rdx\n\t"
    "mov $0x6c16, %eax\n\t"		/* VMCS_HOST_RIP */
    "vmwrite %rdx, %rax\n\t"
    "test %edi, %edi\n\t"		/* the MOVs below keep the flags */
    "mov 0(%rsi), %rax\n\tmov 8(%rsi), %rcx\n\tmov 16(%rsi), %rdx\n\tmov 24(%rsi), %rbx\n\t"
    "mov 32(%rsi), %rbp\n\tmov 48(%rsi), %rdi\n\tmov 56(%rsi), %r8\n\tmov 64(%rsi), %r9\n\t"
    "mov 72(%rsi), %r10\n\tmov 80(%rsi), %r11\n\tmov 88(%rsi), %r12\n\tmov 96(%rsi), %r13\n\t"
    "mov 104(%rsi), %r14\n\tmov 112(%rsi), %r15\n\tmov 40(%rsi), %rsi\n\t"
    "jnz 1f\n\t"
    "vmlaunch\n\t"
    "jmp 2f\n"
    "1:\tvmresume\n"
    "2:\tmov $1, %eax\n\t"
    "jc 3f\n\t"
    "mov $2, %eax\n"
    "3:\tpop %rsi\n\t"
    "pop %r15\n\tpop %r14\n\tpop %r13\n\tpop %r12\n\tpop %rbx\n\tpop %rbp\n\t"
    "ret\n"
    "gx_exit:\n\t"
    "push %rax\n\t"
    "mov 8(%rsp), %rax\n\t"
    "mov %rcx, 8(%rax)\n\tmov %rdx, 16(%rax)\n\tmov %rbx, 24(%rax)\n\tmov %rbp, 32(%rax)\n\t"
    "mov %rsi, 40(%rax)\n\tmov %rdi, 48(%rax)\n\tmov %r8, 56(%rax)\n\tmov %r9, 64(%rax)\n\t"
    "mov %r10, 72(%rax)\n\tmov %r11, 80(%rax)\n\tmov %r12, 88(%rax)\n\tmov %r13, 96(%rax)\n\t"
    "mov %r14, 104(%rax)\n\tmov %r15, 112(%rax)\n\t"
    "pop %rcx\n\t"
    "mov %rcx, 0(%rax)\n\t"
    "xor %eax, %eax\n\t"
    "jmp 3b\n"
    ".popsection");

/* ---- the guest's IDT ---- */

/* What the guest's handler saw: indices into gev[]. */
enum { GEV_VECTOR, GEV_ERROR, GEV_RIP, GEV_CS, GEV_RFLAGS, GEV_CR2, GEV_COUNT, GEV_N };
volatile uint64_t gev[GEV_N];
volatile uint64_t g_c1, g_c2;	/* counters the guest programs increment */

#define GIDT_VECTORS 0x42	/* 0-31, and 0x40/0x41 for injected interrupts */

/* Stubs: push 0 where the CPU pushes no error code, then the vector;
 * the common part records the frame and CR2 and executes VMCALL. */
asm(".pushsection .text\n"
    ".macro GSTUB vec, err\n\t"
    ".balign 16\n"
    "gstub_\\vec:\n\t"
    ".if \\err == 0\n\t"
    "pushq $0\n\t"
    ".endif\n\t"
    "pushq $\\vec\n\t"
    "jmp gidt_common\n"
    ".endm\n\t"
    ".irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31,64,65\n\t"
    "GSTUB \\v, 0\n\t"
    ".endr\n\t"
    ".irp v, 8,10,11,12,13,14,17,21,29,30\n\t"
    "GSTUB \\v, 1\n\t"
    ".endr\n"
    "gidt_common:\n\t"
    "mov 0(%rsp), %rax\n\tmov %rax, gev+0(%rip)\n\t"
    "mov 8(%rsp), %rax\n\tmov %rax, gev+8(%rip)\n\t"
    "mov 16(%rsp), %rax\n\tmov %rax, gev+16(%rip)\n\t"
    "mov 24(%rsp), %rax\n\tmov %rax, gev+24(%rip)\n\t"
    "mov 32(%rsp), %rax\n\tmov %rax, gev+32(%rip)\n\t"
    "mov %cr2, %rax\n\tmov %rax, gev+40(%rip)\n\t"
    "incq gev+48(%rip)\n"
    "1:\tvmcall\n\t"
    "jmp 1b\n"
    ".popsection\n"
    ".pushsection .rodata\n\t"
    ".balign 8\n"
    "gstubs:\n\t"
    ".irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
    ".quad gstub_\\v\n\t"
    ".endr\n\t"
    ".quad gstub_64, gstub_65\n"
    ".popsection");

extern const uint64_t gstubs[34];

struct gate64 {
	uint16_t off_lo, sel;
	uint8_t ist, type_attr;	/* type_attr: P | DPL | type (SDM Vol. 3A 6.14.1) */
	uint16_t off_mid;
	uint32_t off_hi, reserved;
} __attribute__((packed));

static struct gate64 gidt[GIDT_VECTORS] __attribute__((aligned(16)));

static void gidt_build(void)
{
	for (unsigned v = 0; v < GIDT_VECTORS; v++) {
		uint64_t a;

		if (v >= 32 && v < 0x40)
			continue;	/* not present */
		a = gstubs[v < 32 ? v : 32 + (v - 0x40)];
		gidt[v] = (struct gate64){ .off_lo = (uint16_t)a, .sel = GUEST_CS64, .type_attr = 0x8e,
					   .off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32) };
	}
}

/* ---- the guest programs ----
 * Each starts with the instruction under test; the tests set the GPRs
 * it uses through struct gregs. */
asm(".pushsection .text\n"
    /* I/O (SDM 26.1.3) */
    ".globl gp_in_imm, gp_in_dx, gp_in_dx32, gp_out_dx32, gp_out_dx16, gp_out_dx8\n"
    ".globl gp_rep_outsb, gp_rep_insb, gp_outsb_fs, gp_io_pass, gp_io_pass_end\n"
    "gp_in_imm:\tin $0x50, %al\n\tvmcall\n"
    "gp_in_dx:\tin (%dx), %al\n\tvmcall\n"
    "gp_in_dx32:\tin (%dx), %eax\n\tvmcall\n"
    "gp_out_dx32:\tout %eax, (%dx)\n\tvmcall\n"
    "gp_out_dx16:\tout %ax, (%dx)\n\tvmcall\n"
    "gp_out_dx8:\tout %al, (%dx)\n\tvmcall\n"
    "gp_rep_outsb:\trep outsb\n\tvmcall\n"
    "gp_rep_insb:\trep insb\n\tvmcall\n"
    "gp_outsb_fs:\toutsb %fs:(%rsi), (%dx)\n\tvmcall\n"
    "gp_io_pass:\n\t"
    "out %al, $0x80\n\t"		/* POST-code port: nothing there, nothing exits */
    "mov $0xcf8, %edx\n\t"		/* PCI CONFIG_ADDRESS latches what is written */
    "mov $0x80000000, %eax\n\t"
    "out %eax, (%dx)\n\t"
    "in (%dx), %eax\n\t"
    "mov %eax, %ebx\n\t"
    "mov $0xcfc, %edx\n\t"		/* CONFIG_DATA: host bridge vendor/device */
    "in (%dx), %eax\n"
    "gp_io_pass_end:\tvmcall\n"
    /* MSRs (SDM 25.6.9, 26.1.3) */
    ".globl gp_rdmsr, gp_wrmsr\n"
    "gp_rdmsr:\trdmsr\n\tvmcall\n"
    "gp_wrmsr:\twrmsr\n\tvmcall\n"
    /* exceptions (SDM 25.6.3, 26.2) */
    ".globl gp_ud2, gp_movds, gp_int3, gp_load, gp_store\n"
    "gp_ud2:\tud2\n\tvmcall\n"
    ".globl gp_vmmcall, gp_tf, gp_tf_after\n"
    "gp_tf:\tnop\n"
    "gp_tf_after:\tnop\n\tvmcall\n"
    ".globl gp_vmmcall\n"
    "gp_vmmcall:\tvmmcall\n\tvmcall\n"
    "gp_movds:\tmov %ax, %ds\n\tvmcall\n"
    "gp_int3:\tint3\n\tvmcall\n"
    "gp_load:\tmov (%rax), %rbx\n\tvmcall\n"
    "gp_store:\tmov %rbx, (%rax)\n\tvmcall\n"
    /* timing, TSC, other conditional exits, interrupt window */
    ".globl gp_spin, gp_count, gp_hlt, gp_rdtsc, gp_rdtscp, gp_invlpg, gp_rdpmc\n"
    ".globl gp_monitor, gp_mwait, gp_sti, gp_sti_shadow, gp_sti_after, gp_count2, gp_count2_second\n"
    "gp_spin:\tjmp gp_spin\n"
    "gp_count:\tincq g_c1(%rip)\n\tvmcall\n"
    "gp_hlt:\thlt\n\tvmcall\n"
    "gp_rdtsc:\trdtsc\n\tvmcall\n"
    "gp_rdtscp:\trdtscp\n\tvmcall\n"
    "gp_invlpg:\tinvlpg 0x10(%rax)\n\tvmcall\n"
    "gp_rdpmc:\trdpmc\n\tvmcall\n"
    ".globl gp_invd\n"
    "gp_invd:\tinvd\n\tvmcall\n"
    "gp_monitor:\tmonitor\n\tvmcall\n"
    "gp_mwait:\tmwait\n\tvmcall\n"
    ".globl gp_monitor_mwait, gp_monitor_mwait_2\n"
    "gp_monitor_mwait:\tmonitor\n"
    "gp_monitor_mwait_2:\tmwait\n\tvmcall\n"
    "gp_sti:\tsti\n"
    "gp_sti_shadow:\tincq g_c1(%rip)\n"
    "gp_sti_after:\tincq g_c2(%rip)\n\tvmcall\n"
    "gp_count2:\tincq g_c1(%rip)\n"
    "gp_count2_second:\tincq g_c2(%rip)\n\tvmcall\n"
    /* PAUSE; an IRETQ to the next instruction (ends NMI blocking) */
    ".globl gp_pause, gp_iret, gp_iret_after\n"
    "gp_pause:\tpause\n\tvmcall\n"
    "gp_iret:\tincq g_c1(%rip)\n"
    "\tmov %rsp, %rax\n\tpushq $0x10\n\tpushq %rax\n\tpushfq\n\tpushq $0x08\n"
    "\tlea gp_iret_after(%rip), %rax\n\tpushq %rax\n\tiretq\n"
    "gp_iret_after:\tincq g_c2(%rip)\n\tvmcall\n"
    /* an exiting instruction in the middle of a block */
    ".globl gp_cpuid_mid, gp_cpuid_mid_insn, gp_out_mid, gp_out_mid_insn\n"
    "gp_cpuid_mid:\tincq g_c1(%rip)\n"
    "gp_cpuid_mid_insn:\tcpuid\n\tinc %r10\n\tincq g_c2(%rip)\n\tvmcall\n"
    "gp_out_mid:\tincq g_c1(%rip)\n"
    "gp_out_mid_insn:\toutb %al, $0x80\n\tinc %r10\n\tincq g_c2(%rip)\n\tvmcall\n"
    /* CPUID followed by 16 multiplies, and by none */
    ".globl gp_cpuid_tail, gp_cpuid_notail\n"
    "gp_cpuid_tail:\tcpuid\n"
    "\t.rept 16\n\timul %r8, %r9\n\t.endr\n\tvmcall\n"
    "gp_cpuid_notail:\tcpuid\n\tvmcall\n"
    /* two blocks chained into a loop: g_c1 is never more than one
     * ahead of g_c2 */
    ".globl gp_pingpong, gp_pong\n"
    "gp_pingpong:\tincq g_c1(%rip)\n\tjmp gp_pong\n"
    "gp_pong:\tincq g_c2(%rip)\n\tjmp gp_pingpong\n"
    /* own GDT: a far return into a not-yet-accessed code segment (0x08)
     * and LTR of an available TSS (0x10), then VMCALL twice */
    /* XSETBV, XGETBV; x87 state left for the VMM and taken from it */
    ".globl gp_xsetbv, gp_xgetbv, gp_x87, gp_x87_store\n"
    "gp_xsetbv:\txsetbv\n\tvmcall\n"
    "gp_xgetbv:\txgetbv\n\tvmcall\n"
    "gp_x87:\tfninit\n\tfld1\n\tfld1\n\tfaddp\n\tvmcall\n"
    "gp_x87_store:\tfstpl g_c1(%rip)\n\tvmcall\n"
    ".globl gp_segload\n"
    "gp_segload:\tlgdt seg_gdtr(%rip)\n"
    "\tpushq $0x08\n\tlea 1f(%rip), %rax\n\tpushq %rax\n\tlretq\n"
    "1:\tmov $0x10, %ax\n\tltr %ax\n\tvmcall\n\tvmcall\n"
    ".popsection");

extern void gp_in_imm(void), gp_in_dx(void), gp_in_dx32(void), gp_out_dx32(void), gp_out_dx16(void);
extern void gp_out_dx8(void), gp_rep_outsb(void), gp_rep_insb(void), gp_outsb_fs(void), gp_io_pass(void);
extern void gp_io_pass_end(void);
extern void gp_vmmcall(void), gp_tf(void), gp_tf_after(void);
extern void gp_rdmsr(void), gp_wrmsr(void), gp_ud2(void), gp_movds(void), gp_int3(void), gp_load(void);
extern void gp_store(void), gp_spin(void), gp_count(void), gp_hlt(void), gp_rdtsc(void), gp_rdtscp(void);
extern void gp_invd(void);
extern void gp_invlpg(void), gp_rdpmc(void), gp_monitor(void), gp_mwait(void), gp_sti(void);
extern void gp_monitor_mwait(void), gp_monitor_mwait_2(void);
extern void gp_sti_after(void), gp_count2(void), gp_count2_second(void), gp_pause(void), gp_iret(void);
extern void gp_iret_after(void), gp_cpuid_mid(void), gp_cpuid_mid_insn(void), gp_out_mid(void);
extern void gp_out_mid_insn(void), gp_cpuid_tail(void), gp_cpuid_notail(void), gp_segload(void);
extern void gp_pingpong(void), gp_pong(void);
extern void gp_xsetbv(void), gp_xgetbv(void), gp_x87(void), gp_x87_store(void);

/* gp_segload's GDT: null, 64-bit code with the accessed bit clear (type
 * 0xA), an available 64-bit TSS (type 9, base filled in at run time). */
static uint64_t seg_gdt[4] __attribute__((aligned(16)));
static uint8_t seg_tss[104] __attribute__((aligned(16)));
struct {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed)) seg_gdtr;

#define A(f) ((uint64_t)(uintptr_t)(f))

/* ---- running a guest ---- */

static uint8_t guest_stack[8192] __attribute__((aligned(16)));
static struct gregs gr;
static int launched;

/* A fresh VMCS for a guest starting at `entry` on its own IDT. */
static void guest_setup(void (*entry)(void))
{
	vmx_setup_vmcs(entry, guest_stack + sizeof(guest_stack));
	vmwrite(VMCS_GUEST_IDTR_BASE, A(gidt));
	vmwrite(VMCS_GUEST_IDTR_LIMIT, sizeof(gidt) - 1);
	/* VMCLEAR keeps the region's data: clear what earlier tests set. */
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite(VMCS_ENTRY_EXCEPTION_ERROR_CODE, 0);
	vmwrite(VMCS_ENTRY_INSTRUCTION_LEN, 0);
	vmwrite(VMCS_PF_ERROR_CODE_MASK, 0);
	vmwrite(VMCS_PF_ERROR_CODE_MATCH, 0);
	vmwrite(VMCS_TSC_OFFSET, 0);
	vmwrite(VMCS_PROC_BASED_CTLS2, 0);
	vmwrite(VMCS_PREEMPTION_TIMER_VALUE, 0);
	vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
	memset(&gr, 0, sizeof(gr));
	for (int i = 0; i < GEV_N; i++)
		gev[i] = 0;
	gev[GEV_VECTOR] = ~0ull;
	g_c1 = g_c2 = 0;
	launched = 0;
}

static int enter(void)
{
	int r = gx_enter(launched, &gr);

	if (r == 0 && !(vmread(VMCS_EXIT_REASON) & EXIT_REASON_FAILED_VMENTRY))
		launched = 1;
	return r;
}

/* Resume past the instruction that exited (a VMM emulating it). */
static int resume_past(void)
{
	vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + vmread(VMCS_EXIT_INSTRUCTION_LEN));
	return enter();
}

static void set_ctl(uint32_t field, uint32_t set, uint32_t clear)
{
	vmwrite(field, (vmread(field) | set) & ~(uint64_t)clear);
}

static uint32_t allowed1(uint32_t msr)
{
	return (uint32_t)(rdmsr(msr) >> 32);
}

#define ANY (~0ull)

/* An exit with `reason`, and (unless ANY) the exit qualification,
 * instruction length and the guest RIP saved. */
static bool check_exit(const char *what, int r, uint64_t reason, uint64_t qual, uint64_t len, uint64_t rip)
{
	uint64_t xr = vmread(VMCS_EXIT_REASON), xq = vmread(VMCS_EXIT_QUALIFICATION);
	uint64_t xl = vmread(VMCS_EXIT_INSTRUCTION_LEN), xp = vmread(VMCS_GUEST_RIP);
	bool ok = r == 0 && xr == reason && (qual == ANY || xq == qual) && (len == ANY || xl == len) &&
		  (rip == ANY || xp == rip);

	return report(ok, "%s: entry %d, reason %lu (want %lu), qualification 0x%lx (want 0x%lx), "
		      "length %lu (want %ld), guest RIP 0x%lx (want 0x%lx)",
		      what, r, (unsigned long)xr, (unsigned long)reason, (unsigned long)xq, (unsigned long)qual,
		      (unsigned long)xl, (long)len, (unsigned long)xp, (unsigned long)rip);
}

/* An exception exit (reason 0) with its interruption information and
 * (unless ANY) error code, qualification and guest RIP (SDM 28.2.2). */
static bool check_exc_exit(const char *what, int r, uint32_t info, uint64_t err, uint64_t qual, uint64_t rip)
{
	uint64_t xr = vmread(VMCS_EXIT_REASON), xi = vmread(VMCS_EXIT_INTR_INFO);
	uint64_t xe = vmread(VMCS_EXIT_INTR_ERROR_CODE), xq = vmread(VMCS_EXIT_QUALIFICATION);
	uint64_t xp = vmread(VMCS_GUEST_RIP);
	bool ok = r == 0 && xr == EXIT_REASON_EXCEPTION_NMI && (xi & 0x80000fffu) == info &&
		  (err == ANY || xe == err) && (qual == ANY || xq == qual) && (rip == ANY || xp == rip);

	return report(ok, "%s: entry %d, reason %lu, interruption info 0x%lx (want 0x%x), error code 0x%lx "
		      "(want 0x%lx), qualification 0x%lx (want 0x%lx), guest RIP 0x%lx (want 0x%lx)",
		      what, r, (unsigned long)xr, (unsigned long)xi, info, (unsigned long)xe, (unsigned long)err,
		      (unsigned long)xq, (unsigned long)qual, (unsigned long)xp, (unsigned long)rip);
}

/* The guest reached the VMCALL after an instruction that must not exit. */
static bool check_vmcall(const char *what, int r, uint64_t rip)
{
	return check_exit(what, r, EXIT_REASON_VMCALL, 0, 3, rip);
}

/* The guest's IDT got `vector` with `err` pushed and `rip` as the
 * return address (SDM Vol. 3A 6.14.1), exactly once. */
static bool check_guest_event(const char *what, uint64_t vector, uint64_t err, uint64_t rip)
{
	bool ok = gev[GEV_COUNT] == 1 && gev[GEV_VECTOR] == vector && gev[GEV_ERROR] == err &&
		  gev[GEV_RIP] == rip && gev[GEV_CS] == GUEST_CS64;

	return report(ok, "%s: guest handler ran %lu times, vector 0x%lx (want 0x%lx), error code 0x%lx "
		      "(want 0x%lx), pushed RIP 0x%lx (want 0x%lx), CS 0x%lx",
		      what, (unsigned long)gev[GEV_COUNT], (unsigned long)gev[GEV_VECTOR], (unsigned long)vector,
		      (unsigned long)gev[GEV_ERROR], (unsigned long)err, (unsigned long)gev[GEV_RIP],
		      (unsigned long)rip, (unsigned long)gev[GEV_CS]);
}

/* ---- 1. I/O instructions (SDM 25.6.4, 26.1.3, 28.2.1 table 28-5) ---- */

static uint8_t io_bitmap_a[4096] __attribute__((aligned(4096)));
static uint8_t io_bitmap_b[4096] __attribute__((aligned(4096)));
static uint8_t io_buf[16];

static void io_bit(uint16_t port, int set)
{
	uint8_t *bm = port < 0x8000 ? io_bitmap_a : io_bitmap_b;
	unsigned p = port & 0x7fff;

	if (set)
		bm[p / 8] |= (uint8_t)(1u << (p % 8));
	else
		bm[p / 8] &= (uint8_t)~(1u << (p % 8));
}

#define IOQ(port, size, in, str, rep, imm)                                                                   \
	(((uint64_t)(port) << EXIT_QUAL_IO_PORT_SHIFT) | ((size) - 1) | ((in) ? EXIT_QUAL_IO_IN : 0) |    \
	 ((str) ? EXIT_QUAL_IO_STRING : 0) | ((rep) ? EXIT_QUAL_IO_REP : 0) | ((imm) ? EXIT_QUAL_IO_IMMEDIATE : 0))

static void io_guest(void (*entry)(void))
{
	guest_setup(entry);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_USE_IO_BITMAPS | CPU_BASED_UNCOND_IO_EXITING, 0);
	vmwrite(VMCS_IO_BITMAP_A, A(io_bitmap_a));
	vmwrite(VMCS_IO_BITMAP_B, A(io_bitmap_b));
}

static void test_io(void)
{
	uint32_t pci_id;
	uint64_t info;
	int r;

	/* Unconditional I/O exiting without bitmaps: IN AL,imm8 exits
	 * before it executes, so AL keeps its value. */
	guest_setup(gp_in_imm);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_UNCOND_IO_EXITING, CPU_BASED_USE_IO_BITMAPS);
	gr.rax = 0x5a5a;
	r = enter();
	check_exit("IN AL,0x50 with unconditional I/O exiting", r, EXIT_REASON_IO_INSTRUCTION,
		   IOQ(0x50, 1, 1, 0, 0, 1), 2, A(gp_in_imm));
	report(gr.rax == 0x5a5a, "the exiting IN left RAX alone (0x%lx)", (unsigned long)gr.rax);
	r = resume_past();
	check_vmcall("resumed past the IN", r, A(gp_in_imm) + 2);

	/* With "use I/O bitmaps" unconditional I/O exiting is ignored; a
	 * clear bit lets the access through (PCI CONFIG_ADDRESS reads back
	 * what was written, CONFIG_DATA is the host bridge's id). */
	outl(0xcf8, 0x80000000);
	pci_id = inl(0xcfc);
	outl(0xcf8, 0);
	memset(io_bitmap_a, 0, sizeof(io_bitmap_a));
	memset(io_bitmap_b, 0, sizeof(io_bitmap_b));
	io_guest(gp_io_pass);
	r = enter();
	check_vmcall("OUT 0x80, OUT/IN 0xcf8, IN 0xcfc with their bitmap bits clear do not exit", r,
		     A(gp_io_pass_end));
	report(gr.rbx == 0x80000000 && gr.rax == pci_id && pci_id != 0xffffffff,
	       "the non-exiting accesses reached the device: CONFIG_ADDRESS 0x%lx (want 0x80000000), "
	       "CONFIG_DATA 0x%lx (want 0x%x)", (unsigned long)gr.rbx, (unsigned long)gr.rax, pci_id);
	outl(0xcf8, 0);

	/* Bitmap A covers 0000-7FFF, B 8000-FFFF (SDM 25.6.4). */
	io_bit(0x1234, 1);
	io_guest(gp_in_dx);
	gr.rdx = 0x1234;
	gr.rax = 0xa5;
	r = enter();
	check_exit("IN AL,DX port 0x1234, bit set in bitmap A", r, EXIT_REASON_IO_INSTRUCTION,
		   IOQ(0x1234, 1, 1, 0, 0, 0), 1, A(gp_in_dx));
	report(gr.rax == 0xa5, "RAX unchanged by the exiting IN (0x%lx)", (unsigned long)gr.rax);

	io_bit(0x9000, 1);
	io_guest(gp_out_dx32);
	gr.rdx = 0x9000;
	r = enter();
	check_exit("OUT DX,EAX port 0x9000, bit set in bitmap B", r, EXIT_REASON_IO_INSTRUCTION,
		   IOQ(0x9000, 4, 0, 0, 0, 0), 1, A(gp_out_dx32));
	io_guest(gp_out_dx16);
	gr.rdx = 0x9000;
	r = enter();
	check_exit("OUT DX,AX (0x66 prefix) port 0x9000", r, EXIT_REASON_IO_INSTRUCTION,
		   IOQ(0x9000, 2, 0, 0, 0, 0), 2, A(gp_out_dx16));

	/* A clear bit in A does not exit; B's bit 0 makes a 2-byte access
	 * at 7FFF (ports 7FFF and 8000) exit. */
	io_bit(0x8000, 1);
	io_guest(gp_out_dx8);
	gr.rdx = 0x7fff;
	r = enter();
	check_vmcall("OUT DX,AL port 0x7fff, bit clear in A: no exit", r, A(gp_out_dx8) + 1);
	io_guest(gp_out_dx16);
	gr.rdx = 0x7fff;
	r = enter();
	check_exit("OUT DX,AX port 0x7fff: spans 0x8000, whose bit is set in B", r, EXIT_REASON_IO_INSTRUCTION,
		   IOQ(0x7fff, 2, 0, 0, 0, 0), 2, A(gp_out_dx16));
	/* IN EAX,DX at 1231 covers 1231-1234: only 1234's bit is set. */
	io_guest(gp_in_dx32);
	gr.rdx = 0x1231;
	r = enter();
	check_exit("IN EAX,DX port 0x1231: its fourth byte's port 0x1234 has its bit set", r,
		   EXIT_REASON_IO_INSTRUCTION, IOQ(0x1231, 4, 1, 0, 0, 0), 1, A(gp_in_dx32));
	io_bit(0x1234, 0);
	io_guest(gp_in_dx32);
	gr.rdx = 0x1231;
	r = enter();
	check_vmcall("IN EAX,DX port 0x1231 with all four bits clear: no exit", r, A(gp_in_dx32) + 1);

	/* String I/O: string and REP bits, DX encoding; the instruction
	 * does not execute, so RCX/RSI keep their values.  IA32_VMX_BASIC
	 * [54] = 1 promises the instruction-information field (address
	 * size 9:7, segment 17:15; SDM 28.2.5) and the guest-linear
	 * address is DS:RSI (28.2.1). */
	memcpy(io_buf, "abc", 3);
	io_guest(gp_rep_outsb);
	gr.rdx = 0x9000;
	gr.rcx = 3;
	gr.rsi = A(io_buf);
	r = enter();
	check_exit("REP OUTSB port 0x9000", r, EXIT_REASON_IO_INSTRUCTION, IOQ(0x9000, 1, 0, 1, 1, 0), 2,
		   A(gp_rep_outsb));
	report(gr.rcx == 3 && gr.rsi == A(io_buf), "the exiting REP OUTSB did not run: RCX %lu (want 3), RSI 0x%lx "
	       "(want 0x%lx)", (unsigned long)gr.rcx, (unsigned long)gr.rsi, (unsigned long)A(io_buf));
	if (rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_INOUT) {
		info = vmread(VMCS_EXIT_INSTRUCTION_INFO);
		report((info & 0x38380) == ((2u << 7) | (3u << 15)),
		       "REP OUTSB instruction information: 64-bit address size, DS (0x%lx, want 0x18100 in 0x38380)",
		       (unsigned long)info);
		report(vmread(VMCS_GUEST_LINEAR_ADDRESS) == A(io_buf),
		       "REP OUTSB guest-linear address = DS:RSI (0x%lx, want 0x%lx)",
		       (unsigned long)vmread(VMCS_GUEST_LINEAR_ADDRESS), (unsigned long)A(io_buf));
	}
	io_bit(0x1234, 1);
	io_buf[8] = 0xa5;
	io_guest(gp_rep_insb);
	gr.rdx = 0x1234;
	gr.rcx = 2;
	gr.rdi = A(io_buf + 8);
	r = enter();
	check_exit("REP INSB port 0x1234", r, EXIT_REASON_IO_INSTRUCTION, IOQ(0x1234, 1, 1, 1, 1, 0), 2,
		   A(gp_rep_insb));
	/* An I/O exit is fault-like: memory and registers unchanged
	 * (SDM 26.1.1, 26.1.3).  Unicorn's INS stores to ES:RDI before the
	 * port read, so hvsim intercepts INS before it executes. */
	report(gr.rcx == 2 && gr.rdi == A(io_buf + 8) && io_buf[8] == 0xa5,
	       "the exiting REP INSB did not run: RCX %lu (want 2), RDI 0x%lx (want 0x%lx), "
	       "destination byte 0x%x (want 0xa5)", (unsigned long)gr.rcx, (unsigned long)gr.rdi,
	       (unsigned long)A(io_buf + 8), io_buf[8]);
	if (rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_INOUT)
		report(vmread(VMCS_GUEST_LINEAR_ADDRESS) == A(io_buf + 8),
		       "REP INSB guest-linear address = ES:RDI (0x%lx, want 0x%lx)",
		       (unsigned long)vmread(VMCS_GUEST_LINEAR_ADDRESS), (unsigned long)A(io_buf + 8));
	/* OUTSB with an FS override: segment 4 in the instruction
	 * information, and FS's base counts in 64-bit mode. */
	io_guest(gp_outsb_fs);
	vmwrite(VMCS_GUEST_FS_BASE, 0x1000);
	gr.rdx = 0x9000;
	gr.rsi = A(io_buf);
	r = enter();
	check_exit("OUTSB %fs:(%rsi) port 0x9000", r, EXIT_REASON_IO_INSTRUCTION, IOQ(0x9000, 1, 0, 1, 0, 0), 2,
		   A(gp_outsb_fs));
	if (rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_INOUT) {
		info = vmread(VMCS_EXIT_INSTRUCTION_INFO);
		report((info & 0x38380) == ((2u << 7) | (4u << 15)) &&
			       vmread(VMCS_GUEST_LINEAR_ADDRESS) == 0x1000 + A(io_buf),
		       "OUTSB %%fs: instruction information 0x%lx (want 0x20100 in 0x38380), guest-linear address "
		       "0x%lx (want FS base 0x1000 + RSI 0x%lx)", (unsigned long)info,
		       (unsigned long)vmread(VMCS_GUEST_LINEAR_ADDRESS), (unsigned long)A(io_buf));
	}
	io_bit(0x1234, 0);
	io_bit(0x8000, 0);
	io_bit(0x9000, 0);
}

/* ---- 2. MSR bitmaps (SDM 25.6.9, 26.1.3) ---- */

static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));

#define MSR_SYSENTER_CS 0x174
#define MSR_KERNEL_GS_BASE 0xc0000102

/* Regions: read-low 0, read-high 1024, write-low 2048, write-high 3072. */
static void msr_bit(uint32_t msr, int write, int set)
{
	unsigned off = (write ? 2048 : 0) + (msr >= 0xc0000000 ? 1024 : 0), n = msr & 0x1fff;

	if (set)
		msr_bitmap[off + n / 8] |= (uint8_t)(1u << (n % 8));
	else
		msr_bitmap[off + n / 8] &= (uint8_t)~(1u << (n % 8));
}

static int msr_run(void (*entry)(void), int bitmaps, uint32_t msr, uint64_t val)
{
	guest_setup(entry);
	if (bitmaps) {
		set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_USE_MSR_BITMAPS, 0);
		vmwrite(VMCS_MSR_BITMAP, A(msr_bitmap));
	} else {
		set_ctl(VMCS_PROC_BASED_CTLS, 0, CPU_BASED_USE_MSR_BITMAPS);
	}
	vmwrite(VMCS_GUEST_IA32_SYSENTER_CS, 0x1230);
	gr.rcx = msr;
	gr.rax = (uint32_t)val;
	gr.rdx = val >> 32;
	return enter();
}

/* Page tables giving the guest's first GiB user access, for CPL 3. */
static uint64_t user_pml4[512] __attribute__((aligned(4096)));
static uint64_t user_pdpt[512] __attribute__((aligned(4096)));
static uint64_t user_pd[512] __attribute__((aligned(4096)));

static void user_tables_build(void)
{
	for (int i = 0; i < 512; i++)
		user_pd[i] = guest_pd[0][i] | PTE_U;
	user_pdpt[0] = A(user_pd) | PTE_P | PTE_W | PTE_U;
	user_pml4[0] = A(user_pdpt) | PTE_P | PTE_W | PTE_U;
}

/* The guest starts at CPL 3: user page tables, CS and the data segments
 * with DPL and RPL 3. */
static void guest_user_mode(void)
{
	vmwrite(VMCS_GUEST_CR3, A(user_pml4));
	vmwrite(VMCS_GUEST_CS_SELECTOR, GUEST_CS64 | 3);
	vmwrite(VMCS_GUEST_CS_AR_BYTES, 0xa0fb);
	for (int n = 0; n < 6; n++) {
		if (n == 1)
			continue;
		vmwrite(VMCS_GUEST_ES_SELECTOR + 2 * n, GUEST_DS | 3);
		vmwrite(VMCS_GUEST_ES_AR_BYTES + 2 * n, 0xc0f3);
	}
}

static void test_msr(void)
{
	uint64_t kgs = rdmsr(MSR_KERNEL_GS_BASE);
	int r;

	/* Without "use MSR bitmaps" every RDMSR and WRMSR exits. */
	r = msr_run(gp_rdmsr, 0, MSR_SYSENTER_CS, 0);
	check_exit("RDMSR 0x174 without MSR bitmaps", r, EXIT_REASON_MSR_READ, 0, 2, A(gp_rdmsr));
	r = msr_run(gp_wrmsr, 0, MSR_SYSENTER_CS, 0x4560);
	check_exit("WRMSR 0x174 without MSR bitmaps", r, EXIT_REASON_MSR_WRITE, 0, 2, A(gp_wrmsr));
	report(vmread(VMCS_GUEST_IA32_SYSENTER_CS) == 0x1230, "the exiting WRMSR did not write (SYSENTER_CS 0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_IA32_SYSENTER_CS));

	/* All bits clear: the guest's own MSRs are read and written. */
	memset(msr_bitmap, 0, sizeof(msr_bitmap));
	r = msr_run(gp_rdmsr, 1, MSR_SYSENTER_CS, 0);
	check_vmcall("RDMSR 0x174 with its read-low bit clear does not exit", r, A(gp_rdmsr) + 2);
	report(gr.rax == 0x1230 && gr.rdx == 0, "... and reads the guest's SYSENTER_CS (0x%lx:0x%lx, want 0x1230)",
	       (unsigned long)gr.rdx, (unsigned long)gr.rax);
	r = msr_run(gp_wrmsr, 1, MSR_SYSENTER_CS, 0x4560);
	check_vmcall("WRMSR 0x174 with its write-low bit clear does not exit", r, A(gp_wrmsr) + 2);
	report(vmread(VMCS_GUEST_IA32_SYSENTER_CS) == 0x4560, "... and writes the guest's SYSENTER_CS (0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_IA32_SYSENTER_CS));
	r = msr_run(gp_wrmsr, 1, MSR_KERNEL_GS_BASE, 0x123456789000ull);
	check_vmcall("WRMSR 0xc0000102 with its write-high bit clear does not exit", r, A(gp_wrmsr) + 2);
	report(rdmsr(MSR_KERNEL_GS_BASE) == 0x123456789000ull,
	       "... and writes KERNEL_GS_BASE, which VM exits do not switch (0x%lx)",
	       (unsigned long)rdmsr(MSR_KERNEL_GS_BASE));
	wrmsr(MSR_KERNEL_GS_BASE, kgs);

	/* Read-low set: RDMSR exits, WRMSR does not; the same bit number
	 * in the other regions stays clear. */
	msr_bit(MSR_SYSENTER_CS, 0, 1);
	r = msr_run(gp_rdmsr, 1, MSR_SYSENTER_CS, 0);
	check_exit("RDMSR 0x174 with its read-low bit set", r, EXIT_REASON_MSR_READ, 0, 2, A(gp_rdmsr));
	r = msr_run(gp_wrmsr, 1, MSR_SYSENTER_CS, 0x4560);
	check_vmcall("WRMSR 0x174 with only its read bit set does not exit", r, A(gp_wrmsr) + 2);
	r = msr_run(gp_rdmsr, 1, 0xc0000000 | MSR_SYSENTER_CS, 0);
	check_vmcall("RDMSR 0xc0000174 (no such MSR) with its read-high bit clear does not exit", r, ANY);
	report(gev[GEV_VECTOR] == GP_VECTOR && gev[GEV_RIP] == A(gp_rdmsr),
	       "... #GP delivered to the guest at the RDMSR (vector 0x%lx, RIP 0x%lx)",
	       (unsigned long)gev[GEV_VECTOR], (unsigned long)gev[GEV_RIP]);
	msr_bit(MSR_SYSENTER_CS, 0, 0);
	/* Write-low set. */
	msr_bit(MSR_SYSENTER_CS, 1, 1);
	r = msr_run(gp_wrmsr, 1, MSR_SYSENTER_CS, 0x4560);
	check_exit("WRMSR 0x174 with its write-low bit set", r, EXIT_REASON_MSR_WRITE, 0, 2, A(gp_wrmsr));
	r = msr_run(gp_rdmsr, 1, MSR_SYSENTER_CS, 0);
	check_vmcall("RDMSR 0x174 with only its write bit set does not exit", r, A(gp_rdmsr) + 2);
	msr_bit(MSR_SYSENTER_CS, 1, 0);
	/* Read-high and write-high. */
	msr_bit(MSR_KERNEL_GS_BASE, 0, 1);
	r = msr_run(gp_rdmsr, 1, MSR_KERNEL_GS_BASE, 0);
	check_exit("RDMSR 0xc0000102 with its read-high bit set", r, EXIT_REASON_MSR_READ, 0, 2, A(gp_rdmsr));
	r = msr_run(gp_rdmsr, 1, 0x102, 0);
	check_vmcall("RDMSR 0x102 (read-low bit 0x102 clear) does not exit", r, ANY);
	msr_bit(MSR_KERNEL_GS_BASE, 0, 0);
	msr_bit(MSR_KERNEL_GS_BASE, 1, 1);
	r = msr_run(gp_wrmsr, 1, MSR_KERNEL_GS_BASE, 0x5000);
	check_exit("WRMSR 0xc0000102 with its write-high bit set", r, EXIT_REASON_MSR_WRITE, 0, 2, A(gp_wrmsr));
	report(rdmsr(MSR_KERNEL_GS_BASE) == kgs, "the exiting WRMSR left KERNEL_GS_BASE alone (0x%lx)",
	       (unsigned long)rdmsr(MSR_KERNEL_GS_BASE));
	r = msr_run(gp_rdmsr, 1, MSR_KERNEL_GS_BASE, 0);
	check_vmcall("RDMSR 0xc0000102 with only its write-high bit set does not exit", r, A(gp_rdmsr) + 2);
	msr_bit(MSR_KERNEL_GS_BASE, 1, 0);
	/* Outside 0-1FFF and C0000000-C0001FFF: always exits. */
	r = msr_run(gp_rdmsr, 1, 0x40000000, 0);
	check_exit("RDMSR 0x40000000 (outside both ranges) with all bits clear", r, EXIT_REASON_MSR_READ, 0, 2,
		   A(gp_rdmsr));
	r = msr_run(gp_wrmsr, 1, 0x40000000, 0);
	check_exit("WRMSR 0x40000000 with all bits clear", r, EXIT_REASON_MSR_WRITE, 0, 2, A(gp_wrmsr));
	r = msr_run(gp_rdmsr, 1, 0x2000, 0);
	check_exit("RDMSR 0x2000 (just above the low range)", r, EXIT_REASON_MSR_READ, 0, 2, A(gp_rdmsr));

	/* CPL 3: RDMSR's #GP has priority over the MSR-bitmap exit (SDM
	 * 26.1.1); with bit 13 of the exception bitmap it exits as #GP(0). */
	msr_bit(MSR_SYSENTER_CS, 0, 1);
	guest_setup(gp_rdmsr);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_USE_MSR_BITMAPS, 0);
	vmwrite(VMCS_MSR_BITMAP, A(msr_bitmap));
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << GP_VECTOR);
	guest_user_mode();
	gr.rcx = MSR_SYSENTER_CS;
	r = enter();
	check_exc_exit("RDMSR at CPL 3 with its bitmap bit set", r,
		       INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION << 8 | INTR_INFO_DELIVER_CODE | GP_VECTOR, 0, 0,
		       A(gp_rdmsr));
	msr_bit(MSR_SYSENTER_CS, 0, 0);
}

/* ---- 3. exception bitmap and #PF error-code mask/match (SDM 25.6.3,
 * 26.2, 28.1, 28.2.2) ---- */

#define HW_EXC(v) (INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION << 8 | (v))
#define HW_EXC_ERR(v) (HW_EXC(v) | INTR_INFO_DELIVER_CODE)
#define PF_ADDR 0x100000123ull	/* above the 4 GiB the host maps: not present */
#define CR2_MARK 0xdead000ull

static int pf_run(void (*entry)(void), int bit14, uint32_t mask, uint32_t match)
{
	guest_setup(entry);
	vmwrite(VMCS_EXCEPTION_BITMAP, bit14 ? 1u << PF_VECTOR : 0);
	vmwrite(VMCS_PF_ERROR_CODE_MASK, mask);
	vmwrite(VMCS_PF_ERROR_CODE_MATCH, match);
	gr.rax = PF_ADDR;
	write_cr2(CR2_MARK);
	return enter();
}

/* #AC (SDM Vol. 3A 6.15): a misaligned store at CPL 3 with CR0.AM and
 * RFLAGS.AC exits through bit 17 of the exception bitmap as a hardware
 * exception with error code 0 (26.2, 28.2.2), before it writes; at CPL 0,
 * or with CR0.AM clear, it is not checked. */
#define AC_VECTOR 17
#define CR0_AM (1ull << 18)
#define RFLAGS_AC (1ull << 18)
static uint64_t ac_buf[2];

static int ac_run(int cpl3, int am)
{
	guest_setup(gp_store);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << AC_VECTOR);
	if (cpl3)
		guest_user_mode();
	vmwrite(VMCS_GUEST_CR0, am ? vmread(VMCS_GUEST_CR0) | CR0_AM : vmread(VMCS_GUEST_CR0) & ~CR0_AM);
	vmwrite(VMCS_GUEST_RFLAGS, 0x2 | RFLAGS_AC);
	ac_buf[0] = ac_buf[1] = 0;
	gr.rax = A(ac_buf) + 4;
	gr.rbx = 0x1122334455667788ull;
	return enter();
}

static void test_ac_exits(void)
{
	int r;

	r = ac_run(1, 1);
	check_exc_exit("misaligned qword store at CPL 3 with CR0.AM and RFLAGS.AC: #AC(0)", r, HW_EXC_ERR(AC_VECTOR),
		       0, 0, A(gp_store));
	report(vmread(VMCS_EXIT_INTR_INFO) == 0x80000b11u && ac_buf[0] == 0 && ac_buf[1] == 0,
	       "... interruption information 0x%lx (want 0x80000b11), nothing stored",
	       (unsigned long)vmread(VMCS_EXIT_INTR_INFO));
	r = ac_run(0, 1);
	check_vmcall("the same store at CPL 0 is not checked", r, A(gp_store) + 3);
	report(ac_buf[0] >> 32 == 0x55667788 && ac_buf[1] == 0x11223344, "... and stored");
	r = ac_run(1, 0);
	check_vmcall("the same store at CPL 3 with CR0.AM clear is not checked", r, A(gp_store) + 3);
}

static void test_exceptions(void)
{
	int r;

	guest_setup(gp_ud2);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << UD_VECTOR);
	r = enter();
	check_exc_exit("UD2 with bit 6 set", r, HW_EXC(UD_VECTOR), ANY, 0, A(gp_ud2));
	/* A store to a non-canonical address is #GP(0), not a #PF
	 * (SDM Vol. 3 3.3.7.1; kvm-unit-tests' vmx_exception_test). */
	guest_setup(gp_store);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << GP_VECTOR);
	gr.rax = 0xaaaaaaaaaaaaaaaaull;
	r = enter();
	check_exc_exit("store to a non-canonical address: #GP(0)", r, HW_EXC_ERR(GP_VECTOR), 0, 0, A(gp_store));
	test_ac_exits();
	/* Single-step #DB with bit 1 set: the exit qualification gets BS
	 * (and the pending debug exceptions a MOV SS shadow held), DR6 is
	 * left alone (SDM 28.2.1; kvm-unit-tests' vmx_db_test). */
	{
		uint64_t dr6_in = 0xffff4ffaull, dr6_out = 0;

		asm volatile("mov %0, %%dr6" : : "r"(dr6_in));
		guest_setup(gp_tf);
		vmwrite(VMCS_EXCEPTION_BITMAP, 1u << DB_VECTOR);
		vmwrite(VMCS_GUEST_RFLAGS, 0x102);
		r = enter();
		asm volatile("mov %%dr6, %0" : "=r"(dr6_out));
		check_exc_exit("single step with TF = 1: #DB after one instruction, qualification BS", r,
			       HW_EXC(DB_VECTOR), ANY, 0x4000, A(gp_tf_after));
		report(dr6_out == dr6_in, "... DR6 unchanged by the intercepted #DB (0x%lx)", (unsigned long)dr6_out);
		guest_setup(gp_tf);
		vmwrite(VMCS_EXCEPTION_BITMAP, 1u << DB_VECTOR);
		vmwrite(VMCS_GUEST_RFLAGS, 0x102);
		vmwrite(VMCS_GUEST_INTERRUPTIBILITY, GUEST_INTR_STATE_MOV_SS);
		vmwrite(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0x4001);
		r = enter();
		check_exc_exit("single step in a MOV SS shadow with B0 pending: qualification BS | B0", r,
			       HW_EXC(DB_VECTOR), ANY, 0x4001, A(gp_tf_after));
		guest_setup(gp_tf);
		vmwrite(VMCS_EXCEPTION_BITMAP, 1u << DB_VECTOR);
		vmwrite(VMCS_GUEST_INTERRUPTIBILITY, GUEST_INTR_STATE_MOV_SS);
		vmwrite(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0x1);
		r = enter();
		check_exc_exit("B0 pending, TF = 0: #DB after one instruction, qualification B0", r, HW_EXC(DB_VECTOR),
			       ANY, 0x1, A(gp_tf_after));
		report(!(vmread(VMCS_GUEST_RFLAGS) & 0x100), "... and the saved RFLAGS has no TF (0x%lx)",
		       (unsigned long)vmread(VMCS_GUEST_RFLAGS));
		/* Without blocking the #DB comes right after the entry,
		 * before the first instruction (SDM 27.7.3). */
		guest_setup(gp_tf);
		vmwrite(VMCS_EXCEPTION_BITMAP, 1u << DB_VECTOR);
		vmwrite(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0x4002);
		r = enter();
		check_exc_exit("BS|B1 pending, no blocking: #DB before the first instruction", r, HW_EXC(DB_VECTOR), ANY,
			       0x4002, A(gp_tf));
		asm volatile("mov %0, %%dr6" : : "r"(0xffff0ff0ull));
	}
	/* AMD's VMMCALL is #UD on an Intel processor, not a VMCALL. */
	guest_setup(gp_vmmcall);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << UD_VECTOR);
	r = enter();
	check_exc_exit("VMMCALL with bit 6 set: #UD", r, HW_EXC(UD_VECTOR), ANY, 0, A(gp_vmmcall));
	guest_setup(gp_ud2);
	vmwrite(VMCS_EXCEPTION_BITMAP, ~(1u << UD_VECTOR));
	r = enter();
	check_vmcall("UD2 with only bit 6 clear: no exit", r, ANY);
	check_guest_event("UD2 delivered through the guest IDT", UD_VECTOR, 0, A(gp_ud2));

	/* MOV to DS with a selector beyond the GDT limit: #GP(selector & ~3). */
	guest_setup(gp_movds);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << GP_VECTOR);
	gr.rax = 0xffb;
	r = enter();
	check_exc_exit("#GP(0xff8) with bit 13 set", r, HW_EXC_ERR(GP_VECTOR), 0xff8, 0, A(gp_movds));

	/* INT3: a software exception, instruction length 1 (SDM 28.2.4). */
	guest_setup(gp_int3);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << BP_VECTOR);
	r = enter();
	check_exc_exit("INT3 with bit 3 set", r, INTR_INFO_VALID | INTR_TYPE_SOFT_EXCEPTION << 8 | BP_VECTOR, ANY, 0,
		       A(gp_int3));
	report(vmread(VMCS_EXIT_INSTRUCTION_LEN) == 1, "INT3 exit instruction length 1 (%lu)",
	       (unsigned long)vmread(VMCS_EXIT_INSTRUCTION_LEN));
	guest_setup(gp_int3);
	r = enter();
	check_vmcall("INT3 with bit 3 clear: no exit", r, ANY);
	check_guest_event("INT3 delivered through the guest IDT, RIP past it", BP_VECTOR, 0, A(gp_int3) + 1);

	/* #PF: exits iff bit 14 equals (PFEC & MASK) == MATCH.  The exit
	 * qualification is the linear address; CR2 is not written. */
	r = pf_run(gp_load, 1, 0, 0);
	check_exc_exit("#PF read, bit 14 set, mask 0 match 0", r, HW_EXC_ERR(PF_VECTOR), 0, PF_ADDR, A(gp_load));
	report(read_cr2() == CR2_MARK, "a #PF that exits leaves CR2 alone (0x%lx, want 0x%lx)",
	       (unsigned long)read_cr2(), (unsigned long)CR2_MARK);
	report(vmread(VMCS_GUEST_CR3) == read_cr3(), "... and the guest CR3 saved is the guest's (0x%lx, want 0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_CR3), (unsigned long)read_cr3());
	r = pf_run(gp_store, 1, PF_ERR_W, PF_ERR_W);
	check_exc_exit("#PF write, bit 14 set, mask W match W", r, HW_EXC_ERR(PF_VECTOR), PF_ERR_W, PF_ADDR,
		       A(gp_store));
	r = pf_run(gp_load, 1, PF_ERR_W, PF_ERR_W);
	check_vmcall("#PF read, bit 14 set, mask W match W: no match, no exit", r, ANY);
	check_guest_event("... the #PF went to the guest", PF_VECTOR, 0, A(gp_load));
	report(gev[GEV_CR2] == PF_ADDR, "... with CR2 = the address (0x%lx)", (unsigned long)gev[GEV_CR2]);
	r = pf_run(gp_store, 0, PF_ERR_W, PF_ERR_W);
	check_vmcall("#PF write, bit 14 clear, mask W match W: match, no exit", r, ANY);
	check_guest_event("... the #PF went to the guest", PF_VECTOR, PF_ERR_W, A(gp_store));
	r = pf_run(gp_load, 0, PF_ERR_W, PF_ERR_W);
	check_exc_exit("#PF read, bit 14 clear, mask W match W: no match, exit", r, HW_EXC_ERR(PF_VECTOR), 0,
		       PF_ADDR, A(gp_load));
	report(read_cr2() == CR2_MARK, "CR2 still not written (0x%lx)", (unsigned long)read_cr2());
	write_cr2(0);
}

/* ---- 4. event injection (SDM 27.2.1.3, 27.6) ---- */

static int inject_run(uint32_t info, uint32_t err, uint32_t len)
{
	guest_setup(gp_count);
	vmwrite(VMCS_ENTRY_INTR_INFO, info);
	vmwrite(VMCS_ENTRY_EXCEPTION_ERROR_CODE, err);
	vmwrite(VMCS_ENTRY_INSTRUCTION_LEN, len);
	return enter();
}

static void check_injected(const char *what, int r, uint64_t vector, uint64_t err, uint64_t rip)
{
	check_vmcall(what, r, ANY);
	check_guest_event(what, vector, err, rip);
	report(g_c1 == 0, "%s: delivered before the guest's first instruction (counter %lu)", what,
	       (unsigned long)g_c1);
	report(!(vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) && !(vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID),
	       "%s: the exit cleared the entry field's valid bit (0x%lx), no IDT-vectoring info (0x%lx)", what,
	       (unsigned long)vmread(VMCS_ENTRY_INTR_INFO), (unsigned long)vmread(VMCS_IDT_VECTORING_INFO));
}

static void inject_fails(const char *what, uint32_t info, uint32_t err, uint32_t len)
{
	int r = inject_run(info, err, len);

	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_INVALID_CONTROL_FIELD,
	       "injecting %s (0x%x) fails VM entry with error 7 (entry %d, error %lu)", what, info, r,
	       (unsigned long)vmread(VMCS_VM_INSTRUCTION_ERROR));
}

static void test_injection(void)
{
	int r;

	/* External interrupt 0x40: needs RFLAGS.IF = 1 (27.3.1.4); the
	 * interrupt gate clears IF, the pushed RFLAGS has it. */
	guest_setup(gp_count);
	vmwrite(VMCS_GUEST_RFLAGS, 0x202);
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_EXT_INTR << 8 | 0x40);
	r = enter();
	check_injected("external interrupt 0x40", r, 0x40, 0, A(gp_count));
	report(gev[GEV_RFLAGS] == 0x202, "external interrupt: pushed RFLAGS 0x%lx (want 0x202)",
	       (unsigned long)gev[GEV_RFLAGS]);

	r = inject_run(INTR_INFO_VALID | INTR_TYPE_NMI << 8 | 2, 0, 0);
	check_injected("NMI", r, 2, 0, A(gp_count));

	r = inject_run(HW_EXC_ERR(GP_VECTOR), 0x1234, 0);
	check_injected("#GP with error code 0x1234", r, GP_VECTOR, 0x1234, A(gp_count));
	/* Bit 15 of the error code is allowed: only 31:16 are reserved. */
	r = inject_run(HW_EXC_ERR(GP_VECTOR), 0x8000, 0);
	check_injected("#GP with error code 0x8000", r, GP_VECTOR, 0x8000, A(gp_count));

	/* An injected event never exits directly, whatever the exception
	 * bitmap says (SDM 27.6.1.2). */
	guest_setup(gp_count);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << GP_VECTOR);
	vmwrite(VMCS_ENTRY_INTR_INFO, HW_EXC_ERR(GP_VECTOR));
	vmwrite(VMCS_ENTRY_EXCEPTION_ERROR_CODE, 0x18);
	r = enter();
	check_injected("#GP with bit 13 of the exception bitmap set", r, GP_VECTOR, 0x18, A(gp_count));

	/* Software interrupt and software exception push RIP + the
	 * VM-entry instruction length. */
	r = inject_run(INTR_INFO_VALID | INTR_TYPE_SOFT_INTR << 8 | 0x41, 0, 2);
	check_injected("software interrupt 0x41, length 2", r, 0x41, 0, A(gp_count) + 2);
	r = inject_run(INTR_INFO_VALID | INTR_TYPE_SOFT_EXCEPTION << 8 | BP_VECTOR, 0, 1);
	check_injected("software exception #BP, length 1", r, BP_VECTOR, 0, A(gp_count) + 1);

	/* Checks on the interruption-information field (27.2.1.3). */
	inject_fails("reserved type 1", INTR_INFO_VALID | 1u << 8 | 0x40, 0, 0);
	inject_fails("an NMI with vector 3", INTR_INFO_VALID | INTR_TYPE_NMI << 8 | 3, 0, 0);
	inject_fails("a hardware exception with vector 0x40", HW_EXC(0x40), 0, 0);
	if (!(rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_NO_HW_ERRCODE_CHECK))
		inject_fails("#GP without deliver-error-code", HW_EXC(GP_VECTOR), 0, 0);
	inject_fails("#UD with deliver-error-code", HW_EXC_ERR(UD_VECTOR), 0, 0);
	inject_fails("reserved bit 12", HW_EXC(UD_VECTOR) | 1u << 12, 0, 0);
	if (!(rdmsr(MSR_IA32_VMX_MISC) & VMX_MISC_ZERO_LEN_INJECT))
		inject_fails("a software interrupt with length 0", INTR_INFO_VALID | INTR_TYPE_SOFT_INTR << 8 | 0x41, 0,
			     0);
	inject_fails("an error code with bits 31:16 set", HW_EXC_ERR(GP_VECTOR), 0x10000, 0);
}

/* ---- 5. VMX-preemption timer (SDM 25.6.1, 26.5.1, 28.3.4) ---- */

/* A timer exit between two chained blocks saves the RIP of the block
 * that did not run yet: resumed, the guest neither repeats nor skips a
 * block (SDM 26.5.1: the exit is before the instruction). */
static void test_preemption_between_blocks(void)
{
	uint64_t rip;
	bool ok = true;
	int r, n;

	guest_setup(gp_pingpong);
	set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_PREEMPTION_TIMER, 0);
	for (n = 0; n < 40 && ok; n++) {
		vmwrite(VMCS_PREEMPTION_TIMER_VALUE, 3 + n % 7);
		r = enter();
		rip = vmread(VMCS_GUEST_RIP);
		ok = r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_PREEMPTION_TIMER &&
		     (rip == A(gp_pingpong) ? g_c1 == g_c2 : rip == A(gp_pong) ? g_c1 == g_c2 + 1 : false);
	}
	report(ok, "40 timer exits in a two-block loop: each at the block not yet run (%d: RIP 0x%lx, %lu/%lu)", n,
	       (unsigned long)rip, (unsigned long)g_c1, (unsigned long)g_c2);
}

static void test_preemption_timer(void)
{
	uint32_t pin1 = allowed1(MSR_IA32_VMX_TRUE_PINBASED_CTLS), exit1 = allowed1(MSR_IA32_VMX_TRUE_EXIT_CTLS);
	unsigned rate = rdmsr(MSR_IA32_VMX_MISC) & VMX_MISC_PREEMPTION_TIMER_RATE_MASK;
	const uint64_t n = 1000, ticks = n << rate;
	uint64_t t0, t1, v;
	int r;

	if (!(pin1 & PIN_BASED_PREEMPTION_TIMER)) {
		report_skip("no VMX-preemption timer");
		return;
	}
	guest_setup(gp_spin);
	set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_PREEMPTION_TIMER, 0);
	if (exit1 & VM_EXIT_SAVE_PREEMPTION_TIMER)
		set_ctl(VMCS_EXIT_CTLS, VM_EXIT_SAVE_PREEMPTION_TIMER, 0);
	vmwrite(VMCS_PREEMPTION_TIMER_VALUE, n);
	t0 = rdtsc();
	r = enter();
	t1 = rdtsc();
	check_exit("a spinning guest with the timer at 1000", r, EXIT_REASON_PREEMPTION_TIMER, 0, ANY, A(gp_spin));
	report(t1 - t0 >= ticks && t1 - t0 < ticks + 20000,
	       "the timer ran 1000 << %u TSC ticks (%lu elapsed, want %lu to %lu)", rate, (unsigned long)(t1 - t0),
	       (unsigned long)ticks, (unsigned long)(ticks + 20000));
	if (exit1 & VM_EXIT_SAVE_PREEMPTION_TIMER)
		report(vmread(VMCS_PREEMPTION_TIMER_VALUE) == 0, "saved timer value 0 on its own exit (%lu)",
		       (unsigned long)vmread(VMCS_PREEMPTION_TIMER_VALUE));

	/* Value 0: the exit comes before the first guest instruction. */
	guest_setup(gp_count);
	set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_PREEMPTION_TIMER, 0);
	vmwrite(VMCS_PREEMPTION_TIMER_VALUE, 0);
	r = enter();
	check_exit("timer value 0", r, EXIT_REASON_PREEMPTION_TIMER, 0, ANY, A(gp_count));
	report(g_c1 == 0, "timer value 0: the guest ran no instruction (counter %lu)", (unsigned long)g_c1);

	/* Another exit first: the saved value has counted down but not to
	 * 0; without the save control the field is not written. */
	if (exit1 & VM_EXIT_SAVE_PREEMPTION_TIMER) {
		guest_setup(gp_count);
		set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_PREEMPTION_TIMER, 0);
		set_ctl(VMCS_EXIT_CTLS, VM_EXIT_SAVE_PREEMPTION_TIMER, 0);
		vmwrite(VMCS_PREEMPTION_TIMER_VALUE, 100000);
		r = enter();
		v = vmread(VMCS_PREEMPTION_TIMER_VALUE);
		report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL && v > 0 && v < 100000,
		       "VMCALL exit with the timer at 100000 and saving: saved %lu (want 1 to 99999)", (unsigned long)v);
	}
	guest_setup(gp_count);
	set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_PREEMPTION_TIMER, 0);
	vmwrite(VMCS_PREEMPTION_TIMER_VALUE, 100000);
	r = enter();
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL &&
		       vmread(VMCS_PREEMPTION_TIMER_VALUE) == 100000,
	       "VMCALL exit without saving: the timer field keeps 100000 (%lu)",
	       (unsigned long)vmread(VMCS_PREEMPTION_TIMER_VALUE));

	/* The timer counts in the HLT activity state and ends it: the exit
	 * saves activity state HLT and RIP past the HLT (28.3.4). */
	guest_setup(gp_hlt);
	set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_PREEMPTION_TIMER, 0);
	set_ctl(VMCS_PROC_BASED_CTLS, 0, CPU_BASED_HLT_EXITING);
	vmwrite(VMCS_PREEMPTION_TIMER_VALUE, n);
	t0 = rdtsc();
	r = enter();
	t1 = rdtsc();
	check_exit("guest HLT without HLT exiting, ended by the timer", r, EXIT_REASON_PREEMPTION_TIMER, 0, ANY,
		   A(gp_hlt) + 1);
	report(vmread(VMCS_GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_HLT && t1 - t0 >= ticks && t1 - t0 < ticks + 20000,
	       "... activity state %lu (want 1), %lu TSC ticks (want %lu to %lu)",
	       (unsigned long)vmread(VMCS_GUEST_ACTIVITY_STATE), (unsigned long)(t1 - t0), (unsigned long)ticks,
	       (unsigned long)(ticks + 20000));
}

/* ---- 6. RDTSC, RDTSCP, TSC offsetting (SDM 25.6.5, 26.1.3, 26.3) ---- */

static void test_rdtsc(void)
{
	uint32_t proc2 = allowed1(MSR_IA32_VMX_PROCBASED_CTLS2);
	const uint64_t off = 1ull << 40;
	uint64_t t0, t1, v;
	int r;

	guest_setup(gp_rdtsc);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_RDTSC_EXITING, 0);
	r = enter();
	check_exit("RDTSC with RDTSC exiting", r, EXIT_REASON_RDTSC, 0, 2, A(gp_rdtsc));

	guest_setup(gp_rdtsc);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_TSC_OFFSETTING, 0);
	vmwrite(VMCS_TSC_OFFSET, off);
	t0 = rdtsc();
	r = enter();
	t1 = rdtsc();
	v = (gr.rdx << 32) | (uint32_t)gr.rax;
	check_vmcall("RDTSC with TSC offsetting does not exit", r, A(gp_rdtsc) + 2);
	report(v >= t0 + off && v <= t1 + off, "guest TSC 0x%lx lies in host [0x%lx, 0x%lx] + 2^40", (unsigned long)v,
	       (unsigned long)t0, (unsigned long)t1);

	/* RDMSR of IA32_TSC through a clear bitmap bit is offset as well. */
	memset(msr_bitmap, 0, sizeof(msr_bitmap));
	guest_setup(gp_rdmsr);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_TSC_OFFSETTING | CPU_BASED_USE_MSR_BITMAPS, 0);
	vmwrite(VMCS_TSC_OFFSET, off);
	vmwrite(VMCS_MSR_BITMAP, A(msr_bitmap));
	gr.rcx = 0x10;
	t0 = rdtsc();
	r = enter();
	t1 = rdtsc();
	v = (gr.rdx << 32) | (uint32_t)gr.rax;
	check_vmcall("RDMSR IA32_TSC with TSC offsetting", r, A(gp_rdmsr) + 2);
	report(v >= t0 + off && v <= t1 + off, "RDMSR IA32_TSC 0x%lx lies in host [0x%lx, 0x%lx] + 2^40",
	       (unsigned long)v, (unsigned long)t0, (unsigned long)t1);

	if (!(allowed1(MSR_IA32_VMX_TRUE_PROCBASED_CTLS) & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) ||
	    !(proc2 & SECONDARY_ENABLE_RDTSCP)) {
		report_skip("\"enable RDTSCP\" not offered");
		return;
	}
	guest_setup(gp_rdtscp);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_RDTSC_EXITING | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, 0);
	vmwrite(VMCS_PROC_BASED_CTLS2, SECONDARY_ENABLE_RDTSCP);
	r = enter();
	check_exit("RDTSCP with enable RDTSCP and RDTSC exiting", r, EXIT_REASON_RDTSCP, 0, 3, A(gp_rdtscp));
	/* Without "enable RDTSCP" it is #UD (SDM 26.3). */
	guest_setup(gp_rdtscp);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_RDTSC_EXITING, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << UD_VECTOR);
	r = enter();
	check_exc_exit("RDTSCP without enable RDTSCP", r, HW_EXC(UD_VECTOR), ANY, 0, A(gp_rdtscp));
	guest_setup(gp_rdtscp);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS | CPU_BASED_TSC_OFFSETTING, 0);
	vmwrite(VMCS_PROC_BASED_CTLS2, SECONDARY_ENABLE_RDTSCP);
	vmwrite(VMCS_TSC_OFFSET, off);
	t0 = rdtsc();
	r = enter();
	t1 = rdtsc();
	v = (gr.rdx << 32) | (uint32_t)gr.rax;
	check_vmcall("RDTSCP with enable RDTSCP, no exiting", r, A(gp_rdtscp) + 3);
	report(v >= t0 + off && v <= t1 + off, "guest RDTSCP 0x%lx lies in host [0x%lx, 0x%lx] + 2^40",
	       (unsigned long)v, (unsigned long)t0, (unsigned long)t1);

	/* IA32_TSC in the VM-exit MSR-store list is stored without the TSC
	 * offset (SDM 28.4; kvm-unit-tests' vmx_store_tsc_test). */
	{
		static struct { uint32_t index, reserved; uint64_t value; } store __attribute__((aligned(16)));

		store.index = 0x10;
		store.value = 0;
		guest_setup(gp_count);
		set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_TSC_OFFSETTING, 0);
		vmwrite(VMCS_TSC_OFFSET, off);
		vmwrite(VMCS_EXIT_MSR_STORE_ADDR, A(&store));
		vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 1);
		t0 = rdtsc();
		r = enter();
		t1 = rdtsc();
		vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
		report(r == 0 && store.value >= t0 && store.value <= t1,
		       "IA32_TSC stored at exit 0x%lx lies in host [0x%lx, 0x%lx], without the offset",
		       (unsigned long)store.value, (unsigned long)t0, (unsigned long)t1);
	}
}

/* ---- 7. INVLPG, RDPMC, HLT, MONITOR, MWAIT (SDM 26.1.3, 28.2.1) ---- */

static void test_instruction_exits(void)
{
	int has_monitor;
	uint32_t proc1 = allowed1(MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
	int r;

	guest_setup(gp_invlpg);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_INVLPG_EXITING, 0);
	gr.rax = 0x7654320;
	r = enter();
	check_exit("INVLPG 0x10(%rax) with INVLPG exiting: qualification = the linear address", r,
		   EXIT_REASON_INVLPG, 0x7654330, 4, A(gp_invlpg));

	guest_setup(gp_rdpmc);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_RDPMC_EXITING, 0);
	r = enter();
	check_exit("RDPMC with RDPMC exiting", r, EXIT_REASON_RDPMC, 0, 2, A(gp_rdpmc));

	/* INVD exits unconditionally (SDM 26.1.2), as kvm-unit-tests'
	 * "intercept INVD" checks. */
	guest_setup(gp_invd);
	r = enter();
	check_exit("INVD exits unconditionally", r, EXIT_REASON_INVD, 0, 2, A(gp_invd));

	guest_setup(gp_hlt);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_HLT_EXITING, 0);
	r = enter();
	check_exit("HLT with HLT exiting", r, EXIT_REASON_HLT, 0, 1, A(gp_hlt));
	report(vmread(VMCS_GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_ACTIVE,
	       "HLT that exits: activity state stays active (%lu)", (unsigned long)vmread(VMCS_GUEST_ACTIVITY_STATE));

	/* Without CPUID.01H:ECX.MONITOR the two are #UD, which comes
	 * before the exit (SDM 26.1.1; Vol. 2B MONITOR, MWAIT). */
	has_monitor = !!(cpuid(1, 0).ecx & (1u << 3));
	if (proc1 & CPU_BASED_MONITOR_EXITING) {
		guest_setup(gp_monitor);
		set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_MONITOR_EXITING, 0);
		vmwrite(VMCS_EXCEPTION_BITMAP, 1u << UD_VECTOR);
		gr.rax = A(guest_stack);
		r = enter();
		if (has_monitor)
			check_exit("MONITOR with MONITOR exiting", r, EXIT_REASON_MONITOR, 0, 3, A(gp_monitor));
		else
			check_exc_exit("MONITOR exiting, no MONITOR in CPUID: #UD first", r, HW_EXC(UD_VECTOR), 0, 0,
				       A(gp_monitor));
	} else {
		report_skip("MONITOR exiting not offered");
	}
	if (proc1 & CPU_BASED_MWAIT_EXITING) {
		guest_setup(gp_mwait);
		set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_MWAIT_EXITING, 0);
		vmwrite(VMCS_EXCEPTION_BITMAP, 1u << UD_VECTOR);
		r = enter();
		if (has_monitor)
			check_exit("MWAIT with MWAIT exiting, the monitor not armed: qualification 0", r,
				   EXIT_REASON_MWAIT, 0, 3, A(gp_mwait));
		else
			check_exc_exit("MWAIT exiting, no MONITOR in CPUID: #UD first", r, HW_EXC(UD_VECTOR), 0, 0,
				       A(gp_mwait));
	} else {
		report_skip("MWAIT exiting not offered");
	}
	/* A MONITOR that does not exit arms the monitor: the MWAIT exit's
	 * qualification bit 0 says so (SDM 28.2.1, Table 28-1). */
	if (has_monitor && (proc1 & CPU_BASED_MWAIT_EXITING)) {
		guest_setup(gp_monitor_mwait);
		set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_MWAIT_EXITING, CPU_BASED_MONITOR_EXITING);
		gr.rax = A(guest_stack);
		r = enter();
		check_exit("MONITOR, then MWAIT with MWAIT exiting: qualification 1 (armed)", r, EXIT_REASON_MWAIT, 1,
			   3, A(gp_monitor_mwait_2));
		guest_setup(gp_monitor_mwait);
		gr.rax = A(guest_stack);
		r = enter();
		check_vmcall("MONITOR and MWAIT without exiting: MWAIT returns", r, A(gp_monitor_mwait_2) + 3);
	}
}

/* ---- 7b. XSETBV (SDM 26.1.2, 26.1.1), and the state VMX does not switch:
 * XCR0 and the x87 registers (28.1) ---- */

#define CR4_OSXSAVE X86_CR4_OSXSAVE

static uint64_t xgetbv(void)
{
	uint32_t lo, hi;

	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

static void test_xsetbv(void)
{
	uint64_t cr4, st;
	int r;

	if (!(cpuid(1, 0).ecx & (1u << 26))) {
		report_skip("no XSAVE in CPUID: XSETBV is #UD");
		return;
	}
	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	asm volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_OSXSAVE));
	xsetbv(0, 1);

	/* XSETBV exits unconditionally, whatever the value: its checks are
	 * the VMM's.  XCR0 is unchanged. */
	guest_setup(gp_xsetbv);
	vmwrite(VMCS_GUEST_CR4, vmread(VMCS_GUEST_CR4) | CR4_OSXSAVE);
	gr.rax = 3;
	r = enter();
	check_exit("XSETBV 3 exits", r, EXIT_REASON_XSETBV, 0, 3, A(gp_xsetbv));
	report(xgetbv() == 1, "... and XCR0 is still the VMM's 1 (0x%lx)", (unsigned long)xgetbv());
	guest_setup(gp_xsetbv);
	vmwrite(VMCS_GUEST_CR4, vmread(VMCS_GUEST_CR4) | CR4_OSXSAVE);
	gr.rcx = 5;
	gr.rax = 0;
	r = enter();
	check_exit("XSETBV with ECX = 5 and EAX = 0 exits before the #GP", r, EXIT_REASON_XSETBV, 0, 3, A(gp_xsetbv));

	/* With the guest's CR4.OSXSAVE clear, the #UD comes first. */
	guest_setup(gp_xsetbv);
	vmwrite(VMCS_GUEST_CR4, vmread(VMCS_GUEST_CR4) & ~CR4_OSXSAVE);
	vmwrite(VMCS_EXCEPTION_BITMAP, 1u << UD_VECTOR);
	r = enter();
	check_exc_exit("XSETBV with CR4.OSXSAVE = 0: #UD, not an XSETBV exit", r, HW_EXC(UD_VECTOR), 0, 0,
		       A(gp_xsetbv));

	/* XCR0 is not switched: the guest reads what the VMM set. */
	guest_setup(gp_xgetbv);
	vmwrite(VMCS_GUEST_CR4, vmread(VMCS_GUEST_CR4) | CR4_OSXSAVE);
	xsetbv(0, 3);
	r = enter();
	check_vmcall("XGETBV in the guest does not exit", r, A(gp_xgetbv) + 3);
	report(gr.rax == 3, "the guest's XGETBV reads the VMM's XCR0 3 (0x%lx)", (unsigned long)gr.rax);
	xsetbv(0, 1);
	asm volatile("mov %0, %%cr4" : : "r"(cr4));

	/* Nor is the x87 state: the guest's 1 + 1 is on the VMM's stack top
	 * after the exit, and the VMM's pi on the guest's after the entry. */
	guest_setup(gp_x87);
	r = enter();
	asm volatile("fstpl %0" : "=m"(st));
	check_vmcall("x87: the guest computes 1 + 1 and VMCALLs", r, A(gp_x87_store) - 3);
	report(st == 0x4000000000000000ull, "x87 ST0 after the exit is the guest's 2.0 (0x%lx)", (unsigned long)st);
	asm volatile("fldpi\n\tfstl %0" : "=m"(st));
	vmwrite(VMCS_GUEST_RIP, A(gp_x87_store));
	r = enter();
	report(r == 0 && (uint64_t)g_c1 == st && st == 0x400921fb54442d18ull,
	       "x87 ST0 in the guest after the entry is the VMM's pi (0x%lx)", (unsigned long)g_c1);
	asm volatile("fninit");
}

/* ---- 8. interrupt-window exiting (SDM 25.6.2, 26.2, 26.7.5) ---- */

static void test_intr_window(void)
{
	int r;

	/* IF = 1 and no blocking: the exit comes before any instruction. */
	guest_setup(gp_count);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_INTR_WINDOW_EXITING, 0);
	vmwrite(VMCS_GUEST_RFLAGS, 0x202);
	r = enter();
	check_exit("interrupt window open at entry", r, EXIT_REASON_INTERRUPT_WINDOW, 0, ANY, A(gp_count));
	report(g_c1 == 0, "... before the first guest instruction (counter %lu)", (unsigned long)g_c1);

	/* IF = 0: the window opens after STI and the instruction in its
	 * shadow (blocking by STI); the exit comes right there. */
	guest_setup(gp_sti);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_INTR_WINDOW_EXITING, 0);
	r = enter();
	check_exit("STI with IF = 0: exit after the instruction following STI", r, EXIT_REASON_INTERRUPT_WINDOW, 0,
		   ANY, A(gp_sti_after));
	report(g_c1 == 1 && g_c2 == 0, "... the STI shadow ran, the next instruction did not (%lu, %lu)",
	       (unsigned long)g_c1, (unsigned long)g_c2);

	/* Blocking by STI from the guest's interruptibility state: one
	 * instruction runs first (SDM 26.7.5 with 25.4.2). */
	guest_setup(gp_count2);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_INTR_WINDOW_EXITING, 0);
	vmwrite(VMCS_GUEST_RFLAGS, 0x202);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, GUEST_INTR_STATE_STI);
	r = enter();
	check_exit("IF = 1 with blocking by STI at entry: exit after one instruction", r, EXIT_REASON_INTERRUPT_WINDOW,
		   0, ANY, A(gp_count2_second));
	report(g_c1 == 1 && g_c2 == 0, "... exactly one guest instruction ran (%lu, %lu)", (unsigned long)g_c1,
	       (unsigned long)g_c2);
}

/* ---- 10. external interrupts, NMIs and INIT from the LAPIC (SDM 25.6.1,
 * 26.2, 28.2.2) ---- */

/* The guest writes the LAPIC's ICR (the physical APIC page: no APIC
 * virtualization) and crosses a block boundary, where hvsim recognises
 * interrupts; then counts and VMCALLs.  An event that exits does so
 * before the count. */
asm(".pushsection .text\n"
    ".globl gp_icr, gp_icr_after\n"
    "gp_icr:\tmov $0xfee00310, %edx\n\tmovl $0, (%rdx)\n"
    "\tmov $0xfee00300, %edx\n\tmovl %eax, (%rdx)\n\tjmp gp_icr_after\n"
    "gp_icr_after:\tincq g_c1(%rip)\n\tvmcall\n"
    ".popsection");
extern void gp_icr(void), gp_icr_after(void);

#define LAPIC_REG(off) (*(volatile uint32_t *)(0xFEE00000ul + (off)))
#define ICR_SELF_FIXED(v) (0x40000u | (v))

static volatile unsigned host_irq_count, host_irq_vec;

static void host_irq(struct exc_regs *r)
{
	host_irq_count++;
	host_irq_vec = (unsigned)r->vector;
	LAPIC_REG(0xB0) = 0;
}

static bool lapic_bit(unsigned base, unsigned vec)
{
	return (LAPIC_REG(base + (vec / 32) * 0x10) >> (vec % 32)) & 1;
}

static int icr_run(uint32_t icr, uint32_t pin, uint32_t exit_set, uint32_t exit_clear, uint64_t rflags)
{
	guest_setup(gp_icr);
	set_ctl(VMCS_PIN_BASED_CTLS, pin, (PIN_BASED_EXT_INTR_EXITING | PIN_BASED_NMI_EXITING) & ~pin);
	set_ctl(VMCS_EXIT_CTLS, exit_set, exit_clear);
	vmwrite(VMCS_GUEST_RFLAGS, rflags);
	gr.rax = icr;
	return enter();
}

static void test_external_interrupts(void)
{
	uint64_t info;
	int r;

	LAPIC_REG(0xF0) = 0x1ff;	/* software-enable the LAPIC */
	irq_set_handler(0x50, host_irq);

	/* External-interrupt exiting with acknowledge-on-exit: the exit
	 * carries the vector, the LAPIC has moved it to the ISR. */
	r = icr_run(ICR_SELF_FIXED(0x50), PIN_BASED_EXT_INTR_EXITING, VM_EXIT_ACK_INTR_ON_EXIT, 0, 0x2);
	info = vmread(VMCS_EXIT_INTR_INFO);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_EXTERNAL_INTERRUPT && g_c1 == 0,
	       "self-IPI in the guest, IF = 0, external-interrupt exiting: exit reason %lu (want 1) before the "
	       "next count (%lu)", (unsigned long)vmread(VMCS_EXIT_REASON), (unsigned long)g_c1);
	report(info == (INTR_INFO_VALID | 0x50), "acknowledge on exit: interruption info 0x%lx (want 0x80000050)",
	       (unsigned long)info);
	report(lapic_bit(0x100, 0x50) && !lapic_bit(0x200, 0x50), "the LAPIC moved 0x50 from the IRR to the ISR");
	report(vmread(VMCS_GUEST_RIP) == A(gp_icr_after) || vmread(VMCS_GUEST_RIP) == A(gp_icr_after) - 2,
	       "guest RIP 0x%lx saved at an instruction boundary after the ICR write",
	       (unsigned long)vmread(VMCS_GUEST_RIP));
	LAPIC_REG(0xB0) = 0;

	/* Without acknowledge-on-exit the interruption info is invalid and
	 * the interrupt stays pending for the host (SDM 28.2.2). */
	host_irq_count = 0;
	r = icr_run(ICR_SELF_FIXED(0x50), PIN_BASED_EXT_INTR_EXITING, 0, VM_EXIT_ACK_INTR_ON_EXIT, 0x2);
	info = vmread(VMCS_EXIT_INTR_INFO);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_EXTERNAL_INTERRUPT && !(info & INTR_INFO_VALID),
	       "no acknowledge on exit: reason %lu, interruption info 0x%lx not valid",
	       (unsigned long)vmread(VMCS_EXIT_REASON), (unsigned long)info);
	report(lapic_bit(0x200, 0x50) && host_irq_count == 0, "0x50 still pending in the IRR after the exit");
	asm volatile("sti; nop; jmp 1f\n1: nop; cli" ::: "memory");
	report(host_irq_count == 1 && host_irq_vec == 0x50, "the host takes it through its own IDT once IF = 1");

	/* No external-interrupt exiting: the guest's IDT gets it when its
	 * IF = 1 (SDM 26.2 does not intercept it). */
	r = icr_run(ICR_SELF_FIXED(0x40), 0, 0, VM_EXIT_ACK_INTR_ON_EXIT, 0x202);
	check_guest_event("external-interrupt exiting off, guest IF = 1: delivered to the guest", 0x40, 0,
			  A(gp_icr_after));
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL && g_c1 == 0,
	       "... whose handler's VMCALL exits (reason %lu)", (unsigned long)vmread(VMCS_EXIT_REASON));
	LAPIC_REG(0xB0) = 0;	/* the guest handler did not EOI */

	/* NMI exiting: an NMI IPI to ourselves (destination APIC ID 0)
	 * exits with vector 2, type NMI (SDM 28.2.2). */
	r = icr_run(0x400, PIN_BASED_NMI_EXITING, 0, 0, 0x2);
	info = vmread(VMCS_EXIT_INTR_INFO);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_EXCEPTION_NMI &&
		       (info & 0x80000fffu) == (INTR_INFO_VALID | INTR_TYPE_NMI << 8 | 2) && g_c1 == 0,
	       "NMI in the guest with NMI exiting: reason %lu, interruption info 0x%lx (want 0x80000202)",
	       (unsigned long)vmread(VMCS_EXIT_REASON), (unsigned long)info);

	/* Entered in the HLT activity state with an interrupt already
	 * pending: with external-interrupt exiting the exit comes at once and
	 * saves activity state HLT (SDM 28.3.4); without it the guest's IDT
	 * gets the interrupt, which ends the HLT state (kvm-unit-tests'
	 * "interrupt + activity state hlt"). */
	LAPIC_REG(0x300) = ICR_SELF_FIXED(0x50);
	guest_setup(gp_count);
	set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_EXT_INTR_EXITING, 0);
	set_ctl(VMCS_EXIT_CTLS, VM_EXIT_ACK_INTR_ON_EXIT, 0);
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT);
	r = enter();
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_EXTERNAL_INTERRUPT &&
		       vmread(VMCS_EXIT_INTR_INFO) == (INTR_INFO_VALID | 0x50) &&
		       vmread(VMCS_GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_HLT && g_c1 == 0,
	       "entered in HLT with 0x50 pending: exit reason %lu, info 0x%lx, activity state %lu (want 1, "
	       "0x80000050, 1)", (unsigned long)vmread(VMCS_EXIT_REASON), (unsigned long)vmread(VMCS_EXIT_INTR_INFO),
	       (unsigned long)vmread(VMCS_GUEST_ACTIVITY_STATE));
	LAPIC_REG(0xB0) = 0;
	LAPIC_REG(0x300) = ICR_SELF_FIXED(0x40);
	guest_setup(gp_count);
	set_ctl(VMCS_PIN_BASED_CTLS, 0, PIN_BASED_EXT_INTR_EXITING | PIN_BASED_NMI_EXITING);
	vmwrite(VMCS_GUEST_RFLAGS, 0x202);
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT);
	r = enter();
	check_guest_event("entered in HLT, IF = 1, 0x40 pending, no exiting: the guest's handler gets it", 0x40, 0,
			  A(gp_count));
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL &&
		       vmread(VMCS_GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_ACTIVE,
	       "... the HLT state ended (activity %lu)", (unsigned long)vmread(VMCS_GUEST_ACTIVITY_STATE));
	LAPIC_REG(0xB0) = 0;

	/* INIT always exits in non-root operation (SDM 25.2), and the
	 * processor is not reset. */
	r = icr_run(0x4500, 0, 0, 0, 0x2);
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_INIT_SIGNAL && g_c1 == 0,
	       "INIT IPI to ourselves in the guest: exit reason %lu (want 3)", (unsigned long)vmread(VMCS_EXIT_REASON));
	report(LAPIC_REG(0xF0) == 0x1ff, "... and the LAPIC was not reset (SVR 0x%x)", LAPIC_REG(0xF0));
}

/* ---- 9. controls the capability MSRs do not allow (SDM 27.2.1.1-3,
 * Vol. 3D A.3-A.5) ---- */

/* NMI-window exiting needs virtual NMIs, which need NMI exiting
 * (SDM 26.2.1.1). */
static void nmi_window_setup(void (*entry)(void), uint32_t intr_state)
{
	guest_setup(entry);
	set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS, 0);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_NMI_WINDOW_EXITING, 0);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, intr_state);
}

static void test_nmi_window(void)
{
	int r;

	if (!(allowed1(MSR_IA32_VMX_TRUE_PROCBASED_CTLS) & CPU_BASED_NMI_WINDOW_EXITING)) {
		report_skip("NMI-window exiting not offered");
		return;
	}
	/* No virtual-NMI blocking: the exit comes before any instruction
	 * (SDM 26.7.6), ahead of an open interrupt window. */
	nmi_window_setup(gp_count, 0);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_INTR_WINDOW_EXITING, 0);
	vmwrite(VMCS_GUEST_RFLAGS, 0x202);
	r = enter();
	check_exit("NMI window open at entry", r, EXIT_REASON_NMI_WINDOW, 0, ANY, A(gp_count));
	report(g_c1 == 0, "... before the first guest instruction, ahead of the interrupt window (counter %lu)",
	       (unsigned long)g_c1);

	/* Virtual-NMI blocking from the interruptibility state lasts until
	 * the guest's IRET (SDM 26.3); the exit comes right after it. */
	nmi_window_setup(gp_iret, GUEST_INTR_STATE_NMI);
	r = enter();
	check_exit("virtual-NMI blocking at entry: exit after IRET", r, EXIT_REASON_NMI_WINDOW, 0, ANY,
		   A(gp_iret_after));
	report(g_c1 == 1 && g_c2 == 0 && !(vmread(VMCS_GUEST_INTERRUPTIBILITY) & GUEST_INTR_STATE_NMI),
	       "... the code before IRET ran, the instruction after it did not, blocking gone (%lu, %lu, 0x%lx)",
	       (unsigned long)g_c1, (unsigned long)g_c2, (unsigned long)vmread(VMCS_GUEST_INTERRUPTIBILITY));

	/* Blocking survives a VM exit in the interruptibility state. */
	guest_setup(gp_count);
	set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS, 0);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, GUEST_INTR_STATE_NMI);
	r = enter();
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL &&
		       vmread(VMCS_GUEST_INTERRUPTIBILITY) == GUEST_INTR_STATE_NMI,
	       "virtual-NMI blocking is saved on a VMCALL exit (interruptibility 0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_INTERRUPTIBILITY));

	/* An injected virtual NMI blocks the next (SDM 27.6.1.2): its
	 * handler's VMCALL exits with blocking in effect. */
	guest_setup(gp_count);
	set_ctl(VMCS_PIN_BASED_CTLS, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS, 0);
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI << 8 | 2);
	r = enter();
	report(r == 0 && gev[GEV_VECTOR] == 2 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL &&
		       (vmread(VMCS_GUEST_INTERRUPTIBILITY) & GUEST_INTR_STATE_NMI),
	       "an injected virtual NMI leaves virtual-NMI blocking set (vector %ld, interruptibility 0x%lx)",
	       (long)gev[GEV_VECTOR], (unsigned long)vmread(VMCS_GUEST_INTERRUPTIBILITY));

	/* NMI-window exiting without virtual NMIs fails entry (26.2.1.1). */
	guest_setup(gp_count);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_NMI_WINDOW_EXITING, 0);
	r = enter();
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_INVALID_CONTROL_FIELD,
	       "NMI-window exiting without virtual NMIs: error 7 (got %d)", r);
}

/* CPUID and I/O exits are fault-like: the instruction and everything
 * after it wait for the VMM, even mid-block (SDM 26.1.2, 26.1.3). */
static void test_mid_block_exits(void)
{
	int r;

	guest_setup(gp_cpuid_mid);
	r = enter();
	check_exit("CPUID in the middle of a block", r, EXIT_REASON_CPUID, 0, 2, A(gp_cpuid_mid_insn));
	report(g_c1 == 1 && g_c2 == 0 && gr.r10 == 0,
	       "... the instruction before it ran, none after it did (%lu, %lu, R10 %lu)", (unsigned long)g_c1,
	       (unsigned long)g_c2, (unsigned long)gr.r10);
	guest_setup(gp_out_mid);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_UNCOND_IO_EXITING, 0);
	r = enter();
	check_exit("OUT in the middle of a block", r, EXIT_REASON_IO_INSTRUCTION, IOQ(0x80, 1, 0, 0, 0, 1), 2,
		   A(gp_out_mid_insn));
	report(g_c1 == 1 && g_c2 == 0 && gr.r10 == 0,
	       "... the instruction before it ran, none after it did (%lu, %lu, R10 %lu)", (unsigned long)g_c1,
	       (unsigned long)g_c2, (unsigned long)gr.r10);
}

/* Cycles of a CPUID exit, resumed past it, up to the VMCALL exit. */
static uint64_t cpuid_resume_cycles(void (*guest)(void))
{
	uint64_t t0, t1;

	guest_setup(guest);
	t0 = rdtsc();
	if (enter() || vmread(VMCS_EXIT_REASON) != EXIT_REASON_CPUID || resume_past() ||
	    vmread(VMCS_EXIT_REASON) != EXIT_REASON_VMCALL)
		return 0;
	t1 = rdtsc();
	return t1 - t0;
}

/* The instructions after an exiting one are charged when they run, once
 * (DESIGN.md "Cycle accounting"): 16 IMULs after a CPUID cost 16 IMULs. */
static void test_exit_charging(void)
{
	uint16_t key;
	uint32_t size, n, mul;
	uint8_t buf[4 + 4 * COST_NCLASSES + 8];
	uint64_t with, without;

	if (!fwcfg_present() || fwcfg_find_file(HV_FWCFG_COSTS_FILE, &key, &size) < 0 || size > sizeof(buf) + 64) {
		report_skip("no cost table in fw_cfg");
		return;
	}
	fwcfg_select(key);
	fwcfg_read_bytes(buf, sizeof(buf));
	memcpy(&n, buf, 4);
	memcpy(&mul, buf + 4 + 4 * COST_MUL, 4);
	with = cpuid_resume_cycles(gp_cpuid_tail);
	without = cpuid_resume_cycles(gp_cpuid_notail);
	report(with && without && n >= COST_NCLASSES && with - without == 16ull * mul,
	       "16 IMULs after an exiting CPUID cost 16 x %u cycles once (%lu - %lu = %lu)", mul,
	       (unsigned long)with, (unsigned long)without, (unsigned long)(with - without));
}

/* A guest that loads CS from a descriptor without the accessed bit and
 * TR with LTR: the CPU sets accessed and busy (SDM Vol. 3A 3.4.5.1, Vol.
 * 2A LTR), the VMCS saves them so, and the next VM entry passes its
 * guest-state checks (SDM 27.3.1.2). */
static void test_segment_loads(void)
{
	uint64_t tss = (uint64_t)(uintptr_t)seg_tss;
	int r;

	seg_gdt[0] = 0;
	seg_gdt[1] = 0x00209a0000000000ull;	/* P, S, type 0xA, L */
	seg_gdt[2] = 0x67 | ((tss & 0xffffff) << 16) | (0x89ull << 40) | (((tss >> 24) & 0xff) << 56);
	seg_gdt[3] = tss >> 32;
	seg_gdtr.limit = sizeof(seg_gdt) - 1;
	seg_gdtr.base = (uint64_t)(uintptr_t)seg_gdt;
	guest_setup(gp_segload);
	r = enter();
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL && (vmread(VMCS_GUEST_CS_AR_BYTES) & 0xf) == 0xb &&
		       (vmread(VMCS_GUEST_TR_AR_BYTES) & 0xf) == 0xb,
	       "saved CS type 0x%lx (accessed code 0xb), TR type 0x%lx (busy TSS 0xb)",
	       (unsigned long)(vmread(VMCS_GUEST_CS_AR_BYTES) & 0xf), (unsigned long)(vmread(VMCS_GUEST_TR_AR_BYTES) & 0xf));
	r = resume_past();
	report(r == 0 && vmread(VMCS_EXIT_REASON) == EXIT_REASON_VMCALL,
	       "the next VM entry accepts that state (entry %d, reason 0x%lx)", r, (unsigned long)vmread(VMCS_EXIT_REASON));
}

static void test_pause(void)
{
	int r;

	guest_setup(gp_pause);
	set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_PAUSE_EXITING, 0);
	r = enter();
	check_exit("PAUSE with PAUSE exiting", r, EXIT_REASON_PAUSE, 0, 2, A(gp_pause));
	guest_setup(gp_pause);
	r = enter();
	check_vmcall("PAUSE without PAUSE exiting runs", r, A(gp_pause) + 2);
}

static void unsupported_ctl(const char *what, uint32_t field, uint32_t msr)
{
	uint64_t cap = rdmsr(msr);
	uint32_t must1 = (uint32_t)cap, may1 = (uint32_t)(cap >> 32), bit = 0;
	int r;

	for (int i = 0; i < 32; i++)
		if (!(may1 & (1u << i)) && !(must1 & (1u << i))) {
			bit = 1u << i;
			break;
		}
	if (!bit) {
		report_skip("%s: every bit may be 1", what);
		return;
	}
	guest_setup(gp_count);
	if (field == VMCS_PROC_BASED_CTLS2)
		set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, 0);
	set_ctl(field, bit, 0);
	r = enter();
	report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_INVALID_CONTROL_FIELD,
	       "%s bit 0x%x, allowed-1 0 in MSR 0x%x: VM entry fails with error 7 (entry %d, error %lu)", what, bit,
	       msr, r, (unsigned long)vmread(VMCS_VM_INSTRUCTION_ERROR));
}

static void test_unsupported_controls(void)
{
	uint32_t proc2 = allowed1(MSR_IA32_VMX_PROCBASED_CTLS2);
	int r;

	unsupported_ctl("pin-based", VMCS_PIN_BASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS);
	unsupported_ctl("primary processor-based", VMCS_PROC_BASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
	if (allowed1(MSR_IA32_VMX_TRUE_PROCBASED_CTLS) & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
		unsupported_ctl("secondary processor-based", VMCS_PROC_BASED_CTLS2, MSR_IA32_VMX_PROCBASED_CTLS2);
	unsupported_ctl("VM-exit", VMCS_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS);
	unsupported_ctl("VM-entry", VMCS_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS);
	/* "Unrestricted guest" by name, when not offered. */
	if (!(proc2 & SECONDARY_UNRESTRICTED_GUEST) &&
	    (allowed1(MSR_IA32_VMX_TRUE_PROCBASED_CTLS) & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)) {
		guest_setup(gp_count);
		set_ctl(VMCS_PROC_BASED_CTLS, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, 0);
		vmwrite(VMCS_PROC_BASED_CTLS2, SECONDARY_UNRESTRICTED_GUEST);
		r = enter();
		report(r == VMX_FAIL_VALID && vmread(VMCS_VM_INSTRUCTION_ERROR) == VMXERR_ENTRY_INVALID_CONTROL_FIELD,
		       "\"unrestricted guest\" not offered: VM entry fails with error 7 (entry %d, error %lu)", r,
		       (unsigned long)vmread(VMCS_VM_INSTRUCTION_ERROR));
	}
	/* With "activate secondary controls" 0 the secondary field is
	 * ignored (SDM 25.6.2): the same bit does no harm. */
	if (!(proc2 & SECONDARY_UNRESTRICTED_GUEST)) {
		guest_setup(gp_count);
		set_ctl(VMCS_PROC_BASED_CTLS, 0, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS);
		vmwrite(VMCS_PROC_BASED_CTLS2, SECONDARY_UNRESTRICTED_GUEST);
		r = enter();
		check_vmcall("the same bit with secondary controls not activated: entry succeeds", r, A(gp_count) + 7);
	}
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	if (!(cpuid(1, 0).ecx & (1u << 5))) {
		report_skip("no VMX");
		return;
	}
	if (!report(vmx_on() == 0, "VMXON succeeds"))
		return;
	gidt_build();
	user_tables_build();
	test_io();
	test_msr();
	test_exceptions();
	test_injection();
	test_preemption_timer();
	test_preemption_between_blocks();
	test_rdtsc();
	test_instruction_exits();
	test_xsetbv();
	test_intr_window();
	test_nmi_window();
	test_external_interrupts();
	test_pause();
	test_mid_block_exits();
	test_exit_charging();
	test_segment_loads();
	test_unsupported_controls();
	report(vmxoff() == 0, "VMXOFF succeeds");
	guest_exit(report_summary());
}
