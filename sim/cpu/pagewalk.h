/* The guest page-table walker: linear to guest-physical translation for a
 * VMX guest (SDM Vol. 3A chapter 4 "Paging").
 *
 * Pure and host-side: it knows nothing of Unicorn.  The CPU model calls
 * pw_walk() from its TLB-fill hook; every paging-structure access goes
 * through struct pw_mem, whose callbacks translate the guest-physical
 * address through EPT and may end the walk (an EPT violation on that
 * access).  The walker allocates nothing, prints nothing and keeps no state
 * between calls.
 *
 * Modelled: no paging, 32-bit paging (with PSE and PSE-36), PAE paging,
 * 4-level and 5-level paging (SDM 4.3-4.5); access rights with CR0.WP,
 * EFER.NXE, CR4.SMEP and CR4.SMAP (SDM 4.6.1); the #PF error code bits P,
 * W/R, U/S, RSVD and I/D (SDM 4.7); accessed and dirty flags (SDM 4.8).
 *
 * Not modelled, and the caller's concern:
 * - canonical-address checks (a non-canonical address faults with #GP or
 *   #SS before paging is consulted; the walker uses bits 47:0, or 56:0 with
 *   CR4.LA57, and ignores the rest), and linear-address masking;
 * - reserved bits in the PDPTE registers of PAE paging (checked when they
 *   are loaded, SDM 4.4.1) and in CR3;
 * - protection keys (CR4.PKE, CR4.PKS: SDM 4.6.2; the PK error-code bit is
 *   never set), shadow-stack accesses (CET), HLAT and SGX;
 * - memory types (PAT, PCD, PWT);
 * - the paging-mode consistency the processor enforces (EFER.LMA implies
 *   CR4.PAE; CR4.LA57 only with EFER.LMA).  The walker picks the mode as
 *   SDM 4.1.1 table "Paging Modes" does: CR0.PG=0 none, CR4.PAE=0 32-bit,
 *   EFER.LMA=0 PAE, CR4.LA57=0 4-level, else 5-level. */
#ifndef SIM_CPU_PAGEWALK_H
#define SIM_CPU_PAGEWALK_H

#include <stdint.h>

/* Return values of the pw_mem callbacks. */
enum {
	PW_MEM_OK = 0,
	PW_MEM_CHANGED = 1,	/* cmpxchg only: the entry no longer held `old`; nothing written */
	/* any other value: end the walk (PW_ABORTED); the callback has recorded why */
};

/* Guest-physical memory holding the guest's paging structures. */
struct pw_mem {
	/* Read the size-byte (4 or 8) paging-structure entry at guest-physical
	 * gpa into *val (zero-extended).  PW_MEM_OK, or any other value to
	 * abort the walk at once (e.g. an EPT violation on this access, which
	 * the callback has recorded). */
	int (*read)(void *opaque, uint64_t gpa, unsigned size, uint64_t *val);
	/* Atomically replace the size-byte entry at gpa by `new` if it still
	 * holds `old` (accessed/dirty updates).  PW_MEM_OK if done,
	 * PW_MEM_CHANGED if it held another value (the walker then walks
	 * again from the top), any other value to abort the walk. */
	int (*cmpxchg)(void *opaque, uint64_t gpa, unsigned size, uint64_t old, uint64_t new);
	void *opaque;
};

/* The guest state paging depends on. */
struct pw_regs {
	uint64_t cr0, cr3, cr4, efer;
	uint64_t pdpte[4];	/* PAE paging: the PDPTE registers (SDM 4.4.1), loaded and
				   checked by the caller; unused in other modes */
	int smap_ac;		/* RFLAGS.AC, for SMAP (SDM 4.6.1) */
	unsigned maxphyaddr;	/* CPUID.80000008H:EAX[7:0]; taken as 32 below 32 and 52
				   above 52.  32-bit paging assumes PSE-36 when above 32 */
	int page_1g;		/* CPUID.80000001H:EDX[26]: PDPTE bit 7 may map a 1-GiB page */
};

/* Access kinds, or-ed.  At most one of PW_WRITE and PW_FETCH; neither is a
 * data read.  PW_IMPLICIT only with supervisor accesses (not PW_USER). */
enum {
	PW_WRITE = 1,		/* data write */
	PW_FETCH = 2,		/* instruction fetch */
	PW_USER = 4,		/* user-mode access: CPL 3 and not an implicit supervisor access */
	PW_IMPLICIT = 8,	/* implicit supervisor-mode access (GDT, LDT, IDT, TSS; SDM
				   4.6.1): SMAP applies whatever RFLAGS.AC */
	PW_NO_AD = 16,		/* probe only: set no accessed or dirty flag (so do not
				   cache the result as a translation the CPU used) */
};

/* Access rights of a translation, independent of the kind of access and of
 * CR0.WP, SMEP, SMAP and RFLAGS.AC, so that a cached translation serves
 * later accesses of any kind through pw_check_access().  With paging off,
 * all three. */
enum {
	PW_PERM_WRITE = 1,	/* R/W (bit 1) is 1 in every paging-structure entry
				   controlling the translation (PAE PDPTEs count as 1) */
	PW_PERM_USER = 2,	/* U/S (bit 2) is 1 in every such entry: a user-mode
				   address (PAE PDPTEs count as 1) */
	PW_PERM_EXEC = 4,	/* XD (bit 63) is 0 in every such entry, or XD is not in
				   effect (32-bit paging, or EFER.NXE=0) */
};

/* #PF error-code bits (SDM 4.7). */
#define PF_ERR_P	(1u << 0)	/* 0: not present; 1: protection violation or reserved bit */
#define PF_ERR_W	(1u << 1)	/* the access was a write */
#define PF_ERR_U	(1u << 2)	/* the access was a user-mode access */
#define PF_ERR_RSVD	(1u << 3)	/* a reserved bit was set in an entry used */
#define PF_ERR_ID	(1u << 4)	/* an instruction fetch, with SMEP or with PAE and NXE */

enum pw_status {
	PW_OK,
	PW_PAGE_FAULT,		/* deliver #PF with pf_error, CR2 = the linear address */
	PW_ABORTED,		/* a pw_mem callback ended the walk */
};

struct pw_result {
	enum pw_status status;
	uint64_t gpa;		/* PW_OK: guest-physical address of the linear address */
	uint64_t page_size;	/* PW_OK: 4K, 2M, 4M or 1G (no paging: 4K) */
	unsigned perms;		/* PW_OK: PW_PERM_* of the translation */
	int dirty;		/* PW_OK: the leaf's D flag is set (after this walk's own
				   update); no paging: 1.  A cached translation with
				   dirty 0 must not serve a write: walk again, to set D */
	int global;		/* PW_OK: the leaf's G flag (bit 8) if CR4.PGE=1, else 0 */
	uint32_t pf_error;	/* PW_PAGE_FAULT: the #PF error code (PF_ERR_*); else 0 */
	unsigned reads;		/* paging-structure entries read, over every walk (a lost
				   A/D race walks again): for pricing the walk */
	unsigned ad_updates;	/* successful cmpxchg calls setting A/D flags */
};

/* Translate linear address `lin` for `access` (PW_* bits).  32-bit and PAE
 * paging use bits 31:0 of lin, 4-level paging 47:0, 5-level 56:0; with
 * CR0.PG=0 the translation is the identity on bits 31:0 (all 64 with
 * EFER.LMA, which the processor never has with CR0.PG=0).
 *
 * Entries are checked top-down: a not-present entry ends the walk with a
 * not-present fault, a present entry with a reserved bit set with a RSVD
 * fault; access rights are checked on the completed translation (so a
 * not-present entry below a supervisor-only entry gives P=0 to a user
 * access).
 *
 * Accessed and dirty flags (SDM 4.8): only when the whole access succeeds,
 * and never with PW_NO_AD, the walker sets A in every paging-structure
 * entry used (not in the PDPTE registers of PAE paging) and, for a write, D
 * in the leaf, with cmpxchg, top-down.  A faulting walk sets no flag (real
 * processors may set A in upper entries of a walk that then faults; this
 * model chooses not to).  If a cmpxchg finds the entry changed the walker
 * walks again from the top, for as long as that happens (each time, another
 * processor has changed the entry); flags already set stay set, even if
 * the new walk faults. */
void pw_walk(const struct pw_mem *m, const struct pw_regs *r, uint64_t lin, unsigned access,
	     struct pw_result *res);

/* May an access of kind `access` use a translation whose rights are `perms`
 * (from an earlier pw_walk under the same paging structures)?  Returns 0
 * if so, else the #PF error code of the protection violation (P=1), as
 * pw_walk would give it under the current CR0, CR4, EFER and RFLAGS.AC in
 * r.  pw_walk uses this for its own check.  A write also needs the cached
 * translation's dirty to be 1.  A fault found through a cached translation
 * may be delivered as is or after a fresh walk: processors may use stale
 * TLB entries either way (SDM 4.10). */
uint32_t pw_check_access(const struct pw_regs *r, unsigned perms, unsigned access);

#endif
