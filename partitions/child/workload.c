/* The computation both child kernels run: deterministic, with results
 * known independently of this code, so a child that computes wrong (a
 * simulator or hypervisor defect that corrupts its state) says so.
 *
 * One iteration:
 *   - a sieve of Eratosthenes over the odd numbers below 100,000:
 *     pi(10^5) = 9592, the standard table value;
 *   - table-driven CRC-32 (the reflected IEEE 802.3 polynomial,
 *     0xEDB88320): of "123456789", whose value 0xCBF43926 is the check
 *     value published for CRC-32/ISO-HDLC; and of 16 KiB from the
 *     Numerical Recipes LCG (x' = 1664525 x + 1013904223 mod 2^32, top
 *     byte of each), 0x25A86B37 by Python's zlib.crc32 of the same bytes;
 *   - Miller-Rabin over [2^40, 2^40 + 1024): 39 primes whose offsets from
 *     2^40 sum to 21169, counted with a segmented sieve in Python.
 * About 2.5 million instructions: byte stores and loads, table lookups,
 * shifts, branches, and 64-bit MUL/DIV pairs.  Every iteration recomputes
 * everything from its inputs and is checked. */
#include "child.h"

#define SIEVE_LIMIT 100000u
#define SIEVE_PRIMES 9592u

#define CRC_POLY 0xedb88320u
#define CRC_CHECK_EXPECT 0xcbf43926u
#define CRC_BUF_BYTES 16384
#define CRC_BUF_SEED 0x2545f491u
#define CRC_BUF_EXPECT 0x25a86b37u
#define LCG_MUL 1664525u
#define LCG_ADD 1013904223u

#define MR_BASE (1ull << 40)
#define MR_SPAN 1024u
#define MR_PRIMES 39u
#define MR_OFFSET_SUM 21169u

static uint8_t sieve_odd[SIEVE_LIMIT / 2];	/* [i]: 2i + 1 is still a prime candidate */
static uint32_t crc_table[256];
static uint8_t crc_buf[CRC_BUF_BYTES];

/* Hides a value from the optimiser, so that the work of one iteration is
 * not hoisted out of the loop as a loop-invariant call. */
static inline uint64_t launder(uint64_t v)
{
	asm volatile("" : "+r"(v));
	return v;
}

/* ---- sieve ---- */

static uint32_t sieve_count(uint32_t limit)
{
	const uint32_t n = limit / 2;	/* the odd numbers 1, 3, ..., below limit */
	uint32_t count = 1;		/* 2 */

	memset(sieve_odd, 1, n);
	sieve_odd[0] = 0;		/* 1 */
	for (uint32_t i = 1;; i++) {
		uint32_t p = 2 * i + 1;

		if (p * p >= limit)
			break;
		if (!sieve_odd[i])
			continue;
		/* p*p is the first multiple not struck by a smaller prime;
		 * odd multiples are 2p apart, p apart in the index. */
		for (uint32_t j = p * p / 2; j < n; j += p)
			sieve_odd[j] = 0;
	}
	for (uint32_t i = 0; i < n; i++)
		count += sieve_odd[i];
	return count;
}

/* ---- CRC-32 ---- */

static void crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? CRC_POLY ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

static uint32_t crc32(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	while (len--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static void lcg_fill(uint8_t *p, size_t len, uint32_t x)
{
	for (size_t i = 0; i < len; i++) {
		x = x * LCG_MUL + LCG_ADD;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* ---- Miller-Rabin ---- */

/* a * b mod m for a, b < m: MUL leaves the 128-bit product in RDX:RAX,
 * and DIV cannot overflow because the quotient is below m (SDM Vol. 2A,
 * DIV: #DE only when the quotient does not fit). */
static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
	uint64_t lo = a, hi;

	asm("mulq %2\n\tdivq %3" : "+a"(lo), "=&d"(hi) : "rm"(b), "rm"(m) : "cc");
	return hi;
}

static uint64_t powmod(uint64_t base, uint64_t exp, uint64_t m)
{
	uint64_t r = 1, b = base % m;

	for (; exp; exp >>= 1) {
		if (exp & 1)
			r = mulmod(r, b, m);
		b = mulmod(b, b, m);
	}
	return r;
}

/* Deterministic for n < 341,550,071,728,321 with the bases 2 to 17
 * (Jaeschke, "On strong pseudoprimes to several bases", Math. Comp. 61,
 * 1993); the scan stays below 2^41. */
static bool is_prime(uint64_t n)
{
	static const uint8_t bases[] = { 2, 3, 5, 7, 11, 13, 17 };
	uint64_t d = n - 1;
	unsigned s = 0;

	if (n < 2)
		return false;
	for (size_t i = 0; i < sizeof(bases); i++)
		if (n % bases[i] == 0)
			return n == bases[i];
	while (!(d & 1)) {
		d >>= 1;
		s++;
	}
	for (size_t i = 0; i < sizeof(bases); i++) {
		uint64_t x = powmod(bases[i], d, n);
		unsigned r;

		if (x == 1 || x == n - 1)
			continue;
		for (r = 1; r < s; r++) {
			x = mulmod(x, x, n);
			if (x == n - 1)
				break;
		}
		if (r == s)
			return false;
	}
	return true;
}

static void mr_scan(uint64_t base, uint32_t span, uint32_t *count, uint32_t *offset_sum)
{
	*count = 0;
	*offset_sum = 0;
	for (uint32_t i = 0; i < span; i++)
		if (is_prime(base + i)) {
			(*count)++;
			*offset_sum += i;
		}
}

/* ---- one result over all iterations ---- */

struct wl_tally {
	uint32_t wrong;		/* iterations that got another value */
	uint64_t first_wrong;
};

static void wl_count(struct wl_tally *t, uint64_t got, uint64_t want)
{
	if (got != want && !t->wrong++)
		t->first_wrong = got;
}

static void wl_report(const struct wl_tally *t, uint32_t iterations, const char *what, uint64_t want)
{
	if (!t->wrong)
		child_check(true, "%s = 0x%lx (%lu) in all %u iterations", what, (unsigned long)want,
			    (unsigned long)want, iterations);
	else
		child_check(false, "%s = 0x%lx in %u of %u iterations, want 0x%lx", what,
			    (unsigned long)t->first_wrong, t->wrong, iterations, (unsigned long)want);
}

void child_workload(uint32_t iterations)
{
	struct wl_tally sieve = { 0, 0 }, crc_check = { 0, 0 }, crc_buf_t = { 0, 0 };
	struct wl_tally mr_count = { 0, 0 }, mr_sum = { 0, 0 };
	uint64_t t0, t1;

	t0 = rdtsc();
	for (uint32_t it = 0; it < iterations; it++) {
		uint32_t count, sum;

		wl_count(&sieve, sieve_count((uint32_t)launder(SIEVE_LIMIT)), SIEVE_PRIMES);
		crc_init();
		wl_count(&crc_check, crc32((const uint8_t *)launder((uintptr_t)"123456789"), 9),
		      CRC_CHECK_EXPECT);
		lcg_fill(crc_buf, sizeof(crc_buf), (uint32_t)launder(CRC_BUF_SEED));
		wl_count(&crc_buf_t, crc32(crc_buf, sizeof(crc_buf)), CRC_BUF_EXPECT);
		mr_scan(launder(MR_BASE), MR_SPAN, &count, &sum);
		wl_count(&mr_count, count, MR_PRIMES);
		wl_count(&mr_sum, sum, MR_OFFSET_SUM);
	}
	t1 = rdtsc();
	child_set_cycles(t1 - t0);

	wl_report(&sieve, iterations, "sieve: primes below 100000", SIEVE_PRIMES);
	wl_report(&crc_check, iterations, "CRC-32 of \"123456789\"", CRC_CHECK_EXPECT);
	wl_report(&crc_buf_t, iterations, "CRC-32 of 16 KiB of LCG bytes", CRC_BUF_EXPECT);
	wl_report(&mr_count, iterations, "Miller-Rabin: primes in [2^40, 2^40+1024)", MR_PRIMES);
	wl_report(&mr_sum, iterations, "Miller-Rabin: sum of their offsets", MR_OFFSET_SUM);
	child_check(t1 > t0, "workload: %u iterations in %lu TSC cycles", iterations,
		    (unsigned long)(t1 - t0));
}
