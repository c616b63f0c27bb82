/* XSAVE state management (SDM Vol. 1 ch. 13; Vol. 2C XGETBV, XSETBV,
 * XSAVE, XRSTOR) as the default profile offers it: CPUID.1:ECX.XSAVE,
 * CPUID.1:ECX.OSXSAVE following CR4.OSXSAVE, leaf 0DH with x87 and SSE
 * state, XCR0 = 1 at reset, XSETBV's #UD and #GP rules, and an XSAVE /
 * XRSTOR round trip of x87 and SSE state through the XSAVE area. */
#include "guest.h"

#define ECX_XSAVE (1u << 26)
#define ECX_OSXSAVE (1u << 27)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXSAVE (1ull << 18)
#define XCR0_X87 1u
#define XCR0_SSE 2u
#define XCR0_AVX 4u
#define XSAVE_BV 512		/* XSAVE header: XSTATE_BV (SDM Vol. 1 13.4.2) */
#define XSAVE_XMM0 160		/* legacy region: XMM0 (Vol. 1 10.5.1, table 10-2) */
#define XSAVE_ST0 32

static uint8_t area[4096] __attribute__((aligned(64)));

static uint64_t get_cr4(void)
{
	uint64_t v;

	asm volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static void set_cr4(uint64_t v)
{
	asm volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/* XGETBV / XSETBV, with the vector of a fault (EXC_NONE if none). */
static int xgetbv_v(uint32_t xcr, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;

	exc_reset();
	asm volatile("1: xgetbv\n2:\n\t" EX_TABLE("1b", "2b") : "+a"(lo), "+d"(hi) : "c"(xcr) : "memory");
	*v = (uint64_t)hi << 32 | lo;
	return exc_last.vector;
}

static int xsetbv_v(uint32_t xcr, uint64_t v)
{
	exc_reset();
	asm volatile("1: xsetbv\n2:\n\t" EX_TABLE("1b", "2b")
		     : : "a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(xcr) : "memory");
	return exc_last.vector;
}

static uint64_t xcr0(void)
{
	uint64_t v = 0;

	xgetbv_v(0, &v);
	return v;
}

static void test_enumeration(void)
{
	struct cpuid_regs r = cpuid(1, 0), d = cpuid(0xd, 0), d1 = cpuid(0xd, 1);

	report(r.ecx & ECX_XSAVE, "CPUID.1:ECX.XSAVE (ECX 0x%08x)", r.ecx);
	report(!(r.ecx & ECX_OSXSAVE), "CPUID.1:ECX.OSXSAVE clear while CR4.OSXSAVE is");
	report(d.eax == (XCR0_X87 | XCR0_SSE) && d.edx == 0,
	       "leaf 0DH.0: XCR0 may enable x87 and SSE (EDX:EAX 0x%x:%08x)", d.edx, d.eax);
	report(d.ebx == 576 && d.ecx == 576, "leaf 0DH.0: a 576-byte area (EBX %u, ECX %u)", d.ebx, d.ecx);
	report(d1.eax == 0, "leaf 0DH.1: no XSAVEOPT, XSAVEC, XGETBV(1) or XSAVES (EAX 0x%x)", d1.eax);
}

static void test_disabled(void)
{
	uint64_t v;

	report(xsetbv_v(0, 1) == UD_VECTOR, "XSETBV with CR4.OSXSAVE = 0: #UD");
	report(xgetbv_v(0, &v) == UD_VECTOR, "XGETBV with CR4.OSXSAVE = 0: #UD");
}

static void test_xsetbv(void)
{
	uint64_t v = 0;
	int vec;

	/* Each call is made before report() prints what it returned:
	 * argument order is unspecified. */
	set_cr4(get_cr4() | CR4_OSXSAVE);
	report(cpuid(1, 0).ecx & ECX_OSXSAVE, "CPUID.1:ECX.OSXSAVE set with CR4.OSXSAVE");
	vec = xgetbv_v(0, &v);
	report(vec == EXC_NONE && v == XCR0_X87, "XCR0 after reset: 0x%lx (want 1)", (unsigned long)v);
	vec = xsetbv_v(0, XCR0_X87 | XCR0_SSE);
	report(vec == EXC_NONE && xcr0() == 3, "XSETBV 3: XCR0 0x%lx", (unsigned long)xcr0());
	report(xgetbv_v(1, &v) == GP_VECTOR, "XGETBV ECX = 1 without CPUID.(EAX=0DH,ECX=1):EAX[2]: #GP");

	/* #GP(0) and XCR0 unchanged (SDM Vol. 2C XSETBV). */
	report(xsetbv_v(1, 1) == GP_VECTOR && exc_last.error_code == 0 && xcr0() == 3,
	       "XSETBV ECX = 1: #GP(0), XCR0 stays 0x%lx", (unsigned long)xcr0());
	report(xsetbv_v(0, XCR0_SSE) == GP_VECTOR && xcr0() == 3, "XSETBV clearing x87 (bit 0): #GP");
	report(xsetbv_v(0, XCR0_X87 | XCR0_SSE | XCR0_AVX) == GP_VECTOR && xcr0() == 3,
	       "XSETBV enabling AVX, not offered in leaf 0DH: #GP");
	report(xsetbv_v(0, XCR0_X87 | 1ull << 9) == GP_VECTOR && xcr0() == 3, "XSETBV with bit 9 set: #GP");
	report(xsetbv_v(0, XCR0_X87 | 1ull << 32) == GP_VECTOR && xcr0() == 3, "XSETBV with bit 32 set: #GP");
	vec = xsetbv_v(0, XCR0_X87);
	report(vec == EXC_NONE && xcr0() == 1, "XSETBV 1: XCR0 0x%lx", (unsigned long)xcr0());
}

/* XSAVE with XCR0 = 3 and EDX:EAX = 3 stores the x87 and SSE state and
 * XSTATE_BV; XRSTOR brings XMM0 back (SDM Vol. 1 13.7, 13.8). */
static void test_save_restore(void)
{
	/* XMM0 is the test's own: the kernel is built without SSE, so no clobber
	 * lists it. */
	static const uint64_t xmm[2] = { 0x0123456789abcdefull, 0xfedcba9876543210ull };
	uint64_t back[2], bv, st0;

	set_cr4(get_cr4() | CR4_OSFXSR);	/* SSE instructions (Vol. 3A 13.1.3) */
	xsetbv_v(0, XCR0_X87 | XCR0_SSE);
	memset(area, 0, sizeof(area));
	asm volatile("fninit\n\tfld1\n\tmovdqu %0, %%xmm0" : : "m"(xmm) : "memory");
	asm volatile("xsave %0" : "+m"(area) : "a"(3), "d"(0) : "memory");
	memcpy(&bv, area + XSAVE_BV, 8);
	memcpy(&st0, area + XSAVE_ST0, 8);
	report(!memcmp(area + XSAVE_XMM0, xmm, 16), "XSAVE stored XMM0 at offset 160");
	report(st0 == 0x8000000000000000ull, "XSAVE stored ST0 = 1.0 (significand 0x%lx)", (unsigned long)st0);
	report((bv & 3) == 3, "XSTATE_BV 0x%lx: x87 and SSE state saved", (unsigned long)bv);

	asm volatile("pxor %xmm0, %xmm0");
	asm volatile("xrstor %0\n\tmovdqu %%xmm0, %1" : "+m"(area), "=m"(back) : "a"(3), "d"(0) : "memory");
	report(back[0] == xmm[0] && back[1] == xmm[1], "XRSTOR: XMM0 back (0x%lx%016lx)", (unsigned long)back[1],
	       (unsigned long)back[0]);
	asm volatile("fninit");
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	(void)magic;
	(void)info;
	if (!(cpuid(1, 0).ecx & ECX_XSAVE))
		guest_skip("no XSAVE in CPUID");
	test_enumeration();
	test_disabled();
	test_xsetbv();
	test_save_restore();
	report(xsetbv_v(0, XCR0_X87) == EXC_NONE, "XCR0 back to 1");
	set_cr4(get_cr4() & ~CR4_OSXSAVE);
	report(!(cpuid(1, 0).ecx & ECX_OSXSAVE), "CR4.OSXSAVE cleared: CPUID.1:ECX.OSXSAVE follows");
}
