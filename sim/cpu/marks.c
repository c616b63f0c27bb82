/* Markers (include/hv/marker.h): what the hypervisor running on an LP
 * says about itself, turned into hypercall, partition and per-partition
 * exit statistics and trace events.  Markers cost no simulated time; the
 * cycle of each is the LP clock at its place in the block.
 *
 * A hypercall is followed from its VMCALL exit (vmx.c calls
 * marks_vm_exit) through HV_MARK_HCALL_BODY and _BODY_END to
 * HV_MARK_HCALL_DONE, and ends at the next VM entry (marks_vm_entry). */
#include <stdlib.h>
#include <string.h>

#include "cpu_priv.h"
#include "hv/marker.h"
#include "hv/vmx.h"
#include "trace.h"

enum { HC_NONE, HC_EXITED, HC_BODY, HC_BODY_END, HC_DONE };

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 64;
	p = realloc(p, *cap * size);
	if (!p)
		abort();
	return p;
}

static void event(struct cpu *c, unsigned kind, uint64_t cycle, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct trace_event ev = {
		.cycle = cycle, .kind = (uint16_t)kind, .lp = (uint16_t)c->index,
		.partition = c->marks.vp_known ? (uint32_t)c->marks.partition : TRACE_NONE,
		.vp = c->marks.vp_known ? c->marks.vp : TRACE_NONE, .arg = { a0, a1, a2, a3 },
	};

	if (c->trace)
		trace_emit(c->trace, &ev);
}

/* The partition and VP the LP runs, for trace events (TRACE_NONE). */
void marks_current(const struct cpu *c, uint32_t *partition, uint32_t *vp)
{
	*partition = c->marks.vp_known ? (uint32_t)c->marks.partition : TRACE_NONE;
	*vp = c->marks.vp_known ? c->marks.vp : TRACE_NONE;
}

/* A marker's record is read at no simulated cost (cpu_lin_peek):
 * markers never perturb simulated time (DESIGN.md "Markers"). */
static int read_record(struct cpu *c, uint64_t va, void *buf, size_t n)
{
	return cpu_lin_peek(c, va, buf, n, 0);
}

void marks_marker(struct cpu *c, unsigned id, uint64_t value, uint64_t cycle)
{
	struct cpu_marks *m = &c->marks;
	struct cpu_hv_stats *h = &c->hv;

	if (c->observer && c->observer->marker)
		c->observer->marker(c->observer->opaque, c, id, value, cycle);
	switch (id) {
	case HV_MARK_RUN_VP:
		m->partition = value >> 32;
		m->vp = (uint32_t)value;
		m->vp_known = 1;
		break;
	case HV_MARK_HCALL_BODY:
		if (m->hc == HC_EXITED) {
			m->t_body = cycle;
			m->hc = HC_BODY;
		}
		break;
	case HV_MARK_HCALL_BODY_END:
		if (m->hc == HC_BODY) {
			m->t_body_end = cycle;
			m->hc = HC_BODY_END;
		}
		break;
	case HV_MARK_HCALL_DONE:
		if (m->hc == HC_BODY_END && !read_record(c, value, &m->rec, sizeof(m->rec)))
			m->hc = HC_DONE;
		break;
	case HV_MARK_PARTITION: {
		struct hv_mark_partition r;

		if (read_record(c, value, &r, sizeof(r)))
			break;
		h->events = grow(h->events, &h->cap_events, h->nevents, sizeof(*h->events));
		h->events[h->nevents++] = (struct cpu_part_event){ cycle, r.partition, r.event };
		event(c, TRACE_PARTITION, cycle, r.partition, r.event, 0, 0);
		break;
	}
	case HV_MARK_STIMER: {
		/* Into the trace with what it says (marker.h): the due TSC,
		 * the VP, the timer and its mode. */
		struct hv_mark_stimer r;

		if (read_record(c, value, &r, sizeof(r)))
			break;
		event(c, TRACE_MARKER, cycle, id, r.due_tsc, r.partition << 32 | r.vp,
		      (uint64_t)r.timer | (uint64_t)r.direct << 8);
		break;
	}
	case HV_MARK_SYNIC_POST:
	case HV_MARK_SYNTH_PEND:
	case HV_MARK_SYNIC_EOM:
	case HV_MARK_VAPIC_EOI: {
		/* The hypervisor's interrupts (synintr.c); into the trace as
		 * arg1 = partition << 32 | VP index, arg2 = SINT (timer,
		 * sender) | vector << 8 | kind << 16 | flags << 24, arg3 = the
		 * queue entry. */
		struct hv_mark_synic r;

		if (read_record(c, value, &r, sizeof(r)))
			break;
		synth_marker(c, id, &r, cycle);
		event(c, TRACE_MARKER, cycle, id, r.partition << 32 | r.vp,
		      r.sint | (uint64_t)r.vector << 8 | (uint64_t)r.kind << 16 | (uint64_t)r.flags << 24, r.seq);
		break;
	}
	case HV_MARK_KICK:
		/* The ICR write that follows is a kick (intr.c), and into the
		 * trace as it is: arg1 = the LP kicked. */
		intr_kick_marker(c);
		event(c, TRACE_MARKER, cycle, id, value, 0, 0);
		break;
	default:
		/* A marker of the guest's own, or one only observers read
		 * (HV_MARK_POOL and later): into the trace as it is. */
		event(c, TRACE_MARKER, cycle, id, value, 0, 0);
		break;
	}
}

static struct cpu_part_exits *part_exits(struct cpu_hv_stats *h, uint64_t partition)
{
	for (size_t i = 0; i < h->nparts; i++)
		if (h->parts[i].partition == partition)
			return &h->parts[i];
	h->parts = grow(h->parts, &h->cap_parts, h->nparts, sizeof(*h->parts));
	memset(&h->parts[h->nparts], 0, sizeof(h->parts[0]));
	h->parts[h->nparts].partition = partition;
	return &h->parts[h->nparts++];
}

void marks_vm_exit(struct cpu *c, unsigned basic, uint64_t start, uint64_t end)
{
	struct cpu_marks *m = &c->marks;

	if (m->vp_known && basic < CPU_VMX_REASONS)
		part_exits(&c->hv, m->partition)->count[basic]++;
	m->hc = basic == EXIT_REASON_VMCALL ? HC_EXITED : HC_NONE;
	m->in_exit = 1;
	m->t_exit = start;
	m->t_exit_end = end;
}

void marks_vm_entry(struct cpu *c, uint64_t end)
{
	struct cpu_marks *m = &c->marks;
	struct cpu_hv_stats *h = &c->hv;
	struct cpu_hcall *k;

	m->in_exit = 0;
	if (m->hc != HC_DONE) {
		m->hc = HC_NONE;
		return;
	}
	m->hc = HC_NONE;
	h->calls = grow(h->calls, &h->cap_calls, h->ncalls, sizeof(*h->calls));
	k = &h->calls[h->ncalls++];
	*k = (struct cpu_hcall){
		.cycle = m->t_exit, .partition = m->rec.partition, .vp = m->rec.vp, .code = m->rec.code,
		.status = m->rec.status, .reps = m->rec.reps, .continued = m->rec.continued,
		.exit = m->t_exit_end - m->t_exit, .dispatch = m->t_body - m->t_exit_end,
		.body = m->t_body_end - m->t_body, .entry = end - m->t_body_end,
	};
	if (c->trace) {
		struct trace_event ev = {
			.cycle = m->t_exit, .kind = TRACE_HYPERCALL, .lp = (uint16_t)c->index,
			.partition = (uint32_t)k->partition, .vp = k->vp,
			.arg = { k->code, k->status, k->reps, end - m->t_exit },
		};

		trace_emit(c->trace, &ev);
		ev.kind = TRACE_HYPERCALL_STAGES;
		ev.arg[0] = k->exit;
		ev.arg[1] = k->dispatch;
		ev.arg[2] = k->body;
		ev.arg[3] = k->entry;
		trace_emit(c->trace, &ev);
	}
	if (c->observer && c->observer->hypercall)
		c->observer->hypercall(c->observer->opaque, c, k);
}

void marks_free(struct cpu *c)
{
	free(c->hv.calls);
	free(c->hv.events);
	free(c->hv.parts);
}
