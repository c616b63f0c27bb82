/* Processes and the scheduler.
 *
 * A process is a user address space built from an ELF image, a kernel
 * stack (slot RK_KSTACK_PROC0 + its table index) and the saved kernel RSP
 * while it is switched out.  Scheduling is cooperative and round robin on
 * one LP: the scheduler runs on the boot stack (slot RK_KSTACK_SCHED),
 * switches to the next runnable process after the one that ran last, and
 * gets the CPU back when that process yields, blocks, exits or is
 * killed; it returns when no process is runnable (the rest, if any, are
 * blocked in a system call).  A process that ended is reaped there: its
 * pages go back to the allocator.
 *
 * A new process's kernel stack is prepared to look like one that
 * rk_switch() left: six callee-saved registers (zero), the return address
 * rk_user_first_entry, and above it the struct rk_frame that IRETQ takes
 * to ring 3 at the ELF entry with RDI = role, RSI = pid, the stack at
 * RK_USER_STACK_TOP and interrupts enabled. */
#include "kernel.h"
#include "elf.h"

#define RK_SCHED_TRACE_MAX 256
#define RK_USER_RFLAGS (X86_RFLAGS_IF | RK_RFLAGS_RSVD1)

static struct rk_proc rk_procs[RK_MAX_PROCS];
static uint32_t rk_next_pid = 1;
static uint64_t rk_sched_ksp;		/* the scheduler's RSP while a process runs */
static unsigned rk_sched_last = RK_MAX_PROCS - 1;
static uint32_t rk_trace[RK_SCHED_TRACE_MAX];
static unsigned rk_ntrace;

void rk_proc_init(void)
{
	memset(rk_procs, 0, sizeof(rk_procs));
}

/* Copies segment `s` of `image` into freshly mapped pages. */
static int rk_load_segment(struct rk_as *as, const uint8_t *image, const struct rk_elf_seg *s)
{
	uint64_t prot = (s->flags & RK_ELF_PF_W ? RK_PTE_W : 0) | (s->flags & RK_ELF_PF_X ? 0 : RK_PTE_NX);
	uint64_t file_end = s->vaddr + s->filesz;

	for (uint64_t va = s->vaddr & ~(RK_PAGE - 1); va < s->vaddr + s->memsz; va += RK_PAGE) {
		uint64_t pa = rk_as_map_new(as, va, prot);
		uint64_t lo = va < s->vaddr ? s->vaddr : va;
		uint64_t hi = va + RK_PAGE < file_end ? va + RK_PAGE : file_end;

		if (!pa)
			return -RK_ENOMEM;
		if (lo < hi)
			memcpy((void *)(uintptr_t)(pa + (lo - va)), image + s->offset + (lo - s->vaddr), hi - lo);
	}
	return 0;
}

int rk_proc_create(const void *image, uint64_t len, uint32_t role, const char *name)
{
	struct rk_elf_image elf;
	struct rk_proc *p = NULL;
	struct rk_frame *f;
	uint64_t *sp;
	unsigned slot;
	int err;

	for (slot = 0; slot < RK_MAX_PROCS; slot++) {
		if (rk_procs[slot].state == RK_PROC_FREE) {
			p = &rk_procs[slot];
			break;
		}
	}
	if (!p)
		return -RK_EAGAIN;
	/* The image must stay below the stack's guard page. */
	err = rk_elf_parse(image, len, RK_USER_BASE, RK_USER_STACK_TOP - RK_USER_STACK_SIZE - RK_PAGE, &elf);
	if (err) {
		rk_printf("root: %s: %s\n", name, rk_elf_strerror(err));
		return -RK_ENOEXEC;
	}

	memset(p, 0, sizeof(*p));
	err = rk_as_create(&p->as);
	if (err)
		return err;
	for (unsigned i = 0; i < elf.nseg && !err; i++)
		err = rk_load_segment(&p->as, image, &elf.seg[i]);
	for (uint64_t va = RK_USER_STACK_TOP - RK_USER_STACK_SIZE; va < RK_USER_STACK_TOP && !err; va += RK_PAGE)
		if (!rk_as_map_new(&p->as, va, RK_PTE_W | RK_PTE_NX))
			err = -RK_ENOMEM;
	if (err) {
		rk_as_destroy(&p->as);
		return err;
	}

	p->pid = rk_next_pid++;
	p->role = role;
	p->entry = elf.entry;
	p->kstack_top = rk_kstack_top(RK_KSTACK_PROC0 + slot);
	fw_snprintf(p->name, sizeof(p->name), "%s", name);

	f = (struct rk_frame *)(uintptr_t)(p->kstack_top - sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->rdi = role;
	f->rsi = p->pid;
	f->rip = elf.entry;
	f->cs = RK_USER_CS;
	f->rflags = RK_USER_RFLAGS;
	f->rsp = RK_USER_STACK_TOP;
	f->ss = RK_USER_DS;
	sp = (uint64_t *)f;
	*--sp = (uint64_t)(uintptr_t)rk_user_first_entry;
	for (int i = 0; i < 6; i++)
		*--sp = 0;	/* rbx, rbp, r12-r15 as rk_switch pops them */
	p->ksp = (uint64_t)(uintptr_t)sp;
	p->state = RK_PROC_RUNNABLE;
	return (int)p->pid;
}

static void rk_reap(struct rk_proc *p, struct rk_outcome *o)
{
	if (o)
		*o = (struct rk_outcome){ .pid = p->pid, .role = p->role, .how = p->state,
					  .exit_status = p->exit_status, .fault = p->fault,
					  .entry = p->entry, .syscalls = p->syscalls };
	rk_as_destroy(&p->as);
	p->state = RK_PROC_FREE;
}

unsigned rk_sched_run(struct rk_outcome *out, unsigned max)
{
	unsigned n = 0;

	for (;;) {
		struct rk_proc *p = NULL;
		unsigned idx = 0;

		for (unsigned k = 1; k <= RK_MAX_PROCS && !p; k++) {
			idx = (rk_sched_last + k) % RK_MAX_PROCS;
			if (rk_procs[idx].state == RK_PROC_RUNNABLE)
				p = &rk_procs[idx];
		}
		if (!p)
			return n;
		rk_sched_last = idx;
		if (rk_ntrace < RK_SCHED_TRACE_MAX)
			rk_trace[rk_ntrace++] = p->pid;

		rk_cpu0.current = p;
		rk_cpu_set_kernel_stack(p->kstack_top);
		write_cr3(p->as.pml4);
		rk_switch(&rk_sched_ksp, p->ksp);
		/* Back on the scheduler stack: the process yielded or ended. */
		write_cr3(rk_mm_kernel_cr3());
		rk_cpu0.current = NULL;
		if (p->state == RK_PROC_EXITED || p->state == RK_PROC_KILLED) {
			rk_reap(p, n < max ? &out[n] : NULL);
			n++;
		}
	}
}

void rk_proc_yield(void)
{
	struct rk_proc *p = rk_cpu0.current;

	rk_switch(&p->ksp, rk_sched_ksp);
}

void rk_proc_block(void)
{
	struct rk_proc *p = rk_cpu0.current;

	p->state = RK_PROC_BLOCKED;
	rk_switch(&p->ksp, rk_sched_ksp);
}

void rk_proc_wake(uint32_t pid)
{
	for (unsigned i = 0; i < RK_MAX_PROCS; i++)
		if (rk_procs[i].state == RK_PROC_BLOCKED && rk_procs[i].pid == pid)
			rk_procs[i].state = RK_PROC_RUNNABLE;
}

static __attribute__((noreturn)) void rk_proc_end(struct rk_proc *p)
{
	rk_switch(&p->ksp, rk_sched_ksp);
	rk_panic("pid %u ran again after it ended", p->pid);
}

void rk_proc_exit(int64_t status)
{
	struct rk_proc *p = rk_cpu0.current;

	p->exit_status = status;
	p->state = RK_PROC_EXITED;
	rk_proc_end(p);
}

void rk_proc_kill(const struct rk_fault *f)
{
	struct rk_proc *p = rk_cpu0.current;

	p->fault = *f;
	p->state = RK_PROC_KILLED;
	rk_proc_end(p);
}

unsigned rk_sched_trace(const uint32_t **pids)
{
	*pids = rk_trace;
	return rk_ntrace;
}

void rk_sched_trace_reset(void)
{
	rk_ntrace = 0;
}
