/* The machine's book of interrupts the hypervisor raises for its VPs
 * (vflight.h).  Fixed tables: the messages posted and not yet in their
 * slot (by VP and queue entry), and the interrupts pending for a VP or
 * handled and waiting for their EOM or EOI.  When a table is full the
 * oldest entry gives way (a VP that never took its interrupt, e.g. one
 * stopped); the lowest slot wins ties, so the choice is deterministic. */
#include <stdlib.h>

#include "vflight.h"

#define VFLIGHT_POSTS 256
#define VFLIGHT_FLIGHTS 256

struct vflight_post {
	int valid;
	uint32_t vp;
	uint64_t partition, seq;
	uint64_t assert_ps;
};

enum { FLIGHT_FREE, FLIGHT_PENDING, FLIGHT_HANDLED };

struct vflight {
	int state;		/* FLIGHT_* */
	enum vflight_end end;
	uint64_t partition;
	uint32_t vp;
	uint8_t vector, kind, pin;
	uint64_t assert_ps, route_ps, handler_ps;
};

struct vflight_book {
	struct vflight_post post[VFLIGHT_POSTS];
	unsigned post_next;	/* the ring's next slot */
	struct vflight f[VFLIGHT_FLIGHTS];
};

struct vflight_book *vflight_book_new(void)
{
	return calloc(1, sizeof(struct vflight_book));
}

void vflight_book_free(struct vflight_book *b)
{
	free(b);
}

static uint64_t at_least(uint64_t ps, uint64_t floor)
{
	return ps > floor ? ps : floor;
}

void vflight_post(struct vflight_book *b, uint64_t partition, uint32_t vp, uint64_t seq, uint64_t assert_ps)
{
	b->post[b->post_next++ % VFLIGHT_POSTS] =
		(struct vflight_post){ .valid = 1, .vp = vp, .partition = partition, .seq = seq, .assert_ps = assert_ps };
}

/* The message posted as queue entry `seq` of the VP: when its source
 * asserted it, taken off the ring.  0 if it was never seen (or overrun). */
static uint64_t take_post(struct vflight_book *b, uint64_t partition, uint32_t vp, uint64_t seq)
{
	for (unsigned i = 0; i < VFLIGHT_POSTS; i++) {
		struct vflight_post *p = &b->post[i];

		if (p->valid && p->seq == seq && p->partition == partition && p->vp == vp) {
			p->valid = 0;
			return p->assert_ps;
		}
	}
	return 0;
}

static struct vflight *find(struct vflight_book *b, int state, uint64_t partition, uint32_t vp, unsigned vector)
{
	for (unsigned i = 0; i < VFLIGHT_FLIGHTS; i++) {
		struct vflight *f = &b->f[i];

		if (f->state == state && f->partition == partition && f->vp == vp && f->vector == vector)
			return f;
	}
	return NULL;
}

static struct vflight *new_flight(struct vflight_book *b)
{
	struct vflight *o = &b->f[0];

	for (unsigned i = 0; i < VFLIGHT_FLIGHTS; i++) {
		struct vflight *f = &b->f[i];

		if (f->state == FLIGHT_FREE)
			return f;
		if (f->route_ps < o->route_ps)
			o = f;
	}
	return o;
}

void vflight_pend(struct vflight_book *b, const struct vflight_pend *p)
{
	struct vflight *f;
	uint64_t a = p->seq ? take_post(b, p->partition, p->vp, p->seq) : 0;

	if (!a)
		a = p->assert_ps;
	if (p->seq) {
		/* A message moved into the SINT's slot: the one before it
		 * there is over, its slot freed.  If the guest wrote no EOM
		 * for it (none is needed without msg_pending, TLFS "SynIC
		 * Message Flags"), it has no eoi: hvsim does not see the
		 * store that freed the slot. */
		for (unsigned i = 0; i < VFLIGHT_FLIGHTS; i++) {
			f = &b->f[i];
			if (f->state == FLIGHT_HANDLED && f->end == VFLIGHT_END_EOM && f->partition == p->partition &&
			    f->vp == p->vp && f->pin == p->pin)
				f->state = FLIGHT_FREE;
		}
	}
	f = find(b, FLIGHT_PENDING, p->partition, p->vp, p->vector);
	if (f && p->merged)
		return;	/* the same interrupt, timed from the first */
	/* Not merged while the book has it pending: the hypervisor dropped
	 * that one unseen (an APIC reset cleared the IRR); this one takes
	 * its place. */
	if (!f)
		f = new_flight(b);
	*f = (struct vflight){
		.state = FLIGHT_PENDING, .end = p->end, .partition = p->partition, .vp = p->vp, .vector = p->vector,
		.kind = p->kind, .pin = p->pin, .assert_ps = a, .route_ps = at_least(p->route_ps, a),
	};
}

int vflight_injected(struct vflight_book *b, uint64_t partition, uint32_t vp, unsigned vector, uint64_t entry_ps,
		     uint64_t handler_ps, struct cpu_irq_stats *s, struct vflight_done *out)
{
	struct vflight *f = find(b, FLIGHT_PENDING, partition, vp, vector & 0xff);
	uint64_t entry, now;

	if (!f)
		return 0;
	/* A vector in service cannot be injected again (it holds PPR at
	 * its class, SDM 10.8.3.1): one still waiting for its EOI here was
	 * retired unseen. */
	for (unsigned i = 0; i < VFLIGHT_FLIGHTS; i++) {
		struct vflight *o = &b->f[i];

		if (o->state == FLIGHT_HANDLED && o->end == VFLIGHT_END_EOI && o->partition == partition &&
		    o->vp == vp && o->vector == (vector & 0xff))
			o->state = FLIGHT_FREE;
	}
	entry = at_least(entry_ps, f->route_ps);
	now = at_least(handler_ps, entry);
	f->handler_ps = now;
	s->kind[f->kind].count++;
	cpu_irq_sample(s, f->kind, CPU_IRQ_ROUTE, f->route_ps - f->assert_ps);
	cpu_irq_sample(s, f->kind, CPU_IRQ_DISPATCH, entry - f->route_ps);
	cpu_irq_sample(s, f->kind, CPU_IRQ_DELIVER, now - entry);
	cpu_irq_sample(s, f->kind, CPU_IRQ_TOTAL, now - f->assert_ps);
	*out = (struct vflight_done){ .kind = f->kind, .pin = f->pin, .assert_ps = f->assert_ps,
				      .route_ps = f->route_ps, .entry_ps = entry, .handler_ps = now };
	f->state = f->end == VFLIGHT_END_NONE ? FLIGHT_FREE : FLIGHT_HANDLED;
	return 1;
}

static void end(struct vflight *f, uint64_t t_ps, struct cpu_irq_stats *s)
{
	cpu_irq_sample(s, f->kind, CPU_IRQ_EOI, t_ps > f->handler_ps ? t_ps - f->handler_ps : 0);
	f->state = FLIGHT_FREE;
}

void vflight_eom(struct vflight_book *b, uint64_t partition, uint32_t vp, uint64_t t_ps, struct cpu_irq_stats *s)
{
	for (unsigned i = 0; i < VFLIGHT_FLIGHTS; i++) {
		struct vflight *f = &b->f[i];

		if (f->state == FLIGHT_HANDLED && f->end == VFLIGHT_END_EOM && f->partition == partition && f->vp == vp)
			end(f, t_ps, s);
	}
}

void vflight_eoi(struct vflight_book *b, uint64_t partition, uint32_t vp, unsigned vector, uint64_t t_ps,
		 struct cpu_irq_stats *s)
{
	for (unsigned i = 0; i < VFLIGHT_FLIGHTS; i++) {
		struct vflight *f = &b->f[i];

		if (f->state == FLIGHT_HANDLED && f->end == VFLIGHT_END_EOI && f->partition == partition &&
		    f->vp == vp && f->vector == (vector & 0xff))
			end(f, t_ps, s);
	}
}
