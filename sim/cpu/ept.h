/* The EPT walker: guest-physical to host-physical translation for a VMX
 * guest (SDM Vol. 3C 29.3 "The Extended Page Table Mechanism (EPT)").
 *
 * Pure and host-side: it knows nothing of Unicorn.  The CPU model calls
 * ept_translate() from its TLB-fill hook for every guest-physical access a
 * VMX guest makes, both final accesses and the processor's own accesses to
 * guest paging-structure entries, so the walker allocates nothing, prints
 * nothing and keeps no state between calls; it reads the EPT paging
 * structures through struct ept_mem.
 *
 * Only the 4-level walk is modelled (no 5-level EPT), and neither
 * mode-based execute control, sub-page write permissions, supervisor
 * shadow-stack control nor guest-paging verification: the bits those
 * features define are treated as the SDM says they are treated when the
 * feature is off. */
#ifndef SIM_CPU_EPT_H
#define SIM_CPU_EPT_H

#include <stdint.h>

/* Host-physical memory holding the EPT paging structures. */
struct ept_mem {
	/* Read the 8-byte entry at hpa: 0, or nonzero if hpa is not RAM
	 * (the walker then sees all ones, like a read from an unclaimed
	 * address, which always makes an EPT misconfiguration). */
	int (*read64)(void *opaque, uint64_t hpa, uint64_t *val);
	/* Atomically replace the entry at hpa by `new` if it still holds
	 * `old` (A/D updates): 0 if done, nonzero if it held something else,
	 * in which case the walker walks again. */
	int (*cmpxchg64)(void *opaque, uint64_t hpa, uint64_t old, uint64_t new);
	void *opaque;
};

/* Access kinds; each is also the entry permission bit (bit 0 read, bit 1
 * write, bit 2 execute) and the exit-qualification bit that reports it. */
enum { EPT_ACCESS_READ = 1, EPT_ACCESS_WRITE = 2, EPT_ACCESS_FETCH = 4 };

enum ept_status {
	EPT_OK,
	EPT_VIOLATION,		/* exit reason 48, SDM 29.3.3.2 */
	EPT_MISCONFIG,		/* exit reason 49, SDM 29.3.3.1 */
};

/* EPTP fields (SDM Vol. 3C 25.6.11, table "Format of Extended-Page-Table
 * Pointer"). */
#define EPTP_MEMTYPE_MASK	0x7ull		/* bits 2:0: paging-structure memory type */
#define EPTP_PWL_MASK		0x38ull		/* bits 5:3: page-walk length minus 1 */
#define EPTP_PWL_4		(3ull << 3)	/* 4-level walk */
#define EPTP_AD			(1ull << 6)	/* accessed and dirty flags for EPT */

/* EPT memory types (SDM 29.3.7 "EPT and Memory Typing"; 2, 3, 7 reserved). */
enum {
	EPT_MT_UC = 0,
	EPT_MT_WC = 1,
	EPT_MT_WT = 4,
	EPT_MT_WP = 5,
	EPT_MT_WB = 6,
};

/* Exit qualification for EPT violations, bits 0-5 (SDM Vol. 3C 28.2.1,
 * table "Exit Qualification for EPT Violations"). */
#define EPT_QUAL_READ		(1ull << 0)	/* the access was a data read */
#define EPT_QUAL_WRITE		(1ull << 1)	/* ... a data write */
#define EPT_QUAL_FETCH		(1ull << 2)	/* ... an instruction fetch */
#define EPT_QUAL_READABLE	(1ull << 3)	/* AND of bit 0 over the entries used */
#define EPT_QUAL_WRITABLE	(1ull << 4)	/* AND of bit 1 */
#define EPT_QUAL_EXECUTABLE	(1ull << 5)	/* AND of bit 2 */

/* What IA32_VMX_EPT_VPID_CAP reports (SDM Vol. 3D A.10). */
struct ept_caps {
	int exec_only;		/* bit 0: entries with bits 2:0 = 100b allowed */
	int pwl4;		/* bit 6: page-walk length 4 */
	int wb, uc;		/* bits 14, 8: EPTP memory type WB / UC allowed */
	int page_2m, page_1g;	/* bits 16, 17: PDE / PDPTE bit 7 may map a page */
	int ad;			/* bit 21: accessed and dirty flags for EPT */
	unsigned maxphyaddr;	/* CPUID.80000008H:EAX[7:0]; clamped to 12..52 */
};

struct ept_result {
	enum ept_status status;
	uint64_t hpa;		/* translated address (EPT_OK), else 0 */
	uint64_t page_size;	/* 4K, 2M or 1G once the leaf was reached, else 0 */
	unsigned perms;		/* AND of bits 2:0 over the entries read (R=1 W=2 X=4);
				   0 if one was not present */
	unsigned memtype;	/* leaf bits 5:3 once the leaf was reached, else 0 */
	int ipat;		/* leaf bit 6 (ignore PAT) once the leaf was reached */
	uint64_t qual;		/* EPT_VIOLATION: exit-qualification bits 0-5; the caller
				   adds bits 7, 8 and 12.  0 otherwise */
	unsigned level;		/* where the walk ended: 4 = PML4E ... 1 = PTE (the leaf
				   on success, the faulting entry otherwise) */
	uint64_t entry_hpa;	/* address of the last entry read (for tracing) */
	unsigned reads;		/* paging-structure entries read, over every walk (a
				   lost A/D race walks again): the CPU model prices the
				   walk by this */
	unsigned ad_updates;	/* successful cmpxchg64 calls setting A/D flags */
};

/* Fill caps from the IA32_VMX_EPT_VPID_CAP value and the physical-address
 * width. */
void ept_caps_from_msr(uint64_t ept_vpid_cap, unsigned maxphyaddr, struct ept_caps *caps);

/* Is eptp a valid EPTP for these capabilities (the VM-entry check of SDM
 * Vol. 3C 27.2.1.1)?  Returns 1 or 0.  Bit 7 (supervisor shadow-stack
 * control) is not modelled, so bits 11:7 must all be 0. */
int ept_eptp_valid(uint64_t eptp, const struct ept_caps *caps);

/* Translate guest-physical `gpa` (bits 47:0 are used) for `access`, one
 * or more EPT_ACCESS_* bits (other bits are ignored; 0 only walks, as for
 * a probe, and cannot fail on permissions).  `eptp` must have passed
 * ept_eptp_valid() for `caps`.
 *
 * `paging_structure` is nonzero when the access is the processor reading
 * or writing a guest paging-structure entry: with EPT A/D enabled (EPTP bit
 * 6) such an access is treated as a write, for permissions, for the
 * exit qualification (which then reports both read and write) and for the
 * dirty flag (SDM 29.3.5 "Accessed and Dirty Flags for EPT").  Not for the
 * guest PDPTE loads of PAE paging by MOV to CR: those are plain reads.
 *
 * With EPTP bit 6 set and the translation successful, sets the accessed
 * flag in every entry used and the dirty flag in the leaf for writes.  A
 * violation or misconfiguration sets no flag; but if a concurrent change
 * makes a walk that has already set some flags walk again and fail, the
 * flags set for the first walk stay (they are sticky, and that walk did use
 * those entries). */
void ept_translate(const struct ept_mem *m, const struct ept_caps *caps, uint64_t eptp, uint64_t gpa,
		   unsigned access, int paging_structure, struct ept_result *r);

#endif
