/* The `hvsim run` handoff to hypervisor firmware (include/hv/bootinfo.h,
 * docs/boot.md): the firmware ELF64 at its physical addresses, modules
 * as raw bytes after it, and in the boot area a boot stack, 4-level
 * identity page tables, a GDT, struct hv_bootinfo, the configuration
 * text and the command line.  Entry is in 64-bit long mode (SDM Vol. 3A
 * 9.8.5: IA-32e mode needs paging with PAE, hence the page tables). */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "hv/bootinfo.h"
#include "loader.h"
#include "loader_priv.h"

#define BI_STACK_SIZE 0x10000ull
#define BI_GIB (1ull << 30)
#define BI_2M (1ull << 21)

/* SDM Vol. 3A 4.5, tables 4-15 to 4-18: present, writable, and in a PDE
 * page size (a 2 MiB page). */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)

static const uint64_t bi_gdt[3] = {
	0,
	0x00AF9A000000FFFFull,	/* 0x08: code, L = 1 (64-bit), D = 0, DPL 0 */
	0x00CF92000000FFFFull,	/* 0x10: data, flat 4 GiB, writable */
};

_Static_assert(HV_MEM_AVAILABLE == LOADER_MEM_AVAILABLE && HV_MEM_RESERVED == LOADER_MEM_RESERVED,
	       "loader_map types are the hv_bootinfo types");

/* Identity map [0, 4 GiB + high RAM) with 2 MiB pages, rounded up to a
 * whole GiB: one PD per GiB, one PDPT per 512 GiB, one PML4. */
static int bi_page_tables(struct loader_area *area, const struct memmap *m, uint64_t *cr3)
{
	uint64_t top = MEMMAP_HIGH_RAM_BASE + memmap_ram_high(m);
	uint64_t ngib = (top + BI_GIB - 1) / BI_GIB;
	uint64_t npdpt = (ngib + 511) / 512;
	uint64_t pml4_pa, pdpt_pa, pd_pa;
	uint64_t *pml4, *pdpt, *pd;
	char what[64];

	snprintf(what, sizeof(what), "the page tables for %llu GiB", (unsigned long long)ngib);
	pml4 = loader_area_alloc(area, LOADER_PAGE, LOADER_PAGE, what, &pml4_pa);
	if (!pml4)
		return -ENOSPC;
	pdpt = loader_area_alloc(area, npdpt * LOADER_PAGE, LOADER_PAGE, what, &pdpt_pa);
	if (!pdpt)
		return -ENOSPC;
	pd = loader_area_alloc(area, ngib * LOADER_PAGE, LOADER_PAGE, what, &pd_pa);
	if (!pd)
		return -ENOSPC;
	for (uint64_t i = 0; i < npdpt; i++)
		pml4[i] = (pdpt_pa + i * LOADER_PAGE) | PTE_P | PTE_RW;
	for (uint64_t g = 0; g < ngib; g++) {
		pdpt[g] = (pd_pa + g * LOADER_PAGE) | PTE_P | PTE_RW;
		for (uint64_t i = 0; i < 512; i++)
			pd[g * 512 + i] = (g * BI_GIB + i * BI_2M) | PTE_P | PTE_RW | PTE_PS;
	}
	*cr3 = pml4_pa;
	return 0;
}

static int bi_mark(struct loader_map *map, uint64_t base, uint64_t len, uint32_t type,
		   const char *name, const char *what)
{
	int err = loader_map_mark(map, base, len, type);

	if (err)
		diag_error_at(name, 0, 0, "%s [0x%llx, 0x%llx) does not fit the boot memory map",
			      what, (unsigned long long)base, (unsigned long long)(base + len));
	return err;
}

/* Each run of firmware segments that meet once widened to whole pages
 * becomes one HV_MEM_FIRMWARE entry (usually one for the whole image). */
static int bi_mark_firmware(struct loader_map *map, const struct elf_image *img, const char *name)
{
	struct elf_segment s[ELF_MAX_SEGMENTS];
	uint64_t lo, hi;
	unsigned n = img->nseg;
	int err;

	memcpy(s, img->seg, n * sizeof(s[0]));
	for (unsigned i = 1; i < n; i++) {	/* insertion sort by paddr */
		struct elf_segment t = s[i];
		unsigned j = i;

		for (; j > 0 && s[j - 1].paddr > t.paddr; j--)
			s[j] = s[j - 1];
		s[j] = t;
	}
	lo = s[0].paddr;
	hi = s[0].paddr + s[0].memsz;
	for (unsigned i = 1; i <= n; i++) {
		if (i < n && s[i].paddr <= loader_align_up(hi, LOADER_PAGE)) {
			if (s[i].paddr + s[i].memsz > hi)
				hi = s[i].paddr + s[i].memsz;
			continue;
		}
		err = bi_mark(map, lo, hi - lo, HV_MEM_FIRMWARE, name, "the firmware image");
		if (err)
			return err;
		if (i < n) {
			lo = s[i].paddr;
			hi = s[i].paddr + s[i].memsz;
		}
	}
	return 0;
}

static int bi_load_firmware(struct memmap *m, const char *path, struct loader_map *map,
			    struct elf_image *img)
{
	uint8_t *data;
	size_t len;
	char what[32];
	int err;

	err = loader_read_file(path, &data, &len);
	if (err)
		return err;
	err = elf_parse(data, len, path, img);
	if (err)
		goto out;
	if (!img->is64) {
		diag_error_at(path, 0, 0, "offset 0x%x: the firmware must be an ELF64 image",
			      EI_CLASS);
		err = -EINVAL;
		goto out;
	}
	for (unsigned i = 0; i < img->nseg; i++) {
		snprintf(what, sizeof(what), "segment %u", i);
		err = loader_check_placement(m, path, what, img->seg[i].paddr, img->seg[i].memsz);
		if (err)
			goto out;
	}
	err = elf_load(m, data, len, path, img);
	if (err)
		goto out;
	err = bi_mark_firmware(map, img, path);
out:
	free(data);
	return err;
}

static void bi_module_name(char dst[40], const struct bootinfo_module_arg *ma)
{
	const char *n = ma->name;

	if (!n) {
		n = strrchr(ma->path, '/');
		n = n ? n + 1 : ma->path;
	}
	snprintf(dst, 40, "%s", n);
}

static int bi_load_module(struct memmap *m, const struct bootinfo_module_arg *ma,
			  struct loader_map *map, uint64_t *cursor, struct hv_boot_module *out,
			  int *elf_class, int *multiboot)
{
	struct elf_image img;
	uint8_t *data;
	size_t len;
	uint64_t base;
	int err;

	err = loader_load_blob(m, ma->path, "the module", cursor, &data, &len, &base);
	if (err)
		return err;
	/* The firmware's partition loader parses the image later; an ELF
	 * module is checked now so a broken one fails here, with its name. */
	out->entry = 0;
	*elf_class = ELFCLASSNONE;
	if (len >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0) {
		err = elf_parse(data, len, ma->path, &img);
		if (err)
			goto out;
		out->entry = img.entry;
		*elf_class = img.is64 ? ELFCLASS64 : ELFCLASS32;
	}
	*multiboot = multiboot_has_header(data, len);
	out->base = base;
	out->length = len;
	bi_module_name(out->name, ma);
	err = bi_mark(map, base, len, HV_MEM_MODULE, ma->path, "the module");
out:
	free(data);
	return err;
}

/* The partition table is checked before anything is loaded: it comes
 * from the configuration, so a bad one is the caller's mistake. */
static int bi_check_partitions(const struct bootinfo_args *a)
{
	const struct bootinfo_partition_arg *pa = a->partitions;
	size_t name_max = sizeof(((struct hv_boot_partition *)0)->name) - 1;

	if (a->npartitions > HV_BOOT_MAX_PARTITIONS) {
		diag_error("%u partitions given; the boot information holds at most %d",
			   a->npartitions, HV_BOOT_MAX_PARTITIONS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < a->npartitions; i++) {
		const char *name = pa[i].name ? pa[i].name : "";

		if (!*name || strlen(name) > name_max) {
			diag_error("partition %u: name '%s' must be 1..%zu characters", i, name,
				   name_max);
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++) {
			if (pa[j].name && !strcmp(pa[j].name, name)) {
				diag_error("partitions %u and %u are both named '%s'", j, i, name);
				return -EINVAL;
			}
		}
		if (pa[i].module >= a->nmodules) {
			diag_error("partition '%s': kernel module %u does not exist (%u modules)", name,
				   pa[i].module, a->nmodules);
			return -EINVAL;
		}
		if (!pa[i].memory || pa[i].memory % BI_2M) {
			diag_error("partition '%s': memory %llu is not a non-zero multiple of 2 MiB",
				   name, (unsigned long long)pa[i].memory);
			return -EINVAL;
		}
		if (!pa[i].vps) {
			diag_error("partition '%s': no virtual processors", name);
			return -EINVAL;
		}
		for (unsigned j = 0; pa[i].console && j < i; j++) {
			if (pa[j].console) {
				diag_error("partitions '%s' and '%s' both ask for the console", pa[j].name, name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* A partition's kernel is a multiboot kernel (a multiboot header in its
 * first 8 KiB: the root boots it as the Multiboot Specification says) or
 * else an ELF64 image (the root loads it by its program headers and
 * starts it as include/hv/childboot.h says). */
static int bi_fill_partitions(const struct bootinfo_args *a, const int *elf_class, const int *multiboot,
			      struct hv_boot_partition *out)
{
	for (unsigned i = 0; i < a->npartitions; i++) {
		const struct bootinfo_partition_arg *pa = &a->partitions[i];
		const char *path = a->modules[pa->module].path;

		if (!multiboot[pa->module] && elf_class[pa->module] == ELFCLASSNONE) {
			diag_error_at(path, 0, 0,
				      "offset 0x0: the kernel of partition '%s' is neither an ELF image nor a multiboot kernel",
				      pa->name);
			return -EINVAL;
		}
		if (!multiboot[pa->module] && elf_class[pa->module] != ELFCLASS64) {
			diag_error_at(path, 0, 0,
				      "offset 0x%x: the kernel of partition '%s' must be an ELF64 image or carry a multiboot header",
				      EI_CLASS, pa->name);
			return -EINVAL;
		}
		snprintf(out[i].name, sizeof(out[i].name), "%s", pa->name);
		out[i].module = pa->module;
		out[i].flags = (pa->enlightened ? HV_BOOT_PART_ENLIGHTENED : 0) |
			       (pa->synic_test_device ? HV_BOOT_PART_SYNIC_TEST_DEVICE : 0) |
			       (pa->console ? HV_BOOT_PART_CONSOLE : 0);
		out[i].memory = pa->memory;
		out[i].vps = pa->vps;
		out[i].iterations = pa->iterations;
		if (pa->cmdline && strlen(pa->cmdline) >= sizeof(out[i].cmdline)) {
			diag_error("partition '%s': command line longer than %zu characters", pa->name,
				   sizeof(out[i].cmdline) - 1);
			return -EINVAL;
		}
		snprintf(out[i].cmdline, sizeof(out[i].cmdline), "%s", pa->cmdline ? pa->cmdline : "");
	}
	return 0;
}

int bootinfo_boot(struct memmap *m, const struct bootinfo_args *a, struct boot_entry *e)
{
	int elf_class[HV_BOOT_MAX_MODULES], multiboot[HV_BOOT_MAX_MODULES];
	struct hv_bootinfo bi;
	struct loader_area area;
	struct loader_map map;
	struct elf_image fw;
	uint64_t cursor, cr3, stack_pa, gdt_pa, bi_pa, cfg_pa;
	void *gdt, *stack, *bi_host;
	char *cfg;
	size_t cfg_len;
	int err;

	if (a->lp_count == 0) {
		diag_error("bootinfo: no logical processors");
		return -EINVAL;
	}
	if (a->nmodules > HV_BOOT_MAX_MODULES) {
		diag_error("%u modules given; the boot information holds at most %d",
			   a->nmodules, HV_BOOT_MAX_MODULES);
		return -EINVAL;
	}
	for (unsigned i = 0; i < a->nmodules; i++) {
		if (a->modules[i].name && strlen(a->modules[i].name) >= sizeof(bi.modules[0].name)) {
			diag_error_at(a->modules[i].path, 0, 0,
				      "module name '%s' is longer than %zu characters",
				      a->modules[i].name, sizeof(bi.modules[0].name) - 1);
			return -EINVAL;
		}
	}
	err = bi_check_partitions(a);
	if (err)
		return err;

	memset(&bi, 0, sizeof(bi));
	err = loader_area_init(&area, m);
	if (err)
		return err;
	loader_map_pc(&map, m, HV_MEM_ACPI);
	err = bi_mark(&map, BOOT_AREA_BASE, BOOT_AREA_END - BOOT_AREA_BASE, HV_MEM_BOOT,
		      a->firmware_path, "the boot area");
	if (err)
		return err;
	err = bi_load_firmware(m, a->firmware_path, &map, &fw);
	if (err)
		return err;
	cursor = fw.hi;
	for (unsigned i = 0; i < a->nmodules; i++) {
		err = bi_load_module(m, &a->modules[i], &map, &cursor, &bi.modules[i],
				     &elf_class[i], &multiboot[i]);
		if (err)
			return err;
	}
	err = bi_fill_partitions(a, elf_class, multiboot, bi.partitions);
	if (err)
		return err;
	if (map.n > HV_BOOT_MAX_MEM) {
		diag_error_at(a->firmware_path, 0, 0,
			      "the boot memory map needs %u entries; at most %d fit (too many firmware segments?)",
			      map.n, HV_BOOT_MAX_MEM);
		return -EINVAL;
	}

	/* The stack goes lowest, so an overflow runs off the bottom of the
	 * boot area rather than into the page tables. */
	stack = loader_area_alloc(&area, BI_STACK_SIZE, LOADER_PAGE, "the boot stack", &stack_pa);
	if (!stack)
		return -ENOSPC;
	err = bi_page_tables(&area, m, &cr3);
	if (err)
		return err;
	gdt = loader_area_alloc(&area, sizeof(bi_gdt), 8, "the GDT", &gdt_pa);
	bi_host = loader_area_alloc(&area, sizeof(bi), 8, "struct hv_bootinfo", &bi_pa);
	if (!gdt || !bi_host)
		return -ENOSPC;
	memcpy(gdt, bi_gdt, sizeof(bi_gdt));

	/* The configuration text is always a valid (possibly empty) string. */
	cfg_len = a->config_text ? a->config_length : 0;
	cfg = loader_area_alloc(&area, (uint64_t)cfg_len + 1, 1, "the configuration text", &cfg_pa);
	if (!cfg)
		return -ENOSPC;
	if (cfg_len)
		memcpy(cfg, a->config_text, cfg_len);
	cfg[cfg_len] = '\0';
	bi.config = cfg_pa;
	bi.config_length = cfg_len;
	if (a->cmdline) {
		bi.cmdline = loader_area_strdup(&area, a->cmdline, "the firmware command line");
		if (!bi.cmdline)
			return -ENOSPC;
	}

	bi.magic = HV_BOOTINFO_MAGIC;
	bi.version = HV_BOOTINFO_VERSION;
	bi.size = sizeof(bi);
	bi.lp_count = a->lp_count;
	bi.bsp_apic_id = 0;
	bi.ram_size = memmap_ram_size(m);
	bi.tsc_khz = a->tsc_khz;
	bi.acpi_rsdp = a->acpi_rsdp;
	bi.mem_count = map.n;
	for (unsigned i = 0; i < map.n; i++) {
		bi.mem[i].base = map.r[i].base;
		bi.mem[i].length = map.r[i].len;
		bi.mem[i].type = map.r[i].type;
	}
	bi.module_count = a->nmodules;
	bi.partition_count = a->npartitions;
	memcpy(bi_host, &bi, sizeof(bi));

	*e = (struct boot_entry){
		.mode = BOOT_MODE_LONG64,
		.rip = fw.entry,
		.rsp = stack_pa + BI_STACK_SIZE,	/* 16-byte aligned: the stack is page aligned */
		.rdi = bi_pa,
		.cr3 = cr3,
		.gdt_base = gdt_pa,
		.gdt_limit = sizeof(bi_gdt) - 1,
	};
	return 0;
}
