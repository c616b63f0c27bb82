/* An interrupt request line: a device drives it, an interrupt controller
 * (sim/apic/, later) receives it.  An unconnected line drops the level. */
#ifndef SIM_IRQ_H
#define SIM_IRQ_H

typedef void irq_set_fn(void *opaque, unsigned n, int level);

struct irq_line {
	irq_set_fn *set;
	void *opaque;
	unsigned n;	/* input number at the receiver (e.g. ISA IRQ) */
};

static inline void irq_set(const struct irq_line *l, int level)
{
	if (l && l->set)
		l->set(l->opaque, l->n, level);
}

#endif
