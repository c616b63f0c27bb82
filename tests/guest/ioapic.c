/* The IO-APIC on the bare platform (Intel 82093AA datasheet; version 0x20
 * with the EOI register of the ICH IO-APICs), driven through the
 * interrupt-line test device (port 0x2000 + n is input n):
 * - ID, version and arbitration registers against the MADT, their
 *   reserved and read-only bits;
 * - redirection-entry read-back: reserved and read-only bits, every
 *   entry masked at boot;
 * - edge pins: one message per rising edge to the programmed vector, in
 *   physical, logical flat, logical cluster and lowest-priority
 *   destination modes; a masked pin drops its edge, and unmasking while
 *   the input is high sends nothing (sim/apic/ioapic.c: reprogramming
 *   never makes an edge);
 * - level pins: remote IRR, no second message while it is set, the
 *   LAPIC's EOI broadcast clearing it (and re-sending while the input is
 *   still asserted), and with EOI broadcast suppressed (SVR bit 12) the
 *   IO-APIC's own EOI register doing the same;
 * - active-low inputs, edge and level;
 * - latency: the interrupt is taken at the first block boundary after the
 *   OUT that raises the line, within a bounded number of TSC cycles;
 * - a level message lost to a software-disabled LAPIC, and the recovery
 *   by switching the entry to edge and back;
 * - with --lps 2 or more, delivery to an AP by physical destination, by
 *   lowest priority (the BSP's TPR raised) and on a level pin that the
 *   AP EOIs through its x2APIC EOI MSR. */
#include "ap.h"
#include "intc.h"

#define PIN_EDGE 16	/* irqtest lines 16-23: no ISA device shares them */
#define PIN_LEVEL 17
#define PIN_LOW_EDGE 18
#define PIN_LOW_LEVEL 19
#define PIN_SCRATCH 20
#define PIN_AP 21

#define VEC_EDGE 0x50
#define VEC_LEVEL 0x60
#define VEC_AP 0x70

static unsigned bsp_id;

/* ---- what the handlers saw ---- */

#define LOG_MAX 16
static volatile unsigned log_n;
static volatile uint8_t log_vec[LOG_MAX];
static volatile uint64_t log_rip[LOG_MAX], log_tsc[LOG_MAX];
static volatile bool handler_eoi = true;	/* level tests EOI by hand */

static void on_irq(struct exc_regs *r)
{
	uint64_t t = rdtsc();

	if (log_n < LOG_MAX) {
		log_tsc[log_n] = t;
		log_rip[log_n] = r->rip;
		log_vec[log_n] = (uint8_t)r->vector;
	}
	log_n++;
	if (handler_eoi)
		apic_w(R_EOI, 0);
}

static void reset_log(void)
{
	log_n = 0;
	asm volatile("" ::: "memory");
}

static bool remote_irr(unsigned pin)
{
	return rte_get(pin) & RTE_REMOTE_IRR;
}

/* An edge entry to `vec` at physical APIC id `dest`, unmasked. */
static uint64_t edge_rte(unsigned vec, unsigned dest)
{
	return RTE_DEST(dest) | vec;
}

/* ---- the MADT's IO-APIC entry (ACPI 6.5 5.2.12.3) ---- */

struct madt_ioapic {
	bool found;
	uint8_t id;
	uint32_t addr, gsi_base;
};

static const uint8_t *find_rsdp(void)
{
	for (uintptr_t p = 0xE0000; p < 0x100000; p += 16)
		if (!memcmp((const void *)p, "RSD PTR ", 8))
			return (const uint8_t *)p;
	return NULL;
}

static struct madt_ioapic madt_ioapic(void)
{
	struct madt_ioapic r = { 0 };
	const uint8_t *rsdp = find_rsdp(), *rsdt, *madt = NULL;
	uint32_t len, a;

	if (!rsdp)
		return r;
	memcpy(&a, rsdp + 16, 4);	/* RsdtAddress */
	rsdt = (const uint8_t *)(uintptr_t)a;
	memcpy(&len, rsdt + 4, 4);
	for (uint32_t off = 36; off + 4 <= len; off += 4) {
		memcpy(&a, rsdt + off, 4);
		if (!memcmp((const void *)(uintptr_t)a, "APIC", 4))
			madt = (const uint8_t *)(uintptr_t)a;
	}
	if (!madt)
		return r;
	memcpy(&len, madt + 4, 4);
	/* Interrupt controller structures follow the 36-byte header, the
	 * local APIC address and the flags. */
	for (uint32_t off = 44; off + 2 <= len && madt[off + 1] >= 2; off += madt[off + 1]) {
		if (madt[off] != 1 || madt[off + 1] < 12)
			continue;
		r.found = true;
		r.id = madt[off + 2];
		memcpy(&r.addr, madt + off + 4, 4);
		memcpy(&r.gsi_base, madt + off + 8, 4);
		break;
	}
	return r;
}

/* ---- registers ---- */

static void test_registers(void)
{
	struct madt_ioapic m = madt_ioapic();
	uint32_t id = ioapic_r(IOA_ID), ver = ioapic_r(IOA_VER);

	if (report(m.found, "MADT lists an IO-APIC"))
		report(m.addr == IOAPIC_BASE && m.gsi_base == 0, "at 0x%x, GSI base %u", m.addr, m.gsi_base);
	report(id == (uint32_t)m.id << 24, "IOAPICID 0x%x: the MADT's id %u in bits 27:24", id, m.id);
	report(ver == 0x00170020, "IOAPICVER 0x%x: version 0x20, 24 entries (max index 0x17)", ver);
	report(ioapic_r(IOA_ARB) == id, "IOAPICARB 0x%x holds the id", ioapic_r(IOA_ARB));

	ioapic_w(IOA_ID, 0x0A000000);
	report(ioapic_r(IOA_ID) == 0x0A000000, "IOAPICID is writable: 0x%x", ioapic_r(IOA_ID));
	report(ioapic_r(IOA_ARB) == 0x0A000000, "writing the id loads the arbitration id (datasheet 3.2.3)");
	ioapic_w(IOA_ID, 0xFFFFFFFF);
	report(ioapic_r(IOA_ID) == 0x0F000000, "IOAPICID reserved bits read 0 (0x%x)", ioapic_r(IOA_ID));
	ioapic_w(IOA_VER, 0);
	ioapic_w(IOA_ARB, 0);
	report(ioapic_r(IOA_VER) == ver && ioapic_r(IOA_ARB) == 0x0F000000,
	       "IOAPICVER and IOAPICARB are read-only");
	ioapic_w(IOA_ID, id);
	report(ioapic_r(IOA_ID) == id, "id restored");
	*(volatile uint32_t *)IOAPIC_BASE = 0x12345678;
	report(*(volatile uint32_t *)IOAPIC_BASE == 0x78, "IOREGSEL keeps bits 7:0 (0x%x)",
	       *(volatile uint32_t *)IOAPIC_BASE);
	report(ioapic_r(0x03) == 0 && ioapic_r(0x40) == 0, "indices with no register read 0");
}

static void test_rte_registers(void)
{
	bool masked = true;
	uint64_t v;

	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		masked &= (rte_get(pin) & RTE_MASKED) != 0;
	report(masked, "every redirection entry is masked at boot");
	rte_set(PIN_SCRATCH, ~0ull);
	v = rte_get(PIN_SCRATCH);
	report(v == 0xFF0000000001AFFFull,
	       "all ones reads back 0x%lx: bits 55:17 reserved, delivery status and remote IRR read-only",
	       (unsigned long)v);
	rte_set(PIN_SCRATCH, RTE_MASKED | RTE_DEST(0x5A) | RTE_ACTIVE_LOW | 0x33);
	v = rte_get(PIN_SCRATCH);
	report(v == (RTE_MASKED | RTE_DEST(0x5A) | RTE_ACTIVE_LOW | 0x33), "a pattern reads back: 0x%lx",
	       (unsigned long)v);
	rte_set(PIN_SCRATCH, RTE_MASKED);
}

/* ---- edge-triggered pins ---- */

static void test_edge_physical(void)
{
	bool delivs = false;

	reset_log();
	rte_set(PIN_EDGE, edge_rte(VEC_EDGE, bsp_id));
	irqtest_line(PIN_EDGE, 1);
	report(apic_bit(R_IRR, VEC_EDGE) && !apic_bit(R_TMR, VEC_EDGE),
	       "rising edge: vector 0x%x in the LAPIC's IRR, TMR clear (edge)", VEC_EDGE);
	delivs |= (rte_get(PIN_EDGE) & RTE_DELIVS) != 0;
	report(log_n == 0, "held while IF = 0");
	intr_window();
	report(log_n == 1 && log_vec[0] == VEC_EDGE, "delivered once (%u interrupts)", log_n);
	intr_window();
	report(log_n == 1, "a line held high sends nothing more");
	irqtest_line(PIN_EDGE, 0);
	intr_window();
	report(log_n == 1, "the falling edge sends nothing");
	irqtest_line(PIN_EDGE, 1);
	intr_window();
	report(log_n == 2 && log_vec[1] == VEC_EDGE, "the next rising edge sends again (%u)", log_n);
	irqtest_line(PIN_EDGE, 0);
	delivs |= (rte_get(PIN_EDGE) & RTE_DELIVS) != 0;
	report(!delivs, "delivery status reads idle (messages leave at once)");
	report(!remote_irr(PIN_EDGE), "an edge entry never sets remote IRR");

	/* Two edges while IF = 0 collapse into the one IRR bit (SDM 10.8.4). */
	reset_log();
	irqtest_line(PIN_EDGE, 1);
	irqtest_line(PIN_EDGE, 0);
	irqtest_line(PIN_EDGE, 1);
	irqtest_line(PIN_EDGE, 0);
	intr_window();
	report(log_n == 1, "two edges before acceptance: one interrupt (%u)", log_n);
	rte_set(PIN_EDGE, RTE_MASKED);
}

/* The interrupt is recognised at the first block boundary after the OUT:
 * the handler's frame holds the jump target right after it.  The TSC
 * from just before the OUT to the handler's RDTSC covers, by the
 * profile's costs, the OUT (the irqtest device adds no time), the jump,
 * the delivery through the IDT, the handler's RDTSC and the runtime's
 * way to it: the stub's 17 pushes, its call, exc_dispatch's lookup and
 * call, on_irq's prologue (STUB_ALLOWANCE covers about 40 such
 * instructions). */
#define STUB_ALLOWANCE 100

static void test_latency(void)
{
	struct guest_costs c = guest_load_costs();
	uint64_t lo, hi, at_out, at_boundary, t0, bound;

	reset_log();
	rte_set(PIN_EDGE, edge_rte(VEC_EDGE, bsp_id));
	asm volatile("sti; nop\n\t"
		     "jmp 2f\n"
		     "2: rdtsc\n\t"
		     "mov %%rax, %[lo]\n\t"
		     "mov %%rdx, %[hi]\n\t"
		     "mov %[port], %%edx\n\t"
		     "mov $1, %%al\n\t"
		     "3: outb %%al, %%dx\n\t"
		     "jmp 1f\n"
		     "1: nop\n\t"
		     "cli\n\t"
		     "lea 3b(%%rip), %[o]\n\t"
		     "lea 1b(%%rip), %[b]\n\t"
		     : [lo] "=&r"(lo), [hi] "=&r"(hi), [o] "=&r"(at_out), [b] "=&r"(at_boundary)
		     : [port] "i"(IRQTEST_PORT + PIN_EDGE)
		     : "rax", "rdx", "memory");
	irqtest_line(PIN_EDGE, 0);
	rte_set(PIN_EDGE, RTE_MASKED);
	t0 = hi << 32 | (uint32_t)lo;
	if (!report(log_n == 1, "the raised line interrupted the window (%u)", log_n))
		return;
	report(log_rip[0] > at_out && log_rip[0] <= at_boundary,
	       "taken at RIP 0x%lx: after the OUT at 0x%lx, by the boundary at 0x%lx", (unsigned long)log_rip[0],
	       (unsigned long)at_out, (unsigned long)at_boundary);
	if (!c.valid) {
		report_skip("no opt/hvsim/costs: the latency bound is not known");
		return;
	}
	bound = c.cost[COST_IO] + c.cost[COST_BRANCH] + c.cost[COST_INT] + c.cost[COST_TSC] + STUB_ALLOWANCE;
	report(log_tsc[0] - t0 >= c.cost[COST_IO] + c.cost[COST_INT] && log_tsc[0] - t0 <= bound,
	       "OUT to handler: %lu TSC cycles (at least OUT + delivery = %u, at most %lu)",
	       (unsigned long)(log_tsc[0] - t0), c.cost[COST_IO] + c.cost[COST_INT], (unsigned long)bound);
}

/* RDTSC, then raise `pin` with an OUT that ends its block; returns the
 * TSC. */
static uint64_t raise_line_timed(unsigned pin)
{
	uint32_t lo, hi;

	asm volatile("rdtsc\n\t"
		     "mov %%eax, %[lo]\n\t"
		     "mov %%edx, %[hi]\n\t"
		     "mov %[port], %%edx\n\t"
		     "mov $1, %%al\n\t"
		     "outb %%al, %%dx\n\t"
		     "jmp 1f\n"
		     "1:\n\t"
		     : [lo] "=&r"(lo), [hi] "=&r"(hi)
		     : [port] "r"(IRQTEST_PORT + pin)
		     : "rax", "rdx", "memory");
	return (uint64_t)hi << 32 | lo;
}

/* Logical destinations (SDM Vol. 3A 10.6.2.2): flat (DFR 0xF...) matches
 * any common bit of LDR[31:24]; cluster (DFR 0x0...) matches the cluster
 * in bits 7:4 and any common member bit in 3:0.  Returns how many
 * interrupts a rising edge produced. */
static unsigned logical_edge(uint8_t dest)
{
	reset_log();
	rte_set(PIN_EDGE, RTE_LOGICAL | edge_rte(VEC_EDGE, dest));
	irqtest_line(PIN_EDGE, 1);
	intr_window();
	irqtest_line(PIN_EDGE, 0);
	rte_set(PIN_EDGE, RTE_MASKED);
	return log_n;
}

static void test_edge_logical(void)
{
	apic_w(R_DFR, 0xFFFFFFFF);
	apic_w(R_LDR, 0x01000000);
	report(logical_edge(0x01) == 1, "flat: destination 0x01 reaches LDR 0x01");
	report(logical_edge(0x03) == 1, "flat: destination 0x03 reaches it (any common bit)");
	report(logical_edge(0x02) == 0, "flat: destination 0x02 reaches nobody");
	report(logical_edge(0xFF) == 1, "flat: broadcast 0xFF");
	apic_w(R_DFR, 0x0FFFFFFF);
	apic_w(R_LDR, 0x21000000);
	report(logical_edge(0x21) == 1, "cluster: destination 0x21 reaches cluster 2 member 0");
	report(logical_edge(0x23) == 1, "cluster: destination 0x23 reaches it");
	report(logical_edge(0x11) == 0, "cluster: cluster 1 does not");
	report(logical_edge(0x22) == 0, "cluster: member 1 of cluster 2 does not");
	apic_w(R_DFR, 0xFFFFFFFF);
	apic_w(R_LDR, 0x01000000);
}

/* Lowest priority with one candidate: it accepts whatever its TPR, and
 * the TPR then holds the interrupt in the IRR (SDM 10.6.2.4, 10.8.3). */
static void test_edge_lowest(void)
{
	reset_log();
	apic_w(R_TPR, 0x70);
	rte_set(PIN_EDGE, RTE_DM_LOWEST | RTE_LOGICAL | edge_rte(VEC_EDGE, 0xFF));
	irqtest_line(PIN_EDGE, 1);
	report(apic_bit(R_IRR, VEC_EDGE), "lowest priority, logical 0xFF: accepted despite TPR 0x70");
	intr_window();
	report(log_n == 0, "held by the TPR (class 5 <= 7)");
	apic_w(R_TPR, 0);
	intr_window();
	report(log_n == 1 && log_vec[0] == VEC_EDGE, "delivered once the TPR drops");
	irqtest_line(PIN_EDGE, 0);
	rte_set(PIN_EDGE, RTE_MASKED);
}

/* Datasheet 3.2.4 bit 16: a masked pin's interrupts are not delivered nor
 * held pending.  Unmasking with the input high sends nothing either: the
 * edge is gone (sim/apic/ioapic.c, "never creates an edge"). */
static void test_edge_masked(void)
{
	reset_log();
	rte_set(PIN_EDGE, RTE_MASKED | edge_rte(VEC_EDGE, bsp_id));
	irqtest_line(PIN_EDGE, 1);
	intr_window();
	report(log_n == 0 && !apic_bit(R_IRR, VEC_EDGE), "an edge on a masked pin sends nothing");
	rte_set(PIN_EDGE, edge_rte(VEC_EDGE, bsp_id));
	intr_window();
	report(log_n == 0, "unmasking with the input high sends nothing (the edge was dropped)");
	irqtest_line(PIN_EDGE, 0);
	irqtest_line(PIN_EDGE, 1);
	intr_window();
	report(log_n == 1, "the next rising edge after the unmask is delivered");
	irqtest_line(PIN_EDGE, 0);
	rte_set(PIN_EDGE, RTE_MASKED);
}

/* ---- level-triggered pins ---- */

static uint64_t level_rte(unsigned vec)
{
	return RTE_LEVEL | RTE_DEST(bsp_id) | vec;
}

/* Remote IRR is set when the message is sent and cleared by an EOI
 * message for its vector (datasheet 3.2.4 bit 14): while it is set the
 * pin sends nothing; after the EOI a still-asserted input sends again. */
static void test_level_broadcast(void)
{
	reset_log();
	handler_eoi = false;
	rte_set(PIN_LEVEL, level_rte(VEC_LEVEL));
	report(!remote_irr(PIN_LEVEL) && !apic_bit(R_IRR, VEC_LEVEL), "idle: remote IRR clear, nothing pending");
	irqtest_line(PIN_LEVEL, 1);
	report(remote_irr(PIN_LEVEL), "assertion sets remote IRR");
	report(apic_bit(R_IRR, VEC_LEVEL) && apic_bit(R_TMR, VEC_LEVEL), "vector 0x%x pending with TMR set (level)",
	       VEC_LEVEL);
	intr_window();
	report(log_n == 1 && log_vec[0] == VEC_LEVEL, "delivered once (%u)", log_n);
	irqtest_line(PIN_LEVEL, 0);
	irqtest_line(PIN_LEVEL, 1);
	report(!apic_bit(R_IRR, VEC_LEVEL), "a new assertion while remote IRR is set sends nothing");
	apic_w(R_EOI, 0);
	report(remote_irr(PIN_LEVEL) && apic_bit(R_IRR, VEC_LEVEL),
	       "LAPIC EOI with the line high: broadcast clears remote IRR, the pin sends again");
	intr_window();
	report(log_n == 2, "second delivery (%u)", log_n);
	irqtest_line(PIN_LEVEL, 0);
	report(remote_irr(PIN_LEVEL), "lowering the line leaves remote IRR until the EOI");
	apic_w(R_EOI, 0);
	report(!remote_irr(PIN_LEVEL) && !apic_bit(R_IRR, VEC_LEVEL), "EOI with the line low: idle again");
	intr_window();
	report(log_n == 2, "nothing more delivered");
	handler_eoi = true;
	rte_set(PIN_LEVEL, RTE_MASKED);
}

/* A masked level pin whose input is asserted sends when it is unmasked:
 * masking holds a level off, it does not drop it (sim/apic/ioapic.c). */
static void test_level_masked(void)
{
	reset_log();
	handler_eoi = false;
	rte_set(PIN_LEVEL, RTE_MASKED | level_rte(VEC_LEVEL));
	irqtest_line(PIN_LEVEL, 1);
	report(!remote_irr(PIN_LEVEL) && !apic_bit(R_IRR, VEC_LEVEL), "masked level pin asserted: nothing sent");
	rte_set(PIN_LEVEL, level_rte(VEC_LEVEL));
	report(remote_irr(PIN_LEVEL) && apic_bit(R_IRR, VEC_LEVEL), "unmasked: sent, remote IRR set");
	intr_window();
	irqtest_line(PIN_LEVEL, 0);
	apic_w(R_EOI, 0);
	report(log_n == 1 && !remote_irr(PIN_LEVEL), "delivered once, idle after the EOI (%u)", log_n);
	handler_eoi = true;
	rte_set(PIN_LEVEL, RTE_MASKED);
}

/* A software-disabled LAPIC takes no fixed interrupt (SDM Vol. 3A
 * 10.4.7.2), but the IO-APIC has sent its level message and remote IRR
 * stays set.  Switching the entry to edge and back clears it
 * (sim/apic/ioapic.c; Linux recovers a stuck pin this way), and the
 * still-asserted level then sends again. */
static void test_level_lost(void)
{
	bool stuck, nothing, cleared, resent;

	reset_log();
	handler_eoi = false;
	apic_w(R_SVR, 0xFF);	/* software disabled */
	rte_set(PIN_LEVEL, level_rte(VEC_LEVEL));
	irqtest_line(PIN_LEVEL, 1);
	stuck = remote_irr(PIN_LEVEL);
	nothing = !apic_bit(R_IRR, VEC_LEVEL);
	apic_w(R_SVR, SVR_ENABLE | 0xFF);
	rte_set(PIN_LEVEL, RTE_MASKED | edge_rte(VEC_LEVEL, bsp_id));
	cleared = !remote_irr(PIN_LEVEL);
	rte_set(PIN_LEVEL, level_rte(VEC_LEVEL));
	resent = remote_irr(PIN_LEVEL) && apic_bit(R_IRR, VEC_LEVEL);
	intr_window();
	irqtest_line(PIN_LEVEL, 0);
	apic_w(R_EOI, 0);
	report(stuck && nothing, "software-disabled LAPIC: the message is lost, remote IRR stays set");
	report(cleared, "switching the entry to edge clears remote IRR");
	report(resent, "back to level with the line high: sent again");
	report(log_n == 1 && !remote_irr(PIN_LEVEL), "delivered once, idle after the EOI (%u)", log_n);
	handler_eoi = true;
	rte_set(PIN_LEVEL, RTE_MASKED);
}

/* SVR bit 12 suppresses the LAPIC's EOI broadcast (SDM Vol. 3A 10.8.5);
 * software then EOIs the IO-APIC itself through its EOI register. */
static void test_level_directed(void)
{
	if (!(apic_r(R_VER) & VER_EOI_SUPPRESS)) {
		report_skip("the LAPIC does not offer EOI-broadcast suppression");
		return;
	}
	reset_log();
	handler_eoi = false;
	apic_w(R_SVR, SVR_EOI_SUPPRESS | SVR_ENABLE | 0xFF);
	rte_set(PIN_LEVEL, level_rte(VEC_LEVEL));
	irqtest_line(PIN_LEVEL, 1);
	intr_window();
	report(log_n == 1, "level pin delivered with broadcast suppressed");
	apic_w(R_EOI, 0);
	report(!apic_bit(R_ISR, VEC_LEVEL) && remote_irr(PIN_LEVEL),
	       "LAPIC EOI retires the ISR bit but remote IRR stays set");
	intr_window();
	report(log_n == 1 && !apic_bit(R_IRR, VEC_LEVEL), "no re-delivery without the IO-APIC EOI");
	ioapic_eoir(VEC_LEVEL + 1);
	report(remote_irr(PIN_LEVEL), "IO-APIC EOI of another vector: remote IRR stays");
	ioapic_eoir(VEC_LEVEL);
	report(remote_irr(PIN_LEVEL) && apic_bit(R_IRR, VEC_LEVEL),
	       "IO-APIC EOI with the line high: remote IRR cleared and the pin sends again");
	intr_window();
	report(log_n == 2, "second delivery (%u)", log_n);
	irqtest_line(PIN_LEVEL, 0);
	apic_w(R_EOI, 0);
	report(remote_irr(PIN_LEVEL), "line low, LAPIC EOI: remote IRR still set");
	ioapic_eoir(VEC_LEVEL);
	report(!remote_irr(PIN_LEVEL) && !apic_bit(R_IRR, VEC_LEVEL), "IO-APIC EOI with the line low: idle");
	apic_w(R_SVR, SVR_ENABLE | 0xFF);
	handler_eoi = true;
	rte_set(PIN_LEVEL, RTE_MASKED);
}

/* ---- polarity (datasheet 3.2.4 bit 13) ---- */

static void test_active_low(void)
{
	reset_log();
	/* Edge, active low: the input idles high; a falling edge is the
	 * assertion. */
	irqtest_line(PIN_LOW_EDGE, 1);
	rte_set(PIN_LOW_EDGE, RTE_ACTIVE_LOW | edge_rte(VEC_EDGE, bsp_id));
	intr_window();
	report(log_n == 0, "active-low edge pin idling high: nothing");
	irqtest_line(PIN_LOW_EDGE, 0);
	intr_window();
	report(log_n == 1 && log_vec[0] == VEC_EDGE, "falling input: delivered (%u)", log_n);
	irqtest_line(PIN_LOW_EDGE, 1);
	intr_window();
	report(log_n == 1, "rising input: nothing");
	rte_set(PIN_LOW_EDGE, RTE_MASKED);

	/* Level, active low. */
	reset_log();
	handler_eoi = false;
	irqtest_line(PIN_LOW_LEVEL, 1);
	rte_set(PIN_LOW_LEVEL, RTE_ACTIVE_LOW | level_rte(VEC_LEVEL));
	report(!remote_irr(PIN_LOW_LEVEL) && !apic_bit(R_IRR, VEC_LEVEL), "active-low level pin held high: idle");
	irqtest_line(PIN_LOW_LEVEL, 0);
	report(remote_irr(PIN_LOW_LEVEL), "input low: asserted, remote IRR set");
	intr_window();
	report(log_n == 1 && log_vec[0] == VEC_LEVEL, "delivered (%u)", log_n);
	irqtest_line(PIN_LOW_LEVEL, 1);
	apic_w(R_EOI, 0);
	report(!remote_irr(PIN_LOW_LEVEL) && !apic_bit(R_IRR, VEC_LEVEL), "input high then EOI: idle");
	handler_eoi = true;
	rte_set(PIN_LOW_LEVEL, RTE_MASKED);
}

/* ---- an AP as destination (--lps 2 or more) ---- */

static void test_ap(void)
{
	unsigned n = fwcfg_present() ? fwcfg_read_u16(FW_CFG_NB_CPUS) : 1;
	struct guest_costs c = guest_load_costs();
	struct ap_counter *d;
	uint64_t t0, bound;
	bool ok;

	if (n < 2) {
		report_skip("delivery to an AP: run with --lps 2");
		return;
	}
	/* The AP's handler lowers PIN_AP, so a level pin is serviced. */
	d = ap_start_counter(1, VEC_AP, IRQTEST_PORT + PIN_AP);
	if (!report(d != NULL, "AP 1 started"))
		return;

	reset_log();
	rte_set(PIN_AP, edge_rte(VEC_AP, 1));
	t0 = raise_line_timed(PIN_AP);
	irqtest_line(PIN_AP, 0);
	ok = wait_for_u32(&d->irqs, 1, 5000000);
	report(ok, "physical destination 1: the AP took it (%u)", d->irqs);
	/* The halted AP wakes at the sender's time (sim/systemc): the OUT's
	 * own time, as RDTSC would read it there; its handler's RDTSC
	 * follows the delivery and three pushes. */
	if (c.valid) {
		bound = c.cost[COST_TSC] + c.cost[COST_IO] + c.cost[COST_BRANCH] + c.cost[COST_INT] + STUB_ALLOWANCE;
		report(d->tsc - t0 <= bound, "BSP's OUT to the AP's handler: %lu TSC cycles (at most %lu)",
		       (unsigned long)(d->tsc - t0), (unsigned long)bound);
	}
	report(log_n == 0 && !apic_bit(R_IRR, VEC_AP), "the BSP did not");

	/* Lowest priority between the BSP at TPR 0xF0 and the AP at 0. */
	apic_w(R_TPR, 0xF0);
	rte_set(PIN_AP, RTE_DM_LOWEST | RTE_LOGICAL | edge_rte(VEC_AP, 0xFF));
	irqtest_line(PIN_AP, 1);
	irqtest_line(PIN_AP, 0);
	ok = wait_for_u32(&d->irqs, 2, 5000000);
	report(ok, "lowest priority: the AP (PPR 0) took it (%u)", d->irqs);
	report(!apic_bit(R_IRR, VEC_AP), "the BSP (TPR 0xF0) did not");
	apic_w(R_TPR, 0);

	/* Level: the AP's handler lowers the line and EOIs through its
	 * x2APIC EOI MSR; the broadcast clears remote IRR. */
	rte_set(PIN_AP, RTE_LEVEL | edge_rte(VEC_AP, 1));
	irqtest_line(PIN_AP, 1);
	ok = wait_for_u32(&d->irqs, 3, 5000000);
	report(ok, "level pin to the AP: taken (%u)", d->irqs);
	spin_tsc(100000);
	report(d->irqs == 3 && !remote_irr(PIN_AP) && inb(IRQTEST_PORT + PIN_AP) == 0,
	       "its x2APIC EOI cleared remote IRR: once, line low, idle (%u)", d->irqs);
	rte_set(PIN_AP, RTE_MASKED);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	(void)magic;
	(void)info;
	bsp_id = apic_r(R_ID) >> 24;
	irq_set_handler(VEC_EDGE, on_irq);
	irq_set_handler(VEC_LEVEL, on_irq);
	irq_set_handler(VEC_AP, on_irq);
	apic_w(R_SVR, SVR_ENABLE | 0xFF);
	test_registers();
	test_rte_registers();
	test_edge_physical();
	test_latency();
	test_edge_logical();
	test_edge_lowest();
	test_edge_masked();
	test_level_broadcast();
	test_level_masked();
	test_level_lost();
	test_level_directed();
	test_active_low();
	test_ap();
}
