/* Multiboot v1 kernels as the guests of child partitions: mboot.h says
 * what is accepted and what is built.  Every field of the image is read
 * once, byte by byte, so the image needs no alignment and a hostile one
 * can only be refused. */
#include <hv/childboot.h>
#include <hv/multiboot.h>

#include "mboot.h"

#define MB_HEADER_BASE 12u	/* magic, flags, checksum */
#define MB_HEADER_AOUT 32u	/* + the a.out kludge fields (3.1.3) */
#define MB_FLAGS_OFFERED (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_VIDEO_MODE)
#define MB_FLAGS_REQUIRED 0xffffu	/* bits 0-15 are requirements (3.1.2) */
#define GIB4 (1ull << 32)

#define EM_386 3
#define EM_X86_64 62
#define ET_EXEC 2
#define PT_LOAD 1

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void wr(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wr_str(uint8_t *p, const char *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)s[i];
}

int64_t rk_mb_find(const void *image, uint64_t len)
{
	const uint8_t *b = image;
	uint64_t limit = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;

	for (uint64_t off = 0; off + MB_HEADER_BASE <= limit; off += 4) {
		uint32_t magic = (uint32_t)rd(b + off, 4);

		if (magic == MULTIBOOT_HEADER_MAGIC &&
		    (uint32_t)(magic + (uint32_t)rd(b + off + 4, 4) + (uint32_t)rd(b + off + 8, 4)) == 0)
			return (int64_t)off;
	}
	return -1;
}

static int add_seg(struct rk_mb_image *out, uint64_t len, uint64_t lo, uint64_t hi, uint64_t pa,
		   uint64_t offset, uint64_t filesz, uint64_t memsz)
{
	if (!memsz)
		return RK_MB_OK;
	if (filesz > memsz || offset > len || filesz > len - offset)
		return RK_MB_E_SEG_FILE;
	if (pa < lo || pa > hi || memsz > hi - pa)
		return RK_MB_E_SEG_RANGE;
	if (out->nseg == RK_ELF_MAX_SEGS)
		return RK_MB_E_TOO_MANY;
	out->seg[out->nseg++] = (struct rk_elf_seg){ .vaddr = pa, .memsz = memsz, .offset = offset,
						     .filesz = filesz, .flags = RK_ELF_PF_R | RK_ELF_PF_W | RK_ELF_PF_X };
	return RK_MB_OK;
}

/* 3.1.3: [load_addr, load_end_addr) comes from file offset
 * header offset - (header_addr - load_addr); zeros up to bss_end_addr. */
static int parse_aout(const uint8_t *b, uint64_t len, uint64_t at, uint64_t lo, uint64_t hi,
		      struct rk_mb_image *out)
{
	uint64_t header_addr = rd(b + at + 12, 4), load_addr = rd(b + at + 16, 4);
	uint64_t load_end = rd(b + at + 20, 4), bss_end = rd(b + at + 24, 4);
	uint64_t offset, filesz;

	out->entry = (uint32_t)rd(b + at + 28, 4);
	if (load_addr > header_addr || header_addr - load_addr > at)
		return RK_MB_E_AOUT;
	offset = at - (header_addr - load_addr);
	if (!load_end)
		filesz = len - offset;
	else if (load_end < load_addr)
		return RK_MB_E_AOUT;
	else
		filesz = load_end - load_addr;
	if (bss_end && bss_end < load_addr + filesz)
		return RK_MB_E_AOUT;
	return add_seg(out, len, lo, hi, load_addr, offset, filesz,
		       bss_end ? bss_end - load_addr : filesz);
}

/* ELF32 or ELF64 (System V gABI "ELF Header", "Program Header"):
 * PT_LOAD segments at p_paddr. */
static int parse_elf(const uint8_t *b, uint64_t len, uint64_t lo, uint64_t hi, struct rk_mb_image *out)
{
	unsigned is64, phentsize, phnum, machine;
	uint64_t phoff, entry;
	int err;

	if (len < 52 || rd(b, 4) != 0x464c457f || b[5] != 1 || b[6] != 1)
		return RK_MB_E_ELF;
	is64 = b[4] == 2;
	if ((b[4] != 1 && !is64) || (is64 && len < 64))
		return RK_MB_E_ELF;
	machine = (unsigned)rd(b + 18, 2);
	if (rd(b + 16, 2) != ET_EXEC || machine != (is64 ? EM_X86_64 : EM_386))
		return RK_MB_E_ELF;
	entry = is64 ? rd(b + 24, 8) : rd(b + 24, 4);
	phoff = is64 ? rd(b + 32, 8) : rd(b + 28, 4);
	phentsize = (unsigned)rd(b + (is64 ? 54 : 42), 2);
	phnum = (unsigned)rd(b + (is64 ? 56 : 44), 2);
	if (!phnum || phentsize != (is64 ? 56u : 32u) || phoff > len ||
	    (uint64_t)phnum * phentsize > len - phoff)
		return RK_MB_E_PHDR;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = b + phoff + (uint64_t)i * phentsize;

		if (rd(ph, 4) != PT_LOAD)
			continue;
		if (is64)
			err = add_seg(out, len, lo, hi, rd(ph + 24, 8), rd(ph + 8, 8), rd(ph + 32, 8), rd(ph + 40, 8));
		else
			err = add_seg(out, len, lo, hi, rd(ph + 12, 4), rd(ph + 4, 4), rd(ph + 16, 4), rd(ph + 20, 4));
		if (err)
			return err;
	}
	if (entry >= GIB4)
		return RK_MB_E_ENTRY;
	out->entry = (uint32_t)entry;
	return RK_MB_OK;
}

int rk_mb_parse(const void *image, uint64_t len, uint64_t lo, uint64_t hi, struct rk_mb_image *out)
{
	const uint8_t *b = image;
	int64_t at = rk_mb_find(image, len);
	int err;

	*out = (struct rk_mb_image){ 0 };
	if (at < 0)
		return RK_MB_E_NO_HEADER;
	out->header_flags = (uint32_t)rd(b + at + 4, 4);
	if (out->header_flags & MB_FLAGS_REQUIRED & ~MB_FLAGS_OFFERED)
		return RK_MB_E_FLAGS;
	if (out->header_flags & MULTIBOOT_AOUT_KLUDGE) {
		if ((uint64_t)at + MB_HEADER_AOUT > len)
			return RK_MB_E_HEADER_SHORT;
		err = parse_aout(b, len, (uint64_t)at, lo, hi, out);
	} else {
		err = parse_elf(b, len, lo, hi, out);
	}
	if (err)
		return err;
	if (!out->nseg)
		return RK_MB_E_EMPTY;
	for (unsigned i = 0; i < out->nseg; i++)
		if (out->entry >= out->seg[i].vaddr && out->entry - out->seg[i].vaddr < out->seg[i].memsz)
			return RK_MB_OK;
	return RK_MB_E_ENTRY;
}

const char *rk_mb_strerror(int err)
{
	switch (err) {
	case RK_MB_OK: return "ok";
	case RK_MB_E_NO_HEADER: return "no multiboot header in the first 8 KiB";
	case RK_MB_E_HEADER_SHORT: return "the multiboot header runs past the end of the image";
	case RK_MB_E_FLAGS: return "the multiboot header asks for a feature not offered (flags 3-15)";
	case RK_MB_E_AOUT: return "inconsistent a.out kludge addresses";
	case RK_MB_E_ELF: return "no a.out kludge and not an ELF32/ELF64 x86 executable";
	case RK_MB_E_PHDR: return "program headers missing, of an odd size or outside the image";
	case RK_MB_E_TOO_MANY: return "too many loadable segments";
	case RK_MB_E_SEG_FILE: return "a segment's bytes lie outside the image";
	case RK_MB_E_SEG_RANGE: return "a segment lies outside the child's memory above 1 MiB";
	case RK_MB_E_ENTRY: return "the entry point is not in a loaded segment";
	case RK_MB_E_EMPTY: return "nothing to load";
	default: return "unknown error";
	}
}

/* ---- what the loader leaves in memory ---- */

#define LOW_MBI (CHILD_MB_INFO - CHILD_MB_GDT)
#define LOW_MMAP (LOW_MBI + 0x80)
#define LOW_NAME (LOW_MBI + 0x100)
#define LOW_CMDLINE (LOW_MBI + 0x200)
#define GPA(off) ((uint32_t)(CHILD_MB_GDT + (off)))

static unsigned mmap_entry(uint8_t *p, uint64_t base, uint64_t len, uint32_t type)
{
	wr(p, 20, 4);	/* size of the rest (3.3, "mmap_addr") */
	wr(p + 4, base, 8);
	wr(p + 12, len, 8);
	wr(p + 20, type, 4);
	return 24;
}

uint32_t rk_mb_boot_data(uint8_t *buf, uint64_t memory, const char *cmdline)
{
	uint8_t *mbi = buf + LOW_MBI;
	unsigned n = 0, mlen = 0;

	for (unsigned i = 0; i < RK_MB_LOW_BYTES; i++)
		buf[i] = 0;
	/* 3.2: CS a flat 32-bit code segment, the others flat data. */
	wr(buf + 8, 0x00cf9a000000ffffull, 8);
	wr(buf + 16, 0x00cf92000000ffffull, 8);
	mlen += mmap_entry(buf + LOW_MMAP + mlen, 0, CHILD_MB_LOW_TOP, MULTIBOOT_MEMORY_AVAILABLE);
	mlen += mmap_entry(buf + LOW_MMAP + mlen, CHILD_MB_LOW_TOP, CHILD_MB_LOAD_MIN - CHILD_MB_LOW_TOP,
			   MULTIBOOT_MEMORY_RESERVED);
	mlen += mmap_entry(buf + LOW_MMAP + mlen, CHILD_MB_LOAD_MIN, memory - CHILD_MB_LOAD_MIN,
			   MULTIBOOT_MEMORY_AVAILABLE);
	wr_str(buf + LOW_NAME, "hvsim", 6);
	while (cmdline && cmdline[n] && n < RK_MB_CMDLINE_MAX) {
		buf[LOW_CMDLINE + n] = (uint8_t)cmdline[n];
		n++;
	}
	/* struct multiboot_info (3.3). */
	wr(mbi + 0, MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_MODS | MULTIBOOT_INFO_MEM_MAP |
			    MULTIBOOT_INFO_BOOT_LOADER_NAME, 4);
	wr(mbi + 4, CHILD_MB_LOW_TOP / 1024, 4);
	wr(mbi + 8, (memory - CHILD_MB_LOAD_MIN) / 1024, 4);
	wr(mbi + 16, GPA(LOW_CMDLINE), 4);
	wr(mbi + 20, 0, 4);		/* mods_count */
	wr(mbi + 24, GPA(LOW_MMAP), 4);	/* mods_addr: valid, with nothing there */
	wr(mbi + 44, mlen, 4);
	wr(mbi + 48, GPA(LOW_MMAP), 4);
	wr(mbi + 64, GPA(LOW_NAME), 4);
	return GPA(LOW_MBI);
}

/* ---- ACPI ---- */

#define ACPI_RSDT 0x20u
#define ACPI_FADT 0x60u
#define ACPI_DSDT 0x100u
#define ACPI_MADT 0x140u
#define ACPI_HPET 0x370u	/* after the largest MADT (RK_ACPI_MAX_VPS) */
#define HPET_LEN 56u
#define ACPI_HDR 36u
#define FADT_LEN 116u	/* the ACPI 1.0 FADT, revision 1 */
#define FADT_TMR_VAL_EXT (1u << 8)

static uint8_t sum(const uint8_t *p, unsigned n)
{
	uint8_t s = 0;

	for (unsigned i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* The system description table header (5.2.6); the checksum last. */
static void sdt_header(uint8_t *p, const char *sig, uint32_t len, uint8_t rev)
{
	wr_str(p, sig, 4);
	wr(p + 4, len, 4);
	p[8] = rev;
	wr_str(p + 10, "HVSIM ", 6);
	wr_str(p + 16, "HVSIMCHD", 8);
	wr(p + 24, 1, 4);
	wr_str(p + 28, "HVSM", 4);
	wr(p + 32, 1, 4);
}

static void sdt_checksum(uint8_t *p)
{
	uint32_t len = (uint32_t)rd(p + 4, 4);

	p[9] = 0;
	p[9] = (uint8_t)-sum(p, len);
}

uint32_t rk_acpi_build(uint8_t *buf, unsigned vps)
{
	uint8_t *rsdt = buf + ACPI_RSDT, *fadt = buf + ACPI_FADT, *dsdt = buf + ACPI_DSDT, *madt = buf + ACPI_MADT;
	uint8_t *hpet = buf + ACPI_HPET;
	uint32_t madt_len;

	if (vps > RK_ACPI_MAX_VPS)
		vps = RK_ACPI_MAX_VPS;
	madt_len = ACPI_HDR + 8 + 8 * vps;
	for (unsigned i = 0; i < RK_ACPI_BYTES; i++)
		buf[i] = 0;
	/* RSDP, revision 0 (5.2.5.3): 20 bytes, checksummed. */
	wr_str(buf, "RSD PTR ", 8);
	wr_str(buf + 9, "HVSIM ", 6);
	wr(buf + 16, CHILD_MB_ACPI + ACPI_RSDT, 4);
	buf[8] = (uint8_t)-sum(buf, 20);
	/* RSDT (5.2.7): the FADT, the MADT and the HPET table. */
	sdt_header(rsdt, "RSDT", ACPI_HDR + 12, 1);
	wr(rsdt + ACPI_HDR, CHILD_MB_ACPI + ACPI_FADT, 4);
	wr(rsdt + ACPI_HDR + 4, CHILD_MB_ACPI + ACPI_MADT, 4);
	wr(rsdt + ACPI_HDR + 8, CHILD_MB_ACPI + ACPI_HPET, 4);
	sdt_checksum(rsdt);
	/* FADT (5.2.9): DSDT, SCI 9, the PM timer block and its length,
	 * TMR_VAL_EXT (a 32-bit counter); no other fixed hardware. */
	sdt_header(fadt, "FACP", FADT_LEN, 1);
	wr(fadt + 40, CHILD_MB_ACPI + ACPI_DSDT, 4);
	wr(fadt + 46, 9, 2);
	wr(fadt + 76, CHILD_PMTIMER_PORT, 4);
	fadt[91] = 4;
	wr(fadt + 112, FADT_TMR_VAL_EXT, 4);
	sdt_checksum(fadt);
	/* DSDT (5.2.11.1): a header and no definition blocks. */
	sdt_header(dsdt, "DSDT", ACPI_HDR, 1);
	sdt_checksum(dsdt);
	/* MADT (5.2.12): the local APICs at 0xFEE00000, no PCAT_COMPAT (the
	 * child has no 8259s); one Processor Local APIC (type 0) per VP. */
	sdt_header(madt, "APIC", madt_len, 1);
	wr(madt + ACPI_HDR, 0xfee00000u, 4);
	for (unsigned v = 0; v < vps; v++) {
		uint8_t *e = madt + ACPI_HDR + 8 + 8 * v;

		e[0] = 0;
		e[1] = 8;
		e[2] = (uint8_t)v;
		e[3] = (uint8_t)v;
		wr(e + 4, 1, 4);	/* enabled */
	}
	sdt_checksum(madt);
	/* The HPET Description Table (IA-PC HPET Specification 1.0a, 3.2.4):
	 * the Event Timer Block ID (the capabilities register's low half),
	 * its base as a Generic Address Structure in system memory (space
	 * 0, 64 bits wide), HPET number 0, no minimum periodic tick (it
	 * raises no interrupts), and 4 KiB page protection: nothing else
	 * shares its page. */
	sdt_header(hpet, "HPET", HPET_LEN, 1);
	wr(hpet + ACPI_HDR, CHILD_HPET_ID, 4);
	hpet[ACPI_HDR + 4] = 0;
	hpet[ACPI_HDR + 5] = 64;
	wr(hpet + ACPI_HDR + 8, CHILD_HPET_BASE, 8);
	hpet[ACPI_HDR + 16] = 0;
	wr(hpet + ACPI_HDR + 17, 0, 2);
	hpet[ACPI_HDR + 19] = 1;
	sdt_checksum(hpet);
	return ACPI_HPET + HPET_LEN;
}
