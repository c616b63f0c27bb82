/* The root kernel's user/kernel ABI, shared by the kernel (partitions/root/)
 * and the programs it runs in ring 3 (partitions/root/user/).
 * partitions/root/README.md explains the layout and the costs.
 *
 * System calls follow the Linux x86-64 convention: SYSCALL with the call
 * number in RAX and arguments in RDI, RSI, RDX, R10, R8, R9; the result
 * comes back in RAX, a negative value being -errno.  SYSCALL itself
 * overwrites RCX (return RIP) and R11 (RFLAGS) (SDM Vol. 2B, SYSCALL); every
 * other register is preserved. */
#ifndef RK_ABI_H
#define RK_ABI_H

#ifdef __ASSEMBLER__
#define RK_U64(x) x
#else
#define RK_U64(x) x##ull
#endif

/* ---- address spaces ----
 * PML4 entry 0 ([0, 512 GiB)) is the kernel's: an identity map of RAM and
 * the MMIO hole, supervisor-only, shared by every process.  PML4 entry 1
 * ([512 GiB, 1 TiB)) is the process's own user half. */
#define RK_KERNEL_BASE RK_U64(0x2000000)		/* 32 MiB: root.elf's link address */
#define RK_USER_BASE RK_U64(0x0000008000000000)	/* user programs link here */
#define RK_USER_TOP RK_U64(0x0000010000000000)	/* end of the user half (exclusive) */
#define RK_USER_STACK_TOP (RK_USER_BASE + RK_U64(0x40000000))	/* initial RSP */
#define RK_USER_STACK_SIZE 0x4000			/* below it; unmapped below that */

/* Selectors (the kernel's GDT, README.md).  SYSRET loads these with RPL 3. */
#define RK_KERNEL_CS 0x08
#define RK_KERNEL_DS 0x10
#define RK_USER_DS 0x23
#define RK_USER_CS 0x2b

/* ---- system calls ---- */
#define RK_SYS_WRITE 0		/* write(fd, buf, len) -> bytes written */
#define RK_SYS_EXIT 1		/* exit(status): does not return */
#define RK_SYS_YIELD 2		/* yield() -> 0, after every other runnable process ran */
#define RK_SYS_GETPID 3		/* getpid() -> pid */
#define RK_SYS_GET_TIME 4	/* get_time() -> the kernel's RDTSC at the call */
/* The worker (VMWP) interface, for a process the VMMS started for a child:
 * vmwp_wait(struct rk_io_request *req) blocks until the VID layer has an
 * intercepted I/O access of that child for it -> 0 and *req filled, or
 * RK_VMWP_STOPPED when the child has stopped and no request will come
 * (then only req->child, memory, vps and flags are filled in).
 * vmwp_complete(value) answers the request it returned last: for a read,
 * `value` holds the bytes the instruction reads; the VID layer completes
 * the intercept (HvCallSetVpRegisters) and the child runs on -> 0.
 * Either call from a process that is not a worker: -RK_EINVAL; complete
 * with no request outstanding: -RK_EINVAL; the hypercall failed: -RK_EIO. */
#define RK_SYS_VMWP_WAIT 5
#define RK_SYS_VMWP_COMPLETE 6
/* vmwp_synic(op, vp, sint, conn): the SynIC test device (docs/hypervisor.md
 * "SynIC test device") of a worker whose child's configuration asks for
 * it: the VMMS makes the hypercalls op (RK_SYNIC_*) stands for, on the
 * child's behalf -> the HV_STATUS of the first that failed, or 0.  From a
 * process that is no worker, for a child without the device, or an
 * unknown op: -RK_EINVAL. */
#define RK_SYS_VMWP_SYNIC 7
/* vmwp_exit(value): the caller's child wrote `value` to its debug-exit
 * port (the request it returned last): the VID layer completes that
 * access as vmwp_complete does, and the VMMS stops the child, whose exit
 * value it is -> 0; errors as vmwp_complete. */
#define RK_SYS_VMWP_EXIT 8
/* The calls a worker emulates an instruction with (an RK_REQ_MMIO
 * request: the child touched a GPA it has no memory at), all on the VP of
 * the request it returned last, as Hyper-V's VID driver offers its
 * worker process:
 * vmwp_get_regs(const uint32_t *names, n, void *values): HvCallGetVpRegisters
 * of n (1 to RK_VMWP_REGS) register names (tlfs.h HV_X64_REGISTER_*)
 * -> 0 and n 16-byte values (tlfs.h union hv_register_value) written.
 * vmwp_resume(const uint32_t *names, const uint64_t *values, n): completes
 * that request: one HvCallSetVpRegisters of n (0 to RK_VMWP_SET_REGS)
 * general registers or RIP, then HvRegisterInterceptSuspend = 0 -> 0.
 * vmwp_crash(): the worker has no way to emulate the access (no device
 * there, an instruction it does not decode): the request is dropped and
 * the VMMS stops the child, whose guest has crashed -> 0.
 * Errors: -RK_EINVAL from a process that is no worker, with no request
 * outstanding, for an n or a name out of range; -RK_EFAULT for a pointer
 * that is not user memory (writable, for values); -RK_EIO if the
 * hypervisor refused. */
#define RK_SYS_VMWP_GET_REGS 9
#define RK_SYS_VMWP_RESUME 10
#define RK_SYS_VMWP_CRASH 11
#define RK_SYS_COUNT 12

#define RK_VMWP_REGS 4		/* vmwp_get_regs: names per call */
#define RK_VMWP_SET_REGS 3	/* vmwp_resume: registers per call */

/* vmwp_synic ops: the device's ctl values. */
#define RK_SYNIC_ROUTE_CREATE 1
#define RK_SYNIC_ROUTE_DESTROY 2
#define RK_SYNIC_ROUTE_RAISE 3
#define RK_SYNIC_MSG_CONN_CREATE 4
#define RK_SYNIC_MSG_CONN_DESTROY 5
#define RK_SYNIC_EVT_CONN_CREATE 6
#define RK_SYNIC_EVT_CONN_DESTROY 7

#define RK_VMWP_STOPPED 1	/* vmwp_wait(): the child is gone */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* One intercepted access, as the worker sees it: a port (RK_REQ_IO) or
 * a GPA with no memory behind it (RK_REQ_MMIO, from the hypervisor's
 * HvMessageTypeUnmappedGpa message: the worker decodes the instruction
 * and emulates it with vmwp_get_regs and vmwp_resume). */
#define RK_REQ_IO 0
#define RK_REQ_MMIO 1

struct rk_io_request {
	uint64_t partition;	/* the child's partition id */
	uint32_t vp;		/* its VP index */
	uint16_t port;		/* RK_REQ_IO */
	uint8_t size;		/* RK_REQ_IO: bytes, 1, 2 or 4 */
	uint8_t write;		/* 1: OUT (value = the bytes written), or a write to the GPA; 0: IN, a read */
	uint64_t value;
	char child[16];		/* the child's name, NUL-terminated */
	/* The child, for the devices that describe it. */
	uint64_t memory;	/* bytes from GPA 0 */
	uint32_t vps;
	uint32_t flags;		/* HV_BOOT_PART_*; RK_CHILD_MULTIBOOT */
	uint64_t ref_time;	/* the root's reference time when the request was handed over, 100 ns */
	/* RK_REQ_MMIO: the message's fields (tlfs.h struct
	 * hv_x64_memory_intercept_message). */
	uint32_t kind;		/* RK_REQ_IO or RK_REQ_MMIO */
	uint8_t access;		/* HV_INTERCEPT_ACCESS_READ, _WRITE or _EXECUTE */
	uint8_t access_info;	/* HV_X64_MEMORY_ACCESS_* */
	uint8_t insn_count;	/* bytes in insn, 0-16 */
	uint8_t reserved;
	uint16_t exec_state;	/* HV_X64_VP_EXEC_* */
	uint16_t cs_attributes;	/* the CS segment's (L 13, D/B 14) */
	uint32_t reserved2;
	uint64_t rip, rflags;
	uint64_t gva;		/* valid if access_info says so */
	uint64_t gpa;
	uint8_t insn[16];	/* the bytes at CS:RIP */
};

#define RK_CHILD_MULTIBOOT 0x80000000u	/* rk_io_request.flags: a multiboot guest (childboot.h CHILD_MB_*) */
#endif

/* Errors, as the Linux errno values they mirror (returned negated). */
#define RK_EBADF 9		/* write to an fd that is not the console (1 or 2) */
#define RK_EFAULT 14		/* a pointer argument is not readable user memory */
#define RK_EINVAL 22		/* a length above the limit */
#define RK_EIO 5		/* the hypervisor refused what the call asked for */
#define RK_ENOSYS 38		/* no such call number */

#define RK_WRITE_MAX 4096	/* bytes per write() */

/* ---- the test program's roles ----
 * The kernel starts a process with RDI = role, RSI = pid. */
#define RK_ROLE_MAIN 0		/* syscall checks and the crossing measurement */
#define RK_ROLE_YIELD 1		/* yields in a loop: round-robin and isolation */
#define RK_ROLE_HLT 2		/* executes HLT: #GP(0) */
#define RK_ROLE_MOV_CR3 3	/* reads CR3: #GP(0) */
#define RK_ROLE_READ_KERNEL 4	/* loads from RK_KERNEL_BASE: #PF, P|U */
#define RK_ROLE_EXEC_KERNEL 5	/* jumps to RK_KERNEL_BASE: #PF, P|U|I */
#define RK_ROLE_WRITE_TEXT 6	/* stores to its own entry point: #PF, P|W|U */
#define RK_ROLE_VMWP 7		/* a child's worker: emulates its devices (vmwp_wait/complete) */

#define RK_YIELD_ROUNDS 5	/* yields of an RK_ROLE_YIELD process before it exits */

#endif
