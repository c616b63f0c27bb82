/* See vmx_check.h.  The rules are SDM Vol. 3C 27.3.1.1 (CR0) and
 * 27.3.1.2, checked in the order the SDM lists them: selector fields,
 * base-address fields, limit fields, access-rights fields. */
#include <stddef.h>

#include "hv/vmx.h"
#include "vmx_check.h"

#define CR0_PE (1ull << 0)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define RFLAGS_VM (1ull << 17)

const char *vmx_check_guest_cr0(uint64_t cr0, uint64_t fixed0, uint64_t fixed1, int unrestricted)
{
	/* NW and CD are never checked: VM entry does not load them
	 * (27.3.2.1).  PE and PG are not checked when "unrestricted guest"
	 * is 1, although IA32_VMX_CR0_FIXED0 still reports them as fixed to
	 * 1 (SDM A.7). */
	fixed0 &= ~(CR0_NW | CR0_CD);
	fixed1 |= CR0_NW | CR0_CD;
	if (unrestricted)
		fixed0 &= ~(CR0_PE | CR0_PG);
	if ((~cr0 & fixed0) || (cr0 & ~fixed1))
		return unrestricted ? "27.3.1.1 guest CR0 fixed bits (PE and PG exempt: unrestricted guest)" :
				      "27.3.1.1 guest CR0 fixed bits";
	if ((cr0 & CR0_PG) && !(cr0 & CR0_PE))
		return "27.3.1.1 guest CR0.PG requires PE";
	return NULL;
}

static int canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static int usable(const struct vmx_check_seg *s)
{
	return !(s->ar & VMX_AR_UNUSABLE);
}

static unsigned dpl(const struct vmx_check_seg *s)
{
	return (s->ar & VMX_AR_DPL_MASK) >> VMX_AR_DPL_SHIFT;
}

static unsigned type(const struct vmx_check_seg *s)
{
	return s->ar & VMX_AR_TYPE_MASK;
}

/* Bit 15 (G) against the limit field: G = 0 if any of bits 11:0 is 0,
 * G = 1 if any of bits 31:20 is 1. */
static int gran_ok(const struct vmx_check_seg *s)
{
	if ((s->limit & 0xfff) != 0xfff && (s->ar & VMX_AR_G))
		return 0;
	if ((s->limit & 0xfff00000) && !(s->ar & VMX_AR_G))
		return 0;
	return 1;
}

/* CS, or a usable SS, DS, ES, FS, GS outside virtual-8086 mode: S = 1,
 * P = 1, reserved bits 11:8 and 31:17 clear, G consistent. */
static const char *code_data_common(const struct vmx_check_seg *s)
{
	if (!(s->ar & VMX_AR_S))
		return "27.3.1.2 CS/SS/DS/ES/FS/GS S flag";
	if (!(s->ar & VMX_AR_P))
		return "27.3.1.2 CS/SS/DS/ES/FS/GS present";
	if (s->ar & VMX_AR_RESERVED_MASK)
		return "27.3.1.2 CS/SS/DS/ES/FS/GS access-rights reserved bits";
	if (!gran_ok(s))
		return "27.3.1.2 CS/SS/DS/ES/FS/GS limit and G flag";
	return NULL;
}

const char *vmx_check_guest_segments(const struct vmx_check_guest *g)
{
	static const int data[4] = { VMX_CHECK_ES, VMX_CHECK_DS, VMX_CHECK_FS, VMX_CHECK_GS };
	const struct vmx_check_seg *cs = &g->seg[VMX_CHECK_CS], *ss = &g->seg[VMX_CHECK_SS];
	const struct vmx_check_seg *tr = &g->seg[VMX_CHECK_TR], *ldtr = &g->seg[VMX_CHECK_LDTR];
	int v86 = !!(g->rflags & RFLAGS_VM);
	const char *why;

	/* Selector fields. */
	if (tr->sel & 4)
		return "27.3.1.2 TR selector TI flag";
	if (usable(ldtr) && (ldtr->sel & 4))
		return "27.3.1.2 LDTR selector TI flag";
	/* A rule on the selector field, usable or not (as kvm-unit-tests'
	 * guest-state test checks it). */
	if (!v86 && !g->unrestricted && (ss->sel & 3) != (cs->sel & 3))
		return "27.3.1.2 SS.RPL = CS.RPL (unrestricted guest 0)";

	/* Base-address fields. */
	if (v86)
		for (int n = VMX_CHECK_ES; n <= VMX_CHECK_GS; n++)
			if (g->seg[n].base != (uint64_t)g->seg[n].sel << 4)
				return "27.3.1.2 virtual-8086 segment base = selector << 4";
	if (!canonical(g->seg[VMX_CHECK_FS].base) || !canonical(g->seg[VMX_CHECK_GS].base) || !canonical(tr->base))
		return "27.3.1.2 FS/GS/TR bases canonical";
	if (usable(ldtr) && !canonical(ldtr->base))
		return "27.3.1.2 usable LDTR base canonical";
	if (cs->base >> 32)
		return "27.3.1.2 CS base bits 63:32";
	for (int n = VMX_CHECK_ES; n <= VMX_CHECK_DS; n++)
		if (n != VMX_CHECK_CS && usable(&g->seg[n]) && (g->seg[n].base >> 32))
			return "27.3.1.2 SS/DS/ES base bits 63:32";

	/* Limit fields. */
	if (v86)
		for (int n = VMX_CHECK_ES; n <= VMX_CHECK_GS; n++)
			if (g->seg[n].limit != 0xffff)
				return "27.3.1.2 virtual-8086 segment limit 0000FFFFH";

	/* Access-rights fields of CS, SS, DS, ES, FS, GS. */
	if (v86) {
		for (int n = VMX_CHECK_ES; n <= VMX_CHECK_GS; n++)
			if (g->seg[n].ar != 0xf3)
				return "27.3.1.2 virtual-8086 access rights 000000F3H";
	} else {
		unsigned cst = type(cs);

		/* CS type: an accessed code segment; with "unrestricted
		 * guest" also 3, a read/write accessed expand-up data
		 * segment. */
		if (cst != 9 && cst != 11 && cst != 13 && cst != 15 && !(g->unrestricted && cst == 3))
			return g->unrestricted ? "27.3.1.2 CS type (3 or accessed code)" :
						 "27.3.1.2 CS type (accessed code)";
		if (usable(ss) && type(ss) != 3 && type(ss) != 7)
			return "27.3.1.2 SS type (read/write accessed data)";
		for (int i = 0; i < 4; i++) {
			const struct vmx_check_seg *s = &g->seg[data[i]];

			if (!usable(s))
				continue;
			if (!(type(s) & 1))
				return "27.3.1.2 DS/ES/FS/GS type accessed";
			if ((type(s) & 8) && !(type(s) & 2))
				return "27.3.1.2 DS/ES/FS/GS code segments readable";
		}
		if ((why = code_data_common(cs)))
			return why;
		/* DPL of CS. */
		if (cst == 3 && dpl(cs) != 0)
			return "27.3.1.2 CS type 3 needs DPL 0";
		if ((cst == 9 || cst == 11) && dpl(cs) != dpl(ss))
			return "27.3.1.2 non-conforming CS.DPL = SS.DPL";
		if ((cst == 13 || cst == 15) && dpl(cs) > dpl(ss))
			return "27.3.1.2 conforming CS.DPL <= SS.DPL";
		/* DPL of SS: its RPL without "unrestricted guest" (an unusable
		 * SS is let through, as before); 0 when CS is a data segment
		 * or the guest is in real mode. */
		if (!g->unrestricted && usable(ss) && dpl(ss) != (ss->sel & 3u))
			return "27.3.1.2 SS.DPL = SS.RPL (unrestricted guest 0)";
		if ((cst == 3 || !(g->cr0 & CR0_PE)) && dpl(ss) != 0)
			return "27.3.1.2 SS.DPL = 0 with CS type 3 or CR0.PE = 0";
		/* DPL of DS, ES, FS, GS: not below the selector's RPL for data
		 * and non-conforming code segments, without "unrestricted
		 * guest". */
		if (!g->unrestricted)
			for (int i = 0; i < 4; i++) {
				const struct vmx_check_seg *s = &g->seg[data[i]];

				if (usable(s) && type(s) <= 11 && dpl(s) < (s->sel & 3u))
					return "27.3.1.2 DS/ES/FS/GS DPL >= RPL (unrestricted guest 0)";
			}
		if (usable(ss) && (why = code_data_common(ss)))
			return why;
		for (int i = 0; i < 4; i++)
			if (usable(&g->seg[data[i]]) && (why = code_data_common(&g->seg[data[i]])))
				return why;
		if (g->ia32e && (cs->ar & VMX_AR_L) && (cs->ar & VMX_AR_DB))
			return "27.3.1.2 CS.L and CS.D/B both set in IA-32e mode";
	}

	/* TR: a busy TSS, 16- or 32-bit outside IA-32e mode, 64-bit in it;
	 * never unusable, with or without "unrestricted guest". */
	if (type(tr) != 11 && (g->ia32e || type(tr) != 3))
		return "27.3.1.2 TR type (busy TSS)";
	if ((tr->ar & VMX_AR_S) || !(tr->ar & VMX_AR_P) || !usable(tr))
		return "27.3.1.2 TR S=0, present, usable";
	if (tr->ar & VMX_AR_RESERVED_MASK)
		return "27.3.1.2 TR access-rights reserved bits";
	if (!gran_ok(tr))
		return "27.3.1.2 TR limit and G flag";

	/* LDTR, if usable: an LDT, S = 0, present. */
	if (usable(ldtr)) {
		if (type(ldtr) != 2 || (ldtr->ar & VMX_AR_S) || !(ldtr->ar & VMX_AR_P))
			return "27.3.1.2 LDTR type, S=0, present";
		if (ldtr->ar & VMX_AR_RESERVED_MASK)
			return "27.3.1.2 LDTR access-rights reserved bits";
		if (!gran_ok(ldtr))
			return "27.3.1.2 LDTR limit and G flag";
	}
	return NULL;
}
