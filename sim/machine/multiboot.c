/* Multiboot v1 boot loader (Multiboot Specification 0.6.96, section 3):
 * the `hvsim boot` path for freestanding test kernels.
 *
 * Supported header flags (3.1.2): 0 (modules are always page aligned),
 * 1 (memory information is always passed) and 2 (video mode).  For bit 2
 * hvsim does what GRUB 2 does on a machine without a display adapter: it
 * boots the kernel and passes no video information (info flags 11 and 12
 * clear); the header's mode fields are preferences (3.1.4).  Any other
 * bit in 0-15 is a requirement hvsim cannot meet, so the boot fails as
 * 3.1.2 demands.  Bit 16 (a.out kludge, 3.1.3) loads by the header's
 * address fields and takes precedence over ELF headers, as in GRUB;
 * otherwise the image must be ELF32 or ELF64 (GRUB also accepts ELF64)
 * with everything below 4 GiB, since the kernel starts with paging off.
 *
 * Machine state at entry (3.2): EAX = 0x2BADB002, EBX = physical address
 * of the information structure, flat 4 GiB CS (0x08) and data segments
 * (0x10) from a GDT in the boot area, paging off; ESP is undefined. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "hv/multiboot.h"
#include "loader.h"
#include "loader_priv.h"

#define MB_4G (1ull << 32)
#define MB_HEADER_BASE_SIZE 12u		/* magic, flags, checksum */
#define MB_HEADER_AOUT_SIZE 32u		/* + the address fields (3.1.3) */
#define MB_HEADER_VIDEO_SIZE 48u	/* + the graphics fields (3.1.4) */
#define MB_SUPPORTED_FLAGS (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_VIDEO_MODE)

static const uint64_t mb_gdt[3] = {
	0,
	0x00CF9A000000FFFFull,	/* 0x08: code, base 0, limit 4 GiB, 32-bit, DPL 0 */
	0x00CF92000000FFFFull,	/* 0x10: data, base 0, limit 4 GiB, writable */
};

struct mb_kernel {
	uint64_t entry;
	uint64_t hi;	/* end of the highest byte loaded (modules go after it) */
};

/* 3.1.1: the header is 32-bit aligned within the first 8192 bytes, and
 * magic + flags + checksum is zero modulo 2^32.  A magic number with a
 * wrong checksum is skipped, as GRUB does; *bad is the first such one
 * (SIZE_MAX if none).  Returns the header's offset, or SIZE_MAX. */
static size_t mb_scan(const uint8_t *data, size_t len, size_t *bad)
{
	size_t limit = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;
	uint32_t w[3];

	*bad = SIZE_MAX;
	for (size_t off = 0; off + MB_HEADER_BASE_SIZE <= limit; off += 4) {
		memcpy(w, data + off, sizeof(w));
		if (w[0] != MULTIBOOT_HEADER_MAGIC)
			continue;
		if ((uint32_t)(w[0] + w[1] + w[2]) == 0)
			return off;
		if (*bad == SIZE_MAX)
			*bad = off;
	}
	return SIZE_MAX;
}

int multiboot_has_header(const uint8_t *data, size_t len)
{
	size_t bad;

	return mb_scan(data, len, &bad) != SIZE_MAX;
}

/* The header of 3.1.1 with the fields its flags say it has; the bad
 * checksum is remembered for the message if nothing better turns up. */
static int mb_find_header(const uint8_t *data, size_t len, const char *name, size_t *at,
			  struct multiboot_header *h)
{
	size_t limit = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;
	size_t bad, size, off = mb_scan(data, len, &bad);
	uint32_t flags;

	if (off != SIZE_MAX) {
		memcpy(&flags, data + off + 4, sizeof(flags));
		size = MB_HEADER_BASE_SIZE;
		if (flags & MULTIBOOT_AOUT_KLUDGE)
			size = MB_HEADER_AOUT_SIZE;
		if (flags & MULTIBOOT_VIDEO_MODE)
			size = MB_HEADER_VIDEO_SIZE;
		if (off + size > limit) {
			diag_error_at(name, 0, 0,
				      "offset 0x%zx: multiboot header (%zu bytes for flags 0x%x) extends past %s",
				      off, size, flags,
				      limit == len ? "the end of the file" : "the first 8192 bytes");
			return -EINVAL;
		}
		memset(h, 0, sizeof(*h));
		memcpy(h, data + off, size);
		*at = off;
		return 0;
	}
	if (bad != SIZE_MAX)
		diag_error_at(name, 0, 0, "offset 0x%zx: multiboot header has a bad checksum", bad);
	else
		diag_error_at(name, 0, 0, "no multiboot header in the first %u bytes",
			      MULTIBOOT_SEARCH);
	return -EINVAL;
}

/* 3.1.3: load [load_addr, load_end_addr) from file offset
 * header offset - (header_addr - load_addr), zero up to bss_end_addr. */
static int mb_load_aout(struct memmap *m, const uint8_t *data, size_t len, const char *name,
			size_t hoff, const struct multiboot_header *h, struct mb_kernel *k)
{
	uint64_t foff, size, load_end, bss_end;
	uint8_t *p;
	int err;

	if (h->load_addr > h->header_addr) {
		diag_error_at(name, 0, 0, "offset 0x%zx: load_addr 0x%x is above header_addr 0x%x",
			      hoff, h->load_addr, h->header_addr);
		return -EINVAL;
	}
	if (h->header_addr - h->load_addr > hoff) {
		diag_error_at(name, 0, 0,
			      "offset 0x%zx: header_addr - load_addr (0x%x) puts the load before the start of the file",
			      hoff, h->header_addr - h->load_addr);
		return -EINVAL;
	}
	foff = hoff - (h->header_addr - h->load_addr);
	if (h->load_end_addr == 0) {
		size = len - foff;	/* text and data run to the end of the file */
	} else if (h->load_end_addr < h->load_addr) {
		diag_error_at(name, 0, 0, "offset 0x%zx: load_end_addr 0x%x is below load_addr 0x%x",
			      hoff, h->load_end_addr, h->load_addr);
		return -EINVAL;
	} else {
		size = h->load_end_addr - h->load_addr;
		if (size > len - foff) {
			diag_error_at(name, 0, 0,
				      "offset 0x%zx: load_end_addr 0x%x asks for 0x%llx bytes from file offset 0x%llx, past the end of the file (0x%zx bytes)",
				      hoff, h->load_end_addr, (unsigned long long)size,
				      (unsigned long long)foff, len);
			return -EINVAL;
		}
	}
	load_end = h->load_addr + size;
	if (load_end > MB_4G) {
		diag_error_at(name, 0, 0, "offset 0x%zx: the image loaded at 0x%x runs past 4 GiB",
			      hoff, h->load_addr);
		return -EINVAL;
	}
	bss_end = load_end;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < load_end) {
			diag_error_at(name, 0, 0,
				      "offset 0x%zx: bss_end_addr 0x%x is below the end of the loaded image 0x%llx",
				      hoff, h->bss_end_addr, (unsigned long long)load_end);
			return -EINVAL;
		}
		bss_end = h->bss_end_addr;
	}
	err = loader_check_placement(m, name, "the kernel image", h->load_addr,
				     bss_end - h->load_addr);
	if (err)
		return err;
	if (bss_end > h->load_addr) {
		p = memmap_ram_ptr(m, h->load_addr, bss_end - h->load_addr);
		memcpy(p, data + foff, size);
		memset(p + size, 0, bss_end - load_end);
	}
	k->entry = h->entry_addr;
	k->hi = bss_end;
	return 0;
}

static int mb_load_elf(struct memmap *m, const uint8_t *data, size_t len, const char *name,
		       struct mb_kernel *k)
{
	struct elf_image img;
	char what[32];
	int err;

	err = elf_parse(data, len, name, &img);
	if (err)
		return err;
	if (img.entry >= MB_4G) {
		diag_error_at(name, 0, 0,
			      "entry point 0x%llx is above 4 GiB (a multiboot kernel starts in 32-bit mode)",
			      (unsigned long long)img.entry);
		return -EINVAL;
	}
	for (unsigned i = 0; i < img.nseg; i++) {
		const struct elf_segment *s = &img.seg[i];

		if (s->paddr + s->memsz > MB_4G) {
			diag_error_at(name, 0, 0,
				      "offset 0x%llx: segment %u at physical 0x%llx is not below 4 GiB (a multiboot kernel starts with paging off)",
				      (unsigned long long)s->offset, i,
				      (unsigned long long)s->paddr);
			return -EINVAL;
		}
		snprintf(what, sizeof(what), "segment %u", i);
		err = loader_check_placement(m, name, what, s->paddr, s->memsz);
		if (err)
			return err;
	}
	err = elf_load(m, data, len, name, &img);
	if (err)
		return err;
	k->entry = img.entry;
	k->hi = img.hi;
	return 0;
}

static int mb_load_kernel(struct memmap *m, const char *path, struct mb_kernel *k)
{
	struct multiboot_header h;
	uint8_t *data;
	size_t len, hoff;
	uint32_t unsupported;
	int err;

	err = loader_read_file(path, &data, &len);
	if (err)
		return err;
	err = mb_find_header(data, len, path, &hoff, &h);
	if (err)
		goto out;
	/* 3.1.2: bits 0-15 are requirements; 16-31 optional features. */
	unsupported = h.flags & 0xFFFFu & ~MB_SUPPORTED_FLAGS;
	if (unsupported) {
		diag_error_at(path, 0, 0,
			      "offset 0x%zx: multiboot header requires features hvsim does not provide (flags 0x%x)",
			      hoff, unsupported);
		err = -EINVAL;
		goto out;
	}
	if (h.flags & MULTIBOOT_AOUT_KLUDGE)
		err = mb_load_aout(m, data, len, path, hoff, &h, k);
	else
		err = mb_load_elf(m, data, len, path, k);
out:
	free(data);
	return err;
}

int multiboot_boot(struct memmap *m, const struct multiboot_args *a, struct boot_entry *e)
{
	struct multiboot_info info = { 0 };
	struct multiboot_mmap_entry *mmap;
	struct multiboot_module *mods = NULL;
	struct loader_area area;
	struct loader_map map;
	struct mb_kernel k;
	uint64_t gdt_pa, info_pa, mmap_pa, mods_pa = 0, cursor, low;
	void *gdt, *info_host;
	int err;

	err = loader_area_init(&area, m);
	if (err)
		return err;
	err = mb_load_kernel(m, a->kernel_path, &k);
	if (err)
		return err;

	gdt = loader_area_alloc(&area, sizeof(mb_gdt), 8, "the GDT", &gdt_pa);
	info_host = loader_area_alloc(&area, sizeof(info), 8, "the multiboot information", &info_pa);
	if (!gdt || !info_host)
		return -ENOSPC;
	memcpy(gdt, mb_gdt, sizeof(mb_gdt));

	/* 3.3: modules, each page aligned after the highest byte of the
	 * kernel, with its command-line string. */
	if (a->nmodules) {
		mods = loader_area_alloc(&area, (uint64_t)a->nmodules * sizeof(*mods), 8,
					 "the module list", &mods_pa);
		if (!mods)
			return -ENOSPC;
	}
	cursor = k.hi;
	for (unsigned i = 0; i < a->nmodules; i++) {
		const struct multiboot_module_arg *ma = &a->modules[i];
		struct multiboot_module mod = { 0 };
		uint8_t *data;
		size_t len;
		uint64_t base;

		err = loader_load_blob(m, ma->path, "the module", &cursor, &data, &len, &base);
		if (err)
			return err;
		free(data);
		if (base + len > MB_4G) {
			diag_error_at(ma->path, 0, 0, "the module at 0x%llx does not fit below 4 GiB",
				      (unsigned long long)base);
			return -EINVAL;
		}
		mod.mod_start = (uint32_t)base;
		mod.mod_end = (uint32_t)(base + len);
		mod.string = (uint32_t)loader_area_strdup(&area, ma->cmdline ? ma->cmdline : ma->path,
							  "a module command line");
		if (!mod.string)
			return -ENOSPC;
		memcpy(&mods[i], &mod, sizeof(mod));
	}
	info.flags |= MULTIBOOT_INFO_MODS;
	info.mods_count = a->nmodules;
	info.mods_addr = (uint32_t)mods_pa;

	/* 3.3: mem_lower is the conventional memory below the EBDA (639 KiB);
	 * mem_upper the memory from 1 MiB to the first hole. */
	low = memmap_ram_low(m);
	info.flags |= MULTIBOOT_INFO_MEMORY;
	info.mem_lower = (uint32_t)(BOOT_EBDA_BASE / 1024);
	info.mem_upper = (uint32_t)((low - LOADER_LOW_RESERVED_END) / 1024);

	/* 3.3 memory map: each entry is preceded by its size (20, not
	 * counting the size field itself); mmap_addr points at the first
	 * size field. */
	loader_map_pc(&map, m, LOADER_MEM_RESERVED);
	mmap = loader_area_alloc(&area, (uint64_t)map.n * sizeof(*mmap), 8, "the memory map",
				 &mmap_pa);
	if (!mmap)
		return -ENOSPC;
	for (unsigned i = 0; i < map.n; i++) {
		struct multiboot_mmap_entry me = {
			.size = sizeof(me) - sizeof(me.size),
			.addr = map.r[i].base,
			.len = map.r[i].len,
			.type = map.r[i].type,
		};

		memcpy(&mmap[i], &me, sizeof(me));
	}
	info.flags |= MULTIBOOT_INFO_MEM_MAP;
	info.mmap_addr = (uint32_t)mmap_pa;
	info.mmap_length = map.n * (uint32_t)sizeof(*mmap);

	info.cmdline = (uint32_t)loader_area_strdup(&area, a->cmdline ? a->cmdline : a->kernel_path,
						    "the kernel command line");
	info.boot_loader_name = (uint32_t)loader_area_strdup(&area, "hvsim", "the boot loader name");
	if (!info.cmdline || !info.boot_loader_name)
		return -ENOSPC;
	info.flags |= MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_BOOT_LOADER_NAME;
	memcpy(info_host, &info, sizeof(info));

	*e = (struct boot_entry){
		.mode = BOOT_MODE_PROT32,
		.rip = k.entry,
		.rsp = 0,	/* 3.2: ESP is undefined; the kernel sets up its own */
		.rax = MULTIBOOT_BOOTLOADER_MAGIC,
		.rbx = info_pa,
		.gdt_base = gdt_pa,
		.gdt_limit = sizeof(mb_gdt) - 1,
	};
	return 0;
}
