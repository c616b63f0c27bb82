/* Benchmark kernel (not a test): a register-only loop of 8 instructions
 * per iteration (imul, lea, add, mov, shr, xor, dec, jnz: one block),
 * 25 000 000 iterations = 200 M instructions.  It prints the checksum,
 * the instruction count and the TSC cycles, and exits 0 if the checksum
 * matches the value the same loop computes natively on an x86-64 host
 * (and a Python model of it). */
#include "guest.h"

#define BENCH_ITERS 25000000ull
#define BENCH_INSNS_PER_ITER 8
#define BENCH_EXPECT 0xeb6bea1223d317a1ull

static uint64_t bench_compute(uint64_t iters)
{
	uint64_t x = 0x0123456789abcdefull, y = 0;

	asm volatile("1:\n\t"
		     "imulq %[k], %[x]\n\t"
		     "leaq 0x9e37(%[x],%[n]), %[x]\n\t"
		     "addq %[y], %[x]\n\t"
		     "movq %[x], %[y]\n\t"
		     "shrq $29, %[y]\n\t"
		     "xorq %[y], %[x]\n\t"
		     "decq %[n]\n\t"
		     "jnz 1b"
		     : [x] "+r"(x), [y] "+r"(y), [n] "+r"(iters)
		     : [k] "r"(0x9e3779b97f4a7c15ull)
		     : "cc");
	return x ^ y;
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	uint64_t t0 = rdtsc(), sum = bench_compute(BENCH_ITERS), t1 = rdtsc();

	printf("bench_compute: %lu instructions in the loop, %lu TSC cycles, checksum 0x%016lx\n",
	       (unsigned long)(BENCH_ITERS * BENCH_INSNS_PER_ITER), (unsigned long)(t1 - t0),
	       (unsigned long)sum);
	report(sum == BENCH_EXPECT, "bench_compute checksum (expected 0x%016lx)",
	       (unsigned long)BENCH_EXPECT);
}
