/* The interrupts the hypervisor raises for its VPs, stage by stage
 * (docs/cli.md stats.json `interrupts`, sources synth-timer, synic-msg,
 * event-flag, vapic-timer and vipi): its SynIC, synthetic timers and a
 * child's virtual APIC raise them with no LAPIC on the way, so their
 * stages come from its markers (include/hv/marker.h HV_MARK_SYNIC_POST,
 * _SYNTH_PEND, _SYNIC_EOM, _VAPIC_EOI) and from the VM entry that
 * injects the vector:
 *
 *   asserted  a timer's due TSC; the guest instruction whose VM exit the
 *             hypervisor was handling (the VMCALL of a PostMessage,
 *             SignalEvent or SendSyntheticClusterIpi, an ICR write);
 *             else the hypervisor's own post
 *   routed    SYNTH_PEND: the vector became pending for the VP (a queued
 *             message when it moved into its slot)
 *   entry     the VM entry that injected it began (vmx.c inject() ->
 *             intr_injected(), for the VP that RUN_VP named)
 *   handler   its delivery through the guest's IDT is done: the handler's
 *             first instruction
 *   end       a message's: the VP's next write of HV_X64_MSR_EOM (its
 *             WRMSR instruction); one whose vector entered the virtual
 *             APIC's ISR: the guest's EOI (VAPIC_EOI)
 *
 * The markers of one interrupt come from whichever LPs did the work (the
 * sender's, the target VP's), so the flights live in the machine's book
 * (vflight.h), not in the LP; this file turns each LP's markers and
 * entries into the book's times. */
#include "cpu_priv.h"
#include "trace.h"
#include "vflight.h"

static uint64_t ps_at(struct cpu *c, uint64_t cycles)
{
	return sim_cycles_to_ps(cycles, c->prof->freq_khz);
}

static unsigned source_kind(unsigned k)
{
	switch (k) {
	case HV_MARK_SYNTH_TIMER:
		return IRQ_SRC_SYNTH_TIMER;
	case HV_MARK_SYNTH_EVENT:
		return IRQ_SRC_EVENT_FLAG;
	case HV_MARK_SYNTH_APIC_TIMER:
		return IRQ_SRC_VAPIC_TIMER;
	case HV_MARK_SYNTH_IPI:
		return IRQ_SRC_VIPI;
	default:
		return IRQ_SRC_SYNIC_MSG;
	}
}

/* The VM exit the hypervisor is handling began with the guest
 * instruction that asked for what it does now (a VMCALL, a WRMSR); with
 * none in hand (the hypervisor's own work), the marker itself. */
static uint64_t exit_or_now(struct cpu *c, uint64_t cycle)
{
	return ps_at(c, c->marks.in_exit && c->marks.t_exit <= cycle ? c->marks.t_exit : cycle);
}

/* When the source asserted it: the record's TSC (the LP's cycles plus
 * IA32_TSC_ADJUST's offset), or 0 for the exit in hand. */
static uint64_t asserted(struct cpu *c, const struct hv_mark_synic *r, uint64_t cycle)
{
	if (r->src_tsc) {
		int64_t t = (int64_t)r->src_tsc - c->tsc_offset;

		return ps_at(c, t > 0 && (uint64_t)t < cycle ? (uint64_t)t : cycle);
	}
	return exit_or_now(c, cycle);
}

/* What ends it: a message its EOM (whether or not its vector also
 * enters the ISR), anything else whose vector enters the virtual APIC's
 * ISR the guest's EOI, the rest its handler. */
static enum vflight_end end_of(const struct hv_mark_synic *r)
{
	if (r->seq)
		return VFLIGHT_END_EOM;
	return (r->flags & HV_MARK_SYNTH_EOI) ? VFLIGHT_END_EOI : VFLIGHT_END_NONE;
}

static void pend(struct cpu *c, const struct hv_mark_synic *r, uint64_t cycle)
{
	struct vflight_pend p = {
		.partition = r->partition, .vp = r->vp, .vector = r->vector, .kind = (uint8_t)source_kind(r->kind),
		.pin = r->sint, .seq = r->seq, .merged = !!(r->flags & HV_MARK_SYNTH_MERGED), .end = end_of(r),
		.assert_ps = asserted(c, r, cycle), .route_ps = ps_at(c, cycle),
	};

	vflight_pend(c->vflights, &p);
}

void synth_marker(struct cpu *c, unsigned id, const struct hv_mark_synic *r, uint64_t cycle)
{
	switch (id) {
	case HV_MARK_SYNIC_POST:
		vflight_post(c->vflights, r->partition, r->vp, r->seq, asserted(c, r, cycle));
		break;
	case HV_MARK_SYNTH_PEND:
		pend(c, r, cycle);
		break;
	case HV_MARK_SYNIC_EOM:
		/* Its WRMSR began the exit in hand. */
		vflight_eom(c->vflights, r->partition, r->vp, exit_or_now(c, cycle), &c->irq);
		break;
	case HV_MARK_VAPIC_EOI:
		/* The guest's EOI (its WRMSR or MOV began the exit in hand);
		 * an assisted one happened before this exit, which is when
		 * the hypervisor saw it (an upper bound). */
		vflight_eoi(c->vflights, r->partition, r->vp, r->vector, exit_or_now(c, cycle), &c->irq);
		break;
	default:
		break;
	}
}

int synth_injected(struct cpu *c, unsigned vec, uint64_t entry_begin)
{
	struct vflight_done d;

	if (!c->marks.vp_known ||
	    !vflight_injected(c->vflights, c->marks.partition, c->marks.vp, vec, ps_at(c, entry_begin),
			      ps_at(c, c->cycles), &c->irq, &d))
		return 0;
	if (c->trace) {
		/* As a physical interrupt's events, without the LAPIC's
		 * stages: acknowledged, accepted and the exit are 0. */
		struct trace_event ev = {
			.cycle = c->cycles, .kind = TRACE_INTERRUPT, .lp = (uint16_t)c->index,
			.arg = { vec | (uint64_t)d.kind << 8 | (uint64_t)d.pin << 16, d.assert_ps, 0, d.handler_ps },
		};

		marks_current(c, &ev.partition, &ev.vp);
		trace_emit(c->trace, &ev);
		ev.kind = TRACE_INTERRUPT_STAGES;
		ev.arg[0] = d.route_ps;
		ev.arg[1] = 0;
		ev.arg[2] = 0;
		ev.arg[3] = d.entry_ps;
		trace_emit(c->trace, &ev);
	}
	return 1;
}

int synth_init(struct cpu *c, struct vflight_book *shared)
{
	c->vflights = shared;
	if (!shared) {
		c->vflights = vflight_book_new();
		c->own_vflights = 1;
	}
	return c->vflights ? 0 : -1;
}

void synth_free(struct cpu *c)
{
	if (c->own_vflights)
		vflight_book_free(c->vflights);
	c->vflights = NULL;
}
