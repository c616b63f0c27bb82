/* The boot-information structure hvsim hands to hypervisor firmware on the
 * `hvsim run` path (docs/boot.md describes the whole handoff).
 *
 * At entry the bootstrap LP is in 64-bit long mode, CPL 0, interrupts off,
 * with an identity map of the first 4 GiB and all RAM above it (2 MiB
 * pages, page tables in reserved memory), a flat GDT (0x08 64-bit code,
 * 0x10 data), RSP at the top of a 64 KiB stack inside the reserved area,
 * and RDI = physical address of struct hv_bootinfo.  All addresses are
 * physical. */
#ifndef HV_BOOTINFO_H
#define HV_BOOTINFO_H

#include <stdint.h>

#define HV_BOOTINFO_MAGIC 0x4f4f424d49535648ull	/* "HVSIMBOO" little-endian */
#define HV_BOOTINFO_VERSION 3	/* 2: the child partition table; 3: a child's command line */

#define HV_MEM_AVAILABLE 1
#define HV_MEM_RESERVED 2
#define HV_MEM_ACPI 3
#define HV_MEM_FIRMWARE 4	/* the firmware image itself */
#define HV_MEM_MODULE 5		/* a loaded module */
#define HV_MEM_BOOT 6		/* boot info, page tables, boot stack */

#define HV_BOOT_MAX_MEM 32
#define HV_BOOT_MAX_MODULES 16
#define HV_BOOT_MAX_PARTITIONS 8

struct hv_boot_mem {
	uint64_t base, length;
	uint32_t type, reserved;
};

struct hv_boot_module {
	uint64_t base, length;	/* the image bytes as loaded */
	uint64_t entry;		/* ELF entry, 0 for raw data */
	char name[40];		/* NUL-terminated */
};

/* A child partition the configuration describes (docs/config.md
 * "partitions"), for the root partition kernel to create. */
#define HV_BOOT_PART_ENLIGHTENED 0x1	/* the kernel uses the hypercall interface */
#define HV_BOOT_PART_SYNIC_TEST_DEVICE 0x2	/* its worker offers the SynIC test device (port 0x3000) */
/* Its serial output is the run's console and the value it writes to its
 * debug-exit port the run's exit value (at most one child; the root then
 * prints only its failures). */
#define HV_BOOT_PART_CONSOLE 0x4

struct hv_boot_partition {
	char name[32];		/* NUL-terminated, unique */
	uint32_t module;	/* index in modules[] of its kernel (an ELF64, or a multiboot kernel) */
	uint32_t flags;		/* HV_BOOT_PART_* */
	uint64_t memory;	/* bytes of guest memory, a multiple of 2 MiB */
	uint32_t vps;		/* virtual processors */
	uint32_t iterations;	/* workload size for the built-in child kernels; 0 = their default */
	char cmdline[256];	/* a multiboot kernel's command line, NUL-terminated ("" if none) */
};

struct hv_bootinfo {
	uint64_t magic;		/* HV_BOOTINFO_MAGIC */
	uint32_t version;	/* HV_BOOTINFO_VERSION */
	uint32_t size;		/* sizeof(struct hv_bootinfo) */
	uint32_t lp_count;	/* logical processors; LP i has APIC id i */
	uint32_t bsp_apic_id;
	uint64_t ram_size;	/* bytes of RAM */
	uint64_t tsc_khz;	/* LP clock, kHz */
	uint64_t acpi_rsdp;	/* physical address of the RSDP */
	uint32_t mem_count, module_count;
	struct hv_boot_mem mem[HV_BOOT_MAX_MEM];
	struct hv_boot_module modules[HV_BOOT_MAX_MODULES];
	uint64_t config;	/* the run's configuration: NUL-terminated YAML text */
	uint64_t config_length;	/* bytes, not counting the NUL */
	uint64_t cmdline;	/* NUL-terminated firmware command line, 0 if none */
	uint32_t partition_count;
	uint32_t reserved;
	struct hv_boot_partition partitions[HV_BOOT_MAX_PARTITIONS];
};

#endif
