#include <criterion/criterion.h>
#include <string.h>

#include "clock.h"
#include "dev.h"
#include "memmap.h"

/* Expected times are ceil(k * 10^12 / 1193182) ps for input clock edge k,
 * computed here independently of the model (and checked against values
 * worked out with arbitrary-precision integers). */
static uint64_t edge_ps(uint64_t k)
{
	unsigned __int128 num = (unsigned __int128)k * 1000000000000ull;

	return (uint64_t)((num + 1193181) / 1193182);
}

#define MAXEDGES 4096

struct edges {
	uint64_t t[MAXEDGES];
	int level[MAXEDGES];
	unsigned n;
};

/* A clock that counts the events the model schedules. */
static struct sim_clock *inner;
static unsigned scheduled;

static uint64_t cnt_now(void *impl)
{
	return sim_now(inner);
}

static uint64_t cnt_schedule(void *impl, uint64_t when, sim_event_fn *fn, void *opaque)
{
	scheduled++;
	return sim_schedule(inner, when, fn, opaque);
}

static void cnt_cancel(void *impl, uint64_t id)
{
	sim_cancel(inner, id);
}

static const struct sim_clock_ops cnt_ops = { cnt_now, cnt_schedule, cnt_cancel };
static struct sim_clock clk = { &cnt_ops, NULL };

static struct memmap *m;
static struct pit *t;
static struct edges irq;

static void irq_rec(void *opaque, unsigned n, int level)
{
	struct edges *e = opaque;

	cr_assert_eq(n, 0);
	if (e->n < MAXEDGES) {
		e->t[e->n] = sim_now(&clk);
		e->level[e->n] = level;
	}
	e->n++;
}

static void setup_with(struct irq_line line)
{
	memset(&irq, 0, sizeof(irq));
	scheduled = 0;
	inner = sim_clock_simple_new();
	m = memmap_new(1 << 20);
	cr_assert_not_null(inner);
	cr_assert_not_null(m);
	t = pit_new(m, &clk, line);
	cr_assert_not_null(t);
}

static void setup(void)
{
	setup_with((struct irq_line){ irq_rec, &irq, 0 });
}

static void setup_unconnected(void)
{
	setup_with((struct irq_line){ 0 });
}

static void teardown(void)
{
	pit_free(t);
	memmap_free(m);
	sim_clock_simple_free(inner);
}

static void out(uint16_t port, uint8_t v)
{
	memmap_port_out(m, port, v, 1);
}

static uint8_t in(uint16_t port)
{
	return (uint8_t)memmap_port_in(m, port, 1);
}

static void advance(uint64_t ps)
{
	sim_clock_simple_advance(inner, ps);
}

static void write_count(uint16_t port, uint16_t v)
{
	out(port, (uint8_t)v);
	out(port, (uint8_t)(v >> 8));
}

static uint16_t read_count(uint16_t port)
{
	uint8_t lo = in(port);

	return (uint16_t)(lo | in(port) << 8);
}

Test(pit, edge_times_are_exact)
{
	cr_assert_eq(pit_tick_time(1), 838096);
	cr_assert_eq(pit_tick_time(1193182), SIM_PS_PER_S);
	cr_assert_eq(pit_tick_at(838095), 0);
	cr_assert_eq(pit_tick_at(838096), 1);
	cr_assert_eq(pit_tick_at(SIM_PS_PER_S), 1193182);
	for (uint64_t k = 0; k < 5000000; k += 99991)
		cr_assert_eq(pit_tick_at(pit_tick_time(k)), k);
}

TestSuite(pit, .init = setup, .fini = teardown);

Test(pit, mode2_rate_generator_period_and_pulse)
{
	out(0x43, 0x34);	/* channel 0, LSB then MSB, mode 2 */
	cr_assert_eq(irq.n, 1, "OUT goes high on the control word");
	cr_assert_eq(irq.level[0], 1);
	write_count(0x40, 1193);	/* loaded at edge 1 */
	advance(edge_ps(1 + 1193 * 1000) + 1);
	/* falling at edge 1193k (CE = 1), rising at 1193k + 1 */
	cr_assert_eq(irq.n, 1 + 2 * 1000);
	for (unsigned k = 1; k <= 1000; k++) {
		cr_assert_eq(irq.level[2 * k - 1], 0);
		cr_assert_eq(irq.t[2 * k - 1], edge_ps(1193ull * k), "fall %u", k);
		cr_assert_eq(irq.level[2 * k], 1);
		cr_assert_eq(irq.t[2 * k], edge_ps(1193ull * k + 1), "rise %u", k);
	}
	/* No drift: 999 periods measured end to end. */
	cr_assert_eq(irq.t[2000] - irq.t[2], 998847619224ull);
	cr_assert_leq(scheduled, 2 * 1000 + 2, "one event per OUT transition, not per tick");
}

Test(pit, mode2_counter_reads)
{
	out(0x43, 0x34);
	write_count(0x40, 100);
	advance(edge_ps(1));
	cr_assert_eq(read_count(0x40), 100);
	advance(edge_ps(1 + 99));
	cr_assert_eq(read_count(0x40), 1);
	advance(edge_ps(1 + 100));
	cr_assert_eq(read_count(0x40), 100, "reloaded, never reads 0");
	advance(edge_ps(1 + 100 + 37));
	cr_assert_eq(read_count(0x40), 63);
}

Test(pit, mode3_square_wave_even_and_odd)
{
	out(0x43, 0x36);	/* channel 0, mode 3 */
	write_count(0x40, 100);
	advance(edge_ps(1 + 300) + 1);
	/* high from the control word, low at 51, high at 101, ... */
	cr_assert_eq(irq.n, 1 + 6);
	cr_assert_eq(irq.t[1], edge_ps(51));
	cr_assert_eq(irq.t[2], edge_ps(101));
	cr_assert_eq(irq.t[3], edge_ps(151));
	cr_assert_eq(irq.t[6], edge_ps(301));
	cr_assert_eq(irq.level[5], 0);

	out(0x43, 0x36);
	write_count(0x40, 101);	/* written at edge 301 + ..., loaded next edge */
	uint64_t t0 = pit_tick_at(sim_now(&clk)) + 1;
	unsigned base = irq.n;

	advance(edge_ps(t0 + 202) + 1);
	cr_assert_eq(irq.t[base], edge_ps(t0 + 51), "high for (N+1)/2");
	cr_assert_eq(irq.t[base + 1], edge_ps(t0 + 101), "low for (N-1)/2");
	cr_assert_eq(irq.t[base + 2], edge_ps(t0 + 152));
}

Test(pit, mode3_counts_down_by_two)
{
	out(0x43, 0x36);
	write_count(0x40, 100);
	advance(edge_ps(1 + 10));
	cr_assert_eq(read_count(0x40), 80);
	advance(edge_ps(1 + 60));
	cr_assert_eq(read_count(0x40), 80, "second half counts from N again");
}

Test(pit, mode0_interrupt_on_terminal_count)
{
	out(0x43, 0x30);	/* channel 0, mode 0 */
	cr_assert_eq(irq.n, 0, "OUT low, as it was");
	write_count(0x40, 1000);
	advance(edge_ps(1 + 500));
	cr_assert_eq(read_count(0x40), 500);
	advance(edge_ps(1 + 1000) - 1);
	cr_assert_eq(irq.n, 0);
	advance(edge_ps(1 + 10000));
	cr_assert_eq(irq.n, 1, "exactly one rising edge");
	cr_assert_eq(irq.t[0], edge_ps(1 + 1000), "N+1 clocks after the write");
	cr_assert_eq(read_count(0x40), (uint16_t)(0 - 9000), "counter keeps wrapping");
	cr_assert_leq(scheduled, 2);
}

Test(pit, mode0_new_count_restarts)
{
	out(0x43, 0x30);
	write_count(0x40, 1000);
	advance(edge_ps(1 + 1000));
	cr_assert_eq(irq.n, 1);
	write_count(0x40, 10);	/* first byte sets OUT low */
	cr_assert_eq(irq.n, 2);
	cr_assert_eq(irq.level[1], 0);
	advance(edge_ps(1 + 1000 + 1 + 10));
	cr_assert_eq(irq.n, 3);
	cr_assert_eq(irq.t[2], edge_ps(1 + 1000 + 1 + 10));
}

Test(pit, mode4_strobe_is_one_clock_low)
{
	out(0x43, 0x38);	/* channel 0, mode 4 */
	write_count(0x40, 10);
	advance(edge_ps(100));
	cr_assert_eq(irq.n, 3);
	cr_assert_eq(irq.level[1], 0);
	cr_assert_eq(irq.t[1], edge_ps(11));
	cr_assert_eq(irq.t[2], edge_ps(12));
}

Test(pit, counter_latch_holds_value_until_read)
{
	out(0x43, 0x34);
	write_count(0x40, 1000);
	advance(edge_ps(1 + 250));
	out(0x43, 0x00);	/* latch channel 0 */
	advance(edge_ps(1 + 400));
	out(0x43, 0x00);	/* ignored: already latched */
	cr_assert_eq(read_count(0x40), 750);
	cr_assert_eq(read_count(0x40), 600, "live again after the latch is read");
}

Test(pit, lsb_only_and_msb_only_access)
{
	out(0x43, 0x14);	/* channel 0, LSB only, mode 2 */
	out(0x40, 200);
	advance(edge_ps(1 + 50));
	cr_assert_eq(in(0x40), 150);
	cr_assert_eq(in(0x40), 150);
	out(0x43, 0x24);	/* MSB only */
	out(0x40, 0x02);	/* 512 */
	uint64_t t0 = pit_tick_at(sim_now(&clk)) + 1;

	advance(edge_ps(t0 + 256));
	cr_assert_eq(in(0x40), 0x01);
}

Test(pit, readback_status_and_count)
{
	out(0x43, 0xB4);	/* channel 2, both bytes, mode 2 */
	out(0x43, 0xE8);	/* read-back status of channel 2 */
	cr_assert_eq(in(0x42), 0x80 | 0x40 | 0x34, "OUT high, null count, control bits");
	out(0x61, 0x01);	/* gate 2 high */
	write_count(0x42, 300);
	advance(edge_ps(1 + 100));
	out(0x43, 0xC8);	/* read-back count and status of channel 2 */
	advance(edge_ps(1 + 150));
	cr_assert_eq(in(0x42), 0x80 | 0x34, "count loaded: null count clear");
	cr_assert_eq(read_count(0x42), 200, "latched count follows the status");
	cr_assert_eq(read_count(0x42), 150);
	cr_assert_eq(in(0x43), 0xFF, "control register is write-only");
}

Test(pit, readback_reports_mode0_output)
{
	out(0x43, 0x30);
	write_count(0x40, 5);
	out(0x43, 0xE2);
	cr_assert_eq(in(0x40), 0x40 | 0x30, "OUT low, count not yet loaded");
	advance(edge_ps(6));
	out(0x43, 0xE2);
	cr_assert_eq(in(0x40), 0x80 | 0x30);
}

Test(pit, mode2_new_count_takes_effect_at_next_reload)
{
	out(0x43, 0x34);
	write_count(0x40, 100);
	advance(edge_ps(1 + 30));
	write_count(0x40, 40);
	advance(edge_ps(1 + 100 + 80) + 1);
	/* rises at 101 (old period), then 141, 181 */
	cr_assert_eq(irq.t[2], edge_ps(101));
	cr_assert_eq(irq.t[4], edge_ps(141));
	cr_assert_eq(irq.t[6], edge_ps(181));
}

Test(pit, bcd_counting)
{
	out(0x43, 0x35);	/* channel 0, mode 2, BCD */
	write_count(0x40, 0x0100);	/* 100 decimal */
	advance(edge_ps(1 + 1));
	cr_assert_eq(read_count(0x40), 0x0099);
	advance(edge_ps(1 + 100) + 1);
	cr_assert_eq(irq.t[2], edge_ps(101));
}

Test(pit, port61_gate_and_output_for_calibration)
{
	/* Linux's PIT calibration: gate on, speaker off, channel 2 mode 0,
	 * then poll bit 5. */
	out(0x61, (in(0x61) & ~0x02) | 0x01);
	out(0x43, 0xB0);
	write_count(0x42, 0xFFFF);
	uint64_t t0 = pit_tick_at(sim_now(&clk)) + 1;

	cr_assert_eq(in(0x61) & 0x20, 0);
	advance(edge_ps(t0 + 0xFFFF) - 1);
	cr_assert_eq(in(0x61) & 0x20, 0);
	advance(edge_ps(t0 + 0xFFFF));
	cr_assert_eq(in(0x61) & 0x20, 0x20);
	cr_assert_eq(in(0x61) & 0x0F, 0x01);
	cr_assert_eq(irq.n, 0, "channel 2 does not drive IRQ0");
}

Test(pit, gate_low_pauses_mode0)
{
	out(0x61, 0x01);
	out(0x43, 0xB0);
	write_count(0x42, 1000);
	advance(edge_ps(1 + 100));
	out(0x61, 0x00);
	advance(edge_ps(1 + 5000));
	cr_assert_eq(read_count(0x42), 900);
	cr_assert_eq(in(0x61) & 0x20, 0);
	out(0x61, 0x01);
	uint64_t g = pit_tick_at(sim_now(&clk));

	advance(edge_ps(g + 899));
	cr_assert_eq(in(0x61) & 0x20, 0);
	advance(edge_ps(g + 900));
	cr_assert_eq(in(0x61) & 0x20, 0x20);
}

Test(pit, gate_low_forces_mode2_output_high_and_rise_restarts)
{
	out(0x43, 0xB4);
	write_count(0x42, 10);
	cr_assert_eq(read_count(0x42), 0, "gate low: count not loaded");
	out(0x61, 0x01);
	uint64_t g = pit_tick_at(sim_now(&clk)) + 1;

	advance(edge_ps(g + 9));
	cr_assert_eq(in(0x61) & 0x20, 0, "CE is 1: OUT low");
	out(0x61, 0x00);
	cr_assert_eq(in(0x61) & 0x20, 0x20, "gate low: OUT high at once");
	out(0x61, 0x01);
	g = pit_tick_at(sim_now(&clk)) + 1;
	advance(edge_ps(g + 3));
	cr_assert_eq(read_count(0x42), 7, "reloaded from the count register");
}

Test(pit, mode1_one_shot_triggered_by_gate)
{
	out(0x43, 0xB2);	/* channel 2, mode 1 */
	write_count(0x42, 50);
	cr_assert_eq(in(0x61) & 0x20, 0x20, "OUT high until triggered");
	advance(edge_ps(1000));
	out(0x61, 0x01);
	uint64_t g = pit_tick_at(sim_now(&clk)) + 1;

	advance(edge_ps(g));
	cr_assert_eq(in(0x61) & 0x20, 0);
	advance(edge_ps(g + 49));
	cr_assert_eq(in(0x61) & 0x20, 0);
	cr_assert_eq(read_count(0x42), 1);
	advance(edge_ps(g + 50));
	cr_assert_eq(in(0x61) & 0x20, 0x20);
}

Test(pit, refresh_bit_toggles_every_18_clocks)
{
	cr_assert_eq(in(0x61) & 0x10, 0);
	advance(edge_ps(18) - 1);
	cr_assert_eq(in(0x61) & 0x10, 0);
	advance(edge_ps(18));
	cr_assert_eq(in(0x61) & 0x10, 0x10);
	advance(edge_ps(36));
	cr_assert_eq(in(0x61) & 0x10, 0);
	out(0x61, 0xFF);
	cr_assert_eq(in(0x61) & 0xCF, 0x0F, "only bits 3:0 are writable");
}

Test(pit, unconnected_irq0_schedules_nothing, .init = setup_unconnected)
{
	out(0x43, 0x34);
	write_count(0x40, 2);
	advance(SIM_PS_PER_S / 100);
	cr_assert_eq(scheduled, 0);
	cr_assert_eq(read_count(0x40), 2 - (pit_tick_at(SIM_PS_PER_S / 100) - 1) % 2, "still counting");
}
