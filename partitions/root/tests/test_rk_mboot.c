/* The root kernel's multiboot loader for child guests
 * (partitions/root/mboot.c) built for the host: crafted ELF32, ELF64 and
 * a.out-kludge images, one broken rule at a time, and the boot data and
 * ACPI tables it builds, field by field. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <hv/childboot.h>
#include <hv/multiboot.h>

#include "../mboot.h"

#define LO 0x100000ull
#define HI 0x4000000ull	/* 64 MiB */
#define IMG_LEN 0x3000u

static uint8_t img[IMG_LEN];
static struct rk_mb_image out;

static void wr(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void header(unsigned at, uint32_t flags)
{
	wr(img + at, MULTIBOOT_HEADER_MAGIC, 4);
	wr(img + at + 4, flags, 4);
	wr(img + at + 8, (uint32_t)-(MULTIBOOT_HEADER_MAGIC + flags), 4);
}

/* An ELF32 EM_386 executable: a text segment at 4 MiB (file 0x1000,
 * 0x800 bytes) and a data+bss one at 4 MiB + 0x2000 (file 0x2000, 0x100
 * bytes, 0x5000 in memory); entry 4 MiB + 0x10; header at 0x100. */
static void elf32(void)
{
	memset(img, 0, sizeof(img));
	wr(img, 0x464c457f, 4);
	img[4] = 1;
	img[5] = 1;
	img[6] = 1;
	wr(img + 16, 2, 2);
	wr(img + 18, 3, 2);
	wr(img + 24, 0x400010, 4);
	wr(img + 28, 52, 4);
	wr(img + 42, 32, 2);
	wr(img + 44, 2, 2);
	for (unsigned i = 0; i < 2; i++) {
		uint8_t *ph = img + 52 + 32 * i;

		wr(ph, 1, 4);
		wr(ph + 4, 0x1000 + 0x1000 * i, 4);
		wr(ph + 8, 0x400000 + 0x2000 * i, 4);	/* vaddr */
		wr(ph + 12, 0x400000 + 0x2000 * i, 4);	/* paddr */
		wr(ph + 16, i ? 0x100 : 0x800, 4);
		wr(ph + 20, i ? 0x5000 : 0x800, 4);
	}
	header(0x100, MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO);
}

static int parse(void)
{
	return rk_mb_parse(img, IMG_LEN, LO, HI, &out);
}

Test(rk_mboot, elf32_loads_at_physical_addresses)
{
	elf32();
	cr_assert_eq(rk_mb_find(img, IMG_LEN), 0x100);
	cr_assert_eq(parse(), RK_MB_OK);
	cr_assert_eq(out.entry, 0x400010u);
	cr_assert_eq(out.nseg, 2u);
	cr_assert_eq(out.seg[0].vaddr, 0x400000u);
	cr_assert_eq(out.seg[0].offset, 0x1000u);
	cr_assert_eq(out.seg[0].filesz, 0x800u);
	cr_assert_eq(out.seg[1].vaddr, 0x402000u);
	cr_assert_eq(out.seg[1].filesz, 0x100u);
	cr_assert_eq(out.seg[1].memsz, 0x5000u);
}

Test(rk_mboot, paddr_not_vaddr)
{
	elf32();
	wr(img + 52 + 8, 0xc0400000u, 4);	/* a higher-half vaddr: ignored */
	cr_assert_eq(parse(), RK_MB_OK);
	cr_assert_eq(out.seg[0].vaddr, 0x400000u);
}

Test(rk_mboot, elf64_is_accepted)
{
	memset(img, 0, sizeof(img));
	wr(img, 0x464c457f, 4);
	img[4] = 2;
	img[5] = 1;
	img[6] = 1;
	wr(img + 16, 2, 2);
	wr(img + 18, 62, 2);
	wr(img + 24, 0x200000, 8);
	wr(img + 32, 64, 8);
	wr(img + 54, 56, 2);
	wr(img + 56, 1, 2);
	wr(img + 64, 1, 4);
	wr(img + 64 + 8, 0x1000, 8);
	wr(img + 64 + 24, 0x200000, 8);
	wr(img + 64 + 32, 0x100, 8);
	wr(img + 64 + 40, 0x1000, 8);
	header(0x200, 0);
	cr_assert_eq(parse(), RK_MB_OK);
	cr_assert_eq(out.entry, 0x200000u);
	cr_assert_eq(out.nseg, 1u);
	cr_assert_eq(out.seg[0].memsz, 0x1000u);
}

Test(rk_mboot, header_rules)
{
	elf32();
	wr(img + 0x108, 0, 4);			/* bad checksum: skipped */
	cr_assert_eq(rk_mb_find(img, IMG_LEN), -1);
	cr_assert_eq(parse(), RK_MB_E_NO_HEADER);
	elf32();
	header(0x2000, 0);			/* past 8 KiB... */
	memset(img + 0x100, 0, 12);
	cr_assert_eq(parse(), RK_MB_E_NO_HEADER);
	cr_assert_eq(rk_mb_find(img, IMG_LEN), -1);
	elf32();
	header(0x100, MULTIBOOT_PAGE_ALIGN | (1u << 3));	/* a requirement not offered */
	cr_assert_eq(parse(), RK_MB_E_FLAGS);
	elf32();
	header(0x100, MULTIBOOT_VIDEO_MODE | (1u << 20));	/* a preference and an optional bit */
	cr_assert_eq(parse(), RK_MB_OK);
}

Test(rk_mboot, elf_rules)
{
	elf32();
	wr(img + 18, 62, 2);			/* ELF32 claiming x86-64 */
	cr_assert_eq(parse(), RK_MB_E_ELF);
	elf32();
	wr(img + 16, 3, 2);			/* ET_DYN */
	cr_assert_eq(parse(), RK_MB_E_ELF);
	elf32();
	wr(img + 42, 40, 2);
	cr_assert_eq(parse(), RK_MB_E_PHDR);
	elf32();
	wr(img + 28, IMG_LEN - 40, 4);
	cr_assert_eq(parse(), RK_MB_E_PHDR);
	elf32();
	wr(img + 52 + 16, 0x900, 4);		/* filesz > memsz */
	cr_assert_eq(parse(), RK_MB_E_SEG_FILE);
	elf32();
	wr(img + 52 + 32 + 4, IMG_LEN - 0x80, 4);	/* bytes past the end */
	cr_assert_eq(parse(), RK_MB_E_SEG_FILE);
	elf32();
	wr(img + 52 + 12, 0x80000, 4);		/* below 1 MiB */
	cr_assert_eq(parse(), RK_MB_E_SEG_RANGE);
	elf32();
	wr(img + 52 + 32 + 12, HI - 0x1000, 4);	/* runs past the memory */
	cr_assert_eq(parse(), RK_MB_E_SEG_RANGE);
	elf32();
	wr(img + 24, 0x500000, 4);		/* entry outside */
	cr_assert_eq(parse(), RK_MB_E_ENTRY);
	elf32();
	wr(img + 52, 6, 4);
	wr(img + 52 + 32, 6, 4);		/* no PT_LOAD */
	cr_assert_eq(parse(), RK_MB_E_EMPTY);
}

/* The a.out kludge: header at file 0x40, header_addr 0x100040, so the
 * file loads from offset 0 at 1 MiB. */
static void aout(uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
	uint32_t flags = MULTIBOOT_MEMORY_INFO | MULTIBOOT_AOUT_KLUDGE;

	memset(img, 0x90, sizeof(img));
	header(0x40, flags);
	wr(img + 0x40 + 12, 0x100040, 4);
	wr(img + 0x40 + 16, 0x100000, 4);
	wr(img + 0x40 + 20, load_end, 4);
	wr(img + 0x40 + 24, bss_end, 4);
	wr(img + 0x40 + 28, entry, 4);
}

Test(rk_mboot, aout_kludge)
{
	aout(0x101000, 0x104000, 0x100080);
	cr_assert_eq(parse(), RK_MB_OK);
	cr_assert_eq(out.nseg, 1u);
	cr_assert_eq(out.seg[0].vaddr, 0x100000u);
	cr_assert_eq(out.seg[0].offset, 0u);
	cr_assert_eq(out.seg[0].filesz, 0x1000u);
	cr_assert_eq(out.seg[0].memsz, 0x4000u);
	cr_assert_eq(out.entry, 0x100080u);
	aout(0, 0, 0x100080);			/* load_end 0: the rest of the file */
	cr_assert_eq(parse(), RK_MB_OK);
	cr_assert_eq(out.seg[0].filesz, IMG_LEN);
	aout(0x101000, 0x100800, 0x100080);	/* bss end before load end */
	cr_assert_eq(parse(), RK_MB_E_AOUT);
	aout(0x101000, 0, 0x100080);
	wr(img + 0x40 + 16, 0x100050, 4);	/* load_addr above header_addr */
	cr_assert_eq(parse(), RK_MB_E_AOUT);
	aout(0x101000, 0, 0x100080);
	wr(img + 0x40 + 16, 0xf0000, 4);	/* header further into the file than it is */
	cr_assert_eq(parse(), RK_MB_E_AOUT);
	aout(0x104000, 0, 0x100080);		/* more bytes than the file has */
	cr_assert_eq(parse(), RK_MB_E_SEG_FILE);
	aout(0x101000, 0, 0x200000);
	cr_assert_eq(parse(), RK_MB_E_ENTRY);
	cr_assert_eq(rk_mb_parse(img, 0x50, LO, HI, &out), RK_MB_E_HEADER_SHORT);
}

Test(rk_mboot, boot_data)
{
	static uint8_t low[RK_MB_LOW_BYTES];
	static char longline[RK_MB_CMDLINE_MAX + 50];
	uint32_t mbi = rk_mb_boot_data(low, 64ull << 20, "x86/hyperv_stimer.flat direct");
	const uint8_t *m = low + (mbi - CHILD_MB_GDT), *e;

	cr_assert_eq(mbi, CHILD_MB_INFO);
	cr_assert_eq(rd(low + 8, 8), 0x00cf9a000000ffffull);
	cr_assert_eq(rd(low + 16, 8), 0x00cf92000000ffffull);
	cr_assert_eq(rd(m, 4), MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_MODS |
				       MULTIBOOT_INFO_MEM_MAP | MULTIBOOT_INFO_BOOT_LOADER_NAME);
	cr_assert_eq(rd(m + 4, 4), 639u);
	cr_assert_eq(rd(m + 8, 4), 63u * 1024);
	cr_assert_str_eq((const char *)low + (rd(m + 16, 4) - CHILD_MB_GDT), "x86/hyperv_stimer.flat direct");
	cr_assert_eq(rd(m + 20, 4), 0u);
	cr_assert_str_eq((const char *)low + (rd(m + 64, 4) - CHILD_MB_GDT), "hvsim");
	cr_assert_eq(rd(m + 44, 4), 72u);
	e = low + (rd(m + 48, 4) - CHILD_MB_GDT);
	cr_assert_eq(rd(e, 4), 20u);
	cr_assert_eq(rd(e + 4, 8), 0u);
	cr_assert_eq(rd(e + 12, 8), CHILD_MB_LOW_TOP);
	cr_assert_eq(rd(e + 20, 4), 1u);
	cr_assert_eq(rd(e + 24 + 4, 8), CHILD_MB_LOW_TOP);
	cr_assert_eq(rd(e + 24 + 20, 4), 2u);
	cr_assert_eq(rd(e + 48 + 4, 8), 0x100000u);
	cr_assert_eq(rd(e + 48 + 12, 8), (64ull << 20) - 0x100000);
	cr_assert_eq(rd(e + 48 + 20, 4), 1u);
	memset(longline, 'a', sizeof(longline) - 1);
	rk_mb_boot_data(low, 64ull << 20, longline);
	cr_assert_eq(strlen((const char *)low + (rd(m + 16, 4) - CHILD_MB_GDT)), RK_MB_CMDLINE_MAX);
}

static uint8_t sum(const uint8_t *p, unsigned n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static const uint8_t *table(const uint8_t *acpi, uint64_t gpa)
{
	return acpi + (gpa - CHILD_MB_ACPI);
}

Test(rk_mboot, acpi_tables)
{
	static uint8_t acpi[RK_ACPI_BYTES];
	uint32_t used = rk_acpi_build(acpi, 3);
	const uint8_t *rsdt, *fadt, *madt, *dsdt, *hpet;

	cr_assert(used <= RK_ACPI_BYTES);
	cr_assert_eq(memcmp(acpi, "RSD PTR ", 8), 0);
	cr_assert_eq(sum(acpi, 20), 0);
	cr_assert_eq(acpi[15], 0);	/* revision 0 */
	rsdt = table(acpi, rd(acpi + 16, 4));
	cr_assert_eq(memcmp(rsdt, "RSDT", 4), 0);
	cr_assert_eq(rd(rsdt + 4, 4), 48u);
	cr_assert_eq(sum(rsdt, 48), 0);
	fadt = table(acpi, rd(rsdt + 36, 4));
	madt = table(acpi, rd(rsdt + 40, 4));
	hpet = table(acpi, rd(rsdt + 44, 4));
	cr_assert_eq(memcmp(fadt, "FACP", 4), 0);
	cr_assert_eq(sum(fadt, (unsigned)rd(fadt + 4, 4)), 0);
	cr_assert_eq(rd(fadt + 76, 4), CHILD_PMTIMER_PORT);
	cr_assert_eq(fadt[91], 4);
	cr_assert_eq(rd(fadt + 112, 4) & (1u << 8), 1u << 8);
	dsdt = table(acpi, rd(fadt + 40, 4));
	cr_assert_eq(memcmp(dsdt, "DSDT", 4), 0);
	cr_assert_eq(sum(dsdt, 36), 0);
	cr_assert_eq(memcmp(madt, "APIC", 4), 0);
	cr_assert_eq(rd(madt + 4, 4), 36u + 8 + 3 * 8);
	cr_assert_eq(sum(madt, (unsigned)rd(madt + 4, 4)), 0);
	cr_assert_eq(rd(madt + 36, 4), 0xfee00000u);
	cr_assert_eq(rd(madt + 40, 4), 0u);
	for (unsigned v = 0; v < 3; v++) {
		const uint8_t *e = madt + 44 + 8 * v;

		cr_assert_eq(e[0], 0);
		cr_assert_eq(e[1], 8);
		cr_assert_eq(e[2], v);
		cr_assert_eq(e[3], v);
		cr_assert_eq(rd(e + 4, 4), 1u);
	}
	/* The HPET table (HPET 1.0a 3.2.4): 56 bytes, revision 1. */
	cr_assert_eq(memcmp(hpet, "HPET", 4), 0);
	cr_assert_eq(rd(hpet + 4, 4), 56u);
	cr_assert_eq(hpet[8], 1);
	cr_assert_eq(sum(hpet, 56), 0);
	cr_assert_eq(rd(hpet + 36, 4), 0x14142201u, "Event Timer Block ID: vendor 0x1414, 64-bit, 3 timers, rev 1");
	cr_assert_eq(hpet[40], 0, "system memory");
	cr_assert_eq(hpet[41], 64);
	cr_assert_eq(rd(hpet + 44, 8), 0xfed00000u);
	cr_assert_eq(hpet[52], 0, "HPET number");
	cr_assert_eq(hpet[55], 1, "4 KiB page protection");
	cr_assert((uint64_t)(hpet - acpi) + 56 <= used);
}

Test(rk_mboot, acpi_tables_fit_with_the_most_vps)
{
	static uint8_t acpi[RK_ACPI_BYTES];
	uint32_t used = rk_acpi_build(acpi, RK_ACPI_MAX_VPS + 5);
	const uint8_t *rsdt = table(acpi, rd(acpi + 16, 4)), *madt = table(acpi, rd(rsdt + 40, 4));
	const uint8_t *hpet = table(acpi, rd(rsdt + 44, 4));

	cr_assert(used <= RK_ACPI_BYTES);
	cr_assert_eq(rd(madt + 4, 4), 36u + 8 + RK_ACPI_MAX_VPS * 8, "capped at RK_ACPI_MAX_VPS");
	cr_assert(madt + rd(madt + 4, 4) <= hpet, "the MADT ends before the HPET table");
	cr_assert_eq(sum(hpet, 56), 0);
	cr_assert_eq(sum(madt, (unsigned)rd(madt + 4, 4)), 0);
}
