/* Helpers shared by the two boot handoffs (multiboot.c, bootinfo.c);
 * implemented in elf.c next to the ELF loader.  Not part of the public
 * loader interface (loader.h). */
#ifndef SIM_MACHINE_LOADER_PRIV_H
#define SIM_MACHINE_LOADER_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"

#define LOADER_PAGE 4096ull
#define LOADER_LOW_RESERVED_END 0x100000ull	/* EBDA, legacy video, BIOS area */
#define LOADER_BIOS_BASE 0xE0000ull		/* BIOS area: RSDP and ACPI tables */
#define LOADER_IOAPIC_BASE 0xFEC00000ull
#define LOADER_LAPIC_BASE 0xFEE00000ull

/* Memory map types shared by both handoffs: the multiboot and hv_bootinfo
 * encodings agree on 1 = available, 2 = reserved, 3 = ACPI. */
#define LOADER_MEM_AVAILABLE 1
#define LOADER_MEM_RESERVED 2

struct loader_range {
	uint64_t base, len;
	uint32_t type;
};

#define LOADER_MAX_RANGES 64

struct loader_map {
	struct loader_range r[LOADER_MAX_RANGES];
	unsigned n;
};

/* The PC physical memory map of machine m, sorted: conventional memory,
 * EBDA, BIOS area (bios_type), extended memory to the hole, IO-APIC and
 * LAPIC pages, high RAM. */
void loader_map_pc(struct loader_map *map, const struct memmap *m, uint32_t bios_type);
/* Re-type [base, base+len), widened to whole pages but clipped to the
 * available entry that holds it, splitting that entry.  -EINVAL if no
 * available entry holds the range, -ENOSPC if the map is full. */
int loader_map_mark(struct loader_map *map, uint64_t base, uint64_t len, uint32_t type);

/* 0 if [base, base+len) lies wholly in RAM and clear of the boot area and
 * the reserved memory below 1 MiB; otherwise prints
 * "<name>: <what> [a, b) <why>" and returns -EINVAL. */
int loader_check_placement(const struct memmap *m, const char *name, const char *what,
			   uint64_t base, uint64_t len);

/* A bump allocator over [BOOT_AREA_BASE, BOOT_AREA_END), zeroed at init. */
struct loader_area {
	uint8_t *host;		/* host address of BOOT_AREA_BASE */
	uint64_t next;		/* next free physical address */
};

int loader_area_init(struct loader_area *a, struct memmap *m);
/* Host pointer to `size` zeroed bytes at an `align`-aligned physical
 * address (returned in *pa); NULL (and a message naming `what`) if the
 * boot area is full. */
void *loader_area_alloc(struct loader_area *a, uint64_t size, uint64_t align, const char *what,
			uint64_t *pa);
/* Copies a NUL-terminated string into the boot area; 0 on failure. */
uint64_t loader_area_strdup(struct loader_area *a, const char *s, const char *what);

/* Copies a whole file's bytes page-aligned at or after *cursor, checks
 * the placement, advances *cursor past it.  *data (malloc'd, caller
 * frees) and *len return the file's contents, *base where they went. */
int loader_load_blob(struct memmap *m, const char *path, const char *what, uint64_t *cursor,
		     uint8_t **data, size_t *len, uint64_t *base);

/* Whether the image holds a multiboot v1 header (magic and checksum) in
 * its first 8 KiB (Multiboot Specification 3.1.1). */
int multiboot_has_header(const uint8_t *data, size_t len);

static inline uint64_t loader_align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

#endif
