/* The virtual local APIC of every child VP (docs/hypervisor.md "Virtual
 * APIC"): the xAPIC and x2APIC interfaces, emulated on EPT-violation and
 * MSR exits, and the interrupt delivery into the child that goes through
 * it.
 *
 * Modes (SDM Vol. 3A 10.4.3, 10.12.5): IA32_APIC_BASE moves the APIC
 * between disabled, xAPIC and x2APIC as Figure 10-27 allows (x2APIC only
 * to disabled, disabled only to xAPIC; EXTD without EN, reserved bits and
 * another base are #GP); disabling resets it.  Its parent sets the mode
 * through HvX64RegisterApicBase (vpregs.c): a new mode starts from its
 * power-up state.
 *
 * xAPIC interface (SDM 10.4.1, Table 10-1): the page at the base, which
 * the child's EPT does not map: an access exits as an EPT violation and
 * mmio.c emulates the MOV that made it against the registers below
 * ("the xAPIC page").  x2APIC interface (10.12, Table 10-6): the MSRs
 * 0x800-0x8FF (the child's MSR bitmap makes reads and writes exit,
 * partmgmt.c).  Both: IA32_APIC_BASE, and the TLFS "Virtual Interrupt
 * Controller" MSRs HV_X64_MSR_EOI, _ICR (in the mode's ICR format), _TPR
 * and _VP_ASSIST_PAGE (AccessApicMsrs).  In x2APIC mode a #GP answers
 * what 10.12.1.2-10.12.1.3 make one: a reserved address, a write to a
 * read-only register, a read of a write-only one, a non-zero write to a
 * reserved bit (bits 63:32 of every register but the ICR included), a
 * non-zero write to EOI or ESR, and any x2APIC MSR while the APIC is not
 * in x2APIC mode.
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
 * IPIs (SDM 10.6, 10.12.9, 10.12.10; send_icr): the ICR sends to VPs of
 * the same partition by the xAPIC or x2APIC destination format (the
 * sender's), logical destinations in the flat, cluster or x2APIC cluster
 * model, or by shorthand; SELF IPI is the self shorthand.  Fixed and
 * lowest-priority interrupts (delivered as fixed to the lowest VP index
 * of the set) and NMIs reach running VPs; a fixed vector below 16 is not
 * sent (ESR bit 5).  An NMI is injected as vector 2 when the guest does
 * not block NMIs (inject_nmi).  INIT puts a VP in wait-for-SIPI, a SIPI
 * starts one waiting in real mode (vpstart.c); SMI is dropped.
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
 * leave it, so a guest that only programs its SynIC receives its SINTs;
 * a parent that wants the processor's reset state (xAPIC, SVR 0xFF) sets
 * HvX64RegisterApicBase.
 * The LVT entries are stored and read back (their masks set while the APIC
 * is software-disabled, SDM 10.4.7.2); of their sources only the APIC
 * timer exists (apictimer.c: its initial count, current count, divide
 * configuration and IA32_TSC_DEADLINE, in both modes), no LINT pins, no
 * thermal, performance-counter, CMCI or error interrupts. */
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
#define ICR_DM_NMI 4
#define ICR_DM_INIT 5
#define ICR_DM_SIPI 6
#define ICR_LOGICAL (1ull << 11)
#define ICR_LEVEL_ASSERT (1ull << 14)
#define ICR_TRIGGER_LEVEL (1ull << 15)
#define ICR_SHORTHAND_SHIFT 18
#define ICR_RESERVED (0xfff00000ull | (3ull << 16) | (3ull << 12))
/* The xAPIC ICR (SDM Figure 10-12): destination 63:56, 55:32 reserved;
 * the delivery-status bit 12 is read-only. */
#define ICR_XAPIC_RESERVED (0x00ffffff00000000ull | ICR_RESERVED)
#define ICR_XAPIC_LOW_WRITABLE 0x000ccfffu
#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECEIVE_ILLEGAL (1u << 6)
#define ESR_ILLEGAL_REGISTER (1u << 7)	/* xAPIC: a reserved register was accessed */

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

#define LVT_SLOT_TIMER 1
#define LVT_TIMER_MODE_MASK (3u << 17)
#define LVT_TIMER_MODE_RESERVED (3u << 17)	/* SDM Table 10-2 */

/* Store LVT entry `n`: the writable bits of `v` (the caller settled a
 * reserved timer mode); while the APIC is software-disabled the mask
 * stays set (SDM 10.4.7.2).  The timer's entry goes to apictimer.c, which
 * acts on a change of mode or mask. */
static void lvt_store(struct hv_vp *vp, int n, uint32_t v)
{
	v &= lvt_writable[n];
	if (!(vp->vapic.svr & 0x100))
		v |= LVT_MASKED;
	if (n == LVT_SLOT_TIMER)
		hv_apic_timer_write_lvt(vp, v);
	else
		vp->vapic.lvt[n] = v;
}

/* SVR (SDM 10.9): software-disabling the APIC sets every LVT mask
 * (10.4.7.2); enabling it unmasks nothing. */
static void svr_store(struct hv_vp *vp, uint32_t v)
{
	struct hv_vapic *a = &vp->vapic;
	bool was = a->svr & 0x100;

	a->svr = v;
	if (was && !(v & 0x100))
		for (int n = 0; n < 7; n++)
			lvt_store(vp, n, a->lvt[n]);
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

static void assist_withdraw(struct hv_vp *vp);

static bool xapic_mode(const struct hv_vapic *a)
{
	return (a->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD)) == APIC_BASE_EN;
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

/* The power-up state of the APIC's registers (SDM 10.4.7.1) with IA32_APIC_BASE
 * `base`.  What is the hypervisor's rather than the APIC's stays: the VP
 * assist page (withdrawn first) and whether its VMCS has interrupt-window
 * exiting on (hv_vapic_inject turns it off when nothing waits). */
static void reset_state(struct hv_vp *vp, uint64_t base)
{
	struct hv_vapic *a = &vp->vapic;
	uint64_t assist = a->assist;
	int window = a->window;

	if (a->assist_vector >= 0)
		assist_withdraw(vp);
	memset(a, 0, sizeof(*a));
	a->apic_base = base;
	a->svr = 0xff;		/* SDM 10.4.7.1: software-disabled after reset */
	a->dfr = 0xffffffffu;	/* flat model */
	for (unsigned i = 0; i < 7; i++)
		a->lvt[i] = LVT_MASKED;
	a->assist_vector = -1;
	a->assist = assist;
	a->window = window;
}

void hv_vapic_reset(struct hv_vp *vp)
{
	struct hv_vapic *a = &vp->vapic;

	memset(a, 0, sizeof(*a));
	a->assist_vector = -1;
	reset_state(vp, APIC_BASE_ADDR | APIC_BASE_EN | APIC_BASE_EXTD | (vp->index == 0 ? APIC_BASE_BSP : 0));
	a->svr = 0x1ff;		/* enabled, as firmware leaves it (the header comment) */
}

void hv_vapic_init(struct hv_vp *vp)
{
	/* SDM 10.4.7.3, 10.12.5.1: INIT resets the APIC as at power-up but
	 * for its ID and IA32_APIC_BASE (mode included). */
	reset_state(vp, vp->vapic.apic_base);
}

enum hv_vapic_accepted hv_vapic_accept(struct hv_vp *vp, unsigned vector)
{
	struct hv_vapic *a = &vp->vapic;
	bool had;

	vector &= 0xff;
	if (!accepting(a))
		return HV_VAPIC_DROPPED;
	if (vector < 16) {
		a->esr_pending |= ESR_RECEIVE_ILLEGAL;	/* SDM 10.5.3 */
		return HV_VAPIC_DROPPED;
	}
	had = bit(a->irr, vector);
	set_bit(a->irr, vector);
	clear_bit(a->tmr, vector);	/* edge */
	a->accepted++;
	/* HLT ends with an interrupt the processor is given (SDM Vol. 2A,
	 * HLT): one held off by the PPR leaves the VP halted. */
	if (hv_vapic_deliverable(vp) >= 0)
		vp->halted = 0;
	hv_vp_notify(vp);	/* on another LP: it takes it at its next entry */
	return had ? HV_VAPIC_MERGED : HV_VAPIC_NEW;
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

/* `assisted`: the EOI the guest left to the hypervisor (hv_vapic_sync). */
static void eoi(struct hv_vp *vp, bool assisted)
{
	struct hv_vapic *a = &vp->vapic;
	int v = highest(a->isr);

	a->eois++;
	if (v < 0)
		return;		/* SDM 10.8.5: nothing in service, nothing happens */
	clear_bit(a->isr, (unsigned)v);
	hv_synic_mark(HV_MARK_VAPIC_EOI, vp, 0, (unsigned)v, 0, assisted ? HV_MARK_SYNTH_ASSISTED : 0, 0, 0);
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
		eoi(vp, true);
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

/* An NMI waiting for the VP goes in when the guest does not block NMIs
 * and nothing else is being injected (SDM 26.6.1.2; blocking by STI or
 * MOV SS holds it too, 27.3.1.5).  NMI-window exiting needs "virtual
 * NMIs", which child VPs do not use: a blocked NMI waits for the VP's
 * next VM exit.  1 if it went in (no external interrupt can join it). */
static int inject_nmi(struct hv_vp *vp)
{
	if ((vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) ||
	    (vmread(VMCS_GUEST_INTERRUPTIBILITY) &
	     (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS | GUEST_INTR_STATE_NMI)))
		return 0;
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI << INTR_INFO_TYPE_SHIFT | 2);
	vp->vapic.nmi_pending = 0;
	vp->vapic.nmis++;
	return 1;
}

void hv_vapic_inject(struct hv_vp *vp)
{
	struct hv_vapic *a = &vp->vapic;
	int v = hv_vapic_deliverable(vp);

	if (a->nmi_pending && inject_nmi(vp)) {
		hv_intr_window(&a->window, v >= 0);
		return;
	}
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

/* A VP that runs: fixed interrupts and NMIs reach only these. */
static bool started(const struct hv_vp *vp)
{
	return vp && vp->started && !vp->wait_sipi;
}

/* Does the destination of `icr` name VP `t`?  `x2`: the sender's format.
 * x2APIC (SDM 10.12.9-10): physical = the x2APIC ID, 0xFFFFFFFF all;
 * logical = cluster 31:16 and a mask of 15:0 against the derived LDR.
 * xAPIC (SDM 10.6.2): physical = the 8-bit APIC ID, 0xFF all; logical =
 * the 8-bit MDA against the target's LDR[31:24] in the flat (DFR 1111b:
 * any common bit) or cluster model (DFR 0000b: cluster 7:4 equal and a
 * common bit in 3:0), 0xFF all.  The SDM leaves APICs in different modes
 * undefined; the sender's format decides. */
static bool names(uint64_t icr, bool x2, const struct hv_vp *t)
{
	uint32_t dest = (uint32_t)(icr >> 32);

	if (!x2) {
		uint32_t mda = dest >> 24, lid = t->vapic.ldr >> 24;

		if (mda == 0xff)
			return true;
		if (!(icr & ICR_LOGICAL))
			return mda == t->index;
		switch (t->vapic.dfr >> 28) {
		case 0xf:
			return (lid & mda) != 0;
		case 0x0:
			return (lid >> 4) == (mda >> 4) && (lid & mda & 0xf);
		default:
			return false;	/* a model the SDM does not define */
		}
	}
	if (!(icr & ICR_LOGICAL))
		return dest == 0xffffffffu || dest == t->index;
	if ((dest >> 16) == 0xffff)
		return true;	/* logical broadcast cluster (SDM 10.12.10.2) */
	return (dest >> 16) == (ldr_of(t->index) >> 16) && (dest & ldr_of(t->index) & 0xffff);
}

/* Send what the ICR value says from `src` (SDM 10.6.1; `x2`: its format).
 * Fixed and lowest priority go to running VPs (lowest priority to the
 * lowest VP index of the set); NMI likewise, ignoring the vector; INIT
 * (assert; the level de-assert of SDM 10.6.1 does nothing) and SIPI to
 * any VP of the partition but the sender (the SDM gives the self
 * shorthand no INIT or SIPI, Table 10-3), SIPI only to one waiting for
 * it: a created VP never started, or one an INIT stopped.  SMI and the
 * reserved modes are dropped.  A target whose APIC is disabled (EN = 0)
 * takes nothing. */
static void send_icr(struct hv_vp *src, uint64_t icr, bool x2)
{
	struct hv_partition *p = src->part;
	unsigned vec = (unsigned)(icr & ICR_VECTOR), dm = (icr >> ICR_DM_SHIFT) & 7, sh = (icr >> ICR_SHORTHAND_SHIFT) & 3;

	switch (dm) {
	case ICR_DM_FIXED:
	case ICR_DM_LOWEST:
		if (vec < 16) {
			src->vapic.esr_pending |= ESR_SEND_ILLEGAL;
			return;
		}
		break;
	case ICR_DM_NMI:
	case ICR_DM_SIPI:
		break;
	case ICR_DM_INIT:
		if (!(icr & ICR_LEVEL_ASSERT) && (icr & ICR_TRIGGER_LEVEL))
			return;	/* INIT level de-assert */
		break;
	default:
		return;	/* SMI: no SMM in a child; 3 and 7 are reserved */
	}
	src->vapic.ipis_sent++;
	for (unsigned i = 0; i < p->nvps; i++) {
		struct hv_vp *t = p->vps[i];
		bool hit;

		if (!t || !(t->vapic.apic_base & APIC_BASE_EN))
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
			hit = names(icr, x2, t);
			break;
		}
		if (!hit)
			continue;
		switch (dm) {
		case ICR_DM_INIT:
			if (t != src)
				hv_vp_init_ipi(src, t);
			continue;
		case ICR_DM_SIPI:
			if (t != src && (!t->started || t->wait_sipi))
				hv_vp_sipi(src, t, vec);
			continue;
		case ICR_DM_NMI:
			if (started(t)) {
				t->vapic.nmi_pending = 1;
				hv_vp_wake(t);	/* an NMI ends HLT whatever RFLAGS.IF says */
			}
			continue;
		default:
			if (!started(t))
				continue;
			hv_irq_raise(t, vec, HV_MARK_SYNTH_IPI, src->index, 0, 0);
			if (dm == ICR_DM_LOWEST)
				return;	/* the lowest VP index of the set takes it */
		}
	}
}

/* ---- MSRs ---- */

/* A value IA32_APIC_BASE can hold here: reserved bits 7:0, 9 and those
 * above MAXPHYADDR clear (SDM Figure 10-26), not EXTD without EN (SDM
 * 10.12.5), and the architectural base: the model does not relocate the
 * APIC. */
static bool apic_base_valid(uint64_t v)
{
	uint64_t maxphys = 1ull << (cpuid(0x80000008, 0).eax & 0xff);

	if ((v & 0x2ffull) || v >= maxphys || (v & ~0xfffull) != APIC_BASE_ADDR)
		return false;
	return (v & (APIC_BASE_EN | APIC_BASE_EXTD)) != APIC_BASE_EXTD;
}

/* The guest's WRMSR: -1 for #GP, 0 done. */
static int apic_base_write(struct hv_vp *vp, uint64_t v)
{
	struct hv_vapic *a = &vp->vapic;
	uint64_t now = a->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD), want = v & (APIC_BASE_EN | APIC_BASE_EXTD);

	if (!apic_base_valid(v))
		return -1;
	/* SDM 10.12.5, Figure 10-27: x2APIC leaves only to disabled;
	 * disabled enters xAPIC first.  The BSP flag is the processor's, not
	 * the guest's to write. */
	if (now == (APIC_BASE_EN | APIC_BASE_EXTD) && want == APIC_BASE_EN)
		return -1;
	if (now == 0 && want == (APIC_BASE_EN | APIC_BASE_EXTD))
		return -1;
	v = (v & ~APIC_BASE_BSP) | (a->apic_base & APIC_BASE_BSP);
	if (!want)
		reset_state(vp, v);	/* SDM 10.4.3: disabling loses the APIC's state */
	else
		a->apic_base = v;	/* xAPIC <-> x2APIC keeps it (10.12.5.1) */
	return 0;
}

int hv_vapic_set_base(struct hv_vp *vp, uint64_t v)
{
	struct hv_vapic *a = &vp->vapic;

	if (!apic_base_valid(v))
		return -1;
	/* TLFS HvCallSetVpRegisters: only the value is checked, no
	 * transition rule applies.  A new mode starts from its power-up
	 * state (SVR 0xFF: software-disabled), as a processor reset leaves
	 * it; the same mode keeps the registers (the BSP flag may change). */
	if ((v ^ a->apic_base) & (APIC_BASE_EN | APIC_BASE_EXTD))
		reset_state(vp, v);
	else
		a->apic_base = v;
	return 0;
}

/* The registers both modes share, by x2APIC MSR index (and the x2APIC
 * view of ID, LDR and ICR); -1 if none. */
static int reg_read(struct hv_vp *vp, uint32_t idx, uint64_t *v)
{
	struct hv_vapic *a = &vp->vapic;

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
		*v = hv_apic_timer_current(vp);
		return 0;
	case X2APIC_TIMER_DCR:
		*v = a->timer_divide;
		return 0;
	default:
		return -1;	/* EOI and SELF IPI are write-only; the rest reserved */
	}
}

static int x2apic_read(struct hv_vp *vp, uint32_t idx, uint64_t *v)
{
	if (!x2apic_mode(&vp->vapic))
		return -1;	/* SDM 10.12.1.2: not in x2APIC mode */
	return reg_read(vp, idx, v);
}

static int icr_write(struct hv_vp *vp, uint64_t v)
{
	if (v & ICR_RESERVED)
		return -1;
	vp->vapic.icr = v;
	send_icr(vp, v, true);
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
		if (n == LVT_SLOT_TIMER && (v & LVT_TIMER_MODE_MASK) == LVT_TIMER_MODE_RESERVED)
			return -1;	/* SDM 10.12.1.2: a reserved value (Table 10-2) */
		lvt_store(vp, n, (uint32_t)v);
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
		eoi(vp, false);
		return 0;
	case X2APIC_SVR:
		/* 7:0 vector, 8 enable; focus checking (9) and EOI-broadcast
		 * suppression (12) are not offered. */
		if (v & ~0x1ffull)
			return -1;
		svr_store(vp, (uint32_t)v);
		return 0;
	case X2APIC_ESR:
		if (v)
			return -1;	/* SDM Table 10-6 */
		/* SDM 10.5.3: a write latches the errors since the last one. */
		a->esr = a->esr_pending;
		a->esr_pending = 0;
		return 0;
	case X2APIC_TIMER_ICR:
		hv_apic_timer_write_initial(vp, (uint32_t)v);
		return 0;
	case X2APIC_TIMER_DCR:
		if (v & ~0xbull)
			return -1;	/* bits 0, 1 and 3 (SDM Figure 10-10) */
		hv_apic_timer_write_divide(vp, (uint32_t)v);
		return 0;
	case X2APIC_SELF_IPI:
		if (v & ~0xffull)
			return -1;
		/* SDM 10.12.11: as the ICR's self shorthand, fixed, edge. */
		send_icr(vp, 1ull << ICR_SHORTHAND_SHIFT | v, true);
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
	return idx == MSR_IA32_APIC_BASE || idx == MSR_IA32_TSC_DEADLINE ||
	       (idx >= X2APIC_BASE_MSR && idx <= X2APIC_LAST_MSR) ||
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
	if (idx == MSR_IA32_TSC_DEADLINE) {
		/* SDM 10.5.4.1 (either mode; 0 while the APIC is disabled,
		 * whose timer is in one-shot mode). */
		*v = vp->vapic.apic_base & APIC_BASE_EN ? hv_apic_timer_deadline(vp) : 0;
		return 0;
	}
	if (idx >= X2APIC_BASE_MSR && idx <= X2APIC_LAST_MSR)
		return x2apic_read(vp, idx, v);
	if (!enlightened_apic(vp))
		return -1;
	switch (idx) {
	case HV_X64_MSR_ICR:
		/* The ICR and TPR MSRs serve xAPIC mode too (TLFS "Virtual
		 * Interrupt Controller"): the ICR in that mode's format. */
		if (!(vp->vapic.apic_base & APIC_BASE_EN))
			return -1;
		*v = vp->vapic.icr;
		return 0;
	case HV_X64_MSR_TPR:
		if (!(vp->vapic.apic_base & APIC_BASE_EN))
			return -1;
		*v = vp->vapic.tpr;
		return 0;
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
	if (idx == MSR_IA32_TSC_DEADLINE) {
		/* Any 64-bit value; ignored while the APIC is disabled. */
		if (vp->vapic.apic_base & APIC_BASE_EN)
			hv_apic_timer_write_deadline(vp, v);
		return 0;
	}
	if (idx >= X2APIC_BASE_MSR && idx <= X2APIC_LAST_MSR)
		return x2apic_write(vp, idx, v);
	if (!enlightened_apic(vp))
		return -1;
	switch (idx) {
	case HV_X64_MSR_EOI:
		/* TLFS: bits 31:0 are ignored ("EOI"), 63:32 RsvdZ. */
		if (v >> 32 || !(vp->vapic.apic_base & APIC_BASE_EN))
			return -1;
		eoi(vp, false);
		return 0;
	case HV_X64_MSR_ICR:
		if (x2apic_mode(&vp->vapic))
			return x2apic_write(vp, X2APIC_ICR, v);
		if (!xapic_mode(&vp->vapic) || (v & ICR_XAPIC_RESERVED))
			return -1;
		vp->vapic.icr = v;
		send_icr(vp, v, false);
		return 0;
	case HV_X64_MSR_TPR:
		if (!(vp->vapic.apic_base & APIC_BASE_EN) || (v & ~0xffull))
			return -1;
		vp->vapic.tpr = (uint32_t)v;
		return 0;
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

/* ---- the xAPIC page (SDM 10.4.1, Table 10-1) ----
 * 32-bit registers at 16-byte strides; the x2APIC MSR of a register is
 * 0x800 + offset / 16 (SDM 10.12.1.2), which is how the registers both
 * modes share are found.  Bytes 4-15 of each slot read 0.  Accesses that
 * are not a 32-bit access to the start of a slot are model-specific
 * (10.4.1): a read gets the bytes it covers, a write is dropped.  In
 * xAPIC mode nothing faults: reserved bits are ignored (the delivery
 * status bit and the unoffered SVR bits 9 and 12 read 0), writes to
 * read-only registers are dropped, EOI and ESR take any value, and an
 * access to a reserved register sets ESR bit 7 (10.5.3).  The ID (bits
 * 31:24 = the VP index) is read-only here (10.4.6 leaves writing it
 * model-specific); LDR bits 31:24 and DFR bits 31:28 are the guest's. */

#define XAPIC_OFF(msr) (((msr) - X2APIC_BASE_MSR) << 4)

/* The page at IA32_APIC_BASE is the xAPIC's in every mode: in x2APIC
 * mode and while the APIC is disabled its memory-mapped interface is
 * gone, and an access behaves as one where a globally disabled xAPIC
 * sat (SDM Vol. 3A 10.12.2, 10.4.3): nothing answers on a PC, so a read
 * returns all ones and a write is dropped (KVM, too, drops them). */
bool hv_vapic_xapic_page(const struct hv_vp *vp, uint64_t gpa)
{
	return !vp->part->is_root && (gpa & ~0xfffull) == (vp->vapic.apic_base & ~0xfffull);
}

/* SDM 10.6.2.4: APR. */
static uint32_t apr(const struct hv_vapic *a)
{
	int irrv = highest(a->irr), isrv = highest(a->isr);
	uint32_t irr_class = irrv < 0 ? 0 : (uint32_t)irrv & 0xf0, isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	uint32_t m = a->tpr & 0xf0;

	if ((a->tpr & 0xf0) >= irr_class && (a->tpr & 0xf0) > isr_class)
		return a->tpr & 0xff;
	m = isr_class > m ? isr_class : m;
	return irr_class > m ? irr_class : m;
}

/* The register at `off` (16-byte aligned); -1 if reserved. */
static int xapic_read(struct hv_vp *vp, unsigned off, uint32_t *v)
{
	struct hv_vapic *a = &vp->vapic;
	uint64_t r;

	switch (off) {
	case XAPIC_OFF(X2APIC_ID):
		*v = vp->index << 24;
		return 0;
	case XAPIC_OFF(X2APIC_LDR):
		*v = a->ldr;
		return 0;
	case 0x0e0:	/* DFR: 27:0 read as 1s */
		*v = a->dfr | 0x0fffffffu;
		return 0;
	case 0x090:	/* APR */
		*v = apr(a);
		return 0;
	case 0x0c0:	/* remote read: not offered (SDM 10.4.1), idle */
	case XAPIC_OFF(X2APIC_EOI):	/* write-only */
		*v = 0;
		return 0;
	case XAPIC_OFF(X2APIC_ICR):
		*v = (uint32_t)a->icr;	/* delivery status 0: sent at once */
		return 0;
	case XAPIC_OFF(X2APIC_ICR) + 0x10:
		*v = (uint32_t)(a->icr >> 32);
		return 0;
	case XAPIC_OFF(X2APIC_SELF_IPI):
		return -1;	/* x2APIC only */
	default:
		if (off >= 0x400 || reg_read(vp, X2APIC_BASE_MSR + (off >> 4), &r))
			return -1;
		*v = (uint32_t)r;
		return 0;
	}
}

static void xapic_write(struct hv_vp *vp, unsigned off, uint32_t v)
{
	struct hv_vapic *a = &vp->vapic;
	uint32_t idx = X2APIC_BASE_MSR + (off >> 4);
	int n = lvt_slot(idx);

	if (n >= 0) {
		/* A reserved timer mode keeps the mode (MMIO cannot fault). */
		if (n == LVT_SLOT_TIMER && (v & LVT_TIMER_MODE_MASK) == LVT_TIMER_MODE_RESERVED)
			v = (v & ~LVT_TIMER_MODE_MASK) | (a->lvt[n] & LVT_TIMER_MODE_MASK);
		lvt_store(vp, n, v);
		return;
	}
	switch (off) {
	case XAPIC_OFF(X2APIC_TPR):
		a->tpr = v & 0xff;
		return;
	case XAPIC_OFF(X2APIC_EOI):
		eoi(vp, false);
		return;
	case XAPIC_OFF(X2APIC_LDR):
		a->ldr = v & 0xff000000u;
		return;
	case 0x0e0:
		a->dfr = v | 0x0fffffffu;
		return;
	case XAPIC_OFF(X2APIC_SVR):
		svr_store(vp, v & 0x1ff);
		return;
	case XAPIC_OFF(X2APIC_ESR):
		a->esr = a->esr_pending;	/* SDM 10.5.3: latch */
		a->esr_pending = 0;
		return;
	case XAPIC_OFF(X2APIC_ICR):
		/* Writing the low half sends (SDM 10.6.1). */
		a->icr = (a->icr & ~0xffffffffull) | (v & ICR_XAPIC_LOW_WRITABLE);
		send_icr(vp, a->icr, false);
		return;
	case XAPIC_OFF(X2APIC_ICR) + 0x10:
		a->icr = (a->icr & 0xffffffffull) | (uint64_t)(v & 0xff000000u) << 32;
		return;
	case XAPIC_OFF(X2APIC_TIMER_ICR):
		hv_apic_timer_write_initial(vp, v);
		return;
	case XAPIC_OFF(X2APIC_TIMER_DCR):
		hv_apic_timer_write_divide(vp, v & 0xb);
		return;
	case XAPIC_OFF(X2APIC_ID):
	case XAPIC_OFF(X2APIC_VERSION):
	case 0x090:
	case XAPIC_OFF(X2APIC_PPR):
	case 0x0c0:
	case XAPIC_OFF(X2APIC_TIMER_CCR):
		return;		/* read-only */
	default:
		if (off >= XAPIC_OFF(X2APIC_ISR0) && off < XAPIC_OFF(X2APIC_IRR0) + 0x80)
			return;	/* ISR, TMR, IRR: read-only */
		a->esr_pending |= ESR_ILLEGAL_REGISTER;
		return;
	}
}

uint64_t hv_vapic_mmio_read(struct hv_vp *vp, unsigned off, unsigned size)
{
	unsigned slot = off & 0xff0, byte = off & 0xf;
	uint32_t r = 0;
	uint64_t v = 0;

	vp->vapic.mmio++;
	if (!xapic_mode(&vp->vapic))
		return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
	if (xapic_read(vp, slot, &r))
		vp->vapic.esr_pending |= ESR_ILLEGAL_REGISTER;
	/* The bytes [byte, byte + size) of the slot, past the page's end 0. */
	for (unsigned i = 0; i < size && byte + i < 4; i++)
		v |= (uint64_t)((r >> (8 * (byte + i))) & 0xff) << (8 * i);
	return v;
}

void hv_vapic_mmio_write(struct hv_vp *vp, unsigned off, unsigned size, uint64_t v)
{
	vp->vapic.mmio++;
	if (size == 4 && !(off & 0xf) && xapic_mode(&vp->vapic))
		xapic_write(vp, off & 0xff0, (uint32_t)v);
}

/* ---- CR8 (SDM 10.8.6.1: CR8[3:0] is TPR[7:4]) ---- */

int hv_vapic_cr8_exit(struct hv_vp *vp)
{
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION), *r, rsp;
	unsigned gpr = (q >> 8) & 15;

	if ((q & 15) != 8 || ((q >> 4) & 3) > 1)
		return -1;
	rsp = vmread(VMCS_GUEST_RSP);
	r = hv_vp_gpr(vp, gpr, &rsp);
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
		/* The root has no virtual APIC: its pending set (hv_irq_raise). */
		hv_irq_raise(p->vps[i], vector, HV_MARK_SYNTH_IPI, src->index, 0, 0);
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
