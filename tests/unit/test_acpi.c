#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "acpi.h"
#include "memmap.h"

/* Tables are parsed here from raw bytes at the offsets ACPI 6.0 chapter
 * 5.2 gives, independently of the structs acpi.c builds them with. */

static struct memmap *m;

static void setup(void)
{
	m = memmap_new(16 << 20);
	cr_assert_not_null(m);
}

static void teardown(void)
{
	memmap_free(m);
}

TestSuite(acpi, .init = setup, .fini = teardown);

static struct acpi_config config(unsigned ncpus)
{
	return (struct acpi_config){
		.ncpus = ncpus,
		.ioapic_id = (uint8_t)ncpus,
		.ioapic_addr = ACPI_IOAPIC_ADDR,
		.lapic_addr = ACPI_LAPIC_ADDR,
		.pm_timer_port = 0x608,
		.sci_irq = 9,
	};
}

static const uint8_t *ptr(uint64_t pa, uint64_t len)
{
	const uint8_t *p = memmap_ram_ptr(m, pa, len);

	cr_assert_not_null(p, "0x%llx+%llu not in RAM", (unsigned long long)pa,
			   (unsigned long long)len);
	return p;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* The OSPM search of 5.2.5.1: "RSD PTR " on a 16-byte boundary in the
 * BIOS read-only area, with a valid checksum. */
static uint64_t find_rsdp(void)
{
	for (uint64_t pa = 0xE0000; pa < 0x100000; pa += 16) {
		const uint8_t *p = ptr(pa, 20);

		if (!memcmp(p, "RSD PTR ", 8) && acpi_checksum(p, 20) == 0)
			return pa;
	}
	return 0;
}

/* A table header at pa with the signature, a valid checksum and length. */
static const uint8_t *table(uint64_t pa, const char *sig)
{
	const uint8_t *h = ptr(pa, 36);
	uint32_t len = rd32(h + 4);

	cr_assert_eq(memcmp(h, sig, 4), 0, "expected %s at 0x%llx", sig, (unsigned long long)pa);
	cr_assert_geq(len, 36);
	h = ptr(pa, len);
	cr_assert_eq(acpi_checksum(h, len), 0, "%s checksum", sig);
	cr_assert_eq(memcmp(h + 10, "HVSIM ", 6), 0, "%s OEM ID", sig);
	cr_assert_eq(memcmp(h + 16, "HVSIMPC ", 8), 0, "%s OEM table ID", sig);
	cr_assert_eq(memcmp(h + 28, "HVSM", 4), 0, "%s creator ID", sig);
	return h;
}

static const uint8_t *rsdp(void)
{
	uint64_t pa = find_rsdp();

	cr_assert_neq(pa, 0, "RSDP not found");
	return ptr(pa, 36);
}

/* The table the XSDT lists with this signature, or NULL. */
static const uint8_t *xsdt_find(const char *sig, uint64_t *pa_out)
{
	const uint8_t *x = table(rd64(rsdp() + 24), "XSDT");
	uint32_t n = (rd32(x + 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t pa = rd64(x + 36 + 8 * i);

		if (!memcmp(ptr(pa, 4), sig, 4)) {
			if (pa_out)
				*pa_out = pa;
			return table(pa, sig);
		}
	}
	return NULL;
}

Test(acpi, checksum_of_bytes_summing_to_zero_is_zero)
{
	const uint8_t ok[] = { 0x10, 0xF0, 0x01, 0xFF };
	const uint8_t bad[] = { 0x10, 0xF0, 0x02 };

	cr_assert_eq(acpi_checksum(ok, sizeof(ok)), 0);
	cr_assert_eq(acpi_checksum(bad, sizeof(bad)), 2);
}

Test(acpi, rsdp_found_by_bios_area_scan_with_both_checksums)
{
	struct acpi_config c = config(2);
	const uint8_t *r;

	cr_assert_eq(find_rsdp(), 0, "nothing there before building");
	cr_assert_eq(acpi_build(m, &c), 0);
	cr_assert_eq(find_rsdp(), ACPI_RSDP_ADDR);
	r = rsdp();
	cr_assert_eq(r[15], 2, "revision");
	cr_assert_eq(rd32(r + 20), 36, "length");
	cr_assert_eq(acpi_checksum(r, 36), 0, "extended checksum");
	cr_assert_eq(memcmp(r + 9, "HVSIM ", 6), 0);
	cr_assert_neq(rd64(r + 24), 0, "XSDT address");
	cr_assert_neq(rd32(r + 16), 0, "RSDT address");
}

Test(acpi, rsdt_and_xsdt_list_fadt_and_madt)
{
	struct acpi_config c = config(2);
	const uint8_t *r, *rsdt, *xsdt;
	int seen_facp = 0, seen_apic = 0;

	cr_assert_eq(acpi_build(m, &c), 0);
	r = rsdp();
	rsdt = table(rd32(r + 16), "RSDT");
	xsdt = table(rd64(r + 24), "XSDT");
	cr_assert_eq(rd32(rsdt + 4), 36 + 2 * 4);
	cr_assert_eq(rd32(xsdt + 4), 36 + 2 * 8);
	for (int i = 0; i < 2; i++) {
		uint64_t a32 = rd32(rsdt + 36 + 4 * i);
		uint64_t a64 = rd64(xsdt + 36 + 8 * i);

		cr_assert_eq(a32, a64, "entry %d differs between RSDT and XSDT", i);
		cr_assert_eq(a64 % 8, 0, "entry %d aligned", i);
		if (!memcmp(ptr(a64, 4), "FACP", 4)) {
			table(a64, "FACP");
			seen_facp++;
		} else if (!memcmp(ptr(a64, 4), "APIC", 4)) {
			table(a64, "APIC");
			seen_apic++;
		}
	}
	cr_assert_eq(seen_facp, 1);
	cr_assert_eq(seen_apic, 1);
	cr_assert_eq(rd64(r + 24) % 8, 0, "XSDT aligned");
}

Test(acpi, fadt_describes_pm_timer_and_points_to_facs_and_dsdt)
{
	struct acpi_config c = config(2);
	const uint8_t *f, *facs;
	uint64_t facs_pa;

	cr_assert_eq(acpi_build(m, &c), 0);
	f = xsdt_find("FACP", NULL);
	cr_assert_not_null(f);
	cr_assert_eq(rd32(f + 4), 276, "FADT 6 length");
	cr_assert_eq(f[8], 6, "major version");
	cr_assert_eq(rd16(f + 46), 9, "SCI_INT");
	cr_assert_eq(rd32(f + 76), 0x608, "PM_TMR_BLK");
	cr_assert_eq(f[91], 4, "PM_TMR_LEN");
	cr_assert(rd32(f + 112) & (1u << 8), "TMR_VAL_EXT");
	/* X_PM_TMR_BLK GAS at 208: system I/O, 32 bits, dword access. */
	cr_assert_eq(f[208], 1);
	cr_assert_eq(f[209], 32);
	cr_assert_eq(f[210], 0);
	cr_assert_eq(f[211], 3);
	cr_assert_eq(rd64(f + 212), 0x608);
	/* DSDT through both fields; FACS through X_FIRMWARE_CTRL. */
	cr_assert_eq(rd32(f + 40), rd64(f + 140));
	table(rd64(f + 140), "DSDT");
	facs_pa = rd64(f + 132);
	cr_assert_eq(facs_pa % 64, 0, "FACS 64-byte aligned");
	facs = ptr(facs_pa, 64);
	cr_assert_eq(memcmp(facs, "FACS", 4), 0);
	cr_assert_eq(rd32(facs + 4), 64);
}

Test(acpi, madt_lists_every_cpu_and_the_ioapic)
{
	struct acpi_config c = config(4);
	const uint8_t *t, *e, *end;
	unsigned nlapic = 0, nioapic = 0, niso = 0, nnmi = 0;
	int irq0_ok = 0, sci_ok = 0;

	cr_assert_eq(acpi_build(m, &c), 0);
	t = xsdt_find("APIC", NULL);
	cr_assert_not_null(t);
	cr_assert_eq(rd32(t + 36), ACPI_LAPIC_ADDR);
	cr_assert_eq(rd32(t + 40) & 1, 1, "PCAT_COMPAT");
	end = t + rd32(t + 4);
	for (e = t + 44; e < end; e += e[1]) {
		cr_assert_geq(e[1], 2, "entry length");
		cr_assert_leq(e + e[1], end, "entry inside the table");
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[1], 8);
			cr_assert_eq(e[2], nlapic, "UID in order");
			cr_assert_eq(e[3], nlapic, "APIC ID = UID");
			cr_assert_eq(rd32(e + 4) & 1, 1, "enabled");
			nlapic++;
			break;
		case 1:
			cr_assert_eq(e[1], 12);
			cr_assert_eq(e[2], 4, "IO-APIC id");
			cr_assert_eq(rd32(e + 4), ACPI_IOAPIC_ADDR);
			cr_assert_eq(rd32(e + 8), 0, "GSI base");
			nioapic++;
			break;
		case 2:
			cr_assert_eq(e[1], 10);
			cr_assert_eq(e[2], 0, "ISA bus");
			if (e[3] == 0 && rd32(e + 4) == 2 && rd16(e + 8) == 0x0004)
				irq0_ok = 1;
			if (e[3] == 9 && rd32(e + 4) == 9 && rd16(e + 8) == 0x000D)
				sci_ok = 1;
			niso++;
			break;
		case 4:
			cr_assert_eq(e[1], 6);
			cr_assert_eq(e[2], 0xFF, "all processors");
			cr_assert_eq(e[5], 1, "LINT1");
			nnmi++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u", e[0]);
		}
	}
	cr_assert_eq(e, end, "entries end exactly at the table length");
	cr_assert_eq(nlapic, 4);
	cr_assert_eq(nioapic, 1);
	cr_assert_eq(niso, 2);
	cr_assert(irq0_ok, "IRQ0 -> GSI2, edge");
	cr_assert(sci_ok, "IRQ9 -> GSI9, level, active high");
	cr_assert_eq(nnmi, 1);
}

Test(acpi, madt_uses_x2apic_entries_beyond_apic_id_254)
{
	struct acpi_config c = config(300);
	const uint8_t *t, *e, *end;
	unsigned n8 = 0, nx2 = 0, nx2nmi = 0;

	cr_assert_eq(acpi_build(m, &c), 0);
	t = xsdt_find("APIC", NULL);
	cr_assert_not_null(t);
	end = t + rd32(t + 4);
	for (e = t + 44; e < end; e += e[1]) {
		cr_assert_geq(e[1], 2);
		if (e[0] == 0) {
			cr_assert_lt(e[3], 255);
			n8++;
		} else if (e[0] == 9) {
			cr_assert_eq(e[1], 16);
			cr_assert_eq(rd32(e + 4), 255 + nx2, "x2APIC id");
			cr_assert_eq(rd32(e + 12), 255 + nx2, "UID");
			cr_assert_eq(rd32(e + 8) & 1, 1);
			nx2++;
		} else if (e[0] == 10) {
			cr_assert_eq(rd32(e + 4), 0xFFFFFFFF);
			cr_assert_eq(e[8], 1);
			nx2nmi++;
		}
	}
	cr_assert_eq(n8, 255);
	cr_assert_eq(nx2, 45);
	cr_assert_eq(nx2nmi, 1);
}

Test(acpi, dsdt_and_facs_lie_below_tables_end)
{
	struct acpi_config c = config(8);
	const uint8_t *f, *madt;
	uint64_t madt_pa;

	cr_assert_eq(acpi_build(m, &c), 0);
	f = xsdt_find("FACP", NULL);
	madt = xsdt_find("APIC", &madt_pa);
	cr_assert_geq(rd64(f + 140), ACPI_TABLES_ADDR);
	cr_assert_geq(rd64(f + 132), ACPI_TABLES_ADDR);
	cr_assert_leq(madt_pa + rd32(madt + 4), ACPI_TABLES_END);
	cr_assert_eq(madt_pa % 16, 0);
}

Test(acpi, too_many_cpus_is_enospc_and_writes_nothing)
{
	struct acpi_config c = config(100000);

	cr_assert_eq(acpi_build(m, &c), -ENOSPC);
	cr_assert_eq(find_rsdp(), 0);
	c.ncpus = 0xFFFFFFFFu;
	cr_assert_eq(acpi_build(m, &c), -ENOSPC);
}

Test(acpi, invalid_configs_are_rejected)
{
	struct acpi_config c = config(0);

	cr_assert_eq(acpi_build(m, &c), -EINVAL);
	c = config(1);
	c.sci_irq = 16;
	cr_assert_eq(acpi_build(m, &c), -EINVAL);
	c.sci_irq = 0;
	cr_assert_eq(acpi_build(m, &c), -EINVAL);
	cr_assert_eq(acpi_build(m, NULL), -EINVAL);
	cr_assert_eq(find_rsdp(), 0);
}

Test(acpi, thousands_of_cpus_still_fit)
{
	/* About 4000 x2APIC entries fit below 1 MiB (too_many_cpus... is the
	 * other side). */
	struct acpi_config c = config(3000);

	cr_assert_eq(acpi_build(m, &c), 0);
	cr_assert_not_null(xsdt_find("APIC", NULL));
}
