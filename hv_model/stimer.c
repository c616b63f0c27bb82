/* Synthetic time (TLFS "Timers"): the partition reference counter
 * (HV_X64_MSR_TIME_REF_COUNT), the reference TSC page
 * (HV_X64_MSR_REFERENCE_TSC) and the four synthetic timers of every VP
 * (HV_X64_MSR_STIMER0_CONFIG .. STIMER3_COUNT).
 *
 * Reference time is derived from the TSC, whose rate the boot
 * information gives (tsc_khz): time = ((TSC * scale) >> 64) + offset,
 * with scale = 10^7 * 2^64 / TSC Hz and offset = -((creation TSC * scale)
 * >> 64), so it is 0 when the partition is created and counts 100 ns
 * units.  The MSR and the page use the same scale and offset, so the
 * guest's formula gives exactly what the MSR reads at the same TSC.
 * hv_model sets no TSC offset or multiplier in the VMCS: the guest's
 * RDTSC reads the LP's TSC, the one this code reads.
 *
 * Timers are driven by simulated time.  hv_run calls hv_stimer_run()
 * before every VM entry: it acts on every expiry due on the LP, for the
 * running VP and for VPs that are halted, suspended or waiting for their
 * turn, and returns the TSC of the next expiry, which bounds the entry
 * through the VMX-preemption timer (SDM 26.5.1), so the hypervisor gets
 * the LP back at that time even if the VP never exits.  When no VP can
 * run, hv_run waits in root mode for that TSC.  A message-mode expiry
 * goes to the VP's SynIC at once (a halted VP wakes if the SINT raises an
 * interrupt); a direct-mode one makes its vector pending, injected at
 * the VP's next entry (a halted VP wakes).  The TLFS only promises that
 * a timer never signals early; here one signals at the first exit or
 * entry after its due TSC.
 *
 * The same loop drives the local APIC timer of every child VP's virtual
 * APIC (apictimer.c: hv_apic_timer_run), and HV_X64_MSR_TSC_FREQUENCY and
 * HV_X64_MSR_APIC_FREQUENCY (AccessFrequencyMsrs) report the TSC's rate
 * and that of the virtual APIC's bus clock. */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

static uint64_t tsc_khz;	/* 0: no TSC rate, so no synthetic time */
static uint64_t tsc_scale;	/* 10^7 * 2^64 / TSC Hz = 10^4 * 2^64 / tsc_khz */
static unsigned armed_timers;	/* on all LPs, armed or with a message to retry */

static inline uint64_t mulhi(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/* (hi:lo) / d, the quotient fitting 64 bits (hi < d). */
static inline uint64_t div128(uint64_t hi, uint64_t lo, uint64_t d)
{
	uint64_t q, r;

	asm("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d) : "cc");
	return q;
}

void hv_time_init(uint64_t khz)
{
	/* The scale must fit 64 bits: a TSC faster than 10 MHz. */
	if (khz <= HV_CLOCK_HZ / 1000) {
		rt_printf("hv: TSC rate %lu kHz: no synthetic time\n", (unsigned long)khz);
		return;
	}
	tsc_khz = khz;
	tsc_scale = div128(HV_CLOCK_HZ / 1000, 0, khz);
	hv_apic_timer_init(khz);
}

void hv_time_kick(void)
{
	armed_timers++;
}

void hv_time_start(struct hv_partition *p)
{
	p->time_base = rdtsc();
	p->tsc_offset = -(int64_t)mulhi(p->time_base, tsc_scale);
}

uint64_t hv_ref_time(const struct hv_partition *p, uint64_t tsc)
{
	return mulhi(tsc, tsc_scale) + (uint64_t)p->tsc_offset;
}

/* The first TSC at which `p`'s reference time reaches `t` (~0 if that is
 * beyond what 64 bits of TSC hold). */
static uint64_t tsc_at(const struct hv_partition *p, uint64_t t)
{
	unsigned __int128 n = (unsigned __int128)t * tsc_khz;
	uint64_t step = tsc_khz / (HV_CLOCK_HZ / 1000) + 1, x;

	if ((uint64_t)(n >> 64) >= HV_CLOCK_HZ / 1000)
		return ~0ull;
	x = p->time_base + div128((uint64_t)(n >> 64), (uint64_t)n, HV_CLOCK_HZ / 1000);
	/* The formula rounds down twice: step until it says t. */
	while (hv_ref_time(p, x) < t && x < ~0ull - step)
		x += step;
	return x;
}

/* ---- the reference TSC page ---- */

/* Write the page the MSR names, if enabled and the partition's RAM (TLFS:
 * a GPA outside the partition's memory leaves it inaccessible).  It is
 * the partition's own page, written through its EPT, not an overlay:
 * sequence 1 (scale and offset never change), scale, offset. */
static void reference_tsc_page(struct hv_partition *p)
{
	struct hv_reference_tsc_page *pg;
	uint64_t hpa;

	if (!(p->reference_tsc_msr & HV_X64_MSR_TSC_REFERENCE_ENABLE))
		return;
	hpa = hv_guest_ram(p, p->reference_tsc_msr & HV_X64_MSR_PAGE_ADDRESS_MASK, 1);
	if (hpa == ~0ull)
		return;
	pg = hv_va(hpa);
	memset(pg, 0, HV_PAGE_SIZE);
	pg->tsc_scale = tsc_scale;
	pg->tsc_offset = p->tsc_offset;
	asm volatile("" ::: "memory");
	*(volatile uint32_t *)&pg->tsc_sequence = 1;
}

/* ---- synthetic timers ---- */

static unsigned stimer_sint(const struct hv_stimer *t)
{
	return (unsigned)((t->config & HV_STIMER_SINTX_MASK) >> HV_STIMER_SINTX_SHIFT);
}

static void disarm(struct hv_stimer *t)
{
	t->armed = 0;
	t->undelivered = 0;
}

/* armed_timers only has to be non-zero while something is armed:
 * hv_stimer_run() counts again. */
static void arm(struct hv_vp *vp, struct hv_stimer *t, uint64_t due)
{
	t->due = due;
	t->due_tsc = tsc_at(vp->part, due);
	t->armed = 1;
	armed_timers++;
}

/* The timer was enabled, or its count written while enabled: it starts
 * (TLFS "Synthetic Timer Configuration Register", "... Count Register").
 * An enabled message-mode timer with SINTx 0 is disabled at once, as is
 * one whose count is 0.  A one-shot counts to the absolute time `count`
 * (in the past: it expires at once); a periodic timer's first period
 * starts now. */
static void start(struct hv_vp *vp, struct hv_stimer *t)
{
	disarm(t);
	if (!(t->config & HV_STIMER_DIRECT_MODE) && !stimer_sint(t))
		t->config &= ~HV_STIMER_ENABLE;
	if (!t->count)
		t->config &= ~HV_STIMER_ENABLE;
	if (!(t->config & HV_STIMER_ENABLE))
		return;
	arm(vp, t, (t->config & HV_STIMER_PERIODIC) ? hv_ref_time(vp->part, rdtsc()) + t->count : t->count);
}

void hv_stimer_reset(struct hv_vp *vp)
{
	memset(vp->stimer, 0, sizeof(vp->stimer));
}

void hv_stimer_delivering(struct hv_vp *vp, const struct hv_message *src, struct hv_message *slot)
{
	const struct hv_timer_message_payload *in = (const void *)src->payload;
	struct hv_timer_message_payload *out = (void *)slot->payload;

	out->delivery_time = hv_ref_time(vp->part, rdtsc());
	vp->stimer[in->timer_index % HV_SYNIC_STIMER_COUNT].msg_wait = 0;
}

/* Post timer `i`'s expiration message for `exp` (due at TSC `exp_tsc`,
 * for hvsim's statistics); kept for a retry when the SynIC cannot take
 * it (disabled, queue full). */
static void post(struct hv_vp *vp, unsigned i, uint64_t exp, uint64_t exp_tsc)
{
	struct hv_stimer *t = &vp->stimer[i];
	struct hv_timer_message_payload pl = { .timer_index = i, .expiration_time = exp };

	t->undelivered = 0;
	t->msg_wait = 1;	/* cleared by hv_stimer_delivering, maybe right away */
	if (hv_synic_post_at(vp, stimer_sint(t), HVMSG_TIMER_EXPIRED, 0, &pl, sizeof(pl), exp_tsc)) {
		t->msg_wait = 0;
		t->undelivered = exp;
	}
}

/* Timer `i` of `vp` is due (reference time `now`). */
static void expire(struct hv_vp *vp, unsigned i, uint64_t now)
{
	static struct hv_mark_stimer rec;
	struct hv_stimer *t = &vp->stimer[i];
	int direct = !!(t->config & HV_STIMER_DIRECT_MODE);
	uint64_t period = t->count, due = t->due, next, k;

	rec = (struct hv_mark_stimer){ .partition = vp->part->id, .vp = vp->index, .timer = (uint8_t)i,
				       .direct = (uint8_t)direct, .due = due, .due_tsc = t->due_tsc };
	HV_MARKER(HV_MARK_STIMER, &rec);
	t->expirations++;
	if (direct) {
		unsigned vec = (unsigned)((t->config & HV_STIMER_APIC_VECTOR_MASK) >> HV_STIMER_APIC_VECTOR_SHIFT);

		hv_irq_raise(vp, vec, HV_MARK_SYNTH_TIMER, i, 0, t->due_tsc);
	} else {
		post(vp, i, due, t->due_tsc);
	}
	if (!(t->config & HV_STIMER_PERIODIC)) {
		/* A one-shot disables itself. */
		t->config &= ~HV_STIMER_ENABLE;
		t->armed = 0;
		return;
	}
	/* Periodic: the next period ends at due + period.  Expirations missed
	 * meanwhile (the VP or its message slot was unavailable for whole
	 * periods, TLFS "Periodic Timers"): a lazy timer skips them all and
	 * waits for the next one on its grid; any other catches up with the
	 * last one missed, at once (a shortened period), and skips those
	 * before it. */
	next = due + period;
	if (next <= now) {
		k = (now - due) / period;	/* due + period .. due + k * period have passed */
		if (t->config & HV_STIMER_LAZY) {
			next = due + (k + 1) * period;
			t->missed += k;
		} else {
			next = due + k * period;
			t->missed += k - 1;
		}
	}
	arm(vp, t, next);
}

uint64_t hv_stimer_run(unsigned lp)
{
	uint64_t tsc, next = ~0ull;
	unsigned armed = 0;

	if (!armed_timers)
		return next;	/* the common case: one load */
	tsc = rdtsc();
	for (unsigned s = 0; s < hv_partition_slots(); s++) {
		struct hv_partition *p = hv_partition_at(s);
		uint64_t now;

		if (!p)
			continue;
		now = hv_ref_time(p, tsc);
		for (unsigned v = 0; v < p->nvps; v++) {
			struct hv_vp *vp = p->vps[v];

			/* The timer of a child's virtual APIC (apictimer.c). */
			if (vp && !p->is_root && hv_apic_timer_pending(vp)) {
				armed++;
				if (vp->lp == lp) {
					uint64_t t = hv_apic_timer_run(vp, tsc);

					if (t < next)
						next = t;
				}
			}
			for (unsigned i = 0; vp && i < HV_SYNIC_STIMER_COUNT; i++) {
				struct hv_stimer *t = &vp->stimer[i];

				if (!t->armed && !t->undelivered)
					continue;
				armed++;
				if (vp->lp != lp)
					continue;
				if (t->undelivered && !t->msg_wait)
					post(vp, i, t->undelivered, tsc_at(p, t->undelivered));
				/* The next expiry waits until the last message
				 * left the queue (EOM, an exit, makes it move). */
				if (!t->armed || t->undelivered || t->msg_wait)
					continue;
				if (tsc >= t->due_tsc) {
					expire(vp, i, now);
					if (!t->armed || t->undelivered || t->msg_wait)
						continue;
				}
				if (t->due_tsc < next)
					next = t->due_tsc;
			}
		}
	}
	armed_timers = armed;
	return next;
}

/* ---- the MSRs ---- */

/* 1: not a time MSR; -1: the partition lacks the privilege (#GP). */
static int time_access(const struct hv_vp *vp, uint32_t idx)
{
	uint64_t need;

	if (idx == HV_X64_MSR_TIME_REF_COUNT)
		need = HV_MSR_TIME_REF_COUNT_AVAILABLE;
	else if (idx == HV_X64_MSR_REFERENCE_TSC)
		need = HV_MSR_REFERENCE_TSC_AVAILABLE;
	else if (idx == HV_X64_MSR_TSC_FREQUENCY || idx == HV_X64_MSR_APIC_FREQUENCY)
		need = HV_ACCESS_FREQUENCY_MSRS;
	else if (idx >= HV_X64_MSR_STIMER_CONFIG(0) && idx <= HV_X64_MSR_STIMER_COUNT(HV_SYNIC_STIMER_COUNT - 1))
		need = HV_MSR_SYNTIMER_AVAILABLE;
	else
		return 1;
	return (vp->part->privileges & need) && tsc_khz ? 0 : -1;
}

int hv_stimer_msr_read(struct hv_vp *vp, uint32_t idx, uint64_t *v)
{
	int r = time_access(vp, idx);
	struct hv_stimer *t;

	if (r)
		return r;
	if (idx == HV_X64_MSR_TIME_REF_COUNT) {
		/* The time of the RDMSR is the time it exited, however long
		 * the exit waited for the hypervisor lock (lp.c). */
		*v = hv_ref_time(vp->part, hv_this_lp()->exit_tsc);
		return 0;
	}
	if (idx == HV_X64_MSR_REFERENCE_TSC) {
		*v = vp->part->reference_tsc_msr;
		return 0;
	}
	/* AccessFrequencyMsrs (TLFS "Partition Privilege Flags"): the TSC's
	 * rate and that of the virtual APIC's bus clock, which its timer
	 * counts (apictimer.c), in Hz. */
	if (idx == HV_X64_MSR_TSC_FREQUENCY) {
		*v = tsc_khz * 1000;
		return 0;
	}
	if (idx == HV_X64_MSR_APIC_FREQUENCY) {
		*v = hv_apic_timer_hz();
		return 0;
	}
	t = &vp->stimer[(idx - HV_X64_MSR_STIMER_CONFIG(0)) / 2];
	*v = (idx - HV_X64_MSR_STIMER_CONFIG(0)) % 2 ? t->count : t->config;
	return 0;
}

int hv_stimer_msr_write(struct hv_vp *vp, uint32_t idx, uint64_t v)
{
	int r = time_access(vp, idx);
	struct hv_partition *p = vp->part;
	struct hv_stimer *t;

	if (r)
		return r;
	if (idx == HV_X64_MSR_TIME_REF_COUNT || idx == HV_X64_MSR_TSC_FREQUENCY || idx == HV_X64_MSR_APIC_FREQUENCY)
		return -1;	/* read-only (TLFS "Partition Reference Counter Register", the frequency MSRs) */
	if (idx == HV_X64_MSR_REFERENCE_TSC) {
		/* 63:12 GPA page, 11:1 RsvdP (kept as written), 0 enable. */
		p->reference_tsc_msr = v;
		reference_tsc_page(p);
		return 0;
	}
	t = &vp->stimer[(idx - HV_X64_MSR_STIMER_CONFIG(0)) / 2];
	if ((idx - HV_X64_MSR_STIMER_CONFIG(0)) % 2 == 0) {
		/* Config: RsvdZ bits are #GP.  Writing it while enabled is
		 * undefined in the TLFS; here the timer starts again. */
		if (v & HV_STIMER_RSVDZ_MASK)
			return -1;
		t->config = v;
		start(vp, t);
		return 0;
	}
	/* Count: 0 stops and disables the timer; otherwise AutoEnable sets
	 * Enable, and an enabled timer starts again with the new count. */
	t->count = v;
	if (v && (t->config & HV_STIMER_AUTO_ENABLE))
		t->config |= HV_STIMER_ENABLE;
	start(vp, t);
	return 0;
}
