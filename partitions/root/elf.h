/* Checks an ELF64 executable before the root kernel loads it into a user
 * address space.  Pure code (only <stdint.h>): the kernel links it, and
 * the host unit test partitions/root/tests/test_rk_elf.c runs it on
 * crafted images.
 *
 * Accepted: little-endian ELF64, ET_EXEC, EM_X86_64, whose PT_LOAD
 * segments (at most RK_ELF_MAX_SEGS with memsz > 0) lie inside the image
 * (file bytes) and inside [lo, hi) (memory), with filesz <= memsz, never
 * writable and executable at once, and never sharing a 4 KiB page; no
 * PT_INTERP or PT_DYNAMIC (static images only); the entry point inside an
 * executable segment.  Every field is read once, byte by byte, so the
 * image needs no alignment (System V ABI gABI, "ELF Header" and "Program
 * Header"; AMD64 psABI for EM_X86_64). */
#ifndef RK_ELF_H
#define RK_ELF_H

#include <stdint.h>

#define RK_ELF_MAX_SEGS 8

#define RK_ELF_PF_X 1u
#define RK_ELF_PF_W 2u
#define RK_ELF_PF_R 4u

struct rk_elf_seg {
	uint64_t vaddr, memsz;	/* where it goes */
	uint64_t offset, filesz;	/* what of the image it holds; the rest is zero */
	uint32_t flags;		/* RK_ELF_PF_* */
};

struct rk_elf_image {
	uint64_t entry;
	unsigned nseg;
	struct rk_elf_seg seg[RK_ELF_MAX_SEGS];
};

enum rk_elf_err {
	RK_ELF_OK = 0,
	RK_ELF_E_SHORT = -1,		/* shorter than its headers */
	RK_ELF_E_MAGIC = -2,		/* not ELF */
	RK_ELF_E_CLASS = -3,		/* not ELF64 little-endian, version 1 */
	RK_ELF_E_TYPE = -4,		/* not ET_EXEC */
	RK_ELF_E_MACHINE = -5,		/* not EM_X86_64 */
	RK_ELF_E_PHDR = -6,		/* program headers missing, odd size or outside the image */
	RK_ELF_E_DYNAMIC = -7,		/* PT_INTERP or PT_DYNAMIC */
	RK_ELF_E_TOO_MANY = -8,		/* more than RK_ELF_MAX_SEGS loadable segments */
	RK_ELF_E_SEG_FILE = -9,		/* segment bytes outside the image, or filesz > memsz */
	RK_ELF_E_SEG_RANGE = -10,	/* segment outside [lo, hi) */
	RK_ELF_E_SEG_WX = -11,		/* writable and executable */
	RK_ELF_E_SEG_OVERLAP = -12,	/* two segments share a page */
	RK_ELF_E_ENTRY = -13,		/* entry not in an executable segment */
	RK_ELF_E_EMPTY = -14,		/* no loadable segment */
};

/* Fills *out from the `len` bytes at `image`, allowing memory in [lo, hi).
 * Returns RK_ELF_OK or an enum rk_elf_err. */
int rk_elf_parse(const void *image, uint64_t len, uint64_t lo, uint64_t hi, struct rk_elf_image *out);
const char *rk_elf_strerror(int err);

#endif
