/* Alignment checking (align.c): which accesses of an instruction the #AC
 * check covers and the alignment SDM Vol. 3A Table 6-7 asks of each,
 * against register values and segment bases a test sets. */
#include <string.h>

#include <capstone/capstone.h>
#include <criterion/criterion.h>

#include "align.h"

int cpu_cs_gpr(unsigned r, int *ucr);	/* cpu.c: Capstone register -> GPR 0-15 */

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

static struct align_checker *ac;
static uint64_t gpr[16], seg[X86_REG_ENDING];
static struct align_env env;
static struct align_fault f;

static uint64_t fake_reg(void *opaque, unsigned r)
{
	int n = cpu_cs_gpr(r, NULL);

	return n >= 0 ? gpr[n] : 0;
}

static uint64_t fake_seg(void *opaque, unsigned r)
{
	return r < X86_REG_ENDING ? seg[r] : 0;
}

static void setup(void)
{
	ac = align_new();
	cr_assert_not_null(ac);
	memset(gpr, 0, sizeof(gpr));
	memset(seg, 0, sizeof(seg));
	env = (struct align_env){ .bits = 64, .rip = 0x400000, .reg = fake_reg, .seg_base = fake_seg };
}

static void teardown(void)
{
	align_free(ac);
}

TestSuite(align, .init = setup, .fini = teardown);

#define CHECK(...)                                                                    \
	({                                                                             \
		static const uint8_t code_[] = { __VA_ARGS__ };                        \
		align_check(ac, code_, sizeof(code_), &env, &f);                       \
	})

/* #AC expected at `want_lin` for alignment `want_align`. */
#define FAULTS(want_lin, want_align, ...)                                             \
	do {                                                                           \
		cr_assert_eq(CHECK(__VA_ARGS__), 1);                                   \
		cr_assert_eq(f.lin, (uint64_t)(want_lin), "at 0x%llx", (unsigned long long)f.lin); \
		cr_assert_eq(f.align, (want_align), "alignment %u", f.align);          \
	} while (0)
#define CLEAN(...) cr_assert_eq(CHECK(__VA_ARGS__), 0)

Test(align, loads_and_stores_by_operand_size)
{
	gpr[RBX] = 0x1004;
	FAULTS(0x1004, 8, 0x48, 0x8b, 0x03);		/* mov rax, [rbx] */
	gpr[RBX] = 0x1008;
	CLEAN(0x48, 0x8b, 0x03);
	gpr[RBX] = 0x1000;
	FAULTS(0x1001, 2, 0x66, 0x8b, 0x43, 0x01);	/* mov ax, [rbx+1] */
	CLEAN(0x8a, 0x43, 0x01);			/* mov al, [rbx+1]: bytes never */
	gpr[RBX] = 0x1006;
	FAULTS(0x1006, 4, 0x0f, 0xc3, 0x03);		/* movnti [rbx], eax */
	gpr[RBX] = 0x1004;
	FAULTS(0x1004, 8, 0x48, 0x0f, 0xa3, 0x03);	/* bt [rbx], rax: a quadword bit string */
}

Test(align, no_data_access)
{
	gpr[RBX] = gpr[RAX] = 0x1001;
	CLEAN(0x48, 0x8d, 0x43, 0x01);			/* lea rax, [rbx+1] */
	CLEAN(0x66, 0x0f, 0x1f, 0x40, 0x01);		/* nop word [rax+1] */
	CLEAN(0x0f, 0x01, 0x13);			/* lgdt [rbx]: #GP at CPL 3 comes first */
}

Test(align, addresses)
{
	/* FS override: the base counts in 64-bit mode. */
	gpr[RBX] = 0x1000;
	seg[X86_REG_FS] = 2;
	FAULTS(0x1002, 4, 0x64, 0x8b, 0x03);		/* mov eax, fs:[rbx] */
	/* DS's base does not. */
	seg[X86_REG_DS] = 2;
	CLEAN(0x8b, 0x03);
	/* RIP-relative: from the next instruction. */
	env.rip = 0x1000;
	FAULTS(0x1017, 4, 0x8b, 0x05, 0x11, 0x00, 0x00, 0x00);	/* mov eax, [rip+0x11] */
	/* 32-bit address size drops the high half. */
	gpr[RBX] = 0xffffffff00001002ull;
	FAULTS(0x1002, 4, 0x67, 0x8b, 0x03);		/* mov eax, [ebx] */
}

Test(align, the_stack)
{
	gpr[RSP] = 0x2004;
	FAULTS(0x1ffc, 8, 0x50);			/* push rax */
	FAULTS(0x2004, 8, 0x58);			/* pop rax */
	FAULTS(0x1ffc, 8, 0xe8, 0x00, 0x00, 0x00, 0x00);	/* call */
	FAULTS(0x2004, 8, 0xc3);			/* ret */
	FAULTS(0x2004, 8, 0x48, 0xcf);			/* iretq */
	CLEAN(0xcf);					/* iretd: 4-byte items */
	FAULTS(0x1ffc, 8, 0xc8, 0x10, 0x00, 0x00);	/* enter 16, 0 */
	FAULTS(0x2004, 8, 0x8f, 0x04, 0x24);		/* pop qword [rsp] */
	CLEAN(0x66, 0x50);				/* push ax: 2 bytes at 0x2002 */
	gpr[RSP] = 0x2003;
	FAULTS(0x2001, 2, 0x66, 0x50);
	gpr[RSP] = 0x2008;
	CLEAN(0x50);
	CLEAN(0x58);
	CLEAN(0xe8, 0x00, 0x00, 0x00, 0x00);
	gpr[RBP] = 0x2004;
	FAULTS(0x2004, 8, 0xc9);			/* leave: pops from where RBP points */
}

Test(align, strings)
{
	gpr[RDI] = 0x3001;
	gpr[RSI] = 0x4000;
	FAULTS(0x3001, 2, 0x66, 0xa5);			/* movsw */
	gpr[RCX] = 0;
	CLEAN(0x66, 0xf3, 0xa5);			/* rep movsw with RCX = 0: nothing */
	gpr[RCX] = 5;
	FAULTS(0x3001, 2, 0x66, 0xf3, 0xa5);
}

Test(align, x87_and_sse)
{
	gpr[RBX] = 0x1004;
	FAULTS(0x1004, 8, 0xdb, 0x2b);			/* fld tbyte [rbx]: 80-bit on 8 */
	FAULTS(0x1004, 8, 0xf2, 0x0f, 0x10, 0x03);	/* movsd xmm0, [rbx] */
	env.cr0 = 1u << 3;				/* CR0.TS: #NM first */
	CLEAN(0xdb, 0x2b);
	CLEAN(0xf2, 0x0f, 0x10, 0x03);
	FAULTS(0x1004, 8, 0x48, 0x8b, 0x03);		/* mov rax, [rbx] still */
	env.cr0 = 0;
	gpr[RBX] = 0x1001;
	CLEAN(0x0f, 0x10, 0x03);			/* movups: 128-bit, no #AC */
	gpr[RBX] = 0x1008;
	CLEAN(0x0f, 0xae, 0x03);			/* fxsave: its alignment is #GP's */
	CLEAN(0x48, 0x0f, 0xc7, 0x0b);			/* cmpxchg16b: likewise */
}

Test(align, system_structures)
{
	gpr[RBX] = 0x1002;
	FAULTS(0x1002, 4, 0x0f, 0xb2, 0x23);		/* lss esp, m16:32: 48-bit far pointer on 4 */
	FAULTS(0x1002, 4, 0x0f, 0x01, 0x03);		/* sgdt: GDTR contents on 4 */
	FAULTS(0x1002, 4, 0xff, 0x1b);			/* call far m16:32 */
	gpr[RBX] = 0x1004;
	gpr[RSP] = 0x2008;
	CLEAN(0x0f, 0xb2, 0x23);
	CLEAN(0xff, 0x1b);				/* pushes 4-byte CS and EIP at 0x2004 */
}

Test(align, legacy_modes)
{
	/* 32-bit: segment bases count; the string destination is ES. */
	env.bits = 32;
	gpr[RBX] = 0x1000;
	seg[X86_REG_DS] = 1;
	FAULTS(0x1001, 4, 0x8b, 0x03);			/* mov eax, [ebx] */
	gpr[RSP] = 0x2002;
	FAULTS(0x1ffe, 4, 0x50);			/* push eax */
	gpr[RDI] = 0x1000;
	CLEAN(0xab);					/* stosd to ES:EDI, ES base 0 */
	seg[X86_REG_ES] = 2;
	FAULTS(0x1002, 4, 0xab);
	/* 16-bit: PUSH is a word. */
	env.bits = 16;
	gpr[RSP] = 0x2001;
	FAULTS(0x1fff, 2, 0x50);			/* push ax */
	gpr[RSP] = 0x2002;
	CLEAN(0x50);
}

Test(align, undecodable)
{
	cr_assert_eq(CHECK(0x0f, 0x04), -1);	/* no such opcode */
	env.bits = 8;
	cr_assert_eq(CHECK(0x90), -1);
}
