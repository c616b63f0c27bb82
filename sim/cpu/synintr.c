/* Synthetic interrupts, stage by stage (docs/cli.md stats.json
 * `interrupts`, sources synth-timer, synic-msg and event-flag): the
 * hypervisor's SynIC and synthetic timers raise them with no LAPIC on
 * the way, so their stages come from its markers (include/hv/marker.h
 * HV_MARK_SYNIC_POST, _SYNTH_PEND, _SYNIC_EOM) and from the VM entry
 * that injects the vector:
 *
 *   asserted  a timer's due TSC; the VMCALL of the PostMessage or
 *             SignalEvent that sent it; else the hypervisor's own post
 *   routed    SYNTH_PEND: the vector became pending for the VP (a queued
 *             message when it moved into its slot)
 *   entry     the VM entry that injected it began (vmx.c inject() ->
 *             intr_injected(), for the VP that RUN_VP named)
 *   handler   its delivery through the guest's IDT is done: the handler's
 *             first instruction
 *   EOM       a message's: the VP's next write of HV_X64_MSR_EOM (its
 *             WRMSR instruction)
 *
 * Stages: route = routed - asserted, dispatch = entry - routed, deliver =
 * handler - entry, total = handler - asserted (the three sum to it
 * exactly), eoi = EOM - handler.  A vector made pending again before it
 * went in is one interrupt (as the hypervisor's pending set makes it),
 * timed from the first.  Attributed on the LP where the markers and the
 * entry ran: with one LP, every one. */
#include <string.h>

#include "cpu_priv.h"
#include "trace.h"

static uint64_t ps_at(struct cpu *c, uint64_t cycles)
{
	return sim_cycles_to_ps(cycles, c->prof->freq_khz);
}

static uint64_t at_least(uint64_t ps, uint64_t floor)
{
	return ps > floor ? ps : floor;
}

static unsigned source_kind(unsigned k)
{
	switch (k) {
	case HV_MARK_SYNTH_TIMER:
		return IRQ_SRC_SYNTH_TIMER;
	case HV_MARK_SYNTH_EVENT:
		return IRQ_SRC_EVENT_FLAG;
	default:
		return IRQ_SRC_SYNIC_MSG;
	}
}

/* When the source asserted it: the record's TSC (the LP's cycles plus
 * IA32_TSC_ADJUST's offset), or 0 for the hypercall being handled, whose
 * VMCALL began the exit, or the marker itself outside a hypercall. */
static uint64_t asserted(struct cpu *c, const struct hv_mark_synic *r, uint64_t cycle)
{
	if (r->src_tsc) {
		int64_t t = (int64_t)r->src_tsc - c->tsc_offset;

		return ps_at(c, t > 0 && (uint64_t)t < cycle ? (uint64_t)t : cycle);
	}
	return ps_at(c, c->marks.hc ? c->marks.t_exit : cycle);
}

/* The message posted as queue entry `seq`: its assertion time, taken off
 * the list.  0 if it was never seen. */
static uint64_t take_post(struct cpu *c, const struct hv_mark_synic *r)
{
	for (unsigned i = 0; i < CPU_SYNTH_POSTS; i++) {
		struct cpu_synth_post *p = &c->synth.post[i];

		if (p->valid && p->seq == r->seq && p->partition == r->partition && p->vp == r->vp) {
			p->valid = 0;
			return p->assert_ps;
		}
	}
	return 0;
}

static struct cpu_synth_flight *find(struct cpu *c, int state, uint64_t partition, uint32_t vp, unsigned vec)
{
	for (unsigned i = 0; i < CPU_SYNTH_FLIGHTS; i++) {
		struct cpu_synth_flight *f = &c->synth.f[i];

		if (f->state == state && f->partition == partition && f->vp == vp && f->vector == vec)
			return f;
	}
	return NULL;
}

/* A free slot; when none is, the oldest one (a VP that never took its
 * interrupt, e.g. one stopped) gives way. */
static struct cpu_synth_flight *new_flight(struct cpu *c)
{
	struct cpu_synth_flight *o = &c->synth.f[0];

	for (unsigned i = 0; i < CPU_SYNTH_FLIGHTS; i++) {
		struct cpu_synth_flight *f = &c->synth.f[i];

		if (f->state == SYNTH_FREE)
			return f;
		if (f->route_ps < o->route_ps)
			o = f;
	}
	return o;
}

static void pend(struct cpu *c, const struct hv_mark_synic *r, uint64_t cycle)
{
	struct cpu_synth_flight *f;
	uint64_t a = r->seq ? take_post(c, r) : 0;

	if (!r->seq || !a)
		a = asserted(c, r, cycle);
	if (find(c, SYNTH_PENDING, r->partition, r->vp, r->vector))
		return;	/* already pending: the same interrupt */
	f = new_flight(c);
	*f = (struct cpu_synth_flight){
		.state = SYNTH_PENDING, .msg = r->seq != 0, .partition = r->partition, .vp = r->vp,
		.vector = r->vector, .kind = (uint8_t)source_kind(r->kind), .pin = r->sint,
		.assert_ps = a, .route_ps = at_least(ps_at(c, cycle), a),
	};
}

/* The VP wrote EOM (its WRMSR began the exit in hand): the end of every
 * message-borne interrupt of that VP whose handler ran. */
static void eom(struct cpu *c, const struct hv_mark_synic *r, uint64_t cycle)
{
	uint64_t t = ps_at(c, c->marks.t_exit && c->marks.t_exit <= cycle ? c->marks.t_exit : cycle);

	for (unsigned i = 0; i < CPU_SYNTH_FLIGHTS; i++) {
		struct cpu_synth_flight *f = &c->synth.f[i];

		if (f->state != SYNTH_HANDLED || f->partition != r->partition || f->vp != r->vp)
			continue;
		intr_sample(c, f->kind, CPU_IRQ_EOI, t > f->handler_ps ? t - f->handler_ps : 0);
		f->state = SYNTH_FREE;
	}
}

void synth_marker(struct cpu *c, unsigned id, const struct hv_mark_synic *r, uint64_t cycle)
{
	struct cpu_synth_post *p;

	switch (id) {
	case HV_MARK_SYNIC_POST:
		p = &c->synth.post[c->synth.post_next++ % CPU_SYNTH_POSTS];
		*p = (struct cpu_synth_post){ .valid = 1, .vp = r->vp, .partition = r->partition, .seq = r->seq,
					      .assert_ps = asserted(c, r, cycle) };
		break;
	case HV_MARK_SYNTH_PEND:
		pend(c, r, cycle);
		break;
	case HV_MARK_SYNIC_EOM:
		eom(c, r, cycle);
		break;
	default:
		break;
	}
}

int synth_injected(struct cpu *c, unsigned vec, uint64_t entry_begin)
{
	struct cpu_synth_flight *f;
	uint64_t entry, now;

	if (!c->marks.vp_known)
		return 0;
	f = find(c, SYNTH_PENDING, c->marks.partition, c->marks.vp, vec);
	if (!f)
		return 0;
	entry = at_least(ps_at(c, entry_begin), f->route_ps);
	now = at_least(ps_at(c, c->cycles), entry);
	f->handler_ps = now;
	c->irq.kind[f->kind].count++;
	intr_sample(c, f->kind, CPU_IRQ_ROUTE, f->route_ps - f->assert_ps);
	intr_sample(c, f->kind, CPU_IRQ_DISPATCH, entry - f->route_ps);
	intr_sample(c, f->kind, CPU_IRQ_DELIVER, now - entry);
	intr_sample(c, f->kind, CPU_IRQ_TOTAL, now - f->assert_ps);
	if (c->trace) {
		/* As a physical interrupt's events, without the LAPIC's
		 * stages: acknowledged, accepted and the exit are 0. */
		struct trace_event ev = {
			.cycle = c->cycles, .kind = TRACE_INTERRUPT, .lp = (uint16_t)c->index,
			.arg = { vec | (uint64_t)f->kind << 8 | (uint64_t)f->pin << 16, f->assert_ps, 0, now },
		};

		marks_current(c, &ev.partition, &ev.vp);
		trace_emit(c->trace, &ev);
		ev.kind = TRACE_INTERRUPT_STAGES;
		ev.arg[0] = f->route_ps;
		ev.arg[1] = 0;
		ev.arg[2] = 0;
		ev.arg[3] = entry;
		trace_emit(c->trace, &ev);
	}
	f->state = f->msg ? SYNTH_HANDLED : SYNTH_FREE;
	return 1;
}
