/* The VMMS (vmms.c): the child partitions' state machines. */
#ifndef RK_VMMS_H
#define RK_VMMS_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/bootinfo.h>
#include <hv/childboot.h>
#include <hv/tlfs.h>

#include "abi.h"

#define RK_CHILD_DIR_PAGES 512	/* 512 x 512 pages: 1 GiB of child memory at most */

enum rk_child_state {
	RK_CHILD_NONE,
	RK_CHILD_CREATED,	/* the partition exists; not running yet */
	RK_CHILD_RUNNING,
	RK_CHILD_PAUSED,	/* suspended by the root */
	RK_CHILD_STOPPED,	/* finished, failed or paused for good */
};

#define VMMS_IO_QUEUE 8	/* intercepts taken for a worker and not yet handed to it */

/* One intercepted access, from the message to the completion. */
struct vmms_io {
	struct rk_io_request req;	/* for the worker; the child's fields are filled when it takes it */
	uint64_t rax;		/* RK_REQ_IO: RAX at the intercept */
	uint8_t len;		/* RK_REQ_IO: instruction length */
};

struct rk_child {
	struct hv_boot_partition cfg;	/* from the boot information */
	uint64_t id;			/* partition id, 0 before creation */
	enum rk_child_state state;
	bool faulted;			/* stopped by the hypervisor */
	uint64_t started;		/* TSC when it was started */
	uint64_t npages;		/* root pages backing its memory */
	uint64_t dir[RK_CHILD_DIR_PAGES];	/* pages of backing-page addresses */
	struct hv_child_mailbox *mailbox;	/* the root's view of its mailbox */
	/* Its worker (VMWP) and the intercepts on their way to it. */
	uint32_t worker_pid;		/* 0: none */
	bool worker_stop;		/* the child stopped: no more requests */
	bool worker_ended;
	int64_t worker_status;		/* its exit status, once ended */
	unsigned nreq, head;		/* queue of taken requests */
	struct vmms_io req[VMMS_IO_QUEUE];
	bool busy;			/* cur was handed to the worker, not completed */
	struct vmms_io cur;
	uint64_t taken, completed, refused;	/* intercepts */
	uint64_t synic_commands, synic_failed;	/* SynIC test device commands */
	/* Messages the child asked for (childmsg.c). */
	uint32_t msg_wanted;		/* 0: none asked for (yet) */
	uint32_t msg_posted, msg_busy;	/* posted; INSUFFICIENT_BUFFERS answers, retried */
	uint16_t msg_status;		/* the call that failed for good, else 0 */
	bool msg_connected;
	/* A multiboot guest (childboot.h CHILD_MB_*). */
	bool multiboot;
	bool exited;			/* it wrote its debug-exit port */
	uint32_t exit_value;		/* what it wrote */
	bool crashed;			/* its worker could not emulate an access (vmwp_crash) */
};

/* The worker side of the system calls (abi.h RK_SYS_VMWP_*), for process
 * `pid`: the next request (0), RK_VMWP_STOPPED, -RK_EAGAIN when it must
 * wait, -RK_EINVAL when it is no worker or has a request outstanding;
 * and its answer to that request (0, -RK_EINVAL, -RK_EIO). */
int64_t vmms_worker_next(uint32_t pid, struct rk_io_request *out);
int64_t vmms_worker_complete(uint32_t pid, uint64_t value);
/* The child wrote `value` to its debug-exit port: complete the access,
 * stop the child (0, or as vmms_worker_complete). */
int64_t vmms_worker_exit(uint32_t pid, uint64_t value);
/* The MMIO calls (abi.h RK_SYS_VMWP_GET_REGS, _RESUME, _CRASH) of worker
 * `pid`, on the VP of its outstanding request: 0, -RK_EINVAL, -RK_EIO. */
int64_t vmms_worker_get_regs(uint32_t pid, const uint32_t *names, unsigned n, union hv_register_value *out);
int64_t vmms_worker_resume(uint32_t pid, const uint32_t *names, const uint64_t *values, unsigned n);
int64_t vmms_worker_crash(uint32_t pid);
/* Whether `pid` is the worker of the child that has the console. */
bool vmms_worker_has_console(uint32_t pid);
/* The child with the console, if it wrote its debug-exit port: true and
 * *value what it wrote. */
bool vmms_console_exit(uint32_t *value);
/* The SynIC test device's command `op` (abi.h RK_SYNIC_*) for the child of
 * worker `pid` (synicdev.c): the HV_STATUS, or -RK_EINVAL. */
int64_t vmms_worker_synic(uint32_t pid, uint64_t op, uint64_t vp, uint64_t sint, uint64_t conn);
/* synicdev.c: the hypercalls of one command for child `child` (the
 * index-th child of the VMMS). */
uint16_t synicdev_command(uint64_t child, unsigned index, uint32_t op, uint32_t vp, uint32_t sint, uint32_t conn);
/* A port `port` of `type` in partition `child` for VP `vp`, SINT `sint`
 * (an event port: `flags` flags from `base`), and connection `conn` of
 * `conn_part` to it; the port is deleted again if ConnectPort fails.
 * The first status that was not SUCCESS, or SUCCESS. */
uint16_t synicdev_pair_create(uint64_t child, uint32_t port, uint32_t type, uint32_t vp, uint32_t sint,
			      uint16_t base, uint16_t flags, uint64_t conn_part, uint32_t conn);

/* childmsg.c: the messages a child asks the root for (childboot.h
 * CHILD_ROOT_MSG_*): on each turn of the VMMS's loop while it runs, the
 * port and connection made once, then at most one message posted; and
 * the line that reports them. */
void childmsg_turn(struct rk_child *ch, unsigned index);
void childmsg_report(const struct rk_child *ch);

/* Create, run and tear down every child the boot information describes,
 * reporting PASS/FAIL lines. */
void vmms_run(const struct hv_bootinfo *bi);

#endif
