/* The local APIC alone (one LAPIC on a bus of its own): registers, reset
 * state, x2APIC rules, priorities, the timer against the simple clock,
 * LINT pins, ESR, EOI broadcast and kicks.  Expected values come from
 * the SDM Vol. 3 chapter 10 sections named in each test. */
#include <criterion/criterion.h>
#include <string.h>

#include "apic.h"
#include "clock.h"

#define TSC_KHZ 1000000ull	/* 1 GHz: 1000 ps per TSC cycle */
#define BUS_KHZ 100000ull	/* 100 MHz: 10000 ps per bus cycle */
#define BUS_PS 10000ull


static struct sim_clock *clk;
static struct apic_bus *bus;
static struct lapic *l;
static int kicks;
static int eoi_count, eoi_vector;
static int extint_vector;

static void kick(void *opaque)
{
	kicks++;
}

static void on_eoi(void *opaque, uint8_t vector)
{
	eoi_count++;
	eoi_vector = vector;
}

static int on_extint(void *opaque)
{
	return extint_vector;
}

static struct lapic *make(unsigned index, int bsp)
{
	struct lapic_config cfg = {
		.index = index,
		.bsp = bsp,
		.clk = clk,
		.tsc_khz = TSC_KHZ,
		.bus_khz = BUS_KHZ,
		.bus = bus,
		.kick = kick,
	};
	struct lapic *x = lapic_new(&cfg);

	cr_assert_not_null(x);
	apic_bus_attach(bus, index, x);
	return x;
}

static void setup(void)
{
	kicks = eoi_count = eoi_vector = 0;
	extint_vector = 0x28;
	clk = sim_clock_simple_new();
	cr_assert_not_null(clk);
	bus = apic_bus_new(32);
	cr_assert_not_null(bus);
	apic_bus_set_eoi_listener(bus, on_eoi, NULL);
	apic_bus_set_extint(bus, on_extint, NULL);
	l = make(3, 1);
}

static void teardown(void)
{
	lapic_free(l);
	apic_bus_free(bus);
	sim_clock_simple_free(clk);
}

static uint32_t rd(uint32_t off)
{
	return lapic_mmio_read(l, off);
}

static void wr(uint32_t off, uint32_t v)
{
	lapic_mmio_write(l, off, v);
}

static void sw_enable(void)
{
	wr(LAPIC_REG_SVR, 0x1FF);
}

/* A fixed interrupt from the bus, as an IO-APIC or MSI would send it. */
static void fixed(uint8_t vector, int level)
{
	struct apic_msg m = { .vector = vector, .dm = APIC_DM_FIXED, .level = level, .assert = 1,
			      .src = APIC_NO_SOURCE, .origin = { .kind = IRQ_SRC_PIN } };

	lapic_accept(l, &m);
}

static void event(uint8_t dm, uint8_t vector)
{
	struct apic_msg m = { .vector = vector, .dm = dm, .assert = 1, .src = APIC_NO_SOURCE };

	lapic_accept(l, &m);
}

static int bit(uint32_t base, unsigned v)
{
	return (rd(base + (v / 32) * 16) >> (v % 32)) & 1;
}

static void to_x2apic(void)
{
	cr_assert_eq(lapic_write_base_msr(l, APIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD), 0);
}

TestSuite(lapic, .init = setup, .fini = teardown);

/* ---- reset state (SDM Vol. 3 10.4.7.1) ---- */

Test(lapic, power_on_register_values)
{
	cr_assert_eq(rd(LAPIC_REG_ID), 3u << 24);
	cr_assert_eq(rd(LAPIC_REG_VERSION), 0x01060015);
	cr_assert_eq(rd(LAPIC_REG_TPR), 0);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0);
	cr_assert_eq(rd(LAPIC_REG_APR), 0);
	cr_assert_eq(rd(LAPIC_REG_LDR), 0);
	cr_assert_eq(rd(LAPIC_REG_DFR), 0xFFFFFFFF);
	cr_assert_eq(rd(LAPIC_REG_SVR), 0xFF);
	for (uint32_t off = LAPIC_REG_LVT_TIMER; off <= LAPIC_REG_LVT_ERROR; off += 16)
		cr_assert_eq(rd(off), 0x10000, "LVT %#x", off);
	cr_assert_eq(rd(LAPIC_REG_LVT_CMCI), 0x10000);
	cr_assert_eq(rd(LAPIC_REG_TIMER_INIT), 0);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
	cr_assert_eq(rd(LAPIC_REG_TIMER_DCR), 0);
	cr_assert_eq(rd(LAPIC_REG_ESR), 0);
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(rd(LAPIC_REG_IRR + 16 * i) | rd(LAPIC_REG_ISR + 16 * i) | rd(LAPIC_REG_TMR + 16 * i), 0);
	cr_assert_eq(lapic_base_msr(l), 0xFEE00900);	/* EN | BSP */
	cr_assert(lapic_xapic_mmio_enabled(l));
	cr_assert_not(lapic_x2apic_mode(l));
	cr_assert_not(lapic_sw_enabled(l));
}

Test(lapic, application_processor_has_no_bsp_bit)
{
	struct lapic *ap = make(4, 0);

	cr_assert_eq(lapic_base_msr(ap), 0xFEE00800);
	lapic_free(ap);
}

Test(lapic, init_keeps_id_and_base_and_resets_the_rest)
{
	sw_enable();
	wr(LAPIC_REG_ID, 0x07000000);
	wr(LAPIC_REG_TPR, 0x40);
	wr(LAPIC_REG_LDR, 0x01000000);
	wr(LAPIC_REG_DFR, 0x0FFFFFFF);
	wr(LAPIC_REG_LVT_LINT0, 0x700);
	fixed(0x50, 0);
	cr_assert_eq(lapic_write_base_msr(l, 0xFED00900), 0);
	lapic_reset(l, 1);
	cr_assert_eq(rd(LAPIC_REG_ID), 0x07000000);
	cr_assert_eq(lapic_base_msr(l), 0xFED00900);
	cr_assert_eq(rd(LAPIC_REG_TPR), 0);
	cr_assert_eq(rd(LAPIC_REG_LDR), 0);
	cr_assert_eq(rd(LAPIC_REG_DFR), 0xFFFFFFFF);
	cr_assert_eq(rd(LAPIC_REG_SVR), 0xFF);
	cr_assert_eq(rd(LAPIC_REG_LVT_LINT0), 0x10000);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x50), 0);
	lapic_reset(l, 0);
	cr_assert_eq(rd(LAPIC_REG_ID), 3u << 24);
	cr_assert_eq(lapic_base_msr(l), 0xFEE00900);
}

Test(lapic, init_in_x2apic_mode_stays_in_x2apic_mode)
{
	to_x2apic();
	lapic_reset(l, 1);
	cr_assert(lapic_x2apic_mode(l));
	lapic_reset(l, 0);
	cr_assert_not(lapic_x2apic_mode(l));
	cr_assert(lapic_xapic_mmio_enabled(l));
}

Test(lapic, source_kind_names)
{
	cr_assert_str_eq(irq_source_kind_name(IRQ_SRC_PIN), "pin");
	cr_assert_str_eq(irq_source_kind_name(IRQ_SRC_LAPIC_TIMER), "lapic-timer");
	cr_assert_str_eq(irq_source_kind_name(IRQ_SRC_EVENT_FLAG), "event-flag");
	cr_assert_str_eq(irq_source_kind_name(IRQ_SRC_HV_KICK), "hv-kick");
	cr_assert_str_eq(irq_source_kind_name(IRQ_SRC_VAPIC_TIMER), "vapic-timer");
	cr_assert_str_eq(irq_source_kind_name(IRQ_SRC_VIPI), "vipi");
	cr_assert_str_eq(irq_source_kind_name(IRQ_SRC_KINDS), "unknown");
}

/* ---- priorities (SDM Vol. 3 10.8.3) ---- */

Test(lapic, highest_vector_is_presented_first)
{
	sw_enable();
	fixed(0x31, 0);
	fixed(0x45, 0);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x31), 1);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x45), 1);
	cr_assert_eq(lapic_has_intr(l), 0x45);
	cr_assert_eq(lapic_ack_intr(l, NULL), 0x45);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x45), 0);
	cr_assert_eq(bit(LAPIC_REG_ISR, 0x45), 1);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x40);
	cr_assert_eq(lapic_has_intr(l), -1, "class 3 waits behind class 4 in service");
}

Test(lapic, same_class_waits_higher_class_nests_and_eoi_goes_highest_first)
{
	sw_enable();
	fixed(0x45, 0);
	cr_assert_eq(lapic_ack_intr(l, NULL), 0x45);
	fixed(0x4F, 0);
	cr_assert_eq(lapic_has_intr(l), -1, "same class as the ISR: not deliverable");
	fixed(0x62, 0);
	cr_assert_eq(lapic_has_intr(l), 0x62);
	cr_assert_eq(lapic_ack_intr(l, NULL), 0x62);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x60);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(bit(LAPIC_REG_ISR, 0x62), 0, "EOI retires the highest in service");
	cr_assert_eq(bit(LAPIC_REG_ISR, 0x45), 1);
	cr_assert_eq(lapic_has_intr(l), -1);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(bit(LAPIC_REG_ISR, 0x45), 0);
	cr_assert_eq(lapic_has_intr(l), 0x4F);
}

Test(lapic, tpr_masks_its_class_and_below)
{
	sw_enable();
	wr(LAPIC_REG_TPR, 0x5A);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x5A);
	fixed(0x5F, 0);
	cr_assert_eq(lapic_has_intr(l), -1);
	fixed(0x61, 0);
	cr_assert_eq(lapic_has_intr(l), 0x61);
	lapic_set_tpr(l, 0x60);
	cr_assert_eq(rd(LAPIC_REG_TPR), 0x60);
	cr_assert_eq(lapic_tpr(l), 0x60);
	cr_assert_eq(lapic_has_intr(l), -1);
	lapic_set_tpr(l, 0);
	cr_assert_eq(lapic_has_intr(l), 0x61);
}

Test(lapic, ppr_is_tpr_or_isr_class_whichever_is_higher)
{
	sw_enable();
	fixed(0x72, 0);
	lapic_ack_intr(l, NULL);
	wr(LAPIC_REG_TPR, 0x55);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x70);
	wr(LAPIC_REG_TPR, 0x75);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x75);
	wr(LAPIC_REG_TPR, 0x7F);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x7F);
}

Test(lapic, apr_follows_tpr_isr_and_irr)
{
	sw_enable();
	wr(LAPIC_REG_TPR, 0x35);
	cr_assert_eq(rd(LAPIC_REG_APR), 0x35);
	fixed(0x52, 0);
	cr_assert_eq(rd(LAPIC_REG_APR), 0x50, "IRR class above TPR");
	lapic_ack_intr(l, NULL);
	cr_assert_eq(rd(LAPIC_REG_APR), 0x50, "ISR class above TPR");
	wr(LAPIC_REG_TPR, 0x95);
	cr_assert_eq(rd(LAPIC_REG_APR), 0x95);
}

Test(lapic, spurious_vector_when_nothing_is_deliverable)
{
	wr(LAPIC_REG_SVR, 0x1EF);
	cr_assert_eq(lapic_ack_intr(l, NULL), 0xEF);
	fixed(0x40, 0);
	wr(LAPIC_REG_TPR, 0x40);
	cr_assert_eq(lapic_ack_intr(l, NULL), 0xEF, "TPR raised after the request");
	cr_assert_eq(bit(LAPIC_REG_ISR, 0xEF), 0);
	cr_assert_eq(bit(LAPIC_REG_ISR, 0x40), 0);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x40), 1);
}

Test(lapic, tmr_set_for_level_and_cleared_for_edge)
{
	sw_enable();
	fixed(0x80, 1);
	cr_assert_eq(bit(LAPIC_REG_TMR, 0x80), 1);
	lapic_ack_intr(l, NULL);
	wr(LAPIC_REG_EOI, 0);
	fixed(0x80, 0);
	cr_assert_eq(bit(LAPIC_REG_TMR, 0x80), 0);
}

Test(lapic, origin_travels_from_accept_to_ack)
{
	struct apic_msg m = { .vector = 0x66, .dm = APIC_DM_FIXED, .assert = 1, .src = APIC_NO_SOURCE,
			      .origin = { .assert_ps = 100, .route_ps = 200, .kind = IRQ_SRC_MSI, .pin = 9 } };
	struct irq_origin o;

	sw_enable();
	sim_clock_simple_advance(clk, 300);
	lapic_accept(l, &m);
	sim_clock_simple_advance(clk, 500);
	m.origin.assert_ps = 400;	/* merges with the pending one */
	lapic_accept(l, &m);
	cr_assert_eq(lapic_ack_intr(l, &o), 0x66);
	cr_assert_eq(o.assert_ps, 100);
	cr_assert_eq(o.route_ps, 200);
	cr_assert_eq(o.accept_ps, 300);
	cr_assert_eq(o.kind, IRQ_SRC_MSI);
	cr_assert_eq(o.pin, 9);
}

/* ---- software disable (SDM Vol. 3 10.4.7.2) ---- */

Test(lapic, software_disabled_apic_holds_fixed_and_takes_nmi)
{
	fixed(0x40, 0);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x40), 0, "fixed interrupts are not accepted");
	event(APIC_DM_NMI, 0);
	cr_assert_eq(lapic_pending_events(l), LAPIC_EV_NMI);
	wr(LAPIC_REG_LVT_LINT0, 0x700);
	cr_assert_eq(rd(LAPIC_REG_LVT_LINT0), 0x10700, "the mask cannot be cleared");
}

Test(lapic, software_disable_masks_every_lvt_and_hides_the_irr)
{
	sw_enable();
	for (uint32_t off = LAPIC_REG_LVT_TIMER; off <= LAPIC_REG_LVT_ERROR; off += 16)
		wr(off, 0x40);
	wr(LAPIC_REG_LVT_CMCI, 0x40);
	fixed(0x50, 0);
	cr_assert_eq(lapic_has_intr(l), 0x50);
	wr(LAPIC_REG_SVR, 0xFF);
	for (uint32_t off = LAPIC_REG_LVT_TIMER; off <= LAPIC_REG_LVT_ERROR; off += 16)
		cr_assert_eq(rd(off), 0x10040, "LVT %#x", off);
	cr_assert_eq(rd(LAPIC_REG_LVT_CMCI), 0x10040);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x50), 1, "the IRR is held");
	cr_assert_eq(lapic_has_intr(l), -1);
	sw_enable();
	cr_assert_eq(rd(LAPIC_REG_LVT_ERROR), 0x10040, "masks stay set after re-enabling");
	cr_assert_eq(lapic_has_intr(l), 0x50);
}

/* ---- ESR (SDM Vol. 3 10.5.3) ---- */

Test(lapic, esr_shows_errors_only_after_a_write_latches_them)
{
	sw_enable();
	fixed(0x05, 0);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x05), 0, "vectors 0-15 never reach the IRR");
	cr_assert_eq(rd(LAPIC_REG_ESR), 0);
	wr(LAPIC_REG_ESR, 0);
	cr_assert_eq(rd(LAPIC_REG_ESR), 0x40, "receive illegal vector");
	wr(LAPIC_REG_ESR, 0);
	cr_assert_eq(rd(LAPIC_REG_ESR), 0);
}

Test(lapic, send_illegal_vector_is_an_error_and_nothing_is_sent)
{
	sw_enable();
	wr(LAPIC_REG_ICR_LO, 0x40000 | 0x0E);	/* self, vector 14 */
	wr(LAPIC_REG_ESR, 0);
	cr_assert_eq(rd(LAPIC_REG_ESR), 0x20);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x0E), 0);
}

Test(lapic, unimplemented_register_is_an_illegal_register_address)
{
	cr_assert_eq(rd(0x040), 0);
	wr(0x3A0, 1);
	wr(LAPIC_REG_ESR, 0);
	cr_assert_eq(rd(LAPIC_REG_ESR), 0x80);
}

Test(lapic, error_raises_the_error_lvt_once_until_the_esr_is_written)
{
	sw_enable();
	wr(LAPIC_REG_LVT_ERROR, 0xE3);
	fixed(0x01, 0);
	cr_assert_eq(lapic_has_intr(l), 0xE3);
	cr_assert_eq(lapic_ack_intr(l, NULL), 0xE3);
	wr(LAPIC_REG_EOI, 0);
	fixed(0x02, 0);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0xE3), 0, "not rearmed yet");
	wr(LAPIC_REG_ESR, 0);
	fixed(0x03, 0);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0xE3), 1);
}

/* ---- EOI broadcast (SDM Vol. 3 10.8.5) ---- */

Test(lapic, level_triggered_eoi_is_broadcast)
{
	sw_enable();
	fixed(0x70, 1);
	lapic_ack_intr(l, NULL);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(eoi_count, 1);
	cr_assert_eq(eoi_vector, 0x70);
}

Test(lapic, edge_triggered_eoi_is_not_broadcast)
{
	sw_enable();
	fixed(0x70, 0);
	lapic_ack_intr(l, NULL);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(eoi_count, 0);
}

Test(lapic, eoi_broadcast_suppression_keeps_level_eoi_local)
{
	wr(LAPIC_REG_SVR, 0x11FF);
	cr_assert_eq(rd(LAPIC_REG_SVR), 0x11FF);
	fixed(0x70, 1);
	lapic_ack_intr(l, NULL);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(eoi_count, 0);
	cr_assert_eq(bit(LAPIC_REG_ISR, 0x70), 0);
}

/* ---- events and kicks ---- */

Test(lapic, init_sipi_smi_nmi_become_events)
{
	uint8_t sipi = 0;

	event(APIC_DM_INIT, 0);
	event(APIC_DM_STARTUP, 0x9A);
	event(APIC_DM_SMI, 0);
	event(APIC_DM_NMI, 0);
	cr_assert_eq(kicks, 4);
	cr_assert_eq(lapic_take_events(l, &sipi), LAPIC_EV_INIT | LAPIC_EV_SIPI | LAPIC_EV_SMI | LAPIC_EV_NMI);
	cr_assert_eq(sipi, 0x9A);
	cr_assert_eq(lapic_pending_events(l), 0);
	event(APIC_DM_NMI, 0);
	event(APIC_DM_NMI, 0);
	cr_assert_eq(kicks, 5, "an event already pending does not kick again");
}

Test(lapic, kick_only_when_something_becomes_deliverable)
{
	sw_enable();
	cr_assert_eq(kicks, 0);
	fixed(0x50, 0);
	cr_assert_eq(kicks, 1);
	fixed(0x50, 0);
	cr_assert_eq(kicks, 1, "merged with the pending request");
	fixed(0x30, 0);
	cr_assert_eq(kicks, 1, "below the one already presented");
	wr(LAPIC_REG_TPR, 0x60);
	wr(LAPIC_REG_LVT_TIMER, 0x10020);
	wr(LAPIC_REG_TPR, 0x10);
	cr_assert_eq(kicks, 2, "lowering the TPR uncovered 0x50");
	lapic_ack_intr(l, NULL);
	cr_assert_eq(kicks, 2);
	fixed(0x90, 0);
	cr_assert_eq(kicks, 3);
}

Test(lapic, no_kick_while_masked_by_ppr)
{
	sw_enable();
	wr(LAPIC_REG_TPR, 0xF0);
	fixed(0x50, 0);
	cr_assert_eq(kicks, 0);
}

/* ---- x2APIC (SDM Vol. 3 10.12) ---- */

Test(lapic, x2apic_id_and_ldr_derive_from_the_lp_index)
{
	struct lapic *x = make(0x13, 0);
	uint64_t v;

	cr_assert_eq(lapic_write_base_msr(x, APIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD), 0);
	cr_assert_eq(lapic_msr_read(x, LAPIC_REG_MSR(LAPIC_REG_ID), &v), 0);
	cr_assert_eq(v, 0x13);
	cr_assert_eq(lapic_id(x), 0x13);
	cr_assert_eq(lapic_msr_read(x, LAPIC_REG_MSR(LAPIC_REG_LDR), &v), 0);
	cr_assert_eq(v, 0x10008);	/* cluster 1, member bit 3 */
	cr_assert_eq(lapic_msr_write(x, LAPIC_REG_MSR(LAPIC_REG_ID), 5), -1);
	cr_assert_eq(lapic_msr_write(x, LAPIC_REG_MSR(LAPIC_REG_LDR), 5), -1);
	cr_assert_eq(lapic_msr_read(x, LAPIC_REG_MSR(LAPIC_REG_VERSION), &v), 0);
	cr_assert_eq(v, 0x01060015);
	lapic_free(x);
}

Test(lapic, x2apic_msrs_gp_outside_x2apic_mode)
{
	uint64_t v;

	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_TPR), &v), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_TPR), 0), -1);
	to_x2apic();
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_TPR), &v), 0);
	cr_assert_eq(lapic_msr_read(l, 0x7FF, &v), -1);
	cr_assert_eq(lapic_msr_read(l, 0x900, &v), -1);
}

Test(lapic, x2apic_registers_without_an_msr_gp)
{
	uint64_t v;

	to_x2apic();
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_DFR), &v), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_DFR), 0xFFFFFFFF), -1);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_APR), &v), -1);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_ICR_HI), &v), -1);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(0x0C0), &v), -1, "remote read");
	cr_assert_eq(lapic_msr_read(l, 0x801, &v), -1);
	cr_assert_eq(lapic_msr_read(l, 0x840, &v), -1);
	cr_assert_eq(lapic_msr_write(l, 0x8FF, 0), -1);
}

Test(lapic, x2apic_write_only_and_read_only_registers_gp)
{
	uint64_t v;

	to_x2apic();
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_EOI), &v), -1);
	cr_assert_eq(lapic_msr_read(l, 0x83F, &v), -1, "SELF IPI is write-only");
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_PPR), 0), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_VERSION), 0), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_ISR), 0), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_IRR + 0x70), 0), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_TIMER_CUR), 0), -1);
}

Test(lapic, x2apic_eoi_and_esr_accept_only_zero)
{
	uint64_t v;

	to_x2apic();
	lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_SVR), 0x1FF);
	fixed(0x40, 0);
	lapic_ack_intr(l, NULL);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_EOI), 1), -1);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_ISR + 0x20), &v), 0);
	cr_assert_eq(v, 1, "0x40 still in service after the refused EOI");
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_EOI), 0), 0);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_ISR + 0x20), &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_ESR), 2), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_ESR), 0), 0);
}

Test(lapic, x2apic_reserved_bits_gp)
{
	uint64_t v;

	to_x2apic();
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_TPR), 0x100), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_TPR), 1ull << 32), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_SVR), 0x4FF), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_TIMER_DCR), 0x4), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_LVT_TIMER), 3u << 17), -1, "timer mode 11b");
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_LVT_ERROR), 0x10700), -1, "no delivery mode in LVT error");
	cr_assert_eq(lapic_msr_write(l, 0x83F, 0x140), -1);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_ICR_LO), 0x1000 | 0x40), -1, "no delivery status in x2APIC");
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_ICR_LO), 0x20000 | 0x40), -1);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_TPR), &v), 0);
	cr_assert_eq(v, 0, "nothing was written");
	/* Read-only status bits may be written back. */
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_LVT_LINT0), 0x15000 | 0x40), 0);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_LVT_LINT0), &v), 0);
	cr_assert_eq(v, 0x10040);
}

Test(lapic, x2apic_icr_is_one_64_bit_register)
{
	uint64_t v;

	to_x2apic();
	lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_SVR), 0x1FF);
	cr_assert_eq(lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_ICR_LO), 0x0000012300004055ull), 0);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_ICR_LO), &v), 0);
	cr_assert_eq(v, 0x0000012300004055ull);
}

Test(lapic, x2apic_self_ipi)
{
	uint64_t v;

	to_x2apic();
	lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_SVR), 0x1FF);
	cr_assert_eq(lapic_msr_write(l, 0x83F, 0x77), 0);
	cr_assert_eq(lapic_has_intr(l), 0x77);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_IRR + 0x30), &v), 0);
	cr_assert_eq(v, 1u << (0x77 - 0x60));
	cr_assert_eq(lapic_msr_write(l, 0x83F, 0x07), 0);
	lapic_msr_write(l, LAPIC_REG_MSR(LAPIC_REG_ESR), 0);
	cr_assert_eq(lapic_msr_read(l, LAPIC_REG_MSR(LAPIC_REG_ESR), &v), 0);
	cr_assert_eq(v, 0x20, "send illegal vector");
}

/* ---- IA32_APIC_BASE (SDM Vol. 3 10.4.4, 10.12.5) ---- */

Test(lapic, base_msr_invalid_transitions_gp)
{
	uint64_t b = APIC_DEFAULT_BASE;

	cr_assert_eq(lapic_write_base_msr(l, b | APIC_BASE_EXTD), -1, "EXTD without EN");
	cr_assert_eq(lapic_write_base_msr(l, b | APIC_BASE_EN | 1), -1, "reserved bit 0");
	cr_assert_eq(lapic_write_base_msr(l, b | APIC_BASE_EN | 1ull << 36), -1, "above MAXPHYADDR");
	to_x2apic();
	cr_assert_eq(lapic_write_base_msr(l, b | APIC_BASE_EN), -1, "x2APIC to xAPIC");
	cr_assert(lapic_x2apic_mode(l));
	cr_assert_eq(lapic_write_base_msr(l, b), 0);
	cr_assert_eq(lapic_write_base_msr(l, b | APIC_BASE_EN | APIC_BASE_EXTD), -1, "disabled to x2APIC");
	cr_assert_eq(lapic_write_base_msr(l, b | APIC_BASE_EN), 0);
	cr_assert(lapic_xapic_mmio_enabled(l));
	cr_assert_eq(lapic_write_base_msr(l, b | APIC_BASE_EN | APIC_BASE_EXTD), 0);
}

Test(lapic, disabling_resets_the_apic)
{
	sw_enable();
	wr(LAPIC_REG_TPR, 0x30);
	wr(LAPIC_REG_ID, 0x09000000);
	fixed(0x50, 0);
	cr_assert_eq(lapic_write_base_msr(l, APIC_DEFAULT_BASE), 0);
	cr_assert_not(lapic_xapic_mmio_enabled(l));
	cr_assert_eq(lapic_has_intr(l), -1);
	cr_assert_eq(lapic_write_base_msr(l, APIC_DEFAULT_BASE | APIC_BASE_EN), 0);
	cr_assert_eq(rd(LAPIC_REG_TPR), 0);
	cr_assert_eq(rd(LAPIC_REG_SVR), 0xFF);
	cr_assert_eq(rd(LAPIC_REG_ID), 3u << 24);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x50), 0);
}

Test(lapic, base_relocates_and_bsp_is_read_only)
{
	cr_assert_eq(lapic_write_base_msr(l, 0xFEB00000 | APIC_BASE_EN), 0);
	cr_assert_eq(lapic_mmio_base(l), 0xFEB00000);
	cr_assert_eq(lapic_base_msr(l), 0xFEB00900, "BSP stays set");
	cr_assert_eq(lapic_write_base_msr(l, 0xFEB00000 | APIC_BASE_EN | APIC_BASE_EXTD), 0);
	cr_assert_not(lapic_xapic_mmio_enabled(l), "no MMIO in x2APIC mode");
}

Test(lapic, xapic_ldr_and_dfr_keep_only_their_defined_bits)
{
	wr(LAPIC_REG_LDR, 0xA5FFFFFF);
	cr_assert_eq(rd(LAPIC_REG_LDR), 0xA5000000);
	wr(LAPIC_REG_DFR, 0x00000000);
	cr_assert_eq(rd(LAPIC_REG_DFR), 0x0FFFFFFF);
	wr(LAPIC_REG_ICR_HI, 0x12345678);
	cr_assert_eq(rd(LAPIC_REG_ICR_HI), 0x12000000);
}

/* ---- timer (SDM Vol. 3 10.5.4) ---- */

static void timer_setup(uint32_t lvt, uint32_t dcr, uint32_t initial)
{
	sw_enable();
	wr(LAPIC_REG_TIMER_DCR, dcr);
	wr(LAPIC_REG_LVT_TIMER, lvt);
	wr(LAPIC_REG_TIMER_INIT, initial);
}

Test(lapic, one_shot_fires_at_initial_times_divide_bus_cycles)
{
	timer_setup(0x41, 0x0, 1000);	/* divide by 2 */
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 1000);
	sim_clock_simple_advance(clk, 500 * 2 * BUS_PS);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 500);
	sim_clock_simple_advance(clk, 1000 * 2 * BUS_PS - 1);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 1);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 0);
	sim_clock_simple_advance(clk, 1000 * 2 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 1);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
	cr_assert_eq(kicks, 1);
	lapic_ack_intr(l, NULL);
	wr(LAPIC_REG_EOI, 0);
	sim_clock_simple_advance(clk, 10 * 1000 * 2 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 0, "one shot");
	cr_assert_eq(rd(LAPIC_REG_TIMER_INIT), 1000);
}

Test(lapic, timer_origin_is_the_expiry)
{
	struct irq_origin o;

	timer_setup(0x41, 0xB, 7);	/* divide by 1 */
	sim_clock_simple_advance(clk, SIM_PS_PER_S);
	cr_assert_eq(lapic_ack_intr(l, &o), 0x41);
	cr_assert_eq(o.kind, IRQ_SRC_LAPIC_TIMER);
	cr_assert_eq(o.assert_ps, 7 * BUS_PS);
	cr_assert_eq(o.accept_ps, 7 * BUS_PS);
}

Test(lapic, divide_configuration_values)
{
	static const struct {
		uint32_t dcr, div;
	} t[] = { { 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 }, { 0x8, 32 }, { 0x9, 64 }, { 0xA, 128 }, { 0xB, 1 } };

	sw_enable();
	wr(LAPIC_REG_LVT_TIMER, 0x41);
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t start = sim_now(clk);

		wr(LAPIC_REG_TIMER_DCR, t[i].dcr);
		cr_assert_eq(rd(LAPIC_REG_TIMER_DCR), t[i].dcr);
		wr(LAPIC_REG_TIMER_INIT, 10);
		sim_clock_simple_advance(clk, start + 10 * t[i].div * BUS_PS - 1);
		cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 0, "dcr %#x early", t[i].dcr);
		sim_clock_simple_advance(clk, start + 10 * t[i].div * BUS_PS);
		cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 1, "dcr %#x on time", t[i].dcr);
		lapic_ack_intr(l, NULL);
		wr(LAPIC_REG_EOI, 0);
	}
}

Test(lapic, periodic_reloads_and_counts_down)
{
	const uint64_t period = 100 * 4 * BUS_PS;

	timer_setup(0x20042, 0x1, 100);	/* periodic, divide by 4 */
	sim_clock_simple_advance(clk, period + period / 2);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x42), 1);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 50);
	cr_assert_eq(lapic_ack_intr(l, NULL), 0x42);
	wr(LAPIC_REG_EOI, 0);
	sim_clock_simple_advance(clk, 2 * period - 1);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x42), 0);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 1);
	sim_clock_simple_advance(clk, 2 * period);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x42), 1);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 100, "reloaded");
	lapic_ack_intr(l, NULL);
	wr(LAPIC_REG_EOI, 0);
	sim_clock_simple_advance(clk, 1000 * period);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x42), 1);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 100);
}

Test(lapic, periodic_expiries_do_not_drift_at_an_awkward_rate)
{
	struct lapic_config cfg = { .index = 5, .clk = clk, .tsc_khz = TSC_KHZ, .bus_khz = 133333, .bus = bus };
	struct lapic *x = lapic_new(&cfg);

	cr_assert_not_null(x);
	lapic_mmio_write(x, LAPIC_REG_SVR, 0x1FF);
	lapic_mmio_write(x, LAPIC_REG_TIMER_DCR, 0xB);
	lapic_mmio_write(x, LAPIC_REG_LVT_TIMER, 0x20050);
	lapic_mmio_write(x, LAPIC_REG_TIMER_INIT, 3);
	/* The i-th expiry is the first picosecond at which 3i cycles of
	 * 133.333 MHz have passed: ceil(3i * 1e9 / 133333). */
	for (uint64_t i = 1; i <= 3000; i++) {
		uint64_t t = (3 * i * 1000000000ull + 133333 - 1) / 133333;

		sim_clock_simple_advance(clk, t - 1);
		cr_assert_eq(lapic_has_intr(x), -1, "expiry %llu early", (unsigned long long)i);
		cr_assert_eq(lapic_mmio_read(x, LAPIC_REG_TIMER_CUR), 1);
		sim_clock_simple_advance(clk, t);
		cr_assert_eq(lapic_ack_intr(x, NULL), 0x50, "expiry %llu on time", (unsigned long long)i);
		lapic_mmio_write(x, LAPIC_REG_EOI, 0);
		cr_assert_eq(lapic_mmio_read(x, LAPIC_REG_TIMER_CUR), 3);
	}
	lapic_free(x);
}

Test(lapic, writing_zero_stops_the_timer)
{
	timer_setup(0x20041, 0xB, 100);
	sim_clock_simple_advance(clk, 50 * BUS_PS);
	wr(LAPIC_REG_TIMER_INIT, 0);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
	sim_clock_simple_advance(clk, 1000 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 0);
}

Test(lapic, reprogramming_restarts_and_cancels_the_old_expiry)
{
	timer_setup(0x41, 0xB, 100);
	sim_clock_simple_advance(clk, 50 * BUS_PS);
	wr(LAPIC_REG_TIMER_INIT, 200);
	sim_clock_simple_advance(clk, 249 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 0, "the first expiry at 100 was cancelled");
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 1);
	sim_clock_simple_advance(clk, 250 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 1);
}

Test(lapic, changing_the_divider_keeps_the_count)
{
	timer_setup(0x41, 0xB, 100);
	sim_clock_simple_advance(clk, 40 * BUS_PS);
	wr(LAPIC_REG_TIMER_DCR, 0x0);	/* now divide by 2: 60 ticks left = 120 cycles */
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 60);
	sim_clock_simple_advance(clk, 159 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 0);
	sim_clock_simple_advance(clk, 160 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 1);
}

Test(lapic, masked_timer_counts_but_does_not_interrupt)
{
	timer_setup(0x10041, 0xB, 100);
	sim_clock_simple_advance(clk, 50 * BUS_PS);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 50);
	sim_clock_simple_advance(clk, 100 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 0);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
	cr_assert_eq(kicks, 0);
}

Test(lapic, switch_to_tsc_deadline_disarms_the_timer)
{
	timer_setup(0x41, 0xB, 100);
	sim_clock_simple_advance(clk, 10 * BUS_PS);
	wr(LAPIC_REG_LVT_TIMER, 0x40041);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
	sim_clock_simple_advance(clk, 1000 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 0);
}

Test(lapic, oneshot_to_periodic_keeps_counting_and_then_reloads)
{
	timer_setup(0x41, 0xB, 100);
	sim_clock_simple_advance(clk, 30 * BUS_PS);
	wr(LAPIC_REG_LVT_TIMER, 0x20041);	/* periodic */
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 70, "not reset to the initial count");
	sim_clock_simple_advance(clk, 100 * BUS_PS);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x41), 1, "fires when the old count runs out");
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 100, "and reloads: periodic now");
	sim_clock_simple_advance(clk, 150 * BUS_PS);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 50);
}

Test(lapic, periodic_to_oneshot_counts_down_once)
{
	timer_setup(0x20041, 0xB, 100);
	sim_clock_simple_advance(clk, 40 * BUS_PS);
	wr(LAPIC_REG_LVT_TIMER, 0x41);	/* one-shot */
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 60);
	sim_clock_simple_advance(clk, 100 * BUS_PS);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
	sim_clock_simple_advance(clk, 400 * BUS_PS);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0, "no reload");
}

Test(lapic, expired_oneshot_stays_at_zero_when_made_periodic)
{
	timer_setup(0x41, 0xB, 100);
	sim_clock_simple_advance(clk, 200 * BUS_PS);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
	wr(LAPIC_REG_LVT_TIMER, 0x20041);
	sim_clock_simple_advance(clk, 400 * BUS_PS);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
}

Test(lapic, tsc_deadline_fires_when_the_tsc_reaches_it)
{
	timer_setup(0x40043, 0xB, 0);
	wr(LAPIC_REG_TIMER_INIT, 100);
	cr_assert_eq(rd(LAPIC_REG_TIMER_INIT), 0, "initial count ignored in TSC-deadline mode");
	lapic_set_tsc_deadline(l, 5000);
	cr_assert_eq(lapic_tsc_deadline(l), 5000);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
	sim_clock_simple_advance(clk, 5000 * 1000 - 1);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x43), 0);
	sim_clock_simple_advance(clk, 5000 * 1000);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x43), 1);
	cr_assert_eq(lapic_tsc_deadline(l), 0, "disarmed after firing");
}

Test(lapic, tsc_deadline_rewrite_cancels_and_zero_disarms)
{
	timer_setup(0x40043, 0xB, 0);
	lapic_set_tsc_deadline(l, 5000);
	lapic_set_tsc_deadline(l, 8000);
	sim_clock_simple_advance(clk, 7999 * 1000);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x43), 0);
	sim_clock_simple_advance(clk, 8000 * 1000);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x43), 1);
	lapic_ack_intr(l, NULL);
	wr(LAPIC_REG_EOI, 0);
	lapic_set_tsc_deadline(l, 9000);
	lapic_set_tsc_deadline(l, 0);
	sim_clock_simple_advance(clk, 20000 * 1000);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x43), 0);
}

Test(lapic, tsc_deadline_in_the_past_fires_at_once)
{
	timer_setup(0x40043, 0xB, 0);
	sim_clock_simple_advance(clk, 10000 * 1000);
	lapic_set_tsc_deadline(l, 1);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x43), 1);
	cr_assert_eq(kicks, 1);
}

Test(lapic, tsc_deadline_beyond_simulated_time_never_fires)
{
	timer_setup(0x40043, 0xB, 0);
	/* 2^62 cycles at 1 GHz is 2^62 * 1000 ps: past 2^64 ps. */
	lapic_set_tsc_deadline(l, 1ull << 62);
	sim_clock_simple_advance(clk, 100 * SIM_PS_PER_S);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x43), 0);
	cr_assert_eq(lapic_tsc_deadline(l), 1ull << 62);
}

Test(lapic, tsc_deadline_ignored_outside_its_mode_and_cleared_by_a_mode_change)
{
	timer_setup(0x43, 0xB, 0);
	lapic_set_tsc_deadline(l, 5000);
	cr_assert_eq(lapic_tsc_deadline(l), 0);
	sim_clock_simple_advance(clk, 10000 * 1000);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x43), 0);
	wr(LAPIC_REG_LVT_TIMER, 0x40043);
	lapic_set_tsc_deadline(l, 20000);
	wr(LAPIC_REG_LVT_TIMER, 0x43);
	wr(LAPIC_REG_LVT_TIMER, 0x40043);
	cr_assert_eq(lapic_tsc_deadline(l), 0);
	sim_clock_simple_advance(clk, 30000 * 1000);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x43), 0);
}

/* ---- LINT pins (SDM Vol. 3 10.5.1) ---- */

Test(lapic, lint0_extint_asks_the_8259_for_the_vector)
{
	struct irq_origin o = { .assert_ps = 7, .route_ps = 7, .kind = IRQ_SRC_PIN, .pin = 0 }, got;

	sw_enable();
	wr(LAPIC_REG_LVT_LINT0, 0x700);
	lapic_set_lint(l, 0, 1, &o);
	cr_assert_eq(kicks, 1);
	cr_assert_eq(lapic_has_intr(l), APIC_EXTINT_PENDING);
	wr(LAPIC_REG_TPR, 0xF0);
	cr_assert_eq(lapic_has_intr(l), APIC_EXTINT_PENDING, "the TPR does not hold ExtINT");
	cr_assert_eq(lapic_ack_intr(l, &got), 0x28);
	cr_assert_eq(got.kind, IRQ_SRC_PIN);
	cr_assert_eq(got.assert_ps, 7);
	cr_assert_eq(bit(LAPIC_REG_ISR, 0x28), 0, "ExtINT bypasses the ISR");
	lapic_set_lint(l, 0, 0, &o);
	cr_assert_eq(lapic_has_intr(l), -1);
}

Test(lapic, masked_lint0_extint_is_not_pending)
{
	sw_enable();
	wr(LAPIC_REG_LVT_LINT0, 0x10700);
	lapic_set_lint(l, 0, 1, NULL);
	cr_assert_eq(lapic_has_intr(l), -1);
	cr_assert_eq(kicks, 0);
	wr(LAPIC_REG_LVT_LINT0, 0x700);
	cr_assert_eq(lapic_has_intr(l), APIC_EXTINT_PENDING);
	cr_assert_eq(kicks, 1);
}

Test(lapic, globally_disabled_apic_passes_intr_and_nmi_through)
{
	cr_assert_eq(lapic_write_base_msr(l, APIC_DEFAULT_BASE), 0);
	lapic_set_lint(l, 0, 1, NULL);
	cr_assert_eq(lapic_has_intr(l), APIC_EXTINT_PENDING);
	cr_assert_eq(lapic_ack_intr(l, NULL), 0x28);
	lapic_set_lint(l, 1, 1, NULL);
	cr_assert_eq(lapic_pending_events(l), LAPIC_EV_NMI);
}

Test(lapic, lint1_nmi_on_the_rising_edge)
{
	sw_enable();
	wr(LAPIC_REG_LVT_LINT1, 0x400);
	lapic_set_lint(l, 1, 1, NULL);
	cr_assert_eq(lapic_take_events(l, NULL), LAPIC_EV_NMI);
	lapic_set_lint(l, 1, 1, NULL);
	cr_assert_eq(lapic_pending_events(l), 0, "no new edge");
	lapic_set_lint(l, 1, 0, NULL);
	lapic_set_lint(l, 1, 1, NULL);
	cr_assert_eq(lapic_pending_events(l), LAPIC_EV_NMI);
}

Test(lapic, lint0_fixed_level_holds_remote_irr_until_eoi)
{
	struct irq_origin o;

	sw_enable();
	wr(LAPIC_REG_LVT_LINT0, 0x8000 | 0x55);	/* fixed, level */
	lapic_set_lint(l, 0, 1, NULL);
	cr_assert_eq(rd(LAPIC_REG_LVT_LINT0), 0xC055, "remote IRR set");
	cr_assert_eq(bit(LAPIC_REG_TMR, 0x55), 1);
	cr_assert_eq(lapic_ack_intr(l, &o), 0x55);
	cr_assert_eq(o.kind, IRQ_SRC_LINT);
	cr_assert_eq(o.pin, LAPIC_LVT_LINT0);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x55), 1, "still asserted: delivered again");
	lapic_set_lint(l, 0, 0, NULL);
	cr_assert_eq(lapic_ack_intr(l, NULL), 0x55);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(rd(LAPIC_REG_LVT_LINT0), 0x8055, "remote IRR cleared by the EOI");
	cr_assert_eq(bit(LAPIC_REG_IRR, 0x55), 0);
}

Test(lapic, lint_active_low_polarity)
{
	sw_enable();
	wr(LAPIC_REG_LVT_LINT1, 0x2000 | 0x400);	/* NMI, active low */
	lapic_set_lint(l, 1, 1, NULL);
	cr_assert_eq(lapic_pending_events(l), 0);
	lapic_set_lint(l, 1, 0, NULL);
	cr_assert_eq(lapic_pending_events(l), LAPIC_EV_NMI);
}

Test(lapic, thermal_pmc_and_cmci_registers_hold_their_values)
{
	sw_enable();
	wr(LAPIC_REG_LVT_THERMAL, 0x4FF);
	wr(LAPIC_REG_LVT_PMC, 0x10400);
	wr(LAPIC_REG_LVT_CMCI, 0x33);
	cr_assert_eq(rd(LAPIC_REG_LVT_THERMAL), 0x4FF);
	cr_assert_eq(rd(LAPIC_REG_LVT_PMC), 0x10400);
	cr_assert_eq(rd(LAPIC_REG_LVT_CMCI), 0x33);
}
