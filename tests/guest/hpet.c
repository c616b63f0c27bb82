/* The HPET a child partition's guest finds through its ACPI tables
 * (IA-PC HPET Specification 1.0a; docs/hypervisor.md "Unmodified
 * guests"): the root's worker emulates it at the address the HPET
 * Description Table gives, every access an unmapped-GPA intercept whose
 * instruction the worker decodes.  The bare platform has no HPET, so the
 * test skips there; meson runs it as `hvsim run --child-kernel hpet.elf`.
 *
 * Checked: the table (signature, checksum, base in system memory, Event
 * Timer Block ID = the capabilities register's low half); capabilities
 * (64-bit counter, period at most 100 ns, no legacy route); the counter
 * halted after reset keeps a written value; running, it counts at the
 * rate its period says, measured against the ACPI PM timer (the FADT's
 * PM_TMR_BLK, 3.579545 MHz) over 5 ms; halted again, it stops; a
 * comparator keeps what is written, through 8-, 16-, 32- and 64-bit
 * MOVs, MOVZX and MOVSX. */
#include "guest.h"

#define HPET_CAP 0x000
#define HPET_CONFIG 0x010
#define HPET_COUNTER 0x0f0
#define HPET_T1_CONFIG 0x120
#define HPET_T1_COMPARATOR 0x128
#define HPET_TN_32MODE (1u << 8)
#define PM_TIMER_HZ 3579545ull
#define RATE_WINDOW_PM 17898	/* PM timer ticks: 5 ms */
#define RATE_SLACK_PERMILLE 10	/* each read is an intercept round trip of ~10 us */

static uint64_t hpet_base;
static uint16_t pm_port;

static const uint8_t *find_rsdp(void)
{
	for (uintptr_t p = 0xE0000; p < 0x100000; p += 16)
		if (!memcmp((const void *)p, "RSD PTR ", 8))
			return (const uint8_t *)p;
	return NULL;
}

/* The RSDT entry with signature `sig`, NULL if none. */
static const uint8_t *find_table(const char *sig)
{
	const uint8_t *rsdp = find_rsdp(), *rsdt;
	uint32_t len, a;

	if (!rsdp)
		return NULL;
	memcpy(&a, rsdp + 16, 4);
	rsdt = (const uint8_t *)(uintptr_t)a;
	memcpy(&len, rsdt + 4, 4);
	for (uint32_t off = 36; off + 4 <= len; off += 4) {
		memcpy(&a, rsdt + off, 4);
		if (!memcmp((const void *)(uintptr_t)a, sig, 4))
			return (const uint8_t *)(uintptr_t)a;
	}
	return NULL;
}

static uint8_t sum(const uint8_t *p, uint32_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static volatile uint64_t *reg64(unsigned off)
{
	return (volatile uint64_t *)(uintptr_t)(hpet_base + off);
}

static volatile uint32_t *reg32(unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(hpet_base + off);
}

static uint32_t pm_read(void)
{
	return inl(pm_port);
}

static uint64_t table_and_id(void)
{
	const uint8_t *t = find_table("HPET"), *fadt = find_table("FACP");
	uint32_t len, id, pm;
	uint64_t cap;

	if (!t)
		guest_skip("no HPET table in the ACPI tables (the bare platform has no HPET)");
	memcpy(&len, t + 4, 4);
	memcpy(&id, t + 36, 4);
	memcpy(&hpet_base, t + 44, 8);
	report(len >= 56 && sum(t, len) == 0 && t[40] == 0,
	       "HPET table: %u bytes, checksum right, base 0x%lx in system memory (space %u)", len,
	       (unsigned long)hpet_base, t[40]);
	if (fadt) {
		memcpy(&pm, fadt + 76, 4);
		pm_port = (uint16_t)pm;
	}
	cap = *reg64(HPET_CAP);
	report((uint32_t)cap == id, "capabilities 0x%016lx: the low half is the table's Event Timer Block ID 0x%08x",
	       (unsigned long)cap, id);
	report((cap & 0xff) != 0 && (cap & (1u << 13)) && !(cap & (1u << 15)) && (cap >> 32) != 0 &&
		       (cap >> 32) <= 100000000u,
	       "revision %lu, 64-bit counter, no legacy route, %lu timers, period %lu fs (at most 100 ns)",
	       (unsigned long)(cap & 0xff), (unsigned long)((cap >> 8 & 0x1f) + 1), (unsigned long)(cap >> 32));
	return cap;
}

static void counter(uint64_t cap)
{
	uint64_t c0, c1, h0, h1, want, got;
	uint32_t p0, p1;

	report(*reg64(HPET_CONFIG) == 0, "halted after reset");
	*reg64(HPET_COUNTER) = 0xfffffff0ull;
	c0 = *reg64(HPET_COUNTER);
	c1 = *reg32(HPET_COUNTER + 4);
	report(c0 == 0xfffffff0ull && c1 == 0, "halted, the counter keeps 0x%lx (high half %lu)", (unsigned long)c0,
	       (unsigned long)c1);
	*reg32(HPET_CONFIG) = 1;
	if (!pm_port) {
		report(false, "a PM timer in the FADT to measure the rate against");
		return;
	}
	/* The rate, against the PM timer: both reads of each take one
	 * intercept round trip, so the two intervals match. */
	p0 = pm_read();
	h0 = *reg64(HPET_COUNTER);
	do
		p1 = pm_read();
	while ((uint32_t)(p1 - p0) < RATE_WINDOW_PM);
	h1 = *reg64(HPET_COUNTER);
	want = (uint64_t)(p1 - p0) * (1000000000000000ull / PM_TIMER_HZ) / (cap >> 32);
	got = h1 - h0;
	report(h0 >= 0xfffffff0ull && got * 1000 >= want * (1000 - RATE_SLACK_PERMILLE) &&
		       got * 1000 <= want * (1000 + RATE_SLACK_PERMILLE),
	       "running, it counts %lu ticks while the PM timer counts %u (want %lu +- %u permille); it carried into "
	       "the high half (0x%lx)", (unsigned long)got, p1 - p0, (unsigned long)want, RATE_SLACK_PERMILLE,
	       (unsigned long)h1);
	*reg64(HPET_CONFIG) = 0;
	c0 = *reg64(HPET_COUNTER);
	p0 = pm_read();
	while ((uint32_t)(pm_read() - p0) < RATE_WINDOW_PM / 10)
		;
	c1 = *reg64(HPET_COUNTER);
	report(c0 >= h1 && c1 == c0, "halted again, it stops at 0x%lx (0x%lx later)", (unsigned long)c0,
	       (unsigned long)c1);
}

static void comparator(void)
{
	uint64_t v;
	uint32_t zx;
	int32_t sx;

	*reg64(HPET_T1_COMPARATOR) = 0x0123456789abcdefull;
	*(volatile uint8_t *)(uintptr_t)(hpet_base + HPET_T1_COMPARATOR + 7) = 0xfe;
	*(volatile uint16_t *)(uintptr_t)(hpet_base + HPET_T1_COMPARATOR + 2) = 0x8421;
	v = *reg64(HPET_T1_COMPARATOR);
	asm volatile("movzbl (%1), %0" : "=r"(zx) : "r"(hpet_base + HPET_T1_COMPARATOR + 7) : "memory");
	asm volatile("movswl (%1), %0" : "=r"(sx) : "r"(hpet_base + HPET_T1_COMPARATOR + 2) : "memory");
	report(v == 0xfe2345678421cdefull && zx == 0xfe && sx == (int16_t)0x8421,
	       "timer 1's comparator after 64-, 8- and 16-bit stores: 0x%016lx; MOVZX 0x%x, MOVSX %d",
	       (unsigned long)v, zx, sx);
	/* 32-bit mode: the comparator keeps 32 bits (HPET 1.0a 2.3.9.2.4). */
	*reg32(HPET_T1_CONFIG) = HPET_TN_32MODE;
	*reg64(HPET_T1_COMPARATOR) = 0xffffffff12345678ull;
	v = *reg64(HPET_T1_COMPARATOR);
	report((*reg32(HPET_T1_CONFIG) & HPET_TN_32MODE) && v == 0x12345678ull,
	       "in 32-bit mode timer 1's comparator keeps 0x%lx of a 64-bit write", (unsigned long)v);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	uint64_t cap = table_and_id();

	(void)magic;
	(void)info;
	counter(cap);
	comparator();
	guest_exit((uint32_t)report_summary());
}
