/* Multiboot v1 kernels as the guests of child partitions (docs/hypervisor.md
 * "Unmodified guests", include/hv/childboot.h CHILD_MB_*): finding and
 * checking the kernel's header and segments, and building what a PC
 * firmware and a multiboot loader leave in memory for it.  Pure code
 * (only <stdint.h>): the kernel links it, and the host unit test
 * partitions/root/tests/test_rk_mboot.c runs it.
 *
 * The image (Multiboot Specification 0.6.96, 3.1): a header, 32-bit
 * aligned in the first 8 KiB, whose magic + flags + checksum is 0 mod
 * 2^32 (a magic with a bad checksum is skipped, as GRUB does).  Header
 * flags 0 (page-align modules: there are none), 1 (memory information:
 * always given) and 2 (video mode: a preference; there is no display, so
 * none is passed) are accepted; any other bit of 0-15 asks for something
 * not offered, and the image is refused (3.1.2).  With flag 16 the a.out
 * kludge's address fields say what to load (3.1.3); otherwise the image
 * must be an ELF32 (EM_386) or ELF64 (EM_X86_64) executable whose
 * PT_LOAD segments are loaded at their physical addresses, as GRUB does.
 * Every segment must lie inside the image (file bytes) and inside
 * [lo, hi) (the child's memory above the PC's low area); the entry point
 * must be inside a loaded segment, below 4 GiB. */
#ifndef RK_MBOOT_H
#define RK_MBOOT_H

#include <stdint.h>

#include "elf.h"

struct rk_mb_image {
	uint32_t header_flags;
	uint32_t entry;		/* EIP at entry (physical: paging is off) */
	unsigned nseg;
	struct rk_elf_seg seg[RK_ELF_MAX_SEGS];	/* vaddr is the physical address */
};

enum rk_mb_err {
	RK_MB_OK = 0,
	RK_MB_E_NO_HEADER = -1,		/* no multiboot header in the first 8 KiB */
	RK_MB_E_HEADER_SHORT = -2,	/* the header's fields run past the image */
	RK_MB_E_FLAGS = -3,		/* asks for something not offered (flags 3-15) */
	RK_MB_E_AOUT = -4,		/* a.out kludge address fields inconsistent */
	RK_MB_E_ELF = -5,		/* no a.out kludge and not an ELF32/ELF64 x86 executable */
	RK_MB_E_PHDR = -6,		/* program headers missing, odd size or outside the image */
	RK_MB_E_TOO_MANY = -7,		/* more than RK_ELF_MAX_SEGS loadable segments */
	RK_MB_E_SEG_FILE = -8,		/* segment bytes outside the image, or filesz > memsz */
	RK_MB_E_SEG_RANGE = -9,		/* a segment outside [lo, hi) */
	RK_MB_E_ENTRY = -10,		/* entry not in a loaded segment, or above 4 GiB */
	RK_MB_E_EMPTY = -11,		/* nothing to load */
};

/* Offset of the image's multiboot header, or -1. */
int64_t rk_mb_find(const void *image, uint64_t len);
/* Fills *out from the `len` bytes at `image`, allowing memory in
 * [lo, hi); returns RK_MB_OK or an enum rk_mb_err. */
int rk_mb_parse(const void *image, uint64_t len, uint64_t lo, uint64_t hi, struct rk_mb_image *out);
const char *rk_mb_strerror(int err);

/* The boot data of childboot.h in `buf`, which stands for the child's
 * GPAs [CHILD_MB_GDT, CHILD_MB_GDT + RK_MB_LOW_BYTES): the GDT, the
 * information structure (flags MEMORY, CMDLINE, MODS with none, MEM_MAP,
 * BOOT_LOADER_NAME), the memory map and the strings.  `cmdline` is at
 * most RK_MB_CMDLINE_MAX bytes (longer is cut).  Returns the GPA of the
 * information structure (EBX). */
#define RK_MB_LOW_BYTES 0x2000u
#define RK_MB_CMDLINE_MAX 1024u
uint32_t rk_mb_boot_data(uint8_t *buf, uint64_t memory, const char *cmdline);

/* ACPI 1.0 tables (ACPI 6.5 chapter 5.2) in `buf`, which stands for the
 * child's GPAs [CHILD_MB_ACPI, CHILD_MB_ACPI + RK_ACPI_BYTES): RSDP
 * (revision 0), RSDT, FADT (PM timer at CHILD_PMTIMER_PORT, 32 bits),
 * an empty DSDT, a MADT with one enabled local APIC per VP (APIC ID
 * and processor UID = VP index; no 8259s, no IO-APIC), and an HPET table
 * for the worker's HPET at CHILD_HPET_BASE.  Returns the bytes used;
 * `vps` is capped at RK_ACPI_MAX_VPS. */
#define RK_ACPI_BYTES 0x400u
#define RK_ACPI_MAX_VPS 64u
uint32_t rk_acpi_build(uint8_t *buf, unsigned vps);

#endif
