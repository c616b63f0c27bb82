/* Image loading and the two boot handoffs (docs/boot.md).
 *
 * Every function that reads a user-supplied file validates each field it
 * uses before use and reports a bad file as "<file>: offset 0x..: reason"
 * through diag_error_at(), returning -EINVAL; nothing in a file can make
 * the loader read or write outside its buffers or outside RAM. */
#ifndef SIM_MACHINE_LOADER_H
#define SIM_MACHINE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "memmap.h"

#define ELF_MAX_SEGMENTS 32

struct elf_segment {
	uint64_t paddr, vaddr, offset, filesz, memsz;
	uint32_t flags;	/* PF_X/PF_W/PF_R */
};

struct elf_image {
	int is64;		/* ELFCLASS64 */
	uint64_t entry;
	unsigned nseg;		/* PT_LOAD segments with memsz > 0 */
	struct elf_segment seg[ELF_MAX_SEGMENTS];
	uint64_t lo, hi;	/* physical extent [lo, hi) of all segments */
};

/* Parse an x86 (EM_386 or EM_X86_64) executable ELF file. */
int elf_parse(const uint8_t *data, size_t len, const char *name, struct elf_image *out);
/* Copy the segments to their physical addresses and zero the rest of
 * memsz; -EINVAL (with a message) if a segment is not wholly in RAM. */
int elf_load(struct memmap *m, const uint8_t *data, size_t len, const char *name,
	     const struct elf_image *img);

/* Read a whole file into a malloc'd buffer; prints the reason on error. */
int loader_read_file(const char *path, uint8_t **data, size_t *len);

/* CPU state the boot path asks for at the first instruction. */
enum boot_mode {
	BOOT_MODE_PROT32 = 1,	/* flat 32-bit protected mode, paging off (multiboot) */
	BOOT_MODE_LONG64,	/* 64-bit long mode, paging on (hvsim run) */
	BOOT_MODE_REAL16,	/* real mode at CS:IP = (rip >> 4):(rip & 0xf), as after SIPI */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip, rsp;
	uint64_t rax, rbx, rdi;		/* the rest are 0 */
	uint64_t cr3;			/* LONG64: PML4 */
	uint64_t gdt_base;		/* a flat GDT: 0x08 code, 0x10 data (LONG64: 0x08 is 64-bit) */
	uint16_t gdt_limit;
};

/* Multiboot v1 (spec 0.6.96, section 3): find the header in the first
 * 8 KiB, load an ELF32/ELF64 kernel by its program headers (or by the
 * a.out-kludge addresses when flag 16 is set), load modules page-aligned
 * after the kernel, and build the information structure (memory, memory
 * map, command line, modules, boot loader name) in low memory. */
struct multiboot_module_arg {
	const char *path;
	const char *cmdline;	/* string the kernel sees for it */
};

struct multiboot_args {
	const char *kernel_path;
	const char *cmdline;	/* the kernel's command line (its path and args) */
	const struct multiboot_module_arg *modules;
	unsigned nmodules;
};

int multiboot_boot(struct memmap *m, const struct multiboot_args *a, struct boot_entry *e);

/* The hvsim run handoff (include/hv/bootinfo.h): load the firmware ELF64
 * and modules, build identity page tables, a GDT, a 64 KiB stack and
 * struct hv_bootinfo (with a copy of the configuration text and the child
 * partition table) in the boot area, and describe all of it in the boot
 * memory map. */
struct bootinfo_module_arg {
	const char *path;
	const char *name;	/* at most 39 characters */
};

/* A child partition for the root kernel to create (hv_boot_partition). */
struct bootinfo_partition_arg {
	const char *name;	/* 1..31 characters */
	unsigned module;	/* index in bootinfo_args.modules of its kernel: an ELF64 or a multiboot kernel */
	int enlightened;	/* HV_BOOT_PART_ENLIGHTENED */
	int synic_test_device;	/* HV_BOOT_PART_SYNIC_TEST_DEVICE */
	int console;		/* HV_BOOT_PART_CONSOLE */
	const char *cmdline;	/* a multiboot kernel's command line, or NULL */
	uint64_t memory;	/* bytes, a non-zero multiple of 2 MiB */
	unsigned vps;		/* at least 1 */
	unsigned iterations;	/* 0: the kernel's default */
};

struct bootinfo_args {
	const char *firmware_path;
	const struct bootinfo_module_arg *modules;
	unsigned nmodules;
	const struct bootinfo_partition_arg *partitions;
	unsigned npartitions;	/* at most HV_BOOT_MAX_PARTITIONS */
	unsigned lp_count;
	uint64_t tsc_khz;
	uint64_t acpi_rsdp;
	const char *config_text;	/* may be NULL */
	size_t config_length;
	const char *cmdline;		/* may be NULL */
};

int bootinfo_boot(struct memmap *m, const struct bootinfo_args *a, struct boot_entry *e);

/* Where the handoffs put their structures (inside reserved low memory). */
#define BOOT_AREA_BASE 0x10000ull	/* multiboot info, bootinfo, page tables, GDT */
#define BOOT_AREA_END 0x9F000ull
#define BOOT_EBDA_BASE 0x9FC00ull	/* reserved to 1 MiB from here */

#endif
