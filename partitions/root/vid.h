/* The VID layer (vid.c): the root kernel's hypercalls. */
#ifndef RK_VID_H
#define RK_VID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/tlfs.h>

/* CPUID says hvsim's hypervisor (or Hyper-V) is underneath. */
bool vid_hypervisor_present(void);
/* Guest OS id, the hypercall page, the input and output pages; 0 or -1
 * (no privilege to create partitions, or no page). */
int vid_init(void);
/* One call: `in` copied to the input page, the output page copied to
 * `out`; returns RAX (status in 15:0, reps completed in 43:32). */
uint64_t vid_call(uint16_t code, unsigned reps, const void *in, size_t in_len, void *out, size_t out_len);
/* The same, depositing pages into `deposit_to` and retrying while the
 * status is HV_STATUS_INSUFFICIENT_MEMORY. */
uint64_t vid_call_deposit(uint64_t deposit_to, uint16_t code, unsigned reps, const void *in, size_t in_len,
			  void *out, size_t out_len);
/* Give `pages` of the root's memory to `partition`'s pool. */
uint16_t vid_deposit(uint64_t partition, unsigned pages);
/* Take every page of `partition`'s pool back; *pages counts them. */
uint16_t vid_withdraw_all(uint64_t partition, uint64_t *pages);
/* The root's SynIC (TLFS "Inter-Partition Communication"): a SIM page and
 * SINT0, where the hypervisor posts intercept messages, in polling mode
 * (the kernel takes no interrupts).  0 or -1. */
int vid_synic_init(void);
/* The message in SINT0's slot, copied out and the slot freed (with EOM
 * when the hypervisor has more waiting): true if there was one. */
bool vid_take_message(struct hv_message *out);
/* Complete an intercept of `partition`'s VP `vp`: the `n` registers
 * (at most 4), then HvRegisterInterceptSuspend = 0, in one
 * HvCallSetVpRegisters.  The status. */
uint16_t vid_complete(uint64_t partition, uint32_t vp, const struct hv_register_assoc *r, unsigned n);
/* The same for an I/O intercept: RAX (when `set_rax`) and RIP. */
uint16_t vid_complete_io(uint64_t partition, uint32_t vp, bool set_rax, uint64_t rax, uint64_t rip);
/* HvCallGetVpRegisters of `n` (at most 4) registers of `partition`'s VP
 * `vp`, one snapshot.  The status. */
uint16_t vid_get_registers(uint64_t partition, uint32_t vp, const uint32_t *names, unsigned n,
			   union hv_register_value *out);
extern uint64_t vid_deposited;		/* pages deposited for children and not withdrawn */
extern uint64_t vid_deposited_self;	/* pages in the root's own pool (not withdrawn) */

#endif
