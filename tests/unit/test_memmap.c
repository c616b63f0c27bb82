#include <criterion/criterion.h>
#include <errno.h>

#include "memmap.h"

static uint64_t last_off, last_val;
static unsigned last_size;

static uint64_t dev_read(void *opaque, uint64_t off, unsigned size)
{
	last_off = off;
	last_size = size;
	return 0x1122334455667788ull + (uintptr_t)opaque;
}

static void dev_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	last_off = off;
	last_val = val;
	last_size = size;
}

Test(memmap, ram_below_hole_and_above_4g)
{
	struct memmap *m = memmap_new(4ull << 30);	/* 3 GiB low + 1 GiB high */

	cr_assert_not_null(m);
	cr_assert_eq(memmap_ram_low(m), MEMMAP_LOW_RAM_LIMIT);
	cr_assert_eq(memmap_ram_high(m), 1ull << 30);
	cr_assert_null(memmap_ram_ptr(m, MEMMAP_LOW_RAM_LIMIT, 1));
	cr_assert_null(memmap_ram_ptr(m, MEMMAP_LOW_RAM_LIMIT - 1, 2));
	cr_assert_eq(memmap_ram_ptr(m, MEMMAP_HIGH_RAM_BASE, 8), memmap_ram(m) + MEMMAP_LOW_RAM_LIMIT);
	cr_assert_null(memmap_ram_ptr(m, MEMMAP_HIGH_RAM_BASE + (1ull << 30) - 4, 8));
	memmap_free(m);
}

Test(memmap, phys_copy_rejects_non_ram_and_wraparound)
{
	struct memmap *m = memmap_new(1 << 20);
	uint32_t v = 0xdeadbeef, r = 0;

	cr_assert_eq(memmap_write_phys(m, 0x1000, &v, 4), 0);
	cr_assert_eq(memmap_read_phys(m, 0x1000, &r, 4), 0);
	cr_assert_eq(r, v);
	cr_assert_eq(memmap_write_phys(m, (1 << 20) - 2, &v, 4), -EFAULT);
	cr_assert_eq(memmap_read_phys(m, ~0ull - 1, &r, 4), -EFAULT);
	memmap_free(m);
}

Test(memmap, bad_ram_sizes_are_refused)
{
	cr_assert_null(memmap_new(4096));
	cr_assert_null(memmap_new((1 << 20) + 1));
}

Test(memmap, ports_dispatch_with_offsets_and_float_high)
{
	struct memmap *m = memmap_new(1 << 20);
	struct memmap_ports p = { .base = 0x3F8, .count = 8, .read = dev_read, .write = dev_write };

	cr_assert_eq(memmap_add_ports(m, &p), 0);
	memmap_port_out(m, 0x3FB, 0x1ff, 1);
	cr_assert_eq(last_off, 3);
	cr_assert_eq(last_val, 0xff, "value truncated to the access size");
	cr_assert_eq(memmap_port_in(m, 0x3F9, 2), 0x7788);
	cr_assert_eq(last_size, 2);
	cr_assert_eq(memmap_port_in(m, 0x80, 1), 0xff);
	cr_assert_eq(memmap_port_in(m, 0x80, 4), 0xffffffffu);
	struct memmap_ports q = { .base = 0x3FF, .count = 2, .read = dev_read, .write = dev_write };
	cr_assert_eq(memmap_add_ports(m, &q), -EBUSY);
	struct memmap_ports r = { .base = 0xFFFF, .count = 2, .read = dev_read, .write = dev_write };
	cr_assert_eq(memmap_add_ports(m, &r), -EINVAL);
	memmap_free(m);
}

Test(memmap, mmio_dispatch_and_overlap_checks)
{
	struct memmap *m = memmap_new(1 << 20);
	struct memmap_region r = { .base = 0xFEE00000, .size = 0x1000, .read = dev_read, .write = dev_write };

	cr_assert_eq(memmap_add_mmio(m, &r), 0);
	memmap_mmio_write(m, 0xFEE000B0, 0x12345678, 4);
	cr_assert_eq(last_off, 0xB0);
	cr_assert_eq(last_val, 0x12345678);
	cr_assert_eq(memmap_mmio_read(m, 0xFEE00020, 4), 0x55667788);
	cr_assert_eq(memmap_mmio_read(m, 0xFED00000, 4), 0xffffffffu);
	struct memmap_region o = { .base = 0xFEE00800, .size = 0x1000, .read = dev_read, .write = dev_write };
	cr_assert_eq(memmap_add_mmio(m, &o), -EBUSY);
	struct memmap_region ram = { .base = 0x80000, .size = 0x1000, .read = dev_read, .write = dev_write };
	cr_assert_eq(memmap_add_mmio(m, &ram), -EBUSY);
	cr_assert_eq(memmap_find_mmio(m, 0xFEE00FFF), memmap_mmio_at(m, 0));
	memmap_free(m);
}

Test(memmap, absent_region_takes_no_addresses_until_moved)
{
	struct memmap *m = memmap_new(1 << 20);
	struct memmap_region io = { .base = 0xFEC00000, .size = 0x1000, .read = dev_read, .write = dev_write };
	struct memmap_region bar = { .base = 0xFEC00000, .size = 0x100000, .read = dev_read, .write = dev_write,
				     .absent = 1 };
	const uint64_t *gen = memmap_mmio_generation(m);
	uint64_t g0 = *gen;

	cr_assert_eq(memmap_add_mmio(m, &io), 0);
	cr_assert_eq(memmap_add_mmio(m, &bar), 0, "absent: no overlap check");
	cr_assert_eq(memmap_find_mmio(m, 0xFEC00000), memmap_mmio_at(m, 0));
	cr_assert_eq(memmap_mmio_read(m, 0xFEB00000, 4), 0xffffffffu);
	cr_assert_eq(memmap_move_mmio(m, 1, 0xFEB00000, 1), 0);
	cr_assert_eq(*gen, g0 + 1);
	cr_assert_eq(memmap_find_mmio(m, 0xFEBFFFFF), memmap_mmio_at(m, 1));
	memmap_mmio_write(m, 0xFEB00064, 7, 4);
	cr_assert_eq(last_off, 0x64);
	cr_assert_eq(memmap_move_mmio(m, 1, 0xFEB00000, 1), 0);
	cr_assert_eq(*gen, g0 + 1, "no change, no new generation");
	cr_assert_eq(memmap_move_mmio(m, 1, 0xFEB00000, 0), 0);
	cr_assert_eq(*gen, g0 + 2);
	cr_assert_null(memmap_find_mmio(m, 0xFEB00000));
	cr_assert_eq(memmap_move_mmio(m, 1, 0xFEC00000, 1), -EBUSY, "over the IO-APIC window");
	cr_assert(memmap_mmio_at(m, 1)->absent);
	cr_assert_eq(memmap_move_mmio(m, 1, 0x0, 1), -EBUSY, "over RAM");
	cr_assert_eq(memmap_move_mmio(m, 1, 0xFFFFFFFFFFF00000ull, 1), -EINVAL, "wraps");
	cr_assert_eq(memmap_move_mmio(m, 2, 0xFEB00000, 1), -EINVAL);
	memmap_free(m);
}
