/* hv_model/insn.c on the host: the MOV, MOVZX and MOVSX forms a guest
 * uses for MMIO, decoded from the bytes compilers and assemblers emit
 * (lengths, register, sizes, direction, immediate, effective address),
 * the register values a load or store makes, the code size, the forms
 * refused, and the guest page walk in every paging mode on a crafted
 * memory. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../hv_model/insn.h"

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

static struct hv_insn dec(unsigned bits, const uint8_t *b, unsigned n)
{
	struct hv_insn d;

	cr_assert_eq(hv_insn_decode(b, n, bits, &d), HV_INSN_OK, "decode of %u bytes in %u-bit code", n, bits);
	cr_assert_eq(d.len, n, "length %u, want %u", d.len, n);
	return d;
}

#define DEC(bits, ...)                                                  \
	({                                                              \
		static const uint8_t b_[] = { __VA_ARGS__ };            \
		dec(bits, b_, sizeof(b_));                              \
	})

static uint64_t regs[16];

static void regs_init(void)
{
	for (unsigned i = 0; i < 16; i++)
		regs[i] = 0x1000ull * (i + 1);
}

Test(insn, load_32_from_base_plus_disp8)
{
	/* mov 0x20(%rax),%eax */
	struct hv_insn d = DEC(64, 0x8b, 0x40, 0x20);

	regs_init();
	cr_assert(!d.store);
	cr_assert_eq(d.size, 4);
	cr_assert_eq(d.reg, RAX);
	cr_assert_eq(d.base, RAX);
	cr_assert_eq(d.seg, HV_SEG_DS);
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0x1020);
}

Test(insn, store_32_absolute_through_sib_no_base)
{
	/* movl %ecx, 0xfee000b0 (64-bit code: ModRM 0c, SIB 25 = no base, no index) */
	struct hv_insn d = DEC(64, 0x89, 0x0c, 0x25, 0xb0, 0x00, 0xe0, 0xfe);

	regs_init();
	cr_assert(d.store);
	cr_assert_eq(d.reg, RCX);
	cr_assert_eq(d.base, HV_INSN_NO_REG);
	cr_assert_eq(d.index, HV_INSN_NO_REG);
	/* disp32 is sign-extended to 64 bits (SDM 2.2.1.3) */
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0xfffffffffee000b0ull);
}

Test(insn, store_imm32_with_rex_b_and_disp32)
{
	/* movl $0x1ff, 0xf0(%r12) : 41 C7 84 24 F0 00 00 00 FF 01 00 00 */
	struct hv_insn d = DEC(64, 0x41, 0xc7, 0x84, 0x24, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00, 0x00);

	regs_init();
	cr_assert(d.store);
	cr_assert_eq(d.reg, HV_INSN_NO_REG);
	cr_assert_eq(d.imm, 0x1ff);
	cr_assert_eq(d.size, 4);
	cr_assert_eq(d.base, R12);
	cr_assert_eq(d.seg, HV_SEG_DS, "R12 as base keeps DS");
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0xd000 + 0xf0);
}

Test(insn, rex_r_and_rex_x_and_scale)
{
	/* mov (%rbx,%r9,4),%r10d : 46 8B 14 8B */
	struct hv_insn d = DEC(64, 0x46, 0x8b, 0x14, 0x8b);

	regs_init();
	cr_assert_eq(d.reg, R10);
	cr_assert_eq(d.base, RBX);
	cr_assert_eq(d.index, R9);
	cr_assert_eq(d.scale, 4);
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0x4000 + 0xa000 * 4);
}

Test(insn, rex_w_load_and_imm_sign_extension)
{
	struct hv_insn d = DEC(64, 0x48, 0x8b, 0x03);	/* mov (%rbx),%rax */

	cr_assert_eq(d.size, 8);
	d = DEC(64, 0x48, 0xc7, 0x00, 0x00, 0x00, 0x00, 0x80);	/* movq $-0x80000000,(%rax) */
	cr_assert_eq(d.size, 8);
	cr_assert_eq(d.imm, 0xffffffff80000000ull);
}

Test(insn, rip_relative)
{
	/* mov 0x100(%rip),%edx : 8B 15 00 01 00 00 */
	struct hv_insn d = DEC(64, 0x8b, 0x15, 0x00, 0x01, 0x00, 0x00);

	regs_init();
	cr_assert(d.rip_rel);
	cr_assert_eq(d.reg, RDX);
	cr_assert_eq(hv_insn_ea(&d, regs, 0x401006), 0x401106);
	/* the same bytes in 32-bit code are an absolute disp32 */
	d = DEC(32, 0x8b, 0x15, 0x00, 0x01, 0x00, 0x00);
	cr_assert(!d.rip_rel);
	cr_assert_eq(hv_insn_ea(&d, regs, 0x401006), 0x100);
}

Test(insn, rsp_and_rbp_bases_default_to_ss)
{
	struct hv_insn d = DEC(64, 0x8b, 0x44, 0x24, 0x08);	/* mov 8(%rsp),%eax */

	cr_assert_eq(d.base, RSP);
	cr_assert_eq(d.seg, HV_SEG_SS);
	d = DEC(64, 0x8b, 0x45, 0xf8);	/* mov -8(%rbp),%eax */
	cr_assert_eq(d.seg, HV_SEG_SS);
	cr_assert_eq(d.disp, -8);
	d = DEC(64, 0x41, 0x8b, 0x45, 0xf8);	/* mov -8(%r13),%eax: DS */
	cr_assert_eq(d.base, R13);
	cr_assert_eq(d.seg, HV_SEG_DS);
}

Test(insn, segment_overrides)
{
	struct hv_insn d = DEC(64, 0x65, 0x8b, 0x00);	/* mov %gs:(%rax),%eax */

	cr_assert_eq(d.seg, HV_SEG_GS);
	d = DEC(64, 0x2e, 0x8b, 0x00);	/* CS override: no effect in 64-bit mode */
	cr_assert_eq(d.seg, HV_SEG_DS);
	d = DEC(32, 0x26, 0x8b, 0x00);	/* ES override in 32-bit code */
	cr_assert_eq(d.seg, HV_SEG_ES);
}

Test(insn, byte_forms_and_high_byte_registers)
{
	struct hv_insn d = DEC(64, 0x8a, 0x20);	/* mov (%rax),%ah */

	cr_assert_eq(d.size, 1);
	cr_assert_eq(d.reg, RAX);
	cr_assert(d.high8);
	d = DEC(64, 0x40, 0x8a, 0x20);	/* mov (%rax),%spl: any REX */
	cr_assert_eq(d.reg, RSP);
	cr_assert(!d.high8);
	d = DEC(64, 0x88, 0x38);	/* mov %bh,(%rax) */
	cr_assert(d.store && d.high8 && d.reg == RBX);
	d = DEC(64, 0xc6, 0x00, 0x7f);	/* movb $0x7f,(%rax) */
	cr_assert_eq(d.imm, 0x7f);
	cr_assert_eq(d.size, 1);
}

Test(insn, operand_size_prefix)
{
	struct hv_insn d = DEC(64, 0x66, 0x89, 0x08);	/* mov %cx,(%rax) */

	cr_assert_eq(d.size, 2);
	d = DEC(64, 0x66, 0xc7, 0x00, 0x34, 0x12);	/* movw $0x1234,(%rax) */
	cr_assert_eq(d.imm, 0x1234);
	d = DEC(64, 0x66, 0x48, 0x8b, 0x00);	/* REX.W beats 66 */
	cr_assert_eq(d.size, 8);
	d = DEC(16, 0x66, 0x8b, 0x07);	/* 16-bit code: 66 makes 32 */
	cr_assert_eq(d.size, 4);
}

Test(insn, rex_not_last_is_ignored)
{
	/* 48 66 8B 00: the REX.W before 66 is ignored: a 16-bit load */
	struct hv_insn d = DEC(64, 0x48, 0x66, 0x8b, 0x00);

	cr_assert_eq(d.size, 2);
	/* in 32-bit code 0x40-0x4F are INC/DEC, not prefixes */
	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0x41, 0x8b, 0x00 }, 3, 32, &d), HV_INSN_UNSUPPORTED);
}

Test(insn, sixteen_bit_addressing)
{
	struct hv_insn d;

	regs_init();
	d = DEC(16, 0x8b, 0x40, 0x20);	/* mov 0x20(%bx,%si),%ax */
	cr_assert_eq(d.addr_size, 2);
	cr_assert_eq(d.size, 2);
	cr_assert_eq(d.base, RBX);
	cr_assert_eq(d.index, RSI);
	cr_assert_eq(hv_insn_ea(&d, regs, 0), (0x4000 + 0x7000 + 0x20) & 0xffff);
	d = DEC(16, 0x8b, 0x46, 0x02);	/* mov 2(%bp),%ax: SS */
	cr_assert_eq(d.seg, HV_SEG_SS);
	d = DEC(16, 0x8b, 0x0e, 0x34, 0x12);	/* mov 0x1234,%cx: disp16 */
	cr_assert_eq(d.base, HV_INSN_NO_REG);
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0x1234);
	d = DEC(16, 0x67, 0x66, 0x8b, 0x05, 0x20, 0x00, 0xe0, 0xfe);	/* 32-bit address and operand */
	cr_assert_eq(d.addr_size, 4);
	cr_assert_eq(d.size, 4);
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0xfee00020);
}

Test(insn, moffs_forms)
{
	struct hv_insn d;

	regs_init();
	d = DEC(32, 0xa1, 0x20, 0x00, 0xe0, 0xfe);	/* mov 0xfee00020,%eax */
	cr_assert(!d.store);
	cr_assert_eq(d.reg, RAX);
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0xfee00020);
	d = DEC(64, 0xa3, 0xb0, 0x00, 0xe0, 0xfe, 0, 0, 0, 0);	/* movabs %eax,0xfee000b0 */
	cr_assert(d.store);
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0xfee000b0);
	d = DEC(64, 0x67, 0xa0, 0x80, 0x00, 0xe0, 0xfe);	/* 32-bit moffs, byte */
	cr_assert_eq(d.size, 1);
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0xfee00080);
}

Test(insn, address_size_wraps)
{
	struct hv_insn d = DEC(32, 0x8b, 0x40, 0x10);	/* mov 0x10(%eax),%eax */
	uint64_t g[16] = { 0xfffffff8 };

	cr_assert_eq(hv_insn_ea(&d, g, 0), 8);
	d = DEC(64, 0x67, 0x8b, 0x40, 0x10);	/* 67: 32-bit address in 64-bit mode */
	cr_assert_eq(hv_insn_ea(&d, g, 0), 8);
}

Test(insn, refused_forms)
{
	struct hv_insn d;

	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0x8b, 0xc1 }, 2, 64, &d), HV_INSN_UNSUPPORTED, "mod 11");
	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0xc7, 0x08, 0, 0, 0, 0 }, 6, 64, &d), HV_INSN_UNSUPPORTED,
		     "C7 /1");
	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0x01, 0x08 }, 2, 64, &d), HV_INSN_UNSUPPORTED, "ADD");
	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0x0f, 0xb6, 0xc1 }, 3, 64, &d), HV_INSN_UNSUPPORTED,
		     "MOVZX mod 11");
	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0x0f, 0xb8, 0x00 }, 3, 64, &d), HV_INSN_UNSUPPORTED, "POPCNT");
	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0x0f, 0x10, 0x00 }, 3, 64, &d), HV_INSN_UNSUPPORTED, "MOVUPS");
	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0x0f }, 1, 64, &d), HV_INSN_SHORT, "0F alone");
	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0xa5 }, 1, 64, &d), HV_INSN_UNSUPPORTED, "MOVS");
	cr_assert_eq(hv_insn_decode((const uint8_t[]){ 0xf0, 0x89, 0x08 }, 3, 64, &d), HV_INSN_LOCK, "LOCK MOV");
}

Test(insn, movzx_movsx)
{
	struct hv_insn d = DEC(64, 0x0f, 0xb6, 0x03);	/* movzbl (%rbx),%eax */

	regs_init();
	cr_assert(!d.store);
	cr_assert_eq(d.size, 1);
	cr_assert_eq(d.reg_size, 4);
	cr_assert_eq(d.ext, HV_INSN_EXT_ZERO);
	cr_assert_eq(d.reg, RAX);
	cr_assert(!d.high8, "ModRM reg 0-7 are never AH-BH for MOVZX");
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0x4000);
	d = DEC(64, 0x0f, 0xb6, 0x20);	/* movzbl (%rax),%esp: reg 4 is ESP, not AH */
	cr_assert_eq(d.reg, RSP);
	cr_assert(!d.high8);
	d = DEC(64, 0x48, 0x0f, 0xbf, 0x4e, 0x02);	/* movswq 2(%rsi),%rcx */
	cr_assert_eq(d.size, 2);
	cr_assert_eq(d.reg_size, 8);
	cr_assert_eq(d.ext, HV_INSN_EXT_SIGN);
	cr_assert_eq(d.reg, RCX);
	cr_assert_eq(hv_insn_ea(&d, regs, 0), 0x7002);
	d = DEC(64, 0x66, 0x0f, 0xbe, 0x00);	/* movsbw (%rax),%ax */
	cr_assert_eq(d.size, 1);
	cr_assert_eq(d.reg_size, 2);
	d = DEC(64, 0x44, 0x0f, 0xb7, 0x00);	/* movzwl (%rax),%r8d */
	cr_assert_eq(d.size, 2);
	cr_assert_eq(d.reg_size, 4);
	cr_assert_eq(d.reg, R8);
	d = DEC(16, 0x0f, 0xb6, 0x07);	/* movzbw (%bx),%ax in 16-bit code */
	cr_assert_eq(d.reg_size, 2);
	cr_assert_eq(d.base, RBX);
}

Test(insn, load_results)
{
	/* SDM Vol. 1 3.4.1.1: 32-bit destinations zero-extend, 8 and 16 keep
	 * the rest; MOVZX/MOVSX widen first. */
	const uint64_t old = 0x1122334455667788ull;
	struct hv_insn d = DEC(64, 0x8b, 0x00);	/* mov (%rax),%eax */

	cr_assert_eq(hv_insn_load(&d, old, 0xfffffffff0e0d0c0ull), 0xf0e0d0c0ull);
	d = DEC(64, 0x48, 0x8b, 0x00);	/* mov (%rax),%rax */
	cr_assert_eq(hv_insn_load(&d, old, 0x8000000000000001ull), 0x8000000000000001ull);
	d = DEC(64, 0x66, 0x8b, 0x00);	/* mov (%rax),%ax */
	cr_assert_eq(hv_insn_load(&d, old, 0xabcd), 0x112233445566abcdull);
	d = DEC(64, 0x8a, 0x00);	/* mov (%rax),%al */
	cr_assert_eq(hv_insn_load(&d, old, 0x1ee), 0x11223344556677eeull);
	d = DEC(64, 0x8a, 0x20);	/* mov (%rax),%ah */
	cr_assert_eq(hv_insn_load(&d, old, 0xee), 0x112233445566ee88ull);
	d = DEC(64, 0x0f, 0xb6, 0x00);	/* movzbl */
	cr_assert_eq(hv_insn_load(&d, old, 0xf0), 0xf0);
	d = DEC(64, 0x0f, 0xbe, 0x00);	/* movsbl: sign-extended to 32, then zero-extended */
	cr_assert_eq(hv_insn_load(&d, old, 0xf0), 0xfffffff0ull);
	d = DEC(64, 0x48, 0x0f, 0xbf, 0x00);	/* movswq */
	cr_assert_eq(hv_insn_load(&d, old, 0x8001), 0xffffffffffff8001ull);
	d = DEC(64, 0x66, 0x0f, 0xbe, 0x00);	/* movsbw: the upper 48 bits stay */
	cr_assert_eq(hv_insn_load(&d, old, 0x80), 0x112233445566ff80ull);
}

Test(insn, store_values)
{
	struct hv_insn d = DEC(64, 0x88, 0x38);	/* mov %bh,(%rax) */

	cr_assert_eq(hv_insn_store_value(&d, 0x1234), 0x12);
	d = DEC(64, 0x66, 0x89, 0x08);	/* mov %cx,(%rax) */
	cr_assert_eq(hv_insn_store_value(&d, 0xffff5678), 0x5678);
	d = DEC(64, 0x48, 0xc7, 0x00, 0x00, 0x00, 0x00, 0x80);	/* movq $-0x80000000,(%rax) */
	cr_assert_eq(hv_insn_store_value(&d, 0), 0xffffffff80000000ull);
	d = DEC(64, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff);	/* movl $-1,(%rax) */
	cr_assert_eq(hv_insn_store_value(&d, 0), 0xffffffffull);
}

Test(insn, code_bits)
{
	cr_assert_eq(hv_insn_code_bits(false, false, false, 0xffff), 16, "real mode");
	cr_assert_eq(hv_insn_code_bits(true, true, false, 0x4000), 16, "virtual-8086 mode");
	cr_assert_eq(hv_insn_code_bits(true, false, true, 0x209b), 64, "CS.L in IA-32e mode");
	cr_assert_eq(hv_insn_code_bits(true, false, true, 0xc09b), 32, "compatibility mode, CS.D");
	cr_assert_eq(hv_insn_code_bits(true, false, false, 0x209b), 16, "CS.L outside IA-32e mode, no CS.D");
	cr_assert_eq(hv_insn_code_bits(true, false, false, 0xc09b), 32, "protected mode, CS.D");
}

Test(insn, short_input)
{
	static const uint8_t b[] = { 0x41, 0xc7, 0x84, 0x24, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00, 0x00 };
	struct hv_insn d;

	for (unsigned n = 0; n < sizeof(b); n++)
		cr_assert_eq(hv_insn_decode(b, n, 64, &d), HV_INSN_SHORT, "%u bytes", n);
	cr_assert_eq(hv_insn_decode(b, sizeof(b), 64, &d), HV_INSN_OK);
}

Test(insn, fifteen_byte_limit)
{
	uint8_t b[20];

	memset(b, 0x66, sizeof(b));
	b[14] = 0x89;
	b[15] = 0x00;
	struct hv_insn d;

	/* 14 prefixes, the opcode, then ModRM would be byte 16 */
	cr_assert_eq(hv_insn_decode(b, sizeof(b), 64, &d), HV_INSN_SHORT);
	cr_assert_eq(hv_insn_decode(b + 1, 15, 64, &d), HV_INSN_OK);
	cr_assert_eq(d.len, 15);
}

/* ---- the page walk on a crafted guest-physical memory ---- */

#define MEM (4u << 20)
static uint8_t *mem;

static int rd(void *ctx, uint64_t gpa, uint64_t *v)
{
	(void)ctx;
	if (gpa + 8 > MEM)
		return -1;
	memcpy(v, mem + gpa, 8);
	return 0;
}

static void w64(uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, 8);
}

static void w32(uint64_t gpa, uint32_t v)
{
	memcpy(mem + gpa, &v, 4);
}

static void setup(void)
{
	mem = calloc(1, MEM);
}

static void teardown(void)
{
	free(mem);
}

#define CR0_PE 1ull
#define CR0_PG (1ull << 31)
#define CR0_WP (1ull << 16)

static enum hv_walk_status walk(const struct hv_walk_regs *r, uint64_t lin, unsigned acc, uint64_t *gpa, uint32_t *e)
{
	*gpa = 0;
	*e = 0;
	return hv_walk(r, lin, acc, rd, NULL, gpa, e);
}

Test(walk, paging_off, .init = setup, .fini = teardown)
{
	struct hv_walk_regs r = { .cr0 = CR0_PE, .maxphyaddr = 36 };
	uint64_t gpa;
	uint32_t e;

	cr_assert_eq(walk(&r, 0xfee00020, HV_WALK_FETCH, &gpa, &e), HV_WALK_OK);
	cr_assert_eq(gpa, 0xfee00020);
}

Test(walk, thirty_two_bit_paging, .init = setup, .fini = teardown)
{
	struct hv_walk_regs r = { .cr0 = CR0_PE | CR0_PG, .cr3 = 0x1000, .cr4 = 1u << 4 /* PSE */, .maxphyaddr = 36 };
	uint64_t gpa;
	uint32_t e;

	/* 0x00400000-0x007fffff -> PT at 0x2000; page 0x401 -> 0x9000; 0xfec00000: a 4 MiB page */
	w32(0x1000 + 1 * 4, 0x2000 | 7);
	w32(0x2000 + 1 * 4, 0x9000 | 5);	/* user, read-only */
	w32(0x1000 + (0xfee00000 >> 22) * 4, 0xfec00000 | 0x83);
	cr_assert_eq(walk(&r, 0x401234, 0, &gpa, &e), HV_WALK_OK);
	cr_assert_eq(gpa, 0x9234);
	cr_assert_eq(walk(&r, 0xfee00300, 0, &gpa, &e), HV_WALK_OK);
	cr_assert_eq(gpa, 0xfee00300);
	/* not present: error code 0 (+U at CPL 3) */
	cr_assert_eq(walk(&r, 0x800000, 0, &gpa, &e), HV_WALK_PAGE_FAULT);
	cr_assert_eq(e, 0);
	r.cpl = 3;
	cr_assert_eq(walk(&r, 0xfee00300, 0, &gpa, &e), HV_WALK_PAGE_FAULT, "supervisor page at CPL 3");
	cr_assert_eq(e, 1 | 4);
	cr_assert_eq(walk(&r, 0x401000, HV_WALK_WRITE, &gpa, &e), HV_WALK_PAGE_FAULT, "read-only page");
	cr_assert_eq(e, 1 | 2 | 4);
	/* without CR4.PSE the PS bit is ignored: the PDE points to a table */
	r.cpl = 0;
	r.cr4 = 0;
	cr_assert_eq(walk(&r, 0xfee00300, 0, &gpa, &e), HV_WALK_NO_MEMORY);
	cr_assert_eq(gpa, 0xfec00000 + (0xfee00300 >> 12 & 0x3ff) * 4);
}

Test(walk, pae_paging_uses_the_given_pdptes, .init = setup, .fini = teardown)
{
	struct hv_walk_regs r = { .cr0 = CR0_PE | CR0_PG, .cr4 = 1u << 5, .maxphyaddr = 36,
				  .pdpte = { 0x3000 | 1, 0, 0, 0x4000 | 1 } };
	uint64_t gpa;
	uint32_t e;

	w64(0x3000 + 2 * 8, 0x5000 | 7);			/* 0x00400000: PT */
	w64(0x5000 + 1 * 8, 0x8000 | 3);
	w64(0x4000 + (0xfee00000 >> 21 & 511) * 8, 0xfee00000 | 0x83);	/* 2 MiB page */
	cr_assert_eq(walk(&r, 0x401abc, 0, &gpa, &e), HV_WALK_OK);
	cr_assert_eq(gpa, 0x8abc);
	cr_assert_eq(walk(&r, 0xfee000f0, 0, &gpa, &e), HV_WALK_OK);
	cr_assert_eq(gpa, 0xfee000f0);
	cr_assert_eq(walk(&r, 0x40000000, 0, &gpa, &e), HV_WALK_PAGE_FAULT, "PDPTE 1 not present");
	/* XD without EFER.NXE is a reserved bit */
	w64(0x5000 + 1 * 8, 0x8000 | 3 | 1ull << 63);
	cr_assert_eq(walk(&r, 0x401abc, 0, &gpa, &e), HV_WALK_PAGE_FAULT);
	cr_assert_eq(e, 1 | 8);
	r.efer = 1u << 11;	/* NXE: now a fetch is refused, a read is not */
	cr_assert_eq(walk(&r, 0x401abc, 0, &gpa, &e), HV_WALK_OK);
	cr_assert_eq(walk(&r, 0x401abc, HV_WALK_FETCH, &gpa, &e), HV_WALK_PAGE_FAULT);
	cr_assert_eq(e, 1 | 16);
}

Test(walk, four_level_paging, .init = setup, .fini = teardown)
{
	struct hv_walk_regs r = { .cr0 = CR0_PE | CR0_PG | CR0_WP, .cr3 = 0x1000, .cr4 = 1u << 5,
				  .efer = (1u << 8) | (1u << 10), .maxphyaddr = 36 };
	uint64_t gpa;
	uint32_t e;

	w64(0x1000, 0x2000 | 7);				/* PML4[0] */
	w64(0x2000 + 3 * 8, 0x3000 | 3);			/* PDPT[3]: 3-4 GiB */
	w64(0x3000 + (0xfee00000 >> 21 & 511) * 8, 0xfee00000 | 0x83 | 0x10);	/* PCD 2 MiB */
	w64(0x2000 + 0 * 8, 0x40000000 | 0x83);		/* a 1 GiB page at 0 -> 1 GiB */
	cr_assert_eq(walk(&r, 0xfee00310, 0, &gpa, &e), HV_WALK_OK);
	cr_assert_eq(gpa, 0xfee00310);
	cr_assert_eq(walk(&r, 0x12345678, 0, &gpa, &e), HV_WALK_OK);
	cr_assert_eq(gpa, 0x40000000 + 0x12345678);
	/* CR0.WP: a supervisor write to a read-only page faults */
	w64(0x3000 + 1 * 8, 0x200000 | 0x81);
	cr_assert_eq(walk(&r, 0xc0200000, HV_WALK_WRITE, &gpa, &e), HV_WALK_PAGE_FAULT);
	cr_assert_eq(e, 1 | 2);
	/* an address bit above MAXPHYADDR is reserved */
	w64(0x3000 + 1 * 8, (1ull << 40) | 0x200000 | 0x83);
	cr_assert_eq(walk(&r, 0xc0200000, 0, &gpa, &e), HV_WALK_PAGE_FAULT);
	cr_assert_eq(e, 1 | 8);
	/* a table beyond the memory the callback has */
	w64(0x1000 + 8, (8ull << 20) | 7);
	cr_assert_eq(walk(&r, 1ull << 39, 0, &gpa, &e), HV_WALK_NO_MEMORY);
	cr_assert_eq(gpa, 8ull << 20);
	/* SMEP: a supervisor fetch from a user page */
	r.cr4 |= 1u << 20;
	w64(0x2000 + 0 * 8, 0x40000000 | 0x87);
	cr_assert_eq(walk(&r, 0x1000, HV_WALK_FETCH, &gpa, &e), HV_WALK_PAGE_FAULT);
	cr_assert_eq(e, 1 | 16);
}
