/* IO-APIC: 24 input pins, each routed by a 64-bit redirection entry to a
 * message on the APIC bus (Intel 82093AA datasheet, section 3: register
 * set; section 2.4 and 3.2.4: delivery and the redirection table).  The
 * version register reads 0x20, the version of later IO-APICs (ICH family)
 * that adds the EOI register at base+0x40.
 *
 * Modelled as the datasheet describes it, with these choices where it is
 * silent or where a modern system-bus IO-APIC differs from the APIC-bus
 * 82093AA:
 * - Messages leave at once, so delivery status (bit 12) always reads 0,
 *   and remote IRR is set when a level message is sent, whether or not a
 *   LAPIC accepted it (there is no APIC-bus retry to wait for).
 * - Reserved bits of every register read 0 and ignore writes; register
 *   indices with no register behind them read 0.
 * - A redirection entry with a reserved delivery mode (3 or 6) sends
 *   nothing.
 * - SMI, NMI, INIT and ExtINT are edge-triggered whatever the trigger mode
 *   bit says (datasheet 3.2.4, delivery mode descriptions): they never
 *   set remote IRR.
 * - Reprogramming an entry (mask, polarity, trigger mode) never creates an
 *   edge; it can only release a level that is already asserted.
 * - Switching an entry to edge mode clears its remote IRR, as chipset
 *   IO-APICs do (operating systems use it to recover a stuck level pin).
 * - Accesses to IOREGSEL/IOWIN narrower than 32 bits reach the bytes they
 *   cover (a narrow write merges into the selected register); the
 *   datasheet asks for dword accesses only. */
#include <errno.h>
#include <stdlib.h>

#include "apic.h"
#include "memmap.h"

#define IOAPIC_MMIO_SIZE 0x1000
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN 0x10
#define IOAPIC_EOIR 0x40	/* version 0x20 IO-APICs */

/* Register indices (datasheet 3.2) */
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDTBL 0x10	/* entry n: 0x10 + 2n (low), 0x11 + 2n (high) */

#define IOAPIC_VERSION 0x00170020u	/* max redirection entry 0x17, version 0x20 */
#define IOAPIC_ID_MASK 0x0F000000u	/* bits 27:24 */

/* Redirection entry bits (datasheet 3.2.4) */
#define RTE_VECTOR 0xFFull
#define RTE_DM_SHIFT 8
#define RTE_DM_MASK (7ull << RTE_DM_SHIFT)
#define RTE_DESTMOD (1ull << 11)	/* 1 = logical */
#define RTE_DELIVS (1ull << 12)	/* read-only */
#define RTE_INTPOL (1ull << 13)	/* 1 = active low */
#define RTE_REMOTE_IRR (1ull << 14)	/* read-only */
#define RTE_TRIGGER (1ull << 15)	/* 1 = level */
#define RTE_MASK (1ull << 16)
#define RTE_DEST_SHIFT 56
#define RTE_WRITABLE (RTE_VECTOR | RTE_DM_MASK | RTE_DESTMOD | RTE_INTPOL | RTE_TRIGGER | RTE_MASK | \
		      (0xFFull << RTE_DEST_SHIFT))

struct ioapic {
	const struct sim_clock *clk;
	apic_send_fn *send;
	void *send_opaque;
	uint32_t id;		/* IOAPICID, bits 27:24 */
	uint32_t arb;		/* IOAPICARB, loaded with the ID when it is written */
	uint8_t regsel;		/* IOREGSEL bits 7:0 */
	uint32_t levels;	/* pin inputs as driven (before polarity) */
	uint64_t rte[IOAPIC_PINS];
	uint64_t assert_ps[IOAPIC_PINS];	/* when each pin last became active */
};

static unsigned rte_dm(uint64_t rte)
{
	return (unsigned)((rte & RTE_DM_MASK) >> RTE_DM_SHIFT);
}

/* Fixed and lowest-priority entries honour the trigger mode bit; the
 * other delivery modes are edge-only (datasheet 3.2.4). */
static int rte_level(uint64_t rte)
{
	unsigned dm = rte_dm(rte);

	return (rte & RTE_TRIGGER) && (dm == APIC_DM_FIXED || dm == APIC_DM_LOWEST);
}

static int pin_active(const struct ioapic *io, unsigned pin)
{
	int level = (io->levels >> pin) & 1;

	return (io->rte[pin] & RTE_INTPOL) ? !level : level;
}

/* Send pin's redirection as one message.  State is updated before the
 * callback runs, so a callback that re-enters the IO-APIC (an EOI from a
 * LAPIC that handles the message synchronously) sees it consistent. */
static void ioapic_deliver(struct ioapic *io, unsigned pin)
{
	uint64_t rte = io->rte[pin];
	unsigned dm = rte_dm(rte);
	struct apic_msg m = {
		.dest = (uint32_t)(rte >> RTE_DEST_SHIFT),
		.src = APIC_NO_SOURCE,
		.vector = (uint8_t)(rte & RTE_VECTOR),
		.dm = (uint8_t)dm,
		.logical = !!(rte & RTE_DESTMOD),
		.level = (uint8_t)rte_level(rte),
		.assert = 1,
		.shorthand = APIC_SH_NONE,
		.origin = {
			.assert_ps = io->assert_ps[pin],
			.route_ps = sim_now(io->clk),
			.kind = IRQ_SRC_PIN,
			.pin = (uint8_t)pin,
		},
	};

	switch (dm) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
	case APIC_DM_SMI:
	case APIC_DM_NMI:
	case APIC_DM_INIT:
	case APIC_DM_EXTINT:
		break;
	default:
		return;		/* reserved delivery mode: nothing is sent */
	}
	if (m.level)
		io->rte[pin] |= RTE_REMOTE_IRR;
	io->send(io->send_opaque, &m);
}

/* A level pin that is active, unmasked and not waiting for its EOI sends
 * (again). */
static void ioapic_service_level(struct ioapic *io, unsigned pin)
{
	uint64_t rte = io->rte[pin];

	if (rte_level(rte) && !(rte & (RTE_MASK | RTE_REMOTE_IRR)) && pin_active(io, pin))
		ioapic_deliver(io, pin);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	int was, now;

	if (!io || pin >= IOAPIC_PINS)
		return;
	was = pin_active(io, pin);
	if (level)
		io->levels |= 1u << pin;
	else
		io->levels &= ~(1u << pin);
	now = pin_active(io, pin);
	if (now && !was)
		io->assert_ps[pin] = sim_now(io->clk);

	if (rte_level(io->rte[pin])) {
		ioapic_service_level(io, pin);
		return;
	}
	/* Edge: one message per inactive-to-active transition.  An edge on a
	 * masked pin is ignored, not held pending (datasheet 3.2.4, bit 16). */
	if (now && !was && !(io->rte[pin] & RTE_MASK))
		ioapic_deliver(io, pin);
}

void ioapic_irq_set(void *io, unsigned pin, int level)
{
	ioapic_set_irq(io, pin, level);
}

/* An EOI message with a matching vector clears remote IRR (datasheet
 * 3.2.4, bit 14); a level still asserted is delivered again. */
void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	if (!io)
		return;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t rte = io->rte[pin];

		if (!(rte & RTE_REMOTE_IRR) || (rte & RTE_VECTOR) != vector)
			continue;
		io->rte[pin] &= ~RTE_REMOTE_IRR;
		ioapic_service_level(io, pin);
	}
}

void ioapic_eoi_cb(void *io, uint8_t vector)
{
	ioapic_eoi(io, vector);
}

static uint32_t ioapic_reg_read(const struct ioapic *io, uint8_t reg)
{
	switch (reg) {
	case IOAPIC_REG_ID:
		return io->id;
	case IOAPIC_REG_VER:
		return IOAPIC_VERSION;
	case IOAPIC_REG_ARB:
		return io->arb;
	default:
		if (reg >= IOAPIC_REG_REDTBL && reg < IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS) {
			uint64_t rte = io->rte[(reg - IOAPIC_REG_REDTBL) / 2];

			return (reg & 1) ? (uint32_t)(rte >> 32) : (uint32_t)rte;
		}
		return 0;
	}
}

static void ioapic_rte_write(struct ioapic *io, unsigned pin, int high, uint32_t v)
{
	uint64_t old = io->rte[pin];
	uint64_t val = high ? ((uint64_t)v << 32) | (old & 0xFFFFFFFFull)
			    : (old & 0xFFFFFFFF00000000ull) | v;
	uint64_t rte = (val & RTE_WRITABLE) | (old & RTE_REMOTE_IRR);

	if (!rte_level(rte))
		rte &= ~RTE_REMOTE_IRR;
	io->rte[pin] = rte;
	/* Unmasking (or making level) a pin whose level is asserted sends;
	 * edges are never synthesised by reprogramming. */
	ioapic_service_level(io, pin);
}

static void ioapic_reg_write(struct ioapic *io, uint8_t reg, uint32_t v)
{
	switch (reg) {
	case IOAPIC_REG_ID:
		/* The arbitration ID is loaded with the same value (3.2.1, 3.2.3). */
		io->id = v & IOAPIC_ID_MASK;
		io->arb = io->id;
		break;
	case IOAPIC_REG_VER:
	case IOAPIC_REG_ARB:
		break;		/* read-only */
	default:
		if (reg >= IOAPIC_REG_REDTBL && reg < IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS)
			ioapic_rte_write(io, (reg - IOAPIC_REG_REDTBL) / 2, reg & 1, v);
		break;
	}
}

static uint64_t ioapic_mmio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct ioapic *io = opaque;
	uint64_t v;

	if (offset < IOAPIC_IOREGSEL + 4)
		v = io->regsel;
	else if (offset >= IOAPIC_IOWIN && offset < IOAPIC_IOWIN + 4)
		v = ioapic_reg_read(io, io->regsel);
	else
		return 0;	/* the EOI register is write-only; the rest is unused */
	return v >> (8 * (offset & 3));
}

static void ioapic_mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct ioapic *io = opaque;
	unsigned shift = 8 * (offset & 3);
	uint64_t bytes = size >= 4 ? 0xFFFFFFFFull : (1ull << (8 * size)) - 1;
	uint32_t mask = (uint32_t)(bytes << shift), v = (uint32_t)(value << shift);

	if (offset < IOAPIC_IOREGSEL + 4) {
		io->regsel = (uint8_t)((io->regsel & ~mask) | (v & mask));
	} else if (offset >= IOAPIC_IOWIN && offset < IOAPIC_IOWIN + 4) {
		uint32_t cur = ioapic_reg_read(io, io->regsel);

		ioapic_reg_write(io, io->regsel, (cur & ~mask) | (v & mask));
	} else if (offset == IOAPIC_EOIR) {
		/* EOI register: bits 7:0 are the vector; same effect as an
		 * EOI message (ICH IO-APIC EOI register). */
		ioapic_eoi(io, (uint8_t)value);
	}
}

struct ioapic *ioapic_new(struct memmap *m, uint64_t base, uint8_t id, apic_send_fn *send, void *send_opaque,
			  const struct sim_clock *clk)
{
	struct ioapic *io;
	struct memmap_region r = {
		.base = base,
		.size = IOAPIC_MMIO_SIZE,
		.read = ioapic_mmio_read,
		.write = ioapic_mmio_write,
		.name = "ioapic",
	};
	int ret;

	if (!m || !send || !clk) {
		errno = EINVAL;
		return NULL;
	}
	io = calloc(1, sizeof(*io));
	if (!io)
		return NULL;
	io->clk = clk;
	io->send = send;
	io->send_opaque = send_opaque;
	/* As firmware leaves it: the ID programmed (the MADT declares it),
	 * every entry masked (datasheet 3.2.4: mask bit set after reset). */
	io->id = ((uint32_t)id << 24) & IOAPIC_ID_MASK;
	io->arb = io->id;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		io->rte[pin] = RTE_MASK;
	r.opaque = io;
	ret = memmap_add_mmio(m, &r);
	if (ret < 0) {
		free(io);
		errno = -ret;
		return NULL;
	}
	return io;
}

void ioapic_free(struct ioapic *io)
{
	free(io);
}
