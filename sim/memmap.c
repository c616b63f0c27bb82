/* Physical memory and port-I/O space.  See memmap.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "memmap.h"

#define PAGE_SIZE 4096ull

struct memmap {
	uint8_t *ram;
	uint64_t ram_size, low, high;
	struct memmap_region *mmio;
	size_t nmmio;
	uint64_t mmio_gen;		/* bumped by memmap_move_mmio */
	struct memmap_ports *ports;
	size_t nports;
	/* Port lookup table: index into ports + 1, 0 = unclaimed. */
	uint16_t port_owner[65536];
};

struct memmap *memmap_new(uint64_t ram_size)
{
	struct memmap *m;

	if (ram_size < (1ull << 20) || ram_size % PAGE_SIZE)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	/* Anonymous mmap: page-aligned (Unicorn maps it with uc_mem_map_ptr)
	 * and untouched pages cost no host memory. */
	m->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		      -1, 0);
	if (m->ram == MAP_FAILED) {
		free(m);
		return NULL;
	}
	m->ram_size = ram_size;
	m->low = ram_size < MEMMAP_LOW_RAM_LIMIT ? ram_size : MEMMAP_LOW_RAM_LIMIT;
	m->high = ram_size - m->low;
	return m;
}

void memmap_free(struct memmap *m)
{
	if (!m)
		return;
	munmap(m->ram, m->ram_size);
	free(m->mmio);
	free(m->ports);
	free(m);
}

uint64_t memmap_ram_size(const struct memmap *m)
{
	return m->ram_size;
}

uint8_t *memmap_ram(const struct memmap *m)
{
	return m->ram;
}

uint64_t memmap_ram_low(const struct memmap *m)
{
	return m->low;
}

uint64_t memmap_ram_high(const struct memmap *m)
{
	return m->high;
}

void *memmap_ram_ptr(const struct memmap *m, uint64_t pa, uint64_t len)
{
	uint64_t end = pa + len;

	if (end < pa)
		return NULL;
	if (end <= m->low)
		return m->ram + pa;
	if (pa >= MEMMAP_HIGH_RAM_BASE && end - MEMMAP_HIGH_RAM_BASE <= m->high)
		return m->ram + m->low + (pa - MEMMAP_HIGH_RAM_BASE);
	return NULL;
}

int memmap_write_phys(struct memmap *m, uint64_t pa, const void *src, uint64_t len)
{
	void *p = memmap_ram_ptr(m, pa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int memmap_read_phys(const struct memmap *m, uint64_t pa, void *dst, uint64_t len)
{
	const void *p = memmap_ram_ptr(m, pa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Whether [base, base+size) is free: no RAM, no present region but `skip`. */
static int range_free(const struct memmap *m, uint64_t base, uint64_t size, size_t skip)
{
	if (ranges_overlap(base, size, 0, m->low) ||
	    (m->high && ranges_overlap(base, size, MEMMAP_HIGH_RAM_BASE, m->high)))
		return 0;
	for (size_t i = 0; i < m->nmmio; i++)
		if (i != skip && !m->mmio[i].absent && ranges_overlap(base, size, m->mmio[i].base, m->mmio[i].size))
			return 0;
	return 1;
}

int memmap_add_mmio(struct memmap *m, const struct memmap_region *r)
{
	struct memmap_region *v;

	if (!r->size || r->base + r->size < r->base || !r->read || !r->write)
		return -EINVAL;
	if (!r->absent && !range_free(m, r->base, r->size, SIZE_MAX))
		return -EBUSY;
	v = realloc(m->mmio, (m->nmmio + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->mmio = v;
	m->mmio[m->nmmio++] = *r;
	return 0;
}

int memmap_move_mmio(struct memmap *m, size_t i, uint64_t base, int present)
{
	struct memmap_region *r;
	int rc = 0;

	if (i >= m->nmmio)
		return -EINVAL;
	r = &m->mmio[i];
	if (present && base + r->size < base)
		return -EINVAL;
	if (present && !range_free(m, base, r->size, i)) {
		present = 0;
		rc = -EBUSY;
	}
	if (present ? !r->absent && r->base == base : r->absent)
		return rc;
	if (present)
		r->base = base;
	r->absent = !present;
	m->mmio_gen++;
	return rc;
}

const uint64_t *memmap_mmio_generation(const struct memmap *m)
{
	return &m->mmio_gen;
}

int memmap_add_ports(struct memmap *m, const struct memmap_ports *p)
{
	struct memmap_ports *v;

	if (!p->count || (uint32_t)p->base + p->count > 65536 || !p->read || !p->write)
		return -EINVAL;
	if (m->nports >= 65535)
		return -ENOSPC;
	for (uint32_t port = p->base; port < (uint32_t)p->base + p->count; port++)
		if (m->port_owner[port])
			return -EBUSY;
	v = realloc(m->ports, (m->nports + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->ports = v;
	m->ports[m->nports++] = *p;
	for (uint32_t port = p->base; port < (uint32_t)p->base + p->count; port++)
		m->port_owner[port] = (uint16_t)m->nports;
	return 0;
}

size_t memmap_mmio_count(const struct memmap *m)
{
	return m->nmmio;
}

const struct memmap_region *memmap_mmio_at(const struct memmap *m, size_t i)
{
	return i < m->nmmio ? &m->mmio[i] : NULL;
}

const struct memmap_region *memmap_find_mmio(const struct memmap *m, uint64_t pa)
{
	for (size_t i = 0; i < m->nmmio; i++)
		if (!m->mmio[i].absent && pa - m->mmio[i].base < m->mmio[i].size)
			return &m->mmio[i];
	return NULL;
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* A port access is dispatched to the device owning its first port; the
 * device sees its own offset (a 16-bit access at the last port of a range
 * is the device's to interpret, as on an ISA bus).  Unclaimed ports float
 * high. */
uint32_t memmap_port_in(struct memmap *m, uint16_t port, unsigned size)
{
	uint16_t owner = m->port_owner[port];
	const struct memmap_ports *p;

	if (!owner)
		return (uint32_t)size_mask(size);
	p = &m->ports[owner - 1];
	return (uint32_t)(p->read(p->opaque, port - p->base, size) & size_mask(size));
}

void memmap_port_out(struct memmap *m, uint16_t port, uint32_t value, unsigned size)
{
	uint16_t owner = m->port_owner[port];
	const struct memmap_ports *p;

	if (!owner)
		return;
	p = &m->ports[owner - 1];
	p->write(p->opaque, port - p->base, value & size_mask(size), size);
}

uint64_t memmap_mmio_read(struct memmap *m, uint64_t pa, unsigned size)
{
	const struct memmap_region *r = memmap_find_mmio(m, pa);

	if (!r)
		return size_mask(size);
	return r->read(r->opaque, pa - r->base, size) & size_mask(size);
}

void memmap_mmio_write(struct memmap *m, uint64_t pa, uint64_t value, unsigned size)
{
	const struct memmap_region *r = memmap_find_mmio(m, pa);

	if (r)
		r->write(r->opaque, pa - r->base, value & size_mask(size), size);
}
