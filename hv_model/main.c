/* hv_model: placeholder for the hypervisor (DESIGN.md "The machine and
 * what runs on it").  Until the hypervisor exists this image proves the
 * `hvsim run` path end to end: it validates the boot information
 * (include/hv/bootinfo.h), prints what the machine handed over, runs a
 * compute self-check whose results are known constants, and ends the run
 * through the debug-exit port: 0 on success, 1 on failure. */
#include <hv/bootinfo.h>

#include "rt.h"

#ifndef HV_MODEL_VERSION
#define HV_MODEL_VERSION "unknown"
#endif

#define HV_EXIT_PASS 0
#define HV_EXIT_FAIL 1

#define CONFIG_LINE_MAX 120	/* characters of the configuration shown */

/* ---- boot information ---- */

static int hv_range_in_ram(const struct hv_bootinfo *bi, uint64_t base, uint64_t len)
{
	return base < bi->ram_size && len <= bi->ram_size - base;
}

static int hv_check_bootinfo(const struct hv_bootinfo *bi)
{
	if (!bi || ((uintptr_t)bi & 7)) {
		rt_printf("bootinfo: bad pointer %p\n", (const void *)bi);
		return -1;
	}
	if (bi->magic != HV_BOOTINFO_MAGIC) {
		rt_printf("bootinfo: bad magic 0x%lx\n", (unsigned long)bi->magic);
		return -1;
	}
	if (bi->version != HV_BOOTINFO_VERSION) {
		rt_printf("bootinfo: version %u, firmware understands %u\n", bi->version,
			  HV_BOOTINFO_VERSION);
		return -1;
	}
	if (bi->size < sizeof(*bi)) {
		rt_printf("bootinfo: size %u smaller than %zu\n", bi->size, sizeof(*bi));
		return -1;
	}
	if (bi->mem_count > HV_BOOT_MAX_MEM || bi->module_count > HV_BOOT_MAX_MODULES) {
		rt_printf("bootinfo: %u memory ranges / %u modules exceed %u / %u\n", bi->mem_count,
			  bi->module_count, HV_BOOT_MAX_MEM, HV_BOOT_MAX_MODULES);
		return -1;
	}
	if (bi->lp_count == 0) {
		rt_printf("bootinfo: no logical processors\n");
		return -1;
	}
	return 0;
}

static const char *hv_mem_type_name(uint32_t type)
{
	switch (type) {
	case HV_MEM_AVAILABLE:
		return "available";
	case HV_MEM_RESERVED:
		return "reserved";
	case HV_MEM_ACPI:
		return "acpi";
	case HV_MEM_FIRMWARE:
		return "firmware";
	case HV_MEM_MODULE:
		return "module";
	case HV_MEM_BOOT:
		return "boot";
	default:
		return "unknown";
	}
}

/* Prints a NUL-terminated string the machine placed in RAM, up to the
 * first newline and at most `max` characters; never reads outside RAM. */
static void hv_print_ram_line(const struct hv_bootinfo *bi, uint64_t addr, uint64_t len, size_t max)
{
	const char *s = (const char *)(uintptr_t)addr;
	size_t n = 0;

	if (!addr || !len || !hv_range_in_ram(bi, addr, len)) {
		rt_puts("(none)");
		return;
	}
	while (n < len && n < max && s[n] && s[n] != '\n')
		n++;
	rt_printf("%.*s%s", (int)n, s, n == max ? "..." : "");
}

static void hv_print_banner(const struct hv_bootinfo *bi)
{
	uint64_t avail = 0;

	for (uint32_t i = 0; i < bi->mem_count; i++)
		if (bi->mem[i].type == HV_MEM_AVAILABLE)
			avail += bi->mem[i].length;

	rt_printf("hvsim firmware (placeholder hypervisor) %s\n", HV_MODEL_VERSION);
	rt_printf("  LPs: %u (BSP APIC id %u), TSC: %lu kHz\n", bi->lp_count, bi->bsp_apic_id,
		  (unsigned long)bi->tsc_khz);
	rt_printf("  RAM: %lu MiB (%lu MiB available), ACPI RSDP: 0x%lx\n",
		  (unsigned long)(bi->ram_size >> 20), (unsigned long)(avail >> 20),
		  (unsigned long)bi->acpi_rsdp);
	for (uint32_t i = 0; i < bi->mem_count; i++)
		rt_printf("    mem[%2u] 0x%012lx-0x%012lx %s\n", i, (unsigned long)bi->mem[i].base,
			  (unsigned long)(bi->mem[i].base + bi->mem[i].length),
			  hv_mem_type_name(bi->mem[i].type));
	rt_printf("  modules: %u\n", bi->module_count);
	for (uint32_t i = 0; i < bi->module_count; i++) {
		const struct hv_boot_module *m = &bi->modules[i];

		rt_printf("    [%u] %.*s at 0x%lx, %lu bytes, entry 0x%lx\n", i,
			  (int)strnlen(m->name, sizeof(m->name)), m->name, (unsigned long)m->base,
			  (unsigned long)m->length, (unsigned long)m->entry);
	}
	rt_puts("  config: ");
	hv_print_ram_line(bi, bi->config, bi->config_length, CONFIG_LINE_MAX);
	rt_puts("\n  cmdline: ");
	/* the command line's length is not given: stop at the end of RAM */
	hv_print_ram_line(bi, bi->cmdline,
			  bi->cmdline < bi->ram_size ? bi->ram_size - bi->cmdline : 0,
			  CONFIG_LINE_MAX);
	rt_puts("\n");
}

/* ---- compute self-check ----
 *
 * Three kernels with results known independently of this code: a sieve
 * (pi(10^5) = 9592, a standard table value), CRC-32 (the IEEE 802.3 CRC's
 * published check value for "123456789" is 0xCBF43926; the generated
 * buffer's value was computed with Python's zlib.crc32), and Miller-Rabin
 * over [10^12, 10^12 + 2000), whose 70 primes were counted with a
 * segmented sieve.  Together about four million instructions of
 * byte stores, shifts and branches, and 64-bit MUL/DIV pairs. */

#define SIEVE_N 100000
#define SIEVE_PRIMES 9592
#define CRC_BUF_LEN 32768
#define CRC_BUF_SEED 2463534242u
#define CRC_BUF_EXPECT 0x84259b0bu
#define CRC_CHECK_EXPECT 0xcbf43926u
#define MR_BASE 1000000000000ull
#define MR_SPAN 2000
#define MR_PRIMES 70

static uint8_t sieve_buf[SIEVE_N];
static uint8_t crc_buf[CRC_BUF_LEN];

static uint32_t sieve_count(void)
{
	uint32_t count = 0;

	memset(sieve_buf, 1, sizeof(sieve_buf));
	sieve_buf[0] = sieve_buf[1] = 0;
	for (uint32_t i = 2; i * i < SIEVE_N; i++)
		if (sieve_buf[i])
			for (uint32_t j = i * i; j < SIEVE_N; j += i)
				sieve_buf[j] = 0;
	for (uint32_t i = 0; i < SIEVE_N; i++)
		count += sieve_buf[i];
	return count;
}

/* Bitwise reflected CRC-32, polynomial 0x04C11DB7 (reversed 0xEDB88320). */
static uint32_t crc32(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static void crc_fill(uint8_t *p, size_t len, uint32_t x)
{
	/* Marsaglia xorshift32 (13, 17, 5) */
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* (a * b) mod m with a, b < m: MUL gives the 128-bit product in RDX:RAX
 * and DIV cannot overflow because the quotient is below m. */
static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
	uint64_t hi, lo, q, r;

	asm("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "rm"(b));
	asm("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(m));
	(void)q;
	return r;
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t m)
{
	uint64_t r = 1;

	b %= m;
	while (e) {
		if (e & 1)
			r = mulmod(r, b, m);
		b = mulmod(b, b, m);
		e >>= 1;
	}
	return r;
}

/* Deterministic for n < 3.3 * 10^24 with the first twelve prime bases. */
static int is_prime(uint64_t n)
{
	static const uint64_t bases[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37 };
	uint64_t d = n - 1;
	int s = 0;

	if (n < 2)
		return 0;
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		if (n % bases[i] == 0)
			return n == bases[i];
	while (!(d & 1)) {
		d >>= 1;
		s++;
	}
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		uint64_t x = powmod(bases[i], d, n);
		int r;

		if (x == 1 || x == n - 1)
			continue;
		for (r = 1; r < s; r++) {
			x = mulmod(x, x, n);
			if (x == n - 1)
				break;
		}
		if (r == s)
			return 0;
	}
	return 1;
}

static int hv_check(const char *what, uint64_t got, uint64_t want)
{
	int ok = got == want;

	rt_printf("  %-24s %10lu (0x%08lx) %s\n", what, (unsigned long)got, (unsigned long)got,
		  ok ? "ok" : "WRONG");
	if (!ok)
		rt_printf("  %-24s expected 0x%08lx\n", "", (unsigned long)want);
	return ok;
}

static int hv_selfcheck(void)
{
	uint64_t t0 = rdtsc(), t1;
	uint32_t mr = 0;
	int ok = 1;

	rt_printf("self-check:\n");
	ok &= hv_check("primes below 100000", sieve_count(), SIEVE_PRIMES);
	ok &= hv_check("crc32(\"123456789\")", crc32((const uint8_t *)"123456789", 9),
		       CRC_CHECK_EXPECT);
	crc_fill(crc_buf, sizeof(crc_buf), CRC_BUF_SEED);
	ok &= hv_check("crc32(xorshift 32 KiB)", crc32(crc_buf, sizeof(crc_buf)), CRC_BUF_EXPECT);
	for (uint64_t n = MR_BASE; n < MR_BASE + MR_SPAN; n++)
		mr += is_prime(n);
	ok &= hv_check("primes in 10^12+[0,2000)", mr, MR_PRIMES);
	t1 = rdtsc();
	rt_printf("self-check: %s (%lu TSC cycles)\n", ok ? "PASS" : "FAIL",
		  (unsigned long)(t1 - t0));
	return ok;
}

__attribute__((noreturn)) void hv_main(const struct hv_bootinfo *bi);

void hv_main(const struct hv_bootinfo *bi)
{
	if (hv_check_bootinfo(bi) < 0) {
		rt_printf("hvsim firmware: FAIL: unusable boot information\n");
		rt_exit(HV_EXIT_FAIL);
	}
	hv_print_banner(bi);
	rt_exit(hv_selfcheck() ? HV_EXIT_PASS : HV_EXIT_FAIL);
}
