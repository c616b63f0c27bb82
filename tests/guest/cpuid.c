/* CPUID as the default profile (sim/cpu/profiles/sandybridge.yaml,
 * an Intel Core i7-2600) must answer it: vendor, family/model/stepping,
 * feature bits present and absent, brand string, and the Intel rule that
 * a leaf above the maximum answers as the highest basic leaf (SDM Vol. 2A,
 * CPUID, "INPUT EAX = 0").  On other CPUs the profile-specific checks
 * fail by design. */
#include "guest.h"

#define EXPECT_LEAF1_EAX 0x000206a7u	/* family 6, model 0x2A, stepping 7 */
#define EXPECT_BRAND "Intel(R) Core(TM) i7-2600 CPU @ 3.40GHz"

/* CPUID.1:EDX / ECX and CPUID.80000001H:EDX bits (SDM Vol. 2A tables 3-10, 3-11) */
#define EDX_FPU (1u << 0)
#define EDX_TSC (1u << 4)
#define EDX_MSR (1u << 5)
#define EDX_PAE (1u << 6)
#define EDX_CX8 (1u << 8)
#define EDX_APIC (1u << 9)
#define EDX_SSE2 (1u << 26)
#define ECX_VMX (1u << 5)
#define ECX_X2APIC (1u << 21)
#define ECX_XSAVE (1u << 26)
#define ECX_HYPERVISOR (1u << 31)
#define EXT_EDX_NX (1u << 20)
#define EXT_EDX_LM (1u << 29)

static void test_vendor(void)
{
	struct cpuid_regs r = cpuid(0, 0);
	char vendor[13];

	memcpy(vendor, &r.ebx, 4);
	memcpy(vendor + 4, &r.edx, 4);
	memcpy(vendor + 8, &r.ecx, 4);
	vendor[12] = 0;
	report(!strcmp(vendor, "GenuineIntel"), "vendor \"%s\"", vendor);
	report(r.eax >= 1, "maximum basic leaf 0x%x", r.eax);
}

static void test_leaf1(void)
{
	struct cpuid_regs r = cpuid(1, 0);
	uint32_t family = (r.eax >> 8) & 0xf, model = (r.eax >> 4) & 0xf;

	/* Display family/model (SDM Vol. 2A, CPUID, figure 3-6): the extended
	 * model applies to families 6 and 15. */
	if (family == 6 || family == 15)
		model |= ((r.eax >> 16) & 0xf) << 4;
	if (family == 15)
		family += (r.eax >> 20) & 0xff;
	report(r.eax == EXPECT_LEAF1_EAX, "leaf 1 EAX 0x%x", r.eax);
	report(family == 6 && model == 0x2a && (r.eax & 0xf) == 7,
	       "family %u model 0x%x stepping %u", family, model, r.eax & 0xf);
	report((r.edx & (EDX_FPU | EDX_TSC | EDX_MSR | EDX_PAE | EDX_CX8 | EDX_APIC | EDX_SSE2)) ==
		       (EDX_FPU | EDX_TSC | EDX_MSR | EDX_PAE | EDX_CX8 | EDX_APIC | EDX_SSE2),
	       "leaf 1 EDX 0x%08x has FPU TSC MSR PAE CX8 APIC SSE2", r.edx);
	report(r.ecx & ECX_VMX, "leaf 1 ECX 0x%08x: VMX", r.ecx);
	report(r.ecx & ECX_X2APIC, "leaf 1: x2APIC");
	report(r.ecx & (1u << 24), "leaf 1: TSC-deadline timer");
	report(r.ecx & ECX_XSAVE, "leaf 1: XSAVE (x87 and SSE state: tests/guest/xsave.c)");
	report(!(r.ecx & ECX_HYPERVISOR), "leaf 1: hypervisor-present bit clear");
	/* EBX[31:24] is the initial APIC ID: 0 on the BSP. */
	report((r.ebx >> 24) == 0, "leaf 1: initial APIC ID 0 on the BSP");
}

static void test_extended(void)
{
	uint32_t max = cpuid(0x80000000, 0).eax;
	struct cpuid_regs r;
	char brand[49];
	const char *b = brand;

	report(max >= 0x80000004, "maximum extended leaf 0x%x covers the brand string", max);
	if (max < 0x80000004)
		return;
	r = cpuid(0x80000001, 0);
	report(r.edx & EXT_EDX_LM, "0x80000001 EDX 0x%08x has LM", r.edx);
	report(r.edx & EXT_EDX_NX, "0x80000001 EDX has NX");
	for (uint32_t i = 0; i < 3; i++) {
		r = cpuid(0x80000002 + i, 0);
		memcpy(brand + 16 * i, &r, 16);
	}
	brand[48] = 0;
	while (*b == ' ')	/* Intel right-justifies some brand strings */
		b++;
	report(!strcmp(b, EXPECT_BRAND), "brand \"%s\"", b);
}

static void test_above_max(void)
{
	uint32_t max = cpuid(0, 0).eax, emax = cpuid(0x80000000, 0).eax;
	struct cpuid_regs top = cpuid(max, 0), above = cpuid(max + 1, 0), eabove;

	report(!memcmp(&top, &above, sizeof(top)),
	       "leaf 0x%x (above max) answers as leaf 0x%x: %08x %08x %08x %08x", max + 1, max,
	       above.eax, above.ebx, above.ecx, above.edx);
	eabove = cpuid(emax + 1, 0);
	report(!memcmp(&top, &eabove, sizeof(top)),
	       "leaf 0x%x (above extended max) answers as leaf 0x%x", emax + 1, max);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	test_vendor();
	test_leaf1();
	test_extended();
	test_above_max();
}
