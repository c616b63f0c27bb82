#include <criterion/criterion.h>

#include "clock.h"
#include "dev.h"
#include "memmap.h"

/* Expected values are floor(ps * 3579545 / 10^12) mod 2^32, worked out
 * independently with arbitrary-precision integers. */

Test(pmtimer, value_is_zero_at_time_zero)
{
	cr_assert_eq(pmtimer_value_at(0), 0);
}

Test(pmtimer, first_tick_lands_exactly_on_its_boundary)
{
	/* 1 tick = 279365.11... ps */
	cr_assert_eq(pmtimer_value_at(279365), 0);
	cr_assert_eq(pmtimer_value_at(279366), 1);
}

Test(pmtimer, one_second_is_3579545_ticks)
{
	cr_assert_eq(pmtimer_value_at(SIM_PS_PER_S), 3579545);
	cr_assert_eq(pmtimer_value_at(10 * SIM_PS_PER_S), 35795450);
}

Test(pmtimer, counter_wraps_at_32_bits)
{
	cr_assert_eq(pmtimer_value_at(1199864031881146ull), 0xFFFFFFFFu);
	cr_assert_eq(pmtimer_value_at(1199864031881147ull), 0);
	cr_assert_eq(pmtimer_value_at(1200 * SIM_PS_PER_S), 486704);
}

Test(pmtimer, largest_time_does_not_overflow)
{
	cr_assert_eq(pmtimer_value_at(UINT64_MAX), 123306622);
}

Test(pmtimer, value_is_monotonic_between_wraps)
{
	uint32_t prev = 0;

	for (uint64_t ps = 0; ps < 2 * SIM_PS_PER_S; ps += 7777777) {
		uint32_t v = pmtimer_value_at(ps);

		cr_assert_geq(v, prev, "at %llu ps", (unsigned long long)ps);
		prev = v;
	}
	cr_assert_gt(prev, 7000000);
}

static struct memmap *m;
static struct sim_clock *clk;
static struct pmtimer *t;

static void setup(void)
{
	m = memmap_new(1 << 20);
	clk = sim_clock_simple_new();
	cr_assert_not_null(m);
	cr_assert_not_null(clk);
	t = pmtimer_new(m, PMTIMER_PORT, clk);
	cr_assert_not_null(t);
}

static void teardown(void)
{
	pmtimer_free(t);
	sim_clock_simple_free(clk);
	memmap_free(m);
}

Test(pmtimer, port_read_follows_the_clock, .init = setup, .fini = teardown)
{
	cr_assert_eq(memmap_port_in(m, PMTIMER_PORT, 4), 0);
	sim_clock_simple_advance(clk, SIM_PS_PER_S);
	cr_assert_eq(memmap_port_in(m, PMTIMER_PORT, 4), 3579545);
	sim_clock_simple_advance(clk, 1200 * SIM_PS_PER_S);
	cr_assert_eq(memmap_port_in(m, PMTIMER_PORT, 4), 486704);
}

Test(pmtimer, narrow_reads_return_low_bytes, .init = setup, .fini = teardown)
{
	sim_clock_simple_advance(clk, SIM_PS_PER_S);	/* 3579545 = 0x00369E99 */
	cr_assert_eq(memmap_port_in(m, PMTIMER_PORT, 2), 0x9E99);
	cr_assert_eq(memmap_port_in(m, PMTIMER_PORT, 1), 0x99);
	cr_assert_eq(memmap_port_in(m, PMTIMER_PORT + 1, 1), 0x9E);
	cr_assert_eq(memmap_port_in(m, PMTIMER_PORT + 2, 1), 0x36);
}

Test(pmtimer, writes_do_not_change_the_counter, .init = setup, .fini = teardown)
{
	sim_clock_simple_advance(clk, SIM_PS_PER_S);
	memmap_port_out(m, PMTIMER_PORT, 0, 4);
	cr_assert_eq(memmap_port_in(m, PMTIMER_PORT, 4), 3579545);
}
