/* QEMU's educational PCI device "edu", 1234:11e8 (register map from QEMU
 * docs/specs/edu.rst): a function on bus 0 whose BAR0 is 1 MiB of memory
 * space, here so that a guest driver has a device that raises INTx and
 * MSI interrupts on demand, and the platform's MSI path is exercised and
 * measured (stats.json `interrupts` `msi`).
 *
 * BAR0 registers, dword accesses only (anything else reads all ones and
 * is ignored, as are offsets with no register):
 *   0x00 R   identification 0x010000ed (version 1.0)
 *   0x04 RW  liveness: reads the bitwise inverse of what was last written
 *   0x08 RW  factorial: a write (ignored while one is computing) starts
 *            n! modulo 2^32, which replaces the value EDU_FACT_PS of
 *            simulated time later
 *   0x20 RW  status: bit 0 computing (read-only), bit 7 raise interrupt
 *            0x1 when a factorial is done
 *   0x24 R   interrupt status
 *   0x60 W   raise: ORs the value into the interrupt status
 *   0x64 W   acknowledge: clears the value's bits from it
 *   0x80-0x98 (DMA) are not modelled: they read 0 and ignore writes.
 *
 * Interrupts: with MSI disabled, INTA# is asserted while the interrupt
 * status is non-zero (a level the guest lowers by acknowledging), unless
 * COMMAND.INTX_DISABLE; STATUS.INTERRUPT shows the same level.  With MSI
 * enabled INTA# is never asserted (PCI 3.0 6.8) and every raise with a
 * non-zero status sends the message (pci_msi_notify: masking, pending and
 * bus mastering are the bus's business).  Both are timed at the raise:
 * the MMIO write, or the factorial's completion event. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"

#define EDU_REVISION 0x10
#define EDU_CLASS 0xFF0000	/* base class FFh: fits no defined class (PCI 3.0 Appendix D) */

struct edu {
	struct pci_function f;	/* first: the config callback's opaque */
	struct memmap *mem;
	struct pci *pci;
	const struct sim_clock *clk;
	struct irq_line intx;
	size_t region;		/* BAR0's memmap region */
	int intx_level;		/* what INTA# is driven to */
	uint32_t liveness;	/* as read: the inverse of the last write */
	uint32_t fact;
	uint32_t status;
	uint32_t irq_status;
	uint64_t fact_event;	/* the pending completion, 0 = none */
};

static uint64_t now(const struct edu *e)
{
	return e->clk ? sim_now(e->clk) : 0;
}

/* n! modulo 2^32.  Any 34 consecutive factors hold 2^32 (34! does), so
 * the product is 0 by then and the loop ends early for large n. */
static uint32_t factorial(uint32_t n)
{
	uint32_t r = 1;

	for (uint32_t i = n; i > 0 && r; i--)
		r *= i;
	return r;
}

static void update_intx(struct edu *e)
{
	int pending = e->irq_status && !pci_msi_enabled(&e->f);
	int level = pending && !(pci_cfg16(&e->f, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
	uint16_t st = pci_cfg16(&e->f, PCI_STATUS);

	st = pending ? st | PCI_STATUS_INTERRUPT : st & ~PCI_STATUS_INTERRUPT;
	e->f.cfg[PCI_STATUS] = (uint8_t)st;
	if (level != e->intx_level) {
		e->intx_level = level;
		irq_set(&e->intx, level);
	}
}

static void raise_irq(struct edu *e, uint32_t v)
{
	e->irq_status |= v;
	if (e->irq_status && pci_msi_enabled(&e->f))
		pci_msi_notify(&e->f, now(e));
	update_intx(e);
}

static void ack_irq(struct edu *e, uint32_t v)
{
	e->irq_status &= ~v;
	update_intx(e);
}

static void fact_done(void *opaque)
{
	struct edu *e = opaque;

	e->fact_event = 0;
	e->fact = factorial(e->fact);
	e->status &= ~EDU_STATUS_COMPUTING;
	if (e->status & EDU_STATUS_IRQFACT)
		raise_irq(e, EDU_IRQ_FACT);
}

static uint64_t edu_read(void *opaque, uint64_t off, unsigned size)
{
	struct edu *e = opaque;

	if (size != 4)
		return ~0ull;
	switch (off) {
	case EDU_REG_ID:
		return EDU_ID;
	case EDU_REG_LIVENESS:
		return e->liveness;
	case EDU_REG_FACT:
		return e->fact;
	case EDU_REG_STATUS:
		return e->status;
	case EDU_REG_IRQ_STATUS:
		return e->irq_status;
	case 0x80: case 0x84: case 0x88: case 0x8C: case 0x90: case 0x94: case 0x98: case 0x9C:
		return 0;	/* the DMA engine, not modelled */
	default:
		return ~0ull;
	}
}

static void edu_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
	struct edu *e = opaque;

	if (size != 4)
		return;
	switch (off) {
	case EDU_REG_LIVENESS:
		e->liveness = ~(uint32_t)v;
		break;
	case EDU_REG_FACT:
		if (e->status & EDU_STATUS_COMPUTING)
			break;
		e->fact = (uint32_t)v;
		e->status |= EDU_STATUS_COMPUTING;
		if (e->clk)
			e->fact_event = sim_schedule(e->clk, now(e) + EDU_FACT_PS, fact_done, e);
		else
			fact_done(e);
		break;
	case EDU_REG_STATUS:
		e->status = (e->status & ~EDU_STATUS_IRQFACT) | ((uint32_t)v & EDU_STATUS_IRQFACT);
		break;
	case EDU_REG_IRQ_RAISE:
		raise_irq(e, (uint32_t)v);
		break;
	case EDU_REG_IRQ_ACK:
		ack_irq(e, (uint32_t)v);
		break;
	default:
		break;	/* read-only, DMA (not modelled) or nothing */
	}
}

/* COMMAND, BAR0 or the MSI capability may have changed: where BAR0
 * decodes, and whether INTA# or MSI carries the interrupt. */
static void edu_config_written(void *opaque, unsigned reg, unsigned size)
{
	struct edu *e = opaque;
	uint64_t bar = pci_bar_decoded(&e->f, 0);

	(void)reg;
	(void)size;
	/* A BAR placed over RAM or another window decodes nothing
	 * (memmap_move_mmio leaves it absent). */
	memmap_move_mmio(e->mem, e->region, bar == PCI_BAR_NONE ? 0 : bar, bar != PCI_BAR_NONE);
	update_intx(e);
}

struct edu *edu_new(const struct edu_config *c)
{
	struct edu *e;
	struct memmap_region r = {
		.base = c->bar0, .size = EDU_BAR0_SIZE, .read = edu_read, .write = edu_write,
		.name = "edu", .absent = 1,
	};
	int ret;

	if (!c->mem || !c->pci) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->mem = c->mem;
	e->pci = c->pci;
	e->clk = c->clk;
	e->intx = c->intx;
	pci_config_init(&e->f, EDU_VENDOR, EDU_DEVICE, EDU_REVISION, EDU_CLASS);
	pci_bar_mem32(&e->f, 0, EDU_BAR0_SIZE, c->bar0);
	/* Memory decode, bus mastering (for MSI) and INTx disable are the
	 * command bits it implements (PCI 3.0 6.2.2). */
	e->f.wmask[PCI_COMMAND] = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	e->f.wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
	e->f.cfg[PCI_INTERRUPT_LINE] = c->intx_line;
	e->f.wmask[PCI_INTERRUPT_LINE] = 0xFF;
	e->f.cfg[PCI_INTERRUPT_PIN] = 1;
	pci_msi_init(&e->f, EDU_MSI_CAP);
	e->f.written = edu_config_written;
	e->f.opaque = e;
	r.opaque = e;
	ret = pci_register(c->pci, c->dev, 0, &e->f);
	if (ret >= 0) {
		ret = memmap_add_mmio(c->mem, &r);
		if (ret < 0)
			pci_unregister(c->pci, &e->f);
	}
	if (ret < 0) {
		free(e);
		errno = -ret;
		return NULL;
	}
	e->region = memmap_mmio_count(c->mem) - 1;
	return e;
}

void edu_free(struct edu *e)
{
	if (!e)
		return;
	if (e->fact_event && e->clk)
		sim_cancel(e->clk, e->fact_event);
	pci_unregister(e->pci, &e->f);
	memmap_move_mmio(e->mem, e->region, 0, 0);
	free(e);
}
