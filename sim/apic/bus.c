/* The APIC bus: carries IPIs, IO-APIC redirections and MSIs to the local
 * APICs they address (SDM Vol. 3 10.6.2), the LAPICs' EOI broadcasts to
 * the IO-APIC, the 8259's INTR to every LINT0 and its INTA cycle.
 *
 * Delivery is synchronous: a message reaches every destination before
 * apic_bus_send returns, in LP index order. */
#include <stdlib.h>

#include "apic.h"

struct apic_bus {
	unsigned n;
	struct lapic **lapics;	/* by LP index; NULL until attached */
	const struct sim_clock *clk;
	apic_eoi_fn *eoi_fn;
	void *eoi_opaque;
	apic_extint_ack_fn *extint_fn;
	void *extint_opaque;
};

struct apic_bus *apic_bus_new(unsigned nlps)
{
	struct apic_bus *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->lapics = calloc(nlps ? nlps : 1, sizeof(*b->lapics));
	if (!b->lapics) {
		free(b);
		return NULL;
	}
	b->n = nlps;
	return b;
}

void apic_bus_free(struct apic_bus *b)
{
	if (!b)
		return;
	free(b->lapics);
	free(b);
}

void apic_bus_attach(struct apic_bus *b, unsigned lp, struct lapic *l)
{
	if (lp < b->n)
		b->lapics[lp] = l;
}

void apic_bus_set_clock(struct apic_bus *b, const struct sim_clock *clk)
{
	b->clk = clk;
}

struct lapic *apic_bus_lapic(const struct apic_bus *b, unsigned lp)
{
	return lp < b->n ? b->lapics[lp] : NULL;
}

unsigned apic_bus_count(const struct apic_bus *b)
{
	return b->n;
}

static int match_physical(const struct lapic *l, const struct apic_msg *m)
{
	/* SDM Vol. 3 10.6.2.1, 10.12.9: all ones is a broadcast. */
	if (m->dest == (m->x2apic ? 0xFFFFFFFFu : 0xFFu))
		return 1;
	return lapic_id(l) == m->dest;
}

/* Whether LP `lp` is a destination of `m`, before lowest-priority
 * arbitration.  A globally disabled LAPIC is on no bus. */
static int is_destination(const struct apic_bus *b, unsigned lp, const struct apic_msg *m)
{
	const struct lapic *l = b->lapics[lp];

	if (!l || !(lapic_base_msr(l) & APIC_BASE_EN))
		return 0;
	switch (m->shorthand) {
	case APIC_SH_SELF:
		return lp == m->src;
	case APIC_SH_ALL:
		return 1;
	case APIC_SH_OTHERS:
		return lp != m->src;
	default:
		return m->logical ? lapic_match_logical(l, m->dest, m->x2apic) : match_physical(l, m);
	}
}

unsigned apic_bus_send(struct apic_bus *b, const struct apic_msg *m)
{
	unsigned count = 0;
	int best = -1;

	if (m->dm == APIC_DM_INIT && m->level && !m->assert) {
		/* INIT level de-assert goes to every LAPIC whatever the
		 * destination (SDM Vol. 3 10.6.1); each ignores it. */
		for (unsigned lp = 0; lp < b->n; lp++) {
			if (b->lapics[lp] && (lapic_base_msr(b->lapics[lp]) & APIC_BASE_EN)) {
				lapic_accept(b->lapics[lp], m);
				count++;
			}
		}
		return count;
	}
	if (m->dm == APIC_DM_LOWEST) {
		/* SDM Vol. 3 10.6.2.4: the destination at the lowest priority
		 * takes it; ties go to the lowest LP index, so a run is
		 * deterministic.  A software-disabled LAPIC does not compete. */
		for (unsigned lp = 0; lp < b->n; lp++) {
			if (!is_destination(b, lp, m) || !lapic_sw_enabled(b->lapics[lp]))
				continue;
			if (best < 0 || lapic_ppr(b->lapics[lp]) < lapic_ppr(b->lapics[best]))
				best = (int)lp;
		}
		if (best < 0)
			return 0;
		lapic_accept(b->lapics[best], m);
		return 1;
	}
	for (unsigned lp = 0; lp < b->n; lp++) {
		if (is_destination(b, lp, m)) {
			lapic_accept(b->lapics[lp], m);
			count++;
		}
	}
	return count;
}

unsigned apic_bus_send_cb(void *bus, const struct apic_msg *m)
{
	return apic_bus_send(bus, m);
}

int apic_bus_msi(struct apic_bus *b, uint64_t addr, uint32_t data, const struct irq_origin *o)
{
	struct apic_msg m = { 0 };

	/* SDM Vol. 3 10.11.1: the address is 0xFEE in bits 31:20, nothing
	 * above bit 31. */
	if ((addr >> 20) != 0xFEE)
		return -1;
	m.dest = (addr >> 12) & 0xFF;
	m.logical = (addr >> 2) & 1;	/* DM */
	m.src = APIC_NO_SOURCE;
	/* SDM Vol. 3 10.11.2: vector 7:0, delivery mode 10:8, level 14,
	 * trigger mode 15. */
	m.vector = data & 0xFF;
	m.dm = (data >> 8) & 7;
	m.level = (data >> 15) & 1;
	m.assert = m.level ? (data >> 14) & 1 : 1;
	if (o)
		m.origin = *o;
	m.origin.kind = IRQ_SRC_MSI;
	m.origin.route_ps = b->clk ? sim_now(b->clk) : m.origin.assert_ps;
	switch (m.dm) {
	case APIC_DM_FIXED:
		/* RH (bit 3) set: redirectable, i.e. lowest priority among the
		 * destinations (SDM Vol. 3 10.11.1). */
		if ((addr >> 3) & 1)
			m.dm = APIC_DM_LOWEST;
		break;
	case APIC_DM_LOWEST:
	case APIC_DM_SMI:
	case APIC_DM_NMI:
	case APIC_DM_INIT:
	case APIC_DM_EXTINT:
		break;
	default:
		return 0;	/* 011 and 110 are reserved: nobody accepts it */
	}
	return (int)apic_bus_send(b, &m);
}

void apic_bus_set_eoi_listener(struct apic_bus *b, apic_eoi_fn *fn, void *opaque)
{
	b->eoi_fn = fn;
	b->eoi_opaque = opaque;
}

void apic_bus_eoi(struct apic_bus *b, uint8_t vector)
{
	if (b->eoi_fn)
		b->eoi_fn(b->eoi_opaque, vector);
}

void apic_bus_set_extint(struct apic_bus *b, apic_extint_ack_fn *fn, void *opaque)
{
	b->extint_fn = fn;
	b->extint_opaque = opaque;
}

int apic_bus_extint_ack(struct apic_bus *b)
{
	return b->extint_fn ? b->extint_fn(b->extint_opaque) : -1;
}

void apic_bus_set_lint0(struct apic_bus *b, int level, const struct irq_origin *o)
{
	for (unsigned lp = 0; lp < b->n; lp++)
		if (b->lapics[lp])
			lapic_set_lint(b->lapics[lp], 0, level, o);
}
