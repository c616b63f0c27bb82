/* The APIC bus with several LAPICs: destination matching (physical,
 * logical flat and cluster, x2APIC cluster, broadcast, shorthands),
 * lowest-priority arbitration, IPIs from the ICR, MSI decode and the
 * EOI, ExtINT and LINT0 wiring (SDM Vol. 3 10.6, 10.11, 10.12). */
#include <criterion/criterion.h>
#include <string.h>

#include "apic.h"
#include "clock.h"

#define NLP 20

static struct sim_clock *clk;
static struct apic_bus *bus;
static struct lapic *lp[NLP];
static unsigned nlp;
static int kicks[NLP];
static unsigned lp_index[NLP];	/* kick opaques */
static int eoi_count, eoi_vector;

static void kick(void *opaque)
{
	kicks[*(unsigned *)opaque]++;
}

static void on_eoi(void *opaque, uint8_t vector)
{
	eoi_count++;
	eoi_vector = vector;
}

static int on_extint(void *opaque)
{
	return *(int *)opaque;
}

/* A bus with n LAPICs, software-enabled, in xAPIC mode. */
static void start(unsigned n)
{
	nlp = n;
	memset(kicks, 0, sizeof(kicks));
	eoi_count = eoi_vector = 0;
	clk = sim_clock_simple_new();
	bus = apic_bus_new(n);
	cr_assert_not_null(clk);
	cr_assert_not_null(bus);
	apic_bus_set_clock(bus, clk);
	for (unsigned i = 0; i < n; i++) {
		lp_index[i] = i;
	}
	for (unsigned i = 0; i < n; i++) {
		struct lapic_config cfg = {
			.index = i,
			.bsp = i == 0,
			.clk = clk,
			.tsc_khz = 1000000,
			.bus_khz = 100000,
			.bus = bus,
			.kick = kick,
			.opaque = &lp_index[i],
		};

		lp[i] = lapic_new(&cfg);
		cr_assert_not_null(lp[i]);
		apic_bus_attach(bus, i, lp[i]);
		lapic_mmio_write(lp[i], LAPIC_REG_SVR, 0x1FF);
	}
}

static void teardown(void)
{
	for (unsigned i = 0; i < nlp; i++)
		lapic_free(lp[i]);
	apic_bus_free(bus);
	sim_clock_simple_free(clk);
}

static int irr(unsigned i, unsigned v)
{
	return (lapic_mmio_read(lp[i], LAPIC_REG_IRR + (v / 32) * 16) >> (v % 32)) & 1;
}

/* Which LPs have vector v in their IRR, as a bit mask. */
static unsigned who(unsigned v)
{
	unsigned m = 0;

	for (unsigned i = 0; i < nlp; i++)
		m |= (unsigned)irr(i, v) << i;
	return m;
}

static unsigned send(uint32_t dest, int logical, uint8_t dm, uint8_t vector)
{
	struct apic_msg m = { .dest = dest, .src = APIC_NO_SOURCE, .vector = vector, .dm = dm,
			      .logical = (uint8_t)logical, .assert = 1 };

	return apic_bus_send(bus, &m);
}

static void ipi(unsigned from, uint32_t lo, uint8_t dest)
{
	lapic_mmio_write(lp[from], LAPIC_REG_ICR_HI, (uint32_t)dest << 24);
	lapic_mmio_write(lp[from], LAPIC_REG_ICR_LO, lo);
}

TestSuite(apicbus, .fini = teardown);

/* ---- physical and broadcast (SDM Vol. 3 10.6.2.1) ---- */

Test(apicbus, physical_destination_is_the_apic_id)
{
	start(4);
	cr_assert_eq(send(2, 0, APIC_DM_FIXED, 0x40), 1);
	cr_assert_eq(who(0x40), 1u << 2);
	cr_assert_eq(kicks[2], 1);
	cr_assert_eq(kicks[0] + kicks[1] + kicks[3], 0);
	cr_assert_eq(send(9, 0, APIC_DM_FIXED, 0x41), 0, "no such APIC");
}

Test(apicbus, physical_broadcast_reaches_everyone)
{
	start(4);
	cr_assert_eq(send(0xFF, 0, APIC_DM_FIXED, 0x40), 4);
	cr_assert_eq(who(0x40), 0xF);
}

Test(apicbus, written_xapic_id_is_what_matches)
{
	start(2);
	lapic_mmio_write(lp[1], 0x20, 0x07000000);
	cr_assert_eq(send(1, 0, APIC_DM_FIXED, 0x40), 0);
	cr_assert_eq(send(7, 0, APIC_DM_FIXED, 0x40), 1);
	cr_assert_eq(who(0x40), 2);
}

Test(apicbus, globally_disabled_apic_is_not_on_the_bus)
{
	start(2);
	cr_assert_eq(lapic_write_base_msr(lp[1], APIC_DEFAULT_BASE), 0);
	cr_assert_eq(send(0xFF, 0, APIC_DM_NMI, 0), 1);
	cr_assert_eq(lapic_pending_events(lp[1]), 0);
}

/* ---- logical (SDM Vol. 3 10.6.2.2) ---- */

Test(apicbus, logical_flat_model_matches_any_common_bit)
{
	start(4);
	for (unsigned i = 0; i < 4; i++)
		lapic_mmio_write(lp[i], LAPIC_REG_LDR, (1u << i) << 24);
	cr_assert_eq(send(0x05, 1, APIC_DM_FIXED, 0x40), 2);
	cr_assert_eq(who(0x40), 0x5);
	cr_assert_eq(send(0xFF, 1, APIC_DM_FIXED, 0x41), 4);
	cr_assert_eq(send(0x10, 1, APIC_DM_FIXED, 0x42), 0);
}

Test(apicbus, logical_cluster_model_matches_cluster_and_member)
{
	static const uint8_t ldr[4] = { 0x11, 0x12, 0x21, 0x24 };

	start(4);
	for (unsigned i = 0; i < 4; i++) {
		lapic_mmio_write(lp[i], LAPIC_REG_DFR, 0x0FFFFFFF);
		lapic_mmio_write(lp[i], LAPIC_REG_LDR, (uint32_t)ldr[i] << 24);
	}
	cr_assert_eq(send(0x13, 1, APIC_DM_FIXED, 0x40), 2);
	cr_assert_eq(who(0x40), 0x3);
	cr_assert_eq(send(0x25, 1, APIC_DM_FIXED, 0x41), 2);
	cr_assert_eq(who(0x41), 0xC);
	cr_assert_eq(send(0x31, 1, APIC_DM_FIXED, 0x42), 0, "no cluster 3");
	cr_assert_eq(send(0xF1, 1, APIC_DM_FIXED, 0x43), 2, "cluster 15: every cluster");
	cr_assert_eq(who(0x43), 0x5);
	cr_assert_eq(send(0xFF, 1, APIC_DM_FIXED, 0x44), 4);
}

Test(apicbus, each_lapic_uses_its_own_model)
{
	start(2);
	lapic_mmio_write(lp[0], LAPIC_REG_LDR, 0x21000000);	/* flat: bits 0 and 5 */
	lapic_mmio_write(lp[1], LAPIC_REG_DFR, 0x0FFFFFFF);
	lapic_mmio_write(lp[1], LAPIC_REG_LDR, 0x21000000);	/* cluster 2, member 0 */
	cr_assert(lapic_match_logical(lp[0], 0x01, 0));
	cr_assert_not(lapic_match_logical(lp[1], 0x01, 0));
	cr_assert(lapic_match_logical(lp[1], 0x21, 0));
	cr_assert(lapic_match_logical(lp[0], 0x20, 0));
	cr_assert_not(lapic_match_logical(lp[1], 0x20, 0));
}

/* ---- x2APIC destinations (SDM Vol. 3 10.12.9, 10.12.10) ---- */

static void all_x2apic(void)
{
	for (unsigned i = 0; i < nlp; i++)
		cr_assert_eq(lapic_write_base_msr(lp[i], lapic_base_msr(lp[i]) | APIC_BASE_EXTD), 0);
}

Test(apicbus, x2apic_cluster_addressing)
{
	struct apic_msg m = { .dest = 1u << 16 | 0x5, .src = APIC_NO_SOURCE, .vector = 0x40,
			      .dm = APIC_DM_FIXED, .logical = 1, .assert = 1, .x2apic = 1 };

	start(NLP);
	all_x2apic();
	cr_assert_eq(apic_bus_send(bus, &m), 2);
	cr_assert_eq(who(0x40), 1u << 16 | 1u << 18);
	m.dest = 0x3;
	m.vector = 0x41;
	cr_assert_eq(apic_bus_send(bus, &m), 2);
	cr_assert_eq(who(0x41), 0x3);
	m.dest = 0xFFFFFFFF;
	m.vector = 0x42;
	cr_assert_eq(apic_bus_send(bus, &m), NLP);
}

Test(apicbus, x2apic_physical_uses_32_bit_ids)
{
	struct apic_msg m = { .dest = 17, .src = APIC_NO_SOURCE, .vector = 0x40, .dm = APIC_DM_FIXED,
			      .assert = 1, .x2apic = 1 };

	start(NLP);
	all_x2apic();
	cr_assert_eq(apic_bus_send(bus, &m), 1);
	cr_assert_eq(who(0x40), 1u << 17);
	m.dest = 0x100 | 17;
	cr_assert_eq(apic_bus_send(bus, &m), 0, "no id 0x111");
	m.dest = 0xFF;
	cr_assert_eq(apic_bus_send(bus, &m), 0, "0xFF is an id, not a broadcast, in x2APIC format");
	m.dest = 0xFFFFFFFF;
	cr_assert_eq(apic_bus_send(bus, &m), NLP);
}

Test(apicbus, x2apic_icr_sends_to_a_32_bit_destination)
{
	start(NLP);
	all_x2apic();
	cr_assert_eq(lapic_msr_write(lp[0], LAPIC_REG_MSR(LAPIC_REG_ICR_LO), 18ull << 32 | 0x4055), 0);
	cr_assert_eq(who(0x55), 1u << 18);
	/* logical: cluster 1 member 2 = LP 18 */
	cr_assert_eq(lapic_msr_write(lp[0], LAPIC_REG_MSR(LAPIC_REG_ICR_LO), (1ull << 16 | 0x4) << 32 | 0x856), 0);
	cr_assert_eq(who(0x56), 1u << 18);
}

/* ---- shorthands (SDM Vol. 3 10.6.1) ---- */

Test(apicbus, shorthands_self_all_and_all_but_self)
{
	start(3);
	ipi(1, 1u << 18 | 0x40, 0);
	cr_assert_eq(who(0x40), 0x2);
	ipi(1, 2u << 18 | 0x41, 0);
	cr_assert_eq(who(0x41), 0x7);
	ipi(1, 3u << 18 | 0x42, 0);
	cr_assert_eq(who(0x42), 0x5);
}

Test(apicbus, invalid_shorthand_combinations_are_not_sent)
{
	start(3);
	ipi(1, 1u << 18 | APIC_DM_NMI << 8, 0);
	ipi(1, 2u << 18 | APIC_DM_INIT << 8, 0);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(lapic_pending_events(lp[i]), 0);
	ipi(1, 3u << 18 | APIC_DM_NMI << 8, 0);
	cr_assert_eq(lapic_pending_events(lp[0]), LAPIC_EV_NMI);
	cr_assert_eq(lapic_pending_events(lp[1]), 0);
	cr_assert_eq(lapic_pending_events(lp[2]), LAPIC_EV_NMI);
}

/* ---- IPIs through the ICR ---- */

Test(apicbus, ipi_fixed_is_edge_and_delivery_status_reads_idle)
{
	struct irq_origin o;

	start(2);
	sim_clock_simple_advance(clk, 1234);
	ipi(0, 0xC000 | 0x60, 1);	/* level bits set: still edge (Table 10-3) */
	cr_assert_eq(who(0x60), 0x2);
	cr_assert_eq((lapic_mmio_read(lp[1], LAPIC_REG_TMR + 0x30) >> 0) & 1, 0);
	cr_assert_eq(lapic_mmio_read(lp[0], LAPIC_REG_ICR_LO) & (1u << 12), 0);
	cr_assert_eq(lapic_mmio_read(lp[0], LAPIC_REG_ICR_LO), 0xC060);
	cr_assert_eq(lapic_ack_intr(lp[1], &o), 0x60);
	cr_assert_eq(o.kind, IRQ_SRC_IPI);
	cr_assert_eq(o.pin, 0, "sender APIC id");
	cr_assert_eq(o.assert_ps, 1234);
	cr_assert_eq(o.accept_ps, 1234);
}

Test(apicbus, ipi_kind_tags_the_next_ipi_only)
{
	struct irq_origin o;

	start(2);
	lapic_set_ipi_kind(lp[0], IRQ_SRC_HV_KICK);
	ipi(0, 0x4000 | 0xF2, 1);
	cr_assert_eq(lapic_ack_intr(lp[1], &o), 0xF2);
	cr_assert_eq(o.kind, IRQ_SRC_HV_KICK, "the hypervisor's kick");
	cr_assert_eq(o.pin, 0, "sender APIC id");
	lapic_mmio_write(lp[1], LAPIC_REG_EOI, 0);
	ipi(0, 0x4000 | 0x61, 1);
	cr_assert_eq(lapic_ack_intr(lp[1], &o), 0x61);
	cr_assert_eq(o.kind, IRQ_SRC_IPI, "the next one is an IPI again");
	lapic_mmio_write(lp[1], LAPIC_REG_EOI, 0);
	/* A refused ICR write uses the tag up too. */
	lapic_set_ipi_kind(lp[0], IRQ_SRC_HV_KICK);
	ipi(0, 0x4000 | 0x08, 1);	/* vector below 16: not sent */
	ipi(0, 0x4000 | 0x62, 1);
	cr_assert_eq(lapic_ack_intr(lp[1], &o), 0x62);
	cr_assert_eq(o.kind, IRQ_SRC_IPI);
}

Test(apicbus, init_and_startup_ipis)
{
	uint8_t v = 0;

	start(2);
	ipi(0, 0xC500, 1);	/* INIT, level, assert */
	cr_assert_eq(lapic_pending_events(lp[1]), LAPIC_EV_INIT);
	ipi(0, 0x8500, 1);	/* INIT level de-assert */
	cr_assert_eq(lapic_take_events(lp[1], NULL), LAPIC_EV_INIT, "de-assert adds nothing");
	cr_assert_eq(lapic_pending_events(lp[0]), 0);
	ipi(0, 0x0600 | 0x9A, 1);
	cr_assert_eq(lapic_take_events(lp[1], &v), LAPIC_EV_SIPI);
	cr_assert_eq(v, 0x9A);
	cr_assert_eq(kicks[1], 2);
}

Test(apicbus, nmi_and_smi_ipis)
{
	start(2);
	ipi(0, 0x0400, 1);
	ipi(0, 0x0200, 1);
	cr_assert_eq(lapic_pending_events(lp[1]), LAPIC_EV_NMI | LAPIC_EV_SMI);
}

Test(apicbus, logical_ipi)
{
	start(3);
	for (unsigned i = 0; i < 3; i++)
		lapic_mmio_write(lp[i], LAPIC_REG_LDR, (1u << i) << 24);
	ipi(0, 0x800 | 0x61, 0x6);
	cr_assert_eq(who(0x61), 0x6);
}

/* ---- lowest priority (SDM Vol. 3 10.6.2.4) ---- */

Test(apicbus, lowest_priority_goes_to_the_lowest_ppr)
{
	start(3);
	lapic_mmio_write(lp[0], LAPIC_REG_TPR, 0x20);
	lapic_mmio_write(lp[1], LAPIC_REG_TPR, 0x30);
	lapic_mmio_write(lp[2], LAPIC_REG_TPR, 0x10);
	cr_assert_eq(send(0xFF, 0, APIC_DM_LOWEST, 0x80), 1);
	cr_assert_eq(who(0x80), 0x4);
}

Test(apicbus, lowest_priority_counts_the_isr_through_the_ppr)
{
	start(2);
	send(0, 0, APIC_DM_FIXED, 0x90);
	lapic_ack_intr(lp[0], NULL);	/* PPR 0x90 */
	lapic_mmio_write(lp[1], LAPIC_REG_TPR, 0x50);
	send(0xFF, 0, APIC_DM_LOWEST, 0x81);
	cr_assert_eq(who(0x81), 0x2);
}

Test(apicbus, lowest_priority_ties_go_to_the_lowest_lp)
{
	start(4);
	lapic_mmio_write(lp[0], LAPIC_REG_TPR, 0x40);
	for (unsigned i = 1; i < 4; i++)
		lapic_mmio_write(lp[i], LAPIC_REG_LDR, 0xFF000000);
	cr_assert_eq(send(0xFF, 1, APIC_DM_LOWEST, 0x80), 1);
	cr_assert_eq(who(0x80), 0x2);
	cr_assert_eq(send(0x0C, 0, APIC_DM_LOWEST, 0x81), 0, "physical 0x0C: no such id");
}

Test(apicbus, lowest_priority_skips_software_disabled_apics)
{
	start(2);
	lapic_mmio_write(lp[0], LAPIC_REG_SVR, 0xFF);
	lapic_mmio_write(lp[1], LAPIC_REG_TPR, 0xE0);
	cr_assert_eq(send(0xFF, 0, APIC_DM_LOWEST, 0x80), 1);
	cr_assert_eq(who(0x80), 0x2);
}

Test(apicbus, lowest_priority_ipi_from_the_icr)
{
	start(3);
	lapic_mmio_write(lp[0], LAPIC_REG_TPR, 0x90);
	lapic_mmio_write(lp[1], LAPIC_REG_TPR, 0x90);
	ipi(0, 3u << 18 | 0x100 | 0x70, 0);	/* all but self, lowest */
	cr_assert_eq(who(0x70), 0x4);
}

/* ---- MSI (SDM Vol. 3 10.11) ---- */

Test(apicbus, msi_decodes_destination_and_vector)
{
	struct irq_origin o = { .assert_ps = 10 }, got;

	start(4);
	sim_clock_simple_advance(clk, 50);
	cr_assert_eq(apic_bus_msi(bus, 0xFEE02000, 0x0045, &o), 1);
	cr_assert_eq(who(0x45), 0x4);
	cr_assert_eq(lapic_ack_intr(lp[2], &got), 0x45);
	cr_assert_eq(got.kind, IRQ_SRC_MSI);
	cr_assert_eq(got.assert_ps, 10);
	cr_assert_eq(got.route_ps, 50);
	cr_assert_eq(got.accept_ps, 50);
}

Test(apicbus, msi_address_outside_0xfee_is_refused)
{
	start(2);
	cr_assert_eq(apic_bus_msi(bus, 0xFED00000, 0x45, NULL), -1);
	cr_assert_eq(apic_bus_msi(bus, 0x1FEE00000ull, 0x45, NULL), -1);
	cr_assert_eq(who(0x45), 0);
}

Test(apicbus, msi_level_trigger_sets_tmr_and_delivery_modes)
{
	start(2);
	cr_assert_eq(apic_bus_msi(bus, 0xFEE01000, 0xC000 | 0x46, NULL), 1);
	cr_assert_eq((lapic_mmio_read(lp[1], LAPIC_REG_TMR + 0x20) >> 6) & 1, 1);
	cr_assert_eq(apic_bus_msi(bus, 0xFEE00000, 0x0400, NULL), 1);
	cr_assert_eq(lapic_pending_events(lp[0]), LAPIC_EV_NMI);
	cr_assert_eq(apic_bus_msi(bus, 0xFEE00000, 0x0600 | 0x10, NULL), 0, "110 is reserved");
}

Test(apicbus, msi_logical_and_redirection_hint)
{
	start(3);
	for (unsigned i = 0; i < 3; i++)
		lapic_mmio_write(lp[i], LAPIC_REG_LDR, (1u << i) << 24);
	cr_assert_eq(apic_bus_msi(bus, 0xFEE06004, 0x47, NULL), 2, "DM: logical 0x06");
	cr_assert_eq(who(0x47), 0x6);
	lapic_mmio_write(lp[1], LAPIC_REG_TPR, 0x40);
	cr_assert_eq(apic_bus_msi(bus, 0xFEE0600C, 0x48, NULL), 1, "RH: lowest priority of LP1, LP2");
	cr_assert_eq(who(0x48), 0x4);
}

/* ---- EOI, ExtINT and LINT0 wiring ---- */

Test(apicbus, level_eoi_reaches_the_listener)
{
	struct apic_msg m = { .dest = 1, .src = APIC_NO_SOURCE, .vector = 0x52, .dm = APIC_DM_FIXED,
			      .level = 1, .assert = 1 };

	start(2);
	apic_bus_set_eoi_listener(bus, on_eoi, NULL);
	apic_bus_send(bus, &m);
	lapic_ack_intr(lp[1], NULL);
	lapic_mmio_write(lp[1], LAPIC_REG_EOI, 0);
	cr_assert_eq(eoi_count, 1);
	cr_assert_eq(eoi_vector, 0x52);
	apic_bus_eoi(bus, 0x99);
	cr_assert_eq(eoi_vector, 0x99);
}

Test(apicbus, lint0_fans_out_and_extint_ack_asks_the_8259)
{
	int vector = 0x30;

	start(3);
	apic_bus_set_extint(bus, on_extint, &vector);
	lapic_mmio_write(lp[0], LAPIC_REG_LVT_LINT0, 0x700);
	lapic_mmio_write(lp[2], LAPIC_REG_LVT_LINT0, 0x700);
	apic_bus_set_lint0(bus, 1, NULL);
	cr_assert_eq(lapic_has_intr(lp[0]), APIC_EXTINT_PENDING);
	cr_assert_eq(lapic_has_intr(lp[1]), -1, "LINT0 masked there");
	cr_assert_eq(lapic_has_intr(lp[2]), APIC_EXTINT_PENDING);
	cr_assert_eq(kicks[0] + kicks[1] + kicks[2], 2);
	cr_assert_eq(apic_bus_extint_ack(bus), 0x30);
	cr_assert_eq(lapic_ack_intr(lp[0], NULL), 0x30);
	apic_bus_set_lint0(bus, 0, NULL);
	cr_assert_eq(lapic_has_intr(lp[0]), -1);
}

Test(apicbus, extint_message_is_acknowledged_once)
{
	int vector = 0x31;

	start(2);
	apic_bus_set_extint(bus, on_extint, &vector);
	cr_assert_eq(send(1, 0, APIC_DM_EXTINT, 0), 1);
	cr_assert_eq(lapic_has_intr(lp[1]), APIC_EXTINT_PENDING);
	cr_assert_eq(lapic_ack_intr(lp[1], NULL), 0x31);
	cr_assert_eq(lapic_has_intr(lp[1]), -1);
}

Test(apicbus, bus_bookkeeping)
{
	start(2);
	cr_assert_eq(apic_bus_count(bus), 2);
	cr_assert_eq(apic_bus_lapic(bus, 1), lp[1]);
	cr_assert_null(apic_bus_lapic(bus, 2));
	cr_assert_eq(apic_bus_extint_ack(bus), -1, "no 8259 attached");
	cr_assert_eq(apic_bus_send_cb(bus, &(struct apic_msg){ .dest = 0xFF, .dm = APIC_DM_NMI, .assert = 1 }), 2);
}
