/* Interrupt-line test device: lets a guest test kernel drive the IO-APIC
 * input pins directly, so interrupt routing can be measured without a
 * real device.  Port 0x2000 + n is line n (n < 24): writing the byte 1
 * raises it, 0 lowers it; any other value is ignored, so a stray write
 * cannot pick an unintended level.  Reads return the level last set.
 * Like any 8-bit ISA device, a wider access is split into byte accesses
 * at consecutive ports (a 16-bit write of 0x0101 to 0x2000 raises lines 0
 * and 1); bytes past the last line read all ones and ignore writes. */
#include <errno.h>
#include <stdlib.h>

#include "dev.h"

struct irqtest {
	irq_set_fn *set;
	void *opaque;
	uint8_t level[IRQTEST_NLINES];
};

static uint64_t irqtest_read(void *opaque, uint64_t offset, unsigned size)
{
	struct irqtest *t = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)(offset + i < IRQTEST_NLINES ? t->level[offset + i] : 0xFF) << (8 * i);
	return v;
}

static void irqtest_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct irqtest *t = opaque;

	for (unsigned i = 0; i < size && i < 8 && offset + i < IRQTEST_NLINES; i++) {
		uint8_t b = (uint8_t)(value >> (8 * i));
		unsigned n = (unsigned)(offset + i);

		if (b > 1)
			continue;
		t->level[n] = b;
		if (t->set)
			t->set(t->opaque, n, b);
	}
}

struct irqtest *irqtest_new(struct memmap *m, uint16_t port, irq_set_fn *set, void *opaque)
{
	struct irqtest *t;
	struct memmap_ports p = {
		.base = port,
		.count = IRQTEST_NLINES,
		.read = irqtest_read,
		.write = irqtest_write,
		.name = "irqtest",
	};
	int ret;

	if (!m) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->set = set;
	t->opaque = opaque;
	p.opaque = t;
	ret = memmap_add_ports(m, &p);
	if (ret < 0) {
		free(t);
		errno = -ret;
		return NULL;
	}
	return t;
}

void irqtest_free(struct irqtest *t)
{
	free(t);
}
