/* ELF loading, the multiboot v1 handoff and the hvsim run (bootinfo)
 * handoff.  ELF images are built in memory by build_elf(); files the
 * loaders read go to a per-test temporary directory. */
#include <criterion/criterion.h>

#include "capture.h"
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/bootinfo.h"
#include "hv/multiboot.h"
#include "loader.h"
#include "memmap.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* ---- in-memory ELF images ---- */

struct tseg {
	uint32_t type;		/* 0 means PT_LOAD */
	uint64_t paddr;
	const void *data;
	uint64_t filesz, memsz;
};

/* ELF header, program headers, then each segment's bytes 16-aligned.
 * Returns a malloc'd buffer; *payload gets the file offset of segment 0. */
static uint8_t *build_elf(int is64, uint16_t machine, uint64_t entry, const struct tseg *segs,
			  unsigned nseg, size_t *len, size_t *payload)
{
	size_t eh = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t ph = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	size_t off = (eh + nseg * ph + 15) & ~(size_t)15, total = off;
	size_t offs[64];
	uint8_t *b;

	cr_assert_leq(nseg, 64);
	for (unsigned i = 0; i < nseg; i++) {
		offs[i] = total;
		total = (total + segs[i].filesz + 15) & ~(size_t)15;
	}
	b = calloc(1, total);
	cr_assert_not_null(b);
	if (is64) {
		Elf64_Ehdr h = { 0 };

		memcpy(h.e_ident, ELFMAG, SELFMAG);
		h.e_ident[EI_CLASS] = ELFCLASS64;
		h.e_ident[EI_DATA] = ELFDATA2LSB;
		h.e_ident[EI_VERSION] = EV_CURRENT;
		h.e_type = ET_EXEC;
		h.e_machine = machine;
		h.e_version = EV_CURRENT;
		h.e_entry = entry;
		h.e_phoff = eh;
		h.e_ehsize = (uint16_t)eh;
		h.e_phentsize = (uint16_t)ph;
		h.e_phnum = (uint16_t)nseg;
		memcpy(b, &h, sizeof(h));
	} else {
		Elf32_Ehdr h = { 0 };

		memcpy(h.e_ident, ELFMAG, SELFMAG);
		h.e_ident[EI_CLASS] = ELFCLASS32;
		h.e_ident[EI_DATA] = ELFDATA2LSB;
		h.e_ident[EI_VERSION] = EV_CURRENT;
		h.e_type = ET_EXEC;
		h.e_machine = machine;
		h.e_version = EV_CURRENT;
		h.e_entry = (uint32_t)entry;
		h.e_phoff = (uint32_t)eh;
		h.e_ehsize = (uint16_t)eh;
		h.e_phentsize = (uint16_t)ph;
		h.e_phnum = (uint16_t)nseg;
		memcpy(b, &h, sizeof(h));
	}
	for (unsigned i = 0; i < nseg; i++) {
		uint32_t type = segs[i].type ? segs[i].type : PT_LOAD;

		if (is64) {
			Elf64_Phdr p = { .p_type = type, .p_flags = PF_R | PF_X, .p_offset = offs[i],
					 .p_vaddr = segs[i].paddr + 0xffffffff80000000ull,
					 .p_paddr = segs[i].paddr, .p_filesz = segs[i].filesz,
					 .p_memsz = segs[i].memsz, .p_align = 16 };

			memcpy(b + eh + i * ph, &p, sizeof(p));
		} else {
			Elf32_Phdr p = { .p_type = type, .p_flags = PF_R | PF_W, .p_offset = (uint32_t)offs[i],
					 .p_vaddr = (uint32_t)segs[i].paddr,
					 .p_paddr = (uint32_t)segs[i].paddr,
					 .p_filesz = (uint32_t)segs[i].filesz,
					 .p_memsz = (uint32_t)segs[i].memsz, .p_align = 16 };

			memcpy(b + eh + i * ph, &p, sizeof(p));
		}
		if (segs[i].data)
			memcpy(b + offs[i], segs[i].data, segs[i].filesz);
	}
	*len = total;
	if (payload)
		*payload = nseg ? offs[0] : total;
	return b;
}

/* Overwrite a field of program header i of an ELF64 image. */
static void set_phdr64(uint8_t *b, unsigned i, size_t field_off, uint64_t v)
{
	memcpy(b + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr) + field_off, &v, sizeof(v));
}

static void set_u16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

/* ---- files ---- */

static char tmpdir[64];

static void tmpdir_init(void)
{
	strcpy(tmpdir, "/tmp/hvsim-loader-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void tmpdir_fini(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

/* Writes a file in the test's directory; returns its path (malloc'd). */
static char *write_file(const char *name, const void *data, size_t len)
{
	char *path;
	FILE *f;

	cr_assert_geq(asprintf(&path, "%s/%s", tmpdir, name), 0);
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

static uint8_t pattern_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

static uint8_t *pattern(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
		p[i] = pattern_byte(i);
	return p;
}

/* ================= ELF ================= */

TestSuite(loader, .init = tmpdir_init, .fini = tmpdir_fini);

Test(loader, elf64_parse_reports_entry_segments_and_extent)
{
	uint8_t text[32] = { 0x90 }, data[16] = { 1, 2, 3 };
	struct tseg s[] = {
		{ .paddr = 0x200000, .data = text, .filesz = sizeof(text), .memsz = sizeof(text) },
		{ .paddr = 0x201000, .data = data, .filesz = sizeof(data), .memsz = 0x2000 },
	};
	struct elf_image img;
	size_t len, pay;
	uint8_t *b = build_elf(1, EM_X86_64, 0x200004, s, 2, &len, &pay);

	cr_assert_eq(elf_parse(b, len, "t.elf", &img), 0);
	cr_assert_eq(img.is64, 1);
	cr_assert_eq(img.entry, 0x200004);
	cr_assert_eq(img.nseg, 2);
	cr_assert_eq(img.seg[0].paddr, 0x200000);
	cr_assert_eq(img.seg[0].vaddr, 0xffffffff80200000ull);
	cr_assert_eq(img.seg[0].offset, pay);
	cr_assert_eq(img.seg[1].filesz, 16);
	cr_assert_eq(img.seg[1].memsz, 0x2000);
	cr_assert_eq(img.seg[0].flags, PF_R | PF_X);
	cr_assert_eq(img.lo, 0x200000);
	cr_assert_eq(img.hi, 0x203000);
	free(b);
}

Test(loader, elf32_parse_accepts_i386_and_x86_64_machines)
{
	uint8_t text[8] = { 0 };
	struct tseg s = { .paddr = 0x100000, .data = text, .filesz = 8, .memsz = 8 };
	struct elf_image img;
	size_t len;
	uint8_t *b = build_elf(0, EM_386, 0x100000, &s, 1, &len, NULL);

	cr_assert_eq(elf_parse(b, len, "t.elf", &img), 0);
	cr_assert_eq(img.is64, 0);
	cr_assert_eq(img.entry, 0x100000);
	cr_assert_eq(img.nseg, 1);
	cr_assert_eq(img.hi, 0x100008);
	set_u16(b, offsetof(Elf32_Ehdr, e_machine), EM_X86_64);
	cr_assert_eq(elf_parse(b, len, "t.elf", &img), 0);
	free(b);
}

Test(loader, elf_parse_skips_non_load_and_empty_segments)
{
	uint8_t text[8] = { 0 };
	struct tseg s[] = {
		{ .type = PT_NOTE, .paddr = 0, .data = text, .filesz = 8, .memsz = 8 },
		{ .paddr = 0x100000, .data = NULL, .filesz = 0, .memsz = 0 },
		{ .paddr = 0x300000, .data = text, .filesz = 8, .memsz = 8 },
	};
	struct elf_image img;
	size_t len;
	uint8_t *b = build_elf(1, EM_X86_64, 0, s, 3, &len, NULL);

	cr_assert_eq(elf_parse(b, len, "t.elf", &img), 0);
	cr_assert_eq(img.nseg, 1);
	cr_assert_eq(img.seg[0].paddr, 0x300000);
	cr_assert_eq(img.lo, 0x300000);
	free(b);
}

static void load_and_check(int is64)
{
	uint8_t *text = pattern(100);
	struct tseg s[] = {
		{ .paddr = 0x100000, .data = text, .filesz = 100, .memsz = 100 },
		{ .paddr = 0x180000, .data = text, .filesz = 10, .memsz = 0x1000 },
	};
	struct memmap *m = memmap_new(4 * MiB);
	struct elf_image img;
	size_t len;
	uint8_t *b = build_elf(is64, is64 ? EM_X86_64 : EM_386, 0x100000, s, 2, &len, NULL);
	uint8_t *ram = memmap_ram(m);

	memset(ram, 0xAA, 4 * MiB);
	cr_assert_eq(elf_parse(b, len, "t.elf", &img), 0);
	cr_assert_eq(elf_load(m, b, len, "t.elf", &img), 0);
	cr_assert_arr_eq(ram + 0x100000, text, 100);
	cr_assert_eq(ram[0x100000 + 100], 0xAA, "bytes past memsz are untouched");
	cr_assert_arr_eq(ram + 0x180000, text, 10);
	for (size_t i = 10; i < 0x1000; i++)
		cr_assert_eq(ram[0x180000 + i], 0, "bss byte %zu not zeroed", i);
	cr_assert_eq(ram[0x181000], 0xAA);
	cr_assert_eq(ram[0x17FFFF], 0xAA);
	memmap_free(m);
	free(b);
	free(text);
}

Test(loader, elf64_load_places_bytes_at_paddr_and_zeroes_bss)
{
	load_and_check(1);
}

Test(loader, elf32_load_places_bytes_at_paddr_and_zeroes_bss)
{
	load_and_check(0);
}

/* A valid one-segment ELF64 image for the rejection tests to break. */
static uint8_t *good_elf64(size_t *len)
{
	static const uint8_t text[64] = { 0xf4 };
	struct tseg s = { .paddr = 0x100000, .data = text, .filesz = 64, .memsz = 128 };

	return build_elf(1, EM_X86_64, 0x100000, &s, 1, len, NULL);
}

static int parse_quiet(const uint8_t *b, size_t len, const char **msg)
{
	struct elf_image img;
	int r;

	capture_begin();
	r = elf_parse(b, len, "t.elf", &img);
	*msg = capture_end();
	return r;
}

Test(loader, elf_rejects_bad_magic_with_offset_message)
{
	size_t len;
	uint8_t *b = good_elf64(&len);
	const char *msg;

	b[1] = 'X';
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert_str_eq(msg, "t.elf: offset 0x0: not an ELF file (bad magic)\n");
	cr_assert_eq(parse_quiet(b, 3, &msg), -EINVAL, "shorter than e_ident");
	free(b);
}

Test(loader, elf_rejects_wrong_machine_type_class_and_endianness)
{
	size_t len;
	uint8_t *b = good_elf64(&len);
	const char *msg;

	set_u16(b, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert(strstr(msg, "offset 0x12: not an x86 executable"), "%s", msg);
	set_u16(b, offsetof(Elf64_Ehdr, e_machine), EM_386);	/* no ELF64 i386 */
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	set_u16(b, offsetof(Elf64_Ehdr, e_machine), EM_X86_64);
	cr_assert_eq(parse_quiet(b, len, &msg), 0, "%s", msg);

	set_u16(b, offsetof(Elf64_Ehdr, e_type), ET_DYN);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert(strstr(msg, "not an executable"), "%s", msg);
	set_u16(b, offsetof(Elf64_Ehdr, e_type), ET_EXEC);

	b[EI_DATA] = ELFDATA2MSB;
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	b[EI_DATA] = ELFDATA2LSB;
	b[EI_CLASS] = 7;
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert(strstr(msg, "offset 0x4:"), "%s", msg);
	free(b);
}

Test(loader, elf_rejects_bad_header_sizes_and_short_file)
{
	size_t len;
	uint8_t *b = good_elf64(&len);
	const char *msg;

	cr_assert_eq(parse_quiet(b, sizeof(Elf64_Ehdr) - 1, &msg), -EINVAL);
	set_u16(b, offsetof(Elf64_Ehdr, e_ehsize), 52);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	set_u16(b, offsetof(Elf64_Ehdr, e_ehsize), sizeof(Elf64_Ehdr));
	set_u16(b, offsetof(Elf64_Ehdr, e_phentsize), 32);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert(strstr(msg, "e_phentsize"), "%s", msg);
	set_u16(b, offsetof(Elf64_Ehdr, e_phentsize), sizeof(Elf64_Phdr));
	set_u16(b, offsetof(Elf64_Ehdr, e_phnum), 0);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	free(b);
}

Test(loader, elf_rejects_truncated_program_headers)
{
	size_t len;
	uint8_t *b = good_elf64(&len);
	const char *msg;
	uint64_t huge = UINT64_MAX - 8;

	/* The file ends in the middle of the program header table. */
	cr_assert_eq(parse_quiet(b, sizeof(Elf64_Ehdr) + 20, &msg), -EINVAL);
	cr_assert(strstr(msg, "offset 0x20: program headers"), "%s", msg);
	/* e_phoff so large that phoff + size wraps. */
	memcpy(b + offsetof(Elf64_Ehdr, e_phoff), &huge, 8);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	set_u16(b, offsetof(Elf64_Ehdr, e_phnum), 2);	/* two headers, one present */
	huge = sizeof(Elf64_Ehdr);
	memcpy(b + offsetof(Elf64_Ehdr, e_phoff), &huge, 8);
	cr_assert_eq(parse_quiet(b, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 8, &msg), -EINVAL);
	free(b);
}

Test(loader, elf_rejects_segment_past_end_of_file)
{
	size_t len;
	uint8_t *b = good_elf64(&len);
	const char *msg;

	set_phdr64(b, 0, offsetof(Elf64_Phdr, p_filesz), len);	/* offset + filesz > len */
	set_phdr64(b, 0, offsetof(Elf64_Phdr, p_memsz), len);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert(strstr(msg, "offset 0x40: segment 0"), "%s", msg);
	cr_assert(strstr(msg, "past the end of the file"), "%s", msg);
	/* p_offset + p_filesz wrapping around must not pass. */
	set_phdr64(b, 0, offsetof(Elf64_Phdr, p_offset), UINT64_MAX - 2);
	set_phdr64(b, 0, offsetof(Elf64_Phdr, p_filesz), 16);
	set_phdr64(b, 0, offsetof(Elf64_Phdr, p_memsz), 16);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	free(b);
}

Test(loader, elf_rejects_filesz_larger_than_memsz)
{
	size_t len;
	uint8_t *b = good_elf64(&len);
	const char *msg;

	set_phdr64(b, 0, offsetof(Elf64_Phdr, p_memsz), 32);	/* filesz is 64 */
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert(strstr(msg, "p_filesz 0x40 exceeds p_memsz 0x20"), "%s", msg);
	free(b);
}

Test(loader, elf_rejects_physical_range_overflow)
{
	size_t len;
	uint8_t *b = good_elf64(&len);
	const char *msg;
	uint8_t text[8] = { 0 };
	struct tseg s = { .paddr = 0xFFFFF000, .data = text, .filesz = 8, .memsz = 0x2000 };
	uint8_t *b32;

	set_phdr64(b, 0, offsetof(Elf64_Phdr, p_paddr), UINT64_MAX - 0x10);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert(strstr(msg, "overflows"), "%s", msg);
	free(b);
	/* An ELF32 segment may not run past 4 GiB either. */
	b32 = build_elf(0, EM_386, 0, &s, 1, &len, NULL);
	cr_assert_eq(parse_quiet(b32, len, &msg), -EINVAL);
	free(b32);
}

Test(loader, elf_rejects_more_than_max_segments_and_none)
{
	static uint8_t byte;
	struct tseg s[ELF_MAX_SEGMENTS + 1];
	size_t len;
	uint8_t *b;
	const char *msg;

	for (unsigned i = 0; i <= ELF_MAX_SEGMENTS; i++)
		s[i] = (struct tseg){ .paddr = 0x100000 + i * 0x1000, .data = &byte, .filesz = 1,
				      .memsz = 1 };
	b = build_elf(1, EM_X86_64, 0, s, ELF_MAX_SEGMENTS, &len, NULL);
	cr_assert_eq(parse_quiet(b, len, &msg), 0, "exactly the maximum is fine: %s", msg);
	free(b);
	b = build_elf(1, EM_X86_64, 0, s, ELF_MAX_SEGMENTS + 1, &len, NULL);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert(strstr(msg, "more than 32 loadable segments"), "%s", msg);
	free(b);
	s[0].type = PT_NOTE;
	b = build_elf(1, EM_X86_64, 0, s, 1, &len, NULL);
	cr_assert_eq(parse_quiet(b, len, &msg), -EINVAL);
	cr_assert(strstr(msg, "no loadable segments"), "%s", msg);
	free(b);
}

Test(loader, elf_load_rejects_segment_outside_ram_and_writes_nothing)
{
	uint8_t text[16];
	struct tseg s[] = {
		{ .paddr = 0x100000, .data = text, .filesz = 16, .memsz = 16 },
		{ .paddr = 0x3FF000, .data = text, .filesz = 16, .memsz = 0x2000 },	/* RAM ends at 4M */
	};
	struct memmap *m = memmap_new(4 * MiB);
	struct elf_image img;
	size_t len;
	uint8_t *b;
	const char *msg;
	int r;

	memset(text, 0x5A, sizeof(text));
	b = build_elf(1, EM_X86_64, 0, s, 2, &len, NULL);
	cr_assert_eq(elf_parse(b, len, "t.elf", &img), 0);
	capture_begin();
	r = elf_load(m, b, len, "t.elf", &img);
	msg = capture_end();
	cr_assert_eq(r, -EINVAL);
	cr_assert(strstr(msg, "segment 1 at physical [0x3ff000, 0x401000) is not wholly in RAM"),
		  "%s", msg);
	cr_assert_eq(memmap_ram(m)[0x100000], 0, "segment 0 must not be written on failure");
	memmap_free(m);
	free(b);
}

Test(loader, read_file_returns_contents_or_errno)
{
	uint8_t *p = pattern(100000), *data;
	char *path = write_file("blob", p, 100000), *missing;
	size_t len;
	const char *msg;
	int r;

	cr_assert_eq(loader_read_file(path, &data, &len), 0);
	cr_assert_eq(len, 100000);
	cr_assert_arr_eq(data, p, len);
	free(data);
	cr_assert_geq(asprintf(&missing, "%s/nope", tmpdir), 0);
	capture_begin();
	r = loader_read_file(missing, &data, &len);
	msg = capture_end();
	cr_assert_eq(r, -ENOENT);
	cr_assert(strstr(msg, "nope: No such file or directory"), "%s", msg);
	cr_assert_null(data);
	free(p);
	free(path);
	free(missing);
}

/* ================= multiboot ================= */

#define KBASE 0x100000u

/* A multiboot header (3.1.1) with a correct checksum. */
static void put_mb_header(uint8_t *at, uint32_t flags)
{
	uint32_t w[3] = { MULTIBOOT_HEADER_MAGIC, flags, 0u - MULTIBOOT_HEADER_MAGIC - flags };

	memcpy(at, w, sizeof(w));
}

/* An ELF32 kernel at 1 MiB: `pad` bytes, the header, some code, then
 * 0x3000 bytes of bss.  *hdr_off gets the header's file offset. */
static uint8_t *mb_kernel(size_t pad, uint32_t flags, int is64, uint64_t entry, size_t *len,
			  size_t *hdr_off)
{
	size_t n = pad + 64, pay;
	uint8_t *text = calloc(1, n), *b;
	struct tseg s = { .paddr = KBASE, .data = text, .filesz = n, .memsz = n + 0x3000 };

	put_mb_header(text + pad, flags);
	memset(text + pad + 12, 0x90, 52);
	b = build_elf(is64, is64 ? EM_X86_64 : EM_386, entry, &s, 1, len, &pay);
	if (hdr_off)
		*hdr_off = pay + pad;
	free(text);
	return b;
}

struct mb_result {
	int rc;
	struct boot_entry e;
	const char *msg;
};

static struct mb_result mb_boot(struct memmap *m, const uint8_t *img, size_t len, const char *cmdline,
				const struct multiboot_module_arg *mods, unsigned nmods)
{
	struct mb_result r;
	char *path = write_file("kernel", img, len);
	struct multiboot_args a = { .kernel_path = path, .cmdline = cmdline, .modules = mods,
				    .nmodules = nmods };

	memset(&r.e, 0, sizeof(r.e));
	capture_begin();
	r.rc = multiboot_boot(m, &a, &r.e);
	r.msg = capture_end();
	free(path);
	return r;
}

static struct multiboot_info read_info(struct memmap *m, uint64_t pa)
{
	struct multiboot_info info;

	cr_assert_eq(memmap_read_phys(m, pa, &info, sizeof(info)), 0);
	return info;
}

static const char *ram_str(struct memmap *m, uint64_t pa)
{
	const char *s = memmap_ram_ptr(m, pa, 1);

	cr_assert_not_null(s, "string at 0x%llx is not in RAM", (unsigned long long)pa);
	return s;
}

Test(loader, multiboot_finds_header_at_nonzero_offset_and_enters_prot32)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len, hoff;
	uint8_t *k = mb_kernel(0x100, MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO, 0,
			       KBASE + 0x110, &len, &hoff);
	struct mb_result r;
	uint64_t gdt[3];

	cr_assert_gt(hoff, 0);
	r = mb_boot(m, k, len, "kernel arg=1", NULL, 0);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.e.mode, BOOT_MODE_PROT32);
	cr_assert_eq(r.e.rip, KBASE + 0x110);
	cr_assert_eq(r.e.rax, 0x2BADB002);
	cr_assert_geq(r.e.rbx, BOOT_AREA_BASE);
	cr_assert_lt(r.e.rbx, BOOT_AREA_END);
	cr_assert_eq(r.e.gdt_limit, 23);
	cr_assert_eq(memmap_read_phys(m, r.e.gdt_base, gdt, sizeof(gdt)), 0);
	cr_assert_eq(gdt[0], 0);
	cr_assert_eq(gdt[1], 0x00CF9A000000FFFFull);
	cr_assert_eq(gdt[2], 0x00CF92000000FFFFull);
	/* The image (header included) is at 1 MiB, bss zeroed. */
	cr_assert_eq(((uint32_t *)memmap_ram_ptr(m, KBASE + 0x100, 4))[0], MULTIBOOT_HEADER_MAGIC);
	cr_assert_eq(memmap_ram(m)[KBASE + 0x100 + 64 + 0x2000], 0);
	memmap_free(m);
	free(k);
}

Test(loader, multiboot_header_at_the_last_slot_of_8k_is_found)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len, hoff, pay;
	uint8_t *k = mb_kernel(0, 0, 0, KBASE, &len, &pay);	/* learn the payload offset */
	struct mb_result r;

	free(k);
	/* The header's 12 bytes end exactly at byte 8192. */
	k = mb_kernel(MULTIBOOT_SEARCH - 12 - pay, 0, 0, KBASE, &len, &hoff);
	cr_assert_eq(hoff, MULTIBOOT_SEARCH - 12);
	r = mb_boot(m, k, len, NULL, NULL, 0);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	free(k);
	/* Four bytes further and it is outside the search window. */
	k = mb_kernel(MULTIBOOT_SEARCH - 8 - pay, 0, 0, KBASE, &len, &hoff);
	cr_assert_eq(hoff, MULTIBOOT_SEARCH - 8);
	r = mb_boot(m, k, len, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "no multiboot header in the first 8192 bytes"), "%s", r.msg);
	free(k);
	memmap_free(m);
}

Test(loader, multiboot_rejects_header_beyond_8k)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *k = mb_kernel(9000, 0, 0, KBASE, &len, NULL);
	struct mb_result r = mb_boot(m, k, len, NULL, NULL, 0);

	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "no multiboot header"), "%s", r.msg);
	memmap_free(m);
	free(k);
}

Test(loader, multiboot_rejects_bad_checksum)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len, hoff;
	uint8_t *k = mb_kernel(0x40, 0, 0, KBASE, &len, &hoff);
	struct mb_result r;
	char want[64];

	k[hoff + 8] ^= 1;
	r = mb_boot(m, k, len, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	snprintf(want, sizeof(want), "offset 0x%zx: multiboot header has a bad checksum", hoff);
	cr_assert(strstr(r.msg, want), "%s", r.msg);
	memmap_free(m);
	free(k);
}

Test(loader, multiboot_rejects_unsupported_required_flag_but_accepts_video)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *k = mb_kernel(0x40, 1u << 3, 0, KBASE, &len, NULL);
	struct mb_result r = mb_boot(m, k, len, NULL, NULL, 0);
	struct multiboot_info info;

	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "flags 0x8"), "%s", r.msg);
	free(k);
	/* Bit 2 (video): booted without video information, as GRUB 2 does
	 * without a display; unknown optional bits (17-31) are ignored. */
	k = mb_kernel(0x40, MULTIBOOT_VIDEO_MODE | (1u << 20), 0, KBASE, &len, NULL);
	r = mb_boot(m, k, len, NULL, NULL, 0);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	info = read_info(m, r.e.rbx);
	cr_assert_eq(info.flags & ((1u << 11) | (1u << 12)), 0);
	memmap_free(m);
	free(k);
}

Test(loader, multiboot_accepts_elf64_kernel_with_low_entry_only)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *k = mb_kernel(0x40, 0, 1, KBASE + 0x40, &len, NULL);
	struct mb_result r = mb_boot(m, k, len, NULL, NULL, 0);

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.e.rip, KBASE + 0x40);
	free(k);
	k = mb_kernel(0x40, 0, 1, 0x100000000ull, &len, NULL);
	r = mb_boot(m, k, len, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "above 4 GiB"), "%s", r.msg);
	memmap_free(m);
	free(k);
}

Test(loader, multiboot_rejects_kernel_in_boot_area_or_outside_ram)
{
	struct memmap *m = memmap_new(4 * MiB);
	uint8_t text[64] = { 0 };
	struct tseg s = { .paddr = 0x20000, .data = text, .filesz = 64, .memsz = 64 };
	size_t len;
	uint8_t *k;
	struct mb_result r;

	put_mb_header(text, 0);
	k = build_elf(0, EM_386, 0x20000, &s, 1, &len, NULL);
	r = mb_boot(m, k, len, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "overlaps the boot area"), "%s", r.msg);
	free(k);
	s.paddr = 0x400000;	/* RAM is 4 MiB */
	k = build_elf(0, EM_386, 0x400000, &s, 1, &len, NULL);
	r = mb_boot(m, k, len, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "not wholly in RAM"), "%s", r.msg);
	free(k);
	s.paddr = 0xF0000;	/* the BIOS area with the ACPI tables */
	k = build_elf(0, EM_386, 0xF0000, &s, 1, &len, NULL);
	r = mb_boot(m, k, len, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "overlaps reserved low memory"), "%s", r.msg);
	memmap_free(m);
	free(k);
}

/* An a.out-kludge image (3.1.3): not ELF; the header at file offset
 * `hoff` says it belongs at header_addr. */
static uint8_t *aout_image(size_t file_len, size_t hoff, uint32_t header_addr, uint32_t load_addr,
			   uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
	uint8_t *b = pattern(file_len);
	uint32_t f = MULTIBOOT_AOUT_KLUDGE | MULTIBOOT_MEMORY_INFO;
	uint32_t w[8] = { MULTIBOOT_HEADER_MAGIC, f, 0u - MULTIBOOT_HEADER_MAGIC - f, header_addr,
			  load_addr, load_end, bss_end, entry };

	memcpy(b + hoff, w, sizeof(w));
	return b;
}

Test(loader, multiboot_aout_kludge_loads_by_header_addresses)
{
	struct memmap *m = memmap_new(64 * MiB);
	/* Header at file offset 0x1000 and at address 0x200800: the load
	 * starts 0x800 bytes before it, at file offset 0x800. */
	uint8_t *b = aout_image(0x3000, 0x1000, 0x200800, 0x200000, 0x202000, 0x205000, 0x200840);
	uint8_t *ram = memmap_ram(m), *modbytes = pattern(10);
	char *mpath = write_file("mod", modbytes, 10);
	struct multiboot_module_arg mod = { .path = mpath, .cmdline = "mod" };
	struct mb_result r;
	struct multiboot_info info;
	struct multiboot_module mm;

	memset(ram + 0x1FF000, 0xAA, 0x8000);
	r = mb_boot(m, b, 0x3000, NULL, &mod, 1);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.e.rip, 0x200840);
	cr_assert_arr_eq(ram + 0x200000, b + 0x800, 0x2000);
	for (size_t i = 0x202000; i < 0x205000; i++)
		cr_assert_eq(ram[i], 0, "bss at 0x%zx", i);
	cr_assert_eq(ram[0x1FFFFF], 0xAA);
	/* The module goes on the first page after bss_end_addr. */
	info = read_info(m, r.e.rbx);
	cr_assert_eq(memmap_read_phys(m, info.mods_addr, &mm, sizeof(mm)), 0);
	cr_assert_eq(mm.mod_start, 0x205000);
	cr_assert_arr_eq(ram + 0x205000, modbytes, 10);
	memmap_free(m);
	free(b);
	free(modbytes);
	free(mpath);
}

Test(loader, multiboot_aout_kludge_zero_end_loads_rest_of_file)
{
	struct memmap *m = memmap_new(64 * MiB);
	uint8_t *b = aout_image(0x1800, 0x20, 0x100020, 0x100000, 0, 0, 0x100100);
	uint8_t *ram = memmap_ram(m);
	struct mb_result r;

	memset(ram + 0x100000, 0xAA, 0x4000);
	r = mb_boot(m, b, 0x1800, NULL, NULL, 0);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_arr_eq(ram + 0x100000, b, 0x1800);
	cr_assert_eq(ram[0x101800], 0xAA, "no bss when bss_end_addr is 0");
	memmap_free(m);
	free(b);
}

Test(loader, multiboot_aout_kludge_rejects_inconsistent_addresses)
{
	struct memmap *m = memmap_new(64 * MiB);
	struct mb_result r;
	uint8_t *b;

	/* load_end_addr asks for more than the file holds. */
	b = aout_image(0x1000, 0x20, 0x100020, 0x100000, 0x102000, 0, 0x100000);
	r = mb_boot(m, b, 0x1000, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "past the end of the file"), "%s", r.msg);
	free(b);
	/* header_addr - load_addr reaches before the start of the file. */
	b = aout_image(0x1000, 0x20, 0x100100, 0x100000, 0, 0, 0x100000);
	r = mb_boot(m, b, 0x1000, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	free(b);
	/* load_addr above header_addr. */
	b = aout_image(0x1000, 0x20, 0x100020, 0x100040, 0, 0, 0x100000);
	r = mb_boot(m, b, 0x1000, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	free(b);
	/* bss ending before the loaded data. */
	b = aout_image(0x1000, 0x20, 0x100020, 0x100000, 0x100800, 0x100400, 0x100000);
	r = mb_boot(m, b, 0x1000, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	free(b);
	/* The a.out fields themselves cut off by the end of the file. */
	b = aout_image(0x40, 0x20, 0x100020, 0x100000, 0, 0, 0x100000);
	r = mb_boot(m, b, 0x30, NULL, NULL, 0);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "extends past the end of the file"), "%s", r.msg);
	free(b);
	memmap_free(m);
}

static void check_mb_mmap(struct memmap *m, const struct multiboot_info *info, uint64_t ram)
{
	uint64_t low = ram < MEMMAP_LOW_RAM_LIMIT ? ram : MEMMAP_LOW_RAM_LIMIT;
	uint64_t high = ram - low, avail = 0, prev_end = 0;
	unsigned n = info->mmap_length / 24, found_low = 0, found_ext = 0, found_high = 0;
	unsigned found_ioapic = 0, found_lapic = 0;

	cr_assert_eq(info->mmap_length % 24, 0);
	cr_assert_eq(n, high ? 7 : 6);
	for (unsigned i = 0; i < n; i++) {
		struct multiboot_mmap_entry e;

		cr_assert_eq(memmap_read_phys(m, info->mmap_addr + i * 24, &e, sizeof(e)), 0);
		cr_assert_eq(e.size, 20);
		cr_assert_geq(e.addr, prev_end, "entries sorted and disjoint");
		cr_assert_gt(e.len, 0);
		prev_end = e.addr + e.len;
		if (e.type == MULTIBOOT_MEMORY_AVAILABLE) {
			/* Everything reported available is RAM. */
			cr_assert_not_null(memmap_ram_ptr(m, e.addr, e.len));
			avail += e.len;
		}
		if (e.addr == 0 && e.len == 0x9FC00 && e.type == 1)
			found_low = 1;
		if (e.addr == 0x100000 && e.len == low - 0x100000 && e.type == 1)
			found_ext = 1;
		if (e.addr == 1ull << 32 && e.len == high && e.type == 1)
			found_high = 1;
		if (e.addr == 0xFEC00000 && e.len == 0x1000 && e.type == 2)
			found_ioapic = 1;
		if (e.addr == 0xFEE00000 && e.len == 0x1000 && e.type == 2)
			found_lapic = 1;
	}
	cr_assert(found_low && found_ext && found_ioapic && found_lapic);
	cr_assert_eq(found_high, high != 0);
	/* All RAM but the 385 KiB from 0x9FC00 to 1 MiB is reported. */
	cr_assert_eq(avail, ram - (0x100000 - 0x9FC00));
}

Test(loader, multiboot_info_has_memory_cmdline_name_and_sorted_map)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *k = mb_kernel(0x40, MULTIBOOT_MEMORY_INFO, 0, KBASE, &len, NULL);
	struct mb_result r = mb_boot(m, k, len, "/boot/kernel console=ttyS0", NULL, 0);
	struct multiboot_info info;

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	info = read_info(m, r.e.rbx);
	cr_assert_eq(info.flags, MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_MODS |
					 MULTIBOOT_INFO_MEM_MAP | MULTIBOOT_INFO_BOOT_LOADER_NAME);
	cr_assert_eq(info.mem_lower, 639);
	cr_assert_eq(info.mem_upper, (64 * MiB - MiB) / 1024);
	cr_assert_str_eq(ram_str(m, info.cmdline), "/boot/kernel console=ttyS0");
	cr_assert_str_eq(ram_str(m, info.boot_loader_name), "hvsim");
	cr_assert_eq(info.mods_count, 0);
	check_mb_mmap(m, &info, 64 * MiB);
	memmap_free(m);
	free(k);
}

Test(loader, multiboot_map_reports_high_ram_above_4g)
{
	uint64_t ram = 3 * GiB + 64 * MiB;	/* 3 GiB below the hole, 64 MiB above 4 GiB */
	struct memmap *m = memmap_new(ram);
	size_t len;
	uint8_t *k = mb_kernel(0x40, 0, 0, KBASE, &len, NULL);
	struct mb_result r;
	struct multiboot_info info;

	cr_assert_not_null(m);
	r = mb_boot(m, k, len, NULL, NULL, 0);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	info = read_info(m, r.e.rbx);
	cr_assert_eq(info.mem_upper, (3 * GiB - MiB) / 1024, "mem_upper stops at the hole");
	cr_assert_str_eq(ram_str(m, info.cmdline) + strlen(tmpdir), "/kernel",
			 "no command line given: the kernel's path");
	check_mb_mmap(m, &info, ram);
	memmap_free(m);
	free(k);
}

Test(loader, multiboot_modules_are_page_aligned_after_kernel_with_strings)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *k = mb_kernel(0x40, MULTIBOOT_PAGE_ALIGN, 0, KBASE, &len, NULL);
	uint8_t *d1 = pattern(5000), *d2 = pattern(10);
	char *p1 = write_file("initrd", d1, 5000), *p2 = write_file("extra", d2, 10);
	struct multiboot_module_arg mods[] = {
		{ .path = p1, .cmdline = "initrd root=/dev/ram" },
		{ .path = p2, .cmdline = NULL },
	};
	struct mb_result r = mb_boot(m, k, len, NULL, mods, 2);
	struct multiboot_info info;
	struct multiboot_module mm[2];
	uint64_t khi = KBASE + 0x40 + 64 + 0x3000;	/* end of the kernel's bss */

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	info = read_info(m, r.e.rbx);
	cr_assert(info.flags & MULTIBOOT_INFO_MODS);
	cr_assert_eq(info.mods_count, 2);
	cr_assert_eq(memmap_read_phys(m, info.mods_addr, mm, sizeof(mm)), 0);
	cr_assert_eq(mm[0].mod_start % 4096, 0);
	cr_assert_geq(mm[0].mod_start, khi);
	cr_assert_lt(mm[0].mod_start, khi + 4096);
	cr_assert_eq(mm[0].mod_end - mm[0].mod_start, 5000);
	cr_assert_eq(mm[1].mod_start % 4096, 0);
	cr_assert_geq(mm[1].mod_start, mm[0].mod_end);
	cr_assert_eq(mm[1].mod_end - mm[1].mod_start, 10);
	cr_assert_arr_eq(memmap_ram(m) + mm[0].mod_start, d1, 5000);
	cr_assert_arr_eq(memmap_ram(m) + mm[1].mod_start, d2, 10);
	cr_assert_str_eq(ram_str(m, mm[0].string), "initrd root=/dev/ram");
	cr_assert_str_eq(ram_str(m, mm[1].string), p2, "no command line: the path");
	memmap_free(m);
	free(k);
	free(d1);
	free(d2);
	free(p1);
	free(p2);
}

Test(loader, multiboot_fails_cleanly_when_module_does_not_fit)
{
	struct memmap *m = memmap_new(2 * MiB);
	size_t len;
	uint8_t *k = mb_kernel(0x40, 0, 0, KBASE, &len, NULL);
	uint8_t *d = pattern(MiB);
	char *p = write_file("big", d, MiB);
	struct multiboot_module_arg mod = { .path = p, .cmdline = "big" };
	struct mb_result r = mb_boot(m, k, len, NULL, &mod, 1);

	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "big: the module at [0x104000, 0x204000) is not wholly in RAM"),
		  "%s", r.msg);
	memmap_free(m);
	free(k);
	free(d);
	free(p);
}

/* ================= bootinfo ================= */

#define FW_BASE 0x100000ull
#define FW_ENTRY (FW_BASE + 0x10)

static uint8_t *fw_image(int is64, size_t *len)
{
	static const uint8_t text[0x1000] = { 0xf4 }, data[0x100] = { 0x42 };
	struct tseg s[] = {
		{ .paddr = FW_BASE, .data = text, .filesz = sizeof(text), .memsz = sizeof(text) },
		{ .paddr = FW_BASE + 0x1000, .data = data, .filesz = sizeof(data), .memsz = 0x3000 },
	};

	return build_elf(is64, EM_X86_64, FW_ENTRY, s, 2, len, NULL);
}

struct bi_result {
	int rc;
	struct boot_entry e;
	struct hv_bootinfo bi;
	const char *msg;
};

static struct bi_result bi_boot_parts(struct memmap *m, const uint8_t *fw, size_t fwlen,
				      const struct bootinfo_module_arg *mods, unsigned nmods,
				      const struct bootinfo_partition_arg *parts, unsigned nparts,
				      const char *config, const char *cmdline)
{
	struct bi_result r;
	char *path = write_file("firmware", fw, fwlen);
	struct bootinfo_args a = {
		.firmware_path = path, .modules = mods, .nmodules = nmods, .partitions = parts,
		.npartitions = nparts, .lp_count = 4, .tsc_khz = 2400000, .acpi_rsdp = 0xF0000,
		.config_text = config, .config_length = config ? strlen(config) : 0,
		.cmdline = cmdline,
	};

	memset(&r, 0, sizeof(r));
	capture_begin();
	r.rc = bootinfo_boot(m, &a, &r.e);
	r.msg = capture_end();
	if (r.rc == 0)
		cr_assert_eq(memmap_read_phys(m, r.e.rdi, &r.bi, sizeof(r.bi)), 0);
	free(path);
	return r;
}

static struct bi_result bi_boot(struct memmap *m, const uint8_t *fw, size_t fwlen,
				const struct bootinfo_module_arg *mods, unsigned nmods,
				const char *config, const char *cmdline)
{
	return bi_boot_parts(m, fw, fwlen, mods, nmods, NULL, 0, config, cmdline);
}

/* A 4-level walk (SDM Vol. 3A 4.5) of the tables the handoff built;
 * returns the physical address or UINT64_MAX if not present.  Checks
 * that each level is P|RW and the leaf is a 2 MiB page without NX. */
static uint64_t walk(struct memmap *m, uint64_t cr3, uint64_t va)
{
	uint64_t e, table = cr3 & ~0xFFFull;
	unsigned shift[] = { 39, 30, 21 };

	for (unsigned lvl = 0; lvl < 3; lvl++) {
		cr_assert_eq(memmap_read_phys(m, table + ((va >> shift[lvl]) & 511) * 8, &e, 8), 0);
		if (!(e & 1))
			return UINT64_MAX;
		cr_assert_eq(e & 2, 2, "writable");
		cr_assert_eq(e >> 63, 0, "no NX");
		if (lvl == 2) {
			cr_assert_eq(e & 0x80, 0x80, "2 MiB page");
			return (e & 0x000FFFFFFFE00000ull) | (va & 0x1FFFFF);
		}
		cr_assert_eq(e & 0x80, 0, "no 1 GiB pages");
		table = e & 0x000FFFFFFFFFF000ull;
	}
	return UINT64_MAX;
}

static const struct hv_boot_mem *find_mem(const struct hv_bootinfo *bi, uint64_t pa)
{
	for (unsigned i = 0; i < bi->mem_count; i++)
		if (pa >= bi->mem[i].base && pa - bi->mem[i].base < bi->mem[i].length)
			return &bi->mem[i];
	return NULL;
}

Test(loader, bootinfo_fills_header_and_enters_long_mode)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *fw = fw_image(1, &len);
	const char *cfg = "machine:\n  lps: 4\n";
	struct bi_result r = bi_boot(m, fw, len, NULL, 0, cfg, "loglevel=3");
	uint64_t gdt[3];

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.e.mode, BOOT_MODE_LONG64);
	cr_assert_eq(r.e.rip, FW_ENTRY);
	cr_assert_eq(r.e.rsp % 16, 0);
	cr_assert_geq(r.e.rsp - 0x10000, BOOT_AREA_BASE, "64 KiB stack inside the boot area");
	cr_assert_leq(r.e.rsp, BOOT_AREA_END);
	cr_assert_eq(r.bi.magic, HV_BOOTINFO_MAGIC);
	cr_assert_eq(r.bi.magic, 0x4f4f424d49535648ull);
	cr_assert_eq(r.bi.version, HV_BOOTINFO_VERSION);
	cr_assert_eq(r.bi.size, sizeof(struct hv_bootinfo));
	cr_assert_eq(r.bi.lp_count, 4);
	cr_assert_eq(r.bi.bsp_apic_id, 0);
	cr_assert_eq(r.bi.ram_size, 64 * MiB);
	cr_assert_eq(r.bi.tsc_khz, 2400000);
	cr_assert_eq(r.bi.acpi_rsdp, 0xF0000);
	cr_assert_eq(r.bi.module_count, 0);
	/* The configuration text, copied and NUL-terminated. */
	cr_assert_eq(r.bi.config_length, strlen(cfg));
	cr_assert_str_eq(ram_str(m, r.bi.config), cfg);
	cr_assert_str_eq(ram_str(m, r.bi.cmdline), "loglevel=3");
	/* GDT: 64-bit code at 0x08, flat data at 0x10. */
	cr_assert_eq(r.e.gdt_limit, 23);
	cr_assert_eq(memmap_read_phys(m, r.e.gdt_base, gdt, sizeof(gdt)), 0);
	cr_assert_eq(gdt[0], 0);
	cr_assert_eq(gdt[1], 0x00AF9A000000FFFFull);
	cr_assert_eq(gdt[2], 0x00CF92000000FFFFull);
	/* Everything the handoff built lies in the boot area. */
	cr_assert(r.e.rdi >= BOOT_AREA_BASE && r.e.rdi + sizeof(r.bi) <= BOOT_AREA_END);
	cr_assert(r.e.cr3 >= BOOT_AREA_BASE && r.e.cr3 < BOOT_AREA_END && r.e.cr3 % 4096 == 0);
	/* The firmware is loaded and its bss zeroed. */
	cr_assert_eq(memmap_ram(m)[FW_BASE], 0xf4);
	cr_assert_eq(memmap_ram(m)[FW_BASE + 0x1000], 0x42);
	cr_assert_eq(memmap_ram(m)[FW_BASE + 0x3FFF], 0);
	memmap_free(m);
	free(fw);
}

Test(loader, bootinfo_without_config_or_cmdline_gives_empty_text_and_null)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *fw = fw_image(1, &len);
	struct bi_result r = bi_boot(m, fw, len, NULL, 0, NULL, NULL);

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_neq(r.bi.config, 0);
	cr_assert_eq(r.bi.config_length, 0);
	cr_assert_str_eq(ram_str(m, r.bi.config), "");
	cr_assert_eq(r.bi.cmdline, 0);
	memmap_free(m);
	free(fw);
}

Test(loader, bootinfo_modules_are_raw_bytes_with_elf_entry_and_names)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len, mlen;
	uint8_t *fw = fw_image(1, &len);
	static const uint8_t code[16] = { 0xcc };
	struct tseg s = { .paddr = 0x400000, .data = code, .filesz = 16, .memsz = 16 };
	uint8_t *melf = build_elf(1, EM_X86_64, 0x400008, &s, 1, &mlen, NULL);
	uint8_t *raw = pattern(3000);
	char *p1 = write_file("root.elf", melf, mlen), *p2 = write_file("data.bin", raw, 3000);
	struct bootinfo_module_arg mods[] = {
		{ .path = p1, .name = "root" },
		{ .path = p2, .name = NULL },
	};
	struct bi_result r = bi_boot(m, fw, len, mods, 2, "", NULL);
	const struct hv_boot_module *bm = r.bi.modules;

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.bi.module_count, 2);
	cr_assert_eq(bm[0].base, FW_BASE + 0x4000, "first page after the firmware's bss");
	cr_assert_eq(bm[0].length, mlen);
	cr_assert_eq(bm[0].entry, 0x400008);
	cr_assert_str_eq(bm[0].name, "root");
	cr_assert_arr_eq(memmap_ram(m) + bm[0].base, melf, mlen, "loaded as the file's bytes");
	cr_assert_eq(memmap_ram(m)[0x400000], 0, "not loaded at its own paddr");
	cr_assert_eq(bm[1].base % 4096, 0);
	cr_assert_geq(bm[1].base, bm[0].base + bm[0].length);
	cr_assert_eq(bm[1].length, 3000);
	cr_assert_eq(bm[1].entry, 0, "raw data has no entry");
	cr_assert_str_eq(bm[1].name, "data.bin", "default name: the file name");
	cr_assert_arr_eq(memmap_ram(m) + bm[1].base, raw, 3000);
	memmap_free(m);
	free(fw);
	free(melf);
	free(raw);
	free(p1);
	free(p2);
}

Test(loader, bootinfo_memory_map_types_firmware_modules_boot_area)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *fw = fw_image(1, &len);
	uint8_t *raw = pattern(3000);
	char *p = write_file("blob", raw, 3000);
	struct bootinfo_module_arg mod = { .path = p, .name = "blob" };
	struct bi_result r = bi_boot(m, fw, len, &mod, 1, NULL, NULL);
	const struct hv_boot_mem *e;
	uint64_t prev_end = 0, avail = 0, total = 0;

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_leq(r.bi.mem_count, HV_BOOT_MAX_MEM);
	for (unsigned i = 0; i < r.bi.mem_count; i++) {
		cr_assert_geq(r.bi.mem[i].base, prev_end, "sorted, disjoint");
		prev_end = r.bi.mem[i].base + r.bi.mem[i].length;
		if (r.bi.mem[i].type != HV_MEM_RESERVED && r.bi.mem[i].type != HV_MEM_ACPI)
			total += r.bi.mem[i].length;
		if (r.bi.mem[i].type == HV_MEM_AVAILABLE)
			avail += r.bi.mem[i].length;
	}
	e = find_mem(&r.bi, FW_BASE);
	cr_assert_not_null(e);
	cr_assert_eq(e->type, HV_MEM_FIRMWARE);
	cr_assert_eq(e->base, FW_BASE);
	cr_assert_eq(e->length, 0x4000, "both segments, bss included, in one entry");
	e = find_mem(&r.bi, r.bi.modules[0].base);
	cr_assert_not_null(e);
	cr_assert_eq(e->type, HV_MEM_MODULE);
	cr_assert_eq(e->base, FW_BASE + 0x4000);
	cr_assert_eq(e->length, 0x1000);
	e = find_mem(&r.bi, r.e.rdi);
	cr_assert_not_null(e);
	cr_assert_eq(e->type, HV_MEM_BOOT);
	cr_assert_eq(e->base, BOOT_AREA_BASE);
	cr_assert_eq(e->length, BOOT_AREA_END - BOOT_AREA_BASE);
	cr_assert_eq(find_mem(&r.bi, r.e.cr3)->type, HV_MEM_BOOT);
	cr_assert_eq(find_mem(&r.bi, r.e.rsp - 8)->type, HV_MEM_BOOT);
	cr_assert_eq(find_mem(&r.bi, 0xF0000)->type, HV_MEM_ACPI);
	cr_assert_eq(find_mem(&r.bi, 0x9FC00)->type, HV_MEM_RESERVED);
	cr_assert_eq(find_mem(&r.bi, 0xFEE00000)->type, HV_MEM_RESERVED);
	cr_assert_eq(find_mem(&r.bi, 0xFEC00000)->type, HV_MEM_RESERVED);
	cr_assert_eq(find_mem(&r.bi, 0x1000)->type, HV_MEM_AVAILABLE);
	cr_assert_eq(find_mem(&r.bi, 64 * MiB - 1)->type, HV_MEM_AVAILABLE);
	cr_assert_null(find_mem(&r.bi, 64 * MiB));
	cr_assert_null(find_mem(&r.bi, 0xB8000), "legacy video window not reported");
	/* Every byte of RAM outside 0x9FC00-1 MiB is in exactly one entry. */
	cr_assert_eq(total, 64 * MiB - (0x100000 - 0x9FC00));
	cr_assert_eq(avail, total - 0x4000 - 0x1000 - (BOOT_AREA_END - BOOT_AREA_BASE));
	memmap_free(m);
	free(fw);
	free(raw);
	free(p);
}

Test(loader, bootinfo_page_tables_identity_map_4g_and_high_ram)
{
	uint64_t ram = 4 * GiB + 16 * MiB;	/* 3 GiB low, 1 GiB + 16 MiB from 4 GiB */
	struct memmap *m = memmap_new(ram);
	size_t len;
	uint8_t *fw;
	struct bi_result r;
	uint64_t top = (1ull << 32) + (ram - 3 * GiB);
	const uint64_t probes[] = { 0, FW_ENTRY, 0x9F000, 0xBFFFFFFF, 0xC0000000, 0xFEC00000,
				    0xFEE00000, 0xFEE000F0, 0xFFFFFFFF, 1ull << 32, top - 1 };

	cr_assert_not_null(m);
	fw = fw_image(1, &len);
	r = bi_boot(m, fw, len, NULL, 0, NULL, NULL);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		cr_assert_eq(walk(m, r.e.cr3, probes[i]), probes[i], "identity at 0x%llx",
			     (unsigned long long)probes[i]);
	/* Whole GiBs are mapped; nothing beyond the GiB holding the top. */
	cr_assert_eq(walk(m, r.e.cr3, 6 * GiB - 1), 6 * GiB - 1);
	cr_assert_eq(walk(m, r.e.cr3, 6 * GiB), UINT64_MAX);
	cr_assert_eq(walk(m, r.e.cr3, 1ull << 39), UINT64_MAX);
	/* High RAM is in the map too. */
	cr_assert_eq(find_mem(&r.bi, top - 1)->type, HV_MEM_AVAILABLE);
	cr_assert_eq(r.bi.ram_size, ram);
	memmap_free(m);
	free(fw);
}

Test(loader, bootinfo_page_tables_without_high_ram_stop_at_4g)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *fw = fw_image(1, &len);
	struct bi_result r = bi_boot(m, fw, len, NULL, 0, NULL, NULL);

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(walk(m, r.e.cr3, 0xFEE00000), 0xFEE00000);
	cr_assert_eq(walk(m, r.e.cr3, 64 * MiB - 1), 64 * MiB - 1);
	cr_assert_eq(walk(m, r.e.cr3, 1ull << 32), UINT64_MAX);
	memmap_free(m);
	free(fw);
}

Test(loader, bootinfo_rejects_elf32_firmware)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *fw = fw_image(0, &len);
	struct bi_result r = bi_boot(m, fw, len, NULL, 0, NULL, NULL);

	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "offset 0x4: the firmware must be an ELF64 image"), "%s", r.msg);
	memmap_free(m);
	free(fw);
}

Test(loader, bootinfo_rejects_firmware_in_boot_area)
{
	struct memmap *m = memmap_new(64 * MiB);
	static const uint8_t text[16];
	struct tseg s = { .paddr = 0x9E000, .data = text, .filesz = 16, .memsz = 0x2000 };
	size_t len;
	uint8_t *fw = build_elf(1, EM_X86_64, 0x9E000, &s, 1, &len, NULL);
	struct bi_result r = bi_boot(m, fw, len, NULL, 0, NULL, NULL);

	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "segment 0 at [0x9e000, 0xa0000) overlaps the boot area"), "%s",
		  r.msg);
	memmap_free(m);
	free(fw);
}

Test(loader, bootinfo_rejects_too_many_modules_long_names_and_bad_elf_modules)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *fw = fw_image(1, &len);
	uint8_t junk[64];
	char *p;
	struct bootinfo_module_arg mods[HV_BOOT_MAX_MODULES + 1];
	struct bi_result r;

	memset(junk, 0, sizeof(junk));
	memcpy(junk, ELFMAG, SELFMAG);	/* ELF magic, nothing valid after it */
	p = write_file("junk", junk, sizeof(junk));
	for (unsigned i = 0; i <= HV_BOOT_MAX_MODULES; i++)
		mods[i] = (struct bootinfo_module_arg){ .path = p, .name = "m" };
	r = bi_boot(m, fw, len, mods, HV_BOOT_MAX_MODULES + 1, NULL, NULL);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "at most 16"), "%s", r.msg);
	mods[0].name = "0123456789012345678901234567890123456789";	/* 40 characters */
	r = bi_boot(m, fw, len, mods, 1, NULL, NULL);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "longer than 39"), "%s", r.msg);
	mods[0].name = "junk";
	r = bi_boot(m, fw, len, mods, 1, NULL, NULL);
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert(strstr(r.msg, "junk: offset"), "%s", r.msg);
	memmap_free(m);
	free(fw);
	free(p);
}

Test(loader, bootinfo_fails_clearly_when_boot_area_is_full)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len, big = BOOT_AREA_END - BOOT_AREA_BASE;
	uint8_t *fw = fw_image(1, &len);
	char *cfg = malloc(big + 1);
	struct bi_result r;

	memset(cfg, '#', big);
	cfg[big] = '\0';
	r = bi_boot(m, fw, len, NULL, 0, cfg, NULL);
	cr_assert_eq(r.rc, -ENOSPC);
	cr_assert(strstr(r.msg, "boot area") && strstr(r.msg, "the configuration text"), "%s",
		  r.msg);
	memmap_free(m);
	free(fw);
	free(cfg);
}

/* ---- the child partition table (hv_boot_partition) ---- */

/* A small ELF64 or ELF32 kernel whose entry tells it apart. */
static char *kernel_file(const char *name, int is64, uint64_t entry)
{
	static const uint8_t code[32] = { 0xf4 };
	struct tseg s = { .paddr = 0x200000, .data = code, .filesz = sizeof(code), .memsz = 0x1000 };
	size_t len;
	uint8_t *b = build_elf(is64, EM_X86_64, entry, &s, 1, &len, NULL);
	char *p = write_file(name, b, len);

	free(b);
	return p;
}

static int zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

Test(loader, bootinfo_partition_table_points_at_the_kernel_modules)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *fw = fw_image(1, &len);
	uint8_t *raw = pattern(100);
	char *root = kernel_file("root.elf", 1, 0x200010), *enl = kernel_file("enl.elf", 1, 0x200020),
	     *unl = kernel_file("unl.elf", 1, 0x200030), *blob = write_file("blob", raw, 100);
	struct bootinfo_module_arg mods[] = {
		{ .path = blob, .name = "data" },
		{ .path = root, .name = "root" },
		{ .path = enl, .name = "child:w" },
		{ .path = unl, .name = "child:legacy" },
	};
	struct bootinfo_partition_arg parts[] = {
		{ .name = "w-1", .module = 2, .enlightened = 1, .memory = 16 * MiB, .vps = 1 },
		{ .name = "w-2", .module = 2, .enlightened = 1, .synic_test_device = 1, .memory = 16 * MiB, .vps = 1 },
		{ .name = "legacy", .module = 3, .enlightened = 0, .memory = 1 * GiB, .vps = 8,
		  .iterations = 1000000 },
		{ .name = "abcdefghijklmnopqrstuvwxyz01234", .module = 2, .enlightened = 0,
		  .memory = 4 * MiB, .vps = 2, .iterations = 7 },
	};
	struct bi_result r = bi_boot_parts(m, fw, len, mods, 4, parts, 4, "", NULL);
	const struct hv_boot_partition *bp = r.bi.partitions;

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.bi.version, 3);
	cr_assert_eq(r.bi.module_count, 4);
	cr_assert_eq(r.bi.partition_count, 4);
	cr_assert_str_eq(bp[0].name, "w-1");
	cr_assert_eq(bp[0].module, 2);
	cr_assert_str_eq(r.bi.modules[bp[0].module].name, "child:w");
	cr_assert_eq(r.bi.modules[bp[0].module].entry, 0x200020, "the enlightened kernel");
	cr_assert_eq(bp[0].flags, HV_BOOT_PART_ENLIGHTENED);
	cr_assert_eq(bp[0].memory, 16 * MiB);
	cr_assert_eq(bp[0].vps, 1);
	cr_assert_eq(bp[0].iterations, 0);
	cr_assert_str_eq(bp[1].name, "w-2");
	cr_assert_eq(bp[1].module, 2, "children of one count share the module");
	cr_assert_eq(bp[1].flags, HV_BOOT_PART_ENLIGHTENED | HV_BOOT_PART_SYNIC_TEST_DEVICE);
	cr_assert_str_eq(bp[2].name, "legacy");
	cr_assert_eq(bp[2].module, 3);
	cr_assert_str_eq(r.bi.modules[bp[2].module].name, "child:legacy");
	cr_assert_eq(r.bi.modules[bp[2].module].entry, 0x200030);
	cr_assert_eq(bp[2].flags, 0);
	cr_assert_eq(bp[2].memory, 1 * GiB);
	cr_assert_eq(bp[2].vps, 8);
	cr_assert_eq(bp[2].iterations, 1000000);
	cr_assert_str_eq(bp[3].name, "abcdefghijklmnopqrstuvwxyz01234");
	cr_assert_eq(bp[3].name[31], '\0', "NUL-terminated in 32 bytes");
	cr_assert_eq(bp[3].flags, 0);
	cr_assert_eq(bp[3].memory, 4 * MiB);
	cr_assert_eq(bp[3].vps, 2);
	cr_assert_eq(bp[3].iterations, 7);
	cr_assert(zeroed(&bp[4], 4 * sizeof(bp[0])), "unused entries are zero");
	cr_assert_eq(r.bi.reserved, 0);
	/* The modules themselves are where the table says. */
	cr_assert_eq(r.bi.modules[1].entry, 0x200010);
	cr_assert_eq(r.bi.modules[0].entry, 0);
	memmap_free(m);
	free(fw);
	free(raw);
	free(root);
	free(enl);
	free(unl);
	free(blob);
}

Test(loader, bootinfo_without_partitions_has_an_empty_table)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *fw = fw_image(1, &len);
	struct bi_result r = bi_boot(m, fw, len, NULL, 0, NULL, NULL);

	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_eq(r.bi.partition_count, 0);
	cr_assert(zeroed(r.bi.partitions, sizeof(r.bi.partitions)));
	memmap_free(m);
	free(fw);
}

/* Expects bootinfo_boot to fail with -EINVAL and exactly `want`. */
static void bi_parts_fail(const struct bootinfo_module_arg *mods, unsigned nmods,
			  const struct bootinfo_partition_arg *parts, unsigned nparts, const char *want)
{
	struct memmap *m = memmap_new(64 * MiB);
	size_t len;
	uint8_t *fw = fw_image(1, &len);
	struct bi_result r = bi_boot_parts(m, fw, len, mods, nmods, parts, nparts, NULL, NULL);

	cr_assert_eq(r.rc, -EINVAL, "accepted; wanted %s", want);
	cr_assert_str_eq(r.msg, want);
	memmap_free(m);
	free(fw);
}

Test(loader, bootinfo_rejects_bad_partition_tables)
{
	char *k = kernel_file("k.elf", 1, 0x200000);
	struct bootinfo_module_arg mods[] = { { .path = k, .name = "child:a" } };
	struct bootinfo_partition_arg ok = { .name = "a", .module = 0, .memory = 2 * MiB, .vps = 1 };
	struct bootinfo_partition_arg p[HV_BOOT_MAX_PARTITIONS + 1];
	char names[HV_BOOT_MAX_PARTITIONS + 1][8];

	for (unsigned i = 0; i <= HV_BOOT_MAX_PARTITIONS; i++) {
		snprintf(names[i], sizeof(names[i]), "p%u", i);
		p[i] = ok;
		p[i].name = names[i];
	}
	bi_parts_fail(mods, 1, p, HV_BOOT_MAX_PARTITIONS + 1,
		      "hvsim: 9 partitions given; the boot information holds at most 8\n");
	p[0] = ok;
	p[0].name = "";
	bi_parts_fail(mods, 1, p, 1, "hvsim: partition 0: name '' must be 1..31 characters\n");
	p[0].name = "abcdefghijklmnopqrstuvwxyz012345";
	bi_parts_fail(mods, 1, p, 1,
		      "hvsim: partition 0: name 'abcdefghijklmnopqrstuvwxyz012345' must be 1..31 characters\n");
	p[0] = ok;
	p[1] = ok;
	bi_parts_fail(mods, 1, p, 2, "hvsim: partitions 0 and 1 are both named 'a'\n");
	p[0].module = 1;
	bi_parts_fail(mods, 1, p, 1, "hvsim: partition 'a': kernel module 1 does not exist (1 modules)\n");
	p[0] = ok;
	p[0].memory = 3 * MiB;
	bi_parts_fail(mods, 1, p, 1,
		      "hvsim: partition 'a': memory 3145728 is not a non-zero multiple of 2 MiB\n");
	p[0].memory = 0;
	bi_parts_fail(mods, 1, p, 1, "hvsim: partition 'a': memory 0 is not a non-zero multiple of 2 MiB\n");
	p[0] = ok;
	p[0].vps = 0;
	bi_parts_fail(mods, 1, p, 1, "hvsim: partition 'a': no virtual processors\n");
	free(k);
}

Test(loader, bootinfo_partition_kernels_must_be_elf64_or_multiboot)
{
	uint8_t *raw = pattern(100), *mb = pattern(100);
	/* A raw image whose only structure is a multiboot header at 8. */
	const uint32_t hdr[3] = { 0x1BADB002u, 0x00010000u, (uint32_t)-(0x1BADB002u + 0x00010000u) };
	char *k32 = kernel_file("k32.elf", 0, 0x200000), *blob = write_file("blob", raw, 100), *mbk;
	struct bootinfo_module_arg mods[] = {
		{ .path = k32, .name = "child:old" },
		{ .path = blob, .name = "child:raw" },
		{ .path = NULL, .name = "child:mb" },
	};
	struct bootinfo_partition_arg p = { .name = "old", .module = 0, .memory = 2 * MiB, .vps = 1 };
	char want[256];

	memcpy(mb + 8, hdr, sizeof(hdr));
	mbk = write_file("mb.bin", mb, 100);
	mods[2].path = mbk;
	snprintf(want, sizeof(want),
		 "%s: offset 0x4: the kernel of partition 'old' must be an ELF64 image or carry a multiboot header\n",
		 k32);
	bi_parts_fail(mods, 3, &p, 1, want);
	p.name = "raw";
	p.module = 1;
	snprintf(want, sizeof(want),
		 "%s: offset 0x0: the kernel of partition 'raw' is neither an ELF image nor a multiboot kernel\n",
		 blob);
	bi_parts_fail(mods, 3, &p, 1, want);
	/* The same modules without partitions naming them load fine; a
	 * multiboot kernel is a partition's kernel, with its command line
	 * and the console. */
	{
		struct memmap *m = memmap_new(64 * MiB);
		size_t len;
		uint8_t *fw = fw_image(1, &len);
		struct bi_result r = bi_boot(m, fw, len, mods, 3, NULL, NULL);
		struct bootinfo_partition_arg mp = { .name = "mb", .module = 2, .memory = 4 * MiB, .vps = 2,
						     .console = 1, .cmdline = "mb.bin -v" };

		cr_assert_eq(r.rc, 0, "%s", r.msg);
		memmap_free(m);
		m = memmap_new(64 * MiB);
		r = bi_boot_parts(m, fw, len, mods, 3, &mp, 1, "", NULL);
		cr_assert_eq(r.rc, 0, "%s", r.msg);
		cr_assert_eq(r.bi.partitions[0].flags, HV_BOOT_PART_CONSOLE);
		cr_assert_str_eq(r.bi.partitions[0].cmdline, "mb.bin -v");
		memmap_free(m);
		free(fw);
	}
	free(raw);
	free(mb);
	free(k32);
	free(blob);
	free(mbk);
}
