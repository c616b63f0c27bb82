/* VM-entry checks on the guest CR0 and segment-register fields (SDM Vol.
 * 3C 27.3.1.1, 27.3.1.2), with and without "unrestricted guest": each
 * case is a guest state an SDM rule accepts or refuses, built from one
 * of three valid starting points (a 64-bit guest, a real-mode guest, a
 * virtual-8086 guest) with one field changed. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hv/vmx.h"
#include "vmx_check.h"

/* IA32_VMX_CR0_FIXED0/1 as a Sandy Bridge reports them: PE, NE and PG
 * fixed to 1, nothing fixed to 0. */
#define FIXED0 0x80000021ull
#define FIXED1 0xffffffffull

#define CR0_PE 0x1ull
#define CR0_ET 0x10ull
#define CR0_NE 0x20ull
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

#define AR_CODE64 0xa09bu	/* L, P, S, type 11 (execute/read, accessed) */
#define AR_DATA32 0xc093u	/* G, D/B, P, S, type 3 (read/write, accessed) */
#define AR_CODE16 0x009bu	/* P, S, type 11: a real-mode CS */
#define AR_DATA16 0x0093u	/* P, S, type 3: a real-mode data segment */
#define AR_TSS32 0x008bu	/* P, type 11 (busy 32/64-bit TSS) */
#define AR_UNUSABLE VMX_AR_UNUSABLE

static void set(struct vmx_check_guest *g, int n, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
	g->seg[n] = (struct vmx_check_seg){ sel, base, limit, ar };
}

/* The state tests/guest/lib/vmx.c gives a 64-bit guest. */
static struct vmx_check_guest guest64(void)
{
	struct vmx_check_guest g;

	memset(&g, 0, sizeof(g));
	for (int n = VMX_CHECK_ES; n <= VMX_CHECK_GS; n++)
		set(&g, n, 0x10, 0, 0xffffffff, AR_DATA32);
	set(&g, VMX_CHECK_CS, 0x08, 0, 0xffffffff, AR_CODE64);
	set(&g, VMX_CHECK_LDTR, 0, 0, 0, AR_UNUSABLE);
	set(&g, VMX_CHECK_TR, 0x20, 0x1000, 0x67, AR_TSS32);
	g.cr0 = 0x80050033;
	g.rflags = 2;
	g.ia32e = 1;
	return g;
}

/* Real mode as an unrestricted guest starts it: CS = F000H-style
 * selector with base = selector << 4, 64-KiB limits, DPL 0 everywhere. */
static struct vmx_check_guest guest_real(void)
{
	struct vmx_check_guest g;

	memset(&g, 0, sizeof(g));
	for (int n = VMX_CHECK_ES; n <= VMX_CHECK_GS; n++)
		set(&g, n, 0, 0, 0xffff, AR_DATA16);
	set(&g, VMX_CHECK_CS, 0x0700, 0x7000, 0xffff, AR_CODE16);
	set(&g, VMX_CHECK_LDTR, 0, 0, 0xffff, 0x82);
	set(&g, VMX_CHECK_TR, 0, 0, 0xffff, AR_TSS32);
	g.cr0 = CR0_ET | CR0_NE;
	g.rflags = 2;
	g.unrestricted = 1;
	return g;
}

/* Virtual-8086 mode: bases = selector << 4, limits FFFFH, rights F3H. */
static struct vmx_check_guest guest_v86(void)
{
	struct vmx_check_guest g = guest_real();

	for (int n = VMX_CHECK_ES; n <= VMX_CHECK_GS; n++)
		set(&g, n, (uint16_t)(0x100 * (n + 1)), 0x1000ull * (n + 1), 0xffff, 0xf3);
	g.cr0 = CR0_PE | CR0_ET | CR0_NE;
	g.rflags = 2 | (1ull << 17);
	g.unrestricted = 0;
	return g;
}

#define PASS(g) cr_assert_null(vmx_check_guest_segments(&(g)), "refused: %s", vmx_check_guest_segments(&(g)))
#define FAIL(g) cr_assert_not_null(vmx_check_guest_segments(&(g)))

/* ---- CR0 (27.3.1.1) ----------------------------------------------------- */

Test(vmx_check, cr0_fixed_bits_without_unrestricted_guest)
{
	cr_assert_null(vmx_check_guest_cr0(0x80050033, FIXED0, FIXED1, 0));
	cr_assert_not_null(vmx_check_guest_cr0(CR0_NE | CR0_ET | CR0_PE, FIXED0, FIXED1, 0), "PG fixed to 1");
	cr_assert_not_null(vmx_check_guest_cr0(CR0_NE | CR0_PG, FIXED0, FIXED1, 0), "PE fixed to 1");
	cr_assert_not_null(vmx_check_guest_cr0(CR0_PE | CR0_PG, FIXED0, FIXED1, 0), "NE fixed to 1");
}

Test(vmx_check, cr0_pe_and_pg_free_with_unrestricted_guest)
{
	cr_assert_null(vmx_check_guest_cr0(CR0_NE | CR0_ET, FIXED0, FIXED1, 1), "real mode");
	cr_assert_null(vmx_check_guest_cr0(CR0_NE | CR0_ET | CR0_PE, FIXED0, FIXED1, 1), "protected, no paging");
	cr_assert_null(vmx_check_guest_cr0(CR0_NE | CR0_PE | CR0_PG, FIXED0, FIXED1, 1), "paging");
	/* The other fixed bits stay fixed. */
	cr_assert_not_null(vmx_check_guest_cr0(CR0_ET, FIXED0, FIXED1, 1), "NE is still fixed to 1");
	cr_assert_not_null(vmx_check_guest_cr0(CR0_NE | (1ull << 32), FIXED0, FIXED1, 1), "bits 63:32 reserved");
}

Test(vmx_check, cr0_pg_needs_pe)
{
	cr_assert_not_null(vmx_check_guest_cr0(CR0_NE | CR0_PG, FIXED0, FIXED1, 1));
}

Test(vmx_check, cr0_nw_and_cd_never_checked)
{
	/* Fixed bits a processor would report for NW and CD do not count:
	 * VM entry does not load them (27.3.2.1). */
	cr_assert_null(vmx_check_guest_cr0(0x80050033 | CR0_NW, FIXED0 | CR0_CD, FIXED1 & ~CR0_NW, 0));
}

/* ---- segment registers (27.3.1.2) --------------------------------------- */

Test(vmx_check, valid_starting_points)
{
	struct vmx_check_guest a = guest64(), b = guest_real(), v = guest_v86();

	PASS(a);
	PASS(b);
	PASS(v);
	a.unrestricted = 1;
	PASS(a);
}

Test(vmx_check, cs_type_3_only_with_unrestricted_guest)
{
	struct vmx_check_guest g = guest_real();

	g.seg[VMX_CHECK_CS].ar = AR_DATA16;
	PASS(g);
	g.unrestricted = 0;
	FAIL(g);
	g = guest64();
	g.seg[VMX_CHECK_CS].ar = 0xa093;
	FAIL(g);
}

Test(vmx_check, cs_type_3_needs_dpl_0)
{
	struct vmx_check_guest g = guest_real();

	g.cr0 |= CR0_PE;
	g.seg[VMX_CHECK_CS].ar = AR_DATA16 | (3u << 5);
	g.seg[VMX_CHECK_SS].ar = AR_DATA16 | (3u << 5);
	FAIL(g);
}

Test(vmx_check, cs_never_a_non_accessed_or_other_data_type)
{
	struct vmx_check_guest g = guest_real();

	g.seg[VMX_CHECK_CS].ar = 0x0097;	/* type 7: expand-down data */
	FAIL(g);
	g.seg[VMX_CHECK_CS].ar = 0x009a;	/* type 10: code, not accessed */
	FAIL(g);
}

Test(vmx_check, ss_dpl_0_in_real_mode)
{
	struct vmx_check_guest g = guest_real();

	g.seg[VMX_CHECK_SS].ar = AR_DATA16 | (3u << 5);
	g.seg[VMX_CHECK_CS].ar = AR_CODE16 | (3u << 5);	/* CS.DPL = SS.DPL */
	FAIL(g);
	g.cr0 |= CR0_PE;	/* protected mode at CPL 3: allowed */
	PASS(g);
}

Test(vmx_check, ss_dpl_0_when_cs_is_type_3)
{
	struct vmx_check_guest g = guest_real();

	g.cr0 |= CR0_PE;
	g.seg[VMX_CHECK_CS].ar = AR_DATA16;
	PASS(g);
	g.seg[VMX_CHECK_SS].ar = AR_DATA16 | (1u << 5);
	FAIL(g);
}

Test(vmx_check, ss_rpl_equals_cs_rpl_unless_unrestricted)
{
	struct vmx_check_guest g = guest64();

	g.seg[VMX_CHECK_SS].sel = 0x13;
	FAIL(g);
	g.unrestricted = 1;
	PASS(g);
	/* Real mode: selectors are paragraph numbers, any RPL. */
	g = guest_real();
	g.seg[VMX_CHECK_SS].sel = 0x0001;
	g.seg[VMX_CHECK_SS].base = 0x10;
	PASS(g);
}

Test(vmx_check, ss_dpl_equals_rpl_unless_unrestricted)
{
	struct vmx_check_guest g = guest64();

	g.seg[VMX_CHECK_SS].sel = 0x13;
	g.seg[VMX_CHECK_CS].sel = 0x0b;	/* RPLs agree, SS.DPL 0 != RPL 3 */
	FAIL(g);
	g.unrestricted = 1;
	PASS(g);
}

Test(vmx_check, data_dpl_below_rpl_unless_unrestricted)
{
	static const int regs[] = { VMX_CHECK_ES, VMX_CHECK_DS, VMX_CHECK_FS, VMX_CHECK_GS };

	for (int i = 0; i < 4; i++) {
		struct vmx_check_guest g = guest64();

		g.seg[regs[i]].sel = 0x13;	/* RPL 3, DPL 0 */
		FAIL(g);
		g.unrestricted = 1;
		PASS(g);
		/* Conforming code segments (types 12-15) are not checked. */
		g.unrestricted = 0;
		g.seg[regs[i]].ar = 0xc09f;
		PASS(g);
		/* Nor unusable registers. */
		g.seg[regs[i]].ar = AR_UNUSABLE;
		PASS(g);
	}
}

Test(vmx_check, data_segment_rules_stay_with_unrestricted_guest)
{
	struct vmx_check_guest g = guest_real();

	g.seg[VMX_CHECK_DS].ar = 0x0092;	/* not accessed */
	FAIL(g);
	g = guest_real();
	g.seg[VMX_CHECK_ES].ar = 0x0099;	/* execute-only code */
	FAIL(g);
	g = guest_real();
	g.seg[VMX_CHECK_FS].ar = 0x0013;	/* not present */
	FAIL(g);
	g = guest_real();
	g.seg[VMX_CHECK_GS].limit = 0x1fffff;	/* limit bit 20 set with G = 0 */
	FAIL(g);
	g = guest_real();
	g.seg[VMX_CHECK_SS].ar = 0x009b;	/* SS must be read/write data */
	FAIL(g);
}

Test(vmx_check, tr_checks_do_not_relax)
{
	struct vmx_check_guest g = guest_real();

	g.seg[VMX_CHECK_TR].ar = AR_UNUSABLE | AR_TSS32;
	FAIL(g);
	g = guest_real();
	g.seg[VMX_CHECK_TR].ar = 0x0089;	/* available TSS */
	FAIL(g);
	g = guest_real();
	g.seg[VMX_CHECK_TR].ar = 0x0083;	/* busy 16-bit TSS: outside IA-32e mode only */
	PASS(g);
	g = guest64();
	g.seg[VMX_CHECK_TR].ar = 0x0083;
	FAIL(g);
	g = guest_real();
	g.seg[VMX_CHECK_TR].sel = 4;		/* TI */
	FAIL(g);
}

Test(vmx_check, ldtr_only_when_usable)
{
	struct vmx_check_guest g = guest_real();

	g.seg[VMX_CHECK_LDTR].ar = 0x0092;	/* a data segment in LDTR */
	FAIL(g);
	g.seg[VMX_CHECK_LDTR].ar = AR_UNUSABLE | 0x92;
	g.seg[VMX_CHECK_LDTR].sel = 4;
	g.seg[VMX_CHECK_LDTR].base = 0xaaaaaaaaaaaaaaaaull;
	PASS(g);
}

Test(vmx_check, ia32e_cs_l_and_db)
{
	struct vmx_check_guest g = guest64();

	g.seg[VMX_CHECK_CS].ar |= VMX_AR_DB;
	FAIL(g);
	g.ia32e = 0;
	PASS(g);
}

Test(vmx_check, v86_fields)
{
	struct vmx_check_guest g = guest_v86();

	g.seg[VMX_CHECK_DS].base += 1;
	FAIL(g);
	g = guest_v86();
	g.seg[VMX_CHECK_GS].limit = 0xfffff;
	FAIL(g);
	g = guest_v86();
	g.seg[VMX_CHECK_CS].ar = 0xfb;
	FAIL(g);
	/* SS.RPL = CS.RPL is not checked in virtual-8086 mode. */
	g = guest_v86();
	g.seg[VMX_CHECK_SS].sel |= 3;
	g.seg[VMX_CHECK_SS].base = (uint64_t)g.seg[VMX_CHECK_SS].sel << 4;
	PASS(g);
}

Test(vmx_check, bases)
{
	struct vmx_check_guest g = guest64();

	g.seg[VMX_CHECK_CS].base = 1ull << 32;
	FAIL(g);
	g = guest64();
	g.seg[VMX_CHECK_DS].base = 1ull << 32;
	FAIL(g);
	g.seg[VMX_CHECK_DS].ar = AR_UNUSABLE;
	PASS(g);
	g = guest64();
	g.seg[VMX_CHECK_FS].base = 1ull << 32;	/* FS and GS may be above 4 GiB */
	PASS(g);
	g.seg[VMX_CHECK_FS].base = 1ull << 50;	/* ... if canonical */
	FAIL(g);
}
