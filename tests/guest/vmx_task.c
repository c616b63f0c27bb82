/* Task switches in VMX non-root operation: this kernel is the hypervisor
 * of a 32-bit protected-mode guest with paging and its own GDT, TSSs,
 * task gates and IDT, and checks that every task switch the guest
 * attempts exits (SDM Vol. 3C 26.4.2 "Treatment of Task Switches") with
 * the information 28.2 defines, before anything of the switch happens.
 *
 * Section numbers follow the SDM editions that put "Virtual Machine
 * Control Structures" in Vol. 3C chapter 25 (as include/hv/vmx.h does):
 * 26 VMX non-root operation, 27 VM entries, 28 VM exits.  Task switching
 * itself is Vol. 3A chapter 7; the instructions are in Vol. 2 (CALL, JMP,
 * IRET, INT n).
 *
 * Sources of a task switch and their exits (28.2.1, "Exit Qualification
 * for Task Switches": bits 15:0 the new TSS selector, bits 31:30 the
 * source, 0 CALL, 1 IRET, 2 JMP, 3 task gate in the IDT):
 * - far CALL/JMP to a TSS descriptor or a task gate (ptr16:32, m16:32,
 *   m16:16), with the instruction length (28.2.5);
 * - IRET with EFLAGS.NT = 1: the back link of the current TSS;
 * - an event through a task gate in the IDT: INT n, INT3, INTO, hardware
 *   exceptions with and without error code, injected events; the event is
 *   the IDT-vectoring information (28.2.4) and a software interrupt's or
 *   exception's instruction length is reported (28.2.5).
 * The checks on the gate and the new TSS descriptor come first and fault
 * (26.4.2 steps 1-4); a far branch to a code segment and an IRET with
 * NT = 0 do not exit.
 *
 * The guest runs with 32-bit paging (4-MiB pages identity-mapping the
 * address space), CR0.PE = PG = 1 as VMX operation requires, "IA-32e mode
 * guest" 0.  Guest GPRs are loaded before and saved after each entry
 * (gx_enter), as a VMM's entry path does (SDM 28.1). */
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

/* ---- the guest's descriptor tables (Vol. 3A 3.4.5, 7.2) ---- */

#define TG_CS 0x08		/* 32-bit code, DPL 0 */
#define TG_DS 0x10		/* 32-bit data */
#define TG_TSS_CUR 0x18		/* the guest's TR: busy 32-bit TSS */
#define TG_TSS_NEW 0x20		/* available 32-bit TSS: the target of the switches */
#define TG_GATE 0x28		/* task gate for TG_TSS_NEW */
#define TG_TSS16 0x30		/* available 16-bit TSS */
#define TG_TSS_BACK 0x38	/* busy 32-bit TSS: the back link of TG_TSS_CUR */
#define TG_TSS_NP 0x40		/* available 32-bit TSS, not present */
#define TG_TSS_SHORT 0x48	/* available 32-bit TSS with limit 50H (< 67H) */
#define TG_GATE_BUSY 0x50	/* task gate for TG_TSS_CUR, which is busy */
#define TG_GDT_N 11

/* IDT vectors with task gates for TG_TSS_NEW; TG_VEC_NP's is not present,
 * TG_VEC_BUSY's and TG_VEC_EXT_BUSY's name the busy TG_TSS_CUR. */
#define TG_VEC_INT 0x40
#define TG_VEC_EXT 0x41
#define TG_VEC_NP 0x42
#define TG_VEC_BUSY 0x43
#define TG_VEC_EXT_BUSY 0x44
#define TG_IDT_N 0x45

/* A 32-bit TSS (Vol. 3A 7.2.1, figure "32-Bit Task-State Segment"). */
struct tss32 {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt, iomap;
} __attribute__((aligned(128)));

static uint64_t tgdt[TG_GDT_N] __attribute__((aligned(16)));
static uint64_t tidt[TG_IDT_N] __attribute__((aligned(16)));
static struct tss32 tss_cur, tss_new, tss_back, tss_other;
static uint32_t tg_pd[1024] __attribute__((aligned(4096)));
static uint8_t tg_stack[4096] __attribute__((aligned(16)));

#define SENTINEL 0x5a5a5a5au	/* fields of the current TSS a switch would write */
#define GR_EAX 0x13572468u	/* guest EAX; the new TSS holds another */
#define NEW_EAX 0xdeadbeefu

#define A(f) ((uint64_t)(uintptr_t)(f))
#define RFLAGS_NT (1ull << 14)	/* nested task */

/* Segment descriptor: access byte (P, DPL, S, type) and flags (G, D/B). */
static uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
	return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
	       (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)flags << 52 | (uint64_t)(base >> 24) << 56;
}

/* Task gate (Vol. 3A 7.2.5): the TSS selector in bits 31:16, type 5. */
static uint64_t task_gate(uint16_t sel, int present)
{
	return (uint64_t)sel << 16 | (uint64_t)(present ? 0x85 : 0x05) << 40;
}

/* ---- guest programs (32-bit code) ---- */

asm(".pushsection .text\n"
    ".code32\n"
    /* 49H is DEC ECX in 32-bit code, REX.WB in 64-bit code (Vol. 2A
     * 2.2.1): ECX = 4 only if the guest really runs 32-bit code. */
    ".globl tg_mode\n"
    "tg_mode:\tmovl $5, %ecx\n\t.byte 0x49\n\tmovl %ecx, %ecx\n\tvmcall\n"
    /* far JMP/CALL, immediate ptr16:32 */
    ".globl tg_jmp_tss, tg_call_tss, tg_jmp_tss16, tg_jmp_rpl3, tg_jmp_np, tg_jmp_short, tg_jmp_gate_busy\n"
    "tg_jmp_tss:\tljmp $0x20, $0\n\tvmcall\n"
    "tg_call_tss:\tlcall $0x20, $0\n\tvmcall\n"
    "tg_jmp_tss16:\tljmp $0x30, $0\n\tvmcall\n"
    "tg_jmp_rpl3:\tljmp $0x23, $0\n\tvmcall\n"
    "tg_jmp_np:\tljmp $0x40, $0\n\tvmcall\n"
    "tg_jmp_short:\tljmp $0x48, $0\n\tvmcall\n"
    "tg_jmp_gate_busy:\tljmp $0x50, $0\n\tvmcall\n"
    /* far JMP/CALL, memory m16:32 and m16:16 */
    ".globl tg_jmp_mem_gate, tg_call_mem, tg_call_mem_insn, tg_call_mem16, tg_call_mem16_insn\n"
    "tg_jmp_mem_gate:\tljmp *tg_fptr_gate\n\tvmcall\n"
    "tg_call_mem:\tmovl $tg_fptr_gate, %ebx\n"
    "tg_call_mem_insn:\tlcall *(%ebx)\n\tvmcall\n"
    "tg_call_mem16:\tmovl $tg_fptr16, %ebx\n"
    "tg_call_mem16_insn:\tlcallw *(%ebx)\n\tvmcall\n"
    /* far JMP/CALL to a code segment: no task switch */
    ".globl tg_jmp_code, tg_jmp_code_to, tg_call_code, tg_call_code_to\n"
    "tg_jmp_code:\tljmp $0x08, $tg_jmp_code_to\n\tud2\n"
    "tg_jmp_code_to:\tvmcall\n"
    "tg_call_code:\tlcall $0x08, $tg_call_code_to\n\tud2\n"
    "tg_call_code_to:\tvmcall\n"
    /* IRET with NT set by POPF, and a plain IRET to the next instruction */
    ".globl tg_iret_nt, tg_iret_nt_insn, tg_iret_plain, tg_iret_plain_to\n"
    "tg_iret_nt:\tpushfl\n\torl $0x4000, (%esp)\n\tpopfl\n"
    "tg_iret_nt_insn:\tiretl\n\tvmcall\n"
    "tg_iret_plain:\tpushfl\n\tpushl $0x08\n\tpushl $tg_iret_plain_to\n\tiretl\n"
    "tg_iret_plain_to:\tvmcall\n"
    /* events through the IDT */
    ".globl tg_int, tg_int3, tg_into, tg_into_insn, tg_de, tg_gp, tg_int_np, tg_int_busy, tg_vmcall\n"
    "tg_int:\tint $0x40\n\tvmcall\n"
    "tg_int3:\tint3\n\tvmcall\n"
    "tg_into:\tmovl $0x7fffffff, %ecx\n\taddl $1, %ecx\n"
    "tg_into_insn:\tinto\n\tvmcall\n"
    "tg_de:\tdivl %ecx\n\tvmcall\n"			/* ECX = 0: #DE */
    "tg_gp:\tmovw %cx, %ds\n\tvmcall\n"			/* ECX = 1230H: beyond the GDT */
    "tg_int_np:\tint $0x42\n\tvmcall\n"
    "tg_int_busy:\tint $0x43\n\tvmcall\n"
    "tg_vmcall:\tvmcall\n"
    /* if a switch to TG_TSS_NEW ever happened, it would run this */
    ".globl tg_switched\n"
    "tg_switched:\tvmcall\n"
    ".code64\n"
    ".popsection\n"
    ".pushsection .data\n"
    ".balign 8\n"
    "tg_fptr_gate:\t.long 0\n\t.word 0x28\n"		/* m16:32: the task gate */
    ".balign 8\n"
    "tg_fptr16:\t.word 0\n\t.word 0x20\n\t.word 0, 0\n"	/* m16:16: the TSS; a null selector at +4 */
    ".popsection");

extern void tg_mode(void), tg_jmp_tss(void), tg_call_tss(void), tg_jmp_tss16(void), tg_jmp_rpl3(void);
extern void tg_jmp_np(void), tg_jmp_short(void), tg_jmp_gate_busy(void), tg_jmp_mem_gate(void);
extern void tg_call_mem(void), tg_call_mem_insn(void), tg_call_mem16(void), tg_call_mem16_insn(void);
extern void tg_jmp_code(void), tg_jmp_code_to(void), tg_call_code(void), tg_call_code_to(void);
extern void tg_iret_nt(void), tg_iret_nt_insn(void), tg_iret_plain(void), tg_iret_plain_to(void);
extern void tg_int(void), tg_int3(void), tg_into(void), tg_into_insn(void), tg_de(void), tg_gp(void);
extern void tg_int_np(void), tg_int_busy(void), tg_vmcall(void), tg_switched(void);

/* ---- running the guest ---- */

static struct gregs gr;
static int launched;

static void tables_setup(void)
{
	for (unsigned i = 0; i < 1024; i++)
		tg_pd[i] = i << 22 | 0x83;	/* 4-MiB page, present, writable (Vol. 3A 4.3) */
	memset(tgdt, 0, sizeof(tgdt));
	tgdt[TG_CS / 8] = seg_desc(0, 0xfffff, 0x9b, 0xc);
	tgdt[TG_DS / 8] = seg_desc(0, 0xfffff, 0x93, 0xc);
	tgdt[TG_TSS_CUR / 8] = seg_desc((uint32_t)A(&tss_cur), 0x67, 0x8b, 0);
	tgdt[TG_TSS_NEW / 8] = seg_desc((uint32_t)A(&tss_new), 0x67, 0x89, 0);
	tgdt[TG_GATE / 8] = task_gate(TG_TSS_NEW, 1);
	tgdt[TG_TSS16 / 8] = seg_desc((uint32_t)A(&tss_other), 0x2b, 0x81, 0);
	tgdt[TG_TSS_BACK / 8] = seg_desc((uint32_t)A(&tss_back), 0x67, 0x8b, 0);
	tgdt[TG_TSS_NP / 8] = seg_desc((uint32_t)A(&tss_other), 0x67, 0x09, 0);
	tgdt[TG_TSS_SHORT / 8] = seg_desc((uint32_t)A(&tss_other), 0x50, 0x89, 0);
	tgdt[TG_GATE_BUSY / 8] = task_gate(TG_TSS_CUR, 1);
	memset(tidt, 0, sizeof(tidt));
	tidt[DE_VECTOR] = task_gate(TG_TSS_NEW, 1);
	tidt[BP_VECTOR] = task_gate(TG_TSS_NEW, 1);
	tidt[4] = task_gate(TG_TSS_NEW, 1);	/* #OF */
	tidt[GP_VECTOR] = task_gate(TG_TSS_NEW, 1);
	tidt[TG_VEC_INT] = task_gate(TG_TSS_NEW, 1);
	tidt[TG_VEC_EXT] = task_gate(TG_TSS_NEW, 1);
	tidt[TG_VEC_NP] = task_gate(TG_TSS_NEW, 0);
	tidt[TG_VEC_BUSY] = task_gate(TG_TSS_CUR, 1);
	tidt[TG_VEC_EXT_BUSY] = task_gate(TG_TSS_CUR, 1);
	/* The current task: fields a switch away from it would store. */
	memset(&tss_cur, 0, sizeof(tss_cur));
	tss_cur.link = TG_TSS_BACK;
	tss_cur.eip = tss_cur.eax = tss_cur.esp = SENTINEL;
	/* The new task, complete enough to run tg_switched. */
	memset(&tss_new, 0, sizeof(tss_new));
	tss_new.link = SENTINEL;
	tss_new.cr3 = (uint32_t)A(tg_pd);
	tss_new.eip = (uint32_t)A(tg_switched);
	tss_new.eflags = 2;
	tss_new.eax = NEW_EAX;
	tss_new.esp = (uint32_t)A(tg_stack + sizeof(tg_stack) / 2);
	tss_new.cs = TG_CS;
	tss_new.es = tss_new.ss = tss_new.ds = tss_new.fs = tss_new.gs = TG_DS;
	tss_back = tss_new;
	memset(&tss_other, 0, sizeof(tss_other));
}

/* A fresh VMCS for a 32-bit guest starting at `entry`: every exception
 * exits through the bitmap unless a test clears its bit. */
static void guest_setup(void (*entry)(void))
{
	tables_setup();
	vmx_setup_vmcs(entry, tg_stack + sizeof(tg_stack));
	vmwrite(VMCS_ENTRY_CTLS, vmread(VMCS_ENTRY_CTLS) & ~(uint64_t)VM_ENTRY_IA32E_MODE);
	vmwrite(VMCS_GUEST_CR0, read_cr0());
	vmwrite(VMCS_GUEST_CR3, A(tg_pd));
	vmwrite(VMCS_GUEST_CR4, CR4_VMXE | (1u << 4));	/* CR4.PSE: 4-MiB pages */
	for (int n = 0; n < 6; n++) {
		int cs = n == 1;

		vmwrite(VMCS_GUEST_ES_SELECTOR + 2 * n, cs ? TG_CS : TG_DS);
		vmwrite(VMCS_GUEST_ES_BASE + 2 * n, 0);
		vmwrite(VMCS_GUEST_ES_LIMIT + 2 * n, 0xffffffff);
		vmwrite(VMCS_GUEST_ES_AR_BYTES + 2 * n, cs ? 0xc09b : 0xc093);
	}
	vmwrite(VMCS_GUEST_TR_SELECTOR, TG_TSS_CUR);
	vmwrite(VMCS_GUEST_TR_BASE, A(&tss_cur));
	vmwrite(VMCS_GUEST_TR_LIMIT, 0x67);
	vmwrite(VMCS_GUEST_TR_AR_BYTES, 0x8b);
	vmwrite(VMCS_GUEST_GDTR_BASE, A(tgdt));
	vmwrite(VMCS_GUEST_GDTR_LIMIT, sizeof(tgdt) - 1);
	vmwrite(VMCS_GUEST_IDTR_BASE, A(tidt));
	vmwrite(VMCS_GUEST_IDTR_LIMIT, sizeof(tidt) - 1);
	vmwrite(VMCS_EXCEPTION_BITMAP, ~0u);
	vmwrite(VMCS_PF_ERROR_CODE_MASK, 0);
	vmwrite(VMCS_PF_ERROR_CODE_MATCH, 0);
	/* VMCLEAR keeps the region's data: clear what earlier tests set. */
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite(VMCS_ENTRY_EXCEPTION_ERROR_CODE, 0);
	vmwrite(VMCS_ENTRY_INSTRUCTION_LEN, 0);
	vmwrite(VMCS_PROC_BASED_CTLS2, 0);
	vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	memset(&gr, 0, sizeof(gr));
	gr.rax = GR_EAX;
	launched = 0;
}

static int enter(void)
{
	int r = gx_enter(launched, &gr);

	if (r == 0 && !(vmread(VMCS_EXIT_REASON) & EXIT_REASON_FAILED_VMENTRY))
		launched = 1;
	return r;
}

/* Let exception `vec` reach the guest's IDT instead of exiting. */
static void deliver_vector(unsigned vec)
{
	vmwrite(VMCS_EXCEPTION_BITMAP, vmread(VMCS_EXCEPTION_BITMAP) & ~(1ull << vec));
}

#define ANY (~0ull)
#define QUAL(src, sel) ((uint64_t)(src) << EXIT_QUAL_TS_SOURCE_SHIFT | (sel))

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

/* The IDT-vectoring information (bits 31 and 11:0) and error code
 * (unless ANY) (SDM 28.2.4). */
static bool check_vectoring(const char *what, uint32_t info, uint64_t err)
{
	uint64_t xi = vmread(VMCS_IDT_VECTORING_INFO), xe = vmread(VMCS_IDT_VECTORING_ERROR_CODE);
	bool ok = (xi & 0x80000fffu) == info && (err == ANY || xe == err);

	return report(ok, "%s: IDT-vectoring information 0x%lx (want 0x%x), error code 0x%lx (want 0x%lx)", what,
		      (unsigned long)xi, info, (unsigned long)xe, (unsigned long)err);
}

/* A task-switch exit caused by an instruction: no event was being
 * delivered, so the IDT-vectoring information is invalid (28.2.4). */
static void check_insn_switch(const char *what, int r, uint64_t qual, uint64_t len, uint64_t rip)
{
	check_exit(what, r, EXIT_REASON_TASK_SWITCH, qual, len, rip);
	report(!(vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID), "%s: IDT-vectoring information invalid (0x%lx)",
	       what, (unsigned long)vmread(VMCS_IDT_VECTORING_INFO));
}

/* Nothing of the task switch happened: TR, the descriptors' busy bits,
 * both TSSs, the guest's EAX, ESP and CR3 as before (Vol. 3A 7.3 lists
 * what a switch changes). */
static void check_no_switch(const char *what)
{
	uint64_t tr = vmread(VMCS_GUEST_TR_SELECTOR), trb = vmread(VMCS_GUEST_TR_BASE);
	uint64_t rsp = vmread(VMCS_GUEST_RSP), cr3 = vmread(VMCS_GUEST_CR3);
	unsigned new_type = (tgdt[TG_TSS_NEW / 8] >> 40) & 0xf, cur_type = (tgdt[TG_TSS_CUR / 8] >> 40) & 0xf;

	report(tr == TG_TSS_CUR && trb == A(&tss_cur) && vmread(VMCS_GUEST_TR_AR_BYTES) == 0x8b,
	       "%s: TR unchanged (selector 0x%lx, base 0x%lx, AR 0x%lx)", what, (unsigned long)tr,
	       (unsigned long)trb, (unsigned long)vmread(VMCS_GUEST_TR_AR_BYTES));
	report(new_type == 9 && cur_type == 11 && tss_cur.eip == SENTINEL && tss_cur.eax == SENTINEL &&
		       tss_cur.link == TG_TSS_BACK && tss_new.link == SENTINEL,
	       "%s: no TSS or descriptor written (types %u/%u, old TSS EIP 0x%x EAX 0x%x link 0x%x, new TSS link 0x%x)",
	       what, cur_type, new_type, tss_cur.eip, tss_cur.eax, tss_cur.link, tss_new.link);
	report((uint32_t)gr.rax == GR_EAX && rsp == A(tg_stack + sizeof(tg_stack)) && cr3 == A(tg_pd),
	       "%s: guest EAX 0x%x, ESP 0x%lx, CR3 0x%lx as before", what, (uint32_t)gr.rax, (unsigned long)rsp,
	       (unsigned long)cr3);
}

/* An exception exit (reason 0) with its interruption information, error
 * code and the guest RIP of the instruction (SDM 28.2.2). */
static void check_fault(const char *what, int r, unsigned vec, uint32_t err, uint64_t rip)
{
	uint64_t xr = vmread(VMCS_EXIT_REASON), xi = vmread(VMCS_EXIT_INTR_INFO);
	uint64_t xe = vmread(VMCS_EXIT_INTR_ERROR_CODE), xp = vmread(VMCS_GUEST_RIP);
	uint32_t info = INTR_INFO_VALID | INTR_INFO_DELIVER_CODE | INTR_TYPE_HARD_EXCEPTION << 8 | vec;

	report(r == 0 && xr == EXIT_REASON_EXCEPTION_NMI && (xi & 0x80000fffu) == info && xe == err && xp == rip,
	       "%s: entry %d, reason %lu (want 0), interruption info 0x%lx (want 0x%x), error code 0x%lx "
	       "(want 0x%x), guest RIP 0x%lx (want 0x%lx)",
	       what, r, (unsigned long)xr, (unsigned long)xi, info, (unsigned long)xe, err, (unsigned long)xp,
	       (unsigned long)rip);
}

/* ---- 0. the 32-bit guest itself ---- */

static void test_guest_mode(void)
{
	int r;

	guest_setup(tg_mode);
	r = enter();
	if (r == 0 && (vmread(VMCS_EXIT_REASON) & EXIT_REASON_FAILED_VMENTRY))
		printf("entry failed: reason 0x%lx qualification %lu\n", (unsigned long)vmread(VMCS_EXIT_REASON),
		       (unsigned long)vmread(VMCS_EXIT_QUALIFICATION));
	check_exit("32-bit paged guest reaches VMCALL", r, EXIT_REASON_VMCALL, 0, 3, A(tg_mode) + 8);
	report((uint32_t)gr.rcx == 4, "... and decodes 49H as DEC ECX, not REX.WB (ECX %u, want 4)",
	       (uint32_t)gr.rcx);
}

/* ---- 1. far CALL and JMP (Vol. 2A CALL, JMP; SDM 26.4.2) ---- */

static void test_far_branches(void)
{
	int r;

	guest_setup(tg_jmp_tss);
	r = enter();
	check_insn_switch("JMP ptr16:32 to a 32-bit TSS", r, QUAL(EXIT_QUAL_TS_JMP, TG_TSS_NEW), 7, A(tg_jmp_tss));
	check_no_switch("JMP to a TSS");

	guest_setup(tg_call_tss);
	r = enter();
	check_insn_switch("CALL ptr16:32 to a 32-bit TSS", r, QUAL(EXIT_QUAL_TS_CALL, TG_TSS_NEW), 7, A(tg_call_tss));
	check_no_switch("CALL to a TSS");

	guest_setup(tg_jmp_tss16);
	r = enter();
	check_insn_switch("JMP ptr16:32 to a 16-bit TSS", r, QUAL(EXIT_QUAL_TS_JMP, TG_TSS16), 7, A(tg_jmp_tss16));

	/* Through a task gate the qualification names the gate's TSS. */
	guest_setup(tg_jmp_mem_gate);
	r = enter();
	check_insn_switch("JMP m16:32 (disp32) to a task gate", r, QUAL(EXIT_QUAL_TS_JMP, TG_TSS_NEW), 6,
			  A(tg_jmp_mem_gate));
	check_no_switch("JMP to a task gate");

	guest_setup(tg_call_mem);
	r = enter();
	check_insn_switch("CALL m16:32 ([EBX]) to a task gate", r, QUAL(EXIT_QUAL_TS_CALL, TG_TSS_NEW), 2,
			  A(tg_call_mem_insn));
	check_no_switch("CALL to a task gate");

	/* 66H: m16:16, the selector at offset 2 (offset 4 holds a null one). */
	guest_setup(tg_call_mem16);
	r = enter();
	check_insn_switch("CALL m16:16 (66H) to a TSS", r, QUAL(EXIT_QUAL_TS_CALL, TG_TSS_NEW), 3,
			  A(tg_call_mem16_insn));

	/* To a code segment there is no task switch. */
	guest_setup(tg_jmp_code);
	r = enter();
	check_exit("JMP ptr16:32 to a code segment does not exit", r, EXIT_REASON_VMCALL, 0, 3, A(tg_jmp_code_to));
	guest_setup(tg_call_code);
	r = enter();
	check_exit("CALL ptr16:32 to a code segment does not exit", r, EXIT_REASON_VMCALL, 0, 3, A(tg_call_code_to));
	report(vmread(VMCS_GUEST_RSP) == A(tg_stack + sizeof(tg_stack)) - 8,
	       "... and pushed CS:EIP (ESP 0x%lx, want 0x%lx)", (unsigned long)vmread(VMCS_GUEST_RSP),
	       (unsigned long)(A(tg_stack + sizeof(tg_stack)) - 8));
}

/* ---- 2. the checks before the exit (SDM 26.4.2 steps 1-4) ---- */

static void test_checks_first(void)
{
	int r;

	/* 1d: a TSS descriptor's DPL against CPL and RPL: #GP(selector). */
	guest_setup(tg_jmp_rpl3);
	r = enter();
	check_fault("JMP to a DPL-0 TSS with RPL 3: #GP(TSS selector) first", r, GP_VECTOR, TG_TSS_NEW,
		    A(tg_jmp_rpl3));
	check_no_switch("RPL 3");

	/* Step 4: the P bit (#NP) and the limit (#TS) of the new TSS. */
	guest_setup(tg_jmp_np);
	r = enter();
	check_fault("JMP to a not-present TSS: #NP(TSS selector) first", r, NP_VECTOR, TG_TSS_NP, A(tg_jmp_np));
	guest_setup(tg_jmp_short);
	r = enter();
	check_fault("JMP to a TSS with limit 50H: #TS(TSS selector) first", r, TS_VECTOR, TG_TSS_SHORT,
		    A(tg_jmp_short));

	/* Through a gate, the TSS must be available: #GP(TSS selector). */
	guest_setup(tg_jmp_gate_busy);
	r = enter();
	check_fault("JMP to a task gate for a busy TSS: #GP(TSS selector) first", r, GP_VECTOR, TG_TSS_CUR,
		    A(tg_jmp_gate_busy));
	check_no_switch("busy TSS");
}

/* ---- 3. IRET (Vol. 2A IRET, TASK-RETURN) ---- */

static void test_iret(void)
{
	int r;

	guest_setup(tg_iret_nt);
	r = enter();
	check_insn_switch("IRET with NT = 1", r, QUAL(EXIT_QUAL_TS_IRET, TG_TSS_BACK), 1, A(tg_iret_nt_insn));
	check_no_switch("IRET with NT = 1");
	report(vmread(VMCS_GUEST_RFLAGS) & RFLAGS_NT, "IRET with NT = 1: EFLAGS.NT still set (RFLAGS 0x%lx)",
	       (unsigned long)vmread(VMCS_GUEST_RFLAGS));

	/* The back link must name a busy TSS (Vol. 3A table 6-6): #TS. */
	guest_setup(tg_iret_nt);
	tss_cur.link = TG_TSS_NEW;
	r = enter();
	check_fault("IRET with NT = 1, back link to an available TSS: #TS(back link) first", r, TS_VECTOR,
		    TG_TSS_NEW, A(tg_iret_nt_insn));

	guest_setup(tg_iret_plain);
	r = enter();
	check_exit("IRET with NT = 0 does not exit", r, EXIT_REASON_VMCALL, 0, 3, A(tg_iret_plain_to));
}

/* ---- 4. task gates in the IDT (SDM 26.4.2, 28.2.4, 28.2.5) ---- */

static void test_idt_gates(void)
{
	const uint64_t qual = QUAL(EXIT_QUAL_TS_IDT_GATE, TG_TSS_NEW);
	int r;

	guest_setup(tg_int);
	r = enter();
	check_exit("INT 40H through a task gate", r, EXIT_REASON_TASK_SWITCH, qual, 2, A(tg_int));
	check_vectoring("INT 40H", INTR_INFO_VALID | INTR_TYPE_SOFT_INTR << 8 | TG_VEC_INT, ANY);
	check_no_switch("INT 40H");

	guest_setup(tg_int3);
	deliver_vector(BP_VECTOR);
	r = enter();
	check_exit("INT3 through a task gate", r, EXIT_REASON_TASK_SWITCH, qual, 1, A(tg_int3));
	check_vectoring("INT3: a software exception", INTR_INFO_VALID | INTR_TYPE_SOFT_EXCEPTION << 8 | BP_VECTOR, ANY);

	guest_setup(tg_into);
	deliver_vector(4);
	r = enter();
	check_exit("INTO (OF = 1) through a task gate", r, EXIT_REASON_TASK_SWITCH, qual, 1, A(tg_into_insn));
	check_vectoring("INTO: a software exception", INTR_INFO_VALID | INTR_TYPE_SOFT_EXCEPTION << 8 | 4, ANY);

	/* Hardware exceptions: the faulting instruction's RIP; the length
	 * is undefined (28.2.5). */
	guest_setup(tg_de);
	deliver_vector(DE_VECTOR);
	r = enter();
	check_exit("#DE through a task gate", r, EXIT_REASON_TASK_SWITCH, qual, ANY, A(tg_de));
	check_vectoring("#DE", INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION << 8 | DE_VECTOR, ANY);
	check_no_switch("#DE");

	guest_setup(tg_gp);
	deliver_vector(GP_VECTOR);
	gr.rcx = 0x1230;
	r = enter();
	check_exit("#GP through a task gate", r, EXIT_REASON_TASK_SWITCH, qual, ANY, A(tg_gp));
	check_vectoring("#GP: with its error code",
			INTR_INFO_VALID | INTR_INFO_DELIVER_CODE | INTR_TYPE_HARD_EXCEPTION << 8 | GP_VECTOR, 0x1230);

	/* Injected events: the VM-entry instruction length for a software
	 * interrupt, the guest RIP of the entry (27.6.1.2, 28.2.5). */
	guest_setup(tg_vmcall);
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_SOFT_INTR << 8 | TG_VEC_INT);
	vmwrite(VMCS_ENTRY_INSTRUCTION_LEN, 2);
	r = enter();
	check_exit("injected INT 40H through a task gate", r, EXIT_REASON_TASK_SWITCH, qual, 2, A(tg_vmcall));
	check_vectoring("injected INT 40H", INTR_INFO_VALID | INTR_TYPE_SOFT_INTR << 8 | TG_VEC_INT, ANY);
	report(!(vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID),
	       "injected INT 40H: VM-entry interruption information valid bit cleared (0x%lx)",
	       (unsigned long)vmread(VMCS_ENTRY_INTR_INFO));
	check_no_switch("injected INT 40H");

	guest_setup(tg_vmcall);
	vmwrite(VMCS_GUEST_RFLAGS, 0x202);
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_EXT_INTR << 8 | TG_VEC_EXT);
	r = enter();
	check_exit("injected external interrupt 41H through a task gate", r, EXIT_REASON_TASK_SWITCH, qual, ANY,
		   A(tg_vmcall));
	check_vectoring("injected external interrupt 41H", INTR_INFO_VALID | INTR_TYPE_EXT_INTR << 8 | TG_VEC_EXT,
			ANY);

	/* A not-present task gate faults (#NP, IDT bit set) before any task
	 * switch; the exit happens during delivery of the INT n (28.2.4). */
	guest_setup(tg_int_np);
	r = enter();
	check_fault("INT 42H, task gate not present: #NP(vector) first", r, NP_VECTOR, TG_VEC_NP * 8 + 2,
		    A(tg_int_np));
	check_vectoring("#NP during INT 42H", INTR_INFO_VALID | INTR_TYPE_SOFT_INTR << 8 | TG_VEC_NP, ANY);
	report(vmread(VMCS_EXIT_INSTRUCTION_LEN) == 2, "#NP during INT 42H: instruction length %lu (want 2)",
	       (unsigned long)vmread(VMCS_EXIT_INSTRUCTION_LEN));

	/* A gate for a busy TSS: #GP(TSS selector), with the EXT bit for an
	 * external interrupt (Vol. 2A INT n, TASK-GATE; Vol. 3A 6.13). */
	guest_setup(tg_int_busy);
	r = enter();
	check_fault("INT 43H, task gate for a busy TSS: #GP(TSS selector) first", r, GP_VECTOR, TG_TSS_CUR,
		    A(tg_int_busy));
	check_vectoring("#GP during INT 43H", INTR_INFO_VALID | INTR_TYPE_SOFT_INTR << 8 | TG_VEC_BUSY, ANY);
	check_no_switch("INT 43H");

	guest_setup(tg_vmcall);
	vmwrite(VMCS_GUEST_RFLAGS, 0x202);
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_EXT_INTR << 8 | TG_VEC_EXT_BUSY);
	r = enter();
	check_fault("injected external interrupt 44H, task gate for a busy TSS: #GP(TSS selector | EXT)", r,
		    GP_VECTOR, TG_TSS_CUR | 1, A(tg_vmcall));
	check_vectoring("#GP during injected interrupt 44H",
			INTR_INFO_VALID | INTR_TYPE_EXT_INTR << 8 | TG_VEC_EXT_BUSY, ANY);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	int r = vmx_on();

	(void)magic;
	(void)info;
	if (r)
		guest_skip("VMXON failed (%d)", r);
	test_guest_mode();
	test_far_branches();
	test_checks_first();
	test_iret();
	test_idt_gates();
	report(vmxoff() == 0, "VMXOFF succeeds");
	guest_exit(report_summary());
}
