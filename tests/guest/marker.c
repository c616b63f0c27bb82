/* Markers (include/hv/marker.h) cost no simulated time: an RDTSC pair
 * around one reads the same as around the same code without it.  The
 * marker's id and value reach the event trace (tests/host/marker_trace.py
 * checks that). */
#include <hv/marker.h>

#include "guest.h"

#define MARK_ID 0x4242

static uint64_t rdtsc_pair(int mark)
{
	uint32_t lo0, hi0, lo1, hi1;

	/* The value's register load stays: only the marker differs. */
	if (mark)
		asm volatile("rdtsc; mov %%eax, %0; mov %%edx, %1\n\t"
			     "mov $0x1234abcd, %%rcx\n\t"
			     "nopl %c4(%%rcx)\n\t"
			     "rdtsc"
			     : "=r"(lo0), "=r"(hi0), "=a"(lo1), "=d"(hi1)
			     : "i"((int32_t)((HV_MARKER_MAGIC << 16) | MARK_ID))
			     : "rcx");
	else
		asm volatile("rdtsc; mov %%eax, %0; mov %%edx, %1\n\t"
			     "mov $0x1234abcd, %%rcx\n\t"
			     "rdtsc"
			     : "=r"(lo0), "=r"(hi0), "=a"(lo1), "=d"(hi1)
			     :
			     : "rcx");
	return (((uint64_t)hi1 << 32) | lo1) - (((uint64_t)hi0 << 32) | lo0);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	uint64_t with = rdtsc_pair(1), without = rdtsc_pair(0);

	report(with == without, "a marker between two RDTSCs costs nothing (%lu vs %lu cycles)", (unsigned long)with,
	       (unsigned long)without);
}
