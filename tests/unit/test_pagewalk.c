/* Guest page-table walker: every paging mode against a fake guest-physical
 * memory of a few pages, with exact addresses, #PF error codes and
 * accessed/dirty flags (SDM Vol. 3A 4.3-4.8).  Entry and register bits are
 * spelled out here from the SDM, not taken from the walker. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pagewalk.h"

/* Paging-structure entry flags. */
#define P	0x1ull
#define RW	0x2ull
#define US	0x4ull
#define A	0x20ull
#define D	0x40ull
#define PS	0x80ull
#define G	0x100ull
#define XD	(1ull << 63)
#define ALL	(P | RW | US)

#define CR0_PE	(1ull << 0)
#define CR0_WP	(1ull << 16)
#define CR0_PG	(1ull << 31)
#define CR4_PSE	(1ull << 4)
#define CR4_PAE	(1ull << 5)
#define CR4_PGE	(1ull << 7)
#define CR4_LA57 (1ull << 12)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* #PF error-code bits (SDM 4.7). */
#define E_P	0x1u
#define E_W	0x2u
#define E_U	0x4u
#define E_RSVD	0x8u
#define E_ID	0x10u

#define PERM_ALL (PW_PERM_WRITE | PW_PERM_USER | PW_PERM_EXEC)

/* Fake guest-physical memory: MEM_PAGES pages from MEM_BASE. */
#define MEM_BASE	0x10000ull
#define MEM_PAGES	8
#define PG(n)		(MEM_BASE + (uint64_t)(n) * 0x1000)

static struct fake {
	uint8_t mem[MEM_PAGES * 0x1000];
	unsigned reads;
	unsigned ncx;			/* successful cmpxchg calls */
	uint64_t cx_gpa[16];		/* ... the first 16 addresses, in order */
	unsigned cx_size[16];
	uint64_t abort_read_at;		/* a read here aborts (0: none) */
	uint64_t abort_cx_at;		/* a cmpxchg here aborts (0: none) */
	uint64_t race_at;		/* the first cmpxchg here finds race_val stored instead */
	uint64_t race_val;
} fk;

static int in_mem(uint64_t gpa, unsigned size)
{
	return gpa >= MEM_BASE && gpa + size <= MEM_BASE + sizeof(fk.mem) && !(gpa & (size - 1));
}

static uint64_t get(uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	cr_assert(in_mem(gpa, size), "access outside fake memory at %#llx", (unsigned long long)gpa);
	memcpy(&v, fk.mem + (gpa - MEM_BASE), size);	/* the host is little-endian x86 */
	return v;
}

static void put(uint64_t gpa, unsigned size, uint64_t v)
{
	cr_assert(in_mem(gpa, size), "access outside fake memory at %#llx", (unsigned long long)gpa);
	memcpy(fk.mem + (gpa - MEM_BASE), &v, size);
}

#define get64(gpa)	get(gpa, 8)
#define get32(gpa)	get(gpa, 4)
#define set64(gpa, v)	put(gpa, 8, v)
#define set32(gpa, v)	put(gpa, 4, v)

static int fake_read(void *opaque, uint64_t gpa, unsigned size, uint64_t *val)
{
	struct fake *f = opaque;

	cr_assert(size == 4 || size == 8);
	f->reads++;
	if (f->abort_read_at && gpa == f->abort_read_at)
		return -1;
	*val = get(gpa, size);
	return PW_MEM_OK;
}

static int fake_cmpxchg(void *opaque, uint64_t gpa, unsigned size, uint64_t old, uint64_t new)
{
	struct fake *f = opaque;

	cr_assert(size == 4 || size == 8);
	if (f->abort_cx_at && gpa == f->abort_cx_at)
		return -5;
	if (f->race_at && gpa == f->race_at) {
		/* Another processor changed the entry since the walk read it. */
		put(gpa, size, f->race_val);
		f->race_at = 0;
	}
	if (get(gpa, size) != old)
		return PW_MEM_CHANGED;
	put(gpa, size, new);
	if (f->ncx < 16) {
		f->cx_gpa[f->ncx] = gpa;
		f->cx_size[f->ncx] = size;
	}
	f->ncx++;
	return PW_MEM_OK;
}

static const struct pw_mem mops = { .read = fake_read, .cmpxchg = fake_cmpxchg, .opaque = &fk };

static void setup(void)
{
	memset(&fk, 0, sizeof(fk));
}

TestSuite(pagewalk, .init = setup);

static struct pw_result walk(const struct pw_regs *r, uint64_t lin, unsigned access)
{
	struct pw_result res;

	memset(&res, 0xa5, sizeof(res));	/* every output must be written */
	pw_walk(&mops, r, lin, access, &res);
	return res;
}

static void expect_ok(const struct pw_regs *r, uint64_t lin, unsigned access, uint64_t gpa, uint64_t size)
{
	struct pw_result res = walk(r, lin, access);

	cr_assert_eq(res.status, PW_OK, "lin %#llx access %#x: status %d error %#x", (unsigned long long)lin,
		     access, res.status, res.pf_error);
	cr_assert_eq(res.gpa, gpa, "lin %#llx: gpa %#llx, expected %#llx", (unsigned long long)lin,
		     (unsigned long long)res.gpa, (unsigned long long)gpa);
	cr_assert_eq(res.page_size, size, "lin %#llx: page size %#llx", (unsigned long long)lin,
		     (unsigned long long)res.page_size);
	cr_assert_eq(res.pf_error, 0);
}

static void expect_pf(const struct pw_regs *r, uint64_t lin, unsigned access, uint32_t code)
{
	struct pw_result res = walk(r, lin, access);

	cr_assert_eq(res.status, PW_PAGE_FAULT, "lin %#llx access %#x: status %d, expected a #PF",
		     (unsigned long long)lin, access, res.status);
	cr_assert_eq(res.pf_error, code, "lin %#llx access %#x: error code %#x, expected %#x",
		     (unsigned long long)lin, access, res.pf_error, code);
}

/* ---- register sets ---- */

static struct pw_regs regs_32(void)
{
	return (struct pw_regs){ .cr0 = CR0_PE | CR0_PG, .cr3 = PG(0), .maxphyaddr = 40 };
}

static struct pw_regs regs_pae(void)
{
	return (struct pw_regs){
		.cr0 = CR0_PE | CR0_PG, .cr3 = 0xfe0, .cr4 = CR4_PAE, .efer = EFER_NXE, .maxphyaddr = 40,
	};
}

static struct pw_regs regs_64(void)
{
	return (struct pw_regs){
		.cr0 = CR0_PE | CR0_PG, .cr3 = PG(0), .cr4 = CR4_PAE, .efer = EFER_LME | EFER_LMA | EFER_NXE,
		.maxphyaddr = 46, .page_1g = 1,
	};
}

/* ---- 4-level tables: PML4 at PG(0), PDPT PG(1), PD PG(2), PT PG(3) ---- */

/* PML4 index 1, PDPT index 2, PD index 3, PT index 4, offset 0x567. */
#define LIN	0x0000008080604567ull
#define FRAME	0x0000123456789000ull
#define FRAME2	0x00000abcdef01000ull

/* Address of the entry of `level` (4 PML4E ... 1 PTE) used for lin. */
static uint64_t ent(unsigned level, uint64_t lin)
{
	return PG(4 - level) + (((lin >> (12 + 9 * (level - 1))) & 0x1ff) << 3);
}

static void map64(uint64_t lin, uint64_t f4, uint64_t f3, uint64_t f2, uint64_t f1, uint64_t frame)
{
	set64(ent(4, lin), PG(1) | f4);
	set64(ent(3, lin), PG(2) | f3);
	set64(ent(2, lin), PG(3) | f2);
	set64(ent(1, lin), frame | f1);
}

/* ======================= no paging ======================= */

Test(pagewalk, no_paging_is_identity_on_low_32_bits)
{
	struct pw_regs r = { .cr0 = CR0_PE, .maxphyaddr = 46 };
	struct pw_result res = walk(&r, 0x123456789ull, PW_WRITE | PW_USER);

	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, 0x23456789ull);
	cr_assert_eq(res.page_size, 0x1000);
	cr_assert_eq(res.perms, PERM_ALL);
	cr_assert_eq(res.dirty, 1);
	cr_assert_eq(res.reads, 0);
	r.efer = EFER_LMA;
	expect_ok(&r, 0x123456789ull, PW_FETCH, 0x123456789ull, 0x1000);
	cr_assert_eq(pw_check_access(&r, 0, PW_WRITE | PW_USER), 0);
}

/* ======================= 32-bit paging (SDM 4.3) ======================= */

Test(pagewalk, bit32_4k_page)
{
	struct pw_regs r = regs_32();
	struct pw_result res;

	set32(PG(0) + 2 * 4, PG(1) | ALL);		/* PDE 2 */
	set32(PG(1) + 5 * 4, 0xabcde000u | ALL);	/* PTE 5 */
	res = walk(&r, 0x00805123, 0);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, 0xabcde123ull);
	cr_assert_eq(res.page_size, 0x1000);
	cr_assert_eq(res.perms, PERM_ALL);
	cr_assert_eq(res.reads, 2);
	/* Bits 63:32 of the linear address play no part. */
	expect_ok(&r, 0xffff000000805fffull, 0, 0xabcdefffull, 0x1000);
}

Test(pagewalk, bit32_4m_page_with_pse36)
{
	struct pw_regs r = regs_32();
	struct pw_result res;

	r.cr4 = CR4_PSE;
	/* PDE 0x30: bits 31:22 = 0x3ff, bits 20:13 = 0x5a give address bits 39:32. */
	set32(PG(0) + 0x30 * 4, 0xffc00000u | (0x5au << 13) | PS | ALL);
	res = walk(&r, 0x0c123456, PW_WRITE);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, 0x5affd23456ull);
	cr_assert_eq(res.page_size, 0x400000);
	cr_assert_eq(res.reads, 1);

	/* MAXPHYADDR 36: bits 16:13 give address bits 35:32, 21:17 are reserved. */
	r.maxphyaddr = 36;
	set32(PG(0) + 0x30 * 4, 0x00400000u | (0xfu << 13) | PS | ALL);
	expect_ok(&r, 0x0c000001, 0, 0xf00400001ull, 0x400000);
	set32(PG(0) + 0x30 * 4, 0x00400000u | (1u << 17) | PS | ALL);
	expect_pf(&r, 0x0c000001, 0, E_P | E_RSVD);

	/* MAXPHYADDR 32: no PSE-36 bits at all, 21:13 reserved. */
	r.maxphyaddr = 32;
	set32(PG(0) + 0x30 * 4, 0x00400000u | (1u << 13) | PS | ALL);
	expect_pf(&r, 0x0c000001, 0, E_P | E_RSVD);
}

Test(pagewalk, bit32_4m_page_bit21_reserved)
{
	struct pw_regs r = regs_32();

	r.cr4 = CR4_PSE;
	set32(PG(0) + 1 * 4, 0x00c00000u | (1u << 21) | PS | ALL);
	expect_pf(&r, 0x00400000, 0, E_P | E_RSVD);
	expect_pf(&r, 0x00400000, PW_WRITE | PW_USER, E_P | E_W | E_U | E_RSVD);
	cr_assert_eq(fk.ncx, 0);
	set32(PG(0) + 1 * 4, 0x00c00000u | (1u << 20) | PS | ALL);
	expect_ok(&r, 0x00400000, 0, 0x8000c00000ull, 0x400000);
}

Test(pagewalk, bit32_ps_ignored_without_cr4_pse)
{
	struct pw_regs r = regs_32();

	set32(PG(0) + 1 * 4, PG(1) | PS | ALL);		/* a PT pointer with CR4.PSE=0 */
	set32(PG(1) + 7 * 4, 0x12345000u | ALL);
	expect_ok(&r, 0x00407abc, 0, 0x12345abcull, 0x1000);
}

Test(pagewalk, bit32_not_present)
{
	struct pw_regs r = regs_32();

	r.efer = EFER_NXE;	/* no effect without CR4.PAE: fetches get no I/D */
	expect_pf(&r, 0x00401000, 0, 0);
	expect_pf(&r, 0x00401000, PW_WRITE, E_W);
	expect_pf(&r, 0x00401000, PW_USER, E_U);
	expect_pf(&r, 0x00401000, PW_USER | PW_WRITE, E_U | E_W);
	expect_pf(&r, 0x00401000, PW_FETCH, 0);
	r.cr4 = CR4_SMEP;
	expect_pf(&r, 0x00401000, PW_FETCH | PW_USER, E_ID | E_U);
	/* PDE present, PTE not. */
	r.cr4 = 0;
	set32(PG(0) + 1 * 4, PG(1) | ALL);
	expect_pf(&r, 0x00401000, PW_USER | PW_WRITE, E_U | E_W);
	cr_assert_eq(fk.reads, 8);
}

Test(pagewalk, bit32_accessed_dirty_are_4_byte_updates)
{
	struct pw_regs r = regs_32();
	struct pw_result res;

	set32(PG(0) + 1 * 4, PG(1) | ALL);
	set32(PG(1) + 2 * 4, 0x55555000u | ALL);
	res = walk(&r, 0x00402000, 0);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.dirty, 0);
	cr_assert_eq(get32(PG(0) + 4), PG(1) | ALL | A);
	cr_assert_eq(get32(PG(1) + 8), 0x55555000u | ALL | A);
	cr_assert_eq(fk.ncx, 2);
	cr_assert_eq(fk.cx_size[0], 4);
	cr_assert_eq(fk.cx_size[1], 4);
	/* The neighbouring dword is not touched. */
	cr_assert_eq(get32(PG(1) + 12), 0);
	res = walk(&r, 0x00402000, PW_WRITE);
	cr_assert_eq(res.dirty, 1);
	cr_assert_eq(get32(PG(0) + 4), PG(1) | ALL | A);
	cr_assert_eq(get32(PG(1) + 8), 0x55555000u | ALL | A | D);
	cr_assert_eq(fk.ncx, 3);

	/* A 4-MiB page is its own leaf: D goes into the PDE. */
	r.cr4 = CR4_PSE;
	set32(PG(0) + 2 * 4, 0x01000000u | PS | ALL);
	res = walk(&r, 0x00812345, PW_WRITE);
	cr_assert_eq(res.gpa, 0x01012345ull);
	cr_assert_eq(get32(PG(0) + 8), 0x01000000u | PS | ALL | A | D);
}

/* ======================= PAE paging (SDM 4.4) ======================= */

Test(pagewalk, pae_4k_and_2m_pages)
{
	struct pw_regs r = regs_pae();
	struct pw_result res;

	r.pdpte[2] = PG(0) | P;
	set64(PG(0) + 2 * 8, PG(1) | ALL);			/* PDE 2 */
	set64(PG(1) + 5 * 8, 0x1234567000ull | ALL);		/* PTE 5 */
	res = walk(&r, 0x80405123, 0);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, 0x1234567123ull);
	cr_assert_eq(res.page_size, 0x1000);
	cr_assert_eq(res.reads, 2);	/* the PDPTE is a register */
	cr_assert_eq(res.perms, PERM_ALL);
	expect_ok(&r, 0xffffffff80405123ull, 0, 0x1234567123ull, 0x1000);

	r.pdpte[3] = PG(2) | P;
	set64(PG(2) + 3 * 8, 0x9876400000ull | PS | ALL);	/* PDE 3: 2 MiB */
	res = walk(&r, 0xc07ffabc, PW_WRITE);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, 0x98765ffabcull);
	cr_assert_eq(res.page_size, 0x200000);
	/* No A flag in the PDPTE register; the PDE is the leaf. */
	cr_assert_eq(r.pdpte[3], PG(2) | P);
	cr_assert_eq(get64(PG(2) + 3 * 8), 0x9876400000ull | PS | ALL | A | D);
	cr_assert_eq(fk.ncx, 3);	/* PDE and PTE, then the 2-MiB PDE */
}

Test(pagewalk, pae_pdpte_not_present)
{
	struct pw_regs r = regs_pae();

	r.pdpte[0] = PG(0) | P;
	expect_pf(&r, 0x40000000, PW_USER | PW_WRITE, E_U | E_W);
	expect_pf(&r, 0x40000000, PW_FETCH, E_ID);
	cr_assert_eq(fk.reads, 0);
}

Test(pagewalk, pae_reserved_bits)
{
	struct pw_regs r = regs_pae();

	r.pdpte[0] = PG(0) | P;
	set64(PG(0), PG(1) | ALL);
	/* Bits 62:MAXPHYADDR are reserved in PAE entries (4-level ignores 62:52). */
	set64(PG(1), 0x5000 | (1ull << 58) | ALL);
	expect_pf(&r, 0x0, 0, E_P | E_RSVD);
	set64(PG(1), 0x5000 | (1ull << 40) | ALL);
	expect_pf(&r, 0x0, PW_WRITE, E_P | E_W | E_RSVD);
	set64(PG(1), 0x5000 | (1ull << 39) | ALL);
	expect_ok(&r, 0x0, 0, 0x8000005000ull, 0x1000);
	/* A 2-MiB PDE reserves bits 20:13 (12 is PAT). */
	set64(PG(0) + 8, 0x400000 | (1ull << 13) | PS | ALL);
	expect_pf(&r, 0x200000, 0, E_P | E_RSVD);
	set64(PG(0) + 8, 0x400000 | (1ull << 12) | PS | ALL);
	expect_ok(&r, 0x2fffff, 0, 0x4fffffull, 0x200000);
	cr_assert_eq(fk.ncx, 3);	/* only the good walks set flags: PDE 0, PTE, PDE 1 */
}

Test(pagewalk, pae_execute_disable)
{
	struct pw_regs r = regs_pae();
	struct pw_result res;

	r.pdpte[0] = PG(0) | P;
	set64(PG(0), PG(1) | ALL);
	set64(PG(1), 0x7000 | XD | ALL);
	res = walk(&r, 0x123, 0);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.perms, PW_PERM_WRITE | PW_PERM_USER);
	expect_pf(&r, 0x123, PW_FETCH, E_P | E_ID);
	expect_pf(&r, 0x123, PW_FETCH | PW_USER, E_P | E_U | E_ID);

	/* Without NXE, XD is a reserved bit, and a fetch reports no I/D. */
	r.efer = 0;
	expect_pf(&r, 0x123, 0, E_P | E_RSVD);
	expect_pf(&r, 0x123, PW_FETCH, E_P | E_RSVD);
	set64(PG(1), 0x7000 | ALL);
	set64(PG(0), PG(1) | XD | ALL);
	expect_pf(&r, 0x123, PW_USER, E_P | E_U | E_RSVD);
}

/* ======================= 4-level paging (SDM 4.5) ======================= */

Test(pagewalk, long_4k_page)
{
	struct pw_regs r = regs_64();
	struct pw_result res;

	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	res = walk(&r, LIN, 0);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, FRAME | 0x567);
	cr_assert_eq(res.page_size, 0x1000);
	cr_assert_eq(res.perms, PERM_ALL);
	cr_assert_eq(res.reads, 4);
	cr_assert_eq(res.pf_error, 0);
	/* CR3 bits 11:0 (PCID or PWT/PCD) are not address bits. */
	r.cr3 |= 0xfff;
	expect_ok(&r, LIN | 0xfff, 0, FRAME | 0xfff, 0x1000);
}

Test(pagewalk, long_2m_and_1g_pages)
{
	struct pw_regs r = regs_64();
	struct pw_result res;

	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	set64(ent(2, LIN), 0x3ffe00000ull | PS | ALL);
	res = walk(&r, LIN, 0);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, 0x3ffe04567ull);
	cr_assert_eq(res.page_size, 0x200000);
	cr_assert_eq(res.reads, 3);

	set64(ent(3, LIN), 0x7c0000000ull | (1ull << 12) | PS | ALL);	/* bit 12 is PAT */
	res = walk(&r, LIN, 0);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, 0x7c0604567ull);
	cr_assert_eq(res.page_size, 0x40000000);
	cr_assert_eq(res.reads, 2);
}

Test(pagewalk, long_1g_page_needs_cpuid)
{
	struct pw_regs r = regs_64();

	r.page_1g = 0;
	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	set64(ent(3, LIN), 0x40000000ull | PS | ALL);
	expect_pf(&r, LIN, 0, E_P | E_RSVD);
	cr_assert_eq(fk.reads, 2);
	cr_assert_eq(get64(ent(4, LIN)), PG(1) | ALL);	/* no A on a faulting walk */
}

Test(pagewalk, long_ps_in_pml4e_is_reserved)
{
	struct pw_regs r = regs_64();

	map64(LIN, ALL | PS, ALL, ALL, ALL, FRAME);
	expect_pf(&r, LIN, PW_USER, E_P | E_U | E_RSVD);
	cr_assert_eq(fk.reads, 1);
}

Test(pagewalk, long_reserved_bits_above_maxphyaddr)
{
	struct pw_regs r = regs_64();		/* MAXPHYADDR 46 */

	map64(LIN, ALL, ALL, ALL, ALL, FRAME | (1ull << 46));
	expect_pf(&r, LIN, 0, E_P | E_RSVD);
	map64(LIN, ALL, ALL, ALL | (1ull << 51), ALL, FRAME);
	expect_pf(&r, LIN, 0, E_P | E_RSVD);
	cr_assert_eq(fk.reads, 7);
	/* Bits 62:52 are ignored, and no address bits. */
	map64(LIN, ALL | (0x7ffull << 52), ALL, ALL, ALL, FRAME | (0x7ffull << 52));
	expect_ok(&r, LIN, 0, FRAME | 0x567, 0x1000);
	/* With MAXPHYADDR 52, bit 51 is an address bit. */
	r.maxphyaddr = 52;
	map64(LIN, ALL, ALL, ALL, ALL, FRAME | (1ull << 51));
	expect_ok(&r, LIN, 0, FRAME | (1ull << 51) | 0x567, 0x1000);
	r.maxphyaddr = 39;
	map64(LIN, ALL, ALL, ALL, ALL, 0x8000000000ull);
	expect_pf(&r, LIN, 0, E_P | E_RSVD);
}

Test(pagewalk, long_large_page_low_reserved_bits)
{
	struct pw_regs r = regs_64();

	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	set64(ent(2, LIN), 0x400000ull | (1ull << 20) | PS | ALL);
	expect_pf(&r, LIN, 0, E_P | E_RSVD);
	set64(ent(2, LIN), 0x400000ull | (1ull << 12) | PS | ALL);
	expect_ok(&r, LIN, 0, 0x404567ull, 0x200000);
	set64(ent(3, LIN), 0x40000000ull | (1ull << 29) | PS | ALL);
	expect_pf(&r, LIN, 0, E_P | E_RSVD);
	set64(ent(3, LIN), 0x40000000ull | (1ull << 13) | PS | ALL);
	expect_pf(&r, LIN, 0, E_P | E_RSVD);
}

Test(pagewalk, long_xd_reserved_without_nxe)
{
	struct pw_regs r = regs_64();

	r.efer &= ~EFER_NXE;
	for (unsigned level = 4; level >= 1; level--) {
		map64(LIN, ALL, ALL, ALL, ALL, FRAME);
		set64(ent(level, LIN), get64(ent(level, LIN)) | XD);
		expect_pf(&r, LIN, 0, E_P | E_RSVD);
		expect_pf(&r, LIN, PW_FETCH | PW_USER, E_P | E_U | E_RSVD);
	}
	r.cr4 |= CR4_SMEP;	/* SMEP alone makes fetches report I/D */
	expect_pf(&r, LIN, PW_FETCH, E_P | E_RSVD | E_ID);
}

Test(pagewalk, long_not_present_at_each_level)
{
	struct pw_regs r = regs_64();

	for (unsigned level = 4; level >= 1; level--) {
		struct pw_result res;

		memset(fk.mem, 0, sizeof(fk.mem));
		map64(LIN, ALL, ALL, ALL, ALL, FRAME);
		set64(ent(level, LIN), get64(ent(level, LIN)) & ~P);
		fk.reads = 0;
		expect_pf(&r, LIN, 0, 0);
		cr_assert_eq(fk.reads, 5 - level, "level %u: %u reads", level, fk.reads);
		expect_pf(&r, LIN, PW_WRITE, E_W);
		expect_pf(&r, LIN, PW_USER | PW_WRITE, E_U | E_W);
		expect_pf(&r, LIN, PW_FETCH, E_ID);
		expect_pf(&r, LIN, PW_FETCH | PW_USER, E_ID | E_U);
		res = walk(&r, LIN, PW_WRITE);
		cr_assert_eq(res.reads, 5 - level);
	}
	cr_assert_eq(fk.ncx, 0);
}

Test(pagewalk, long_reserved_bit_ends_walk_before_lower_levels)
{
	struct pw_regs r = regs_64();

	map64(LIN, ALL, ALL, ALL | (1ull << 50), 0, 0);	/* PTE not present */
	expect_pf(&r, LIN, PW_USER, E_P | E_U | E_RSVD);
	cr_assert_eq(fk.reads, 3);
}

Test(pagewalk, long_not_present_beats_protection)
{
	struct pw_regs r = regs_64();

	map64(LIN, P, ALL, ALL, 0, 0);	/* supervisor, read-only PML4E; PTE not present */
	expect_pf(&r, LIN, PW_USER | PW_WRITE, E_U | E_W);
}

Test(pagewalk, five_level_paging)
{
	struct pw_regs r = regs_64();
	uint64_t lin = (3ull << 48) | LIN;

	r.cr4 |= CR4_LA57;
	r.cr3 = PG(4);
	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	set64(PG(4) + 3 * 8, PG(0) | ALL);	/* PML5E 3 */
	expect_ok(&r, lin, PW_WRITE, FRAME | 0x567, 0x1000);
	cr_assert_eq(get64(PG(4) + 3 * 8), PG(0) | ALL | A);
	/* PS is reserved in a PML5E too. */
	set64(PG(4) + 3 * 8, PG(0) | PS | ALL);
	expect_pf(&r, lin, 0, E_P | E_RSVD);
	/* Index 3 is not index 0. */
	expect_pf(&r, LIN, 0, 0);
}

/* ======================= access rights (SDM 4.6) ======================= */

Test(pagewalk, user_access_needs_us_at_every_level)
{
	struct pw_regs r = regs_64();

	for (unsigned level = 4; level >= 1; level--) {
		struct pw_result res;

		map64(LIN, ALL, ALL, ALL, ALL, FRAME);
		set64(ent(level, LIN), get64(ent(level, LIN)) & ~US);
		expect_pf(&r, LIN, PW_USER, E_P | E_U);
		expect_pf(&r, LIN, PW_USER | PW_WRITE, E_P | E_U | E_W);
		expect_pf(&r, LIN, PW_USER | PW_FETCH, E_P | E_U | E_ID);
		res = walk(&r, LIN, 0);
		cr_assert_eq(res.status, PW_OK);
		cr_assert_eq(res.perms, PW_PERM_WRITE | PW_PERM_EXEC, "level %u: perms %#x", level, res.perms);
	}
	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	expect_ok(&r, LIN, PW_USER | PW_WRITE, FRAME | 0x567, 0x1000);
}

Test(pagewalk, write_needs_rw_at_every_level_for_user_and_with_wp)
{
	struct pw_regs r = regs_64();

	for (unsigned level = 4; level >= 1; level--) {
		struct pw_result res;

		r.cr0 &= ~CR0_WP;
		map64(LIN, ALL, ALL, ALL, ALL, FRAME);
		set64(ent(level, LIN), get64(ent(level, LIN)) & ~RW);
		expect_pf(&r, LIN, PW_USER | PW_WRITE, E_P | E_U | E_W);
		expect_ok(&r, LIN, PW_USER, FRAME | 0x567, 0x1000);
		/* CR0.WP=0: supervisor writes ignore R/W, on a user page too. */
		expect_ok(&r, LIN, PW_WRITE, FRAME | 0x567, 0x1000);
		r.cr0 |= CR0_WP;
		expect_pf(&r, LIN, PW_WRITE, E_P | E_W);
		res = walk(&r, LIN, 0);
		cr_assert_eq(res.perms, PW_PERM_USER | PW_PERM_EXEC);
	}
}

Test(pagewalk, xd_at_any_level_forbids_fetches)
{
	struct pw_regs r = regs_64();

	for (unsigned level = 4; level >= 1; level--) {
		struct pw_result res;

		map64(LIN, ALL, ALL, ALL, ALL, FRAME);
		set64(ent(level, LIN), get64(ent(level, LIN)) | XD);
		expect_pf(&r, LIN, PW_FETCH, E_P | E_ID);
		expect_pf(&r, LIN, PW_FETCH | PW_USER, E_P | E_U | E_ID);
		res = walk(&r, LIN, PW_USER | PW_WRITE);
		cr_assert_eq(res.status, PW_OK);
		cr_assert_eq(res.perms, PW_PERM_WRITE | PW_PERM_USER);
	}
}

Test(pagewalk, smep)
{
	struct pw_regs r = regs_64(), r32 = regs_32();

	r.efer &= ~EFER_NXE;
	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	expect_ok(&r, LIN, PW_FETCH, FRAME | 0x567, 0x1000);
	r.cr4 |= CR4_SMEP;
	expect_pf(&r, LIN, PW_FETCH, E_P | E_ID);
	expect_ok(&r, LIN, PW_FETCH | PW_USER, FRAME | 0x567, 0x1000);
	expect_ok(&r, LIN, 0, FRAME | 0x567, 0x1000);		/* not data accesses */
	expect_ok(&r, LIN, PW_WRITE, FRAME | 0x567, 0x1000);
	/* A supervisor page (U/S=0 in the PDPTE alone) may be fetched. */
	set64(ent(3, LIN), PG(2) | P | RW);
	expect_ok(&r, LIN, PW_FETCH, FRAME | 0x567, 0x1000);

	/* 32-bit paging too: I/D comes from SMEP alone. */
	r32.cr3 = PG(5);
	set32(PG(5), PG(6) | ALL);
	set32(PG(6), 0x9000 | ALL);
	expect_ok(&r32, 0x10, PW_FETCH, 0x9010, 0x1000);
	r32.cr4 = CR4_SMEP;
	expect_pf(&r32, 0x10, PW_FETCH, E_P | E_ID);
	expect_ok(&r32, 0x10, PW_FETCH | PW_USER, 0x9010, 0x1000);
}

Test(pagewalk, smap)
{
	struct pw_regs r = regs_64();

	r.cr4 |= CR4_SMAP;
	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	expect_pf(&r, LIN, 0, E_P);
	expect_pf(&r, LIN, PW_WRITE, E_P | E_W);
	expect_ok(&r, LIN, PW_FETCH, FRAME | 0x567, 0x1000);	/* SMAP is for data */
	expect_ok(&r, LIN, PW_USER | PW_WRITE, FRAME | 0x567, 0x1000);
	r.smap_ac = 1;
	expect_ok(&r, LIN, 0, FRAME | 0x567, 0x1000);
	expect_ok(&r, LIN, PW_WRITE, FRAME | 0x567, 0x1000);
	/* Implicit supervisor accesses ignore RFLAGS.AC. */
	expect_pf(&r, LIN, PW_IMPLICIT, E_P);
	expect_pf(&r, LIN, PW_IMPLICIT | PW_WRITE, E_P | E_W);
	/* Supervisor pages are not affected. */
	r.smap_ac = 0;
	set64(ent(1, LIN), FRAME | P | RW);
	expect_ok(&r, LIN, PW_IMPLICIT | PW_WRITE, FRAME | 0x567, 0x1000);
	expect_ok(&r, LIN, 0, FRAME | 0x567, 0x1000);
}

Test(pagewalk, smap_with_ac_keeps_write_protection)
{
	struct pw_regs r = regs_64();

	r.cr4 |= CR4_SMAP;
	r.smap_ac = 1;
	map64(LIN, ALL, ALL, ALL, P | US, FRAME);	/* read-only user page */
	expect_ok(&r, LIN, PW_WRITE, FRAME | 0x567, 0x1000);	/* CR0.WP=0 */
	r.cr0 |= CR0_WP;
	expect_pf(&r, LIN, PW_WRITE, E_P | E_W);
	expect_ok(&r, LIN, 0, FRAME | 0x567, 0x1000);
}

/* ======================= accessed and dirty flags (SDM 4.8) ======================= */

Test(pagewalk, read_sets_accessed_in_every_entry_top_down)
{
	struct pw_regs r = regs_64();
	struct pw_result res;

	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	res = walk(&r, LIN, 0);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.dirty, 0);
	cr_assert_eq(res.ad_updates, 4);
	cr_assert_eq(get64(ent(4, LIN)), PG(1) | ALL | A);
	cr_assert_eq(get64(ent(3, LIN)), PG(2) | ALL | A);
	cr_assert_eq(get64(ent(2, LIN)), PG(3) | ALL | A);
	cr_assert_eq(get64(ent(1, LIN)), FRAME | ALL | A);
	cr_assert_eq(fk.ncx, 4);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(fk.cx_gpa[i], ent(4 - i, LIN));
		cr_assert_eq(fk.cx_size[i], 8);
	}
	/* Nothing left to set. */
	res = walk(&r, LIN, PW_USER);
	cr_assert_eq(res.ad_updates, 0);
	cr_assert_eq(fk.ncx, 4);
}

Test(pagewalk, write_sets_dirty_in_the_leaf_only)
{
	struct pw_regs r = regs_64();
	struct pw_result res;

	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	res = walk(&r, LIN, PW_WRITE);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.dirty, 1);
	cr_assert_eq(get64(ent(4, LIN)), PG(1) | ALL | A);
	cr_assert_eq(get64(ent(3, LIN)), PG(2) | ALL | A);
	cr_assert_eq(get64(ent(2, LIN)), PG(3) | ALL | A);
	cr_assert_eq(get64(ent(1, LIN)), FRAME | ALL | A | D);
	/* A read now reports the dirty leaf. */
	res = walk(&r, LIN, 0);
	cr_assert_eq(res.dirty, 1);
	cr_assert_eq(fk.ncx, 4);

	/* Large pages: the PDE, then the PDPTE, is the leaf. */
	memset(fk.mem, 0, sizeof(fk.mem));
	map64(LIN, ALL, ALL, ALL, 0, 0);
	set64(ent(2, LIN), 0x600000 | PS | ALL);
	res = walk(&r, LIN, PW_WRITE);
	cr_assert_eq(res.gpa, 0x604567ull);
	cr_assert_eq(get64(ent(3, LIN)), PG(2) | ALL | A);
	cr_assert_eq(get64(ent(2, LIN)), 0x600000 | PS | ALL | A | D);
	set64(ent(3, LIN), 0x80000000ull | PS | ALL);
	res = walk(&r, LIN, PW_WRITE);
	cr_assert_eq(res.gpa, 0x80604567ull);
	cr_assert_eq(get64(ent(3, LIN)), 0x80000000ull | PS | ALL | A | D);
}

Test(pagewalk, no_flags_on_a_faulting_walk)
{
	struct pw_regs r = regs_64();
	static uint8_t before[sizeof(fk.mem)];

	r.cr0 |= CR0_WP;
	r.cr4 |= CR4_SMAP;
	map64(LIN, ALL, ALL, ALL, P | US, FRAME);		/* read-only user leaf */
	memcpy(before, fk.mem, sizeof(before));
	expect_pf(&r, LIN, PW_USER | PW_WRITE, E_P | E_U | E_W);	/* R/W */
	expect_pf(&r, LIN, PW_WRITE, E_P | E_W);			/* R/W with WP */
	expect_pf(&r, LIN, 0, E_P);					/* SMAP */
	cr_assert_eq(memcmp(before, fk.mem, sizeof(before)), 0);
	set64(ent(1, LIN), 0);						/* not present */
	memcpy(before, fk.mem, sizeof(before));
	expect_pf(&r, LIN, PW_USER, E_U);
	cr_assert_eq(memcmp(before, fk.mem, sizeof(before)), 0);
	set64(ent(2, LIN), PG(3) | ALL | (1ull << 47));			/* reserved */
	memcpy(before, fk.mem, sizeof(before));
	expect_pf(&r, LIN, PW_USER, E_P | E_U | E_RSVD);
	cr_assert_eq(memcmp(before, fk.mem, sizeof(before)), 0);
	cr_assert_eq(fk.ncx, 0);
}

Test(pagewalk, no_ad_probe_sets_nothing)
{
	struct pw_regs r = regs_64();
	struct pw_result res;

	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	res = walk(&r, LIN, PW_WRITE | PW_NO_AD);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, FRAME | 0x567);
	cr_assert_eq(res.dirty, 0);		/* as read: a real write must walk */
	cr_assert_eq(res.ad_updates, 0);
	cr_assert_eq(fk.ncx, 0);
	cr_assert_eq(get64(ent(4, LIN)), PG(1) | ALL);
	cr_assert_eq(get64(ent(1, LIN)), FRAME | ALL);
	set64(ent(1, LIN), FRAME | ALL | D);
	res = walk(&r, LIN, PW_NO_AD);
	cr_assert_eq(res.dirty, 1);
	cr_assert_eq(fk.ncx, 0);
}

Test(pagewalk, lost_ad_race_walks_again)
{
	struct pw_regs r = regs_64();
	struct pw_result res;

	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	fk.race_at = ent(1, LIN);
	fk.race_val = FRAME2 | ALL;	/* remapped by another processor */
	res = walk(&r, LIN, 0);
	cr_assert_eq(res.status, PW_OK);
	cr_assert_eq(res.gpa, FRAME2 | 0x567);
	cr_assert_eq(res.reads, 8);
	cr_assert_eq(res.ad_updates, 4);
	cr_assert_eq(get64(ent(1, LIN)), FRAME2 | ALL | A);

	/* Changed to not present: the second walk faults, the A flags the
	 * first one set stay. */
	memset(fk.mem, 0, sizeof(fk.mem));
	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	fk.race_at = ent(1, LIN);
	fk.race_val = 0;
	expect_pf(&r, LIN, PW_WRITE, E_W);
	cr_assert_eq(get64(ent(2, LIN)), PG(3) | ALL | A);
	cr_assert_eq(get64(ent(1, LIN)), 0);
}

Test(pagewalk, global_flag)
{
	struct pw_regs r = regs_64();
	struct pw_result res;

	map64(LIN, ALL, ALL, ALL | G, ALL, FRAME);	/* G in a non-leaf PDE is ignored */
	r.cr4 |= CR4_PGE;
	res = walk(&r, LIN, 0);
	cr_assert_eq(res.global, 0);
	set64(ent(1, LIN), FRAME | ALL | G);
	res = walk(&r, LIN, 0);
	cr_assert_eq(res.global, 1);
	r.cr4 &= ~CR4_PGE;
	res = walk(&r, LIN, 0);
	cr_assert_eq(res.global, 0);
}

/* ======================= aborting callbacks ======================= */

Test(pagewalk, read_abort_stops_the_walk)
{
	struct pw_regs r = regs_64(), rp = regs_pae(), r32 = regs_32();
	struct pw_result res;

	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	fk.abort_read_at = ent(2, LIN);
	res = walk(&r, LIN, PW_WRITE);
	cr_assert_eq(res.status, PW_ABORTED);
	cr_assert_eq(res.pf_error, 0);
	cr_assert_eq(fk.reads, 3);
	cr_assert_eq(fk.ncx, 0);
	cr_assert_eq(get64(ent(4, LIN)), PG(1) | ALL);

	/* PAE and 32-bit walks too. */
	rp.pdpte[0] = PG(4) | P;
	fk.abort_read_at = PG(4);
	res = walk(&rp, 0x0, 0);
	cr_assert_eq(res.status, PW_ABORTED);
	r32.cr3 = PG(4);
	res = walk(&r32, 0x0, 0);
	cr_assert_eq(res.status, PW_ABORTED);
	cr_assert_eq(fk.reads, 5);
}

Test(pagewalk, cmpxchg_abort_stops_the_update)
{
	struct pw_regs r = regs_64();
	struct pw_result res;

	map64(LIN, ALL, ALL, ALL, ALL, FRAME);
	fk.abort_cx_at = ent(3, LIN);
	res = walk(&r, LIN, PW_WRITE);
	cr_assert_eq(res.status, PW_ABORTED);
	cr_assert_eq(res.reads, 4);
	cr_assert_eq(fk.ncx, 1);
	cr_assert_eq(get64(ent(4, LIN)), PG(1) | ALL | A);
	cr_assert_eq(get64(ent(3, LIN)), PG(2) | ALL);
	cr_assert_eq(get64(ent(1, LIN)), FRAME | ALL);
}

/* ======================= cached translations ======================= */

/* pw_check_access on a walk's perms answers as a fresh walk does, for
 * every access kind and every combination of WP, SMEP, SMAP, AC and NXE. */
Test(pagewalk, check_access_agrees_with_the_walk)
{
	static const unsigned kinds[] = {
		0, PW_WRITE, PW_FETCH, PW_USER, PW_USER | PW_WRITE, PW_USER | PW_FETCH,
		PW_IMPLICIT, PW_IMPLICIT | PW_WRITE,
	};
	static const uint64_t leaves[] = { P, P | RW, P | US, ALL, ALL | XD, P | US | XD };
	struct pw_regs r0 = regs_64();
	unsigned faults = 0;

	for (unsigned l = 0; l < sizeof(leaves) / sizeof(leaves[0]); l++) {
		for (unsigned regs = 0; regs < 32; regs++) {
			struct pw_regs r = regs_64();
			struct pw_result probe;

			if (regs & 1)
				r.cr0 |= CR0_WP;
			if (regs & 2)
				r.cr4 |= CR4_SMEP;
			if (regs & 4)
				r.cr4 |= CR4_SMAP;
			r.smap_ac = !!(regs & 8);
			if ((regs & 16) && !(leaves[l] & XD))
				r.efer &= ~EFER_NXE;
			map64(LIN, ALL, ALL, ALL, leaves[l], FRAME);
			/* A read that every setting allows: a user read of a
			   user page, a supervisor read of a supervisor page. */
			probe = walk(&r, LIN, ((leaves[l] & US) ? PW_USER : 0) | PW_NO_AD);
			cr_assert_eq(probe.status, PW_OK);
			for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
				struct pw_result res = walk(&r, LIN, kinds[k] | PW_NO_AD);
				uint32_t want = res.status == PW_PAGE_FAULT ? res.pf_error : 0;

				cr_assert_neq(res.status, PW_ABORTED);
				cr_assert_eq(pw_check_access(&r, probe.perms, kinds[k]), want,
					     "leaf %#llx regs %#x access %#x", (unsigned long long)leaves[l], regs,
					     kinds[k]);
				faults += !!want;
			}
		}
	}
	cr_assert_gt(faults, 0);
	/* Anchors: a user write to a read-only page, a fetch from an XD page. */
	cr_assert_eq(pw_check_access(&r0, PW_PERM_USER | PW_PERM_EXEC, PW_USER | PW_WRITE), E_P | E_U | E_W);
	cr_assert_eq(pw_check_access(&r0, PW_PERM_USER | PW_PERM_WRITE, PW_FETCH), E_P | E_ID);
	cr_assert_eq(pw_check_access(&r0, PERM_ALL, PW_USER | PW_WRITE), 0);
}
