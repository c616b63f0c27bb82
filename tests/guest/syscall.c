/* SYSCALL in 64-bit mode (SDM Vol. 2B SYSCALL): #UD without EFER.SCE;
 * otherwise RCX = the next RIP, R11 = RFLAGS, RFLAGS &= ~IA32_FMASK,
 * CS/SS from IA32_STAR[47:32] and RIP = IA32_LSTAR.  From ring 0 here, so
 * the handler can return with a plain jump. */
#include "guest.h"

#define FMASK_TEST (X86_RFLAGS_DF | (1ull << 18) /* AC */ | (1ull << 8) /* TF stays clear */)

struct sc_seen {
	uint64_t rcx, r11, rflags, rsp;
	uint16_t cs, ss;
	uint32_t count;
	uint64_t rsp_before;
};

volatile struct sc_seen sc_seen;
void sc_handler(void), sc_call(void), sc_after(void);

/* The handler records what SYSCALL left and returns to RCX.  sc_call
 * sets DF and AC (FMASK clears them) and executes SYSCALL. */
asm(".pushsection .text\n"
    "sc_handler:\n"
    "\tmov %rcx, sc_seen+0(%rip)\n"
    "\tmov %r11, sc_seen+8(%rip)\n"
    "\tpushfq\n\tpopq sc_seen+16(%rip)\n"
    "\tmov %rsp, sc_seen+24(%rip)\n"
    "\tmov %cs, %ax\n\tmov %ax, sc_seen+32(%rip)\n"
    "\tmov %ss, %ax\n\tmov %ax, sc_seen+34(%rip)\n"
    "\tincl sc_seen+36(%rip)\n"
    "\tpushq %r11\n\tpopfq\n"
    "\tjmp *%rcx\n"
    "sc_call:\n"
    "\tpushfq\n"
    "\tstd\n"
    "\tpushfq\n\torq $0x40000, (%rsp)\n\tpopfq\n"
    "\tmov %rsp, sc_seen+40(%rip)\n"
    "\tsyscall\n"
    "sc_after:\n"
    "\tpopfq\n"
    "\tret\n"
    ".popsection");

void test_main(uint32_t magic, struct multiboot_info *info)
{
	uint64_t efer = rdmsr(MSR_EFER);
	int r;

	/* Without EFER.SCE: #UD (SDM Vol. 2B SYSCALL, "64-Bit Mode Exceptions"). */
	wrmsr(MSR_EFER, efer & ~EFER_SCE);
	exc_reset();
	asm volatile("1: syscall\n2:\n\t" EX_TABLE("1b", "2b") ::: "rcx", "r11", "memory");
	report(exc_last.vector == UD_VECTOR, "SYSCALL with EFER.SCE = 0 raises #UD (vector %d)", exc_last.vector);

	wrmsr(MSR_EFER, efer | EFER_SCE);
	wrmsr(MSR_STAR, (uint64_t)GUEST_CS64 << 32);
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)sc_handler);
	wrmsr(MSR_FMASK, FMASK_TEST);
	asm volatile("call sc_call" ::: "rax", "rcx", "r11", "memory", "cc");
	r = sc_seen.count == 1;
	report(r && sc_seen.rcx == (uintptr_t)sc_after, "RCX = the instruction after SYSCALL (0x%lx, want 0x%lx)",
	       (unsigned long)sc_seen.rcx, (unsigned long)(uintptr_t)sc_after);
	report(r && (sc_seen.r11 & (X86_RFLAGS_DF | (1ull << 18))) == (X86_RFLAGS_DF | (1ull << 18)),
	       "R11 = RFLAGS before SYSCALL, DF and AC set (0x%lx)", (unsigned long)sc_seen.r11);
	report(r && !(sc_seen.rflags & FMASK_TEST) && (sc_seen.rflags & 2),
	       "RFLAGS in the handler: the IA32_FMASK bits cleared (0x%lx)", (unsigned long)sc_seen.rflags);
	report(r && sc_seen.cs == GUEST_CS64 && sc_seen.ss == GUEST_CS64 + 8,
	       "CS = STAR[47:32] = 0x%x, SS = CS + 8 = 0x%x (got 0x%x, 0x%x)", GUEST_CS64, GUEST_CS64 + 8,
	       sc_seen.cs, sc_seen.ss);
	report(r && sc_seen.rsp == sc_seen.rsp_before, "RSP unchanged by SYSCALL (0x%lx, want 0x%lx)",
	       (unsigned long)sc_seen.rsp, (unsigned long)sc_seen.rsp_before);
	report(!(read_rflags() & X86_RFLAGS_DF), "DF restored after the call");
	wrmsr(MSR_EFER, efer);
}
