/* Exceptions (vectors 0-31).
 *
 * From ring 3 a fault ends the process that caused it: the kernel prints
 * what the CPU reported (vector, error code, RIP, CS, CR2), keeps it for
 * main.c's checks and schedules the next process.  From ring 0 every
 * exception is a kernel bug: the same report, then the run ends with
 * RK_EXIT_FAIL.  #DF, NMI and #MC are never a process's doing, whatever
 * CS says. */
#include "kernel.h"

struct rk_trap_stats rk_trap_stats;

static const char *const rk_vector_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP",
	"#PF", "(15)", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "(22)", "(23)", "(24)", "(25)",
	"(26)", "(27)", "#HV", "#VC", "#SX", "(31)",
};

const char *rk_vector_name(uint64_t vector)
{
	return vector < 32 ? rk_vector_names[vector] : "(not an exception)";
}

static bool rk_fatal_anywhere(uint64_t vector)
{
	return vector == 2 || vector == 8 || vector == 18;	/* NMI, #DF, #MC */
}

void rk_trap(struct rk_frame *f)
{
	uint64_t cr2 = read_cr2();	/* first: only a #PF writes it, and nothing here may fault */
	struct rk_proc *p = rk_cpu0.current;
	struct rk_fault fault = { .vector = f->vector, .error_code = f->error_code, .rip = f->rip,
				  .cs = f->cs, .cr2 = cr2 };

	if ((f->cs & 3) == 3 && p && !rk_fatal_anywhere(f->vector)) {
		uint64_t fa = (uint64_t)(uintptr_t)f;

		rk_trap_stats.user_faults++;
		/* From ring 3 the CPU switched to TSS.RSP0 (SDM Vol. 3A
		 * 6.14.2): the frame sits at the top of this process's stack. */
		if (fa != p->kstack_top - sizeof(*f))
			rk_trap_stats.wrong_stack++;
		fault.insn_valid = !rk_copy_from_user(&p->as, fault.insn, f->rip, sizeof(fault.insn));
		rk_printf("root: pid %u (%s) killed: %s (vector %lu) error 0x%lx at RIP 0x%lx CS 0x%lx "
			  "CR2 0x%lx\n",
			  p->pid, p->name, rk_vector_name(f->vector), (unsigned long)f->vector,
			  (unsigned long)f->error_code, (unsigned long)f->rip, (unsigned long)f->cs,
			  (unsigned long)cr2);
		rk_proc_kill(&fault);
	}
	rk_printf("root: kernel-mode exception %s (vector %lu) error 0x%lx at RIP 0x%lx CS 0x%lx "
		  "CR2 0x%lx RSP 0x%lx RFLAGS 0x%lx\n",
		  rk_vector_name(f->vector), (unsigned long)f->vector, (unsigned long)f->error_code,
		  (unsigned long)f->rip, (unsigned long)f->cs, (unsigned long)cr2, (unsigned long)f->rsp,
		  (unsigned long)f->rflags);
	rk_panic("exception %s in ring 0%s", rk_vector_name(f->vector),
		 p ? " while a process was current" : "");
}
