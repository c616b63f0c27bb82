/* The multiboot handoff (multiboot 0.6.96 section 3.3, "Boot
 * information format") and the platform facts it must agree with: fw_cfg
 * (QEMU docs/specs/fw_cfg.rst) and the ACPI RSDP (ACPI 6.5 5.2.5.1,
 * found on a 16-byte boundary in 0xE0000-0xFFFFF).
 *
 * meson runs this kernel as `hvsim boot --raw-exit multiboot.elf
 * hello=world`, so the command line must name the kernel and carry the
 * argument. */
#include "guest.h"

#define MB_WANT_FLAGS (MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_MEM_MAP | MULTIBOOT_INFO_CMDLINE | \
		       MULTIBOOT_INFO_BOOT_LOADER_NAME)
#define LOW_MEM_KB 639			/* 0-0x9FC00: below the EBDA */
#define ONE_MIB 0x100000ull
#define MMAP_MAX_ENTRIES 128

static const char *mb_str(uint32_t addr)
{
	return (const char *)(uintptr_t)addr;
}

static uint64_t fw_ram_size;

static void test_info(uint32_t magic, const struct multiboot_info *mi)
{
	const char *cmdline;

	report(magic == MULTIBOOT_BOOTLOADER_MAGIC, "EAX at entry = 0x%x", magic);
	report((uintptr_t)mi != 0 && (uintptr_t)mi < ONE_MIB * 4096,
	       "EBX points at the information structure (0x%lx)", (unsigned long)(uintptr_t)mi);
	report((mi->flags & MB_WANT_FLAGS) == MB_WANT_FLAGS,
	       "info flags 0x%x have MEMORY, MEM_MAP, CMDLINE, BOOT_LOADER_NAME", mi->flags);
	if (mi->flags & MULTIBOOT_INFO_MEMORY)
		report(mi->mem_lower == LOW_MEM_KB, "mem_lower = %u KiB", mi->mem_lower);
	if (mi->flags & MULTIBOOT_INFO_CMDLINE) {
		cmdline = mb_str(mi->cmdline);
		printf("cmdline: \"%s\"\n", cmdline);
		report(strstr(cmdline, "multiboot") != NULL, "command line names the kernel");
		report(strstr(cmdline, "hello=world") != NULL, "command line carries hello=world");
	}
	if (mi->flags & MULTIBOOT_INFO_BOOT_LOADER_NAME) {
		const char *name = mb_str(mi->boot_loader_name);

		report(name[0] != 0 && strnlen(name, 256) < 256, "boot loader name \"%s\"", name);
	}
	if (mi->flags & MULTIBOOT_INFO_MODS)
		report(mi->mods_count == 0, "no modules were passed (%u)", mi->mods_count);
}

static void test_mmap(const struct multiboot_info *mi)
{
	uint64_t avail = 0, prev_end = 0, upper_end = 0;
	bool sizes_ok = true, sorted = true, low_ok = false, upper_ok = false;
	unsigned n = 0;
	uint32_t off = 0;

	if (!(mi->flags & MULTIBOOT_INFO_MEM_MAP)) {
		report(false, "memory map present");
		return;
	}
	/* Entries are {size, base, length, type}; `size` excludes itself
	 * (spec 3.3), and is 20 for this layout. */
	while (off + 4 <= mi->mmap_length && n < MMAP_MAX_ENTRIES) {
		const struct multiboot_mmap_entry *e =
			(const void *)(uintptr_t)(mi->mmap_addr + off);

		printf("mmap: 0x%012lx-0x%012lx type %u\n", (unsigned long)e->addr,
		       (unsigned long)(e->addr + e->len), e->type);
		sizes_ok &= e->size == 20;
		sorted &= e->addr >= prev_end;
		prev_end = e->addr + e->len;
		if (e->type == MULTIBOOT_MEMORY_AVAILABLE) {
			avail += e->len;
			if (e->addr == 0 && e->len == LOW_MEM_KB * 1024ull)
				low_ok = true;
			if (e->addr == ONE_MIB) {
				upper_ok = true;
				upper_end = e->addr + e->len;
			}
		}
		off += e->size + 4;
		n++;
	}
	report(n > 0 && off == mi->mmap_length, "%u memory map entries fill mmap_length %u", n,
	       mi->mmap_length);
	report(sizes_ok, "every entry has size 20");
	report(sorted, "entries are sorted and do not overlap");
	report(low_ok, "0-639 KiB is available");
	report(upper_ok && upper_end - ONE_MIB == mi->mem_upper * 1024ull,
	       "the range from 1 MiB is available and matches mem_upper (%u KiB)", mi->mem_upper);
	if (fw_ram_size) {
		/* Available RAM = all RAM less the reserved low areas (640K-1M)
		 * and firmware tables, which fit in 2 MiB on this platform. */
		report(avail <= fw_ram_size && avail + 2 * ONE_MIB >= fw_ram_size,
		       "available %lu KiB is RAM %lu KiB less reserved areas",
		       (unsigned long)(avail >> 10), (unsigned long)(fw_ram_size >> 10));
		if (fw_ram_size <= 0xb0000000ull)
			report(mi->mem_upper * 1024ull + ONE_MIB <= fw_ram_size &&
				       mi->mem_upper * 1024ull + 2 * ONE_MIB >= fw_ram_size,
			       "mem_upper %u KiB is consistent with RAM %lu KiB", mi->mem_upper,
			       (unsigned long)(fw_ram_size >> 10));
	}
}

static void test_fwcfg(void)
{
	uint32_t nfiles;
	uint16_t ncpus;

	if (!report(fwcfg_present(), "fw_cfg signature \"QEMU\""))
		return;
	fw_ram_size = fwcfg_read_u64(FW_CFG_RAM_SIZE);
	ncpus = fwcfg_read_u16(FW_CFG_NB_CPUS);
	report(fw_ram_size >= 16 * ONE_MIB && !(fw_ram_size & 0xfffff),
	       "fw_cfg RAM size %lu MiB", (unsigned long)(fw_ram_size >> 20));
	report(ncpus == 1, "fw_cfg CPU count %u", ncpus);
	nfiles = fwcfg_file_count();
	report(nfiles < FWCFG_MAX_FILES, "fw_cfg directory lists %u files", nfiles);
}

static void test_rsdp(void)
{
	const uint8_t *p = (const uint8_t *)0xe0000;

	for (; p < (const uint8_t *)0x100000; p += 16) {
		uint8_t sum = 0;

		if (memcmp(p, "RSD PTR ", 8))
			continue;
		for (int i = 0; i < 20; i++)	/* ACPI 1.0 checksum covers 20 bytes */
			sum += p[i];
		report(sum == 0, "RSDP at 0x%lx has a valid checksum (revision %u)",
		       (unsigned long)(uintptr_t)p, p[15]);
		return;
	}
	report(false, "RSDP found in 0xE0000-0xFFFFF");
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	test_fwcfg();
	test_info(magic, info);
	test_mmap(info);
	test_rsdp();
}
