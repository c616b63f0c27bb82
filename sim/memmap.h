/* Physical address space and port-I/O space of the simulated machine.
 *
 * RAM is one page-aligned host buffer mapped from physical address 0
 * (below the 32-bit MMIO hole) and continuing at 4 GiB for what does not
 * fit below it.  Devices register MMIO windows and port ranges as
 * (callback, opaque) pairs; the CPU layer maps RAM and MMIO into each
 * engine and routes IN/OUT here.  Accesses nobody claims behave as on a
 * PC with nothing there: reads return all ones, writes are dropped. */
#ifndef SIM_MEMMAP_H
#define SIM_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#define MEMMAP_LOW_RAM_LIMIT 0xC0000000ull	/* start of the 32-bit MMIO hole */
#define MEMMAP_HIGH_RAM_BASE 0x100000000ull

typedef uint64_t memmap_read_fn(void *opaque, uint64_t offset, unsigned size);
typedef void memmap_write_fn(void *opaque, uint64_t offset, uint64_t value, unsigned size);

struct memmap_region {
	uint64_t base, size;
	memmap_read_fn *read;
	memmap_write_fn *write;
	void *opaque;
	const char *name;
	int absent;	/* occupies no addresses now (memmap_move_mmio) */
};

struct memmap_ports {
	uint16_t base, count;
	memmap_read_fn *read;	/* offset is relative to base */
	memmap_write_fn *write;
	void *opaque;
	const char *name;
};

struct memmap;

/* ram_size in bytes, a multiple of 4 KiB and at least 1 MiB. */
struct memmap *memmap_new(uint64_t ram_size);
void memmap_free(struct memmap *m);

uint64_t memmap_ram_size(const struct memmap *m);
/* Host pointer to the RAM buffer; RAM offset o is physical address
 * o below MEMMAP_LOW_RAM_LIMIT and o - LOW + HIGH_BASE above it. */
uint8_t *memmap_ram(const struct memmap *m);
uint64_t memmap_ram_low(const struct memmap *m);	/* bytes below the hole */
uint64_t memmap_ram_high(const struct memmap *m);	/* bytes from 4 GiB */

/* Host pointer for [pa, pa+len) if it lies wholly in RAM, else NULL. */
void *memmap_ram_ptr(const struct memmap *m, uint64_t pa, uint64_t len);
/* Copy to or from physical memory (RAM only); -EFAULT if not RAM. */
int memmap_write_phys(struct memmap *m, uint64_t pa, const void *src, uint64_t len);
int memmap_read_phys(const struct memmap *m, uint64_t pa, void *dst, uint64_t len);

/* Returns 0, -EINVAL for an empty/overflowing range, -EBUSY on overlap
 * with RAM or another region.  A region added with `absent` set is only
 * checked for its size: it takes no addresses until memmap_move_mmio
 * places it.  The new region is memmap_mmio_at(m, memmap_mmio_count(m) - 1).
 * Every region must be added before the CPU opens its engines, which keep
 * pointers to them. */
int memmap_add_mmio(struct memmap *m, const struct memmap_region *r);
/* Moves region i to `base`, or takes it out of the address space
 * (present = 0): a PCI BAR that software relocates or whose decode it
 * switches off.  A range that would overlap RAM or another present region
 * leaves the region absent and returns -EBUSY (on a real bus the two
 * decoders would conflict; here neither gives way).  -EINVAL for a bad
 * index or a range that wraps.  Each call that changes the map bumps the
 * MMIO generation, by which the CPU knows to remap its engines. */
int memmap_move_mmio(struct memmap *m, size_t i, uint64_t base, int present);
/* The counter memmap_move_mmio bumps; a pointer, so that the CPU's block
 * hook compares it without a call. */
const uint64_t *memmap_mmio_generation(const struct memmap *m);
int memmap_add_ports(struct memmap *m, const struct memmap_ports *p);

size_t memmap_mmio_count(const struct memmap *m);
const struct memmap_region *memmap_mmio_at(const struct memmap *m, size_t i);
/* The present region containing pa, or NULL. */
const struct memmap_region *memmap_find_mmio(const struct memmap *m, uint64_t pa);

/* Port I/O dispatch (size 1, 2 or 4). */
uint32_t memmap_port_in(struct memmap *m, uint16_t port, unsigned size);
void memmap_port_out(struct memmap *m, uint16_t port, uint32_t value, unsigned size);
/* MMIO dispatch for a physical address outside RAM. */
uint64_t memmap_mmio_read(struct memmap *m, uint64_t pa, unsigned size);
void memmap_mmio_write(struct memmap *m, uint64_t pa, uint64_t value, unsigned size);

#endif
