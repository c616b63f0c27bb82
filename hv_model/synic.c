/* The synthetic interrupt controller of every VP (TLFS "Virtual
 * Interrupt Controller", "Inter-Partition Communication"): the SynIC
 * MSRs, messages delivered into the SIM page, event flags in the SIEF
 * page, and the interrupts they raise.
 *
 * MSRs (all outside the ranges of the VMCS MSR bitmaps, so every access
 * exits, SDM 25.6.9):
 *   SCONTROL  bit 0 enable; 63:1 RsvdP, kept as written.
 *   SVERSION  read-only, HV_SYNIC_VERSION_1; a write is #GP.
 *   SIEFP/SIMP  bit 0 enable, 11:1 RsvdP, 63:12 the GPA page.  hv_model
 *             does not overlay a page of its own: it writes the
 *             partition's page at that GPA, through the partition's EPT,
 *             and zeroes it when it is enabled (or moved while enabled),
 *             as a fresh overlay page would read.
 *   EOM       write-only: rescans the queues; reads as 0.
 *   SINT0-15  vector 7:0, masked 16 (reset value 0x10000: masked),
 *             auto-EOI 17, polling 18, the rest RsvdP.  A SINT that can
 *             raise interrupts (not masked, not polling) must name a
 *             vector from 16 to 255, else #GP (TLFS "SINTx Registers";
 *             the reset value itself, masked with vector 0, is
 *             accepted, as KVM does).
 *   SIRBP (event ring) is not offered: #GP.
 *
 * Messages (TLFS "SynIC Messages"): a message posted to a SINT joins
 * that SINT's queue; the oldest one moves into the SINT's slot when the
 * slot is empty (message_type HvMessageTypeNone), and an edge interrupt
 * is raised.  A busy slot gets msg_pending set and no interrupt; the
 * guest clears the slot and, seeing msg_pending, writes EOM, which makes
 * the hypervisor try again (as does the next message posted).
 *
 * Interrupts: a SINT that fires makes its vector pending for the VP.  A
 * child's VP takes it through its virtual local APIC (vapic.c): into the
 * IRR, injected by priority, into the ISR unless the SINT has auto-EOI,
 * and the EOI of a vector that a SINT uses without auto-EOI makes the
 * hypervisor deliver that SINT's next waiting message, as EOM does (TLFS
 * "SynIC Message Flags"; hv_synic_eoi).  The root has no virtual APIC:
 * its vectors share the pending set below with its physical interrupts
 * (intr.c); at VM entry the highest is injected as an external interrupt
 * if RFLAGS.IF = 1 and no STI/MOV SS blocking, otherwise the VP gets
 * interrupt-window exiting (SDM 26.7.5) and the vector goes in at the
 * entry after that exit; no ISR is kept for it.  A polling SINT (bit 18)
 * receives messages and flags into its slot and raises nothing. */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

#define SINT_VECTOR(v) ((unsigned)((v) & HV_SYNIC_SINT_VECTOR_MASK))

void hv_synic_reset(struct hv_vp *vp)
{
	memset(&vp->synic, 0, sizeof(vp->synic));
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
		vp->synic.sint[i] = HV_SYNIC_SINT_MASKED;
}

/* The page an enable bit and GPA name, if enabled and the partition's RAM. */
static void *guest_page(struct hv_vp *vp, uint64_t msr)
{
	uint64_t hpa;

	if (!(msr & 1))
		return NULL;
	hpa = hv_guest_ram(vp->part, msr & HV_X64_MSR_PAGE_ADDRESS_MASK, 1);
	return hpa == ~0ull ? NULL : hv_va(hpa);
}

/* The same, in use only while the SynIC is enabled (SCONTROL). */
static void *synic_page(struct hv_vp *vp, uint64_t msr)
{
	return (vp->synic.scontrol & HV_SYNIC_CONTROL_ENABLE) ? guest_page(vp, msr) : NULL;
}

void hv_irq_raise(struct hv_vp *vp, unsigned vector, unsigned kind, unsigned pin, uint64_t seq, uint64_t src_tsc)
{
	unsigned flags = 0;

	vector &= 0xff;
	vp->synic.interrupts++;
	if (!vp->part->is_root) {
		/* A child's goes through its virtual APIC, which may drop it;
		 * one that enters the ISR ends with the guest's EOI. */
		switch (hv_vapic_accept(vp, vector)) {
		case HV_VAPIC_DROPPED:
			return;
		case HV_VAPIC_MERGED:
			flags |= HV_MARK_SYNTH_MERGED;
			break;
		default:
			break;
		}
		if (!hv_synic_auto_eoi(vp, vector))
			flags |= HV_MARK_SYNTH_EOI;
	} else {
		if (vp->synic.irr[vector / 64] & 1ull << (vector % 64))
			flags |= HV_MARK_SYNTH_MERGED;
		vp->synic.irr[vector / 64] |= 1ull << (vector % 64);
		hv_vp_wake(vp);
	}
	hv_synic_mark(HV_MARK_SYNTH_PEND, vp, pin, vector, kind, flags, seq, src_tsc);
}

void hv_synic_mark(unsigned id, const struct hv_vp *vp, unsigned sint, unsigned vector, unsigned kind, unsigned flags,
		   uint64_t seq, uint64_t src_tsc)
{
	static struct hv_mark_synic rec;

	rec = (struct hv_mark_synic){ .partition = vp->part->id, .vp = vp->index, .sint = (uint8_t)sint,
				      .vector = (uint8_t)vector, .kind = (uint8_t)kind, .flags = (uint8_t)flags,
				      .seq = seq, .src_tsc = src_tsc };
	switch (id) {
	case HV_MARK_SYNIC_POST:
		HV_MARKER(HV_MARK_SYNIC_POST, &rec);
		break;
	case HV_MARK_SYNTH_PEND:
		HV_MARKER(HV_MARK_SYNTH_PEND, &rec);
		break;
	case HV_MARK_VAPIC_EOI:
		HV_MARKER(HV_MARK_VAPIC_EOI, &rec);
		break;
	default:
		HV_MARKER(HV_MARK_SYNIC_EOM, &rec);
		break;
	}
}

/* An unmasked SINT that raises `vector` (polling ones raise nothing). */
static bool sint_uses(const struct hv_vp *vp, unsigned i, unsigned vector)
{
	uint64_t v = vp->synic.sint[i];

	return !(v & (HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_POLLING)) && SINT_VECTOR(v) == vector;
}

bool hv_synic_has_vector(const struct hv_vp *vp, unsigned vector)
{
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
		if (sint_uses(vp, i, vector))
			return true;
	return false;
}

bool hv_synic_auto_eoi(const struct hv_vp *vp, unsigned vector)
{
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
		if (sint_uses(vp, i, vector) && (vp->synic.sint[i] & HV_SYNIC_SINT_AUTO_EOI))
			return true;
	return false;
}

/* The SINT fired: its vector becomes pending unless it is masked or
 * polling.  A halted VP wakes to take it.  `kind` and `seq` say what
 * fired it, for hvsim (marker.h HV_MARK_SYNTH_PEND). */
static void synic_raise(struct hv_vp *vp, unsigned sint, unsigned kind, uint64_t seq)
{
	uint64_t v = vp->synic.sint[sint];

	if (v & (HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_POLLING))
		return;
	hv_irq_raise(vp, SINT_VECTOR(v), kind, sint, seq, 0);
}

static unsigned msg_kind(uint32_t type)
{
	return type == HVMSG_TIMER_EXPIRED ? HV_MARK_SYNTH_TIMER : HV_MARK_SYNTH_MESSAGE;
}

static struct hv_synic_queued *oldest(struct hv_synic *s, unsigned sint, unsigned *count)
{
	struct hv_synic_queued *o = NULL;

	*count = 0;
	for (unsigned i = 0; i < HV_SYNIC_QUEUE; i++) {
		struct hv_synic_queued *q = &s->q[i];

		if (!q->seq || q->sint != sint)
			continue;
		(*count)++;
		if (!o || q->seq < o->seq)
			o = q;
	}
	return o;
}

/* Move the oldest message waiting for `sint` into its slot if the slot
 * is empty; else tell the guest more is waiting (msg_pending). */
static void deliver(struct hv_vp *vp, unsigned sint)
{
	struct hv_synic *s = &vp->synic;
	struct hv_message *page = synic_page(vp, s->simp), *m;
	struct hv_synic_queued *q;
	uint64_t seq;
	unsigned n;

	q = oldest(s, sint, &n);
	if (!page || !q)
		return;
	m = &page[sint];
	/* The guest owns the slot while message_type is not None: one read. */
	if (*(volatile uint32_t *)&m->header.message_type != HVMSG_NONE) {
		((volatile struct hv_message_header *)&m->header)->message_flags |= HV_MESSAGE_FLAG_PENDING;
		return;
	}
	memcpy(m->payload, q->msg.payload, q->msg.header.payload_size);
	if (q->msg.header.message_type == HVMSG_TIMER_EXPIRED)
		hv_stimer_delivering(vp, &q->msg, m);	/* DeliveryTime: now */
	m->header.payload_size = q->msg.header.payload_size;
	m->header.message_flags = n > 1 ? HV_MESSAGE_FLAG_PENDING : 0;
	m->header.reserved[0] = m->header.reserved[1] = 0;
	m->header.sender = q->msg.header.sender;
	/* The type last: it hands the slot to the guest. */
	asm volatile("" ::: "memory");
	*(volatile uint32_t *)&m->header.message_type = q->msg.header.message_type;
	seq = q->seq;
	q->seq = 0;
	s->delivered++;
	synic_raise(vp, sint, msg_kind(q->msg.header.message_type), seq);
}

static void rescan(struct hv_vp *vp)
{
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
		deliver(vp, i);
}

void hv_synic_eoi(struct hv_vp *vp, unsigned vector)
{
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
		if (sint_uses(vp, i, vector) && !(vp->synic.sint[i] & HV_SYNIC_SINT_AUTO_EOI))
			deliver(vp, i);
}

int hv_synic_post(struct hv_vp *vp, unsigned sint, uint32_t type, uint64_t sender, const void *payload,
		  unsigned len)
{
	return hv_synic_post_at(vp, sint, type, sender, payload, len, 0);
}

int hv_synic_post_at(struct hv_vp *vp, unsigned sint, uint32_t type, uint64_t sender, const void *payload,
		     unsigned len, uint64_t src_tsc)
{
	struct hv_synic *s = &vp->synic;
	struct hv_synic_queued *e = NULL;
	unsigned n;

	/* A VP whose SynIC or SIM page is disabled is no target (TLFS "SynIC
	 * Messages"). */
	if (sint >= HV_SYNIC_SINT_COUNT || len > HV_MESSAGE_PAYLOAD_BYTE_COUNT || type == HVMSG_NONE ||
	    !synic_page(vp, s->simp))
		return -1;
	oldest(s, sint, &n);
	if (n >= HV_SYNIC_SINT_QUEUE)
		return -1;
	for (unsigned i = 0; i < HV_SYNIC_QUEUE && !e; i++)
		if (!s->q[i].seq)
			e = &s->q[i];
	if (!e)
		return -1;
	memset(e, 0, sizeof(*e));
	e->seq = ++s->seq;
	e->sint = sint;
	e->msg.header.message_type = type;
	e->msg.header.payload_size = (uint8_t)len;
	e->msg.header.sender = sender;
	memcpy(e->msg.payload, payload, len);
	s->posted++;
	hv_synic_mark(HV_MARK_SYNIC_POST, vp, sint, 0, msg_kind(type), 0, e->seq, src_tsc);
	deliver(vp, sint);
	return 0;
}

bool hv_synic_listening(struct hv_vp *vp)
{
	return synic_page(vp, vp->synic.simp) != NULL;
}

int hv_synic_signal_event(struct hv_vp *vp, unsigned sint, unsigned flag)
{
	uint8_t *page = synic_page(vp, vp->synic.siefp), *b;

	if (!page || sint >= HV_SYNIC_SINT_COUNT || flag >= HV_EVENT_FLAGS_COUNT)
		return -1;
	b = page + sint * HV_EVENT_FLAGS_BYTE_COUNT + flag / 8;
	/* A flag already set raises no new interrupt. */
	if (!(*b & (1u << (flag % 8)))) {
		*b |= (uint8_t)(1u << (flag % 8));
		synic_raise(vp, sint, HV_MARK_SYNTH_EVENT, 0);
	}
	return 0;
}

static int highest_pending(const struct hv_synic *s)
{
	for (int w = 3; w >= 0; w--)
		if (s->irr[w])
			return w * 64 + 63 - __builtin_clzll(s->irr[w]);
	return -1;
}

void hv_synic_inject(struct hv_vp *vp)
{
	struct hv_synic *s = &vp->synic;
	int v = highest_pending(s);

	if (v < 0 && !s->window)
		return;		/* the common case: nothing to do, no VMREAD */
	if (v >= 0 && hv_intr_can_inject()) {
		hv_intr_inject((unsigned)v);
		s->irr[v / 64] &= ~(1ull << (v % 64));
		v = highest_pending(s);
	}
	/* Something still waits: exit as soon as the guest can take it. */
	hv_intr_window(&s->window, v >= 0);
}

/* Enabling an overlay page (or moving an enabled one) starts it empty. */
static void page_enable(struct hv_vp *vp, uint64_t old, uint64_t v)
{
	void *page;

	if (!(v & 1) || ((old & 1) && (old & HV_X64_MSR_PAGE_ADDRESS_MASK) == (v & HV_X64_MSR_PAGE_ADDRESS_MASK)))
		return;
	page = guest_page(vp, v);
	if (page)
		memset(page, 0, HV_PAGE_SIZE);
}

/* 1: not a SynIC MSR; -1: the partition lacks the SynIC privilege
 * (TLFS "Partition Privilege Flags": #GP); 0: go ahead. */
static int synic_access(const struct hv_vp *vp, uint32_t idx)
{
	if (idx < HV_X64_MSR_SCONTROL || idx > HV_X64_MSR_SINT15)
		return 1;
	return (vp->part->privileges & HV_MSR_SYNIC_AVAILABLE) ? 0 : -1;
}

int hv_synic_msr_read(struct hv_vp *vp, uint32_t idx, uint64_t *v)
{
	struct hv_synic *s = &vp->synic;
	int r = synic_access(vp, idx);

	if (r)
		return r;
	switch (idx) {
	case HV_X64_MSR_SCONTROL:
		*v = s->scontrol;
		return 0;
	case HV_X64_MSR_SVERSION:
		*v = HV_SYNIC_VERSION_1;
		return 0;
	case HV_X64_MSR_SIEFP:
		*v = s->siefp;
		return 0;
	case HV_X64_MSR_SIMP:
		*v = s->simp;
		return 0;
	case HV_X64_MSR_EOM:
		*v = 0;
		return 0;
	default:
		if (idx < HV_X64_MSR_SINT0)
			return -1;	/* SIRBP and the gap below SINT0 */
		*v = s->sint[idx - HV_X64_MSR_SINT0];
		return 0;
	}
}

int hv_synic_msr_write(struct hv_vp *vp, uint32_t idx, uint64_t v)
{
	struct hv_synic *s = &vp->synic;
	uint64_t old;
	int r = synic_access(vp, idx);

	if (r)
		return r;
	switch (idx) {
	case HV_X64_MSR_SCONTROL:
		old = s->scontrol;
		s->scontrol = v;
		/* Turning the SynIC on brings the enabled pages into use. */
		if (!(old & HV_SYNIC_CONTROL_ENABLE) && (v & HV_SYNIC_CONTROL_ENABLE))
			rescan(vp);
		return 0;
	case HV_X64_MSR_SVERSION:
		return -1;	/* read-only */
	case HV_X64_MSR_SIEFP:
		old = s->siefp;
		s->siefp = v;
		page_enable(vp, old, v);
		return 0;
	case HV_X64_MSR_SIMP:
		old = s->simp;
		s->simp = v;
		page_enable(vp, old, v);
		rescan(vp);
		return 0;
	case HV_X64_MSR_EOM:
		hv_synic_mark(HV_MARK_SYNIC_EOM, vp, 0, 0, HV_MARK_SYNTH_MESSAGE, 0, 0, 0);
		rescan(vp);
		return 0;
	default:
		if (idx < HV_X64_MSR_SINT0)
			return -1;
		if (!(v & (HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_POLLING)) &&
		    SINT_VECTOR(v) < HV_SYNIC_FIRST_VALID_VECTOR)
			return -1;
		s->sint[idx - HV_X64_MSR_SINT0] = v;
		return 0;
	}
}
