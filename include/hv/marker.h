/* Markers: points of interest that firmware and guest code tell hvsim
 * about without costing simulated time (DESIGN.md "Markers").
 *
 * A marker is a long NOP with a memory operand, `nopl 0x4856IIII(%reg)`:
 * the CPU model recognises the displacement's high half "HV" (0x4856) when
 * it decodes the block, prices the instruction at zero cycles, and reports
 * marker IIII with the value of the base register.  On hardware it is an
 * ordinary NOP (0F 1F /0, which never accesses memory).  Putting the value
 * in a register is ordinary code and costs what it costs.
 *
 * Markers hv_model uses; the values are the ABI between it and hvsim's
 * statistics (sim/cpu/marks.c). */
#ifndef HV_MARKER_H
#define HV_MARKER_H

#include <stdint.h>

#define HV_MARKER_MAGIC 0x4856u

#define HV_MARKER(id, value)                                                                \
	asm volatile("nopl %c0(%1)" : : "i"((int32_t)((HV_MARKER_MAGIC << 16) | (id))), "r"(value))

/* The LP is about to enter VP `value & 0xffffffff` of partition
 * `value >> 32`: the exits that follow are that VP's. */
#define HV_MARK_RUN_VP 1
/* A hypercall's handler body starts and ends (value unused): what comes
 * before is dispatch, what comes after up to the VM entry is the return.
 * Then, before the next VM entry, DONE with `value` pointing to a struct
 * hv_mark_hypercall describing the call. */
#define HV_MARK_HCALL_BODY 2
#define HV_MARK_HCALL_BODY_END 3
#define HV_MARK_HCALL_DONE 4
/* A partition changed state: `value` points to a struct hv_mark_partition. */
#define HV_MARK_PARTITION 5

/* The emulated-device path of an unenlightened child, stage by stage
 * (docs/hypervisor.md "Intercepts").  In every one `value` is
 * partition id << 32 | VP index of the intercepted child VP: a VP has at
 * most one intercept outstanding, so the pair names the round trip.
 *   EXIT     hv_model: a child's I/O exit hit an installed intercept
 *   POSTED   hv_model: the X64_IO_PORT_INTERCEPT message is in the root
 *            VP 0's SINT0 slot (or its queue); the child VP is suspended
 *   TAKEN    root kernel (VID layer): it read the message out of its SIM
 *            page and handed it to the child's worker
 *   WORKER_START  the VMWP, in ring 3: its wait system call returned the
 *            request
 *   WORKER_DONE   the VMWP, in ring 3: the device model answered; the
 *            completion system call follows
 *   RESUMED  hv_model: the intercept was completed (registers set,
 *            HvRegisterInterceptSuspend cleared) and the child VP is
 *            about to be entered again (its RUN_VP marker follows).
 *   GPA_EXIT hv_model: in place of EXIT, a child's access to a GPA it has
 *            no mapping for; POSTED then says the UNMAPPED_GPA message is
 *            in the slot, and the rest of the round trip is the same. */
#define HV_MARK_INTERCEPT_EXIT 6
#define HV_MARK_INTERCEPT_POSTED 7
#define HV_MARK_INTERCEPT_TAKEN 8
#define HV_MARK_WORKER_START 9
#define HV_MARK_WORKER_DONE 10
#define HV_MARK_INTERCEPT_RESUMED 11
#define HV_MARK_INTERCEPT_GPA_EXIT 13

/* A synthetic timer expired (docs/hypervisor.md "Synthetic time"):
 * `value` points to a struct hv_mark_stimer.  hv_model emits it when it
 * acts on the expiry (at an exit, before an entry, or when the LP wakes
 * from waiting for it), so the cycle of the marker minus due_tsc is how
 * late the hypervisor noticed; the message or interrupt follows.  hvsim
 * puts it in the trace as a marker with arg1 = due_tsc, arg2 = partition
 * << 32 | VP index, arg3 = timer index | direct mode << 8. */
#define HV_MARK_STIMER 12

/* Markers 16-31 say what a hypercall changed, for observers of the CPU
 * (`hvsim lab`, sim/cpu/cpu.h struct cpu_observer); hvsim's statistics
 * pass them to the trace as plain markers.  Each `value` points to the
 * record named.
 *
 * HV_MARK_POOL: a partition's memory pool after a hypercall that
 * deposited, withdrew, used or gave back pages (struct hv_mark_pool).
 * HV_MARK_GPA: one 4 KiB page of a child's guest-physical space was
 * mapped (ept_flags: its EPT leaf's R/W/X and memory type bits) or
 * unmapped (ept_flags 0) by a hypercall (struct hv_mark_gpa).
 * HV_MARK_EPT: a partition's EPT was built (eptp: the EPT pointer its
 * VMCSs get) or torn down (eptp 0) (struct hv_mark_ept).
 * HV_MARK_VP: a VP was created (vmcs: its VMCS region) or freed
 * (vmcs 0) (struct hv_mark_vp). */
#define HV_MARK_POOL 16
#define HV_MARK_GPA 17
#define HV_MARK_EPT 18
#define HV_MARK_VP 19

/* Physical interrupts (docs/hypervisor.md "Physical interrupts").
 *   EXT_INTR  hv_model: an external-interrupt exit handed its vector to
 *             the root's VP; `value` is the partition id << 32 | VP index
 *             << 8 | vector of the VP the interrupt arrived in (the root's
 *             own, or a child's whose slice it ends)
 *   ROOT_ISR  root kernel: its handler for vector `value` starts (after
 *             the entry stub saved the registers) */
#define HV_MARK_EXT_INTR 32
#define HV_MARK_ROOT_ISR 33

/* Interrupts the hypervisor raises for a VP (docs/hypervisor.md "SynIC",
 * "Synthetic time", "Virtual APIC", "APIC timer"): where one starts,
 * where it becomes pending and where the guest ends it, for hvsim's
 * interrupt statistics (sources synth-timer, synic-msg, event-flag,
 * vapic-timer, vipi).  Each `value` points to a struct hv_mark_synic.
 * A src_tsc of 0 means "the VM exit being handled": hvsim takes the
 * guest instruction that exited (a PostMessage's VMCALL, an ICR write)
 * and, outside an exit, the marker itself.
 *   SYNIC_POST  hv_model: a message joined the queue of (partition, VP,
 *               sint) as entry `seq`; src_tsc is when its source asserted
 *               it: a timer's due TSC, or 0 (above)
 *   SYNTH_PEND  hv_model: `vector` became pending for the VP (it goes in
 *               at a later VM entry; flags say whether it was already
 *               and how it will end): message `seq` went into the slot
 *               of `sint` and the SINT fired (seq != 0); a direct-mode
 *               timer expired (sint = the timer's index, src_tsc = its
 *               due TSC); an event flag of `sint` was set (src_tsc 0);
 *               the virtual APIC's timer expired (src_tsc = its due TSC);
 *               or an IPI from VP `sint` of the partition arrived (an ICR
 *               write or HvCallSendSyntheticClusterIpi{,Ex}, src_tsc 0)
 *   SYNIC_EOM   hv_model: the VP wrote HV_X64_MSR_EOM (sint, vector, seq
 *               unused)
 *   VAPIC_EOI   hv_model: the VP's virtual APIC retired `vector` from its
 *               ISR: the guest's EOI (x2APIC MSR, xAPIC page,
 *               HV_X64_MSR_EOI; in the exit in hand) or, with
 *               HV_MARK_SYNTH_ASSISTED, the EOI it left to the hypervisor
 *               through the VP assist page, found cleared at this exit
 *               (sint, kind, seq unused) */
#define HV_MARK_SYNIC_POST 34
#define HV_MARK_SYNTH_PEND 35
#define HV_MARK_SYNIC_EOM 36
#define HV_MARK_VAPIC_EOI 38

/* hv_model is about to write its LAPIC's ICR to kick LP `value`
 * (docs/hypervisor.md "Scheduling"): the IPI that write sends is the
 * hypervisor's own, stats.json's `hv-kick` source, not a guest's `ipi`. */
#define HV_MARK_KICK 37

struct hv_mark_hypercall {
	uint16_t code;		/* call code from RCX */
	uint16_t status;	/* HV_STATUS_* */
	uint32_t reps;		/* reps completed by this invocation */
	uint64_t partition;	/* the caller */
	uint32_t vp;
	uint32_t continued;	/* 1 if the call continues (RIP not advanced) */
};

enum hv_mark_partition_event {
	HV_MARK_PART_CREATED,
	HV_MARK_PART_INITIALIZED,
	HV_MARK_PART_FINALIZED,
	HV_MARK_PART_DELETED,
};

struct hv_mark_partition {
	uint64_t partition;
	uint32_t event;		/* enum hv_mark_partition_event */
	uint32_t reserved;
};

struct hv_mark_pool {
	uint64_t partition;
	uint64_t free;		/* pages in the pool now */
	uint64_t total;		/* pages deposited and not withdrawn */
};

struct hv_mark_gpa {
	uint64_t partition;
	uint64_t gpa;
	uint64_t hpa;		/* 0 when unmapped */
	uint64_t ept_flags;	/* leaf bits 0-2 (R/W/X) and 3-5 (memory type); 0 = unmapped */
};

struct hv_mark_ept {
	uint64_t partition;
	uint64_t eptp;		/* 0: torn down */
};

struct hv_mark_stimer {
	uint64_t partition;
	uint32_t vp;
	uint8_t timer;		/* 0-3 */
	uint8_t direct;		/* 1: direct mode (an interrupt), 0: a message */
	uint16_t reserved;
	uint64_t due;		/* the expiration time, reference time (100 ns) */
	uint64_t due_tsc;	/* the TSC (the LP's cycle count) at which it was due */
};

enum hv_mark_synth_kind {
	HV_MARK_SYNTH_TIMER,	/* a synthetic timer: direct mode, or its expiration message */
	HV_MARK_SYNTH_MESSAGE,	/* any other message (PostMessage, the hypervisor's own) */
	HV_MARK_SYNTH_EVENT,	/* an event flag (SignalEvent) */
	HV_MARK_SYNTH_APIC_TIMER,	/* a child's virtual APIC timer */
	HV_MARK_SYNTH_IPI,	/* an IPI between VPs of a partition */
};

/* struct hv_mark_synic flags. */
#define HV_MARK_SYNTH_MERGED 1u		/* SYNTH_PEND: the vector was pending already: the same interrupt */
#define HV_MARK_SYNTH_EOI 2u		/* SYNTH_PEND: it enters the virtual APIC's ISR: the guest EOIs it */
#define HV_MARK_SYNTH_ASSISTED 4u	/* VAPIC_EOI: through the VP assist page */

struct hv_mark_synic {
	uint64_t partition;
	uint32_t vp;
	uint8_t sint;		/* the SINT; a direct-mode timer's index; an IPI's sender VP */
	uint8_t vector;		/* SYNTH_PEND: the vector made pending; VAPIC_EOI: the one retired */
	uint8_t kind;		/* enum hv_mark_synth_kind */
	uint8_t flags;		/* HV_MARK_SYNTH_* */
	uint64_t seq;		/* the message's queue entry; 0 for timers in direct mode and events */
	uint64_t src_tsc;	/* the source asserted it (TSC); 0: the hypercall being handled */
};

struct hv_mark_vp {
	uint64_t partition;
	uint32_t vp;
	uint32_t reserved;
	uint64_t vmcs;		/* 0: freed */
};

#endif
