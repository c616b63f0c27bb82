/* The EPT walker (SDM Vol. 3C 29.3 "The Extended Page Table Mechanism").
 *
 * One walk reads at most four entries, PML4E down to PTE, each selected
 * by nine bits of the guest-physical address (29.3.2 "EPT Translation
 * Mechanism").  At every entry, in this order:
 *   - bits 2:0 = 000: not present; the rest of the entry is ignored and the
 *     walk ends in an EPT violation (29.3.2, 29.3.3.2);
 *   - a reserved setting: an EPT misconfiguration (29.3.3.1);
 *   - otherwise the entry's R/W/X joins the AND over the walk and, unless
 *     it maps a page, gives the next table.
 * Permission violations are decided only at the leaf, so a misconfigured
 * entry below one that denies the access still makes a misconfiguration
 * (a violation only happens to a translation that has none), and the
 * exit qualification reports the AND over every entry used.
 *
 * Accessed and dirty flags (29.3.5) are set only after the whole walk has
 * succeeded, one cmpxchg per entry from the PML4E down; if any entry
 * changed since it was read, the walk starts again, so a concurrent
 * update by another logical processor or by the hypervisor is never
 * overwritten.  That loop ends as soon as nobody changes the entries
 * between our read and our cmpxchg. */
#include <string.h>

#include "ept.h"

#define EPT_RWX		0x7ull
#define EPT_PAGE_SIZE	(1ull << 7)	/* PDPTE/PDE: maps a page */
#define EPT_IPAT	(1ull << 6)	/* leaf: ignore PAT memory type */
#define EPT_ACCESSED	(1ull << 8)	/* with EPTP bit 6 */
#define EPT_DIRTY	(1ull << 9)	/* leaf, with EPTP bit 6 */
#define EPT_MEMTYPE(e)	((unsigned)((e) >> 3) & 7)

#define BITS(hi, lo)	((~0ull >> (63 - (hi))) & ~((1ull << (lo)) - 1))

#define EPTP_RSVD_LOW	BITS(11, 7)	/* bit 7 is shadow-stack control: not modelled */

/* Bits 11:3 of an entry's address are these nine bits of the GPA. */
static const unsigned level_shift[5] = { 0, 12, 21, 30, 39 };

/* The physical-address width N the reserved-bit rules use. */
static unsigned phys_bits(const struct ept_caps *caps)
{
	if (caps->maxphyaddr > 52)
		return 52;
	if (caps->maxphyaddr < 12)
		return 12;
	return caps->maxphyaddr;
}

void ept_caps_from_msr(uint64_t ept_vpid_cap, unsigned maxphyaddr, struct ept_caps *caps)
{
	/* SDM Vol. 3D A.10 "VPID and EPT Capabilities". */
	caps->exec_only = !!(ept_vpid_cap & (1ull << 0));
	caps->pwl4 = !!(ept_vpid_cap & (1ull << 6));
	caps->uc = !!(ept_vpid_cap & (1ull << 8));
	caps->wb = !!(ept_vpid_cap & (1ull << 14));
	caps->page_2m = !!(ept_vpid_cap & (1ull << 16));
	caps->page_1g = !!(ept_vpid_cap & (1ull << 17));
	caps->ad = !!(ept_vpid_cap & (1ull << 21));
	caps->maxphyaddr = maxphyaddr;
}

int ept_eptp_valid(uint64_t eptp, const struct ept_caps *caps)
{
	/* SDM Vol. 3C 27.2.1.1, "If the 'enable EPT' VM-execution control
	 * is 1, the EPTP VM-execution control field must satisfy ...". */
	switch (eptp & EPTP_MEMTYPE_MASK) {
	case EPT_MT_UC:
		if (!caps->uc)
			return 0;
		break;
	case EPT_MT_WB:
		if (!caps->wb)
			return 0;
		break;
	default:		/* no other type is ever supported here */
		return 0;
	}
	if ((eptp & EPTP_PWL_MASK) != EPTP_PWL_4 || !caps->pwl4)
		return 0;
	if ((eptp & EPTP_AD) && !caps->ad)
		return 0;
	if (eptp & EPTP_RSVD_LOW)
		return 0;
	if (eptp >> phys_bits(caps))		/* bits 63:N */
		return 0;
	return 1;
}

/* Does present entry e at `level` make an EPT misconfiguration (SDM
 * 29.3.3.1)?  Sets *leaf when e maps a page.  The reserved bits per entry
 * format are those of SDM 29.3.2, tables "Format of an EPT PML4 Entry"
 * through "Format of an EPT Page-Table Entry": bits 51:N in every entry;
 * 7:3 in a PML4E; 6:3 in a PDPTE or PDE that references a table; 29:12
 * and 20:12 in a PDPTE or PDE that maps a 1-GByte or 2-MByte page; bit 7
 * of a PDPTE or PDE when that page size is not supported (A.10).  Bits
 * 11:8 of a non-leaf entry, 11:10 of a leaf, 7 of a PTE and 63:52 of all
 * are ignored (bit 8, or 9 in a leaf, is A or D with EPTP bit 6). */
static int misconfigured(uint64_t e, unsigned level, const struct ept_caps *caps, uint64_t rsvd, int *leaf)
{
	unsigned rwx = e & EPT_RWX;
	unsigned mt;

	*leaf = 0;
	if ((rwx & 3) == 2)		/* 010b, 110b: write without read */
		return 1;
	if (rwx == 4 && !caps->exec_only)
		return 1;
	switch (level) {
	case 4:
		rsvd |= BITS(7, 3);
		break;
	case 3:
		if (e & EPT_PAGE_SIZE) {
			if (!caps->page_1g)
				return 1;
			*leaf = 1;
			rsvd |= BITS(29, 12);
		} else {
			rsvd |= BITS(6, 3);
		}
		break;
	case 2:
		if (e & EPT_PAGE_SIZE) {
			if (!caps->page_2m)
				return 1;
			*leaf = 1;
			rsvd |= BITS(20, 12);
		} else {
			rsvd |= BITS(6, 3);
		}
		break;
	default:			/* level 1, the PTE: bit 7 is ignored */
		*leaf = 1;
		break;
	}
	if (e & rsvd)
		return 1;
	if (!*leaf)
		return 0;
	mt = EPT_MEMTYPE(e);
	return mt == 2 || mt == 3 || mt == 7;
}

/* One walk, without A/D updates: fills r (r->reads counts this walk only)
 * and, for each level read, the entry and its address. */
static void walk(const struct ept_mem *m, const struct ept_caps *caps, uint64_t eptp, uint64_t gpa,
		 unsigned acc, struct ept_result *r, uint64_t ent[5], uint64_t ent_hpa[5])
{
	unsigned n = phys_bits(caps);
	uint64_t addr_mask = BITS(n - 1, 12);
	uint64_t rsvd = n < 52 ? BITS(51, n) : 0;
	uint64_t table = eptp & addr_mask;
	unsigned perms = EPT_RWX;
	unsigned level;
	uint64_t e = 0, size;
	int leaf = 0;

	memset(r, 0, sizeof(*r));
	for (level = 4; level >= 1; level--) {
		uint64_t hpa = table | (((gpa >> level_shift[level]) & 0x1ff) << 3);

		if (m->read64(m->opaque, hpa, &e))
			e = ~0ull;	/* unclaimed: all ones, reserved bits set */
		r->reads++;
		r->level = level;
		r->entry_hpa = hpa;
		ent[level] = e;
		ent_hpa[level] = hpa;
		if (!(e & EPT_RWX)) {
			/* Not present: its own R/W/X (all 0) join the AND. */
			r->status = EPT_VIOLATION;
			r->qual = acc;
			return;
		}
		perms &= e & EPT_RWX;
		if (misconfigured(e, level, caps, rsvd, &leaf)) {
			r->status = EPT_MISCONFIG;
			r->perms = perms;
			return;
		}
		if (leaf)
			break;
		table = e & addr_mask;
	}
	/* A PTE is always a leaf, so the loop ends by break. */
	size = 1ull << level_shift[level];
	r->page_size = size;
	r->perms = perms;
	r->memtype = EPT_MEMTYPE(e);
	r->ipat = !!(e & EPT_IPAT);
	if (acc & ~perms) {
		/* SDM 29.3.3.2; qualification per 28.2.1. */
		r->status = EPT_VIOLATION;
		r->qual = acc | (uint64_t)perms << 3;
		return;
	}
	r->status = EPT_OK;
	r->hpa = (e & addr_mask & ~(size - 1)) | (gpa & (size - 1));
}

/* Set A in every entry of a successful walk ending at `leaf_level`, and D
 * in the leaf if `dirty`.  Returns 1 when done, 0 if an entry changed
 * since the walk read it (walk again). */
static int set_ad(const struct ept_mem *m, unsigned leaf_level, int dirty, const uint64_t ent[5],
		  const uint64_t ent_hpa[5], unsigned *updates)
{
	for (unsigned level = 4; level >= leaf_level; level--) {
		uint64_t want = ent[level] | EPT_ACCESSED;

		if (level == leaf_level && dirty)
			want |= EPT_DIRTY;
		if (want == ent[level])
			continue;
		if (m->cmpxchg64(m->opaque, ent_hpa[level], ent[level], want))
			return 0;
		(*updates)++;
	}
	return 1;
}

void ept_translate(const struct ept_mem *m, const struct ept_caps *caps, uint64_t eptp, uint64_t gpa,
		   unsigned access, int paging_structure, struct ept_result *r)
{
	uint64_t ent[5], ent_hpa[5];
	int ad = !!(eptp & EPTP_AD);
	unsigned acc = access & (EPT_ACCESS_READ | EPT_ACCESS_WRITE | EPT_ACCESS_FETCH);
	unsigned reads = 0, updates = 0;

	/* SDM 29.3.3.2 and the footnote to bit 1 of the EPT-violation exit
	 * qualification: with EPT A/D on, the processor's accesses to guest
	 * paging-structure entries are writes, and a violation they cause
	 * reports both a read and a write. */
	if (paging_structure && ad)
		acc |= EPT_ACCESS_READ | EPT_ACCESS_WRITE;
	for (;;) {
		walk(m, caps, eptp, gpa, acc, r, ent, ent_hpa);
		reads += r->reads;
		if (r->status != EPT_OK || !ad)
			break;
		if (set_ad(m, r->level, !!(acc & EPT_ACCESS_WRITE), ent, ent_hpa, &updates))
			break;
	}
	r->reads = reads;
	r->ad_updates = updates;
}
