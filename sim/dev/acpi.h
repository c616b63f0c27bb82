/* ACPI tables (ACPI 6.x): RSDP in the BIOS area pointing at an RSDT and an
 * XSDT, which list a FADT (with FACS and a minimal DSDT) and a MADT
 * describing every LAPIC and the IO-APIC. */
#ifndef SIM_ACPI_H
#define SIM_ACPI_H

#include <stdint.h>

#include "memmap.h"

#define ACPI_RSDP_ADDR 0xF0000	/* 16-byte aligned, inside 0xE0000-0xFFFFF */
#define ACPI_TABLES_ADDR 0xF0100
#define ACPI_TABLES_END 0x100000
#define ACPI_IOAPIC_ADDR 0xFEC00000u
#define ACPI_LAPIC_ADDR 0xFEE00000u

struct acpi_config {
	unsigned ncpus;		/* LAPIC ids 0..ncpus-1, processor UIDs likewise */
	uint8_t ioapic_id;	/* conventionally ncpus */
	uint32_t ioapic_addr;
	uint32_t lapic_addr;
	uint16_t pm_timer_port;
	uint16_t sci_irq;	/* 9 */
};

/* Writes the tables into RAM; returns 0 or -errno (-ENOSPC if they do not
 * fit below ACPI_TABLES_END, -EFAULT if RAM does not cover them). */
int acpi_build(struct memmap *m, const struct acpi_config *cfg);

/* Sum of bytes mod 256 (0 for a valid table). */
uint8_t acpi_checksum(const void *p, uint64_t len);

#endif
