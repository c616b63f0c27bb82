#include <criterion/criterion.h>

#include "clock.h"

static int order[8], norder;

static void record(void *opaque)
{
	order[norder++] = (int)(intptr_t)opaque;
}

Test(clock, events_run_in_time_then_schedule_order)
{
	struct sim_clock *c = sim_clock_simple_new();

	norder = 0;
	sim_schedule(c, 300, record, (void *)3);
	sim_schedule(c, 100, record, (void *)1);
	sim_schedule(c, 200, record, (void *)2);
	sim_schedule(c, 200, record, (void *)4);	/* same time: after 2 */
	sim_clock_simple_advance(c, 250);
	cr_assert_eq(norder, 3);
	cr_assert_eq(order[0], 1);
	cr_assert_eq(order[1], 2);
	cr_assert_eq(order[2], 4);
	cr_assert_eq(sim_now(c), 250);
	sim_clock_simple_advance(c, 1000);
	cr_assert_eq(norder, 4);
	cr_assert_eq(order[3], 3);
	sim_clock_simple_free(c);
}

Test(clock, cancelled_event_never_runs)
{
	struct sim_clock *c = sim_clock_simple_new();
	uint64_t id;

	norder = 0;
	id = sim_schedule(c, 100, record, (void *)1);
	sim_schedule(c, 50, record, (void *)2);
	sim_cancel(c, id);
	sim_clock_simple_advance(c, 1000);
	cr_assert_eq(norder, 1);
	cr_assert_eq(order[0], 2);
	sim_clock_simple_free(c);
}

Test(clock, event_in_the_past_runs_now)
{
	struct sim_clock *c = sim_clock_simple_new();

	norder = 0;
	sim_clock_simple_advance(c, 500);
	sim_schedule(c, 10, record, (void *)7);
	sim_clock_simple_advance(c, 500);
	cr_assert_eq(norder, 1);
	cr_assert_eq(sim_now(c), 500);
	sim_clock_simple_free(c);
}

Test(clock, cycle_conversion_is_exact_and_does_not_overflow)
{
	/* 3.4 GHz: 3400 cycles = 1 us. */
	cr_assert_eq(sim_cycles_to_ps(3400, 3400000), 1000000);
	cr_assert_eq(sim_ps_to_cycles(1000000, 3400000), 3400);
	/* A day of cycles at 3.4 GHz still converts. */
	uint64_t day = 86400ull * 3400000000ull;
	cr_assert_eq(sim_cycles_to_ps(day, 3400000), 86400ull * SIM_PS_PER_S);
}
