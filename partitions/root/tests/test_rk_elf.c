/* The root kernel's ELF checks (partitions/root/elf.c) built for the host
 * and run on crafted images: one valid image and, for every rule elf.h
 * lists, an image that breaks it and nothing else. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "../elf.h"

#define LO 0x8000000000ull
#define HI 0x8040000000ull
#define IMG_LEN 0x4000u
#define PT_LOAD 1
#define PT_INTERP 3
#define PT_GNU_STACK 0x6474e551u

static uint8_t img[IMG_LEN + 1];

static void wr(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void phdr(unsigned i, uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr, uint64_t filesz,
		 uint64_t memsz)
{
	uint8_t *p = img + 64 + i * 56;

	wr(p + 0, type, 4);
	wr(p + 4, flags, 4);
	wr(p + 8, off, 8);
	wr(p + 16, vaddr, 8);
	wr(p + 24, vaddr, 8);	/* p_paddr */
	wr(p + 32, filesz, 8);
	wr(p + 40, memsz, 8);
	wr(p + 48, 0x1000, 8);	/* p_align */
}

/* Code (R X) at LO, read-only data at LO + 0x1000, data and bss (R W) at
 * LO + 0x2000, and a PT_GNU_STACK to be ignored. */
static void make_valid(void)
{
	memset(img, 0, sizeof(img));
	img[0] = 0x7f;
	img[1] = 'E';
	img[2] = 'L';
	img[3] = 'F';
	img[4] = 2;	/* ELFCLASS64 */
	img[5] = 1;	/* ELFDATA2LSB */
	img[6] = 1;	/* EV_CURRENT */
	wr(img + 16, 2, 2);	/* ET_EXEC */
	wr(img + 18, 62, 2);	/* EM_X86_64 */
	wr(img + 20, 1, 4);
	wr(img + 24, LO + 0x10, 8);
	wr(img + 32, 64, 8);
	wr(img + 52, 64, 2);
	wr(img + 54, 56, 2);
	wr(img + 56, 4, 2);
	phdr(0, PT_LOAD, RK_ELF_PF_R | RK_ELF_PF_X, 0x1000, LO, 0x100, 0x100);
	phdr(1, PT_LOAD, RK_ELF_PF_R, 0x2000, LO + 0x1000, 0x80, 0x80);
	phdr(2, PT_LOAD, RK_ELF_PF_R | RK_ELF_PF_W, 0x3000, LO + 0x2000, 0x10, 0x2000);
	phdr(3, PT_GNU_STACK, RK_ELF_PF_R | RK_ELF_PF_W, 0, 0, 0, 0);
}

static int parse(void)
{
	struct rk_elf_image e;

	return rk_elf_parse(img, IMG_LEN, LO, HI, &e);
}

Test(rk_elf, valid_image_is_accepted_with_its_segments)
{
	struct rk_elf_image e;

	make_valid();
	cr_assert_eq(rk_elf_parse(img, IMG_LEN, LO, HI, &e), RK_ELF_OK);
	cr_assert_eq(e.entry, LO + 0x10);
	cr_assert_eq(e.nseg, 3);
	cr_assert_eq(e.seg[0].vaddr, LO);
	cr_assert_eq(e.seg[0].flags, RK_ELF_PF_R | RK_ELF_PF_X);
	cr_assert_eq(e.seg[1].offset, 0x2000);
	cr_assert_eq(e.seg[2].filesz, 0x10);
	cr_assert_eq(e.seg[2].memsz, 0x2000);
}

Test(rk_elf, image_needs_no_alignment)
{
	static uint8_t shifted[IMG_LEN + 1];
	struct rk_elf_image e;

	make_valid();
	memcpy(shifted + 1, img, IMG_LEN);
	cr_assert_eq(rk_elf_parse(shifted + 1, IMG_LEN, LO, HI, &e), RK_ELF_OK);
	cr_assert_eq(e.seg[2].vaddr, LO + 0x2000);
}

Test(rk_elf, short_image_is_refused)
{
	struct rk_elf_image e;

	make_valid();
	cr_assert_eq(rk_elf_parse(img, 63, LO, HI, &e), RK_ELF_E_SHORT);
	cr_assert_eq(rk_elf_parse(img, 0, LO, HI, &e), RK_ELF_E_SHORT);
}

Test(rk_elf, identification_is_checked)
{
	make_valid();
	img[1] = 'X';
	cr_assert_eq(parse(), RK_ELF_E_MAGIC);
	make_valid();
	img[4] = 1;	/* ELFCLASS32 */
	cr_assert_eq(parse(), RK_ELF_E_CLASS);
	make_valid();
	img[5] = 2;	/* big-endian */
	cr_assert_eq(parse(), RK_ELF_E_CLASS);
	make_valid();
	wr(img + 20, 2, 4);	/* e_version */
	cr_assert_eq(parse(), RK_ELF_E_CLASS);
	make_valid();
	wr(img + 16, 3, 2);	/* ET_DYN */
	cr_assert_eq(parse(), RK_ELF_E_TYPE);
	make_valid();
	wr(img + 18, 3, 2);	/* EM_386 */
	cr_assert_eq(parse(), RK_ELF_E_MACHINE);
}

Test(rk_elf, program_header_table_must_fit)
{
	make_valid();
	wr(img + 54, 32, 2);	/* e_phentsize */
	cr_assert_eq(parse(), RK_ELF_E_PHDR);
	make_valid();
	wr(img + 56, 0, 2);	/* e_phnum */
	cr_assert_eq(parse(), RK_ELF_E_PHDR);
	make_valid();
	wr(img + 32, IMG_LEN - 100, 8);	/* table runs past the end */
	cr_assert_eq(parse(), RK_ELF_E_PHDR);
	make_valid();
	wr(img + 32, 0xffffffffffffffc0ull, 8);	/* offset + size wraps */
	cr_assert_eq(parse(), RK_ELF_E_PHDR);
}

Test(rk_elf, dynamic_images_are_refused)
{
	make_valid();
	phdr(3, PT_INTERP, RK_ELF_PF_R, 0x2000, LO + 0x1000, 0x10, 0x10);
	cr_assert_eq(parse(), RK_ELF_E_DYNAMIC);
}

Test(rk_elf, segment_bytes_must_lie_in_the_file)
{
	make_valid();
	phdr(1, PT_LOAD, RK_ELF_PF_R, 0x2000, LO + 0x1000, 0x81, 0x80);	/* filesz > memsz */
	cr_assert_eq(parse(), RK_ELF_E_SEG_FILE);
	make_valid();
	phdr(1, PT_LOAD, RK_ELF_PF_R, IMG_LEN - 0x40, LO + 0x1000, 0x80, 0x80);
	cr_assert_eq(parse(), RK_ELF_E_SEG_FILE);
	make_valid();
	phdr(1, PT_LOAD, RK_ELF_PF_R, 0xffffffffffffff00ull, LO + 0x1000, 0x200, 0x200);
	cr_assert_eq(parse(), RK_ELF_E_SEG_FILE);
}

Test(rk_elf, segments_must_lie_in_the_allowed_range)
{
	make_valid();
	phdr(1, PT_LOAD, RK_ELF_PF_R, 0x2000, LO - 0x1000, 0x80, 0x80);
	cr_assert_eq(parse(), RK_ELF_E_SEG_RANGE);
	make_valid();
	phdr(1, PT_LOAD, RK_ELF_PF_R, 0x2000, HI - 0x40, 0x80, 0x80);
	cr_assert_eq(parse(), RK_ELF_E_SEG_RANGE);
	make_valid();
	phdr(2, PT_LOAD, RK_ELF_PF_R | RK_ELF_PF_W, 0x3000, LO + 0x2000, 0x10, 0xfffffffffffff000ull);
	cr_assert_eq(parse(), RK_ELF_E_SEG_RANGE);
	/* a segment ending exactly at the limit is fine */
	make_valid();
	phdr(1, PT_LOAD, RK_ELF_PF_R, 0x2000, HI - 0x80, 0x80, 0x80);
	cr_assert_eq(parse(), RK_ELF_OK);
}

Test(rk_elf, writable_code_is_refused)
{
	make_valid();
	phdr(0, PT_LOAD, RK_ELF_PF_R | RK_ELF_PF_W | RK_ELF_PF_X, 0x1000, LO, 0x100, 0x100);
	cr_assert_eq(parse(), RK_ELF_E_SEG_WX);
}

Test(rk_elf, segments_may_not_share_a_page)
{
	make_valid();
	phdr(1, PT_LOAD, RK_ELF_PF_R, 0x2000, LO + 0x800, 0x80, 0x80);
	cr_assert_eq(parse(), RK_ELF_E_SEG_OVERLAP);
	make_valid();
	/* bss running into the next segment's page */
	phdr(1, PT_LOAD, RK_ELF_PF_R, 0x2000, LO + 0x1000, 0x80, 0x1001);
	cr_assert_eq(parse(), RK_ELF_E_SEG_OVERLAP);
}

Test(rk_elf, at_most_max_segments)
{
	make_valid();
	wr(img + 56, RK_ELF_MAX_SEGS + 1, 2);
	for (unsigned i = 0; i < RK_ELF_MAX_SEGS + 1; i++)
		phdr(i, PT_LOAD, RK_ELF_PF_R | RK_ELF_PF_X, 0x1000, LO + i * 0x1000, 0x100, 0x100);
	cr_assert_eq(parse(), RK_ELF_E_TOO_MANY);
	wr(img + 56, RK_ELF_MAX_SEGS, 2);
	cr_assert_eq(parse(), RK_ELF_OK);
}

Test(rk_elf, entry_must_be_in_an_executable_segment)
{
	make_valid();
	wr(img + 24, LO + 0x1000, 8);	/* read-only data */
	cr_assert_eq(parse(), RK_ELF_E_ENTRY);
	make_valid();
	wr(img + 24, LO + 0x100, 8);	/* one past the code */
	cr_assert_eq(parse(), RK_ELF_E_ENTRY);
	make_valid();
	wr(img + 24, LO + 0xff, 8);	/* the last code byte */
	cr_assert_eq(parse(), RK_ELF_OK);
}

Test(rk_elf, an_image_needs_a_loadable_segment)
{
	make_valid();
	wr(img + 56, 1, 2);
	phdr(0, PT_GNU_STACK, RK_ELF_PF_R | RK_ELF_PF_W, 0, 0, 0, 0);
	cr_assert_eq(parse(), RK_ELF_E_EMPTY);
	phdr(0, PT_LOAD, RK_ELF_PF_R | RK_ELF_PF_X, 0x1000, LO, 0, 0);	/* memsz 0: nothing */
	cr_assert_eq(parse(), RK_ELF_E_EMPTY);
}

Test(rk_elf, every_error_has_its_own_message)
{
	for (int a = RK_ELF_E_EMPTY; a <= RK_ELF_OK; a++) {
		cr_assert_str_neq(rk_elf_strerror(a), "unknown error", "code %d", a);
		for (int b = a + 1; b <= RK_ELF_OK; b++)
			cr_assert_str_neq(rk_elf_strerror(a), rk_elf_strerror(b), "codes %d and %d", a, b);
	}
	cr_assert_str_eq(rk_elf_strerror(1), "unknown error");
}
