/* The machine's book of the hypervisor's interrupts (sim/cpu/vflight.h):
 * each flight is timed from its source to its handler and its EOM or
 * EOI wherever the markers and entries come from, every stage is
 * sampled once, and route + dispatch + deliver = total exactly. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "apic.h"
#include "vflight.h"

static struct vflight_book *book;
/* One sink per LP: the stages land where each step happened. */
static struct cpu_irq_stats lp[3];

static void setup(void)
{
	book = vflight_book_new();
	cr_assert_not_null(book);
	memset(lp, 0, sizeof(lp));
}

static void teardown(void)
{
	vflight_book_free(book);
	for (unsigned i = 0; i < 3; i++)
		for (unsigned k = 0; k < CPU_IRQ_KINDS; k++)
			for (unsigned s = 0; s < CPU_IRQ_STAGES; s++)
				free(lp[i].kind[k].stage[s].ps);
}

TestSuite(vflight, .init = setup, .fini = teardown);

/* Samples of one stage of one kind over every LP. */
static size_t n_of(unsigned kind, enum cpu_irq_stage st)
{
	size_t n = 0;

	for (unsigned i = 0; i < 3; i++)
		n += lp[i].kind[kind].stage[st].n;
	return n;
}

static uint64_t count_of(unsigned kind)
{
	return lp[0].kind[kind].count + lp[1].kind[kind].count + lp[2].kind[kind].count;
}

static uint64_t only(unsigned i, unsigned kind, enum cpu_irq_stage st)
{
	cr_assert_eq(lp[i].kind[kind].stage[st].n, 1, "LP%u %s: %zu samples", i, cpu_irq_stage_name(st),
		     lp[i].kind[kind].stage[st].n);
	return lp[i].kind[kind].stage[st].ps[0];
}

static void pend(uint32_t vp, uint8_t vec, uint8_t kind, uint8_t pin, uint64_t seq, int merged, enum vflight_end end,
		 uint64_t assert_ps, uint64_t route_ps)
{
	struct vflight_pend p = { .partition = 2, .vp = vp, .vector = vec, .kind = kind, .pin = pin, .seq = seq,
				  .merged = merged, .end = end, .assert_ps = assert_ps, .route_ps = route_ps };

	vflight_pend(book, &p);
}

static int inject(unsigned i, uint32_t vp, unsigned vec, uint64_t entry, uint64_t handler)
{
	struct vflight_done d;

	return vflight_injected(book, 2, vp, vec, entry, handler, &lp[i], &d);
}

Test(vflight, message_posted_on_one_lp_completes_on_others)
{
	/* LP0 posts (the root's VMCALL at 1000) and the message goes into
	 * the slot at 3000; LP1 enters the child's VP at 5000, handler at
	 * 6000; the EOM comes at 9000 on LP2. */
	vflight_post(book, 2, 1, 7, 1000);
	pend(1, 0x42, IRQ_SRC_SYNIC_MSG, 3, 7, 0, VFLIGHT_END_EOM, 2500, 3000);
	cr_assert(inject(1, 1, 0x42, 5000, 6000));
	vflight_eom(book, 2, 1, 9000, &lp[2]);

	cr_assert_eq(count_of(IRQ_SRC_SYNIC_MSG), 1);
	cr_assert_eq(lp[1].kind[IRQ_SRC_SYNIC_MSG].count, 1);
	cr_assert_eq(only(1, IRQ_SRC_SYNIC_MSG, CPU_IRQ_ROUTE), 2000, "from the post's time, not the fallback");
	cr_assert_eq(only(1, IRQ_SRC_SYNIC_MSG, CPU_IRQ_DISPATCH), 2000);
	cr_assert_eq(only(1, IRQ_SRC_SYNIC_MSG, CPU_IRQ_DELIVER), 1000);
	cr_assert_eq(only(1, IRQ_SRC_SYNIC_MSG, CPU_IRQ_TOTAL), 5000);
	cr_assert_eq(only(2, IRQ_SRC_SYNIC_MSG, CPU_IRQ_EOI), 3000);
	/* Nothing twice: a second EOM finds nothing. */
	vflight_eom(book, 2, 1, 20000, &lp[2]);
	cr_assert_eq(n_of(IRQ_SRC_SYNIC_MSG, CPU_IRQ_EOI), 1);
}

Test(vflight, stages_sum_to_the_total_when_an_lp_reports_behind)
{
	/* The injecting LP's clock is behind the one that routed it (LPs run
	 * up to a quantum apart): times are clamped, the sum stays exact. */
	pend(0, 0x40, IRQ_SRC_SYNTH_TIMER, 0, 0, 0, VFLIGHT_END_NONE, 1000, 4000);
	cr_assert(inject(1, 0, 0x40, 3000, 3500));
	cr_assert_eq(only(1, IRQ_SRC_SYNTH_TIMER, CPU_IRQ_ROUTE) + only(1, IRQ_SRC_SYNTH_TIMER, CPU_IRQ_DISPATCH) +
			     only(1, IRQ_SRC_SYNTH_TIMER, CPU_IRQ_DELIVER),
		     only(1, IRQ_SRC_SYNTH_TIMER, CPU_IRQ_TOTAL));
	cr_assert_eq(only(1, IRQ_SRC_SYNTH_TIMER, CPU_IRQ_TOTAL), 3000);
	cr_assert_eq(n_of(IRQ_SRC_SYNTH_TIMER, CPU_IRQ_EOI), 0, "no end: no eoi");
}

Test(vflight, merged_pend_is_one_interrupt_from_the_first)
{
	pend(0, 0x50, IRQ_SRC_VIPI, 1, 0, 0, VFLIGHT_END_EOI, 1000, 1100);
	pend(0, 0x50, IRQ_SRC_VIPI, 1, 0, 1, VFLIGHT_END_EOI, 2000, 2100);
	cr_assert(inject(0, 0, 0x50, 3000, 3100));
	cr_assert_not(inject(0, 0, 0x50, 4000, 4100), "one interrupt, injected once");
	cr_assert_eq(count_of(IRQ_SRC_VIPI), 1);
	cr_assert_eq(only(0, IRQ_SRC_VIPI, CPU_IRQ_TOTAL), 2100);
}

Test(vflight, unmerged_pend_replaces_a_pending_one_dropped_unseen)
{
	/* The first never went in (the APIC was reset); the hypervisor says
	 * the second found the vector clear: it is timed from itself. */
	pend(0, 0x50, IRQ_SRC_VIPI, 1, 0, 0, VFLIGHT_END_EOI, 1000, 1100);
	pend(0, 0x50, IRQ_SRC_VIPI, 1, 0, 0, VFLIGHT_END_EOI, 50000, 50100);
	cr_assert(inject(0, 0, 0x50, 60000, 60100));
	cr_assert_eq(only(0, IRQ_SRC_VIPI, CPU_IRQ_TOTAL), 10100);
}

Test(vflight, eoi_ends_its_vector_only)
{
	pend(1, 0x40, IRQ_SRC_SYNTH_TIMER, 0, 0, 0, VFLIGHT_END_EOI, 1000, 2000);
	cr_assert(inject(1, 1, 0x40, 3000, 4000));
	vflight_eom(book, 2, 1, 4500, &lp[0]);
	vflight_eoi(book, 2, 1, 0x41, 4600, &lp[0]);
	vflight_eoi(book, 2, 0, 0x40, 4700, &lp[0]);
	cr_assert_eq(n_of(IRQ_SRC_SYNTH_TIMER, CPU_IRQ_EOI), 0, "not by EOM, another vector or another VP");
	vflight_eoi(book, 2, 1, 0x40, 5000, &lp[2]);
	cr_assert_eq(only(2, IRQ_SRC_SYNTH_TIMER, CPU_IRQ_EOI), 1000);
	vflight_eoi(book, 2, 1, 0x40, 6000, &lp[2]);
	cr_assert_eq(n_of(IRQ_SRC_SYNTH_TIMER, CPU_IRQ_EOI), 1);
}

Test(vflight, message_without_eom_ends_unsampled_at_the_next_in_its_slot)
{
	/* Timer messages on SINT1 whose guest frees the slot and writes no
	 * EOM (no msg_pending): the next message in the slot ends the first
	 * with no eoi, so a later EOM is not charged to it. */
	vflight_post(book, 2, 0, 1, 1000);
	pend(0, 0x41, IRQ_SRC_SYNTH_TIMER, 1, 1, 0, VFLIGHT_END_EOM, 1000, 1500);
	cr_assert(inject(0, 0, 0x41, 2000, 3000));
	vflight_post(book, 2, 0, 2, 100000);
	pend(0, 0x41, IRQ_SRC_SYNTH_TIMER, 1, 2, 0, VFLIGHT_END_EOM, 100000, 100500);
	cr_assert(inject(0, 0, 0x41, 101000, 102000));
	vflight_eom(book, 2, 0, 102500, &lp[0]);
	cr_assert_eq(count_of(IRQ_SRC_SYNTH_TIMER), 2);
	cr_assert_eq(only(0, IRQ_SRC_SYNTH_TIMER, CPU_IRQ_EOI), 500, "only the second, handled at 102000");
}

Test(vflight, eom_ends_messages_of_every_sint_of_the_vp)
{
	vflight_post(book, 2, 0, 1, 1000);
	pend(0, 0x41, IRQ_SRC_SYNTH_TIMER, 1, 1, 0, VFLIGHT_END_EOM, 1000, 1500);
	vflight_post(book, 2, 0, 2, 1200);
	pend(0, 0x42, IRQ_SRC_SYNIC_MSG, 3, 2, 0, VFLIGHT_END_EOM, 1200, 1600);
	cr_assert(inject(0, 0, 0x42, 2000, 2100));
	cr_assert(inject(0, 0, 0x41, 2200, 2300));
	vflight_eom(book, 2, 0, 3000, &lp[1]);
	cr_assert_eq(only(1, IRQ_SRC_SYNIC_MSG, CPU_IRQ_EOI), 900);
	cr_assert_eq(only(1, IRQ_SRC_SYNTH_TIMER, CPU_IRQ_EOI), 700);
}

Test(vflight, reinjection_retires_an_eoi_never_seen)
{
	pend(0, 0x61, IRQ_SRC_VIPI, 0, 0, 0, VFLIGHT_END_EOI, 1000, 1100);
	cr_assert(inject(0, 0, 0x61, 1200, 1300));
	pend(0, 0x61, IRQ_SRC_VIPI, 0, 0, 0, VFLIGHT_END_EOI, 5000, 5100);
	cr_assert(inject(0, 0, 0x61, 5200, 5300));
	vflight_eoi(book, 2, 0, 0x61, 6300, &lp[0]);
	cr_assert_eq(only(0, IRQ_SRC_VIPI, CPU_IRQ_EOI), 1000, "the second's EOI, not the first's");
}

Test(vflight, a_vector_it_does_not_follow_is_not_its)
{
	cr_assert_not(inject(0, 0, 0x30, 100, 200));
	pend(0, 0x40, IRQ_SRC_SYNTH_TIMER, 0, 0, 0, VFLIGHT_END_NONE, 100, 200);
	cr_assert_not(inject(0, 1, 0x40, 300, 400), "another VP");
	cr_assert_eq(count_of(IRQ_SRC_SYNTH_TIMER), 0);
}

Test(vflight, full_book_gives_way_oldest_first)
{
	/* More pending than it holds: the oldest give way, the newest are
	 * still followed. */
	for (unsigned v = 0; v < 300; v++)
		pend(v, 0x40, IRQ_SRC_SYNTH_TIMER, 0, 0, 0, VFLIGHT_END_NONE, 1000 + v, 1000 + v);
	cr_assert_not(inject(0, 0, 0x40, 5000, 5100));
	cr_assert(inject(0, 299, 0x40, 5000, 5100));
	cr_assert_eq(only(0, IRQ_SRC_SYNTH_TIMER, CPU_IRQ_TOTAL), 5100 - 1299);
}
