#include <criterion/criterion.h>
#include <string.h>

#include "apic.h"
#include "clock.h"
#include "memmap.h"

#define BASE IOAPIC_DEFAULT_BASE
#define MAXMSG 16

struct recorder {
	struct apic_msg msg[MAXMSG];
	unsigned n;
};

static struct memmap *m;
static struct sim_clock *clk;
static struct ioapic *io;
static struct recorder rec;

static unsigned record(void *opaque, const struct apic_msg *msg)
{
	struct recorder *r = opaque;

	if (r->n < MAXMSG)
		r->msg[r->n] = *msg;
	r->n++;
	return 1;
}

static void setup(void)
{
	memset(&rec, 0, sizeof(rec));
	m = memmap_new(1 << 20);
	clk = sim_clock_simple_new();
	cr_assert_not_null(m);
	cr_assert_not_null(clk);
	io = ioapic_new(m, BASE, 2, record, &rec, clk);
	cr_assert_not_null(io);
}

static void teardown(void)
{
	ioapic_free(io);
	sim_clock_simple_free(clk);
	memmap_free(m);
}

static uint32_t reg_read(uint8_t reg)
{
	memmap_mmio_write(m, BASE, reg, 4);
	return (uint32_t)memmap_mmio_read(m, BASE + 0x10, 4);
}

static void reg_write(uint8_t reg, uint32_t v)
{
	memmap_mmio_write(m, BASE, reg, 4);
	memmap_mmio_write(m, BASE + 0x10, v, 4);
}

static void rte_write(unsigned pin, uint64_t v)
{
	reg_write(0x11 + 2 * pin, (uint32_t)(v >> 32));
	reg_write(0x10 + 2 * pin, (uint32_t)v);
}

static uint64_t rte_read(unsigned pin)
{
	return ((uint64_t)reg_read(0x11 + 2 * pin) << 32) | reg_read(0x10 + 2 * pin);
}

#define LEVEL (1ull << 15)
#define ACTIVE_LOW (1ull << 13)
#define MASKED (1ull << 16)
#define REMOTE_IRR (1ull << 14)
#define LOGICAL (1ull << 11)
#define DEST(d) ((uint64_t)(d) << 56)
#define DM(d) ((uint64_t)(d) << 8)

TestSuite(ioapic, .init = setup, .fini = teardown);

Test(ioapic, id_version_and_arbitration_read_back)
{
	cr_assert_eq(reg_read(0x00), 2u << 24);
	cr_assert_eq(reg_read(0x01), 0x00170020);
	cr_assert_eq(reg_read(0x02), 2u << 24);
	reg_write(0x00, 0xFFFFFFFF);
	cr_assert_eq(reg_read(0x00), 0x0F000000, "only bits 27:24 are the ID");
	cr_assert_eq(reg_read(0x02), 0x0F000000, "arbitration ID loaded with the ID");
	reg_write(0x01, 0);
	reg_write(0x02, 0);
	cr_assert_eq(reg_read(0x01), 0x00170020, "version is read-only");
	cr_assert_eq(reg_read(0x02), 0x0F000000, "arbitration is read-only");
}

Test(ioapic, ioregsel_reads_back_its_low_byte)
{
	memmap_mmio_write(m, BASE, 0xABCD12, 4);
	cr_assert_eq(memmap_mmio_read(m, BASE, 4), 0x12);
}

Test(ioapic, entries_reset_masked_and_reserved_bits_read_zero)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		cr_assert_eq(rte_read(pin), MASKED, "pin %u", pin);
	rte_write(5, 0xFFFFFFFFFFFFFFFFull);
	/* writable: 7:0, 10:8, 11, 13, 15, 16, 63:56; remote IRR and delivery
	 * status are read-only (and a masked pin is never sent, so IRR stays 0) */
	cr_assert_eq(rte_read(5), 0xFF0000000001AFFFull);
	cr_assert_eq(rec.n, 0);
	cr_assert_eq(reg_read(0x40), 0, "no register past the table");
}

Test(ioapic, edge_sends_one_message_per_rising_edge_with_fields)
{
	rte_write(3, DEST(0x5A) | LOGICAL | DM(APIC_DM_LOWEST) | 0x41);
	sim_clock_simple_advance(clk, 1000);
	ioapic_set_irq(io, 3, 1);
	ioapic_set_irq(io, 3, 1);	/* no edge */
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.msg[0].vector, 0x41);
	cr_assert_eq(rec.msg[0].dest, 0x5A);
	cr_assert_eq(rec.msg[0].logical, 1);
	cr_assert_eq(rec.msg[0].dm, APIC_DM_LOWEST);
	cr_assert_eq(rec.msg[0].level, 0);
	cr_assert_eq(rec.msg[0].shorthand, APIC_SH_NONE);
	cr_assert_eq(rec.msg[0].src, APIC_NO_SOURCE);
	cr_assert_eq(rec.msg[0].origin.kind, IRQ_SRC_PIN);
	cr_assert_eq(rec.msg[0].origin.pin, 3);
	cr_assert_eq(rec.msg[0].origin.assert_ps, 1000);
	cr_assert_eq(rec.msg[0].origin.route_ps, 1000);
	ioapic_set_irq(io, 3, 0);
	ioapic_set_irq(io, 3, 1);
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(rte_read(3) & REMOTE_IRR, 0, "edge never sets remote IRR");
}

Test(ioapic, edge_on_masked_pin_is_lost)
{
	rte_write(4, MASKED | 0x30);
	ioapic_set_irq(io, 4, 1);
	ioapic_set_irq(io, 4, 0);
	rte_write(4, 0x30);
	cr_assert_eq(rec.n, 0);
	ioapic_set_irq(io, 4, 1);
	rte_write(4, MASKED | 0x30);
	rte_write(4, 0x30);
	cr_assert_eq(rec.n, 1, "unmasking a high edge pin synthesises nothing");
}

Test(ioapic, level_sets_remote_irr_and_eoi_resends_while_asserted)
{
	rte_write(9, LEVEL | DEST(1) | 0x51);
	sim_clock_simple_advance(clk, 500);
	ioapic_set_irq(io, 9, 1);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.msg[0].level, 1);
	cr_assert_eq(rec.msg[0].assert, 1);
	cr_assert_neq(rte_read(9) & REMOTE_IRR, 0);
	ioapic_set_irq(io, 9, 0);
	ioapic_set_irq(io, 9, 1);
	cr_assert_eq(rec.n, 1, "no message while remote IRR is set");
	ioapic_eoi(io, 0x52);
	cr_assert_eq(rec.n, 1, "EOI of another vector does nothing");
	sim_clock_simple_advance(clk, 2000);
	ioapic_eoi(io, 0x51);
	cr_assert_eq(rec.n, 2, "still asserted: sent again");
	cr_assert_eq(rec.msg[1].origin.assert_ps, 500, "the time the line rose");
	cr_assert_eq(rec.msg[1].origin.route_ps, 2000);
	cr_assert_neq(rte_read(9) & REMOTE_IRR, 0);
	ioapic_set_irq(io, 9, 0);
	ioapic_eoi(io, 0x51);
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(rte_read(9) & REMOTE_IRR, 0);
}

Test(ioapic, eoi_register_clears_remote_irr)
{
	rte_write(10, LEVEL | 0x60);
	ioapic_set_irq(io, 10, 1);
	cr_assert_eq(rec.n, 1);
	memmap_mmio_write(m, BASE + 0x40, 0x60, 4);
	cr_assert_eq(rec.n, 2);
	ioapic_set_irq(io, 10, 0);
	memmap_mmio_write(m, BASE + 0x40, 0x60, 4);
	cr_assert_eq(rte_read(10) & REMOTE_IRR, 0);
	cr_assert_eq(rec.n, 2);
}

Test(ioapic, eoi_cb_adapter_reaches_the_ioapic)
{
	rte_write(1, LEVEL | 0x70);
	ioapic_irq_set(io, 1, 1);
	cr_assert_eq(rec.n, 1);
	ioapic_set_irq(io, 1, 0);
	ioapic_eoi_cb(io, 0x70);
	cr_assert_eq(rte_read(1) & REMOTE_IRR, 0);
}

Test(ioapic, active_low_level_pin_left_low_is_asserted)
{
	rte_write(18, ACTIVE_LOW | LEVEL | 0x82);
	cr_assert_eq(rec.n, 1, "a low line is an asserted active-low level");
}

Test(ioapic, unmasking_an_asserted_level_pin_sends)
{
	rte_write(11, MASKED | LEVEL | 0x61);
	sim_clock_simple_advance(clk, 100);
	ioapic_set_irq(io, 11, 1);
	cr_assert_eq(rec.n, 0);
	sim_clock_simple_advance(clk, 700);
	rte_write(11, LEVEL | 0x61);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.msg[0].origin.assert_ps, 100);
	cr_assert_eq(rec.msg[0].origin.route_ps, 700);
}

Test(ioapic, active_low_polarity_inverts_the_pin)
{
	/* an active-low line idles high */
	ioapic_set_irq(io, 16, 1);
	ioapic_set_irq(io, 17, 1);
	rte_write(16, ACTIVE_LOW | LEVEL | 0x80);
	cr_assert_eq(rec.n, 0, "high is inactive");
	ioapic_set_irq(io, 16, 0);
	cr_assert_eq(rec.n, 1, "low is active");
	rte_write(17, ACTIVE_LOW | 0x81);
	ioapic_set_irq(io, 17, 1);
	cr_assert_eq(rec.n, 1, "rising edge is inactive");
	ioapic_set_irq(io, 17, 0);
	cr_assert_eq(rec.n, 2, "falling edge is the active edge");
	cr_assert_eq(rec.msg[1].vector, 0x81);
}

Test(ioapic, nmi_is_edge_even_if_programmed_level)
{
	rte_write(2, LEVEL | DM(APIC_DM_NMI) | DEST(3));
	ioapic_set_irq(io, 2, 1);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.msg[0].dm, APIC_DM_NMI);
	cr_assert_eq(rec.msg[0].level, 0);
	cr_assert_eq(rte_read(2) & REMOTE_IRR, 0);
	ioapic_set_irq(io, 2, 1);
	cr_assert_eq(rec.n, 1);
}

Test(ioapic, extint_smi_init_reach_the_message)
{
	rte_write(0, DM(APIC_DM_EXTINT));
	rte_write(6, DM(APIC_DM_SMI));
	rte_write(7, DM(APIC_DM_INIT));
	ioapic_set_irq(io, 0, 1);
	ioapic_set_irq(io, 6, 1);
	ioapic_set_irq(io, 7, 1);
	cr_assert_eq(rec.n, 3);
	cr_assert_eq(rec.msg[0].dm, APIC_DM_EXTINT);
	cr_assert_eq(rec.msg[1].dm, APIC_DM_SMI);
	cr_assert_eq(rec.msg[2].dm, APIC_DM_INIT);
}

Test(ioapic, reserved_delivery_mode_sends_nothing)
{
	rte_write(8, DM(3) | 0x40);
	rte_write(12, DM(6) | LEVEL | 0x40);
	ioapic_set_irq(io, 8, 1);
	ioapic_set_irq(io, 12, 1);
	cr_assert_eq(rec.n, 0);
	cr_assert_eq(rte_read(12) & REMOTE_IRR, 0);
}

Test(ioapic, switching_to_edge_clears_remote_irr)
{
	rte_write(13, LEVEL | 0x44);
	ioapic_set_irq(io, 13, 1);
	cr_assert_neq(rte_read(13) & REMOTE_IRR, 0);
	rte_write(13, 0x44);
	cr_assert_eq(rte_read(13) & REMOTE_IRR, 0);
	cr_assert_eq(rec.n, 1, "reprogramming creates no edge");
}

Test(ioapic, masking_keeps_remote_irr_until_eoi)
{
	rte_write(14, LEVEL | 0x45);
	ioapic_set_irq(io, 14, 1);
	rte_write(14, MASKED | LEVEL | 0x45);
	cr_assert_neq(rte_read(14) & REMOTE_IRR, 0);
	ioapic_eoi(io, 0x45);
	cr_assert_eq(rte_read(14) & REMOTE_IRR, 0);
	cr_assert_eq(rec.n, 1, "masked: no re-send");
}

Test(ioapic, pins_out_of_range_are_ignored)
{
	ioapic_set_irq(io, IOAPIC_PINS, 1);
	ioapic_set_irq(io, 1000, 1);
	cr_assert_eq(rec.n, 0);
}

Test(ioapic, narrow_iowin_write_merges_bytes)
{
	rte_write(20, MASKED | 0x33);
	memmap_mmio_write(m, BASE, 0x10 + 40, 4);
	memmap_mmio_write(m, BASE + 0x10, 0x99, 1);
	cr_assert_eq(rte_read(20), MASKED | 0x99);
	memmap_mmio_write(m, BASE, 0x10 + 40, 4);
	cr_assert_eq(memmap_mmio_read(m, BASE + 0x12, 1), 0x01, "byte 2 holds the mask bit");
}

Test(ioapic, constructor_rejects_missing_callback)
{
	cr_assert_null(ioapic_new(m, BASE + 0x10000, 0, NULL, NULL, clk));
	cr_assert_null(ioapic_new(m, BASE, 0, record, &rec, clk), "window already taken");
}
