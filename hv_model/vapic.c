/* The virtual local APIC of every child VP (docs/hypervisor.md "Virtual
 * APIC"): an x2APIC as an enlightened guest sees it, emulated on MSR
 * exits, and the interrupt delivery into the child that goes through it.
 *
 * Interface (SDM Vol. 3A 10.12, Table 10-6): the x2APIC MSRs 0x800-0x8FF
 * (the child's MSR bitmap makes reads and writes exit, partmgmt.c),
 * IA32_APIC_BASE, and the TLFS "Virtual Interrupt Controller" MSRs
 * HV_X64_MSR_EOI, _ICR, _TPR and _VP_ASSIST_PAGE (AccessApicMsrs).  A
 * #GP answers what 10.12.1.2-10.12.1.3 make one: a reserved address, a
 * write to a read-only register, a read of a write-only one, a non-zero
 * write to a reserved bit (bits 63:32 of every register but the ICR
 * included), a non-zero write to EOI or ESR, and any x2APIC MSR while
 * the APIC is not in x2APIC mode.
 *
 * Priorities (SDM 10.8.3): PPR is TPR when TPR[7:4] >= the class of the
 * highest in-service vector, else that class; a vector is deliverable
 * when its class is above PPR[7:4].  Delivery (SDM 10.8.4): before each
 * VM entry the highest deliverable IRR vector is injected as an external
 * interrupt if the guest can take one (RFLAGS.IF = 1, no STI/MOV SS
 * blocking, nothing else being injected), and moves from IRR to ISR;
 * otherwise interrupt-window exiting brings the VP back as soon as it
 * can (SDM 26.7.5).  A SynIC vector with auto-EOI does not enter the ISR
 * (TLFS "SINTx Registers").  EOI clears the highest ISR bit; a SINT that
 * uses that vector without auto-EOI then gets its waiting message
 * (synic.c).  Sources are edge-triggered (TMR reads 0).  A software-
 * disabled APIC (SVR bit 8 = 0) or a disabled one accepts no fixed
 * interrupt (SDM 10.4.7.2; KVM reads it the same way).
 *
 * IPIs (SDM 10.6.1, 10.12.9, 10.12.10): the ICR sends fixed (and
 * lowest-priority, delivered as fixed to the lowest VP index of the
 * destination set) interrupts to VPs of the same partition that have
 * started, by x2APIC ID (= VP index; 0xFFFFFFFF broadcast), by logical
 * cluster/mask (the LDR is derived, 10.12.10.2), or by shorthand (self,
 * all including self, all excluding self); SELF IPI is the self
 * shorthand.  A fixed vector below 16 is not sent (ESR bit 5, "send
 * illegal vector").  NMI, SMI, INIT and SIPI are not delivered: an AP
 * starts through HvCallStartVirtualProcessor (vpstart.c).
 *
 * The VP assist page's EOI assist (TLFS "EOI Assist"): when the vector
 * just injected is the only one in service, nothing else waits in the
 * IRR and it is neither a SynIC vector nor level-triggered, the
 * hypervisor sets bit 0 ("no EOI required") of the page's first
 * doubleword.  A guest that finds the bit set clears it instead of
 * writing EOI; the hypervisor performs that EOI at the VP's next exit
 * (hv_vapic_sync).  The bit is withdrawn when another vector is
 * injected first (the guest then EOIs both as usual).
 *
 * Start state: x2APIC mode (IA32_APIC_BASE EN | EXTD, BSP on VP 0) and
 * software-enabled (SVR 0x1FF), as firmware that enabled the APIC would
 * leave it, so a guest that only programs its SynIC receives its SINTs.
 * The LVT entries, timer count and divide registers are stored and read
 * back but nothing raises them (no virtual APIC timer, no LINT pins). */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

#define X2APIC_BASE_MSR 0x800
#define X2APIC_LAST_MSR 0x8ff

/* x2APIC MSRs (SDM Table 10-6). */
#define X2APIC_ID 0x802
#define X2APIC_VERSION 0x803
#define X2APIC_TPR 0x808
#define X2APIC_PPR 0x80a
#define X2APIC_EOI 0x80b
#define X2APIC_LDR 0x80d
#define X2APIC_SVR 0x80f
#define X2APIC_ISR0 0x810
#define X2APIC_TMR0 0x818
#define X2APIC_IRR0 0x820
#define X2APIC_ESR 0x828
#define X2APIC_LVT_CMCI 0x82f
#define X2APIC_ICR 0x830
#define X2APIC_LVT_TIMER 0x832	/* 0x832-0x837: timer, thermal, PMC, LINT0, LINT1, error */
#define X2APIC_LVT_ERROR 0x837
#define X2APIC_TIMER_ICR 0x838
#define X2APIC_TIMER_CCR 0x839
#define X2APIC_TIMER_DCR 0x83e
#define X2APIC_SELF_IPI 0x83f

/* Version: 0x14 (an integrated APIC), max LVT entry 6 (7 with CMCI);
 * bit 24 clear: no EOI-broadcast suppression (SDM 10.4.8). */
#define VAPIC_VERSION 0x00060014u
#define LVT_MASKED 0x10000u
#define LVT_DELIVERY_STATUS (1u << 12)	/* read-only; writes of it are ignored */

/* IA32_APIC_BASE (SDM 10.4.4, 10.12.1). */
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)
#define APIC_BASE_ADDR 0xfee00000ull

/* ICR (x2APIC, SDM Figure 10-28). */
#define ICR_VECTOR 0xffull
#define ICR_DM_SHIFT 8
#define ICR_DM_FIXED 0
#define ICR_DM_LOWEST 1
#define ICR_LOGICAL (1ull << 11)
#define ICR_SHORTHAND_SHIFT 18
#define ICR_RESERVED (0xfff00000ull | (3ull << 16) | (3ull << 12))
#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECEIVE_ILLEGAL (1u << 6)

/* The VP assist page's first doubleword, bit 0 (TLFS "EOI Assist"). */
#define ASSIST_NO_EOI_REQUIRED 1u

/* Writable bits of the LVT entries, CMCI first then 0x832-0x837 (SDM
 * Figure 10-8): vector, delivery mode where there is one, pin polarity
 * and trigger mode for LINT0/1, timer mode, mask. */
static const uint32_t lvt_writable[7] = {
	0x107ff,	/* CMCI */
	0x700ff,	/* timer: vector, mask, mode 18:17 */
	0x107ff,	/* thermal */
	0x107ff,	/* performance counters */
	0x1a7ff,	/* LINT0: also polarity 13, trigger 15 */
	0x1a7ff,	/* LINT1 */
	0x100ff,	/* error */
};

/* The index in lvt[] of an LVT register's MSR, -1 if it is none. */
static int lvt_slot(uint32_t idx)
{
	if (idx == X2APIC_LVT_CMCI)
		return 0;
	if (idx >= X2APIC_LVT_TIMER && idx <= X2APIC_LVT_ERROR)
		return (int)(idx - X2APIC_LVT_TIMER) + 1;
	return -1;
}

static bool bit(const uint32_t *set, unsigned v)
{
	return set[v / 32] >> (v % 32) & 1;
}

static void set_bit(uint32_t *set, unsigned v)
{
	set[v / 32] |= 1u << (v % 32);
}

static void clear_bit(uint32_t *set, unsigned v)
{
	set[v / 32] &= ~(1u << (v % 32));
}

static int highest(const uint32_t *set)
{
	for (int w = 7; w >= 0; w--)
		if (set[w])
			return w * 32 + 31 - __builtin_clz(set[w]);
	return -1;
}

static bool x2apic_mode(const struct hv_vapic *a)
{
	return (a->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD)) == (APIC_BASE_EN | APIC_BASE_EXTD);
}

static bool accepting(const struct hv_vapic *a)
{
	return (a->apic_base & APIC_BASE_EN) && (a->svr & 0x100);
}

/* SDM 10.8.3.1. */
static uint32_t ppr(const struct hv_vapic *a)
{
	int isrv = highest(a->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (a->tpr & 0xf0) >= isr_class ? a->tpr & 0xff : isr_class;
}

int hv_vapic_deliverable(const struct hv_vp *vp)
{
	const struct hv_vapic *a = &vp->vapic;
	int v = highest(a->irr);

	return v >= 0 && ((uint32_t)v & 0xf0) > (ppr(a) & 0xf0) ? v : -1;
}

/* Only the start state: the APIC of a VP that has run keeps its state
 * across StartVirtualProcessor as INIT would not (not modelled). */
static void reset_state(struct hv_vapic *a, uint64_t base)
{
	memset(a, 0, sizeof(*a));
	a->apic_base = base;
	a->svr = 0xff;		/* SDM 10.4.7.1: software-disabled after reset */
	for (unsigned i = 0; i < 7; i++)
		a->lvt[i] = LVT_MASKED;
	a->assist_vector = -1;
}

void hv_vapic_reset(struct hv_vp *vp)
{
	struct hv_vapic *a = &vp->vapic;

	reset_state(a, APIC_BASE_ADDR | APIC_BASE_EN | APIC_BASE_EXTD | (vp->index == 0 ? APIC_BASE_BSP : 0));
	a->svr = 0x1ff;		/* enabled, as firmware leaves it (the header comment) */
}

void hv_vapic_accept(struct hv_vp *vp, unsigned vector)
{
	struct hv_vapic *a = &vp->vapic;

	vector &= 0xff;
	if (!accepting(a))
		return;
	if (vector < 16) {
		a->esr_pending |= ESR_RECEIVE_ILLEGAL;	/* SDM 10.5.3 */
		return;
	}
	set_bit(a->irr, vector);
	clear_bit(a->tmr, vector);	/* edge */
	a->accepted++;
	/* HLT ends with an interrupt the processor is given (SDM Vol. 2A,
	 * HLT): one held off by the PPR leaves the VP halted. */
	if (hv_vapic_deliverable(vp) >= 0)
		vp->halted = 0;
}

/* The "no EOI required" doubleword of the VP assist page, if enabled and
 * the partition's RAM. */
static volatile uint32_t *assist_word(struct hv_vp *vp)
{
	uint64_t hpa;

	if (!(vp->vapic.assist & HV_X64_MSR_VP_ASSIST_PAGE_ENABLE))
		return NULL;
	hpa = hv_guest_ram(vp->part, vp->vapic.assist & HV_X64_MSR_PAGE_ADDRESS_MASK, 1);
	return hpa == ~0ull ? NULL : hv_va(hpa);
}

static void eoi(struct hv_vp *vp)
{
	struct hv_vapic *a = &vp->vapic;
	int v = highest(a->isr);

	a->eois++;
	if (v < 0)
		return;		/* SDM 10.8.5: nothing in service, nothing happens */
	clear_bit(a->isr, (unsigned)v);
	hv_synic_eoi(vp, (unsigned)v);
}

/* Withdraw a "no EOI required" offer the guest has not used. */
static void assist_withdraw(struct hv_vp *vp)
{
	volatile uint32_t *w = assist_word(vp);

	if (vp->vapic.assist_vector < 0)
		return;
	if (w)
		*w &= ~ASSIST_NO_EOI_REQUIRED;
	vp->vapic.assist_vector = -1;
}

void hv_vapic_sync(struct hv_vp *vp)
{
	struct hv_vapic *a = &vp->vapic;
	volatile uint32_t *w;

	if (a->assist_vector < 0)
		return;
	w = assist_word(vp);
	/* The guest cleared the bit: it skipped its EOI, done here. */
	if (!w || !(*w & ASSIST_NO_EOI_REQUIRED)) {
		a->assist_vector = -1;
		a->eois_assisted++;
		eoi(vp);
	}
}

/* After injecting `v`: offer the EOI assist if the EOI could not change
 * what is delivered next except by retiring v. */
static void assist_offer(struct hv_vp *vp, unsigned v)
{
	struct hv_vapic *a = &vp->vapic;
	volatile uint32_t *w = assist_word(vp);
	uint32_t others = 0;

	if (!w)
		return;
	for (unsigned i = 0; i < 8; i++)
		others |= a->irr[i] | (a->isr[i] & ~(i == v / 32 ? 1u << (v % 32) : 0));
	if (others || bit(a->tmr, v) || hv_synic_has_vector(vp, v))
		return;
	*w |= ASSIST_NO_EOI_REQUIRED;
	a->assist_vector = (int)v;
}

void hv_vapic_inject(struct hv_vp *vp)
{
	struct hv_vapic *a = &vp->vapic;
	int v = hv_vapic_deliverable(vp);

	if (v < 0 && !a->window)
		return;		/* the common case: nothing to do, no VMREAD */
	if (v >= 0 && hv_intr_can_inject()) {
		assist_withdraw(vp);
		hv_intr_inject((unsigned)v);
		clear_bit(a->irr, (unsigned)v);
		a->injected++;
		if (!hv_synic_auto_eoi(vp, (unsigned)v)) {
			set_bit(a->isr, (unsigned)v);
			assist_offer(vp, (unsigned)v);
		}
		v = hv_vapic_deliverable(vp);
	}
	hv_intr_window(&a->window, v >= 0);
}

/* ---- IPIs ---- */

static uint32_t ldr_of(unsigned id)
{
	/* SDM 10.12.10.2: cluster = id[19:4], bit id[3:0] in the low 16. */
	return (id >> 4) << 16 | 1u << (id & 0xf);
}

static bool started(const struct hv_vp *vp)
{
	return vp && vp->started;
}

/* Does `dest` (physical or logical) name VP `t`? */
static bool names(uint64_t icr, const struct hv_vp *t)
{
	uint32_t dest = (uint32_t)(icr >> 32);

	if (!(icr & ICR_LOGICAL))
		return dest == 0xffffffffu || dest == t->index;
	if ((dest >> 16) == 0xffff)
		return true;	/* logical broadcast cluster (SDM 10.12.10.2) */
	return (dest >> 16) == (ldr_of(t->index) >> 16) && (dest & ldr_of(t->index) & 0xffff);
}

/* Send what the ICR value says from `src` (SDM 10.6.1). */
static void send_icr(struct hv_vp *src, uint64_t icr)
{
	struct hv_partition *p = src->part;
	unsigned vec = (unsigned)(icr & ICR_VECTOR), dm = (icr >> ICR_DM_SHIFT) & 7, sh = (icr >> ICR_SHORTHAND_SHIFT) & 3;
	bool lowest = dm == ICR_DM_LOWEST;

	if (dm != ICR_DM_FIXED && dm != ICR_DM_LOWEST)
		return;		/* NMI, SMI, INIT, SIPI: not delivered (header comment) */
	if (vec < 16) {
		src->vapic.esr_pending |= ESR_SEND_ILLEGAL;
		return;
	}
	src->vapic.ipis_sent++;
	for (unsigned i = 0; i < p->nvps; i++) {
		struct hv_vp *t = p->vps[i];
		bool hit;

		if (!started(t))
			continue;
		switch (sh) {
		case 1:
			hit = t == src;
			break;
		case 2:
			hit = true;
			break;
		case 3:
			hit = t != src;
			break;
		default:
			hit = names(icr, t);
			break;
		}
		if (!hit)
			continue;
		hv_vapic_accept(t, vec);
		if (lowest)
			return;	/* the lowest VP index of the set takes it */
	}
}

/* ---- MSRs ---- */

/* -1 for #GP, 0 done. */
static int apic_base_write(struct hv_vp *vp, uint64_t v)
{
	struct hv_vapic *a = &vp->vapic;
	uint64_t now = a->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD), want = v & (APIC_BASE_EN | APIC_BASE_EXTD);
	uint64_t maxphys = 1ull << (cpuid(0x80000008, 0).eax & 0xff);

	/* Reserved: 7:0, 9, above MAXPHYADDR (SDM Figure 10-26).  The model
	 * does not relocate the APIC: the base stays. */
	if ((v & 0x2ffull) || v >= maxphys || (v & ~0xfffull) != APIC_BASE_ADDR)
		return -1;
	/* SDM 10.12.5, Figure 10-27: EXTD without EN is invalid; x2APIC
	 * leaves only to disabled; disabled enters xAPIC first. */
	if (want == APIC_BASE_EXTD)
		return -1;
	if (now == (APIC_BASE_EN | APIC_BASE_EXTD) && want == APIC_BASE_EN)
		return -1;
	if (now == 0 && want == (APIC_BASE_EN | APIC_BASE_EXTD))
		return -1;
	if (!want) {
		/* SDM 10.4.3: the APIC's state is lost; the VP assist page
		 * is the hypervisor's, not the APIC's, and stays. */
		uint64_t assist = a->assist;

		assist_withdraw(vp);
		reset_state(a, (v & ~APIC_BASE_BSP) | (a->apic_base & APIC_BASE_BSP));
		a->assist = assist;
	} else
		a->apic_base = (a->apic_base & APIC_BASE_BSP) | (v & ~APIC_BASE_BSP);
	return 0;
}

static int x2apic_read(struct hv_vp *vp, uint32_t idx, uint64_t *v)
{
	struct hv_vapic *a = &vp->vapic;

	if (!x2apic_mode(a))
		return -1;	/* SDM 10.12.1.2: not in x2APIC mode */
	if (idx >= X2APIC_ISR0 && idx < X2APIC_ISR0 + 8) {
		*v = a->isr[idx - X2APIC_ISR0];
		return 0;
	}
	if (idx >= X2APIC_TMR0 && idx < X2APIC_TMR0 + 8) {
		*v = a->tmr[idx - X2APIC_TMR0];
		return 0;
	}
	if (idx >= X2APIC_IRR0 && idx < X2APIC_IRR0 + 8) {
		*v = a->irr[idx - X2APIC_IRR0];
		return 0;
	}
	if (lvt_slot(idx) >= 0) {
		*v = a->lvt[lvt_slot(idx)];
		return 0;
	}
	switch (idx) {
	case X2APIC_ID:
		*v = vp->index;
		return 0;
	case X2APIC_VERSION:
		*v = VAPIC_VERSION;
		return 0;
	case X2APIC_TPR:
		*v = a->tpr;
		return 0;
	case X2APIC_PPR:
		*v = ppr(a);
		return 0;
	case X2APIC_LDR:
		*v = ldr_of(vp->index);
		return 0;
	case X2APIC_SVR:
		*v = a->svr;
		return 0;
	case X2APIC_ESR:
		*v = a->esr;
		return 0;
	case X2APIC_ICR:
		*v = a->icr;
		return 0;
	case X2APIC_TIMER_ICR:
		*v = a->timer_initial;
		return 0;
	case X2APIC_TIMER_CCR:
		*v = 0;		/* no virtual APIC timer counts */
		return 0;
	case X2APIC_TIMER_DCR:
		*v = a->timer_divide;
		return 0;
	default:
		return -1;	/* EOI and SELF IPI are write-only; the rest reserved */
	}
}

static int icr_write(struct hv_vp *vp, uint64_t v)
{
	if (v & ICR_RESERVED)
		return -1;
	vp->vapic.icr = v;
	send_icr(vp, v);
	return 0;
}

static int x2apic_write(struct hv_vp *vp, uint32_t idx, uint64_t v)
{
	struct hv_vapic *a = &vp->vapic;

	if (!x2apic_mode(a))
		return -1;
	if (idx == X2APIC_ICR)
		return icr_write(vp, v);
	if (v >> 32)
		return -1;	/* SDM 10.12.1.2: 63:32 reserved but in the ICR */
	if (lvt_slot(idx) >= 0) {
		int n = lvt_slot(idx);

		if (v & ~(lvt_writable[n] | LVT_DELIVERY_STATUS))
			return -1;
		a->lvt[n] = (uint32_t)v & lvt_writable[n];
		return 0;
	}
	switch (idx) {
	case X2APIC_TPR:
		if (v & ~0xffull)
			return -1;
		a->tpr = (uint32_t)v;
		return 0;
	case X2APIC_EOI:
		if (v)
			return -1;	/* SDM Table 10-6: non-zero EOI is #GP */
		eoi(vp);
		return 0;
	case X2APIC_SVR:
		/* 7:0 vector, 8 enable; focus checking (9) and EOI-broadcast
		 * suppression (12) are not offered. */
		if (v & ~0x1ffull)
			return -1;
		a->svr = (uint32_t)v;
		return 0;
	case X2APIC_ESR:
		if (v)
			return -1;	/* SDM Table 10-6 */
		/* SDM 10.5.3: a write latches the errors since the last one. */
		a->esr = a->esr_pending;
		a->esr_pending = 0;
		return 0;
	case X2APIC_TIMER_ICR:
		a->timer_initial = (uint32_t)v;
		return 0;
	case X2APIC_TIMER_DCR:
		if (v & ~0xbull)
			return -1;
		a->timer_divide = (uint32_t)v;
		return 0;
	case X2APIC_SELF_IPI:
		if (v & ~0xffull)
			return -1;
		/* SDM 10.12.11: as the ICR's self shorthand, fixed, edge. */
		send_icr(vp, 1ull << ICR_SHORTHAND_SHIFT | v);
		return 0;
	default:
		return -1;	/* read-only (ID, version, PPR, LDR, ISR, TMR, IRR, CCR) or reserved */
	}
}

/* The TLFS enlightened APIC MSRs and the VP assist page need
 * AccessApicMsrs (TLFS "Partition Privilege Flags"). */
static bool enlightened_apic(const struct hv_vp *vp)
{
	return (vp->part->privileges & HV_MSR_APIC_ACCESS_AVAILABLE) != 0;
}

static bool is_vapic_msr(const struct hv_vp *vp, uint32_t idx)
{
	if (vp->part->is_root)
		return false;	/* the root drives the physical APIC */
	return idx == MSR_IA32_APIC_BASE || (idx >= X2APIC_BASE_MSR && idx <= X2APIC_LAST_MSR) ||
	       (idx >= HV_X64_MSR_EOI && idx <= HV_X64_MSR_VP_ASSIST_PAGE);
}

int hv_vapic_msr_read(struct hv_vp *vp, uint32_t idx, uint64_t *v)
{
	if (!is_vapic_msr(vp, idx))
		return 1;
	if (idx == MSR_IA32_APIC_BASE) {
		*v = vp->vapic.apic_base;
		return 0;
	}
	if (idx >= X2APIC_BASE_MSR && idx <= X2APIC_LAST_MSR)
		return x2apic_read(vp, idx, v);
	if (!enlightened_apic(vp))
		return -1;
	switch (idx) {
	case HV_X64_MSR_ICR:
		return x2apic_read(vp, X2APIC_ICR, v);
	case HV_X64_MSR_TPR:
		return x2apic_read(vp, X2APIC_TPR, v);
	case HV_X64_MSR_VP_ASSIST_PAGE:
		*v = vp->vapic.assist;
		return 0;
	default:
		return -1;	/* HV_X64_MSR_EOI is write-only (TLFS) */
	}
}

int hv_vapic_msr_write(struct hv_vp *vp, uint32_t idx, uint64_t v)
{
	uint64_t old;

	if (!is_vapic_msr(vp, idx))
		return 1;
	if (idx == MSR_IA32_APIC_BASE)
		return apic_base_write(vp, v);
	if (idx >= X2APIC_BASE_MSR && idx <= X2APIC_LAST_MSR)
		return x2apic_write(vp, idx, v);
	if (!enlightened_apic(vp))
		return -1;
	switch (idx) {
	case HV_X64_MSR_EOI:
		/* TLFS: bits 31:0 are ignored ("EOI"), 63:32 RsvdZ. */
		if (v >> 32 || !x2apic_mode(&vp->vapic))
			return -1;
		eoi(vp);
		return 0;
	case HV_X64_MSR_ICR:
		return x2apic_write(vp, X2APIC_ICR, v);
	case HV_X64_MSR_TPR:
		return x2apic_write(vp, X2APIC_TPR, v);
	default:
		/* VP_ASSIST_PAGE: bit 0 enable, 11:1 RsvdP, 63:12 the GPA
		 * page, which is zeroed when enabled or moved (as SIMP). */
		old = vp->vapic.assist;
		assist_withdraw(vp);
		vp->vapic.assist = v;
		if ((v & HV_X64_MSR_VP_ASSIST_PAGE_ENABLE) &&
		    (!(old & HV_X64_MSR_VP_ASSIST_PAGE_ENABLE) ||
		     (old & HV_X64_MSR_PAGE_ADDRESS_MASK) != (v & HV_X64_MSR_PAGE_ADDRESS_MASK))) {
			volatile uint32_t *w = assist_word(vp);

			if (w)
				memset((void *)w, 0, HV_PAGE_SIZE);
		}
		return 0;
	}
}

/* ---- CR8 (SDM 10.8.6.1: CR8[3:0] is TPR[7:4]) ---- */

int hv_vapic_cr8_exit(struct hv_vp *vp)
{
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION), *r, rsp;
	unsigned gpr = (q >> 8) & 15;
	/* SDM Table 28-3: 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15. */
	static const uint8_t slot[16] = { 0, 1, 2, 3, 0xff, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };

	if ((q & 15) != 8 || ((q >> 4) & 3) > 1)
		return -1;
	rsp = vmread(VMCS_GUEST_RSP);
	r = gpr == 4 ? &rsp : &((uint64_t *)&vp->g)[slot[gpr]];
	if ((q >> 4) & 3) {
		*r = vp->vapic.tpr >> 4;	/* MOV from CR8 */
	} else {
		if (*r & ~15ull) {
			hv_inject_exception(13, 1, 0);	/* reserved CR8 bits (SDM Vol. 2B MOV CR) */
			return 0;
		}
		vp->vapic.tpr = (uint32_t)(*r << 4);
	}
	if (gpr == 4)
		vmwrite(VMCS_GUEST_RSP, rsp);
	hv_skip_instruction();
	return 0;
}

/* ---- HvCallSendSyntheticClusterIpi{,Ex} (TLFS) ---- */

static uint16_t ipi_check(uint32_t vector, uint8_t vtl, const uint8_t *rsvd, unsigned n)
{
	if (vector < 16 || vector > 255 || vtl)
		return HV_STATUS_INVALID_PARAMETER;
	for (unsigned i = 0; i < n; i++)
		if (rsvd[i])
			return HV_STATUS_INVALID_PARAMETER;
	return HV_STATUS_SUCCESS;
}

/* A fixed interrupt to every started VP of the caller's partition whose
 * index is in the 64-bit bank `bank` of the set; VP indices the
 * partition does not have are skipped (as KVM does). */
static void ipi_bank(struct hv_vp *src, uint64_t mask, unsigned bank, uint32_t vector)
{
	struct hv_partition *p = src->part;

	for (unsigned b = 0; b < 64 && mask; b++, mask >>= 1) {
		unsigned i = bank * 64 + b;

		if (!(mask & 1) || i >= HV_MAX_VPS || i >= p->nvps || !started(p->vps[i]))
			continue;
		if (p->is_root)
			hv_synic_pend_vector(p->vps[i], vector);	/* the root has no virtual APIC */
		else
			hv_vapic_accept(p->vps[i], vector);
	}
}

uint16_t hv_call_send_ipi(struct hv_call *c)
{
	const struct hv_input_send_synthetic_cluster_ipi *in = (const void *)c->in;
	uint8_t rsvd[3] = { in->flags, (uint8_t)in->reserved, (uint8_t)(in->reserved >> 8) };
	uint16_t st = ipi_check(in->vector, in->target_vtl, rsvd, 3);

	if (st)
		return st;
	ipi_bank(c->vp, in->processor_mask, 0, in->vector);
	return HV_STATUS_SUCCESS;
}

uint16_t hv_call_send_ipi_ex(struct hv_call *c)
{
	const struct hv_input_send_synthetic_cluster_ipi_ex *in = (const void *)c->in;
	const uint64_t *banks = (const void *)(c->in + sizeof(*in));
	uint16_t st = ipi_check(in->vector, in->target_vtl, in->rsvd_z, sizeof(in->rsvd_z));
	unsigned n = 0;

	if (st)
		return st;
	switch (in->format) {
	case HV_GENERIC_SET_ALL:
		ipi_bank(c->vp, ~0ull, 0, in->vector);
		return HV_STATUS_SUCCESS;
	case HV_GENERIC_SET_SPARSE_4K:
		/* TLFS "HV_VP_SET": one bank in the variable header per bit
		 * of ValidBanksMask, in order. */
		if ((unsigned)__builtin_popcountll(in->valid_bank_mask) != c->ctl.var_qwords)
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		for (unsigned b = 0; b < 64; b++)
			if (in->valid_bank_mask >> b & 1)
				ipi_bank(c->vp, banks[n++], b, in->vector);
		return HV_STATUS_SUCCESS;
	default:
		return HV_STATUS_INVALID_PARAMETER;
	}
}
