#include <criterion/criterion.h>
#include <string.h>

#include "dev.h"
#include "memmap.h"

#define MAXCALLS 16

struct calls {
	unsigned n[MAXCALLS];
	int level[MAXCALLS];
	unsigned count;
};

static struct memmap *m;
static struct irqtest *t;
static struct calls calls;

static void rec(void *opaque, unsigned n, int level)
{
	struct calls *c = opaque;

	if (c->count < MAXCALLS) {
		c->n[c->count] = n;
		c->level[c->count] = level;
	}
	c->count++;
}

static void setup(void)
{
	memset(&calls, 0, sizeof(calls));
	m = memmap_new(1 << 20);
	cr_assert_not_null(m);
	t = irqtest_new(m, IRQTEST_PORT, rec, &calls);
	cr_assert_not_null(t);
}

static void teardown(void)
{
	irqtest_free(t);
	memmap_free(m);
}

TestSuite(irqtest, .init = setup, .fini = teardown);

Test(irqtest, write_one_raises_and_zero_lowers_line_n)
{
	memmap_port_out(m, IRQTEST_PORT + 5, 1, 1);
	cr_assert_eq(calls.count, 1);
	cr_assert_eq(calls.n[0], 5);
	cr_assert_eq(calls.level[0], 1);
	cr_assert_eq(memmap_port_in(m, IRQTEST_PORT + 5, 1), 1);
	memmap_port_out(m, IRQTEST_PORT + 5, 0, 1);
	cr_assert_eq(calls.count, 2);
	cr_assert_eq(calls.level[1], 0);
	cr_assert_eq(memmap_port_in(m, IRQTEST_PORT + 5, 1), 0);
}

Test(irqtest, last_line_is_23)
{
	memmap_port_out(m, IRQTEST_PORT + 23, 1, 1);
	cr_assert_eq(calls.count, 1);
	cr_assert_eq(calls.n[0], 23);
	memmap_port_out(m, IRQTEST_PORT + 24, 1, 1);
	cr_assert_eq(calls.count, 1, "port 0x2018 is not the device's");
	cr_assert_eq(memmap_port_in(m, IRQTEST_PORT + 24, 1), 0xFF);
}

Test(irqtest, other_values_are_ignored)
{
	memmap_port_out(m, IRQTEST_PORT + 2, 1, 1);
	memmap_port_out(m, IRQTEST_PORT + 2, 2, 1);
	memmap_port_out(m, IRQTEST_PORT + 2, 0xFF, 1);
	cr_assert_eq(calls.count, 1);
	cr_assert_eq(memmap_port_in(m, IRQTEST_PORT + 2, 1), 1, "level unchanged");
}

Test(irqtest, wide_access_is_split_into_bytes)
{
	memmap_port_out(m, IRQTEST_PORT + 8, 0x0101, 2);
	cr_assert_eq(calls.count, 2);
	cr_assert_eq(calls.n[0], 8);
	cr_assert_eq(calls.n[1], 9);
	cr_assert_eq(memmap_port_in(m, IRQTEST_PORT + 8, 4), 0x00000101);
	cr_assert_eq(memmap_port_in(m, IRQTEST_PORT + 22, 4), 0xFFFF0000, "bytes past line 23 read all ones");
}

Test(irqtest, repeated_level_is_passed_on)
{
	/* The receiver decides what a repeated level means (no edge). */
	memmap_port_out(m, IRQTEST_PORT, 1, 1);
	memmap_port_out(m, IRQTEST_PORT, 1, 1);
	cr_assert_eq(calls.count, 2);
}
