/* Interrupt controllers for guest test kernels (tests/guest/ioapic.c,
 * pic_pit.c): the xAPIC page (SDM Vol. 3A Table 10-1), the IO-APIC's
 * indirect registers (82093AA datasheet 3.0-3.2), the interrupt-line test
 * device (docs/platform.md) and the TSC rate from fw_cfg. */
#ifndef GUEST_INTC_H
#define GUEST_INTC_H

#include <hv/costs.h>

#include "guest.h"

#define APIC_BASE 0xFEE00000ul

/* xAPIC register offsets (SDM Vol. 3A Table 10-1). */
enum {
	R_ID = 0x20, R_VER = 0x30, R_TPR = 0x80, R_PPR = 0xA0, R_EOI = 0xB0, R_LDR = 0xD0,
	R_DFR = 0xE0, R_SVR = 0xF0, R_ISR = 0x100, R_TMR = 0x180, R_IRR = 0x200,
	R_LVT_LINT0 = 0x350,
};

#define SVR_ENABLE (1u << 8)
#define SVR_EOI_SUPPRESS (1u << 12)	/* SDM Vol. 3A 10.8.5 */
#define VER_EOI_SUPPRESS (1u << 24)	/* the version register says it is there */
#define LVT_MASKED (1u << 16)
#define LVT_DM_EXTINT (7u << 8)

static inline uint32_t apic_r(unsigned off)
{
	return *(volatile uint32_t *)(APIC_BASE + off);
}

static inline void apic_w(unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(APIC_BASE + off) = v;
}

/* Bit `vec` of the 256-bit register starting at `off` (ISR, TMR, IRR). */
static inline bool apic_bit(unsigned off, unsigned vec)
{
	return (apic_r(off + (vec / 32) * 0x10) >> (vec % 32)) & 1;
}

/* ---- IO-APIC ---- */

#define IOAPIC_BASE 0xFEC00000ul
#define IOAPIC_EOIR 0x40	/* version 0x20: write the vector */
#define IOAPIC_PINS 24
#define IOA_ID 0x00
#define IOA_VER 0x01
#define IOA_ARB 0x02
#define IOA_REDTBL(pin) (0x10 + 2 * (pin))

/* Redirection entry bits (82093AA datasheet 3.2.4). */
#define RTE_DM_LOWEST (1ull << 8)
#define RTE_DM_EXTINT (7ull << 8)
#define RTE_LOGICAL (1ull << 11)
#define RTE_DELIVS (1ull << 12)
#define RTE_ACTIVE_LOW (1ull << 13)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
#define RTE_DEST(d) ((uint64_t)(d) << 56)

static inline uint32_t ioapic_r(uint8_t reg)
{
	*(volatile uint32_t *)IOAPIC_BASE = reg;
	return *(volatile uint32_t *)(IOAPIC_BASE + 0x10);
}

static inline void ioapic_w(uint8_t reg, uint32_t v)
{
	*(volatile uint32_t *)IOAPIC_BASE = reg;
	*(volatile uint32_t *)(IOAPIC_BASE + 0x10) = v;
}

static inline uint64_t rte_get(unsigned pin)
{
	return ioapic_r((uint8_t)IOA_REDTBL(pin)) | (uint64_t)ioapic_r((uint8_t)(IOA_REDTBL(pin) + 1)) << 32;
}

/* The high half (destination) first, so an entry is never unmasked with
 * a stale destination. */
static inline void rte_set(unsigned pin, uint64_t v)
{
	ioapic_w((uint8_t)(IOA_REDTBL(pin) + 1), (uint32_t)(v >> 32));
	ioapic_w((uint8_t)IOA_REDTBL(pin), (uint32_t)v);
}

static inline void ioapic_eoir(uint8_t vector)
{
	*(volatile uint32_t *)(IOAPIC_BASE + IOAPIC_EOIR) = vector;
}

/* ---- the interrupt-line test device: IO-APIC input n ---- */

#define IRQTEST_PORT 0x2000

static inline void irqtest_line(unsigned pin, int level)
{
	outb((uint16_t)(IRQTEST_PORT + pin), (uint8_t)level);
}

/* ---- opening an interrupt window ---- */

/* hvsim recognises interrupts between translation blocks (a jump ends
 * one): STI's one-instruction shadow, then a boundary, then CLI. */
static inline void intr_window(void)
{
	asm volatile("sti; nop\n\tjmp 1f\n1:\n\tnop; cli" ::: "memory");
}

/* fw_cfg file opt/hvsim/costs (docs/platform.md): the instruction-class
 * costs in enum cost_class order and the LP clock. */
struct guest_costs {
	bool valid;		/* the file was there and well formed */
	uint32_t cost[COST_NCLASSES];
	uint64_t tsc_khz;
};

static inline struct guest_costs guest_load_costs(void)
{
	struct guest_costs c = { 0 };
	uint8_t buf[4 + 4 * 64 + 8];
	uint16_t key;
	uint32_t size, n;

	if (!fwcfg_present() || fwcfg_find_file(HV_FWCFG_COSTS_FILE, &key, &size) || size > sizeof(buf) ||
	    size < 4 + 8)
		return c;
	fwcfg_read(key, buf, size);
	memcpy(&n, buf, 4);
	if (n < COST_NCLASSES || 4 + 4 * (uint64_t)n + 8 != size)
		return c;
	memcpy(c.cost, buf + 4, sizeof(c.cost));
	memcpy(&c.tsc_khz, buf + 4 + 4 * n, 8);
	c.valid = c.tsc_khz != 0;
	return c;
}

#endif
