/* Microarchitecture profile loader: the shipped Sandy Bridge profile, the
 * CPUID and MSR lookups, and rejection of malformed files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "hvsim_config.h"
#include "profile.h"

/* The source tree's copy, so the test needs no install step. */
#define SANDYBRIDGE_YAML HVSIM_SOURCE_DATADIR "/sim/cpu/profiles/sandybridge.yaml"

static struct cpu_profile *load_shipped(void)
{
	struct cpu_profile *p = NULL;
	int rc = profile_load(SANDYBRIDGE_YAML, &p);

	cr_assert_eq(rc, 0, "loading %s failed: %d", SANDYBRIDGE_YAML, rc);
	cr_assert_not_null(p);
	return p;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

static int load_str(const char *text, struct cpu_profile **p)
{
	return profile_load_string(text, strlen(text), "test.yaml", p);
}

/* A valid profile with every class, to which each error test adds or
 * changes one thing. */
#define COSTS                                                                       \
	"costs: {alu: 1, mul: 3, div: 30, load: 4, store: 1, branch: 1, call: 2,\n" \
	"        ret: 2, stack: 1, string: 4, fp: 3, simd: 3, serial: 100,\n"      \
	"        msr: 100, tsc: 28, io: 100, int: 100, nop: 1, pause: 10,\n"        \
	"        hlt: 100, other: 3}\n"
#define MINIMAL "name: t\nfrequency_mhz: 1000\n" COSTS

static void quiet_stderr(void)
{
	/* Error tests print diagnostics by design; keep the log readable. */
	cr_assert_not_null(freopen("/dev/null", "w", stderr));
}

/* ---- the shipped profile ---------------------------------------------- */

Test(profile, shipped_sandybridge_loads_with_its_clock_and_name)
{
	struct cpu_profile *p = load_shipped();

	cr_assert_str_eq(p->name, "sandybridge");
	cr_assert_eq(p->freq_khz, 3400000);
	for (int c = 0; c < COST_NCLASSES; c++)
		cr_assert_gt(p->cost[c], 0, "class %s costs 0 cycles", cost_class_name(c));
	/* Opt. manual: Sandy Bridge L1D load-to-use latency is 4 cycles. */
	cr_assert_eq(p->cost[COST_LOAD], 4);
	profile_free(p);
}

Test(profile, shipped_leaf0_reports_genuineintel_and_max_leaf_0xd)
{
	struct cpu_profile *p = load_shipped();
	uint32_t r[4];
	char vendor[13];

	profile_cpuid(p, 0, 0, r);
	cr_assert_eq(r[0], 0xD);
	memcpy(vendor, &r[1], 4);	/* EBX, EDX, ECX order (SDM Vol. 2A) */
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	cr_assert_str_eq(vendor, "GenuineIntel");
	profile_free(p);
}

Test(profile, shipped_leaf1_is_sandybridge_without_unmodelled_features)
{
	struct cpu_profile *p = load_shipped();
	uint32_t r[4];

	profile_cpuid(p, 1, 0, r);
	cr_assert_eq(r[0], 0x000206A7, "signature %#x", r[0]);
	cr_assert_eq((r[1] >> 8) & 0xff, 8, "CLFLUSH line size field");
	cr_assert_eq(r[1] >> 16, 0, "APIC id/count are filled by the CPU model");
	/* Not modelled: AVX 28; OSXSAVE 27 is CR4's, set at run time;
	 * never the hypervisor bit 31. */
	static const int absent[] = { 27, 28, 31 };
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		cr_assert_eq(r[2] & (1u << absent[i]), 0, "ECX bit %d set", absent[i]);
	/* SSE3 0, MONITOR 3 (emulated), VMX 5, SSSE3 9, CX16 13, SSE4.1 19,
	 * SSE4.2 20, x2APIC 21, POPCNT 23, TSC-deadline 24 (sim/apic), XSAVE
	 * 26 (x87 and SSE state). */
	static const int ecx_present[] = { 0, 3, 5, 9, 13, 19, 20, 21, 23, 24, 26 };
	for (size_t i = 0; i < sizeof(ecx_present) / sizeof(ecx_present[0]); i++)
		cr_assert_neq(r[2] & (1u << ecx_present[i]), 0, "ECX bit %d clear", ecx_present[i]);
	/* FPU 0, TSC 4, MSR 5, PAE 6, CX8 8, APIC 9, SEP 11, MTRR 12, PGE 13,
	 * MCA 14, CMOV 15, PAT 16, CLFSH 19, MMX 23, FXSR 24, SSE 25, SSE2 26. */
	static const int edx_present[] = { 0, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 16, 19, 23, 24, 25, 26 };
	for (size_t i = 0; i < sizeof(edx_present) / sizeof(edx_present[0]); i++)
		cr_assert_neq(r[3] & (1u << edx_present[i]), 0, "EDX bit %d clear", edx_present[i]);
	profile_free(p);
}

Test(profile, shipped_brand_string_is_i7_2600)
{
	struct cpu_profile *p = load_shipped();
	char brand[48];
	const char *s = brand;

	for (uint32_t i = 0; i < 3; i++) {
		uint32_t r[4];

		profile_cpuid(p, 0x80000002 + i, 0, r);
		memcpy(brand + 16 * i, r, 16);
	}
	cr_assert_eq(brand[47], 0, "brand string must be NUL-terminated in 48 bytes");
	while (*s == ' ')
		s++;
	cr_assert_str_eq(s, "Intel(R) Core(TM) i7-2600 CPU @ 3.40GHz");
	profile_free(p);
}

Test(profile, shipped_extended_leaves_report_address_sizes_and_features)
{
	struct cpu_profile *p = load_shipped();
	uint32_t r[4];

	profile_cpuid(p, 0x80000000, 0, r);
	cr_assert_eq(r[0], 0x80000008);
	profile_cpuid(p, 0x80000001, 0, r);
	cr_assert_neq(r[3] & (1u << 29), 0, "LM");
	cr_assert_neq(r[3] & (1u << 20), 0, "NX");
	cr_assert_neq(r[3] & (1u << 11), 0, "SYSCALL");
	cr_assert_neq(r[3] & (1u << 27), 0, "RDTSCP");
	cr_assert_neq(r[2] & 1u, 0, "LAHF");
	profile_cpuid(p, 0x80000007, 0, r);
	cr_assert_neq(r[3] & (1u << 8), 0, "invariant TSC");
	profile_cpuid(p, 0x80000008, 0, r);
	cr_assert_eq(r[0] & 0xff, 36);
	cr_assert_eq((r[0] >> 8) & 0xff, 48);
	profile_free(p);
}

Test(profile, shipped_leaf4_describes_an_8mib_l3_and_terminates)
{
	struct cpu_profile *p = load_shipped();
	uint32_t r[4];
	uint64_t ways, parts, line, sets;

	profile_cpuid(p, 4, 3, r);
	cr_assert_eq(r[0] & 0x1f, 3, "unified cache");
	cr_assert_eq((r[0] >> 5) & 7, 3, "level 3");
	ways = (r[1] >> 22) + 1;
	parts = ((r[1] >> 12) & 0x3ff) + 1;
	line = (r[1] & 0xfff) + 1;
	sets = (uint64_t)r[2] + 1;
	cr_assert_eq(ways * parts * line * sets, 8u << 20);
	profile_cpuid(p, 4, 4, r);
	cr_assert_eq(r[0] & 0x1f, 0, "subleaf 4 is the null terminator");
	profile_free(p);
}

Test(profile, shipped_leaf_above_max_answers_as_highest_basic_leaf)
{
	struct cpu_profile *p = load_shipped();
	uint32_t top[4], r[4];

	profile_cpuid(p, 0xD, 0, top);
	profile_cpuid(p, 0x20, 0, r);
	cr_assert_arr_eq(r, top, sizeof(r));
	profile_cpuid(p, 0x80000009, 0, r);
	cr_assert_arr_eq(r, top, sizeof(r));
	profile_free(p);
}

Test(profile, shipped_msrs_have_architectural_reset_values_and_masks)
{
	struct cpu_profile *p = load_shipped();
	const struct profile_msr *m;

	m = profile_find_msr(p, 0x1B);
	cr_assert_not_null(m);
	cr_assert_str_eq(m->name, "IA32_APIC_BASE");
	cr_assert_eq(m->reset, 0xFEE00900);
	cr_assert_eq(m->write_mask & (1u << 8), 0, "BSP flag is read-only");
	cr_assert_neq(m->write_mask & (1u << 11), 0, "global enable is writable");

	m = profile_find_msr(p, 0xC0000080);
	cr_assert_not_null(m);
	cr_assert_eq(m->write_mask, 0xD01);

	m = profile_find_msr(p, 0x277);
	cr_assert_not_null(m);
	cr_assert_eq(m->reset, 0x0007040600070406ull);

	m = profile_find_msr(p, 0xFE);
	cr_assert_not_null(m);
	cr_assert_neq(m->flags & PROFILE_MSR_RO, 0);

	m = profile_find_msr(p, 0xC0000103);
	cr_assert_not_null(m);
	cr_assert_eq(m->write_mask, 0xFFFFFFFF);

	/* VMX: BASIC with revision 0x10 and TRUE controls, read-only. */
	m = profile_find_msr(p, 0x480);
	cr_assert_not_null(m);
	cr_assert_eq(m->reset & 0x7fffffff, 0x10);
	cr_assert_neq(m->reset & (1ull << 55), 0);
	cr_assert_neq(m->flags & PROFILE_MSR_RO, 0);
	m = profile_find_msr(p, 0x3A);
	cr_assert_not_null(m);
	cr_assert_eq(m->write_mask, 0x5, "lock and VMX outside SMX; no SMX");
	cr_assert(p->has_vmx);
	cr_assert_eq(p->vmx_cost[VMX_COST_EXIT] + p->vmx_cost[VMX_COST_ENTRY], 784, "ATC 2012 Sandy Bridge round trip");
	cr_assert_null(profile_find_msr(p, 0xFFFFFFFF));
	cr_assert_null(profile_find_msr(NULL, 0x10));
	profile_free(p);
}

Test(profile, shipped_mtrrcap_count_matches_listed_variable_mtrrs)
{
	struct cpu_profile *p = load_shipped();
	const struct profile_msr *cap = profile_find_msr(p, 0xFE);
	unsigned vcnt;

	cr_assert_not_null(cap);
	vcnt = cap->reset & 0xff;
	cr_assert_eq(vcnt, 10);
	for (unsigned i = 0; i < vcnt; i++) {
		cr_assert_not_null(profile_find_msr(p, 0x200 + 2 * i), "PHYSBASE%u", i);
		cr_assert_not_null(profile_find_msr(p, 0x201 + 2 * i), "PHYSMASK%u", i);
	}
	cr_assert_null(profile_find_msr(p, 0x200 + 2 * vcnt));
	profile_free(p);
}

Test(profile, find_msr_finds_every_entry_after_sorting)
{
	struct cpu_profile *p = NULL;
	const char *y = MINIMAL
		"msrs:\n"
		"  - { index: 0xC0000080, name: C, reset: 3, write_mask: 0 }\n"
		"  - { index: 0x10, name: A, reset: 1, write_mask: 0 }\n"
		"  - { index: 0x1B, name: B, reset: 2, read_only: true }\n";

	cr_assert_eq(load_str(y, &p), 0);
	cr_assert_eq(p->nmsrs, 3);
	cr_assert_eq(profile_find_msr(p, 0x10)->reset, 1);
	cr_assert_eq(profile_find_msr(p, 0x1B)->reset, 2);
	cr_assert_eq(profile_find_msr(p, 0x1B)->flags, PROFILE_MSR_RO);
	cr_assert_eq(profile_find_msr(p, 0xC0000080)->reset, 3);
	cr_assert_null(profile_find_msr(p, 0x11));
	profile_free(p);
}

/* ---- CPUID semantics on a hand-made table ------------------------------ */

static const char cpuid_yaml[] = MINIMAL
	"cpuid:\n"
	"  - { leaf: 0, eax: 2, ebx: 0, ecx: 0, edx: 0 }\n"
	"  - { leaf: 2, eax: 0x22, ebx: 0x33, ecx: 0x44, edx: 0x55 }\n"
	"  - { leaf: 2, subleaf: 1, eax: 0x66, ebx: 0, ecx: 0, edx: 0 }\n"
	"  - { leaf: 0x80000000, eax: 0x80000001, ebx: 0, ecx: 0, edx: 0 }\n"
	"  - { leaf: 0x80000001, eax: 0x77, ebx: 0, ecx: 0, edx: 0 }\n";

Test(profile, cpuid_unlisted_leaf_in_range_reads_zero)
{
	struct cpu_profile *p = NULL;
	uint32_t r[4] = { 1, 1, 1, 1 };

	cr_assert_eq(load_str(cpuid_yaml, &p), 0);
	profile_cpuid(p, 1, 0, r);
	cr_assert(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0);
	profile_free(p);
}

Test(profile, cpuid_above_either_maximum_answers_as_highest_basic_leaf)
{
	struct cpu_profile *p = NULL;
	uint32_t r[4];
	static const uint32_t leaves[] = { 3, 0x7fffffff, 0x40000000, 0x80000002, 0xffffffff };

	cr_assert_eq(load_str(cpuid_yaml, &p), 0);
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		profile_cpuid(p, leaves[i], 0, r);
		cr_assert_eq(r[0], 0x22, "leaf %#x", leaves[i]);
		cr_assert_eq(r[3], 0x55, "leaf %#x", leaves[i]);
	}
	/* ...with the same subleaf, as hardware passes ECX through. */
	profile_cpuid(p, 0x40000000, 1, r);
	cr_assert_eq(r[0], 0x66);
	profile_cpuid(p, 0x80000001, 0, r);
	cr_assert_eq(r[0], 0x77, "within the extended range");
	profile_free(p);
}

Test(profile, cpuid_specific_subleaf_wins_over_any_subleaf_entry)
{
	struct cpu_profile *p = NULL;
	uint32_t r[4];

	cr_assert_eq(load_str(cpuid_yaml, &p), 0);
	profile_cpuid(p, 2, 1, r);
	cr_assert_eq(r[0], 0x66);
	profile_cpuid(p, 2, 7, r);
	cr_assert_eq(r[0], 0x22);
	profile_free(p);
}

Test(profile, cpuid_on_an_empty_table_or_null_profile_reads_zero)
{
	struct cpu_profile *p = NULL;
	uint32_t r[4] = { 9, 9, 9, 9 };

	cr_assert_eq(load_str(MINIMAL, &p), 0);
	profile_cpuid(p, 0, 0, r);
	cr_assert(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0);
	r[0] = 9;
	profile_cpuid(NULL, 0, 0, r);
	cr_assert_eq(r[0], 0);
	profile_free(p);
}

/* ---- accepted syntax --------------------------------------------------- */

Test(profile, frequency_khz_and_hex_numbers_are_accepted)
{
	struct cpu_profile *p = NULL;
	const char *y = "name: t\ndescription: \"a test\"\nfrequency_khz: 0x10\n" COSTS;

	cr_assert_eq(load_str(y, &p), 0);
	cr_assert_eq(p->freq_khz, 16);
	cr_assert_str_eq(p->description, "a test");
	profile_free(p);
}

Test(profile, apic_timer_clock_defaults_to_100_mhz_and_can_be_given)
{
	struct cpu_profile *p = NULL;

	cr_assert_eq(load_str("name: t\nfrequency_mhz: 1000\n" COSTS, &p), 0);
	cr_assert_eq(p->apic_timer_khz, 100000);
	profile_free(p);
	cr_assert_eq(load_str("name: t\nfrequency_mhz: 1000\napic_timer_mhz: 133\n" COSTS, &p), 0);
	cr_assert_eq(p->apic_timer_khz, 133000);
	profile_free(p);
	p = load_shipped();
	cr_assert_eq(p->apic_timer_khz, 100000, "Sandy Bridge BCLK");
	profile_free(p);
}

Test(profile, cost_class_names_are_the_yaml_keys)
{
	cr_assert_str_eq(cost_class_name(COST_ALU), "alu");
	cr_assert_str_eq(cost_class_name(COST_SERIAL), "serial");
	cr_assert_str_eq(cost_class_name(COST_OTHER), "other");
	cr_assert_str_eq(cost_class_name(COST_NCLASSES), "invalid");
	for (int c = 0; c < COST_NCLASSES; c++)
		cr_assert_not_null(strstr(COSTS, cost_class_name(c)), "%s", cost_class_name(c));
}

/* ---- rejected files ---------------------------------------------------- */

static void assert_rejected(const char *yaml)
{
	struct cpu_profile *p = (struct cpu_profile *)1;

	cr_assert_eq(load_str(yaml, &p), -EINVAL, "accepted:\n%s", yaml);
	cr_assert_null(p);
}

Test(profile, unknown_keys_are_rejected, .init = quiet_stderr)
{
	assert_rejected(MINIMAL "colour: blue\n");
	assert_rejected("name: t\nfrequency_mhz: 1\n"
			"costs: {alu: 1, mul: 3, div: 30, load: 4, store: 1, branch: 1, call: 2,\n"
			"        ret: 2, stack: 1, string: 4, fp: 3, simd: 3, serial: 100,\n"
			"        msr: 100, tsc: 28, io: 100, int: 100, nop: 1, pause: 10,\n"
			"        hlt: 100, other: 3, jmp: 1}\n");
	assert_rejected(MINIMAL "cpuid:\n  - { leaf: 0, eax: 0, ebx: 0, ecx: 0, edx: 0, esi: 0 }\n");
	assert_rejected(MINIMAL "msrs:\n  - { index: 0x10, name: T, reset: 0, write_mask: 0, rw: 1 }\n");
}

Test(profile, missing_required_keys_are_rejected, .init = quiet_stderr)
{
	assert_rejected("frequency_mhz: 1000\n" COSTS);
	assert_rejected("name: t\n" COSTS);
	assert_rejected("name: t\nfrequency_mhz: 1000\n");
	assert_rejected(MINIMAL "cpuid:\n  - { leaf: 1, eax: 0, ebx: 0, ecx: 0 }\n");
	assert_rejected(MINIMAL "msrs:\n  - { index: 0x10, reset: 0, write_mask: 0 }\n");
	assert_rejected(MINIMAL "msrs:\n  - { index: 0x10, name: T, reset: 0 }\n");
}

Test(profile, missing_cost_class_is_rejected, .init = quiet_stderr)
{
	assert_rejected("name: t\nfrequency_mhz: 1000\n"
			"costs: {alu: 1, mul: 3, div: 30, load: 4, store: 1, branch: 1, call: 2,\n"
			"        ret: 2, stack: 1, string: 4, fp: 3, simd: 3, serial: 100,\n"
			"        msr: 100, tsc: 28, io: 100, int: 100, nop: 1, pause: 10,\n"
			"        other: 3}\n");
}

Test(profile, bad_numbers_are_rejected, .init = quiet_stderr)
{
	static const char *const bad[] = {
		"-1", "12abc", "0x", "0xG1", "1.5", "\"5\"", "'5'", "010", "true", "[1]", "{a: 1}", "~",
		"99999999999999999999", "0x10000000000000000",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char y[1024];

		snprintf(y, sizeof(y), "name: t\nfrequency_mhz: 1000\n" COSTS "msrs:\n"
			 "  - { index: 0x10, name: T, reset: %s, write_mask: 0 }\n", bad[i]);
		assert_rejected(y);
	}
}

Test(profile, numbers_that_do_not_fit_their_field_are_rejected, .init = quiet_stderr)
{
	/* index, cpuid registers and costs are 32-bit; costs are capped. */
	assert_rejected(MINIMAL "msrs:\n  - { index: 0x100000000, name: T, reset: 0, write_mask: 0 }\n");
	assert_rejected(MINIMAL "cpuid:\n  - { leaf: 0, eax: 0x100000000, ebx: 0, ecx: 0, edx: 0 }\n");
	assert_rejected("name: t\nfrequency_mhz: 18446744073709552\n" COSTS);
	assert_rejected("name: t\nfrequency_mhz: 1000\n"
			"costs: {alu: 4294967296, mul: 3, div: 30, load: 4, store: 1, branch: 1, call: 2,\n"
			"        ret: 2, stack: 1, string: 4, fp: 3, simd: 3, serial: 100,\n"
			"        msr: 100, tsc: 28, io: 100, int: 100, nop: 1, pause: 10,\n"
			"        hlt: 100, other: 3}\n");
}

Test(profile, zero_or_doubled_frequency_is_rejected, .init = quiet_stderr)
{
	assert_rejected("name: t\nfrequency_mhz: 0\n" COSTS);
	assert_rejected("name: t\nfrequency_khz: 0\n" COSTS);
	assert_rejected("name: t\nfrequency_mhz: 1\nfrequency_khz: 1000\n" COSTS);
}

Test(profile, zero_apic_timer_clock_is_rejected, .init = quiet_stderr)
{
	assert_rejected("name: t\nfrequency_mhz: 1\napic_timer_mhz: 0\n" COSTS);
}

Test(profile, duplicates_are_rejected, .init = quiet_stderr)
{
	assert_rejected(MINIMAL "msrs:\n"
			"  - { index: 0x10, name: A, reset: 0, write_mask: 0 }\n"
			"  - { index: 0x10, name: B, reset: 0, write_mask: 0 }\n");
	assert_rejected(MINIMAL "cpuid:\n"
			"  - { leaf: 0, eax: 4, ebx: 0, ecx: 0, edx: 0 }\n"
			"  - { leaf: 4, subleaf: 1, eax: 0, ebx: 0, ecx: 0, edx: 0 }\n"
			"  - { leaf: 4, subleaf: 1, eax: 1, ebx: 0, ecx: 0, edx: 0 }\n");
	assert_rejected(MINIMAL "cpuid:\n"
			"  - { leaf: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 }\n"
			"  - { leaf: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 }\n");
	assert_rejected("name: t\nname: u\nfrequency_mhz: 1000\n" COSTS);
}

Test(profile, inconsistent_entries_are_rejected, .init = quiet_stderr)
{
	/* A read-only MSR cannot also have writable bits. */
	assert_rejected(MINIMAL "msrs:\n  - { index: 0xFE, name: C, reset: 0, write_mask: 1, read_only: true }\n");
	assert_rejected(MINIMAL "msrs:\n  - { index: 0xFE, name: C, reset: 0, read_only: yes }\n");
	/* Leaf 5 is above the maximum basic leaf 2: CPUID could never return it. */
	assert_rejected(MINIMAL "cpuid:\n"
			"  - { leaf: 0, eax: 2, ebx: 0, ecx: 0, edx: 0 }\n"
			"  - { leaf: 5, eax: 0, ebx: 0, ecx: 0, edx: 0 }\n");
	assert_rejected(MINIMAL "cpuid:\n  - { leaf: 0x80000000, eax: 5, ebx: 0, ecx: 0, edx: 0 }\n");
	/* Strings that do not fit their fields. */
	assert_rejected("name: a-name-that-is-much-longer-than-forty-seven-characters\nfrequency_mhz: 1\n" COSTS);
	assert_rejected(MINIMAL "msrs:\n  - { index: 1, name: A_VERY_LONG_MSR_NAME_THAT_DOES_NOT_FIT_IN_40, reset: 0, write_mask: 0 }\n");
}

Test(profile, wrong_shapes_are_rejected, .init = quiet_stderr)
{
	assert_rejected("");
	assert_rejected("# only a comment\n");
	assert_rejected("- a\n- b\n");
	assert_rejected("just a scalar\n");
	assert_rejected("name: t\nfrequency_mhz: 1000\ncosts: 5\n");
	assert_rejected(MINIMAL "cpuid: {leaf: 0}\n");
	assert_rejected(MINIMAL "msrs: [1, 2]\n");
	assert_rejected(MINIMAL "---\nname: u\n");
	assert_rejected("name: &a t\nfrequency_mhz: 1000\ndescription: *a\n" COSTS);
	assert_rejected("name: [t]\nfrequency_mhz: 1000\n" COSTS);
	assert_rejected("name:\nfrequency_mhz: 1000\n" COSTS);
	assert_rejected("? [complex, key]\n: 1\n");
	assert_rejected("name: \"unterminated\nfrequency_mhz: 1\n");
	assert_rejected("name: t\n  bad: indentation\n");
}

Test(profile, error_names_file_line_and_column, .init = cr_redirect_stderr)
{
	struct cpu_profile *p = NULL;
	char line[256] = "";
	const char *y = "name: t\n"
			"frequency_mhz: 1000\n"
			"costs:\n"
			"  alu: 1\n"
			"  bogus: 2\n";

	cr_assert_eq(profile_load_string(y, strlen(y), "mine.yaml", &p), -EINVAL);
	fflush(stderr);
	cr_assert_not_null(fgets(line, sizeof(line), cr_get_redirected_stderr()));
	cr_assert_str_eq(line, "mine.yaml:5:3: unknown key 'bogus' in costs\n");
}

Test(profile, missing_file_is_an_errno, .init = quiet_stderr)
{
	struct cpu_profile *p = (struct cpu_profile *)1;

	cr_assert_eq(profile_load("/nonexistent/hvsim/profile.yaml", &p), -ENOENT);
	cr_assert_null(p);
	cr_assert_lt(profile_load("/", &p), 0, "a directory is not a profile");
	cr_assert_eq(profile_load(NULL, &p), -EINVAL);
	cr_assert_eq(profile_load_string(MINIMAL, strlen(MINIMAL), "x", NULL), -EINVAL);
}

/* ---- robustness -------------------------------------------------------- */

Test(profile, every_truncation_of_the_shipped_file_loads_or_fails_cleanly, .init = quiet_stderr)
{
	size_t len;
	char *text = read_file(SANDYBRIDGE_YAML, &len);
	unsigned ok = 0;

	for (size_t n = 0; n <= len; n++) {
		struct cpu_profile *p = NULL;
		int rc = profile_load_string(text, n, "cut.yaml", &p);

		cr_assert(rc == 0 || rc == -EINVAL, "prefix %zu: rc %d", n, rc);
		cr_assert_eq(rc == 0, p != NULL);
		ok += rc == 0;
		profile_free(p);
	}
	/* The whole file, at least, is valid. */
	cr_assert_geq(ok, 1);
	free(text);
}

Test(profile, corrupted_and_random_input_never_crashes, .init = quiet_stderr)
{
	size_t len;
	char *text = read_file(SANDYBRIDGE_YAML, &len);
	char *mut = malloc(len);
	static const char junk[] = { 0, '\t', '\n', ':', '-', '[', '{', '"', '\'', '&', '*', '!', '%', '|',
				     '>', '#', ',', '?', (char)0xff, (char)0xc3 };
	uint32_t seed = 12345;

	cr_assert_not_null(mut);
	for (unsigned i = 0; i < 3000; i++) {
		struct cpu_profile *p = NULL;
		int rc;

		memcpy(mut, text, len);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			mut[(seed >> 8) % len] = junk[(seed >> 3) % sizeof(junk)];
		}
		rc = profile_load_string(mut, len, "mut.yaml", &p);
		cr_assert(rc == 0 || rc == -EINVAL);
		profile_free(p);
	}
	for (unsigned i = 0; i < 2000; i++) {
		struct cpu_profile *p = NULL;
		char buf[300];
		size_t n = i % sizeof(buf);

		for (size_t k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[k] = (char)(seed >> 16);
		}
		cr_assert(profile_load_string(buf, n, "rand.yaml", &p) == -EINVAL || p);
		profile_free(p);
	}
	free(mut);
	free(text);
}
