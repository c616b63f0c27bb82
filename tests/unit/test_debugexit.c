#include <criterion/criterion.h>

#include "dev.h"
#include "memmap.h"

struct record {
	int calls;
	uint32_t value;
};

static void on_exit_write(void *opaque, uint32_t value)
{
	struct record *r = opaque;

	r->calls++;
	r->value = value;
}

static struct memmap *m;
static struct debugexit *d;
static struct record rec;

static void setup(void)
{
	rec = (struct record){ 0 };
	m = memmap_new(1 << 20);
	cr_assert_not_null(m);
	d = debugexit_new(m, DEBUGEXIT_PORT, on_exit_write, &rec);
	cr_assert_not_null(d);
}

static void teardown(void)
{
	debugexit_free(d);
	memmap_free(m);
}

TestSuite(debugexit, .init = setup, .fini = teardown);

Test(debugexit, byte_write_passes_value)
{
	memmap_port_out(m, DEBUGEXIT_PORT, 0x31, 1);
	cr_assert_eq(rec.calls, 1);
	cr_assert_eq(rec.value, 0x31);
}

Test(debugexit, word_write_passes_value)
{
	memmap_port_out(m, DEBUGEXIT_PORT, 0xBEEF, 2);
	cr_assert_eq(rec.calls, 1);
	cr_assert_eq(rec.value, 0xBEEF);
}

Test(debugexit, dword_write_passes_value)
{
	memmap_port_out(m, DEBUGEXIT_PORT, 0xDEADBEEF, 4);
	cr_assert_eq(rec.calls, 1);
	cr_assert_eq(rec.value, 0xDEADBEEF);
}

Test(debugexit, each_write_is_reported)
{
	memmap_port_out(m, DEBUGEXIT_PORT, 1, 1);
	memmap_port_out(m, DEBUGEXIT_PORT, 0, 1);
	cr_assert_eq(rec.calls, 2);
	cr_assert_eq(rec.value, 0);
}

Test(debugexit, reads_return_all_ones_and_do_not_exit)
{
	cr_assert_eq(memmap_port_in(m, DEBUGEXIT_PORT, 1), 0xFF);
	cr_assert_eq(memmap_port_in(m, DEBUGEXIT_PORT, 2), 0xFFFF);
	cr_assert_eq(memmap_port_in(m, DEBUGEXIT_PORT, 4), 0xFFFFFFFF);
	cr_assert_eq(rec.calls, 0);
}

Test(debugexit, other_ports_are_not_claimed)
{
	memmap_port_out(m, DEBUGEXIT_PORT - 1, 5, 1);
	memmap_port_out(m, DEBUGEXIT_PORT + 4, 5, 1);
	cr_assert_eq(rec.calls, 0);
}

Test(debugexit, second_device_on_same_port_is_refused)
{
	cr_assert_null(debugexit_new(m, DEBUGEXIT_PORT, on_exit_write, &rec));
}
