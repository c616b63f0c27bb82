/* RDTSC on hvsim counts simulated cycles: the TSC at an RDTSC is the sum
 * of the costs of every instruction the LP executed before it, each
 * instruction costing its class's cost from the profile plus the `load`
 * cost if it reads memory (not LEA or NOP) plus the `store` cost if it
 * writes memory; PUSH/POP/CALL/RET cost only their own class.  The
 * profile's table is published in fw_cfg file "opt/hvsim/costs": u32 N,
 * N u32 costs indexed by enum cost_class (sim/cpu/profile.h), then the
 * u64 clock in kHz, all little endian.
 *
 * Each measured loop is one asm statement with a fixed instruction
 * sequence, so the expected delta is exact:
 *   rdtsc; mov; mov; mov $N, %ecx; N x { body; dec %ecx; jnz }; rdtsc
 *   = tsc + 3 alu + N * (body + alu + branch). */
#include <hv/costs.h>

#include "guest.h"

#define COSTS_FILE HV_FWCFG_COSTS_FILE
#define COSTS_MAX 64
#define DEFAULT_PROFILE_KHZ 3400000ull	/* Core i7-2600: 3.40 GHz */
#define LOOP_N 1000

static uint32_t cost[COSTS_MAX];
static bool have_costs;
static uint64_t freq_khz;

static void load_costs(void)
{
	uint8_t buf[4 + 4 * COSTS_MAX + 8];
	uint16_t key;
	uint32_t size, n;

	if (!fwcfg_present()) {
		report_skip("fw_cfg absent: no cost table");
		return;
	}
	if (fwcfg_find_file(COSTS_FILE, &key, &size) < 0) {
		report_skip("fw_cfg file %s absent (not running on hvsim?)", COSTS_FILE);
		return;
	}
	if (size < 4 || size > sizeof(buf)) {
		report(false, "%s has a plausible size (%u bytes)", COSTS_FILE, size);
		return;
	}
	fwcfg_select(key);
	fwcfg_read_bytes(buf, size);
	memcpy(&n, buf, 4);
	report(n >= COST_NCLASSES && n <= COSTS_MAX && size == 4 + 4 * n + 8,
	       "%s: %u classes in %u bytes", COSTS_FILE, n, size);
	if (n < COST_NCLASSES || n > COSTS_MAX || size != 4 + 4 * n + 8)
		return;
	memcpy(cost, buf + 4, 4 * n);
	memcpy(&freq_khz, buf + 4 + 4 * n, 8);
	have_costs = true;
	printf("costs: alu %u mul %u div %u load %u store %u branch %u call %u ret %u stack %u "
	       "nop %u tsc %u; %lu kHz\n",
	       cost[COST_ALU], cost[COST_MUL], cost[COST_DIV], cost[COST_LOAD], cost[COST_STORE], cost[COST_BRANCH],
	       cost[COST_CALL], cost[COST_RET], cost[COST_STACK], cost[COST_NOP], cost[COST_TSC],
	       (unsigned long)freq_khz);
	report(freq_khz == DEFAULT_PROFILE_KHZ, "profile clock %lu kHz (default profile: 3400000)",
	       (unsigned long)freq_khz);
}

static void test_monotonic(void)
{
	uint64_t prev = rdtsc(), bad = 0;

	for (int i = 0; i < 1000; i++) {
		uint64_t t = rdtsc();

		bad += t <= prev;
		prev = t;
	}
	report(bad == 0, "TSC strictly increases over 1000 reads (%lu repeats)", (unsigned long)bad);
}

static void test_back_to_back(void)
{
	uint32_t lo0, hi0, lo1, hi1;
	uint64_t d;

	asm volatile("rdtsc\n\t"
		     "movl %%eax, %%esi\n\t"
		     "movl %%edx, %%edi\n\t"
		     "rdtsc"
		     : "=a"(lo1), "=d"(hi1), "=S"(lo0), "=D"(hi0));
	d = (((uint64_t)hi1 << 32) | lo1) - (((uint64_t)hi0 << 32) | lo0);
	if (!have_costs) {
		report(d > 0, "back-to-back RDTSC delta %lu > 0", (unsigned long)d);
		return;
	}
	report(d == cost[COST_TSC] + 2ull * cost[COST_ALU],
	       "rdtsc; mov; mov; rdtsc = tsc + 2 alu = %lu (measured %lu)",
	       (unsigned long)(cost[COST_TSC] + 2ull * cost[COST_ALU]), (unsigned long)d);
}

/* One measured loop: `body` runs LOOP_N times with RBX = a scratch
 * buffer, R11 = 7, and R10, R11, RAX, RDX free to change. */
#define TSC_LOOP(body)								\
	({									\
		uint32_t _lo0, _hi0, _lo1, _hi1;				\
		asm volatile("movl $7, %%r11d\n\t"				\
			     "rdtsc\n\t"					\
			     "movl %%eax, %%esi\n\t"				\
			     "movl %%edx, %%edi\n\t"				\
			     "movl %[n], %%ecx\n"				\
			     "1:\n\t"						\
			     body						\
			     "decl %%ecx\n\t"					\
			     "jnz 1b\n\t"					\
			     "rdtsc"						\
			     : "=a"(_lo1), "=d"(_hi1), "=S"(_lo0), "=D"(_hi0)	\
			     : [n] "i"(LOOP_N), "b"(scratch)			\
			     : "rcx", "r10", "r11", "memory", "cc");		\
		(((uint64_t)_hi1 << 32) | _lo1) - (((uint64_t)_hi0 << 32) | _lo0); \
	})

static uint64_t scratch[4] __attribute__((aligned(64)));

static void check_loop(const char *what, uint64_t measured, uint64_t body)
{
	uint64_t want;

	if (!have_costs) {
		report(measured > 0, "%s: delta %lu > 0", what, (unsigned long)measured);
		return;
	}
	want = cost[COST_TSC] + 3ull * cost[COST_ALU] +
	       (uint64_t)LOOP_N * (body + cost[COST_ALU] + cost[COST_BRANCH]);
	report(measured == want, "%s: %lu cycles (expected %lu)", what, (unsigned long)measured,
	       (unsigned long)want);
}

static void test_loops(void)
{
	uint64_t d;

	d = TSC_LOOP("addq %%r10, %%r11\n\txorq %%r11, %%r10\n\t");
	check_loop("loop of add, xor (alu)", d, 2ull * cost[COST_ALU]);
	d = TSC_LOOP("addq (%%rbx), %%r10\n\t");
	check_loop("loop of add from memory (alu + load)", d, cost[COST_ALU] + cost[COST_LOAD]);
	d = TSC_LOOP("movq %%r10, 8(%%rbx)\n\t");
	check_loop("loop of mov to memory (alu + store)", d, cost[COST_ALU] + cost[COST_STORE]);
	d = TSC_LOOP("addq %%r10, 16(%%rbx)\n\t");
	check_loop("loop of add to memory (alu + load + store)", d,
		   cost[COST_ALU] + cost[COST_LOAD] + cost[COST_STORE]);
	d = TSC_LOOP("imulq %%r11, %%r10\n\t");
	check_loop("loop of imul (mul)", d, cost[COST_MUL]);
	d = TSC_LOOP("movl $100, %%eax\n\txorl %%edx, %%edx\n\tdivl %%r11d\n\t");
	check_loop("loop of mov, xor, div (2 alu + div)", d, 2ull * cost[COST_ALU] + cost[COST_DIV]);
	d = TSC_LOOP("nop\n\tleaq 8(%%rbx), %%r10\n\t");
	check_loop("loop of nop, lea (nop + alu, no load)", d, cost[COST_NOP] + cost[COST_ALU]);
	d = TSC_LOOP("pushq %%r10\n\tpopq %%r10\n\t");
	check_loop("loop of push, pop (2 stack)", d, 2ull * cost[COST_STACK]);
	d = TSC_LOOP("call 2f\n\tjmp 3f\n2:\n\tret\n3:\n\t");
	check_loop("loop of call, ret, jmp (call + ret + branch)", d,
		   cost[COST_CALL] + cost[COST_RET] + cost[COST_BRANCH]);
	/* the mix: add-from-memory, mov-to-memory, imul, lea, nop, xor */
	d = TSC_LOOP("addq (%%rbx), %%rax\n\t"
		     "movq %%rax, 8(%%rbx)\n\t"
		     "imulq %%rax, %%r10\n\t"
		     "leaq 1(%%r10), %%r10\n\t"
		     "nop\n\t"
		     "xorq %%r10, %%rdx\n\t");
	check_loop("mixed loop (4 alu + load + store + mul + nop)", d,
		   4ull * cost[COST_ALU] + cost[COST_LOAD] + cost[COST_STORE] + cost[COST_MUL] + cost[COST_NOP]);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	load_costs();
	test_monotonic();
	test_back_to_back();
	test_loops();
}
