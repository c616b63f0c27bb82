/* isa-debug-exit: a write-only port that ends the run.  Freestanding test
 * kernels (kvm-unit-tests style) write their result there; the machine
 * turns value v into exit status (v << 1) | 1, so no guest value can look
 * like a clean 0 exit.
 *
 * Four ports are claimed so that a 32-bit OUT at the base stays inside
 * the device (QEMU's usual "iosize=4" configuration); any write in the
 * window reports the value as written. */
#include <errno.h>
#include <stdlib.h>

#include "dev.h"

#define DEBUGEXIT_NPORTS 4

struct debugexit {
	debugexit_fn *fn;
	void *opaque;
};

static uint64_t debugexit_read(void *opaque, uint64_t offset, unsigned size)
{
	/* Write-only: nothing drives the bus on a read. */
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static void debugexit_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct debugexit *d = opaque;
	uint64_t mask = size >= 4 ? 0xFFFFFFFFull : (1ull << (8 * size)) - 1;

	if (d->fn)
		d->fn(d->opaque, (uint32_t)(value & mask));
}

struct debugexit *debugexit_new(struct memmap *m, uint16_t port, debugexit_fn *fn, void *opaque)
{
	struct debugexit *d = calloc(1, sizeof(*d));
	struct memmap_ports p = {
		.base = port,
		.count = DEBUGEXIT_NPORTS,
		.read = debugexit_read,
		.write = debugexit_write,
		.name = "isa-debug-exit",
	};
	int ret;

	if (!d)
		return NULL;
	d->fn = fn;
	d->opaque = opaque;
	p.opaque = d;
	ret = memmap_add_ports(m, &p);
	if (ret < 0) {
		free(d);
		errno = -ret;
		return NULL;
	}
	return d;
}

void debugexit_free(struct debugexit *d)
{
	free(d);
}
