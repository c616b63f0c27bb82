/* Interrupts the hypervisor raises for its VPs without a local APIC on
 * the way (the SynIC's, synthetic timers', a child's virtual APIC timer
 * and IPIs between VPs), followed from their source to the guest's
 * handler and its EOM or EOI for `stats.json` `interrupts` (docs/cli.md).
 *
 * One book serves the whole machine: a message the root posts on LP0 may
 * be injected into a child's VP on LP1 and its EOM written on another
 * LP, so every LP's markers and VM entries go to the same book.  The
 * SystemC kernel runs every LP in one host thread (sim/systemc: the LPs
 * are SC_THREADs, which are coroutines, and one of them at a time is in
 * cpu_run), so the book needs no lock, and the order in which the LPs'
 * calls reach it is the same on every run.  Times are simulated
 * picoseconds, comparable between LPs.
 *
 * The stages (cpu.h enum cpu_irq_stage): route = routed - asserted,
 * dispatch = entry - routed, deliver = handler - entry, total = handler -
 * asserted (exactly their sum: each time is clamped to be no earlier than
 * the one before it, as LPs up to a quantum apart may report them out of
 * order), and eoi = the EOM or EOI that ended it - handler.  Each flight
 * is sampled once, at its handler, and once more at its end if it has
 * one.  Pure bookkeeping, no CPU: the `vflight` unit suite drives it. */
#ifndef SIM_CPU_VFLIGHT_H
#define SIM_CPU_VFLIGHT_H

#include <stdint.h>

#include "cpu.h"

/* What ends an interrupt after its handler started. */
enum vflight_end {
	VFLIGHT_END_NONE,	/* nothing: its handler was the end (auto-EOI, the root) */
	VFLIGHT_END_EOM,	/* a message's: the VP's next write of HV_X64_MSR_EOM */
	VFLIGHT_END_EOI,	/* the guest's EOI of its vector at the VP's virtual APIC */
};

/* A vector became pending for a VP. */
struct vflight_pend {
	uint64_t partition;
	uint32_t vp;
	uint8_t vector;
	uint8_t kind;		/* enum irq_source_kind */
	uint8_t pin;		/* the SINT, a timer's index, ... (trace only) */
	uint64_t seq;		/* a message's queue entry (vflight_post); 0 for none */
	int merged;		/* the vector was pending already: the same interrupt */
	enum vflight_end end;
	uint64_t assert_ps;	/* when its source asserted it (for a message: unless its post is known) */
	uint64_t route_ps;	/* now: it became pending */
};

/* One interrupt that reached its handler, for the trace. */
struct vflight_done {
	uint8_t kind, pin;
	uint64_t assert_ps, route_ps, entry_ps, handler_ps;
};

struct vflight_book;

struct vflight_book *vflight_book_new(void);
void vflight_book_free(struct vflight_book *b);

/* A message joined the queue of (partition, vp) as entry `seq`; its
 * source asserted it at `assert_ps`. */
void vflight_post(struct vflight_book *b, uint64_t partition, uint32_t vp, uint64_t seq, uint64_t assert_ps);
void vflight_pend(struct vflight_book *b, const struct vflight_pend *p);
/* The VM entry into (partition, vp) that began at `entry_ps` injected
 * `vector`, whose handler starts at `handler_ps`: if the book was
 * following it, samples route, dispatch, deliver and total into `s`,
 * counts it, fills *out and returns 1. */
int vflight_injected(struct vflight_book *b, uint64_t partition, uint32_t vp, unsigned vector, uint64_t entry_ps,
		     uint64_t handler_ps, struct cpu_irq_stats *s, struct vflight_done *out);
/* The VP wrote EOM at `t_ps`: the eoi of every message of the VP whose
 * handler ran. */
void vflight_eom(struct vflight_book *b, uint64_t partition, uint32_t vp, uint64_t t_ps, struct cpu_irq_stats *s);
/* The VP's virtual APIC retired `vector` from its ISR at `t_ps`. */
void vflight_eoi(struct vflight_book *b, uint64_t partition, uint32_t vp, unsigned vector, uint64_t t_ps,
		 struct cpu_irq_stats *s);

#endif
