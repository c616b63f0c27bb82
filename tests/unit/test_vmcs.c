/* The VMCS field table: encodings against SDM Vol. 3D Appendix B values
 * typed here independently, the table's own consistency (order, slots,
 * widths and types against the encoding bits), encoding validation,
 * VMREAD/VMWRITE width semantics, the region layout and the names. */
#include <ctype.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "hv/vmx.h"
#include "vmcs.h"

/* Encodings as printed in the Appendix B tables. */
static const struct {
	uint32_t enc;
	const char *name;
	uint8_t width, type;
} sdm_fields[] = {
	{ 0x0000, "vpid", VMCS_WIDTH_16, VMCS_TYPE_CONTROL },
	{ 0x0002, "posted_intr_nv", VMCS_WIDTH_16, VMCS_TYPE_CONTROL },
	{ 0x0800, "guest_es_selector", VMCS_WIDTH_16, VMCS_TYPE_GUEST },
	{ 0x080e, "guest_tr_selector", VMCS_WIDTH_16, VMCS_TYPE_GUEST },
	{ 0x0812, "guest_pml_index", VMCS_WIDTH_16, VMCS_TYPE_GUEST },
	{ 0x0c0c, "host_tr_selector", VMCS_WIDTH_16, VMCS_TYPE_HOST },
	{ 0x2000, "io_bitmap_a", VMCS_WIDTH_64, VMCS_TYPE_CONTROL },
	{ 0x2004, "msr_bitmap", VMCS_WIDTH_64, VMCS_TYPE_CONTROL },
	{ 0x2010, "tsc_offset", VMCS_WIDTH_64, VMCS_TYPE_CONTROL },
	{ 0x2012, "virtual_apic_page_addr", VMCS_WIDTH_64, VMCS_TYPE_CONTROL },
	{ 0x201a, "ept_pointer", VMCS_WIDTH_64, VMCS_TYPE_CONTROL },
	{ 0x2024, "eptp_list_addr", VMCS_WIDTH_64, VMCS_TYPE_CONTROL },
	{ 0x2032, "tsc_multiplier", VMCS_WIDTH_64, VMCS_TYPE_CONTROL },
	{ 0x2400, "guest_physical_address", VMCS_WIDTH_64, VMCS_TYPE_EXIT_INFO },
	{ 0x2800, "link_pointer", VMCS_WIDTH_64, VMCS_TYPE_GUEST },
	{ 0x2806, "guest_ia32_efer", VMCS_WIDTH_64, VMCS_TYPE_GUEST },
	{ 0x2810, "guest_pdpte3", VMCS_WIDTH_64, VMCS_TYPE_GUEST },
	{ 0x2c02, "host_ia32_efer", VMCS_WIDTH_64, VMCS_TYPE_HOST },
	{ 0x4000, "pin_based_ctls", VMCS_WIDTH_32, VMCS_TYPE_CONTROL },
	{ 0x4002, "proc_based_ctls", VMCS_WIDTH_32, VMCS_TYPE_CONTROL },
	{ 0x4012, "entry_ctls", VMCS_WIDTH_32, VMCS_TYPE_CONTROL },
	{ 0x401e, "proc_based_ctls2", VMCS_WIDTH_32, VMCS_TYPE_CONTROL },
	{ 0x4400, "vm_instruction_error", VMCS_WIDTH_32, VMCS_TYPE_EXIT_INFO },
	{ 0x4402, "exit_reason", VMCS_WIDTH_32, VMCS_TYPE_EXIT_INFO },
	{ 0x440e, "exit_instruction_info", VMCS_WIDTH_32, VMCS_TYPE_EXIT_INFO },
	{ 0x4816, "guest_cs_ar_bytes", VMCS_WIDTH_32, VMCS_TYPE_GUEST },
	{ 0x4824, "guest_interruptibility", VMCS_WIDTH_32, VMCS_TYPE_GUEST },
	{ 0x482e, "preemption_timer_value", VMCS_WIDTH_32, VMCS_TYPE_GUEST },
	{ 0x4c00, "host_ia32_sysenter_cs", VMCS_WIDTH_32, VMCS_TYPE_HOST },
	{ 0x6000, "cr0_guest_host_mask", VMCS_WIDTH_NATURAL, VMCS_TYPE_CONTROL },
	{ 0x600e, "cr3_target_value3", VMCS_WIDTH_NATURAL, VMCS_TYPE_CONTROL },
	{ 0x6400, "exit_qualification", VMCS_WIDTH_NATURAL, VMCS_TYPE_EXIT_INFO },
	{ 0x640a, "guest_linear_address", VMCS_WIDTH_NATURAL, VMCS_TYPE_EXIT_INFO },
	{ 0x6800, "guest_cr0", VMCS_WIDTH_NATURAL, VMCS_TYPE_GUEST },
	{ 0x681c, "guest_rsp", VMCS_WIDTH_NATURAL, VMCS_TYPE_GUEST },
	{ 0x681e, "guest_rip", VMCS_WIDTH_NATURAL, VMCS_TYPE_GUEST },
	{ 0x6820, "guest_rflags", VMCS_WIDTH_NATURAL, VMCS_TYPE_GUEST },
	{ 0x6826, "guest_sysenter_eip", VMCS_WIDTH_NATURAL, VMCS_TYPE_GUEST },
	{ 0x6828, "guest_s_cet", VMCS_WIDTH_NATURAL, VMCS_TYPE_GUEST },
	{ 0x6c00, "host_cr0", VMCS_WIDTH_NATURAL, VMCS_TYPE_HOST },
	{ 0x6c14, "host_rsp", VMCS_WIDTH_NATURAL, VMCS_TYPE_HOST },
	{ 0x6c16, "host_rip", VMCS_WIDTH_NATURAL, VMCS_TYPE_HOST },
};

Test(vmcs, encodings_match_sdm_appendix_b)
{
	/* The header's names for the same fields. */
	cr_assert_eq(VMCS_GUEST_RIP, 0x681e);
	cr_assert_eq(VMCS_LINK_POINTER, 0x2800);
	cr_assert_eq(VMCS_EXIT_REASON, 0x4402);
	cr_assert_eq(VMCS_EPT_POINTER, 0x201a);
	cr_assert_eq(VMCS_TSC_OFFSET, 0x2010);
	cr_assert_eq(VMCS_GUEST_ES_SELECTOR, 0x0800);
	cr_assert_eq(VMCS_HOST_RIP, 0x6c16);
	cr_assert_eq(VMCS_VPID, 0x0000);
	cr_assert_eq(VMCS_GUEST_INTR_STATUS, 0x0810);
	cr_assert_eq(VMCS_POSTED_INTR_DESC_ADDR, 0x2016);
	cr_assert_eq(VMCS_VMREAD_BITMAP, 0x2026);
	cr_assert_eq(VMCS_VE_INFO_ADDR, 0x202a);
	cr_assert_eq(VMCS_XSS_EXIT_BITMAP, 0x202c);
	cr_assert_eq(VMCS_GUEST_IA32_PERF_GLOBAL_CTRL, 0x2808);
	cr_assert_eq(VMCS_GUEST_IA32_BNDCFGS, 0x2812);
	cr_assert_eq(VMCS_PLE_WINDOW, 0x4022);
	cr_assert_eq(VMCS_IDT_VECTORING_INFO, 0x4408);
	cr_assert_eq(VMCS_GUEST_SMBASE, 0x4828);
	cr_assert_eq(VMCS_GUEST_ACTIVITY_STATE, 0x4826);
	cr_assert_eq(VMCS_IO_RIP, 0x6408);
	cr_assert_eq(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0x6822);
	cr_assert_eq(VMCS_HOST_IA32_SYSENTER_EIP, 0x6c12);

	/* And the table's entries. */
	for (size_t i = 0; i < sizeof(sdm_fields) / sizeof(sdm_fields[0]); i++) {
		const struct vmcs_field *f = vmcs_field_find(sdm_fields[i].enc);

		cr_assert_not_null(f, "no field for %#x (%s)", sdm_fields[i].enc, sdm_fields[i].name);
		cr_assert_eq(f->encoding, sdm_fields[i].enc);
		cr_assert_str_eq(f->name, sdm_fields[i].name);
		cr_assert_eq(f->width, sdm_fields[i].width, "%s", f->name);
		cr_assert_eq(f->type, sdm_fields[i].type, "%s", f->name);
	}
}

Test(vmcs, widths_and_types_agree_with_encoding)
{
	for (size_t i = 0; i < vmcs_field_count(); i++) {
		const struct vmcs_field *f = vmcs_field_at(i);

		cr_assert_eq(f->width, (f->encoding >> 13) & 3, "%s %#x", f->name, f->encoding);
		cr_assert_eq(f->type, (f->encoding >> 10) & 3, "%s %#x", f->name, f->encoding);
		cr_assert_eq(f->encoding & 1, 0, "%s: full encodings are even", f->name);
		cr_assert_eq(f->encoding & 0xffff9000u, 0, "%s: reserved bits", f->name);
	}
	cr_assert_null(vmcs_field_at(vmcs_field_count()));
}

Test(vmcs, table_sorted_and_unique)
{
	cr_assert_eq(vmcs_field_count(), VMCS_NSLOTS);
	for (size_t i = 1; i < vmcs_field_count(); i++)
		cr_assert_lt(vmcs_field_at(i - 1)->encoding, vmcs_field_at(i)->encoding,
			     "%s before %s", vmcs_field_at(i - 1)->name, vmcs_field_at(i)->name);
}

Test(vmcs, every_slot_used_exactly_once)
{
	unsigned char used[VMCS_NSLOTS] = { 0 };

	for (size_t i = 0; i < vmcs_field_count(); i++) {
		const struct vmcs_field *f = vmcs_field_at(i);

		cr_assert_lt(f->slot, VMCS_NSLOTS, "%s", f->name);
		cr_assert_eq(used[f->slot], 0, "slot %u used twice (%s)", f->slot, f->name);
		used[f->slot] = 1;
		cr_assert_eq(vmcs_slot(f->encoding), f->slot, "%s", f->name);
	}
	for (unsigned s = 0; s < VMCS_NSLOTS; s++)
		cr_assert_eq(used[s], 1, "slot %u unused", s);
}

/* Constant encodings take the inlined switch, others the index. */
Test(vmcs, slot_of_constant_and_variable_encodings)
{
	volatile uint32_t rip = 0x681e;

	cr_assert_eq(vmcs_slot(VMCS_GUEST_RIP), VMCS_SLOT_GUEST_RIP);
	cr_assert_eq(vmcs_slot(rip), VMCS_SLOT_GUEST_RIP);
	cr_assert_eq(vmcs_slot(VMCS_VPID), 0);
	cr_assert_eq(vmcs_slot(VMCS_HOST_INTR_SSP_TABLE_ADDR), VMCS_NSLOTS - 1);
	cr_assert_eq(vmcs_field_find(0x681e)->slot, VMCS_SLOT_GUEST_RIP);
}

/* vmcs_get() of an encoding hvsim does not know is hvsim's bug. */
Test(vmcs, get_of_unknown_encoding_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
	volatile uint32_t enc = 0x1234;
	struct vmcs v = { { 0 } };

	vmcs_get(&v, enc);
}

Test(vmcs, get_of_high_access_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
	volatile uint32_t enc = VMCS_TSC_OFFSET | 1;
	struct vmcs v = { { 0 } };

	vmcs_get(&v, enc);
}

/* Names are the VMCS_* suffixes in lower case, and unique. */
Test(vmcs, names_follow_header_names)
{
	static const struct { const char *macro, *name; } list[] = {
#define X(n, s, w, t, f) { #n, #s },
		VMCS_FIELD_LIST(X)
#undef X
	};

	cr_assert_eq(sizeof(list) / sizeof(list[0]), vmcs_field_count());
	for (size_t i = 0; i < vmcs_field_count(); i++) {
		char lower[64];
		size_t k;

		for (k = 0; list[i].macro[k] && k < sizeof(lower) - 1; k++)
			lower[k] = (char)tolower((unsigned char)list[i].macro[k]);
		lower[k] = 0;
		cr_assert_str_eq(list[i].name, lower);
		cr_assert_str_eq(vmcs_field_at(i)->name, lower);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(vmcs_field_at(j)->name, lower);
	}
}

Test(vmcs, high_access_only_for_64bit_fields)
{
	for (size_t i = 0; i < vmcs_field_count(); i++) {
		const struct vmcs_field *f = vmcs_field_at(i);

		cr_assert_eq(vmcs_field_find(f->encoding), f, "%s", f->name);
		if (f->width == VMCS_WIDTH_64)
			cr_assert_eq(vmcs_field_find(f->encoding | 1), f, "%s high", f->name);
		else
			cr_assert_null(vmcs_field_find(f->encoding | 1), "%s high", f->name);
	}
	cr_assert_eq(vmcs_field_find(0x2011), vmcs_field_find(VMCS_TSC_OFFSET));
	cr_assert_eq(vmcs_field_find(0x2801), vmcs_field_find(VMCS_LINK_POINTER));
	cr_assert_null(vmcs_field_find(0x681f));	/* natural width */
	cr_assert_null(vmcs_field_find(0x4403));	/* 32-bit */
	cr_assert_null(vmcs_field_find(0x0001));	/* 16-bit */
}

/* Exactly the table's encodings, plus the high accesses, are accepted
 * among all 2^16 values of bits 15:0. */
Test(vmcs, find_accepts_exactly_the_table)
{
	size_t n64 = 0, found = 0;

	for (size_t i = 0; i < vmcs_field_count(); i++)
		n64 += vmcs_field_at(i)->width == VMCS_WIDTH_64;
	for (uint32_t e = 0; e <= 0xffff; e++) {
		const struct vmcs_field *f = vmcs_field_find(e);

		if (!f)
			continue;
		found++;
		cr_assert_eq(f->encoding, e & ~1u, "%#x found %s", e, f->name);
	}
	cr_assert_eq(found, vmcs_field_count() + n64);
}

Test(vmcs, reserved_encoding_bits_rejected)
{
	cr_assert_not_null(vmcs_field_find(0x681e));
	cr_assert_null(vmcs_field_find(0x681e | 0x1000));	/* bit 12 */
	cr_assert_null(vmcs_field_find(0x681e | 0x8000));	/* bit 15 */
	cr_assert_null(vmcs_field_find(0x681e | 0x10000));	/* bit 16 */
	cr_assert_null(vmcs_field_find(0x681e | 0x80000000u));	/* bit 31 */
	cr_assert_null(vmcs_field_find(0x2010 | 0x1000));
	cr_assert_null(vmcs_field_find(0x2011 | 0x1000));
	cr_assert_null(vmcs_field_find(0xffffffffu));
	/* Unused indexes within valid width/type groups. */
	cr_assert_null(vmcs_field_find(0x0010));	/* 16-bit control index 8 */
	cr_assert_null(vmcs_field_find(0x0400));	/* no 16-bit read-only fields */
	cr_assert_null(vmcs_field_find(0x482c));	/* 32-bit guest index 22 */
	cr_assert_null(vmcs_field_find(0x4c02));
	cr_assert_null(vmcs_field_find(0x6c1e));
	cr_assert_null(vmcs_field_find(0x67fe));	/* index 511 */
	cr_assert_null(vmcs_field_find(0x4880));	/* index 64 */
}

Test(vmcs, read_write_truncate_to_width)
{
	static const struct { uint32_t enc; uint64_t expect; } cases[] = {
		{ VMCS_GUEST_CS_SELECTOR, 0xdef0 },			/* 16-bit */
		{ VMCS_VPID, 0xdef0 },
		{ VMCS_EXIT_REASON, 0x9abcdef0 },			/* 32-bit */
		{ VMCS_GUEST_CS_LIMIT, 0x9abcdef0 },
		{ VMCS_TSC_OFFSET, 0x123456789abcdef0ull },		/* 64-bit */
		{ VMCS_GUEST_IA32_EFER, 0x123456789abcdef0ull },
		{ VMCS_GUEST_RIP, 0x123456789abcdef0ull },		/* natural */
		{ VMCS_EXIT_QUALIFICATION, 0x123456789abcdef0ull },
	};
	struct vmcs v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vmcs_field *f = vmcs_field_find(cases[i].enc);

		memset(&v, 0xa5, sizeof(v));
		cr_assert_not_null(f);
		vmcs_write_field(&v, f, cases[i].enc, 0x123456789abcdef0ull);
		cr_assert_eq(vmcs_read_field(&v, f, cases[i].enc), cases[i].expect, "%s", f->name);
		cr_assert_eq(v.v[f->slot], cases[i].expect, "%s stored", f->name);
		cr_assert_eq(vmcs_get(&v, cases[i].enc), cases[i].expect, "%s get", f->name);

		memset(&v, 0, sizeof(v));
		vmcs_set(&v, cases[i].enc, 0x123456789abcdef0ull);
		cr_assert_eq(vmcs_read_field(&v, f, cases[i].enc), cases[i].expect, "%s set", f->name);
	}
}

Test(vmcs, high_half_of_64bit_field)
{
	const struct vmcs_field *f = vmcs_field_find(VMCS_TSC_OFFSET | 1);
	struct vmcs v = { { 0 } };

	cr_assert_not_null(f);
	vmcs_write_field(&v, f, VMCS_TSC_OFFSET, 0x1111222233334444ull);
	cr_assert_eq(vmcs_read_field(&v, f, VMCS_TSC_OFFSET | 1), 0x11112222ull);

	/* The high access writes bits 63:32 from bits 31:0 of the operand. */
	vmcs_write_field(&v, f, VMCS_TSC_OFFSET | 1, 0xaaaabbbbccccddddull);
	cr_assert_eq(vmcs_read_field(&v, f, VMCS_TSC_OFFSET), 0xccccdddd33334444ull);
	cr_assert_eq(vmcs_read_field(&v, f, VMCS_TSC_OFFSET | 1), 0xccccddddull);
	cr_assert_eq(vmcs_get(&v, VMCS_TSC_OFFSET), 0xccccdddd33334444ull);

	/* A full write replaces both halves. */
	vmcs_write_field(&v, f, VMCS_TSC_OFFSET, 5);
	cr_assert_eq(vmcs_read_field(&v, f, VMCS_TSC_OFFSET | 1), 0);
}

Test(vmcs, features)
{
	struct { uint32_t enc; uint32_t feat; } cases[] = {
		{ VMCS_GUEST_RIP, VMCS_FEAT_NONE },
		{ VMCS_VPID, VMCS_FEAT_VPID },
		{ VMCS_EPT_POINTER, VMCS_FEAT_EPT },
		{ VMCS_GUEST_PDPTE0, VMCS_FEAT_EPT },
		{ VMCS_GUEST_PML_INDEX, VMCS_FEAT_PML },
		{ VMCS_POSTED_INTR_NV, VMCS_FEAT_POSTED_INTR },
		{ VMCS_TSC_MULTIPLIER, VMCS_FEAT_TSC_SCALING },
		{ VMCS_PREEMPTION_TIMER_VALUE, VMCS_FEAT_PREEMPTION_TIMER },
		{ VMCS_VMWRITE_BITMAP, VMCS_FEAT_VMCS_SHADOWING },
		{ VMCS_GUEST_SSP, VMCS_FEAT_CET },
		{ VMCS_PROC_BASED_CTLS3, VMCS_FEAT_TERTIARY },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vmcs_field *f = vmcs_field_find(cases[i].enc);

		cr_assert_eq(f->feature, cases[i].feat, "%s", f->name);
	}
	cr_assert(vmcs_field_offered(vmcs_field_find(VMCS_GUEST_RIP), 0));
	cr_assert_not(vmcs_field_offered(vmcs_field_find(VMCS_VPID), 0));
	cr_assert(vmcs_field_offered(vmcs_field_find(VMCS_VPID), 1ull << VMCS_FEAT_VPID));
	cr_assert_not(vmcs_field_offered(vmcs_field_find(VMCS_VPID), 1ull << VMCS_FEAT_EPT));
}

Test(vmcs, exit_reason_names)
{
	cr_assert_str_eq(vmcs_exit_reason_name(0), "exception_nmi");
	cr_assert_str_eq(vmcs_exit_reason_name(1), "external_interrupt");
	cr_assert_str_eq(vmcs_exit_reason_name(10), "cpuid");
	cr_assert_str_eq(vmcs_exit_reason_name(12), "hlt");
	cr_assert_str_eq(vmcs_exit_reason_name(30), "io_instruction");
	cr_assert_str_eq(vmcs_exit_reason_name(33), "invalid_guest_state");
	cr_assert_str_eq(vmcs_exit_reason_name(48), "ept_violation");
	cr_assert_str_eq(vmcs_exit_reason_name(49), "ept_misconfig");
	cr_assert_str_eq(vmcs_exit_reason_name(52), "preemption_timer");
	cr_assert_str_eq(vmcs_exit_reason_name(64), "xrstors");
	cr_assert_str_eq(vmcs_exit_reason_name(74), "bus_lock");
	cr_assert_null(vmcs_exit_reason_name(35));
	cr_assert_null(vmcs_exit_reason_name(38));
	cr_assert_null(vmcs_exit_reason_name(42));
	cr_assert_null(vmcs_exit_reason_name(71));
	cr_assert_null(vmcs_exit_reason_name(86));
	cr_assert_null(vmcs_exit_reason_name(0xffff));
	cr_assert_null(vmcs_exit_reason_name(~0u));

	/* Appendix C numbers through the header's names. */
	cr_assert_eq(EXIT_REASON_MSR_LOAD_FAIL, 34);
	cr_assert_eq(EXIT_REASON_MONITOR_TRAP_FLAG, 37);
	cr_assert_eq(EXIT_REASON_MCE_DURING_VMENTRY, 41);
	cr_assert_eq(EXIT_REASON_APIC_WRITE, 56);
	cr_assert_eq(EXIT_REASON_PML_FULL, 62);
	cr_assert_eq(EXIT_REASON_FAILED_VMENTRY, 0x80000000u);

	/* Every defined number has a name, every other has none. */
	for (unsigned r = 0; r <= 85; r++) {
		int undefined = r == 35 || r == 38 || r == 42 || r == 71 || r == 82 || r == 83;

		cr_assert_eq(vmcs_exit_reason_name(r) == NULL, undefined, "reason %u", r);
	}
}

Test(vmcs, field_names)
{
	cr_assert_str_eq(vmcs_field_name(0x681e), "guest_rip");
	cr_assert_str_eq(vmcs_field_name(0x2011), "tsc_offset");
	cr_assert_str_eq(vmcs_field_name(0x4402), "exit_reason");
	cr_assert_null(vmcs_field_name(0x1234));
	cr_assert_null(vmcs_field_name(0x681f));
}

Test(vmcs, region_layout_fits_4k)
{
	cr_assert_eq(VMCS_REGION_REVISION, 0);
	cr_assert_eq(VMCS_REGION_ABORT, 4);
	cr_assert_eq(VMCS_REGION_LAUNCH, 8);
	cr_assert_eq(vmcs_slot_offset(0), 16);
	cr_assert_eq(vmcs_slot_offset(1), 24);
	cr_assert_leq(vmcs_slot_offset(VMCS_NSLOTS - 1) + 8, 4096);
	cr_assert_eq(sizeof(struct vmcs), 8 * VMCS_NSLOTS);
	/* Slots start past the launch-state byte and do not overlap. */
	cr_assert_gt(vmcs_slot_offset(0), VMCS_REGION_LAUNCH);
}

/* IA32_VMX_VMCS_ENUM bits 9:1: the highest index is that of injected-event
 * data, 00002052H (index 41). */
Test(vmcs, highest_index)
{
	cr_assert_eq(vmcs_highest_index(), 41);
	cr_assert_eq(VMCS_ENC_INDEX(0x2052u), 41);
	cr_assert_eq((uint64_t)vmcs_highest_index() << VMX_VMCS_ENUM_INDEX_SHIFT, 0x52);
}

/* A sample of header constants against the SDM's bit positions. */
Test(vmcs, header_constants)
{
	cr_assert_eq(MSR_IA32_VMX_BASIC, 0x480);
	cr_assert_eq(MSR_IA32_VMX_EPT_VPID_CAP, 0x48c);
	cr_assert_eq(MSR_IA32_VMX_VMFUNC, 0x491);
	cr_assert_eq(CPU_BASED_HLT_EXITING, 0x80u);
	cr_assert_eq(CPU_BASED_USE_MSR_BITMAPS, 0x10000000u);
	cr_assert_eq(SECONDARY_ENABLE_EPT, 0x2u);
	cr_assert_eq(SECONDARY_UNRESTRICTED_GUEST, 0x80u);
	cr_assert_eq(PIN_BASED_POSTED_INTR, 0x80u);
	cr_assert_eq(VM_EXIT_ACK_INTR_ON_EXIT, 0x8000u);
	cr_assert_eq(VM_ENTRY_IA32E_MODE, 0x200u);
	cr_assert_eq(PIN_BASED_DEFAULT1, (1u << 1) | (1u << 2) | (1u << 4));
	cr_assert_eq(PROC_BASED_DEFAULT1, (1u << 1) | (7u << 4) | (1u << 8) | (0xfu << 13) | (1u << 26));
	cr_assert_eq(EXIT_DEFAULT1, 0x1ffu | (3u << 10) | (3u << 13) | (3u << 16));
	cr_assert_eq(ENTRY_DEFAULT1, 0x1ffu | (1u << 12));
	cr_assert_eq(VMXERR_UNSUPPORTED_VMCS_COMPONENT, 12);
	cr_assert_eq(VMXERR_VMWRITE_READ_ONLY_COMPONENT, 13);
	cr_assert_eq(VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID, 28);
	cr_assert_eq(INTR_TYPE_SOFT_EXCEPTION, 6);
	cr_assert_eq(INTR_INFO_VALID, 0x80000000u);
	cr_assert_eq(VMX_AR_UNUSABLE, 0x10000u);
	cr_assert_eq(EPTE_USER_EXEC, 0x400ull);
	cr_assert_eq(INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS, 3);
}
