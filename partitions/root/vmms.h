/* The VMMS (vmms.c): the child partitions' state machines. */
#ifndef RK_VMMS_H
#define RK_VMMS_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/bootinfo.h>
#include <hv/childboot.h>

#define RK_CHILD_DIR_PAGES 512	/* 512 x 512 pages: 1 GiB of child memory at most */

enum rk_child_state {
	RK_CHILD_NONE,
	RK_CHILD_CREATED,	/* the partition exists; not running yet */
	RK_CHILD_RUNNING,
	RK_CHILD_PAUSED,	/* suspended by the root */
	RK_CHILD_STOPPED,	/* finished, failed or paused for good */
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
};

/* Create, run and tear down every child the boot information describes,
 * reporting PASS/FAIL lines. */
void vmms_run(const struct hv_bootinfo *bi);

#endif
