/* ELF64 image checks (elf.h).  Field offsets: System V gABI, "ELF Header"
 * (Elf64_Ehdr) and "Program Header" (Elf64_Phdr). */
#include "elf.h"

#define EHDR_SIZE 64
#define PHDR_SIZE 56

#define EI_CLASS 4
#define EI_DATA 5
#define EI_VERSION 6
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define EV_CURRENT 1
#define ET_EXEC 2
#define EM_X86_64 62

#define E_TYPE 16
#define E_MACHINE 18
#define E_VERSION 20
#define E_ENTRY 24
#define E_PHOFF 32
#define E_PHENTSIZE 54
#define E_PHNUM 56

#define P_TYPE 0
#define P_FLAGS 4
#define P_OFFSET 8
#define P_VADDR 16
#define P_FILESZ 32
#define P_MEMSZ 40

#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3

#define PAGE_MASK 0xfffull

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

/* [a, a + alen) inside [lo, hi), without overflow. */
static int inside(uint64_t a, uint64_t alen, uint64_t lo, uint64_t hi)
{
	return a >= lo && a <= hi && alen <= hi - a;
}

int rk_elf_parse(const void *image, uint64_t len, uint64_t lo, uint64_t hi, struct rk_elf_image *out)
{
	const uint8_t *b = image;
	uint64_t phoff, phnum;
	int entry_ok = 0;

	out->nseg = 0;
	out->entry = 0;
	if (len < EHDR_SIZE)
		return RK_ELF_E_SHORT;
	if (b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F')
		return RK_ELF_E_MAGIC;
	if (b[EI_CLASS] != ELFCLASS64 || b[EI_DATA] != ELFDATA2LSB || b[EI_VERSION] != EV_CURRENT ||
	    rd(b + E_VERSION, 4) != EV_CURRENT)
		return RK_ELF_E_CLASS;
	if (rd(b + E_TYPE, 2) != ET_EXEC)
		return RK_ELF_E_TYPE;
	if (rd(b + E_MACHINE, 2) != EM_X86_64)
		return RK_ELF_E_MACHINE;
	phoff = rd(b + E_PHOFF, 8);
	phnum = rd(b + E_PHNUM, 2);
	if (phnum == 0 || rd(b + E_PHENTSIZE, 2) != PHDR_SIZE || !inside(phoff, phnum * PHDR_SIZE, 0, len))
		return RK_ELF_E_PHDR;
	out->entry = rd(b + E_ENTRY, 8);

	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *ph = b + phoff + i * PHDR_SIZE;
		uint32_t type = (uint32_t)rd(ph + P_TYPE, 4);
		struct rk_elf_seg s;

		if (type == PT_INTERP || type == PT_DYNAMIC)
			return RK_ELF_E_DYNAMIC;
		if (type != PT_LOAD)
			continue;	/* PT_NOTE, PT_GNU_STACK and the like */
		s.flags = (uint32_t)rd(ph + P_FLAGS, 4);
		s.offset = rd(ph + P_OFFSET, 8);
		s.vaddr = rd(ph + P_VADDR, 8);
		s.filesz = rd(ph + P_FILESZ, 8);
		s.memsz = rd(ph + P_MEMSZ, 8);
		if (s.memsz == 0)
			continue;
		if (s.filesz > s.memsz || !inside(s.offset, s.filesz, 0, len))
			return RK_ELF_E_SEG_FILE;
		if (!inside(s.vaddr, s.memsz, lo, hi))
			return RK_ELF_E_SEG_RANGE;
		if ((s.flags & RK_ELF_PF_W) && (s.flags & RK_ELF_PF_X))
			return RK_ELF_E_SEG_WX;
		for (unsigned j = 0; j < out->nseg; j++) {
			const struct rk_elf_seg *t = &out->seg[j];
			uint64_t a0 = s.vaddr & ~PAGE_MASK, a1 = (s.vaddr + s.memsz - 1) & ~PAGE_MASK;
			uint64_t b0 = t->vaddr & ~PAGE_MASK, b1 = (t->vaddr + t->memsz - 1) & ~PAGE_MASK;

			if (a0 <= b1 && b0 <= a1)
				return RK_ELF_E_SEG_OVERLAP;
		}
		if (out->nseg == RK_ELF_MAX_SEGS)
			return RK_ELF_E_TOO_MANY;
		out->seg[out->nseg++] = s;
		if ((s.flags & RK_ELF_PF_X) && out->entry >= s.vaddr && out->entry - s.vaddr < s.memsz)
			entry_ok = 1;
	}
	if (out->nseg == 0)
		return RK_ELF_E_EMPTY;
	if (!entry_ok)
		return RK_ELF_E_ENTRY;
	return RK_ELF_OK;
}

const char *rk_elf_strerror(int err)
{
	switch (err) {
	case RK_ELF_OK:
		return "ok";
	case RK_ELF_E_SHORT:
		return "shorter than its headers";
	case RK_ELF_E_MAGIC:
		return "not an ELF file";
	case RK_ELF_E_CLASS:
		return "not ELF64 little-endian version 1";
	case RK_ELF_E_TYPE:
		return "not an executable (ET_EXEC)";
	case RK_ELF_E_MACHINE:
		return "not x86-64";
	case RK_ELF_E_PHDR:
		return "bad program header table";
	case RK_ELF_E_DYNAMIC:
		return "dynamically linked";
	case RK_ELF_E_TOO_MANY:
		return "too many loadable segments";
	case RK_ELF_E_SEG_FILE:
		return "segment bytes outside the file";
	case RK_ELF_E_SEG_RANGE:
		return "segment outside the user range";
	case RK_ELF_E_SEG_WX:
		return "segment writable and executable";
	case RK_ELF_E_SEG_OVERLAP:
		return "segments share a page";
	case RK_ELF_E_ENTRY:
		return "entry point not in an executable segment";
	case RK_ELF_E_EMPTY:
		return "no loadable segment";
	default:
		return "unknown error";
	}
}
