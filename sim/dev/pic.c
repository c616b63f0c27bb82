/* The cascaded 8259A pair of the PC (Intel 8259A datasheet): master at
 * 0x20/0x21, slave at 0xA0/0xA1 on the master's IR2, and the
 * edge/level control registers (ELCR) at 0x4D0/0x4D1 of PIIX/ICH
 * chipsets.
 *
 * Choices where the datasheet leaves room, or where PC chipsets differ:
 * - Trigger mode comes from ELCR only; ICW1.LTIM is ignored, as on PIIX
 *   and ICH, whose ELCR replaces it.  ELCR bits of IRQ 0, 1, 2, 8 and 13
 *   are fixed at 0 (edge), as in those chipsets.
 * - An IR input must stay active until the INTA sequence ("Edge and level
 *   triggered modes": in both modes the IR input must remain high until
 *   after the first INTA).  A request that goes away earlier is dropped
 *   from IRR, and if nothing else is pending the INTA returns the default
 *   IR7 vector (spurious 7 or, on the slave, spurious 15 with the master's
 *   IR2 in service).
 * - INT, once raised, stays high until the INTA sequence (or a poll read,
 *   or ICW1) even if the request goes away or is masked meanwhile: the
 *   processor that saw INTR still runs the INTA cycles.  That is how a
 *   withdrawn request becomes the default IR7 at INTA, and why a slave's
 *   withdrawn request still reaches the master through IR2 (spurious 15).
 * - ICW1 clears IRR (the edge sense latches are reset), ISR and IMR.
 * - Before the first ICW1 the datasheet leaves the state undefined; this
 *   model starts with every input masked and vector base 0.
 * - ICW4.uPM = 0 (MCS-80/85 mode) is not modelled: INTA always returns an
 *   8086-style vector.  Buffered mode and the slave ID programmed by ICW3
 *   are stored but do not change the fixed PC wiring.
 * - The cascade input IR2 of the master cannot be driven from outside
 *   (pic_set_irq ignores IRQ 2; on a PC, the ISA IRQ2 line is IRQ 9). */
#include <errno.h>
#include <stdlib.h>

#include "dev.h"

#define PIC_NPORTS 2
#define PIC_CASCADE_IR 2
#define PIC_SPURIOUS_IR 7

#define ICW1_IC4 0x01
#define ICW1_SNGL 0x02
#define ICW1_INIT 0x10
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
#define OCW3_SEL 0x08	/* bits 4:3 = 01 select OCW3, 00 OCW2 */
#define OCW3_RIS 0x01
#define OCW3_RR 0x02
#define OCW3_P 0x04
#define OCW3_SMM 0x20
#define OCW3_ESMM 0x40

/* ELCR bits that are not programmable (PIIX3/ICH ELCR1/ELCR2). */
#define ELCR_MASTER_MASK 0xF8
#define ELCR_SLAVE_MASK 0xDE

enum pic_init { PIC_READY, PIC_ICW2, PIC_ICW3, PIC_ICW4 };

struct pic_chip {
	uint8_t irr, isr, imr;
	uint8_t lines;		/* input levels */
	uint8_t edge_armed;	/* edge mode: input was seen low since the last request */
	uint8_t elcr, elcr_mask;
	uint8_t base;		/* ICW2 bits 7:3 */
	uint8_t icw1, icw3, icw4;
	uint8_t init;		/* enum pic_init */
	uint8_t read_isr;	/* OCW3 RR/RIS: status port reads ISR */
	uint8_t poll;		/* OCW3 P: next read is the poll word */
	uint8_t special_mask;
	uint8_t rotate_aeoi;
	uint8_t lowest;		/* IR with the lowest priority (rotation) */
	uint8_t int_out;	/* INT pin, latched until INTA */
	struct pic *pic;
};

struct pic {
	struct pic_chip chip[2];	/* master, slave */
	pic_intr_fn *intr;
	void *opaque;
	int intr_level;
};

/* Priority of IR n: 0 is the highest; the IR after `lowest` ranks first. */
static unsigned prio(const struct pic_chip *c, unsigned ir)
{
	return (ir - c->lowest - 1) & 7;
}

/* The highest-priority IR set in bits, or -1. */
static int highest(const struct pic_chip *c, uint8_t bits)
{
	int best = -1;

	for (unsigned ir = 0; ir < 8; ir++)
		if ((bits >> ir) & 1 && (best < 0 || prio(c, ir) < prio(c, (unsigned)best)))
			best = (int)ir;
	return best;
}

/* The IR this chip would present now, or -1: the highest unmasked request
 * with a higher priority than everything in service (fully nested mode).
 * Special mask mode leaves masked ISR bits out; special fully nested mode
 * lets a slave's in-service cascade input be interrupted by the same
 * slave. */
static int pic_chip_pending(const struct pic_chip *c, int master)
{
	uint8_t isr = c->isr;
	int req = highest(c, c->irr & ~c->imr), svc;

	if (req < 0)
		return -1;
	if (c->special_mask)
		isr &= ~c->imr;
	if (master && (c->icw4 & ICW4_SFNM))
		isr &= ~c->icw3;
	svc = highest(c, isr);
	if (svc >= 0 && prio(c, (unsigned)svc) <= prio(c, (unsigned)req))
		return -1;
	return req;
}

static void pic_chip_line(struct pic_chip *c, unsigned ir, int level)
{
	uint8_t bit = 1u << ir;

	if (level) {
		if (c->elcr & bit)
			c->irr |= bit;
		else if (c->edge_armed & bit)
			c->irr |= bit;
		c->edge_armed &= ~bit;
		c->lines |= bit;
	} else {
		/* The request is withdrawn in both modes; a later rising edge
		 * can request again. */
		c->irr &= ~bit;
		c->edge_armed |= bit;
		c->lines &= ~bit;
	}
}

/* INT rises when the chip has a request to present; the slave's INT is
 * the master's IR2 input, the master's is INTR. */
static void pic_update(struct pic *p)
{
	struct pic_chip *m = &p->chip[0], *s = &p->chip[1];

	if (pic_chip_pending(s, 0) >= 0)
		s->int_out = 1;
	pic_chip_line(m, PIC_CASCADE_IR, s->int_out);
	if (pic_chip_pending(m, 1) >= 0)
		m->int_out = 1;
	if (m->int_out != p->intr_level) {
		p->intr_level = m->int_out;
		if (p->intr)
			p->intr(p->opaque, p->intr_level);
	}
}

/* An INTA sequence, poll or ICW1 ends the chip's INT pulse; a slave's
 * falling INT lets the master see the next rising edge on IR2. */
static void pic_int_reset(struct pic_chip *c)
{
	struct pic_chip *m = &c->pic->chip[0];

	c->int_out = 0;
	if (c != m)
		pic_chip_line(m, PIC_CASCADE_IR, 0);
}

/* Acknowledge ir: IRR to ISR (or nothing in auto-EOI mode, whose EOI
 * happens at the end of the INTA sequence, with rotation if selected). */
static void pic_chip_ack(struct pic_chip *c, unsigned ir)
{
	uint8_t bit = 1u << ir;

	c->irr &= ~bit;
	if (c->lines & bit && c->elcr & bit)
		c->irr |= bit;	/* level mode: IRR follows the input */
	if (c->icw4 & ICW4_AEOI) {
		if (c->rotate_aeoi)
			c->lowest = (uint8_t)ir;
	} else {
		c->isr |= bit;
	}
}

static int pic_is_cascade(const struct pic_chip *master, unsigned ir)
{
	return ir == PIC_CASCADE_IR && !(master->icw1 & ICW1_SNGL) && (master->icw3 & (1u << ir));
}

int pic_ack(struct pic *p)
{
	struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
	int ir = pic_chip_pending(m, 1), sir, vector;

	pic_int_reset(m);
	if (ir < 0) {
		vector = m->base | PIC_SPURIOUS_IR;	/* default IR7, ISR untouched */
	} else if (pic_is_cascade(m, (unsigned)ir)) {
		sir = pic_chip_pending(s, 0);
		pic_int_reset(s);
		pic_chip_ack(m, (unsigned)ir);
		if (sir < 0) {
			vector = s->base | PIC_SPURIOUS_IR;	/* the master's IR2 stays in service */
		} else {
			pic_chip_ack(s, (unsigned)sir);
			vector = s->base | sir;
		}
	} else {
		pic_chip_ack(m, (unsigned)ir);
		vector = m->base | ir;
	}
	pic_update(p);
	return vector;
}

int pic_intr_irq(const struct pic *p)
{
	int ir = pic_chip_pending(&p->chip[0], 1), sir;

	if (ir < 0 || !pic_is_cascade(&p->chip[0], (unsigned)ir))
		return ir;
	sir = pic_chip_pending(&p->chip[1], 0);
	return sir < 0 ? ir : 8 + sir;
}

void pic_set_irq(struct pic *p, unsigned irq, int level)
{
	if (!p || irq >= PIC_NIRQS || irq == PIC_CASCADE_IR)
		return;
	pic_chip_line(&p->chip[irq >> 3], irq & 7, !!level);
	pic_update(p);
}

void pic_irq_set(void *p, unsigned irq, int level)
{
	pic_set_irq(p, irq, level);
}

/* ICW1 (datasheet "Initialization command words"). */
static void pic_icw1(struct pic_chip *c, uint8_t v)
{
	c->icw1 = v;
	c->icw4 = 0;	/* without IC4 every ICW4 function is 0 */
	c->imr = 0;
	c->isr = 0;
	c->irr = c->lines & c->elcr;
	c->edge_armed = (uint8_t)~c->lines;	/* a held input must go low first */
	c->lowest = 7;
	c->special_mask = 0;
	c->read_isr = 0;
	c->poll = 0;
	c->rotate_aeoi = 0;
	c->init = PIC_ICW2;
	pic_int_reset(c);
}

/* OCW2: EOI forms and rotation (datasheet "Operation command words",
 * OCW2 R/SL/EOI). */
static void pic_ocw2(struct pic_chip *c, uint8_t v)
{
	unsigned level = v & 7;
	int ir;

	switch (v >> 5) {
	case 0:		/* rotate in AEOI mode: clear */
		c->rotate_aeoi = 0;
		break;
	case 4:		/* rotate in AEOI mode: set */
		c->rotate_aeoi = 1;
		break;
	case 1:		/* non-specific EOI */
	case 5:		/* rotate on non-specific EOI */
		ir = highest(c, c->isr);
		if (ir < 0)
			break;
		c->isr &= ~(1u << ir);
		if (v >> 5 == 5)
			c->lowest = (uint8_t)ir;
		break;
	case 3:		/* specific EOI */
		c->isr &= ~(1u << level);
		break;
	case 7:		/* rotate on specific EOI */
		c->isr &= ~(1u << level);
		c->lowest = (uint8_t)level;
		break;
	case 6:		/* set priority */
		c->lowest = (uint8_t)level;
		break;
	default:	/* 2: no operation */
		break;
	}
}

static void pic_ocw3(struct pic_chip *c, uint8_t v)
{
	if (v & OCW3_ESMM)
		c->special_mask = !!(v & OCW3_SMM);
	if (v & OCW3_RR)
		c->read_isr = v & OCW3_RIS;
	c->poll = !!(v & OCW3_P);
}

static void pic_chip_write(struct pic_chip *c, unsigned port, uint8_t v)
{
	if (port == 0) {
		if (v & ICW1_INIT)
			pic_icw1(c, v);
		else if (v & OCW3_SEL)
			pic_ocw3(c, v);
		else
			pic_ocw2(c, v);
		return;
	}
	switch (c->init) {
	case PIC_ICW2:
		c->base = v & 0xF8;
		c->init = !(c->icw1 & ICW1_SNGL) ? PIC_ICW3 : (c->icw1 & ICW1_IC4) ? PIC_ICW4 : PIC_READY;
		break;
	case PIC_ICW3:
		c->icw3 = v;
		c->init = (c->icw1 & ICW1_IC4) ? PIC_ICW4 : PIC_READY;
		break;
	case PIC_ICW4:
		c->icw4 = v & 0x1F;
		c->init = PIC_READY;
		break;
	default:
		c->imr = v;	/* OCW1 */
		break;
	}
}

/* Poll command: the read is an interrupt acknowledge; bit 7 says whether
 * there was a request, bits 2:0 its level (datasheet "The poll command"). */
static uint8_t pic_chip_poll(struct pic_chip *c, int master)
{
	int ir = pic_chip_pending(c, master);

	c->poll = 0;
	pic_int_reset(c);
	if (ir < 0)
		return 0;
	pic_chip_ack(c, (unsigned)ir);
	return (uint8_t)(0x80 | ir);
}

static uint8_t pic_chip_read(struct pic_chip *c, int master, unsigned port)
{
	if (c->poll)
		return pic_chip_poll(c, master);
	if (port == 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

/* Each chip's two ports have the chip as opaque. */
static uint64_t pic_port_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pic_chip *c = opaque;
	uint8_t v = pic_chip_read(c, c == &c->pic->chip[0], (unsigned)offset & 1);

	pic_update(c->pic);
	return v;
}

static void pic_port_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct pic_chip *c = opaque;

	pic_chip_write(c, (unsigned)offset & 1, (uint8_t)value);
	pic_update(c->pic);
}

/* ELCR: one bit per IRQ, 1 = level (PIIX3 ELCR1 at 0x4D0, ELCR2 at 0x4D1).
 * A 16-bit access covers both. */
static uint64_t pic_elcr_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pic *p = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)(offset + i < 2 ? p->chip[offset + i].elcr : 0xFF) << (8 * i);
	return v;
}

static void pic_elcr_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct pic *p = opaque;

	for (unsigned i = 0; i < size && i < 8; i++) {
		struct pic_chip *c;

		if (offset + i >= 2)
			break;
		c = &p->chip[offset + i];
		c->elcr = (uint8_t)(value >> (8 * i)) & c->elcr_mask;
		/* A level input that is high requests at once; an edge input
		 * keeps only a request it already latched. */
		c->irr = (c->irr & ~c->elcr) | (c->lines & c->elcr);
	}
	pic_update(p);
}

struct pic *pic_new(struct memmap *m, pic_intr_fn *intr, void *opaque)
{
	struct pic *p;
	struct memmap_ports ports[3] = {
		{ .base = PIC_MASTER_PORT, .count = PIC_NPORTS, .read = pic_port_read,
		  .write = pic_port_write, .name = "pic-master" },
		{ .base = PIC_SLAVE_PORT, .count = PIC_NPORTS, .read = pic_port_read,
		  .write = pic_port_write, .name = "pic-slave" },
		{ .base = PIC_ELCR_PORT, .count = 2, .read = pic_elcr_read,
		  .write = pic_elcr_write, .name = "pic-elcr" },
	};
	int ret;

	if (!m) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->intr = intr;
	p->opaque = opaque;
	for (unsigned i = 0; i < 2; i++) {
		p->chip[i].pic = p;
		p->chip[i].imr = 0xFF;
		p->chip[i].lowest = 7;
		p->chip[i].edge_armed = 0xFF;
	}
	p->chip[0].elcr_mask = ELCR_MASTER_MASK;
	p->chip[1].elcr_mask = ELCR_SLAVE_MASK;
	ports[0].opaque = &p->chip[0];
	ports[1].opaque = &p->chip[1];
	ports[2].opaque = p;
	for (unsigned i = 0; i < 3; i++) {
		ret = memmap_add_ports(m, &ports[i]);
		if (ret < 0) {
			/* The memory map cannot give ranges back: once one is
			 * claimed the device stays allocated (leaked) so those
			 * ports never reach freed memory. */
			if (i == 0)
				free(p);
			errno = -ret;
			return NULL;
		}
	}
	return p;
}

void pic_free(struct pic *p)
{
	free(p);
}
