/* The local APIC of one logical processor (SDM Vol. 3 chapter 10):
 * xAPIC registers in the 4 KiB MMIO page and x2APIC MSRs, IA32_APIC_BASE
 * modes, interrupt acceptance and priority arbitration, the local vector
 * table, the timer (one-shot, periodic, TSC-deadline) and the ICR.
 *
 * The APIC bus is synchronous: an IPI reaches every destination inside
 * the ICR write, so delivery status bits always read idle (0).  There is
 * no thermal sensor, performance-monitoring counter or machine-check
 * model: the thermal, PMC and CMCI LVT entries exist as registers but
 * never fire.
 *
 * Every state change that can make something deliverable runs between
 * snap() and unsnap(), which calls cfg->kick once, and only when an
 * interrupt became deliverable (or a higher one did) or an NMI/INIT/SIPI/
 * SMI event became pending. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apic.h"

#define REG_COUNT 64		/* register offsets 0x000-0x3F0 (apic.h LAPIC_REG_*) */

/* Version register: a Sandy Bridge-like integrated APIC, 7 LVT entries,
 * EOI-broadcast suppression supported (SDM Vol. 3 10.4.8, 10.8.5). */
#define APIC_VERSION_VALUE (0x15u | (LAPIC_LVT_COUNT - 1u) << 16 | 1u << 24)

#define SVR_VECTOR 0xFFu
#define SVR_ENABLE (1u << 8)
#define SVR_EOI_SUPPRESS (1u << 12)	/* SDM Vol. 3 10.8.5 */

#define LVT_VECTOR 0xFFu
#define LVT_DELIVERY_STATUS (1u << 12)
#define LVT_POLARITY_LOW (1u << 13)
#define LVT_REMOTE_IRR (1u << 14)
#define LVT_LEVEL (1u << 15)
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_MODE_SHIFT 17

enum timer_mode {
	TIMER_ONESHOT = 0,
	TIMER_PERIODIC = 1,
	TIMER_TSC_DEADLINE = 2,
	TIMER_RESERVED = 3,
};

/* ESR bits (SDM Vol. 3 10.5.3, Figure 10-9) */
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER (1u << 7)

/* ICR low (SDM Vol. 3 10.6.1, Figure 10-12) */
#define ICR_DM_SHIFT 8
#define ICR_LOGICAL (1u << 11)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_SH_SHIFT 18

/* How each register offset may be accessed, and which bits a write keeps.
 * In x2APIC mode a write that sets a bit in neither `wmask` nor `ignore`
 * is #GP (SDM Vol. 3 10.12.1.2); in xAPIC mode such bits are dropped.
 * `ignore` holds read-only status bits (delivery status, remote IRR) that
 * software writes back after a read-modify-write. */
#define R_XAPIC (1u << 0)
#define W_XAPIC (1u << 1)
#define R_X2APIC (1u << 2)
#define W_X2APIC (1u << 3)
#define RW_BOTH (R_XAPIC | W_XAPIC | R_X2APIC | W_X2APIC)
#define RO_BOTH (R_XAPIC | R_X2APIC)

struct reg_desc {
	uint8_t access;
	uint32_t wmask;
	uint32_t ignore;
};

#define LVT_STATUS (LVT_DELIVERY_STATUS | LVT_REMOTE_IRR)
#define WORDS8(base, desc) \
	[(base) / 16] = desc, [(base) / 16 + 1] = desc, [(base) / 16 + 2] = desc, [(base) / 16 + 3] = desc, \
	[(base) / 16 + 4] = desc, [(base) / 16 + 5] = desc, [(base) / 16 + 6] = desc, [(base) / 16 + 7] = desc

static const struct reg_desc reg_table[REG_COUNT] = {
	[LAPIC_REG_ID / 16] = { R_XAPIC | W_XAPIC | R_X2APIC, 0xFF000000u, 0 },
	[LAPIC_REG_VERSION / 16] = { RO_BOTH, 0, 0 },
	[LAPIC_REG_TPR / 16] = { RW_BOTH, 0xFF, 0 },
	[LAPIC_REG_APR / 16] = { R_XAPIC, 0, 0 },	/* no APR in x2APIC mode */
	[LAPIC_REG_PPR / 16] = { RO_BOTH, 0, 0 },
	[LAPIC_REG_EOI / 16] = { W_XAPIC | W_X2APIC | R_XAPIC, 0, 0 },	/* xAPIC reads 0 */
	[LAPIC_REG_RRD / 16] = { R_XAPIC, 0, 0 },	/* remote read: not supported, reads 0 */
	[LAPIC_REG_LDR / 16] = { R_XAPIC | W_XAPIC | R_X2APIC, 0xFF000000u, 0 },
	[LAPIC_REG_DFR / 16] = { R_XAPIC | W_XAPIC, 0xF0000000u, 0 },
	/* Bit 9 (focus processor checking) is kept but has no effect. */
	[LAPIC_REG_SVR / 16] = { RW_BOTH, SVR_VECTOR | SVR_ENABLE | (1u << 9) | SVR_EOI_SUPPRESS, 0 },
	WORDS8(LAPIC_REG_ISR, ((struct reg_desc){ RO_BOTH, 0, 0 })),
	WORDS8(LAPIC_REG_TMR, ((struct reg_desc){ RO_BOTH, 0, 0 })),
	WORDS8(LAPIC_REG_IRR, ((struct reg_desc){ RO_BOTH, 0, 0 })),
	[LAPIC_REG_ESR / 16] = { RW_BOTH, 0, 0 },	/* x2APIC: only 0 may be written */
	[LAPIC_REG_LVT_CMCI / 16] = { RW_BOTH, 0x107FF, LVT_STATUS },
	[LAPIC_REG_ICR_LO / 16] = { RW_BOTH, 0xCCFFF, LVT_DELIVERY_STATUS },
	[LAPIC_REG_ICR_HI / 16] = { R_XAPIC | W_XAPIC, 0xFF000000u, 0 },
	[LAPIC_REG_LVT_TIMER / 16] = { RW_BOTH, 0x700FF, LVT_STATUS },
	[LAPIC_REG_LVT_TIMER / 16 + LAPIC_LVT_THERMAL] = { RW_BOTH, 0x107FF, LVT_STATUS },
	[LAPIC_REG_LVT_TIMER / 16 + LAPIC_LVT_PMC] = { RW_BOTH, 0x107FF, LVT_STATUS },
	[LAPIC_REG_LVT_TIMER / 16 + LAPIC_LVT_LINT0] = { RW_BOTH, 0x1A7FF, LVT_STATUS },
	[LAPIC_REG_LVT_TIMER / 16 + LAPIC_LVT_LINT1] = { RW_BOTH, 0x1A7FF, LVT_STATUS },
	[LAPIC_REG_LVT_ERROR / 16] = { RW_BOTH, 0x100FF, LVT_STATUS },
	[LAPIC_REG_TIMER_INIT / 16] = { RW_BOTH, 0xFFFFFFFFu, 0 },
	[LAPIC_REG_TIMER_CUR / 16] = { RO_BOTH, 0, 0 },
	[LAPIC_REG_TIMER_DCR / 16] = { RW_BOTH, 0xB, 0 },
	[LAPIC_REG_SELF_IPI / 16] = { W_X2APIC, 0xFF, 0 },
};

struct lapic {
	struct lapic_config cfg;
	uint64_t base_msr;
	uint8_t xapic_id;	/* xAPIC ID register bits 31:24 */
	uint8_t tpr;
	uint32_t ldr;		/* xAPIC LDR (x2APIC derives it from the id) */
	uint32_t dfr;
	uint32_t svr;
	uint32_t esr;		/* what software reads: latched at the last ESR write */
	uint32_t esr_pending;	/* errors seen since the last ESR write */
	int esr_armed;		/* the next error raises the LVT error interrupt */
	uint32_t icr_lo, icr_hi;	/* icr_hi: xAPIC bits 31:24, or the x2APIC destination */
	uint32_t lvt[LAPIC_LVT_COUNT];
	uint32_t irr[8], isr[8], tmr[8];
	struct irq_origin origin[256];	/* of each IRR/ISR vector, from acceptance */

	/* timer (SDM Vol. 3 10.5.4) */
	uint32_t timer_initial;
	uint32_t timer_dcr;
	uint64_t tsc_deadline;
	int timer_counting;	/* one-shot or periodic count in progress */
	uint64_t timer_base_ps;	/* when the count last (re)started */
	uint64_t timer_base_count;	/* ticks from base to the first expiry */
	uint64_t timer_expiries;	/* periodic: expiries since base */
	uint64_t timer_event;	/* scheduled expiry, 0 if none */

	int lint_level[2];	/* LINT0/LINT1 input pins, active high */
	struct irq_origin lint_origin[2];
	int extint_msg;		/* an ExtINT message from the bus awaits its INTA */
	struct irq_origin extint_origin;

	unsigned events;	/* LAPIC_EV_* */
	uint8_t sipi_vector;
	uint8_t ipi_kind;	/* the next IPI's source kind (lapic_set_ipi_kind), 0: IRQ_SRC_IPI */

	int depth;		/* nesting of snap()/unsnap() */
};

const char *irq_source_kind_name(enum irq_source_kind k)
{
	static const char *const names[IRQ_SRC_KINDS] = {
		[IRQ_SRC_PIN] = "pin",
		[IRQ_SRC_MSI] = "msi",
		[IRQ_SRC_IPI] = "ipi",
		[IRQ_SRC_LAPIC_TIMER] = "lapic-timer",
		[IRQ_SRC_LINT] = "lint",
		[IRQ_SRC_ERROR] = "lapic-error",
		[IRQ_SRC_SYNTH_TIMER] = "synth-timer",
		[IRQ_SRC_SYNIC_MSG] = "synic-msg",
		[IRQ_SRC_EVENT_FLAG] = "event-flag",
		[IRQ_SRC_HV_KICK] = "hv-kick",
		[IRQ_SRC_VAPIC_TIMER] = "vapic-timer",
		[IRQ_SRC_VIPI] = "vipi",
	};

	return (unsigned)k < IRQ_SRC_KINDS ? names[k] : "unknown";
}

/* ---- small helpers ---- */

static uint64_t now(const struct lapic *l)
{
	return sim_now(l->cfg.clk);
}

/* The first time at which a counter at `khz` has counted `cycles` from 0:
 * ceil(cycles * 1e9 / khz), so sim_ps_to_cycles() of it reads `cycles`.
 * A time past the end of simulated time (a TSC deadline of ~0, say) is
 * NEVER. */
#define NEVER UINT64_MAX
static uint64_t cycles_to_ps_ceil(unsigned __int128 cycles, uint64_t khz)
{
	unsigned __int128 ps = (cycles * 1000000000u + khz - 1) / khz;

	return ps >= NEVER ? NEVER : (uint64_t)ps;
}

static int hw_enabled(const struct lapic *l)
{
	return !!(l->base_msr & APIC_BASE_EN);
}

static int x2apic(const struct lapic *l)
{
	return !!(l->base_msr & APIC_BASE_EXTD);
}

static int test_bit(const uint32_t *a, unsigned v)
{
	return (a[v >> 5] >> (v & 31)) & 1;
}

static void set_bit(uint32_t *a, unsigned v, int on)
{
	if (on)
		a[v >> 5] |= 1u << (v & 31);
	else
		a[v >> 5] &= ~(1u << (v & 31));
}

static int highest_bit(const uint32_t *a)
{
	for (int i = 7; i >= 0; i--)
		if (a[i])
			return i * 32 + 31 - __builtin_clz(a[i]);
	return -1;
}

static uint32_t x2apic_ldr(uint32_t id)
{
	/* SDM Vol. 3 10.12.10.2: cluster = id[31:4], member bit = id[3:0]. */
	return (id >> 4) << 16 | 1u << (id & 15);
}

static unsigned timer_mode(const struct lapic *l)
{
	return (l->lvt[LAPIC_LVT_TIMER] >> LVT_TIMER_MODE_SHIFT) & 3;
}

static unsigned timer_divisor(uint32_t dcr)
{
	/* SDM Vol. 3 Figure 10-10: bits 3,1:0 = 111 divides by 1, n by 2^(n+1). */
	unsigned n = (dcr & 3) | ((dcr >> 1) & 4);

	return n == 7 ? 1 : 2u << n;
}

/* ---- kick ---- */

struct snap {
	int intr;
	unsigned events;
};

static struct snap snap(struct lapic *l)
{
	l->depth++;
	return (struct snap){ lapic_has_intr(l), l->events };
}

static void unsnap(struct lapic *l, struct snap s)
{
	int intr;

	if (--l->depth)
		return;	/* the outermost change decides */
	intr = lapic_has_intr(l);
	if (((intr >= 0 && intr != s.intr) || (l->events & ~s.events)) && l->cfg.kick)
		l->cfg.kick(l->cfg.opaque);
}

/* ---- priorities (SDM Vol. 3 10.8.3.1) ---- */

int lapic_isr_top(const struct lapic *l)
{
	return highest_bit(l->isr);
}

uint8_t lapic_ppr(const struct lapic *l)
{
	int isrv = highest_bit(l->isr);
	unsigned isr_class = isrv < 0 ? 0 : (unsigned)isrv & 0xF0;

	return (l->tpr & 0xF0) >= isr_class ? l->tpr : isr_class;
}

static uint8_t lapic_apr(const struct lapic *l)
{
	/* SDM Vol. 3 10.8.3.1 (arbitration priority, Figure 10-15) */
	int isrv = highest_bit(l->isr), irrv = highest_bit(l->irr);
	unsigned isr_class = isrv < 0 ? 0 : (unsigned)isrv & 0xF0;
	unsigned irr_class = irrv < 0 ? 0 : (unsigned)irrv & 0xF0;
	unsigned tpr_class = l->tpr & 0xF0, m = tpr_class;

	if (tpr_class >= irr_class && tpr_class > isr_class)
		return l->tpr;
	if (isr_class > m)
		m = isr_class;
	if (irr_class > m)
		m = irr_class;
	return m;
}

/* The highest IRR vector whose class is above the PPR's, or -1. */
static int deliverable_vector(const struct lapic *l)
{
	int v = highest_bit(l->irr);

	if (v < 0 || ((unsigned)v >> 4) <= (lapic_ppr(l) >> 4u))
		return -1;
	return v;
}

/* ---- errors (SDM Vol. 3 10.5.3) ---- */

static void lvt_fire(struct lapic *l, unsigned idx, const struct irq_origin *o);

static void local_origin(struct lapic *l, struct irq_origin *o, enum irq_source_kind kind, unsigned pin)
{
	uint64_t t = now(l);

	*o = (struct irq_origin){ .assert_ps = t, .route_ps = t, .kind = kind, .pin = pin };
}

static void apic_error(struct lapic *l, uint32_t bits)
{
	struct irq_origin o;

	l->esr_pending |= bits;
	/* An error raises the LVT error interrupt once; the next ESR write
	 * rearms it.  This also stops an illegal error vector from recursing. */
	if (!l->esr_armed)
		return;
	l->esr_armed = 0;
	local_origin(l, &o, IRQ_SRC_ERROR, LAPIC_LVT_ERROR);
	lvt_fire(l, LAPIC_LVT_ERROR, &o);
}

/* ---- acceptance ---- */

static void post_event(struct lapic *l, unsigned ev)
{
	l->events |= ev;
}

/* The event a delivery mode raises, or 0 for the interrupt modes. */
static unsigned dm_event(unsigned dm)
{
	switch (dm) {
	case APIC_DM_SMI:
		return LAPIC_EV_SMI;
	case APIC_DM_NMI:
		return LAPIC_EV_NMI;
	case APIC_DM_INIT:
		return LAPIC_EV_INIT;
	case APIC_DM_STARTUP:
		return LAPIC_EV_SIPI;
	default:
		return 0;
	}
}

/* A fixed or lowest-priority interrupt into the IRR (SDM Vol. 3 10.8.4). */
static void accept_fixed(struct lapic *l, uint8_t vector, int level, const struct irq_origin *o)
{
	if (vector < 16) {
		/* SDM Vol. 3 10.5.3: vectors 0-15 are never set in the IRR. */
		apic_error(l, ESR_RECV_ILLEGAL_VECTOR);
		return;
	}
	if (!lapic_sw_enabled(l))
		return;	/* SDM Vol. 3 10.4.7.2: only NMI/INIT/SIPI/SMI get through */
	if (!test_bit(l->irr, vector)) {
		/* A second request while the bit is set merges with the first,
		 * which keeps its origin. */
		set_bit(l->irr, vector, 1);
		l->origin[vector] = *o;
		l->origin[vector].accept_ps = now(l);
	}
	set_bit(l->tmr, vector, level);
}

void lapic_accept(struct lapic *l, const struct apic_msg *m)
{
	struct snap s;

	if (!hw_enabled(l))
		return;
	s = snap(l);
	switch (m->dm) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (m->level && !m->assert)
			break;	/* a level de-assert message carries no interrupt */
		accept_fixed(l, m->vector, m->level, &m->origin);
		break;
	case APIC_DM_INIT:
	case APIC_DM_SMI:
	case APIC_DM_NMI:
	case APIC_DM_STARTUP:
		/* INIT level de-assert only resynchronises arbitration ids
		 * (SDM Vol. 3 10.6.1), which this bus does not have. */
		if (m->dm == APIC_DM_INIT && m->level && !m->assert)
			break;
		if (m->dm == APIC_DM_STARTUP)
			l->sipi_vector = m->vector;
		post_event(l, dm_event(m->dm));
		break;
	case APIC_DM_EXTINT:
		/* An IO-APIC ExtINT redirection: the 8259 supplies the vector
		 * at the acknowledge (SDM Vol. 3 10.6.1 "ExtINT"). */
		if (lapic_sw_enabled(l)) {
			l->extint_msg = 1;
			l->extint_origin = m->origin;
			l->extint_origin.accept_ps = now(l);
		}
		break;
	default:
		break;	/* reserved delivery mode: ignored */
	}
	unsnap(l, s);
}

/* ---- the local vector table (SDM Vol. 3 10.5.1) ---- */

static int lint_asserted(const struct lapic *l, unsigned pin)
{
	int active_low = !!(l->lvt[LAPIC_LVT_LINT0 + pin] & LVT_POLARITY_LOW);

	return l->lint_level[pin] ^ active_low;
}

/* An LVT entry's interrupt is raised: edge-triggered except fixed LINT0 in
 * level mode, which lint_eval handles. */
static void lvt_fire(struct lapic *l, unsigned idx, const struct irq_origin *o)
{
	uint32_t lvt = l->lvt[idx];
	unsigned dm = (lvt >> 8) & 7;

	if (lvt & LVT_MASKED)
		return;
	if (idx == LAPIC_LVT_TIMER || idx == LAPIC_LVT_ERROR)
		dm = APIC_DM_FIXED;	/* these entries have no delivery mode field */
	if (dm == APIC_DM_FIXED)
		accept_fixed(l, lvt & LVT_VECTOR, 0, o);
	else if (dm != APIC_DM_STARTUP)	/* 110 is reserved in the LVT */
		post_event(l, dm_event(dm));
	/* ExtINT is a level that lapic_has_intr sees; 001, 011 are reserved. */
}

/* Re-evaluate a LINT pin after its level, its LVT entry or its remote IRR
 * changed; `rising` says the pin just became asserted. */
static void lint_eval(struct lapic *l, unsigned pin, int rising)
{
	unsigned idx = LAPIC_LVT_LINT0 + pin;
	uint32_t lvt = l->lvt[idx];
	struct irq_origin o = l->lint_origin[pin];

	if (lvt & LVT_MASKED)
		return;
	o.kind = IRQ_SRC_LINT;
	o.pin = idx;
	o.route_ps = now(l);
	/* SDM Vol. 3 10.5.1: the trigger bit counts only for fixed delivery;
	 * LINT1 does not support level (treated as edge here). */
	if (((lvt >> 8) & 7) == APIC_DM_FIXED && (lvt & LVT_LEVEL) && pin == 0) {
		if (!lint_asserted(l, pin) || (lvt & LVT_REMOTE_IRR))
			return;
		if ((lvt & LVT_VECTOR) < 16) {
			apic_error(l, ESR_RECV_ILLEGAL_VECTOR);
			return;
		}
		/* Remote IRR holds off the level until the EOI. */
		l->lvt[idx] |= LVT_REMOTE_IRR;
		accept_fixed(l, lvt & LVT_VECTOR, 1, &o);
		return;
	}
	if (rising)
		lvt_fire(l, idx, &o);
}

void lapic_set_lint(struct lapic *l, unsigned pin, int level, const struct irq_origin *o)
{
	struct snap s;
	int was;

	if (pin > 1)
		return;
	s = snap(l);
	was = hw_enabled(l) ? lint_asserted(l, pin) : l->lint_level[pin];
	l->lint_level[pin] = !!level;
	if (o)
		l->lint_origin[pin] = *o;
	else
		local_origin(l, &l->lint_origin[pin], IRQ_SRC_LINT, LAPIC_LVT_LINT0 + pin);
	if (!hw_enabled(l)) {
		/* SDM Vol. 3 10.4.3, 10.5.1: with the APIC globally disabled the
		 * pins are the processor's INTR (lapic_has_intr) and NMI. */
		if (pin == 1 && level && !was)
			post_event(l, LAPIC_EV_NMI);
	} else {
		lint_eval(l, pin, lint_asserted(l, pin) && !was);
	}
	unsnap(l, s);
}

static void lvt_write(struct lapic *l, unsigned idx, uint32_t v)
{
	uint32_t keep = l->lvt[idx] & LVT_REMOTE_IRR;

	if (idx == LAPIC_LVT_TIMER) {
		unsigned mode = (v >> LVT_TIMER_MODE_SHIFT) & 3;

		if (mode == TIMER_RESERVED)	/* xAPIC: keep the old mode */
			v = (v & ~(3u << LVT_TIMER_MODE_SHIFT)) |
			    (l->lvt[idx] & (3u << LVT_TIMER_MODE_SHIFT));
	}
	/* SDM Vol. 3 10.4.7.2: while software-disabled, masks stay set. */
	if (!lapic_sw_enabled(l))
		v |= LVT_MASKED;
	l->lvt[idx] = v | keep;
}

/* ---- timer (SDM Vol. 3 10.5.4) ---- */

static void timer_event(void *opaque);

static void timer_cancel(struct lapic *l)
{
	if (l->timer_event)
		sim_cancel(l->cfg.clk, l->timer_event);
	l->timer_event = 0;
}

static void timer_stop(struct lapic *l)
{
	timer_cancel(l);
	l->timer_counting = 0;
}

/* Schedule the next one-shot/periodic expiry from the base. */
static void timer_schedule(struct lapic *l)
{
	unsigned __int128 ticks = (unsigned __int128)l->timer_initial * l->timer_expiries + l->timer_base_count;
	uint64_t after = cycles_to_ps_ceil(ticks * timer_divisor(l->timer_dcr), l->cfg.bus_khz);

	timer_cancel(l);
	if (after < NEVER - l->timer_base_ps)
		l->timer_event = sim_schedule(l->cfg.clk, l->timer_base_ps + after, timer_event, l);
}

static void timer_start(struct lapic *l, uint64_t count)
{
	l->timer_counting = 1;
	l->timer_base_ps = now(l);
	l->timer_base_count = count;
	l->timer_expiries = 0;
	timer_schedule(l);
}

static uint32_t timer_current(const struct lapic *l)
{
	uint64_t ticks;

	if (!l->timer_counting || timer_mode(l) == TIMER_TSC_DEADLINE)
		return 0;
	ticks = sim_ps_to_cycles(now(l) - l->timer_base_ps, l->cfg.bus_khz) / timer_divisor(l->timer_dcr);
	if (ticks < l->timer_base_count)
		return (uint32_t)(l->timer_base_count - ticks);
	if (timer_mode(l) != TIMER_PERIODIC)
		return 0;
	/* Periodic: the count reloads from the initial count at each expiry. */
	return l->timer_initial - (uint32_t)((ticks - l->timer_base_count) % l->timer_initial);
}

static void timer_event(void *opaque)
{
	struct lapic *l = opaque;
	struct irq_origin o;
	struct snap s = snap(l);

	l->timer_event = 0;
	switch (timer_mode(l)) {
	case TIMER_PERIODIC:
		l->timer_expiries++;
		timer_schedule(l);
		break;
	case TIMER_TSC_DEADLINE:
		l->tsc_deadline = 0;	/* SDM Vol. 3 10.5.4.1: disarms itself */
		break;
	default:
		l->timer_counting = 0;
		break;
	}
	local_origin(l, &o, IRQ_SRC_LAPIC_TIMER, LAPIC_LVT_TIMER);
	lvt_fire(l, LAPIC_LVT_TIMER, &o);
	unsnap(l, s);
}

static void timer_write_initial(struct lapic *l, uint32_t v)
{
	if (timer_mode(l) == TIMER_TSC_DEADLINE)
		return;	/* SDM Vol. 3 10.5.4.1: ignored in TSC-deadline mode */
	timer_stop(l);
	l->timer_initial = v;
	if (v)	/* a write of 0 stops the timer (SDM Vol. 3 10.5.4) */
		timer_start(l, v);
}

static void timer_write_dcr(struct lapic *l, uint32_t v)
{
	uint32_t cur;

	if (!l->timer_counting || timer_divisor(v) == timer_divisor(l->timer_dcr)) {
		l->timer_dcr = v;
		return;
	}
	/* Counting goes on from the current count at the new rate. */
	cur = timer_current(l);
	l->timer_dcr = v;
	timer_start(l, cur);
}

static void timer_write_lvt(struct lapic *l, uint32_t v)
{
	unsigned old = timer_mode(l), mode;
	uint32_t cur = timer_current(l);

	lvt_write(l, LAPIC_LVT_TIMER, v);
	mode = timer_mode(l);
	if (mode == old)
		return;
	if (old == TIMER_TSC_DEADLINE || mode == TIMER_TSC_DEADLINE) {
		/* SDM Vol. 3 10.5.4.1: a switch into or out of TSC-deadline
		 * mode disarms the timer. */
		timer_stop(l);
		l->tsc_deadline = 0;
		return;
	}
	/* One-shot <-> periodic: the count goes on from where it is, and
	 * the new mode decides what happens at 0; a one-shot count that
	 * already reached 0 stays there (as processors do, and as
	 * kvm-unit-tests' apic test checks). */
	timer_stop(l);
	if (cur)
		timer_start(l, cur);
}

uint64_t lapic_tsc_deadline(const struct lapic *l)
{
	return timer_mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
}

void lapic_set_tsc_deadline(struct lapic *l, uint64_t tsc)
{
	struct snap s;
	uint64_t at;

	/* SDM Vol. 3 10.5.4.1: writes are ignored outside TSC-deadline mode. */
	if (!hw_enabled(l) || timer_mode(l) != TIMER_TSC_DEADLINE)
		return;
	s = snap(l);
	timer_cancel(l);
	l->tsc_deadline = tsc;
	if (tsc) {
		/* The TSC counts at tsc_khz from time 0; it reaches `tsc` at the
		 * rounded-up time, and a deadline already passed fires now. */
		at = cycles_to_ps_ceil(tsc, l->cfg.tsc_khz);
		if (at <= now(l))
			timer_event(l);
		else if (at != NEVER)
			l->timer_event = sim_schedule(l->cfg.clk, at, timer_event, l);
	}
	unsnap(l, s);
}

/* ---- EOI, SVR, ESR ---- */

static void do_eoi(struct lapic *l)
{
	int v = highest_bit(l->isr);

	if (v < 0)
		return;
	set_bit(l->isr, v, 0);
	if (!test_bit(l->tmr, v))
		return;
	/* SDM Vol. 3 10.5.1: EOI clears the remote IRR of a level LINT. */
	for (unsigned pin = 0; pin < 2; pin++) {
		uint32_t *lvt = &l->lvt[LAPIC_LVT_LINT0 + pin];

		if ((*lvt & LVT_REMOTE_IRR) && (*lvt & LVT_VECTOR) == (unsigned)v) {
			*lvt &= ~LVT_REMOTE_IRR;
			lint_eval(l, pin, 0);
		}
	}
	/* SDM Vol. 3 10.8.5: level-triggered EOIs are broadcast to the
	 * IO-APICs unless SVR bit 12 suppresses it (directed EOI). */
	if (!(l->svr & SVR_EOI_SUPPRESS) && l->cfg.bus)
		apic_bus_eoi(l->cfg.bus, (uint8_t)v);
}

static void svr_write(struct lapic *l, uint32_t v)
{
	int was = lapic_sw_enabled(l);

	l->svr = v;
	if (was && !lapic_sw_enabled(l))
		for (unsigned i = 0; i < LAPIC_LVT_COUNT; i++)
			l->lvt[i] |= LVT_MASKED;	/* SDM Vol. 3 10.4.7.2 */
}

static void esr_write(struct lapic *l)
{
	/* SDM Vol. 3 10.5.3: the write latches the errors seen since the
	 * last one into the readable ESR and rearms the error interrupt. */
	l->esr = l->esr_pending;
	l->esr_pending = 0;
	l->esr_armed = 1;
}

/* ---- ICR and self IPI (SDM Vol. 3 10.6.1, 10.12.9, 10.12.11) ---- */

/* Whether Table 10-3 lists the combination as valid. */
static int icr_valid(unsigned dm, unsigned shorthand)
{
	switch (dm) {
	case APIC_DM_FIXED:
		return 1;
	case APIC_DM_LOWEST:
	case APIC_DM_SMI:
	case APIC_DM_NMI:
	case APIC_DM_INIT:
	case APIC_DM_STARTUP:
		return shorthand == APIC_SH_NONE || shorthand == APIC_SH_OTHERS;
	default:
		return 0;	/* 011, ExtINT: reserved in the ICR */
	}
}

void lapic_set_ipi_kind(struct lapic *l, enum irq_source_kind kind)
{
	l->ipi_kind = (uint8_t)kind;
}

static void send_ipi(struct lapic *l, uint32_t lo, uint32_t dest)
{
	enum irq_source_kind kind = l->ipi_kind ? (enum irq_source_kind)l->ipi_kind : IRQ_SRC_IPI;
	struct apic_msg m = {
		.dest = dest,
		.src = l->cfg.index,
		.vector = lo & 0xFF,
		.dm = (lo >> ICR_DM_SHIFT) & 7,
		.logical = !!(lo & ICR_LOGICAL),
		.shorthand = (lo >> ICR_SH_SHIFT) & 3,
		.x2apic = (uint8_t)x2apic(l),
		.assert = 1,
	};

	if (m.dm == APIC_DM_INIT && (lo & ICR_LEVEL) && !(lo & ICR_ASSERT)) {
		/* INIT level de-assert: the only level message (Table 10-3). */
		m.level = 1;
		m.assert = 0;
	}
	l->ipi_kind = 0;	/* one IPI, sent or not */
	/* Every other IPI goes out edge-triggered, whatever the trigger and
	 * level bits say (Table 10-3 note 2). */
	if (!icr_valid(m.dm, m.shorthand))
		return;
	if ((m.dm == APIC_DM_FIXED || m.dm == APIC_DM_LOWEST) && m.vector < 16) {
		apic_error(l, ESR_SEND_ILLEGAL_VECTOR);
		return;
	}
	local_origin(l, &m.origin, kind, lapic_id(l) & 0xFF);
	if (l->cfg.bus)
		apic_bus_send(l->cfg.bus, &m);
}

/* ---- register file, shared by both modes ---- */

static uint32_t reg_read(struct lapic *l, unsigned off)
{
	unsigned idx = off / 16;

	switch (off) {
	case LAPIC_REG_ID:
		return x2apic(l) ? l->cfg.index : (uint32_t)l->xapic_id << 24;
	case LAPIC_REG_VERSION:
		return APIC_VERSION_VALUE;
	case LAPIC_REG_TPR:
		return l->tpr;
	case LAPIC_REG_APR:
		return lapic_apr(l);
	case LAPIC_REG_PPR:
		return lapic_ppr(l);
	case LAPIC_REG_LDR:
		return x2apic(l) ? x2apic_ldr(l->cfg.index) : l->ldr;
	case LAPIC_REG_DFR:
		return l->dfr;
	case LAPIC_REG_SVR:
		return l->svr;
	case LAPIC_REG_ESR:
		return l->esr;
	case LAPIC_REG_LVT_CMCI:
		return l->lvt[LAPIC_LVT_CMCI];
	case LAPIC_REG_ICR_LO:
		return l->icr_lo;	/* delivery status: always idle */
	case LAPIC_REG_ICR_HI:
		return l->icr_hi;
	case LAPIC_REG_TIMER_INIT:
		return l->timer_initial;
	case LAPIC_REG_TIMER_CUR:
		return timer_current(l);
	case LAPIC_REG_TIMER_DCR:
		return l->timer_dcr;
	default:
		break;
	}
	if (off >= LAPIC_REG_LVT_TIMER && off <= LAPIC_REG_LVT_ERROR)
		return l->lvt[idx - LAPIC_REG_LVT_TIMER / 16];
	if (off >= LAPIC_REG_ISR && off < LAPIC_REG_ISR + 0x80)
		return l->isr[idx - LAPIC_REG_ISR / 16];
	if (off >= LAPIC_REG_TMR && off < LAPIC_REG_TMR + 0x80)
		return l->tmr[idx - LAPIC_REG_TMR / 16];
	if (off >= LAPIC_REG_IRR && off < LAPIC_REG_IRR + 0x80)
		return l->irr[idx - LAPIC_REG_IRR / 16];
	return 0;	/* EOI and remote read read 0 */
}

/* `v` is already masked to the register's writable bits. */
static void reg_write(struct lapic *l, unsigned off, uint32_t v)
{
	switch (off) {
	case LAPIC_REG_ID:
		l->xapic_id = v >> 24;
		break;
	case LAPIC_REG_TPR:
		l->tpr = v;
		break;
	case LAPIC_REG_EOI:
		do_eoi(l);
		break;
	case LAPIC_REG_LDR:
		l->ldr = v;
		break;
	case LAPIC_REG_DFR:
		l->dfr = v | 0x0FFFFFFFu;	/* bits 27:0 read as ones */
		break;
	case LAPIC_REG_SVR:
		svr_write(l, v);
		break;
	case LAPIC_REG_ESR:
		esr_write(l);
		break;
	case LAPIC_REG_LVT_CMCI:
		lvt_write(l, LAPIC_LVT_CMCI, v);
		break;
	case LAPIC_REG_ICR_LO:
		l->icr_lo = v;
		send_ipi(l, v, x2apic(l) ? l->icr_hi : l->icr_hi >> 24);
		break;
	case LAPIC_REG_ICR_HI:
		l->icr_hi = v;
		break;
	case LAPIC_REG_LVT_TIMER:
		timer_write_lvt(l, v);
		break;
	case LAPIC_REG_TIMER_INIT:
		timer_write_initial(l, v);
		break;
	case LAPIC_REG_TIMER_DCR:
		timer_write_dcr(l, v);
		break;
	case LAPIC_REG_SELF_IPI:
		send_ipi(l, v | APIC_SH_SELF << ICR_SH_SHIFT, 0);
		break;
	default:
		if (off > LAPIC_REG_LVT_TIMER && off <= LAPIC_REG_LVT_ERROR) {
			unsigned idx = (off - LAPIC_REG_LVT_TIMER) / 16;

			lvt_write(l, idx, v);
			if (idx == LAPIC_LVT_LINT0 || idx == LAPIC_LVT_LINT1)
				lint_eval(l, idx - LAPIC_LVT_LINT0, 0);
		}
		break;	/* read-only registers: writes ignored */
	}
}

uint32_t lapic_mmio_read(struct lapic *l, uint32_t offset)
{
	unsigned off = offset & 0xFF0;
	struct snap s;

	if ((offset & 0xC) || offset >= 0x1000)
		return 0;	/* bytes 4-15 of a register */
	if (off >= REG_COUNT * 16 || !(reg_table[off / 16].access & R_XAPIC)) {
		s = snap(l);
		apic_error(l, ESR_ILLEGAL_REGISTER);	/* SDM Vol. 3 10.5.3 bit 7 */
		unsnap(l, s);
		return 0;
	}
	return reg_read(l, off);
}

void lapic_mmio_write(struct lapic *l, uint32_t offset, uint32_t value)
{
	unsigned off = offset & 0xFF0;
	const struct reg_desc *d;
	struct snap s;

	if ((offset & 0xC) || offset >= 0x1000)
		return;
	s = snap(l);
	if (off >= REG_COUNT * 16 || !(reg_table[off / 16].access & (R_XAPIC | W_XAPIC))) {
		apic_error(l, ESR_ILLEGAL_REGISTER);
	} else {
		d = &reg_table[off / 16];
		if (d->access & W_XAPIC)
			reg_write(l, off, value & d->wmask);
	}
	unsnap(l, s);
}

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *v)
{
	unsigned off = (msr - MSR_X2APIC_FIRST) * 16;

	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !hw_enabled(l) || !x2apic(l) ||
	    off >= REG_COUNT * 16 || !(reg_table[off / 16].access & R_X2APIC))
		return -1;	/* SDM Vol. 3 10.12.1.2: #GP */
	*v = reg_read(l, off);
	if (off == LAPIC_REG_ICR_LO)
		*v |= (uint64_t)l->icr_hi << 32;
	return 0;
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t v)
{
	unsigned off = (msr - MSR_X2APIC_FIRST) * 16;
	const struct reg_desc *d;
	uint64_t allowed;
	struct snap s;

	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !hw_enabled(l) || !x2apic(l) ||
	    off >= REG_COUNT * 16 || !(reg_table[off / 16].access & W_X2APIC))
		return -1;
	d = &reg_table[off / 16];
	/* SDM Vol. 3 10.12.1.2: reserved bits set is #GP; the ICR is the one
	 * 64-bit register (destination in bits 63:32, no delivery status). */
	allowed = off == LAPIC_REG_ICR_LO ? (0xFFFFFFFFull << 32) | d->wmask : d->wmask | d->ignore;
	if (v & ~allowed)
		return -1;
	if (off == LAPIC_REG_LVT_TIMER && ((v >> LVT_TIMER_MODE_SHIFT) & 3) == TIMER_RESERVED)
		return -1;
	s = snap(l);
	if (off == LAPIC_REG_ICR_LO)
		l->icr_hi = (uint32_t)(v >> 32);
	reg_write(l, off, (uint32_t)v & d->wmask);
	unsnap(l, s);
	return 0;
}

/* ---- the CPU's side ---- */

/* Where an ExtINT comes from: LINT pin 0 or 1, EXTINT_FROM_MSG, or -1. */
#define EXTINT_FROM_MSG 2
static int extint_source(const struct lapic *l)
{
	if (!hw_enabled(l))
		return l->lint_level[0] ? 0 : -1;	/* the pin is INTR */
	if (l->extint_msg)
		return EXTINT_FROM_MSG;
	for (unsigned pin = 0; pin < 2; pin++) {
		uint32_t lvt = l->lvt[LAPIC_LVT_LINT0 + pin];

		/* SDM Vol. 3 10.5.1: ExtINT is always level-sensitive. */
		if (!(lvt & LVT_MASKED) && ((lvt >> 8) & 7) == APIC_DM_EXTINT && lint_asserted(l, pin))
			return (int)pin;
	}
	return -1;
}

int lapic_has_intr(const struct lapic *l)
{
	/* ExtINT bypasses the IRR and the priority classes. */
	if (extint_source(l) >= 0)
		return APIC_EXTINT_PENDING;
	if (!hw_enabled(l) || !lapic_sw_enabled(l))
		return -1;
	return deliverable_vector(l);
}

int lapic_ack_intr(struct lapic *l, struct irq_origin *o)
{
	struct irq_origin none = { 0 };
	int src = extint_source(l), v;

	if (!o)
		o = &none;
	if (src >= 0) {
		if (src == EXTINT_FROM_MSG) {
			l->extint_msg = 0;
			*o = l->extint_origin;
		} else {
			*o = l->lint_origin[src];
			o->accept_ps = now(l);
		}
		v = l->cfg.bus ? apic_bus_extint_ack(l->cfg.bus) : -1;
		return v >= 0 ? v : (int)(l->svr & SVR_VECTOR);
	}
	v = lapic_sw_enabled(l) && hw_enabled(l) ? deliverable_vector(l) : -1;
	if (v < 0) {
		/* SDM Vol. 3 10.9: nothing left to deliver at the INTA cycle. */
		*o = (struct irq_origin){ 0 };
		return l->svr & SVR_VECTOR;
	}
	set_bit(l->irr, v, 0);
	set_bit(l->isr, v, 1);
	*o = l->origin[v];
	return v;
}

unsigned lapic_take_events(struct lapic *l, uint8_t *sipi_vector)
{
	unsigned ev = l->events;

	if (sipi_vector)
		*sipi_vector = l->sipi_vector;
	l->events = 0;
	return ev;
}

unsigned lapic_pending_events(const struct lapic *l)
{
	return l->events;
}

uint8_t lapic_tpr(const struct lapic *l)
{
	return l->tpr;
}

void lapic_set_tpr(struct lapic *l, uint8_t tpr)
{
	struct snap s = snap(l);

	l->tpr = tpr;
	unsnap(l, s);
}

/* ---- destinations (SDM Vol. 3 10.6.2.2, 10.12.10) ---- */

int lapic_match_logical(const struct lapic *l, uint32_t dest, int x2apic_format)
{
	uint32_t ldr, d8;

	if (x2apic(l)) {
		/* An 8-bit destination (IO-APIC, MSI) is cluster 0; 0xFF
		 * stays a broadcast. */
		if (dest == 0xFFFFFFFFu || (!x2apic_format && dest == 0xFF))
			return 1;
		ldr = x2apic_ldr(l->cfg.index);
		return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xFFFF);
	}
	d8 = x2apic_format && dest == 0xFFFFFFFFu ? 0xFF : dest & 0xFF;
	ldr = l->ldr >> 24;
	switch (l->dfr >> 28) {
	case 0xF:	/* flat: a bit per APIC */
		return !!(d8 & ldr);
	case 0x0:	/* cluster: cluster 15 addresses every cluster */
		return ((d8 >> 4) == 0xF || (d8 >> 4) == (ldr >> 4)) && (d8 & ldr & 0xF);
	default:
		return 0;	/* undefined model: matches nothing */
	}
}

/* ---- IA32_APIC_BASE and reset (SDM Vol. 3 10.4.4, 10.4.7, 10.12.5) ---- */

static void reset_registers(struct lapic *l, int keep_id)
{
	timer_stop(l);
	if (!keep_id)
		l->xapic_id = (uint8_t)l->cfg.index;
	l->tpr = 0;
	l->ldr = 0;
	l->dfr = 0xFFFFFFFFu;
	l->svr = 0xFF;	/* software-disabled */
	l->esr = l->esr_pending = 0;
	l->esr_armed = 1;
	l->icr_lo = l->icr_hi = 0;
	for (unsigned i = 0; i < LAPIC_LVT_COUNT; i++)
		l->lvt[i] = LVT_MASKED;
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	memset(l->origin, 0, sizeof(l->origin));
	l->timer_initial = 0;
	l->timer_dcr = 0;
	l->tsc_deadline = 0;
	l->extint_msg = 0;
}

void lapic_reset(struct lapic *l, int init)
{
	/* INIT keeps IA32_APIC_BASE (and so x2APIC mode) and the APIC id
	 * (SDM Vol. 3 10.4.7.3, 10.12.5.1); pending events are the CPU's. */
	reset_registers(l, init);
	l->ipi_kind = 0;
	if (init)
		return;
	l->base_msr = APIC_DEFAULT_BASE | APIC_BASE_EN | (l->cfg.bsp ? APIC_BASE_BSP : 0);
	l->events = 0;
	l->sipi_vector = 0;
}

uint64_t lapic_base_msr(const struct lapic *l)
{
	return l->base_msr;
}

int lapic_write_base_msr(struct lapic *l, uint64_t v)
{
	unsigned bits = l->cfg.phys_bits ? l->cfg.phys_bits : 36;
	uint64_t rsvd = 0xFFull | 1ull << 9 | ~((1ull << bits) - 1);
	int en = !!(v & APIC_BASE_EN), extd = !!(v & APIC_BASE_EXTD);
	struct snap s;

	if (v & rsvd)
		return -1;
	/* SDM Vol. 3 10.12.5, Figure 10-27: EXTD without EN is invalid, and
	 * x2APIC is left only through disabled and entered only from xAPIC. */
	if (extd && !en)
		return -1;
	if (x2apic(l) && en && !extd)
		return -1;
	if (!hw_enabled(l) && extd)
		return -1;
	s = snap(l);
	if (hw_enabled(l) && !en)
		reset_registers(l, 0);	/* disabling resets the APIC's state */
	/* BSP is read-only: it comes from the configuration. */
	l->base_msr = (v & ~APIC_BASE_BSP) | (l->cfg.bsp ? APIC_BASE_BSP : 0);
	unsnap(l, s);
	return 0;
}

uint64_t lapic_mmio_base(const struct lapic *l)
{
	return l->base_msr & ~0xFFFull;
}

int lapic_xapic_mmio_enabled(const struct lapic *l)
{
	return hw_enabled(l) && !x2apic(l);
}

int lapic_x2apic_mode(const struct lapic *l)
{
	return hw_enabled(l) && x2apic(l);
}

int lapic_sw_enabled(const struct lapic *l)
{
	return !!(l->svr & SVR_ENABLE);
}

uint32_t lapic_id(const struct lapic *l)
{
	return x2apic(l) ? l->cfg.index : l->xapic_id;
}

struct lapic *lapic_new(const struct lapic_config *cfg)
{
	struct lapic *l;

	if (!cfg || !cfg->clk || !cfg->tsc_khz || !cfg->bus_khz) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->cfg = *cfg;
	lapic_reset(l, 0);
	return l;
}

void lapic_free(struct lapic *l)
{
	if (!l)
		return;
	timer_cancel(l);
	free(l);
}
