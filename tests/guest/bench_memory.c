/* Benchmark kernel (not a test): loads, stores, push/pop and call/ret,
 * 19 instructions in 3 blocks per iteration (the loop head up to the
 * CALL, the callee, the loop tail after the return), 10 500 000
 * iterations = 199.5 M instructions.  It prints the checksum, the
 * instruction count and the TSC cycles, and exits 0 if the checksum
 * matches the value the same loop computes natively on an x86-64 host
 * (and a Python model of it). */
#include "guest.h"

#define BENCH_ITERS 10500000ull
#define BENCH_INSNS_PER_ITER 19
#define BENCH_EXPECT 0x744730914cec0399ull

static uint64_t bench_buf[4] __attribute__((aligned(64)));

static uint64_t bench_memory(uint64_t iters)
{
	uint64_t count = 0;

	bench_buf[0] = 1;
	bench_buf[1] = 2;
	bench_buf[2] = 3;
	bench_buf[3] = 4;
	asm volatile("1:\n\t"
		     "movq (%[p]), %%rax\n\t"		/* block 1 */
		     "addq %[n], %%rax\n\t"
		     "movq %%rax, (%[p])\n\t"
		     "movq 8(%[p]), %%rdx\n\t"
		     "xorq %%rax, %%rdx\n\t"
		     "movq %%rdx, 8(%[p])\n\t"
		     "call 2f\n\t"
		     "movq 24(%[p]), %%rax\n\t"		/* block 3 */
		     "addq %%rdx, %%rax\n\t"
		     "movq %%rax, 24(%[p])\n\t"
		     "addq $1, %[c]\n\t"
		     "decq %[n]\n\t"
		     "jnz 1b\n\t"
		     "jmp 3f\n"
		     "2:\n\t"				/* block 2 */
		     "pushq %%rbx\n\t"
		     "movq 16(%[p]), %%rbx\n\t"
		     "addq %%rax, %%rbx\n\t"
		     "movq %%rbx, 16(%[p])\n\t"
		     "popq %%rbx\n\t"
		     "ret\n"
		     "3:"
		     : [n] "+r"(iters), [c] "+r"(count)
		     : [p] "r"(bench_buf)
		     : "rax", "rdx", "memory", "cc");
	return bench_buf[0] ^ (bench_buf[1] << 1) ^ (bench_buf[2] << 2) ^ (bench_buf[3] << 3) ^ count;
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	uint64_t t0 = rdtsc(), sum = bench_memory(BENCH_ITERS), t1 = rdtsc();

	printf("bench_memory: %lu instructions in the loop, %lu TSC cycles, checksum 0x%016lx\n",
	       (unsigned long)(BENCH_ITERS * BENCH_INSNS_PER_ITER), (unsigned long)(t1 - t0),
	       (unsigned long)sum);
	report(sum == BENCH_EXPECT, "bench_memory checksum (expected 0x%016lx)",
	       (unsigned long)BENCH_EXPECT);
}
