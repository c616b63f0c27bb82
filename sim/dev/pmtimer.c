/* ACPI PM timer (ACPI 6.x, ACPI Hardware Features, "Power Management
 * Timer"): a free-running counter at 3.579545 MHz, read at PM_TMR_BLK
 * (FADT, 5.2.9).  This one is 32 bits wide (FADT TMR_VAL_EXT) and derived
 * from simulated time, so it needs no events: the value is a pure
 * function of the clock.  Timer overflow status and its SCI are not
 * modelled (there is no PM1 event block). */
#include <errno.h>
#include <stdlib.h>

#include "dev.h"

#define PMTIMER_NPORTS 4

struct pmtimer {
	const struct sim_clock *clk;
};

uint32_t pmtimer_value_at(uint64_t ps)
{
	/* floor(ps * f / 1e12): the product needs up to 86 bits. */
	unsigned __int128 ticks = (unsigned __int128)ps * PMTIMER_HZ / SIM_PS_PER_S;

	return (uint32_t)ticks;	/* mod 2^32 */
}

static uint64_t pmtimer_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pmtimer *t = opaque;
	uint64_t v;

	/* Narrow reads and reads at offsets 1-3 see the bytes of the
	 * register they cover; bytes past it read all ones. */
	v = pmtimer_value_at(sim_now(t->clk)) | 0xFFFFFFFF00000000ull;
	v >>= 8 * (offset & 3);
	return size >= 8 ? v : v & ((1ull << (8 * size)) - 1);
}

static void pmtimer_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	/* The timer is read-only; writes have no effect. */
}

struct pmtimer *pmtimer_new(struct memmap *m, uint16_t port, const struct sim_clock *clk)
{
	struct pmtimer *t;
	struct memmap_ports p = {
		.base = port,
		.count = PMTIMER_NPORTS,
		.read = pmtimer_read,
		.write = pmtimer_write,
		.name = "acpi-pm-timer",
	};
	int ret;

	if (!clk) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->clk = clk;
	p.opaque = t;
	ret = memmap_add_ports(m, &p);
	if (ret < 0) {
		free(t);
		errno = -ret;
		return NULL;
	}
	return t;
}

void pmtimer_free(struct pmtimer *t)
{
	free(t);
}
