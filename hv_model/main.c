/* hv_model: the hypervisor (hv.h).  hv_main() checks the boot handoff,
 * takes its own memory, page tables and descriptor tables, enters VMX
 * operation, creates the root partition around the "root" module and
 * runs it; from then on it only runs in response to VM exits. */
#include <hv/bootinfo.h>

#include "hv.h"
#include "rt.h"

#ifndef HV_MODEL_VERSION
#define HV_MODEL_VERSION "unknown"
#endif

#define HV_EXIT_PASS 0
#define HV_EXIT_FAIL 1

#define CONFIG_LINE_MAX 120	/* characters of the configuration shown */

/* ---- boot information ---- */

static int hv_range_in_ram(const struct hv_bootinfo *bi, uint64_t base, uint64_t len)
{
	return base < bi->ram_size && len <= bi->ram_size - base;
}

static int hv_check_bootinfo(const struct hv_bootinfo *bi)
{
	if (!bi || ((uintptr_t)bi & 7)) {
		rt_printf("bootinfo: bad pointer %p\n", (const void *)bi);
		return -1;
	}
	if (bi->magic != HV_BOOTINFO_MAGIC) {
		rt_printf("bootinfo: bad magic 0x%lx\n", (unsigned long)bi->magic);
		return -1;
	}
	if (bi->version != HV_BOOTINFO_VERSION) {
		rt_printf("bootinfo: version %u, firmware understands %u\n", bi->version,
			  HV_BOOTINFO_VERSION);
		return -1;
	}
	if (bi->size < sizeof(*bi)) {
		rt_printf("bootinfo: size %u smaller than %zu\n", bi->size, sizeof(*bi));
		return -1;
	}
	if (bi->mem_count > HV_BOOT_MAX_MEM || bi->module_count > HV_BOOT_MAX_MODULES) {
		rt_printf("bootinfo: %u memory ranges / %u modules exceed %u / %u\n", bi->mem_count,
			  bi->module_count, HV_BOOT_MAX_MEM, HV_BOOT_MAX_MODULES);
		return -1;
	}
	if (bi->lp_count == 0) {
		rt_printf("bootinfo: no logical processors\n");
		return -1;
	}
	return 0;
}

static const char *hv_mem_type_name(uint32_t type)
{
	switch (type) {
	case HV_MEM_AVAILABLE:
		return "available";
	case HV_MEM_RESERVED:
		return "reserved";
	case HV_MEM_ACPI:
		return "acpi";
	case HV_MEM_FIRMWARE:
		return "firmware";
	case HV_MEM_MODULE:
		return "module";
	case HV_MEM_BOOT:
		return "boot";
	default:
		return "unknown";
	}
}

/* Prints a NUL-terminated string the machine placed in RAM, up to the
 * first newline and at most `max` characters; never reads outside RAM. */
static void hv_print_ram_line(const struct hv_bootinfo *bi, uint64_t addr, uint64_t len, size_t max)
{
	const char *s = (const char *)(uintptr_t)addr;
	size_t n = 0;

	if (!addr || !len || !hv_range_in_ram(bi, addr, len)) {
		rt_puts("(none)");
		return;
	}
	while (n < len && n < max && s[n] && s[n] != '\n')
		n++;
	rt_printf("%.*s%s", (int)n, s, n == max ? "..." : "");
}

static void hv_print_banner(const struct hv_bootinfo *bi)
{
	uint64_t avail = 0;

	for (uint32_t i = 0; i < bi->mem_count; i++)
		if (bi->mem[i].type == HV_MEM_AVAILABLE)
			avail += bi->mem[i].length;

	rt_printf("hv_model hypervisor %s\n", HV_MODEL_VERSION);
	rt_printf("  LPs: %u (BSP APIC id %u), TSC: %lu kHz\n", bi->lp_count, bi->bsp_apic_id,
		  (unsigned long)bi->tsc_khz);
	rt_printf("  RAM: %lu MiB (%lu MiB available), ACPI RSDP: 0x%lx\n",
		  (unsigned long)(bi->ram_size >> 20), (unsigned long)(avail >> 20),
		  (unsigned long)bi->acpi_rsdp);
	for (uint32_t i = 0; i < bi->mem_count; i++)
		rt_printf("    mem[%2u] 0x%012lx-0x%012lx %s\n", i, (unsigned long)bi->mem[i].base,
			  (unsigned long)(bi->mem[i].base + bi->mem[i].length),
			  hv_mem_type_name(bi->mem[i].type));
	rt_printf("  modules: %u\n", bi->module_count);
	for (uint32_t i = 0; i < bi->module_count; i++) {
		const struct hv_boot_module *m = &bi->modules[i];

		rt_printf("    [%u] %.*s at 0x%lx, %lu bytes, entry 0x%lx\n", i,
			  (int)strnlen(m->name, sizeof(m->name)), m->name, (unsigned long)m->base,
			  (unsigned long)m->length, (unsigned long)m->entry);
	}
	/* The children the root kernel will create (docs/config.md
	 * "partitions"); a bad entry is the root kernel's to refuse. */
	rt_printf("  partitions: %u\n", bi->partition_count);
	for (uint32_t i = 0; i < bi->partition_count && i < HV_BOOT_MAX_PARTITIONS; i++) {
		const struct hv_boot_partition *p = &bi->partitions[i];
		const char *mod = p->module < bi->module_count ? bi->modules[p->module].name : "?";
		size_t modlen = p->module < bi->module_count ? strnlen(mod, sizeof(bi->modules[0].name)) : 1;

		rt_printf("    [%u] %.*s: kernel module %u (%.*s), %lu MiB, %u VP%s, %s\n", i,
			  (int)strnlen(p->name, sizeof(p->name)), p->name, p->module, (int)modlen, mod,
			  (unsigned long)(p->memory >> 20), p->vps, p->vps == 1 ? "" : "s",
			  p->flags & HV_BOOT_PART_ENLIGHTENED ? "enlightened" : "unenlightened");
	}
	rt_puts("  config: ");
	hv_print_ram_line(bi, bi->config, bi->config_length, CONFIG_LINE_MAX);
	rt_puts("\n  cmdline: ");
	/* the command line's length is not given: stop at the end of RAM */
	hv_print_ram_line(bi, bi->cmdline,
			  bi->cmdline < bi->ram_size ? bi->ram_size - bi->cmdline : 0,
			  CONFIG_LINE_MAX);
	rt_puts("\n");
}

__attribute__((noreturn)) void hv_main(const struct hv_bootinfo *bi);

/* A child with the console (HV_BOOT_PART_CONSOLE): the run's output is
 * its guest's, so the hypervisor prints only what goes wrong. */
static int hv_quiet(const struct hv_bootinfo *bi)
{
	for (uint32_t i = 0; i < bi->partition_count && i < HV_BOOT_MAX_PARTITIONS; i++)
		if (bi->partitions[i].flags & HV_BOOT_PART_CONSOLE)
			return 1;
	return 0;
}

void hv_main(const struct hv_bootinfo *bi)
{
	uint64_t pool_base, pool_len, top;
	int quiet;

	if (hv_check_bootinfo(bi) < 0) {
		rt_printf("hv: FAIL: unusable boot information\n");
		rt_exit(HV_EXIT_FAIL);
	}
	quiet = hv_quiet(bi);
	if (!quiet)
		hv_print_banner(bi);
	top = bi->ram_size > (3ull << 30) ? (4ull << 30) + bi->ram_size - (3ull << 30) : bi->ram_size;
	if (hv_mm_init(bi, top, &pool_base, &pool_len) || hv_paging_init(top) || hv_cpu_tables_init(0) ||
	    hv_vmx_on(0) || hv_intr_init() || hv_lp_init(0)) {
		rt_printf("hv: FAIL: cannot set up the hypervisor\n");
		rt_exit(HV_EXIT_FAIL);
	}
	if (!quiet)
		rt_printf("hv: pool 0x%lx-0x%lx (%lu pages), VMX on\n", (unsigned long)pool_base,
			  (unsigned long)(pool_base + pool_len), (unsigned long)hv_pool.free);
	/* Before the root exists: the trampoline's page is the root's after. */
	if (hv_smp_start(bi)) {
		rt_printf("hv: FAIL: cannot start the application processors\n");
		rt_exit(HV_EXIT_FAIL);
	}
	hv_hypercall_init(bi->tsc_khz);	/* before the root's handoff reuses the boot area */
	hv_time_init(bi->tsc_khz);
	if (!hv_root_create(bi, pool_base, pool_len))
		rt_exit(HV_EXIT_FAIL);
	if (!quiet)
		rt_printf("hv: root partition ready; entering it\n");
	hv_smp_go();
	hv_run(0);
}
