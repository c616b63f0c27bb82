/* The guest page-table walker (SDM Vol. 3A chapter 4 "Paging").
 *
 * One walk reads the entries top-down, stopping at the first entry that is
 * not present or has a reserved bit set, and accumulates the access rights
 * of the entries it used; the completed translation is then checked against
 * the access (pw_check_access).  Only a walk that passes both sets accessed
 * and dirty flags, through cmpxchg; a lost race walks again from the top.
 * Everything lives on the stack: at most five entries are used. */
#include <stddef.h>

#include "pagewalk.h"

/* Control registers and IA32_EFER (SDM Vol. 3A 2.5 "Control Registers",
 * 2.2.1 "Extended Feature Enable Register"). */
#define CR0_WP		(1ull << 16)
#define CR0_PG		(1ull << 31)
#define CR4_PSE		(1ull << 4)
#define CR4_PAE		(1ull << 5)
#define CR4_PGE		(1ull << 7)
#define CR4_LA57	(1ull << 12)
#define CR4_SMEP	(1ull << 20)
#define CR4_SMAP	(1ull << 21)
#define EFER_LMA	(1ull << 10)
#define EFER_NXE	(1ull << 11)

/* Paging-structure entry flags, common to every format (SDM 4.3 to 4.5,
 * the "Format of a ... Entry" tables). */
#define PTE_P		(1ull << 0)
#define PTE_RW		(1ull << 1)
#define PTE_US		(1ull << 2)
#define PTE_A		(1ull << 5)
#define PTE_D		(1ull << 6)
#define PTE_PS		(1ull << 7)	/* in a PDE or PDPTE; PAT in a PTE */
#define PTE_G		(1ull << 8)
#define PTE_XD		(1ull << 63)

#define SIZE_4K		0x1000ull
#define SIZE_4M		0x400000ull

#define PW_MAX_LEVELS	5

/* One walk through the paging structures. */
struct pw_walk_state {
	struct {
		uint64_t gpa;
		uint64_t val;
		unsigned size;
	} used[PW_MAX_LEVELS];		/* entries used, top-down; the last is the leaf */
	unsigned nused;
	uint64_t gpa;
	uint64_t page_size;
	unsigned perms;
};

enum walk_end {
	WALK_DONE,
	WALK_FAULT,	/* res->pf_error set */
	WALK_ABORT,
	WALK_AGAIN,	/* an A/D cmpxchg found the entry changed */
};

/* Bits hi:lo of a 64-bit value; 0 if lo > hi. */
static uint64_t bit_range(unsigned hi, unsigned lo)
{
	if (lo > hi)
		return 0;
	return (~0ull >> (63 - hi)) & ~((1ull << lo) - 1);
}

static unsigned phys_bits(const struct pw_regs *r)
{
	if (r->maxphyaddr < 32)
		return 32;
	if (r->maxphyaddr > 52)
		return 52;
	return r->maxphyaddr;
}

/* The #PF error code for `access` with P and RSVD given (SDM 4.7).  I/D is
 * reported for fetches only with SMEP, or with NXE under PAE or 4/5-level
 * paging (CR4.PAE=1). */
static uint32_t fault_code(const struct pw_regs *r, unsigned access, uint32_t bits)
{
	uint32_t code = bits;

	if (access & PW_WRITE)
		code |= PF_ERR_W;
	if (access & PW_USER)
		code |= PF_ERR_U;
	if ((access & PW_FETCH) &&
	    ((r->cr4 & CR4_SMEP) || ((r->cr4 & CR4_PAE) && (r->efer & EFER_NXE))))
		code |= PF_ERR_ID;
	return code;
}

/* SDM 4.6.1 "Determination of Access Rights". */
uint32_t pw_check_access(const struct pw_regs *r, unsigned perms, unsigned access)
{
	int user_addr = !!(perms & PW_PERM_USER);

	if (!(r->cr0 & CR0_PG))
		return 0;
	if (access & PW_USER) {
		/* User-mode accesses: user-mode addresses only, writable only
		 * with R/W=1 at every level whatever CR0.WP. */
		if (!user_addr)
			goto fault;
		if ((access & PW_WRITE) && !(perms & PW_PERM_WRITE))
			goto fault;
	} else if (access & PW_FETCH) {
		/* Supervisor fetches: SMEP forbids user-mode addresses; SMAP
		 * does not apply to fetches. */
		if (user_addr && (r->cr4 & CR4_SMEP))
			goto fault;
	} else {
		/* Supervisor data accesses: SMAP forbids user-mode addresses
		 * unless RFLAGS.AC=1 and the access is explicit; with CR0.WP=1
		 * writes need R/W=1 at every level. */
		if (user_addr && (r->cr4 & CR4_SMAP) && ((access & PW_IMPLICIT) || !r->smap_ac))
			goto fault;
		if ((access & PW_WRITE) && (r->cr0 & CR0_WP) && !(perms & PW_PERM_WRITE))
			goto fault;
	}
	if ((access & PW_FETCH) && !(perms & PW_PERM_EXEC))
		goto fault;
	return 0;
fault:
	return fault_code(r, access, PF_ERR_P);
}

static enum walk_end read_entry(const struct pw_mem *m, uint64_t gpa, unsigned size, uint64_t *val,
				struct pw_result *res)
{
	uint64_t v = 0;

	res->reads++;
	if (m->read(m->opaque, gpa, size, &v) != PW_MEM_OK)
		return WALK_ABORT;
	*val = size == 4 ? (uint32_t)v : v;
	return WALK_DONE;
}

static void use_entry(struct pw_walk_state *w, uint64_t gpa, unsigned size, uint64_t val)
{
	w->used[w->nused].gpa = gpa;
	w->used[w->nused].size = size;
	w->used[w->nused].val = val;
	w->nused++;
}

/* AND of R/W and U/S, OR of XD, over the entries used (SDM 4.6.1). */
static unsigned entry_perms(const struct pw_walk_state *w)
{
	unsigned perms = PW_PERM_WRITE | PW_PERM_USER | PW_PERM_EXEC;

	for (unsigned i = 0; i < w->nused; i++) {
		if (!(w->used[i].val & PTE_RW))
			perms &= ~PW_PERM_WRITE;
		if (!(w->used[i].val & PTE_US))
			perms &= ~PW_PERM_USER;
		if (w->used[i].val & PTE_XD)
			perms &= ~PW_PERM_EXEC;
	}
	return perms;
}

/* 32-bit paging (SDM 4.3): 4-byte entries, a page directory at CR3[31:12]
 * and 4-KiB pages, or 4-MiB pages from the PDE with CR4.PSE=1.  Only a
 * 4-MiB PDE has reserved bits: 21:(M-19), M = min(MAXPHYADDR, 40), its
 * bits (M-20):13 giving physical-address bits (M-1):32 (PSE-36). */
static enum walk_end walk_32bit(const struct pw_mem *m, const struct pw_regs *r, uint32_t lin,
				unsigned access, struct pw_walk_state *w, struct pw_result *res)
{
	uint64_t pde_gpa = (r->cr3 & 0xfffff000u) | ((lin >> 22) << 2);
	uint64_t pte_gpa, pde, pte;

	if (read_entry(m, pde_gpa, 4, &pde, res) != WALK_DONE)
		return WALK_ABORT;
	if (!(pde & PTE_P))
		goto not_present;
	if ((r->cr4 & CR4_PSE) && (pde & PTE_PS)) {
		unsigned mbits = phys_bits(r) < 40 ? phys_bits(r) : 40;
		uint64_t high = (pde >> 13) & ((1ull << (mbits - 32)) - 1);

		if (pde & bit_range(21, mbits - 19)) {
			res->pf_error = fault_code(r, access, PF_ERR_P | PF_ERR_RSVD);
			return WALK_FAULT;
		}
		use_entry(w, pde_gpa, 4, pde);
		w->page_size = SIZE_4M;
		w->gpa = (pde & 0xffc00000u) | (high << 32) | (lin & (SIZE_4M - 1));
		return WALK_DONE;
	}
	use_entry(w, pde_gpa, 4, pde);
	pte_gpa = (pde & 0xfffff000u) | (((lin >> 12) & 0x3ff) << 2);
	if (read_entry(m, pte_gpa, 4, &pte, res) != WALK_DONE)
		return WALK_ABORT;
	if (!(pte & PTE_P))
		goto not_present;
	use_entry(w, pte_gpa, 4, pte);
	w->page_size = SIZE_4K;
	w->gpa = (pte & 0xfffff000u) | (lin & (SIZE_4K - 1));
	return WALK_DONE;
not_present:
	res->pf_error = fault_code(r, access, 0);
	return WALK_FAULT;
}

/* PAE paging (SDM 4.4) and 4-level and 5-level paging (SDM 4.5): 8-byte
 * entries, 9 index bits a level.  Level 5 is the PML5E, 4 the PML4E, 3 the
 * PDPTE, 2 the PDE, 1 the PTE.  PAE paging starts at level 2 from the PDPTE
 * register lin[31:30]; its entries reserve bits 62:M, the others 51:M
 * (62:52 are ignored).  XD (bit 63) is reserved without EFER.NXE. */
static enum walk_end walk_long(const struct pw_mem *m, const struct pw_regs *r, uint64_t lin,
			       unsigned access, struct pw_walk_state *w, struct pw_result *res)
{
	unsigned mbits = phys_bits(r);
	uint64_t addr_mask = bit_range(mbits - 1, 12);
	uint64_t rsvd = (r->efer & EFER_NXE) ? 0 : PTE_XD;
	uint64_t table;
	int pae = !(r->efer & EFER_LMA);
	unsigned level;

	if (pae) {
		uint64_t pdpte = r->pdpte[(lin >> 30) & 3];

		if (!(pdpte & PTE_P)) {
			res->pf_error = fault_code(r, access, 0);
			return WALK_FAULT;
		}
		rsvd |= bit_range(62, mbits);
		table = pdpte & addr_mask;
		level = 2;
	} else {
		rsvd |= bit_range(51, mbits);
		table = r->cr3 & addr_mask;
		level = (r->cr4 & CR4_LA57) ? 5 : 4;
	}
	for (;; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t gpa = table + (((lin >> shift) & 0x1ff) << 3);
		uint64_t e, e_rsvd = rsvd;
		int leaf = level == 1;

		if (read_entry(m, gpa, 8, &e, res) != WALK_DONE)
			return WALK_ABORT;
		if (!(e & PTE_P)) {
			res->pf_error = fault_code(r, access, 0);
			return WALK_FAULT;
		}
		if (level >= 4) {
			e_rsvd |= PTE_PS;
		} else if (level == 3 && (e & PTE_PS)) {
			/* A 1-GiB page only where CPUID says so. */
			if (r->page_1g) {
				e_rsvd |= bit_range(29, 13);
				leaf = 1;
			} else {
				e_rsvd |= PTE_PS;
			}
		} else if (level == 2 && (e & PTE_PS)) {
			e_rsvd |= bit_range(20, 13);
			leaf = 1;
		}
		if (e & e_rsvd) {
			res->pf_error = fault_code(r, access, PF_ERR_P | PF_ERR_RSVD);
			return WALK_FAULT;
		}
		use_entry(w, gpa, 8, e);
		if (leaf) {
			w->page_size = 1ull << shift;
			w->gpa = (e & addr_mask & ~(w->page_size - 1)) | (lin & (w->page_size - 1));
			return WALK_DONE;
		}
		table = e & addr_mask;
	}
}

/* SDM 4.8: A in every entry used, D in the leaf for a write. */
static enum walk_end set_accessed_dirty(const struct pw_mem *m, struct pw_walk_state *w, int write,
					struct pw_result *res)
{
	for (unsigned i = 0; i < w->nused; i++) {
		uint64_t old = w->used[i].val;
		uint64_t new = old | PTE_A;
		int rc;

		if (write && i == w->nused - 1)
			new |= PTE_D;
		if (new == old)
			continue;
		rc = m->cmpxchg(m->opaque, w->used[i].gpa, w->used[i].size, old, new);
		if (rc == PW_MEM_CHANGED)
			return WALK_AGAIN;
		if (rc != PW_MEM_OK)
			return WALK_ABORT;
		w->used[i].val = new;
		res->ad_updates++;
	}
	return WALK_DONE;
}

void pw_walk(const struct pw_mem *m, const struct pw_regs *r, uint64_t lin, unsigned access,
	     struct pw_result *res)
{
	struct pw_walk_state w;
	enum walk_end end;
	uint64_t leaf;

	*res = (struct pw_result){ .status = PW_OK };
	if (!(r->cr0 & CR0_PG)) {
		res->gpa = (r->efer & EFER_LMA) ? lin : (uint32_t)lin;
		res->page_size = SIZE_4K;
		res->perms = PW_PERM_WRITE | PW_PERM_USER | PW_PERM_EXEC;
		res->dirty = 1;
		return;
	}
	for (;;) {
		w.nused = 0;
		if (!(r->cr4 & CR4_PAE))
			end = walk_32bit(m, r, (uint32_t)lin, access, &w, res);
		else
			end = walk_long(m, r, lin, access, &w, res);
		if (end != WALK_DONE)
			break;
		w.perms = entry_perms(&w);
		res->pf_error = pw_check_access(r, w.perms, access);
		if (res->pf_error) {
			end = WALK_FAULT;
			break;
		}
		if (access & PW_NO_AD)
			break;
		end = set_accessed_dirty(m, &w, !!(access & PW_WRITE), res);
		if (end != WALK_AGAIN)
			break;
	}
	switch (end) {
	case WALK_DONE:
		leaf = w.used[w.nused - 1].val;
		res->gpa = w.gpa;
		res->page_size = w.page_size;
		res->perms = w.perms;
		res->dirty = !!(leaf & PTE_D);
		res->global = (r->cr4 & CR4_PGE) && (leaf & PTE_G);
		break;
	case WALK_FAULT:
		res->status = PW_PAGE_FAULT;
		break;
	default:	/* WALK_ABORT; WALK_AGAIN never leaves the loop */
		res->status = PW_ABORTED;
		res->pf_error = 0;
		break;
	}
}
