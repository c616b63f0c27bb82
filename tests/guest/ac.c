/* Alignment checking (SDM Vol. 3A 6.15 "Interrupt 17—Alignment Check
 * Exception (#AC)", Table 6-7; Vol. 3A 2.5 CR0.AM; Vol. 1 4.1.1).  A
 * misaligned data or stack access at CPL 3 with CR0.AM = 1 and RFLAGS.AC
 * = 1 is #AC with error code 0, a fault: the pushed RIP is the faulting
 * instruction's and nothing of it happened.  At CPL 0, or with AM or AC
 * clear, nothing is checked, and aligned accesses never fault.
 *
 * Ring 3 here: a GDT with user code and data segments, the identity map
 * made user-accessible, IRETQ into a user snippet, and SYSCALL (IA32_LSTAR
 * = user_back) to come back.  #AC has its own gate (IST 1) whose handler
 * records the frame and either resumes at ac_fixup or, with ac_fixup 0,
 * clears AC in the frame so that the access runs again. */
#include "guest.h"

#define AC_VECTOR 17
#define CR0_AM (1ull << 18)
#define RFLAGS_AC (1ull << 18)
#define USER_CS 0x33		/* ac_gdt[6], RPL 3 */
#define USER_DS 0x3b		/* ac_gdt[7], RPL 3 */
#define SENT 0x5e5e5e5e5e5e5e5eull	/* what a register held before a faulting load */
#define FILL 0xa5		/* what memory held before a faulting store */

volatile uint64_t ac_count, ac_err, ac_rip, ac_cs, ac_rflags, ac_rsp, ac_ss;
volatile uint64_t ac_fixup;	/* where the handler resumes; 0: clear AC and retry */
uint64_t kern_rsp;
/* What the user snippets leave (aligned: stores at CPL 3 with AC set). */
volatile uint64_t u_out, u_out2 __attribute__((aligned(8)));
static uint8_t buf[64] __attribute__((aligned(64)));
static uint8_t user_stack[4096] __attribute__((aligned(16)));
static uint8_t ring0_stack[8192] __attribute__((aligned(16)));
static uint64_t ac_gdt[8] __attribute__((aligned(16)));

/* #AC handler (error code pushed).  Frame: error code, RIP, CS, RFLAGS,
 * RSP, SS (SDM Vol. 3A 6.14.2). */
asm(".pushsection .text\n"
    ".balign 16\n"
    "ac_stub:\n\t"
    "pushq %rax\n\t"
    "incq ac_count(%rip)\n\t"
    "movq 8(%rsp), %rax\n\tmovq %rax, ac_err(%rip)\n\t"
    "movq 16(%rsp), %rax\n\tmovq %rax, ac_rip(%rip)\n\t"
    "movq 24(%rsp), %rax\n\tmovq %rax, ac_cs(%rip)\n\t"
    "movq 32(%rsp), %rax\n\tmovq %rax, ac_rflags(%rip)\n\t"
    "movq 40(%rsp), %rax\n\tmovq %rax, ac_rsp(%rip)\n\t"
    "movq 48(%rsp), %rax\n\tmovq %rax, ac_ss(%rip)\n\t"
    "movq ac_fixup(%rip), %rax\n\t"
    "testq %rax, %rax\n\t"
    "jz 1f\n\t"
    "movq %rax, 16(%rsp)\n\t"
    "jmp 2f\n"
    "1:\tandq $~0x40000, 32(%rsp)\n"
    "2:\tpopq %rax\n\t"
    "addq $8, %rsp\n\t"
    "iretq\n"
    /* user_run(fn, rflags, rsp, arg): IRETQ to fn at CPL 3 with R12 = arg;
     * the snippet ends with SYSCALL, which lands in user_back. */
    ".globl user_run, user_back\n"
    "user_run:\n\t"
    "pushq %rbx\n\tpushq %rbp\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n\t"
    "movq %rsp, kern_rsp(%rip)\n\t"
    "movq %rcx, %r12\n\t"
    "pushq $0x3b\n\t"
    "pushq %rdx\n\t"
    "pushq %rsi\n\t"
    "pushq $0x33\n\t"
    "pushq %rdi\n\t"
    "iretq\n"
    "user_back:\n\t"
    "movq kern_rsp(%rip), %rsp\n\t"
    "movl $0x10, %eax\n\tmovl %eax, %ds\n\tmovl %eax, %es\n\t"
    "popq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbp\n\tpopq %rbx\n\t"
    "ret\n"
    ".popsection");

/* User snippets: <name> is the entry, <name>_f the instruction that may
 * fault, <name>_r the instruction after it.  R12 holds the address under
 * test. */
#define SNIPPET(name, before, insn, after)                                   \
	".globl " name ", " name "_f, " name "_r\n" name ":\n\t" before "\n" \
	name "_f:\t" insn "\n" name "_r:\t" after "\n\tsyscall\n"
asm(".pushsection .text\n"
    /* loads: RAX keeps SENT if the load faulted; RBX counts the two
     * instructions before it in the same block */
    SNIPPET("u_ldw", "xorl %ebx, %ebx\n\tincq %rbx\n\tincq %rbx\n\tmovabsq $0x5e5e5e5e5e5e5e5e, %rax",
	    "movw (%r12), %ax", "movq %rax, u_out(%rip)\n\tmovq %rbx, u_out2(%rip)")
    SNIPPET("u_ldd", "movabsq $0x5e5e5e5e5e5e5e5e, %rax", "movl (%r12), %eax", "movq %rax, u_out(%rip)")
    SNIPPET("u_ldq", "movabsq $0x5e5e5e5e5e5e5e5e, %rax", "movq (%r12), %rax", "movq %rax, u_out(%rip)")
    /* stores of 0x1122334455667788's low bytes */
    SNIPPET("u_stw", "movabsq $0x1122334455667788, %rax", "movw %ax, (%r12)", "")
    SNIPPET("u_std", "movabsq $0x1122334455667788, %rax", "movl %eax, (%r12)", "")
    SNIPPET("u_stq", "movabsq $0x1122334455667788, %rax", "movq %rax, (%r12)",
	    "pushfq\n\tpopq %rax\n\tmovq %rax, u_out(%rip)")
    SNIPPET("u_rmw", "", "addq $1, (%r12)", "")
    /* a string store: RDI stays at R12 if MOVSD faulted */
    SNIPPET("u_movs", "movq %r12, %rdi\n\tleaq u_out2(%rip), %rsi", "movsl", "movq %rdi, u_out(%rip)")
    /* the stack: RSP (set up misaligned by the caller) in u_out */
    SNIPPET("u_push", "movq $0x77, %rax", "pushq %rax", "movq %rsp, u_out(%rip)")
    SNIPPET("u_pop", "movabsq $0x5e5e5e5e5e5e5e5e, %rax", "popq %rax",
	    "movq %rax, u_out(%rip)\n\tmovq %rsp, u_out2(%rip)")
    SNIPPET("u_call", "", "call 1f", "movq %rsp, u_out(%rip)\n\tjmp 2f\n1:\tret\n2:")
    /* POPF setting AC, then a misaligned load in the same run */
    SNIPPET("u_popf_on", "pushfq\n\torq $0x40000, (%rsp)\n\tpopfq\n\tmovabsq $0x5e5e5e5e5e5e5e5e, %rax",
	    "movq (%r12), %rax", "movq %rax, u_out(%rip)")
    /* POPF clearing AC: the misaligned load after it is not checked */
    SNIPPET("u_popf_off", "pushfq\n\tandq $~0x40000, (%rsp)\n\tpopfq", "movq (%r12), %rax",
	    "movq %rax, u_out(%rip)")
    /* aligned accesses of every size, bytes anywhere, the stack */
    SNIPPET("u_aligned", "",
	    "movw 2(%r12), %ax\n\tmovl 4(%r12), %eax\n\tmovq 8(%r12), %rax\n\tmovb 1(%r12), %al\n\t"
	    "movb %al, 3(%r12)\n\tmovw %ax, 6(%r12)\n\tmovl %eax, 12(%r12)\n\tmovq %rax, 16(%r12)\n\t"
	    "pushq %rax\n\tpopq %rax\n\tpushfq\n\tpopfq\n\tcall 1f\n\tjmp 2f\n1:\tret\n2:\t"
	    "addl $1, 4(%r12)\n\tmovq %r12, %rdi\n\tmovq %r12, %rsi\n\tmovsq",
	    "movq $1, u_out(%rip)")
    ".popsection");

extern void user_run(void (*fn)(void), uint64_t rflags, uint64_t rsp, uint64_t arg);
extern char user_back[], ac_stub[];
#define U(name) extern char name[], name##_f[], name##_r[]
U(u_ldw);
U(u_ldd);
U(u_ldq);
U(u_stw);
U(u_std);
U(u_stq);
U(u_rmw);
U(u_movs);
U(u_push);
U(u_pop);
U(u_call);
U(u_popf_on);
U(u_popf_off);
U(u_aligned);

#define A(p) ((uint64_t)(uintptr_t)(p))
#define USER_TOP (A(user_stack) + sizeof(user_stack))

static void setup_ring3(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = { sizeof(ac_gdt) - 1, A(ac_gdt) }, idtr;
	uint64_t tss, gate[2], stub = A(ac_stub);

	/* The test kernels' GDT, plus 64-bit user code and data (DPL 3). */
	for (int i = 0; i < GUEST_GDT_ENTRIES; i++)
		ac_gdt[i] = guest_gdt[i];
	ac_gdt[6] = 0x00affa000000ffffull;
	ac_gdt[7] = 0x00cff2000000ffffull;
	asm volatile("lgdt %0" : : "m"(gdtr) : "memory");
	/* RSP0 of the TSS, for faults that come from ring 3 (SDM 8.7). */
	tss = ((ac_gdt[4] >> 16) & 0xffffff) | (((ac_gdt[4] >> 56) & 0xff) << 24) | (ac_gdt[5] << 32);
	*(volatile uint64_t *)(uintptr_t)(tss + 4) = A(ring0_stack) + sizeof(ring0_stack);
	/* #AC: an interrupt gate to ac_stub on IST 1. */
	asm volatile("sidt %0" : "=m"(idtr));
	gate[0] = (stub & 0xffff) | ((uint64_t)GUEST_CS64 << 16) | (1ull << 32) | (0x8eull << 40) |
		  (((stub >> 16) & 0xffff) << 48);
	gate[1] = stub >> 32;
	((volatile uint64_t *)(uintptr_t)idtr.base)[AC_VECTOR * 2] = gate[0];
	((volatile uint64_t *)(uintptr_t)idtr.base)[AC_VECTOR * 2 + 1] = gate[1];
	/* User access to the first GiB of the identity map. */
	guest_pml4[0] |= PTE_U;
	guest_pdpt[0] |= PTE_U;
	for (int i = 0; i < 512; i++)
		guest_pd[0][i] |= PTE_U;
	write_cr3(read_cr3());
	/* SYSCALL back to ring 0: CS 0x08, SS 0x10, RIP user_back; AC, IF
	 * and TF cleared. */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);
	wrmsr(MSR_STAR, (uint64_t)GUEST_CS64 << 32);
	wrmsr(MSR_LSTAR, A(user_back));
	wrmsr(MSR_FMASK, RFLAGS_AC | X86_RFLAGS_IF | (1ull << 8));
}

static void set_am(int on)
{
	write_cr0(on ? read_cr0() | CR0_AM : read_cr0() & ~CR0_AM);
}

static void fill(void)
{
	memset(buf, FILL, sizeof(buf));
	memset(user_stack, FILL, sizeof(user_stack));
}

static bool filled(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != FILL)
			return false;
	return true;
}

/* Runs a snippet at CPL 3, #AC resuming at its _r label. */
static void run(void (*fn)(void), const char *resume, uint64_t rflags, uint64_t rsp, uint64_t arg)
{
	ac_count = 0;
	ac_rip = 0;
	ac_fixup = A(resume);
	u_out = u_out2 = 0;
	user_run(fn, 0x2 | rflags, rsp, arg);
}

/* Exactly one #AC(0) from CPL 3 at `rip`, pushed RSP `rsp`. */
static bool check_ac(const char *what, const char *rip, uint64_t rsp)
{
	bool ok = ac_count == 1 && ac_err == 0 && ac_rip == A(rip) && ac_cs == USER_CS && ac_ss == USER_DS &&
		  ac_rsp == rsp && (ac_rflags & RFLAGS_AC);

	return report(ok, "%s: #AC count %lu, error code 0x%lx, RIP 0x%lx (want 0x%lx), CS 0x%lx SS 0x%lx, "
		      "RSP 0x%lx (want 0x%lx), RFLAGS 0x%lx",
		      what, (unsigned long)ac_count, (unsigned long)ac_err, (unsigned long)ac_rip,
		      (unsigned long)A(rip), (unsigned long)ac_cs, (unsigned long)ac_ss, (unsigned long)ac_rsp,
		      (unsigned long)rsp, (unsigned long)ac_rflags);
}

static bool check_no_ac(const char *what)
{
	return report(ac_count == 0, "%s: no #AC (count %lu, last at 0x%lx)", what, (unsigned long)ac_count,
		      (unsigned long)ac_rip);
}

/* CPL 0 with CR0.AM and RFLAGS.AC: nothing is checked. */
static void test_cpl0(void)
{
	uint64_t v = 0x1122334455667788ull, w = 0, d = 0, q = 0, rsp;

	set_am(1);
	fill();
	ac_count = 0;
	ac_fixup = 0;	/* an #AC (wrong here) clears AC and retries */
	asm volatile("pushfq\n\torq $0x40000, (%%rsp)\n\tpopfq\n\t"
		     "movw %[v16], 1(%[b])\n\tmovl %[v32], 6(%[b])\n\tmovq %[v], 12(%[b])\n\t"
		     "movzwl 1(%[b]), %k[w]\n\tmovl 6(%[b]), %k[d]\n\tmovq 12(%[b]), %[q]\n\t"
		     "movq %%rsp, %[rsp]\n\tsubq $4, %%rsp\n\tpushq %[v]\n\tpopq %[v]\n\tmovq %[rsp], %%rsp\n\t"
		     "pushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq"
		     : [w] "=&r"(w), [d] "=&r"(d), [q] "=&r"(q), [rsp] "=&r"(rsp), [v] "+r"(v)
		     : [v16] "r"((uint16_t)v), [v32] "r"((uint32_t)v), [b] "r"(buf)
		     : "memory", "cc");
	check_no_ac("CPL 0, CR0.AM = 1, RFLAGS.AC = 1: misaligned word, dword, qword and stack accesses");
	report(w == 0x7788 && d == 0x55667788 && q == 0x1122334455667788ull,
	       "... and they all happened (0x%lx 0x%lx 0x%lx)", (unsigned long)w, (unsigned long)d,
	       (unsigned long)q);
}

/* CPL 3 with one of CR0.AM and RFLAGS.AC clear: nothing is checked. */
static void test_cpl3_disabled(void)
{
	uint64_t q;

	set_am(0);
	fill();
	run((void (*)(void))u_stq, u_stq_r, RFLAGS_AC, USER_TOP, A(buf + 4));
	memcpy(&q, buf + 4, 8);
	check_no_ac("CPL 3, CR0.AM = 0, RFLAGS.AC = 1: misaligned qword store");
	report(q == 0x1122334455667788ull, "... stored (0x%lx)", (unsigned long)q);

	set_am(1);
	fill();
	run((void (*)(void))u_stq, u_stq_r, 0, USER_TOP, A(buf + 4));
	memcpy(&q, buf + 4, 8);
	check_no_ac("CPL 3, CR0.AM = 1, RFLAGS.AC = 0: misaligned qword store");
	report(q == 0x1122334455667788ull, "... stored (0x%lx)", (unsigned long)q);

	fill();
	run((void (*)(void))u_popf_off, u_popf_off_r, RFLAGS_AC, USER_TOP, A(buf + 1));
	check_no_ac("CPL 3: POPF clears RFLAGS.AC, then a misaligned qword load");
	report(u_out == 0xa5a5a5a5a5a5a5a5ull, "... loaded (0x%lx)", (unsigned long)u_out);
}

/* CPL 3 with CR0.AM = RFLAGS.AC = 1: loads and stores. */
static void test_cpl3_data(void)
{
	set_am(1);
	fill();
	run((void (*)(void))u_ldw, u_ldw_r, RFLAGS_AC, USER_TOP, A(buf + 1));
	check_ac("word load at an odd address", u_ldw_f, USER_TOP);
	report(u_out == SENT, "... RAX unchanged (0x%lx)", (unsigned long)u_out);
	report(u_out2 == 2, "... the instructions before it in its block ran once (RBX %lu)",
	       (unsigned long)u_out2);

	run((void (*)(void))u_ldd, u_ldd_r, RFLAGS_AC, USER_TOP, A(buf + 2));
	check_ac("dword load at 2 mod 4", u_ldd_f, USER_TOP);
	report(u_out == SENT, "... RAX unchanged (0x%lx)", (unsigned long)u_out);

	run((void (*)(void))u_ldq, u_ldq_r, RFLAGS_AC, USER_TOP, A(buf + 4));
	check_ac("qword load at 4 mod 8", u_ldq_f, USER_TOP);
	report(u_out == SENT, "... RAX unchanged (0x%lx)", (unsigned long)u_out);

	run((void (*)(void))u_stw, u_stw_r, RFLAGS_AC, USER_TOP, A(buf + 3));
	check_ac("word store at an odd address", u_stw_f, USER_TOP);
	run((void (*)(void))u_std, u_std_r, RFLAGS_AC, USER_TOP, A(buf + 6));
	check_ac("dword store at 2 mod 4", u_std_f, USER_TOP);
	run((void (*)(void))u_stq, u_stq_r, RFLAGS_AC, USER_TOP, A(buf + 12));
	check_ac("qword store at 4 mod 8", u_stq_f, USER_TOP);
	run((void (*)(void))u_rmw, u_rmw_r, RFLAGS_AC, USER_TOP, A(buf + 20));
	check_ac("qword add to memory at 4 mod 8", u_rmw_f, USER_TOP);
	run((void (*)(void))u_movs, u_movs_r, RFLAGS_AC, USER_TOP, A(buf + 30));
	check_ac("MOVSD to 2 mod 4", u_movs_f, USER_TOP);
	report(u_out == A(buf + 30), "... RDI unchanged (0x%lx)", (unsigned long)u_out);
	report(filled(buf, sizeof(buf)), "none of the faulting stores wrote memory");

	fill();
	run((void (*)(void))u_popf_on, u_popf_on_r, 0, USER_TOP, A(buf + 4));
	check_ac("POPF sets RFLAGS.AC at CPL 3, then a qword load at 4 mod 8", u_popf_on_f, USER_TOP);
	report(u_out == SENT, "... RAX unchanged (0x%lx)", (unsigned long)u_out);
}

/* CPL 3 with CR0.AM = RFLAGS.AC = 1: the stack. */
static void test_cpl3_stack(void)
{
	uint64_t rsp = USER_TOP - 4;

	set_am(1);
	fill();
	run((void (*)(void))u_push, u_push_r, RFLAGS_AC, rsp, 0);
	check_ac("PUSH with RSP at 4 mod 8", u_push_f, rsp);
	report(u_out == rsp, "... RSP unchanged (0x%lx)", (unsigned long)u_out);
	report(filled(user_stack, sizeof(user_stack)), "... nothing pushed");

	run((void (*)(void))u_pop, u_pop_r, RFLAGS_AC, rsp - 8, 0);
	check_ac("POP with RSP at 4 mod 8", u_pop_f, rsp - 8);
	report(u_out == SENT && u_out2 == rsp - 8, "... RAX and RSP unchanged (0x%lx, 0x%lx)", (unsigned long)u_out,
	       (unsigned long)u_out2);

	run((void (*)(void))u_call, u_call_r, RFLAGS_AC, rsp, 0);
	check_ac("CALL with RSP at 4 mod 8", u_call_f, rsp);
	report(u_out == rsp && filled(user_stack, sizeof(user_stack)), "... RSP unchanged (0x%lx), nothing pushed",
	       (unsigned long)u_out);
}

/* Aligned accesses never fault; after the handler clears AC the access
 * that faulted runs. */
static void test_cpl3_aligned_and_retry(void)
{
	uint64_t q;

	set_am(1);
	fill();
	run((void (*)(void))u_aligned, u_aligned_r, RFLAGS_AC, USER_TOP, A(buf + 32));
	check_no_ac("aligned word, dword, qword loads and stores, bytes at odd addresses, PUSH, POP, PUSHF, POPF, "
		    "CALL, RET, ADD to memory and MOVSQ");
	report(u_out == 1, "... the snippet ran to its end");

	fill();
	run((void (*)(void))u_stq, 0, RFLAGS_AC, USER_TOP, A(buf + 4));
	memcpy(&q, buf + 4, 8);
	check_ac("qword store at 4 mod 8, the handler clearing RFLAGS.AC", u_stq_f, USER_TOP);
	report(q == 0x1122334455667788ull, "... then the store ran (0x%lx)", (unsigned long)q);
	report(!(u_out & RFLAGS_AC), "... with RFLAGS.AC clear after it (0x%lx)", (unsigned long)u_out);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	uint64_t cr0 = read_cr0();

	setup_ring3();
	test_cpl0();
	test_cpl3_disabled();
	test_cpl3_data();
	test_cpl3_stack();
	test_cpl3_aligned_and_retry();
	write_cr0(cr0);
}
