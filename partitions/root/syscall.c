/* The system-call table (abi.h lists the calls; README.md the ABI).
 *
 * rk_syscall() runs on the caller's kernel stack with the caller's
 * registers in *f (entry.S).  It checks the call number against the table
 * bounds, and each handler checks its arguments before acting on them: a
 * user pointer is checked against the caller's own page tables
 * (rk_uaccess_check) and its bytes copied through the kernel's map, so a
 * bad pointer is -RK_EFAULT in RAX, never a fault in ring 0.  The result
 * goes back in f->rax. */
#include "kernel.h"
#include "vmms.h"

#define RK_CONSOLE_CHUNK 256	/* bytes copied from user memory at a time */

struct rk_syscall_stats rk_syscall_stats;

typedef int64_t rk_syscall_fn(struct rk_proc *p, const struct rk_frame *f);

/* write(fd, buf, len): fd 1 and 2 are the console. */
static int64_t rk_sys_write(struct rk_proc *p, const struct rk_frame *f)
{
	uint64_t fd = f->rdi, buf = f->rsi, len = f->rdx;
	char chunk[RK_CONSOLE_CHUNK];
	int err;

	if (fd != 1 && fd != 2)
		return -RK_EBADF;
	if (len > RK_WRITE_MAX)
		return -RK_EINVAL;
	err = rk_uaccess_check(&p->as, buf, len, false);
	if (err)
		return err;
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);

		/* Checked above as a whole; single LP, nothing unmapped since. */
		err = rk_copy_from_user(&p->as, chunk, buf + done, n);
		if (err)
			return err;
		if (!rk_console_quiet() || vmms_worker_has_console(p->pid))
			rk_console_write(chunk, n);
		done += n;
	}
	return (int64_t)len;
}

/* exit(status): the low 32 bits, signed. */
static int64_t rk_sys_exit(struct rk_proc *p, const struct rk_frame *f)
{
	rk_proc_exit((int32_t)f->rdi);
}

static int64_t rk_sys_yield(struct rk_proc *p, const struct rk_frame *f)
{
	rk_proc_yield();
	return 0;
}

static int64_t rk_sys_getpid(struct rk_proc *p, const struct rk_frame *f)
{
	return p->pid;
}

static int64_t rk_sys_get_time(struct rk_proc *p, const struct rk_frame *f)
{
	return (int64_t)rdtsc();
}

/* vmwp_wait(req): the next intercepted access of the caller's child
 * (vmms.c), blocking until there is one. */
static int64_t rk_sys_vmwp_wait(struct rk_proc *p, const struct rk_frame *f)
{
	struct rk_io_request r;
	int64_t k;
	int err = rk_uaccess_check(&p->as, f->rdi, sizeof(r), true);

	if (err)
		return err;
	while ((k = vmms_worker_next(p->pid, &r)) == -RK_EAGAIN)
		rk_proc_block();
	if (k >= 0)
		err = rk_copy_to_user(&p->as, f->rdi, &r, sizeof(r));
	return err ? err : k;
}

/* vmwp_complete(value): the answer to that access; the VID layer
 * completes the intercept before the call returns. */
static int64_t rk_sys_vmwp_complete(struct rk_proc *p, const struct rk_frame *f)
{
	return vmms_worker_complete(p->pid, f->rdi);
}

/* vmwp_synic(op, vp, sint, conn): the SynIC test device's hypercalls. */
static int64_t rk_sys_vmwp_synic(struct rk_proc *p, const struct rk_frame *f)
{
	return vmms_worker_synic(p->pid, f->rdi, f->rsi, f->rdx, f->r10);
}

/* vmwp_exit(value): the child wrote its debug-exit port. */
static int64_t rk_sys_vmwp_exit(struct rk_proc *p, const struct rk_frame *f)
{
	return vmms_worker_exit(p->pid, f->rdi);
}

/* vmwp_get_regs(names, n, values): registers of the VP whose access the
 * caller is emulating. */
static int64_t rk_sys_vmwp_get_regs(struct rk_proc *p, const struct rk_frame *f)
{
	uint32_t names[RK_VMWP_REGS];
	union hv_register_value v[RK_VMWP_REGS];
	uint64_t n = f->rsi;
	int64_t k;
	int err;

	if (n < 1 || n > RK_VMWP_REGS)
		return -RK_EINVAL;
	err = rk_uaccess_check(&p->as, f->rdx, n * sizeof(v[0]), true);
	if (!err)
		err = rk_copy_from_user(&p->as, names, f->rdi, n * sizeof(names[0]));
	if (err)
		return err;
	k = vmms_worker_get_regs(p->pid, names, (unsigned)n, v);
	if (k)
		return k;
	return rk_copy_to_user(&p->as, f->rdx, v, n * sizeof(v[0]));
}

/* vmwp_resume(names, values, n): the emulated instruction's registers;
 * the VID layer completes the intercept before the call returns. */
static int64_t rk_sys_vmwp_resume(struct rk_proc *p, const struct rk_frame *f)
{
	uint32_t names[RK_VMWP_SET_REGS];
	uint64_t values[RK_VMWP_SET_REGS], n = f->rdx;
	int err = 0;

	if (n > RK_VMWP_SET_REGS)
		return -RK_EINVAL;
	if (n)
		err = rk_copy_from_user(&p->as, names, f->rdi, n * sizeof(names[0]));
	if (n && !err)
		err = rk_copy_from_user(&p->as, values, f->rsi, n * sizeof(values[0]));
	return err ? err : vmms_worker_resume(p->pid, names, values, (unsigned)n);
}

/* vmwp_crash(): the child's access cannot be emulated: it stops. */
static int64_t rk_sys_vmwp_crash(struct rk_proc *p, const struct rk_frame *f)
{
	return vmms_worker_crash(p->pid);
}

static rk_syscall_fn *const rk_syscall_table[RK_SYS_COUNT] = {
	[RK_SYS_WRITE] = rk_sys_write,
	[RK_SYS_EXIT] = rk_sys_exit,
	[RK_SYS_YIELD] = rk_sys_yield,
	[RK_SYS_GETPID] = rk_sys_getpid,
	[RK_SYS_GET_TIME] = rk_sys_get_time,
	[RK_SYS_VMWP_WAIT] = rk_sys_vmwp_wait,
	[RK_SYS_VMWP_COMPLETE] = rk_sys_vmwp_complete,
	[RK_SYS_VMWP_SYNIC] = rk_sys_vmwp_synic,
	[RK_SYS_VMWP_EXIT] = rk_sys_vmwp_exit,
	[RK_SYS_VMWP_GET_REGS] = rk_sys_vmwp_get_regs,
	[RK_SYS_VMWP_RESUME] = rk_sys_vmwp_resume,
	[RK_SYS_VMWP_CRASH] = rk_sys_vmwp_crash,
};

void rk_syscall(struct rk_frame *f)
{
	struct rk_proc *p = rk_cpu0.current;
	uint64_t others = X86_RFLAGS_DF | RK_RFLAGS_TF | RK_RFLAGS_AC | RK_RFLAGS_NT;
	uint64_t fa = (uint64_t)(uintptr_t)f;
	uint64_t nr = f->rax;

	/* What the entry path promises, counted for main.c's checks: FMASK
	 * cleared the flags ring 3 had set, and the frame is on this
	 * process's kernel stack. */
	rk_syscall_stats.calls++;
	if (f->rflags & X86_RFLAGS_IF)
		rk_syscall_stats.user_if++;
	if (f->rflags & others)
		rk_syscall_stats.user_df_ac_tf_nt++;
	if (read_rflags() & (X86_RFLAGS_IF | others))
		rk_syscall_stats.live_flags_leaked++;
	if (!p || fa != p->kstack_top - sizeof(*f))
		rk_syscall_stats.wrong_stack++;
	if (!p)
		rk_panic("system call with no current process");

	p->syscalls++;
	if (nr >= RK_SYS_COUNT || !rk_syscall_table[nr]) {
		rk_syscall_stats.bad_number++;
		f->rax = (uint64_t)-RK_ENOSYS;
		return;
	}
	f->rax = (uint64_t)rk_syscall_table[nr](p, f);
}
