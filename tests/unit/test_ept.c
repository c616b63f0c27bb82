/* EPT walker: translations, permissions, not-present entries, every kind
 * of misconfiguration, A/D flags, cmpxchg races and EPTP validity, against
 * a fake host memory of a few pages built here.  Every expectation is an
 * exact SDM-defined value (address, exit-qualification bits, entry bits,
 * entry count).  Nothing here is timed: the walker's speed is not a unit
 * test's business. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ept.h"

/* ---- fake host memory --------------------------------------------------- */

#define NPAGES		8
#define RAM_BASE	0x100000ull
#define PG(i)		(RAM_BASE + (uint64_t)(i) * 0x1000)

struct fake {
	uint64_t page[NPAGES][512];
	unsigned cmpxchg_calls;
	unsigned writes;
	/* Before cmpxchg call number race_at, "another processor" changes the
	 * entry at race_hpa: sets race_set, clears race_clear. */
	unsigned race_at;
	uint64_t race_hpa, race_set, race_clear;
};

static struct fake fk;
static struct fake before;	/* snapshot for "nothing was written" */

static uint64_t *slot(uint64_t hpa)
{
	if (hpa < RAM_BASE || hpa >= PG(NPAGES) || (hpa & 7))
		return NULL;
	return &fk.page[(hpa - RAM_BASE) >> 12][(hpa & 0xfff) >> 3];
}

static int fake_read64(void *opaque, uint64_t hpa, uint64_t *val)
{
	uint64_t *p = slot(hpa);

	cr_assert_eq(opaque, &fk);
	if (!p)
		return -1;
	*val = *p;
	return 0;
}

static int fake_cmpxchg64(void *opaque, uint64_t hpa, uint64_t old, uint64_t new)
{
	uint64_t *p = slot(hpa);

	cr_assert_eq(opaque, &fk);
	cr_assert_not_null(p, "cmpxchg64 on %#llx, which the walk never read", (unsigned long long)hpa);
	if (++fk.cmpxchg_calls == fk.race_at) {
		uint64_t *q = slot(fk.race_hpa);

		*q = (*q | fk.race_set) & ~fk.race_clear;
	}
	if (*p != old)
		return 1;
	*p = new;
	fk.writes++;
	return 0;
}

static const struct ept_mem mem = { fake_read64, fake_cmpxchg64, &fk };

/* ---- page tables -------------------------------------------------------- */

/* PML4 at page 0, PDPT at 1, PD at 2, PT at 3.  GPA indices 1, 2, 3, 4. */
#define IDX4	1
#define IDX3	2
#define IDX2	3
#define IDX1	4
#define GPA	((1ull << 39) | (2ull << 30) | (3ull << 21) | (4ull << 12) | 0xabc)

#define PML4E	fk.page[0][IDX4]
#define PDPTE	fk.page[1][IDX3]
#define PDE	fk.page[2][IDX2]
#define PTE	fk.page[3][IDX1]

#define R	1ull
#define W	2ull
#define X	4ull
#define RWX	7ull
#define MT(t)	((uint64_t)(t) << 3)
#define IPAT	(1ull << 6)
#define PS	(1ull << 7)
#define A	(1ull << 8)
#define D	(1ull << 9)

#define EPTP		(PG(0) | EPT_MT_WB | EPTP_PWL_4)
#define EPTP_ADON	(EPTP | EPTP_AD)

#define DATA_4K		0x12345000ull
#define DATA_2M		0x40000000ull
#define DATA_1G		0x80000000ull

static struct ept_caps caps;
static struct ept_result res;

static void setup(void)
{
	memset(&fk, 0, sizeof(fk));
	memset(&res, 0xa5, sizeof(res));	/* the walker must set every field */
	caps = (struct ept_caps){
		.exec_only = 1, .pwl4 = 1, .wb = 1, .uc = 1,
		.page_2m = 1, .page_1g = 1, .ad = 1, .maxphyaddr = 40,
	};
}

TestSuite(ept, .init = setup);

static void map_4k(uint64_t pte)
{
	PML4E = PG(1) | RWX;
	PDPTE = PG(2) | RWX;
	PDE = PG(3) | RWX;
	PTE = pte;
}

static void map_2m(uint64_t pde)
{
	PML4E = PG(1) | RWX;
	PDPTE = PG(2) | RWX;
	PDE = pde;
}

static void map_1g(uint64_t pdpte)
{
	PML4E = PG(1) | RWX;
	PDPTE = pdpte;
}

static void xlate(uint64_t eptp, uint64_t gpa, unsigned access, int ps)
{
	ept_translate(&mem, &caps, eptp, gpa, access, ps, &res);
}

static void snapshot(void)
{
	before = fk;
}

static void assert_unwritten(void)
{
	cr_assert_eq(fk.cmpxchg_calls, 0, "%u cmpxchg64 calls", fk.cmpxchg_calls);
	cr_assert_eq(memcmp(fk.page, before.page, sizeof(fk.page)), 0, "EPT memory changed");
	cr_assert_eq(res.ad_updates, 0);
}

/* Address of the entry read at `level` on the GPA path (4K tables). */
static uint64_t entry_hpa(unsigned level)
{
	static const unsigned idx[5] = { 0, IDX1, IDX2, IDX3, IDX4 };

	return PG(4 - level) + idx[level] * 8;
}

static void expect_violation(uint64_t qual, unsigned level, unsigned reads)
{
	cr_assert_eq(res.status, EPT_VIOLATION, "status %d", res.status);
	cr_assert_eq(res.qual, qual, "qual %#llx, expected %#llx", (unsigned long long)res.qual,
		     (unsigned long long)qual);
	cr_assert_eq(res.level, level, "level %u, expected %u", res.level, level);
	cr_assert_eq(res.reads, reads, "reads %u, expected %u", res.reads, reads);
	cr_assert_eq(res.hpa, 0);
}

static void expect_misconfig(unsigned level, const char *what)
{
	cr_assert_eq(res.status, EPT_MISCONFIG, "%s: status %d", what, res.status);
	cr_assert_eq(res.level, level, "%s: level %u, expected %u", what, res.level, level);
	cr_assert_eq(res.reads, 5 - level, "%s: reads %u", what, res.reads);
	cr_assert_eq(res.qual, 0, "%s", what);
	cr_assert_eq(res.hpa, 0, "%s", what);
}

/* ---- translations ------------------------------------------------------- */

Test(ept, translates_4k_page)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB) | IPAT);
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_4K | 0xabc);
	cr_assert_eq(res.page_size, 0x1000);
	cr_assert_eq(res.perms, 7);
	cr_assert_eq(res.memtype, EPT_MT_WB);
	cr_assert_eq(res.ipat, 1);
	cr_assert_eq(res.qual, 0);
	cr_assert_eq(res.level, 1);
	cr_assert_eq(res.entry_hpa, PG(3) + IDX1 * 8);
	cr_assert_eq(res.reads, 4);
	cr_assert_eq(res.ad_updates, 0);
}

Test(ept, translates_2m_page)
{
	map_2m(DATA_2M | PS | RWX | MT(EPT_MT_WT));
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_2M | (4ull << 12) | 0xabc);
	cr_assert_eq(res.page_size, 0x200000);
	cr_assert_eq(res.memtype, EPT_MT_WT);
	cr_assert_eq(res.ipat, 0);
	cr_assert_eq(res.level, 2);
	cr_assert_eq(res.entry_hpa, PG(2) + IDX2 * 8);
	cr_assert_eq(res.reads, 3);
}

Test(ept, translates_1g_page)
{
	map_1g(DATA_1G | PS | RWX | MT(EPT_MT_UC));
	xlate(EPTP, GPA, EPT_ACCESS_FETCH, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_1G | (3ull << 21) | (4ull << 12) | 0xabc);
	cr_assert_eq(res.page_size, 0x40000000);
	cr_assert_eq(res.memtype, EPT_MT_UC);
	cr_assert_eq(res.level, 3);
	cr_assert_eq(res.entry_hpa, PG(1) + IDX3 * 8);
	cr_assert_eq(res.reads, 2);
}

Test(ept, indexes_every_level_by_its_own_gpa_bits)
{
	/* A second path differing only in the PT index maps elsewhere. */
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	fk.page[3][IDX1 + 1] = 0x7777000 | R | MT(EPT_MT_WB);
	xlate(EPTP, GPA + 0x1000, EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, 0x7777abc);
	cr_assert_eq(res.perms, 1);
	cr_assert_eq(res.entry_hpa, PG(3) + (IDX1 + 1) * 8);
}

Test(ept, uses_only_gpa_bits_47_0)
{
	/* SDM 29.3.2: the walk uses only bits 47:0. */
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	xlate(EPTP, GPA | (1ull << 48) | (1ull << 63), EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_4K | 0xabc);
}

Test(ept, address_bits_up_to_maxphyaddr_are_used)
{
	caps.maxphyaddr = 52;
	map_4k((1ull << 51) | DATA_4K | RWX | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, (1ull << 51) | DATA_4K | 0xabc);
}

Test(ept, every_leaf_memory_type_that_is_not_reserved_translates)
{
	static const unsigned ok[] = { EPT_MT_UC, EPT_MT_WC, EPT_MT_WT, EPT_MT_WP, EPT_MT_WB };

	for (unsigned i = 0; i < 5; i++) {
		map_4k(DATA_4K | RWX | MT(ok[i]));
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		cr_assert_eq(res.status, EPT_OK, "memtype %u", ok[i]);
		cr_assert_eq(res.memtype, ok[i]);
	}
}

/* ---- permissions -------------------------------------------------------- */

Test(ept, write_to_read_only_page_is_violation)
{
	map_4k(DATA_4K | R | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	expect_violation(EPT_QUAL_WRITE | EPT_QUAL_READABLE, 1, 4);	/* 0x0a */
	cr_assert_eq(res.qual, 0x0a);
	cr_assert_eq(res.perms, 1);
	cr_assert_eq(res.page_size, 0x1000);
	cr_assert_eq(res.memtype, EPT_MT_WB);
	cr_assert_eq(res.entry_hpa, entry_hpa(1));
}

Test(ept, fetch_from_non_executable_page_is_violation)
{
	map_4k(DATA_4K | R | W | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_FETCH, 0);
	expect_violation(0x1c, 1, 4);	/* fetch; readable, writable */
}

Test(ept, read_of_execute_only_page_is_violation)
{
	map_4k(DATA_4K | X | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	expect_violation(0x21, 1, 4);	/* read; executable */
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	expect_violation(0x22, 1, 4);
	xlate(EPTP, GPA, EPT_ACCESS_FETCH, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.perms, 4);
}

Test(ept, permissions_are_anded_over_all_levels)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	PML4E = PG(1) | R | W;		/* no X above */
	PDE = PG(3) | R | X;		/* no W in the middle */
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.perms, 1);
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	expect_violation(0x0a, 1, 4);	/* the walk still reaches the PTE */
	xlate(EPTP, GPA, EPT_ACCESS_FETCH, 0);
	expect_violation(0x0c, 1, 4);
}

Test(ept, upper_level_denial_reports_leaf_and_anded_bits)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	PDPTE = PG(2) | R | X;
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	expect_violation(0x2a, 1, 4);	/* write; readable, executable */
	cr_assert_eq(res.perms, 5);
}

Test(ept, large_page_permissions)
{
	map_2m(DATA_2M | PS | R | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	expect_violation(0x0a, 2, 3);
	cr_assert_eq(res.page_size, 0x200000);
	map_1g(DATA_1G | PS | R | W | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_FETCH, 0);
	expect_violation(0x1c, 3, 2);
	cr_assert_eq(res.page_size, 0x40000000);
}

Test(ept, zero_access_only_walks)
{
	map_4k(DATA_4K | X | MT(EPT_MT_WB));
	xlate(EPTP, GPA, 0, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_4K | 0xabc);
}

/* ---- not present -------------------------------------------------------- */

Test(ept, not_present_at_each_level_is_violation_with_no_permissions)
{
	for (unsigned level = 4; level >= 1; level--) {
		map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
		switch (level) {
		case 4: PML4E = 0; break;
		case 3: PDPTE = 0; break;
		case 2: PDE = 0; break;
		default: PTE = 0; break;
		}
		xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
		expect_violation(EPT_QUAL_WRITE, level, 5 - level);
		cr_assert_eq(res.perms, 0);
		cr_assert_eq(res.entry_hpa, entry_hpa(level), "level %u", level);
		cr_assert_eq(res.page_size, 0);
	}
}

Test(ept, not_present_entry_ignores_its_other_bits)
{
	/* SDM 29.3.2: with bits 2:0 = 000 bits 62:3 are ignored, so reserved
	 * bits there make a violation, not a misconfiguration. */
	uint64_t junk = ~0ull & ~RWX;

	for (unsigned level = 4; level >= 1; level--) {
		map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
		switch (level) {
		case 4: PML4E = junk; break;
		case 3: PDPTE = junk; break;
		case 2: PDE = junk; break;
		default: PTE = junk; break;
		}
		xlate(EPTP, GPA, EPT_ACCESS_FETCH, 0);
		expect_violation(EPT_QUAL_FETCH, level, 5 - level);
	}
}

Test(ept, not_present_below_a_denial_still_reports_zero_permissions)
{
	map_4k(0);
	PDPTE = PG(2) | R;
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	expect_violation(EPT_QUAL_READ, 1, 4);
	cr_assert_eq(res.perms, 0);
}

/* ---- misconfigurations -------------------------------------------------- */

static void set_level(unsigned level, uint64_t e)
{
	switch (level) {
	case 4: PML4E = e; break;
	case 3: PDPTE = e; break;
	case 2: PDE = e; break;
	default: PTE = e; break;
	}
}

static uint64_t good_4k_entry(unsigned level)
{
	static const uint64_t e[5] = { 0, DATA_4K | RWX | MT(EPT_MT_WB), PG(3) | RWX, PG(2) | RWX, PG(1) | RWX };

	return e[level];
}

Test(ept, write_without_read_is_misconfig_at_every_level)
{
	for (unsigned level = 4; level >= 1; level--) {
		for (uint64_t rwx = 2; rwx <= 6; rwx += 4) {	/* 010b, 110b */
			map_4k(good_4k_entry(1));
			set_level(level, (good_4k_entry(level) & ~RWX) | rwx);
			snapshot();
			xlate(EPTP_ADON, GPA, EPT_ACCESS_READ, 0);
			expect_misconfig(level, rwx == 2 ? "010b" : "110b");
			cr_assert_eq(res.entry_hpa, entry_hpa(level));
			assert_unwritten();
		}
	}
}

Test(ept, execute_only_is_misconfig_without_the_capability)
{
	caps.exec_only = 0;
	for (unsigned level = 4; level >= 1; level--) {
		map_4k(good_4k_entry(1));
		set_level(level, (good_4k_entry(level) & ~RWX) | X);
		xlate(EPTP, GPA, EPT_ACCESS_FETCH, 0);
		expect_misconfig(level, "100b");
	}
}

Test(ept, execute_only_non_leaf_is_allowed_with_the_capability)
{
	map_4k(good_4k_entry(1));
	PDPTE = PG(2) | X;
	xlate(EPTP, GPA, EPT_ACCESS_FETCH, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.perms, 4);
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	expect_violation(0x21, 1, 4);
}

Test(ept, bits_51_to_maxphyaddr_are_reserved_at_every_level)
{
	for (unsigned level = 4; level >= 1; level--) {
		for (unsigned bit = 40; bit <= 51; bit++) {
			map_4k(good_4k_entry(1));
			set_level(level, good_4k_entry(level) | (1ull << bit));
			xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
			expect_misconfig(level, "bit 51:N");
		}
	}
	/* Bit 39 is an address bit when MAXPHYADDR is 40: a 4K leaf uses it. */
	map_4k(good_4k_entry(1) | (1ull << 39));
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, (1ull << 39) | DATA_4K | 0xabc);
}

Test(ept, bits_51_to_maxphyaddr_are_reserved_in_large_leaves)
{
	for (unsigned bit = 40; bit <= 51; bit++) {
		map_2m(DATA_2M | PS | RWX | MT(EPT_MT_WB) | (1ull << bit));
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(2, "2M bit 51:N");
		map_1g(DATA_1G | PS | RWX | MT(EPT_MT_WB) | (1ull << bit));
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(3, "1G bit 51:N");
	}
}

Test(ept, pml4e_bits_7_to_3_are_reserved)
{
	for (unsigned bit = 3; bit <= 7; bit++) {
		map_4k(good_4k_entry(1));
		PML4E |= 1ull << bit;
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(4, "PML4E bit 7:3");
	}
}

Test(ept, non_leaf_pdpte_and_pde_bits_6_to_3_are_reserved)
{
	for (unsigned bit = 3; bit <= 6; bit++) {
		map_4k(good_4k_entry(1));
		PDPTE |= 1ull << bit;
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(3, "PDPTE bit 6:3");
		map_4k(good_4k_entry(1));
		PDE |= 1ull << bit;
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(2, "PDE bit 6:3");
	}
}

Test(ept, low_address_bits_of_large_leaves_are_reserved)
{
	for (unsigned bit = 12; bit <= 20; bit++) {
		map_2m(DATA_2M | PS | RWX | MT(EPT_MT_WB) | (1ull << bit));
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(2, "2M bit 20:12");
	}
	for (unsigned bit = 12; bit <= 29; bit++) {
		map_1g(DATA_1G | PS | RWX | MT(EPT_MT_WB) | (1ull << bit));
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(3, "1G bit 29:12");
	}
	/* Bit 21 is an address bit of a 1G leaf only below bit 30. */
	map_2m(DATA_2M | (1ull << 21) | PS | RWX | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_2M | (1ull << 21) | (4ull << 12) | 0xabc);
}

Test(ept, large_page_bit_without_the_capability_is_misconfig)
{
	caps.page_2m = 0;
	map_2m(DATA_2M | PS | RWX | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	expect_misconfig(2, "2M without cap");
	caps.page_2m = 1;
	caps.page_1g = 0;
	map_1g(DATA_1G | PS | RWX | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	expect_misconfig(3, "1G without cap");
	/* The 1G cap does not affect a 2M page. */
	map_2m(DATA_2M | PS | RWX | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
}

Test(ept, pml4e_page_size_bit_is_misconfig_even_with_1g_pages)
{
	map_4k(good_4k_entry(1));
	PML4E = DATA_1G | PS | RWX;
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	expect_misconfig(4, "PML4E bit 7");
}

Test(ept, reserved_memory_types_in_a_leaf_are_misconfig)
{
	static const unsigned bad[] = { 2, 3, 7 };

	for (unsigned i = 0; i < 3; i++) {
		map_4k(DATA_4K | RWX | MT(bad[i]));
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(1, "4K memtype");
		map_2m(DATA_2M | PS | RWX | MT(bad[i]));
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(2, "2M memtype");
		map_1g(DATA_1G | PS | RWX | MT(bad[i]));
		xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
		expect_misconfig(3, "1G memtype");
	}
}

Test(ept, misconfig_below_a_denial_wins_over_the_violation)
{
	/* SDM 29.3.3.2: a violation needs a translation without a
	 * misconfiguration. */
	map_4k(DATA_4K | RWX | MT(7));
	PDPTE = PG(2) | R;
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	expect_misconfig(1, "memtype 7 under read-only PDPTE");
}

Test(ept, unreadable_entry_is_misconfig)
{
	map_4k(good_4k_entry(1));
	PDPTE = 0x8000000ull | RWX;	/* no RAM there */
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	expect_misconfig(2, "entry not in RAM");
	cr_assert_eq(res.entry_hpa, 0x8000000ull + IDX2 * 8);
	caps.maxphyaddr = 52;		/* no reserved address bits: still 7:3 / memtype */
	xlate(EPTP, GPA, EPT_ACCESS_READ, 0);
	expect_misconfig(2, "entry not in RAM, N = 52");
}

Test(ept, ignored_bits_do_not_misconfigure)
{
	uint64_t hi = 0xfff0000000000000ull;	/* 63:52 */

	/* Non-leaf: 11:8 and 63:52 (A/D off: bit 8 is ignored too). */
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB) | hi | (1ull << 7) | (3ull << 10));	/* PTE: 7, 11:10 */
	PML4E |= hi | (0xfull << 8);
	PDPTE |= hi | (0xfull << 8);
	PDE |= hi | (0xfull << 8);
	snapshot();
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_4K | 0xabc);
	assert_unwritten();
	/* Large leaves: 11:10 and 63:52. */
	map_2m(DATA_2M | PS | RWX | MT(EPT_MT_WB) | hi | (3ull << 10));
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_2M | (4ull << 12) | 0xabc);
	map_1g(DATA_1G | PS | RWX | MT(EPT_MT_WB) | hi | (3ull << 10));
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(res.status, EPT_OK);
}

/* ---- accessed and dirty flags ------------------------------------------- */

Test(ept, read_with_ad_sets_accessed_in_every_entry_and_no_dirty)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	xlate(EPTP_ADON, GPA, EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(PML4E, PG(1) | RWX | A);
	cr_assert_eq(PDPTE, PG(2) | RWX | A);
	cr_assert_eq(PDE, PG(3) | RWX | A);
	cr_assert_eq(PTE, DATA_4K | RWX | MT(EPT_MT_WB) | A);
	cr_assert_eq(res.ad_updates, 4);
	cr_assert_eq(res.reads, 4);
}

Test(ept, write_with_ad_sets_dirty_in_the_leaf_only)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	xlate(EPTP_ADON, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(PML4E, PG(1) | RWX | A);
	cr_assert_eq(PDPTE, PG(2) | RWX | A);
	cr_assert_eq(PDE, PG(3) | RWX | A);
	cr_assert_eq(PTE, DATA_4K | RWX | MT(EPT_MT_WB) | A | D);
	cr_assert_eq(res.ad_updates, 4);
}

Test(ept, fetch_with_ad_sets_accessed_only)
{
	map_4k(DATA_4K | X | MT(EPT_MT_WB));
	xlate(EPTP_ADON, GPA, EPT_ACCESS_FETCH, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(PTE, DATA_4K | X | MT(EPT_MT_WB) | A);
}

Test(ept, large_leaves_take_dirty_and_tables_below_are_untouched)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));	/* a PT nobody uses */
	PDE = DATA_2M | PS | RWX | MT(EPT_MT_WB);
	xlate(EPTP_ADON, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(PML4E, PG(1) | RWX | A);
	cr_assert_eq(PDPTE, PG(2) | RWX | A);
	cr_assert_eq(PDE, DATA_2M | PS | RWX | MT(EPT_MT_WB) | A | D);
	cr_assert_eq(PTE, DATA_4K | RWX | MT(EPT_MT_WB));
	cr_assert_eq(res.ad_updates, 3);

	PDPTE = DATA_1G | PS | RWX | MT(EPT_MT_WB);
	xlate(EPTP_ADON, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(PML4E, PG(1) | RWX | A);
	cr_assert_eq(PDPTE, DATA_1G | PS | RWX | MT(EPT_MT_WB) | A | D);
	cr_assert_eq(res.ad_updates, 1);	/* PML4E had A already */
}

Test(ept, flags_already_set_are_not_written_again)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB) | A | D);
	PML4E |= A;
	PDPTE |= A;
	PDE |= A;
	snapshot();
	xlate(EPTP_ADON, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(res.status, EPT_OK);
	assert_unwritten();
}

Test(ept, no_flags_without_eptp_bit_6)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	snapshot();
	xlate(EPTP, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(res.status, EPT_OK);
	assert_unwritten();
	xlate(EPTP, GPA, EPT_ACCESS_READ, 1);
	cr_assert_eq(res.status, EPT_OK);
	assert_unwritten();
}

Test(ept, no_flags_on_violation_or_misconfig)
{
	map_4k(DATA_4K | R | MT(EPT_MT_WB));
	snapshot();
	xlate(EPTP_ADON, GPA, EPT_ACCESS_WRITE, 0);
	expect_violation(0x0a, 1, 4);
	assert_unwritten();

	map_4k(0);
	snapshot();
	xlate(EPTP_ADON, GPA, EPT_ACCESS_READ, 0);
	expect_violation(EPT_QUAL_READ, 1, 4);
	assert_unwritten();

	map_4k(DATA_4K | RWX | MT(3));
	snapshot();
	xlate(EPTP_ADON, GPA, EPT_ACCESS_READ, 0);
	expect_misconfig(1, "memtype 3");
	assert_unwritten();
}

Test(ept, paging_structure_access_with_ad_is_a_write)
{
	/* SDM 29.3.5: a guest paging-structure read sets the leaf's D. */
	map_4k(DATA_4K | R | W | MT(EPT_MT_WB));
	xlate(EPTP_ADON, GPA, EPT_ACCESS_READ, 1);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(PDE, PG(3) | RWX | A);
	cr_assert_eq(PTE, DATA_4K | R | W | MT(EPT_MT_WB) | A | D);
}

Test(ept, paging_structure_access_with_ad_to_read_only_page_reports_read_and_write)
{
	/* Footnote to bit 1 of the EPT-violation exit qualification: both
	 * bit 0 and bit 1 are set. */
	map_4k(DATA_4K | R | MT(EPT_MT_WB));
	snapshot();
	xlate(EPTP_ADON, GPA, EPT_ACCESS_READ, 1);
	expect_violation(0x0b, 1, 4);	/* read, write; readable */
	assert_unwritten();
	/* The guest's own A/D update of that entry reports the same. */
	xlate(EPTP_ADON, GPA, EPT_ACCESS_WRITE, 1);
	expect_violation(0x0b, 1, 4);
	assert_unwritten();
}

Test(ept, paging_structure_access_without_ad_is_a_read)
{
	map_4k(DATA_4K | R | MT(EPT_MT_WB));
	snapshot();
	xlate(EPTP, GPA, EPT_ACCESS_READ, 1);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_4K | 0xabc);
	assert_unwritten();
	map_4k(DATA_4K | X | MT(EPT_MT_WB));
	xlate(EPTP, GPA, EPT_ACCESS_READ, 1);
	expect_violation(0x21, 1, 4);	/* read only; executable */
}

/* ---- concurrent changes ------------------------------------------------- */

Test(ept, lost_cmpxchg_walks_again_and_keeps_the_other_change)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	fk.race_at = 4;				/* the PTE's cmpxchg */
	fk.race_hpa = entry_hpa(1);
	fk.race_set = 1ull << 11;		/* software's ignored bit */
	xlate(EPTP_ADON, GPA, EPT_ACCESS_WRITE, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(PTE, DATA_4K | RWX | MT(EPT_MT_WB) | (1ull << 11) | A | D);
	cr_assert_eq(PML4E, PG(1) | RWX | A);
	cr_assert_eq(res.reads, 8);		/* two full walks */
	cr_assert_eq(fk.cmpxchg_calls, 5);	/* 4, then only the PTE */
	cr_assert_eq(res.ad_updates, 4);
	cr_assert_eq(res.hpa, DATA_4K | 0xabc);
}

Test(ept, lost_cmpxchg_to_a_now_absent_entry_ends_in_violation)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	fk.race_at = 4;
	fk.race_hpa = entry_hpa(1);
	fk.race_clear = RWX;			/* another LP unmaps the page */
	xlate(EPTP_ADON, GPA, EPT_ACCESS_WRITE, 0);
	expect_violation(EPT_QUAL_WRITE, 1, 8);
	cr_assert_eq(PTE, DATA_4K | MT(EPT_MT_WB));	/* no A, no D */
	cr_assert_eq(res.ad_updates, 3);	/* the first walk's upper entries */
}

/* ---- EPTP --------------------------------------------------------------- */

Test(ept, eptp_memory_type_must_be_a_supported_uc_or_wb)
{
	cr_assert_eq(ept_eptp_valid(EPTP, &caps), 1);
	cr_assert_eq(ept_eptp_valid((EPTP & ~7ull) | EPT_MT_UC, &caps), 1);
	for (uint64_t mt = 0; mt < 8; mt++) {
		if (mt == EPT_MT_UC || mt == EPT_MT_WB)
			continue;
		cr_assert_eq(ept_eptp_valid((EPTP & ~7ull) | mt, &caps), 0, "memtype %u", (unsigned)mt);
	}
	caps.wb = 0;
	cr_assert_eq(ept_eptp_valid(EPTP, &caps), 0);
	cr_assert_eq(ept_eptp_valid((EPTP & ~7ull) | EPT_MT_UC, &caps), 1);
	caps.wb = 1;
	caps.uc = 0;
	cr_assert_eq(ept_eptp_valid((EPTP & ~7ull) | EPT_MT_UC, &caps), 0);
	cr_assert_eq(ept_eptp_valid(EPTP, &caps), 1);
}

Test(ept, eptp_walk_length_must_be_4)
{
	for (uint64_t pwl = 0; pwl < 8; pwl++)
		cr_assert_eq(ept_eptp_valid((EPTP & ~EPTP_PWL_MASK) | pwl << 3, &caps), pwl == 3,
			     "bits 5:3 = %u", (unsigned)pwl);
	caps.pwl4 = 0;
	cr_assert_eq(ept_eptp_valid(EPTP, &caps), 0);
}

Test(ept, eptp_ad_bit_needs_the_capability)
{
	cr_assert_eq(ept_eptp_valid(EPTP_ADON, &caps), 1);
	caps.ad = 0;
	cr_assert_eq(ept_eptp_valid(EPTP_ADON, &caps), 0);
	cr_assert_eq(ept_eptp_valid(EPTP, &caps), 1);
}

Test(ept, eptp_reserved_bits_must_be_0)
{
	for (unsigned bit = 7; bit <= 11; bit++)
		cr_assert_eq(ept_eptp_valid(EPTP | 1ull << bit, &caps), 0, "bit %u", bit);
	for (unsigned bit = 40; bit <= 63; bit++)
		cr_assert_eq(ept_eptp_valid(EPTP | 1ull << bit, &caps), 0, "bit %u", bit);
	cr_assert_eq(ept_eptp_valid(EPTP | 1ull << 39, &caps), 1);
	caps.maxphyaddr = 52;
	cr_assert_eq(ept_eptp_valid(EPTP | 1ull << 51, &caps), 1);
	cr_assert_eq(ept_eptp_valid(EPTP | 1ull << 52, &caps), 0);
}

Test(ept, eptp_attribute_bits_do_not_move_the_pml4)
{
	map_4k(DATA_4K | RWX | MT(EPT_MT_WB));
	xlate((EPTP & ~7ull) | EPT_MT_UC, GPA, EPT_ACCESS_READ, 0);
	cr_assert_eq(res.status, EPT_OK);
	cr_assert_eq(res.hpa, DATA_4K | 0xabc);
	cr_assert_eq(res.entry_hpa, entry_hpa(1));
}

Test(ept, caps_from_msr_reads_the_a10_bits)
{
	struct ept_caps c;

	/* Bits 0, 6, 8, 14, 16, 17, 21 plus INVEPT/INVVPID bits that do not
	 * concern the walker. */
	ept_caps_from_msr(1ull << 0 | 1ull << 6 | 1ull << 8 | 1ull << 14 | 1ull << 16 | 1ull << 17 |
			  1ull << 21 | 1ull << 20 | 1ull << 32, 46, &c);
	cr_assert_eq(c.exec_only, 1);
	cr_assert_eq(c.pwl4, 1);
	cr_assert_eq(c.uc, 1);
	cr_assert_eq(c.wb, 1);
	cr_assert_eq(c.page_2m, 1);
	cr_assert_eq(c.page_1g, 1);
	cr_assert_eq(c.ad, 1);
	cr_assert_eq(c.maxphyaddr, 46);
	/* Only WB, with INVEPT (bit 20) and INVVPID (bit 32) beside it. */
	ept_caps_from_msr(1ull << 14 | 1ull << 20 | 1ull << 32, 39, &c);
	cr_assert_eq(c.wb, 1);
	cr_assert(!c.exec_only && !c.pwl4 && !c.uc && !c.page_2m && !c.page_1g && !c.ad);
}
