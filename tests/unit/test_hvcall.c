/* hv_model/hvcall.c on the host: the hypercall input value against the
 * TLFS bit layout (typed here as literal positions), every pre-handler
 * check passing and failing, the order between checks, the page-boundary
 * arithmetic, the call table against the tlfs.h wire structures, the RAX
 * layout and the status names (values typed from REFERENCE.md 2.1). */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hv/tlfs.h"
#include "../../hv_model/hvcall.h"

/* The control word from its fields, positions per TLFS "Hypercall Inputs". */
static uint64_t rcx_of(uint16_t code, int fast, unsigned var, unsigned count, unsigned start)
{
	return (uint64_t)code | ((uint64_t)(fast != 0) << 16) | ((uint64_t)var << 17) |
	       ((uint64_t)count << 32) | ((uint64_t)start << 48);
}

static struct hvcall_ctl ctl_of(uint64_t rcx)
{
	struct hvcall_ctl c;

	cr_assert_eq(hvcall_decode(rcx, &c), 0x0000, "rcx 0x%llx should decode",
		     (unsigned long long)rcx);
	return c;
}

/* A row with every feature, for checks no real row exercises. */
static const struct hvcall_desc test_rep_var = {
	.code = 0x7777, .name = "TestRepVar", .rep = true, .var_header = true,
	.in_fixed = 16, .in_elem = 8, .out_elem = 8,
};

/* ---- decode ---- */

Test(hvcall, decode_zero_is_all_clear)
{
	struct hvcall_ctl c;

	memset(&c, 0xa5, sizeof(c));
	cr_assert_eq(hvcall_decode(0, &c), 0x0000);
	cr_assert_eq(c.code, 0);
	cr_assert_eq(c.fast, false);
	cr_assert_eq(c.var_qwords, 0);
	cr_assert_eq(c.rep_count, 0);
	cr_assert_eq(c.rep_start, 0);
	cr_assert_eq(c.nested, false);
}

Test(hvcall, decode_every_field_at_its_extremes)
{
	struct hvcall_ctl c;

	c = ctl_of(0xffff);
	cr_assert_eq(c.code, 0xffff);
	cr_assert_eq(c.fast, false);
	cr_assert_eq(c.var_qwords, 0);

	c = ctl_of(1ull << 16);
	cr_assert_eq(c.code, 0);
	cr_assert_eq(c.fast, true);

	c = ctl_of(0x3ffull << 17);
	cr_assert_eq(c.var_qwords, 1023);
	cr_assert_eq(c.fast, false);
	cr_assert_eq(c.nested, false);

	c = ctl_of(1ull << 17);
	cr_assert_eq(c.var_qwords, 1);

	c = ctl_of(1ull << 31);
	cr_assert_eq(c.nested, true);
	cr_assert_eq(c.var_qwords, 0);
	cr_assert_eq(c.rep_count, 0);

	c = ctl_of(0xfffull << 32);
	cr_assert_eq(c.rep_count, 4095);
	cr_assert_eq(c.rep_start, 0);

	c = ctl_of(1ull << 32);
	cr_assert_eq(c.rep_count, 1);

	c = ctl_of(0xfffull << 48);
	cr_assert_eq(c.rep_start, 4095);
	cr_assert_eq(c.rep_count, 0);

	c = ctl_of(1ull << 48);
	cr_assert_eq(c.rep_start, 1);

	/* Every defined field set at once. */
	c = ctl_of(0x0fff0fff87ffffffull);
	cr_assert_eq(c.code, 0xffff);
	cr_assert_eq(c.fast, true);
	cr_assert_eq(c.var_qwords, 1023);
	cr_assert_eq(c.nested, true);
	cr_assert_eq(c.rep_count, 4095);
	cr_assert_eq(c.rep_start, 4095);

	c = ctl_of(rcx_of(0x004b, 0, 3, 511, 17));
	cr_assert_eq(c.code, 0x004b);
	cr_assert_eq(c.var_qwords, 3);
	cr_assert_eq(c.rep_count, 511);
	cr_assert_eq(c.rep_start, 17);
}

Test(hvcall, decode_each_reserved_bit_alone_is_invalid_input)
{
	static const int rsvd[] = { 27, 28, 29, 30, 44, 45, 46, 47, 60, 61, 62, 63 };
	struct hvcall_ctl c;

	for (size_t i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++) {
		uint64_t rcx = 0x0048ull | (1ull << 32) | (1ull << rsvd[i]);

		cr_assert_eq(hvcall_decode(rcx, &c), 0x0003, "reserved bit %d", rsvd[i]);
		/* The fields are still reported. */
		cr_assert_eq(c.code, 0x0048, "bit %d", rsvd[i]);
		cr_assert_eq(c.rep_count, 1, "bit %d", rsvd[i]);
	}
}

Test(hvcall, decode_accepts_every_defined_bit_alone)
{
	struct hvcall_ctl c;

	for (int b = 0; b < 64; b++) {
		bool reserved = (b >= 27 && b <= 30) || (b >= 44 && b <= 47) || b >= 60;
		uint16_t want = reserved ? 0x0003 : 0x0000;

		cr_assert_eq(hvcall_decode(1ull << b, &c), want, "bit %d", b);
	}
	/* The mask in tlfs.h is exactly those twelve bits. */
	cr_assert_eq(HV_HYPERCALL_RSVD_MASK, 0xf000f00078000000ull);
}

/* ---- each check, passing and failing ---- */

Test(hvcall, unknown_code)
{
	struct hvcall_ctl c = ctl_of(rcx_of(0x0001, 0, 0, 0, 0));

	cr_assert_null(hvcall_find(0x0001));
	cr_assert_null(hvcall_find(0xffff));
	cr_assert_eq(hvcall_check(NULL, &c, 0x1000, 0x2000), 0x0002);
	cr_assert_eq(hvcall_check_rule(NULL, &c, 0, 0), HVCALL_RULE_UNKNOWN_CODE);
	cr_assert_not_null(hvcall_find(0x0046));
}

Test(hvcall, nested_bit_is_rejected)
{
	const struct hvcall_desc *d = hvcall_find(HVCALL_GET_PARTITION_ID);
	struct hvcall_ctl c = ctl_of(rcx_of(0x0046, 0, 0, 0, 0) | (1ull << 31));

	cr_assert_eq(hvcall_check_rule(d, &c, 0, 0x3000), HVCALL_RULE_NESTED);
	cr_assert_eq(hvcall_check(d, &c, 0, 0x3000), 0x0003);
	c.nested = false;
	cr_assert_eq(hvcall_check(d, &c, 0, 0x3000), 0x0000);
}

Test(hvcall, rep_count_on_simple_call)
{
	const struct hvcall_desc *d = hvcall_find(HVCALL_CREATE_PARTITION);
	struct hvcall_ctl c;

	c = ctl_of(rcx_of(0x0040, 0, 0, 0, 0));
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0x2000), 0x0000);
	c = ctl_of(rcx_of(0x0040, 0, 0, 1, 0));
	cr_assert_eq(hvcall_check_rule(d, &c, 0x1000, 0x2000), HVCALL_RULE_REP_ON_SIMPLE);
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0x2000), 0x0003);
	/* A rep start index alone is as wrong on a simple call. */
	c = ctl_of(rcx_of(0x0040, 0, 0, 0, 1));
	cr_assert_eq(hvcall_check_rule(d, &c, 0x1000, 0x2000), HVCALL_RULE_REP_ON_SIMPLE);
}

Test(hvcall, rep_count_zero_on_rep_call)
{
	const struct hvcall_desc *d = hvcall_find(HVCALL_DEPOSIT_MEMORY);
	struct hvcall_ctl c;

	c = ctl_of(rcx_of(0x0048, 0, 0, 0, 0));
	cr_assert_eq(hvcall_check_rule(d, &c, 0x1000, 0), HVCALL_RULE_REP_COUNT_ZERO);
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0), 0x0003);
	c = ctl_of(rcx_of(0x0048, 0, 0, 1, 0));
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0), 0x0000);
	/* The largest deposit Linux makes: 8 + 511 * 8 = 4096 bytes. */
	c = ctl_of(rcx_of(0x0048, 0, 0, 511, 0));
	cr_assert_eq(hvcall_in_bytes(d, &c), 4096);
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0), 0x0000);
}

Test(hvcall, rep_start_must_be_below_rep_count)
{
	const struct hvcall_desc *d = hvcall_find(HVCALL_MAP_GPA_PAGES);
	struct hvcall_ctl c;

	c = ctl_of(rcx_of(0x004b, 0, 0, 10, 9));
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0), 0x0000);
	c = ctl_of(rcx_of(0x004b, 0, 0, 10, 10));
	cr_assert_eq(hvcall_check_rule(d, &c, 0x1000, 0), HVCALL_RULE_REP_START);
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0), 0x0003);
	c = ctl_of(rcx_of(0x004b, 0, 0, 10, 4095));
	cr_assert_eq(hvcall_check_rule(d, &c, 0x1000, 0), HVCALL_RULE_REP_START);
	c = ctl_of(rcx_of(0x004b, 0, 0, 4095, 4094));
	cr_assert_eq(hvcall_check_rule(d, &c, 0x1000, 0), HVCALL_RULE_IN_PAGE,
		     "4095 page numbers do not fit a page");
}

Test(hvcall, variable_header_only_where_allowed)
{
	const struct hvcall_desc *d = hvcall_find(HVCALL_SET_PARTITION_PROPERTY);
	struct hvcall_ctl c;

	c = ctl_of(rcx_of(0x0045, 0, 1, 0, 0));
	cr_assert_eq(hvcall_check_rule(d, &c, 0x1000, 0), HVCALL_RULE_VAR_HEADER);
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0), 0x0003);
	c = ctl_of(rcx_of(0x0045, 0, 0, 0, 0));
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0), 0x0000);

	/* A row that takes one: the header counts into the input block. */
	c = ctl_of(rcx_of(0x7777, 0, 2, 3, 0));
	cr_assert_eq(hvcall_in_bytes(&test_rep_var, &c), 16 + 16 + 24);
	cr_assert_eq(hvcall_out_bytes(&test_rep_var, &c), 24);
	cr_assert_eq(hvcall_check(&test_rep_var, &c, 0x1000, 0x2000), 0x0000);
	cr_assert_eq(hvcall_check_rule(&test_rep_var, &c, 0x1000 + 4096 - 56, 0x2000), HVCALL_OK);
	cr_assert_eq(hvcall_check_rule(&test_rep_var, &c, 0x1000 + 4096 - 48, 0x2000),
		     HVCALL_RULE_IN_PAGE, "variable header must count into the size");
}

Test(hvcall, fast_only_where_a_register_form_exists)
{
	const struct hvcall_desc *post = hvcall_find(HVCALL_POST_MESSAGE);
	const struct hvcall_desc *sig = hvcall_find(HVCALL_SIGNAL_EVENT);
	struct hvcall_ctl c;

	c = ctl_of(rcx_of(0x005c, 1, 0, 0, 0));
	cr_assert_eq(hvcall_check_rule(post, &c, 0, 0), HVCALL_RULE_FAST_FORM);
	cr_assert_eq(hvcall_check(post, &c, 0, 0), 0x0003);
	c.fast = false;
	cr_assert_eq(hvcall_check(post, &c, 0x1000, 0), 0x0000);

	/* RDX/R8 are data in the fast form: no alignment check on them. */
	c = ctl_of(rcx_of(0x005d, 1, 0, 0, 0));
	cr_assert_eq(hvcall_check(sig, &c, 0x123456789abcdef1ull, 0xfff), 0x0000);
	/* The memory form of the same call still checks its GPA. */
	c.fast = false;
	cr_assert_eq(hvcall_check_rule(sig, &c, 0x1001, 0), HVCALL_RULE_IN_ALIGN);
}

Test(hvcall, fast_input_must_fit_two_registers)
{
	struct hvcall_desc d = { .code = 0x7778, .name = "TestFast", .fast_max = 16,
				 .in_fixed = 16 };
	struct hvcall_ctl c = ctl_of(rcx_of(0x7778, 1, 0, 0, 0));

	cr_assert_eq(hvcall_check(&d, &c, 0, 0), 0x0000);
	d.in_fixed = 24;
	cr_assert_eq(hvcall_check_rule(&d, &c, 0, 0), HVCALL_RULE_FAST_SIZE);
	cr_assert_eq(hvcall_check(&d, &c, 0, 0), 0x0003);
	/* No output registers either. */
	d.in_fixed = 8;
	d.out_fixed = 8;
	cr_assert_eq(hvcall_check_rule(&d, &c, 0, 0), HVCALL_RULE_FAST_SIZE);
}

Test(hvcall, input_gpa_must_be_8_byte_aligned)
{
	const struct hvcall_desc *d = hvcall_find(HVCALL_CREATE_VP);
	struct hvcall_ctl c = ctl_of(rcx_of(0x004e, 0, 0, 0, 0));

	cr_assert_eq(hvcall_check(d, &c, 0x5008, 0x1), 0x0000, "no output: GPA ignored");
	for (unsigned off = 1; off < 8; off++) {
		cr_assert_eq(hvcall_check_rule(d, &c, 0x5000 + off, 0), HVCALL_RULE_IN_ALIGN,
			     "offset %u", off);
		cr_assert_eq(hvcall_check(d, &c, 0x5000 + off, 0), 0x0004, "offset %u", off);
	}
}

Test(hvcall, output_gpa_must_be_8_byte_aligned)
{
	const struct hvcall_desc *d = hvcall_find(HVCALL_GET_PARTITION_PROPERTY);
	struct hvcall_ctl c = ctl_of(rcx_of(0x0044, 0, 0, 0, 0));

	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0x2ff8), 0x0000);
	cr_assert_eq(hvcall_check_rule(d, &c, 0x1000, 0x2ffc), HVCALL_RULE_OUT_ALIGN);
	cr_assert_eq(hvcall_check(d, &c, 0x1000, 0x2ffc), 0x0004);
}

Test(hvcall, zero_sized_blocks_ignore_their_gpa)
{
	const struct hvcall_desc *gid = hvcall_find(HVCALL_GET_PARTITION_ID);
	const struct hvcall_desc *unmap = hvcall_find(HVCALL_UNMAP_GPA_PAGES);
	struct hvcall_ctl c;

	/* GetPartitionId has no input: any RDX. */
	c = ctl_of(rcx_of(0x0046, 0, 0, 0, 0));
	cr_assert_eq(hvcall_in_bytes(gid, &c), 0);
	cr_assert_eq(hvcall_check(gid, &c, 0xffffffffffffffffull, 0x8000), 0x0000);
	cr_assert_eq(hvcall_check_rule(gid, &c, 0, 0x8001), HVCALL_RULE_OUT_ALIGN);
	/* UnmapGpaPages has neither elements nor output, whatever the rep count. */
	c = ctl_of(rcx_of(0x004c, 0, 0, 4095, 0));
	cr_assert_eq(hvcall_in_bytes(unmap, &c), 24);
	cr_assert_eq(hvcall_out_bytes(unmap, &c), 0);
	cr_assert_eq(hvcall_check(unmap, &c, 0x9000, 0x7), 0x0000);
}

/* ---- page boundary arithmetic ---- */

Test(hvcall, block_ending_exactly_at_page_end_is_inside)
{
	const struct hvcall_desc *d = hvcall_find(HVCALL_POST_MESSAGE);	/* 256 bytes */
	struct hvcall_ctl c = ctl_of(rcx_of(0x005c, 0, 0, 0, 0));

	cr_assert_eq(hvcall_check(d, &c, 0x10000 + 4096 - 256, 0), 0x0000);
	cr_assert_eq(hvcall_check_rule(d, &c, 0x10000 + 4096 - 248, 0), HVCALL_RULE_IN_PAGE);
	cr_assert_eq(hvcall_check(d, &c, 0x10000 + 4096 - 248, 0), 0x0004);
	cr_assert_eq(hvcall_check(d, &c, 0x10000, 0), 0x0000);
	/* The last 8 bytes of the address space: 256 bytes would wrap. */
	cr_assert_eq(hvcall_check_rule(d, &c, 0xfffffffffffffff8ull, 0), HVCALL_RULE_IN_PAGE);
}

Test(hvcall, full_page_blocks_need_page_aligned_gpas)
{
	/* Deposit of 511 pages: exactly 4096 bytes of input. */
	const struct hvcall_desc *dep = hvcall_find(HVCALL_DEPOSIT_MEMORY);
	/* Withdraw of 512 pages: exactly 4096 bytes of output. */
	const struct hvcall_desc *wd = hvcall_find(HVCALL_WITHDRAW_MEMORY);
	struct hvcall_ctl c;

	c = ctl_of(rcx_of(0x0048, 0, 0, 511, 0));
	cr_assert_eq(hvcall_check(dep, &c, 0x40000, 0), 0x0000);
	cr_assert_eq(hvcall_check_rule(dep, &c, 0x40008, 0), HVCALL_RULE_IN_PAGE);
	c = ctl_of(rcx_of(0x0048, 0, 0, 512, 0));	/* 4104 bytes never fit */
	cr_assert_eq(hvcall_check_rule(dep, &c, 0x40000, 0), HVCALL_RULE_IN_PAGE);

	c = ctl_of(rcx_of(0x0049, 0, 0, 512, 0));
	cr_assert_eq(hvcall_out_bytes(wd, &c), 4096);
	cr_assert_eq(hvcall_check(wd, &c, 0x1000, 0x3000), 0x0000);
	cr_assert_eq(hvcall_check_rule(wd, &c, 0x1000, 0x3008), HVCALL_RULE_OUT_PAGE);
	cr_assert_eq(hvcall_check(wd, &c, 0x1000, 0x3008), 0x0004);
	c = ctl_of(rcx_of(0x0049, 0, 0, 513, 0));
	cr_assert_eq(hvcall_check_rule(wd, &c, 0x1000, 0x3000), HVCALL_RULE_OUT_PAGE);
}

Test(hvcall, rep_sizes_follow_the_rep_count)
{
	const struct hvcall_desc *get = hvcall_find(HVCALL_GET_VP_REGISTERS);
	const struct hvcall_desc *set = hvcall_find(HVCALL_SET_VP_REGISTERS);
	struct hvcall_ctl c = ctl_of(rcx_of(0x0050, 0, 0, 3, 1));

	cr_assert_eq(hvcall_in_bytes(get, &c), 16 + 3 * 4);
	cr_assert_eq(hvcall_out_bytes(get, &c), 3 * 16);
	c.code = 0x0051;
	cr_assert_eq(hvcall_in_bytes(set, &c), 16 + 3 * 32);
	cr_assert_eq(hvcall_out_bytes(set, &c), 0);
	/* 127 register assocs: 16 + 127 * 32 = 4080 fits, 128 do not. */
	c.rep_count = 127;
	c.rep_start = 0;
	cr_assert_eq(hvcall_check(set, &c, 0x2000, 0), 0x0000);
	c.rep_count = 128;
	cr_assert_eq(hvcall_check_rule(set, &c, 0x2000, 0), HVCALL_RULE_IN_PAGE);
}

/* ---- order: a call breaking two rules gets the earlier status ---- */

Test(hvcall, check_order_within_hvcall_check)
{
	const struct hvcall_desc *dep = hvcall_find(HVCALL_DEPOSIT_MEMORY);
	const struct hvcall_desc *cp = hvcall_find(HVCALL_CREATE_PARTITION);
	const struct hvcall_desc *sig = hvcall_find(HVCALL_SIGNAL_EVENT);
	const struct hvcall_desc *wd = hvcall_find(HVCALL_WITHDRAW_MEMORY);
	struct hvcall_ctl c;

	/* Unknown code beats every control-word rule. */
	c = ctl_of(rcx_of(0x0001, 1, 5, 0, 3) | (1ull << 31));
	cr_assert_eq(hvcall_check(NULL, &c, 1, 1), 0x0002);
	/* Nested before the rep rules. */
	c = ctl_of(rcx_of(0x0040, 0, 0, 1, 0) | (1ull << 31));
	cr_assert_eq(hvcall_check_rule(cp, &c, 0x1000, 0x2000), HVCALL_RULE_NESTED);
	/* Rep rules before the variable header. */
	c = ctl_of(rcx_of(0x0048, 0, 1, 0, 0));
	cr_assert_eq(hvcall_check_rule(dep, &c, 0x1000, 0), HVCALL_RULE_REP_COUNT_ZERO);
	c = ctl_of(rcx_of(0x0040, 0, 1, 2, 0));
	cr_assert_eq(hvcall_check_rule(cp, &c, 0x1000, 0x2000), HVCALL_RULE_REP_ON_SIMPLE);
	/* The variable header before the fast form. */
	c = ctl_of(rcx_of(0x0040, 1, 1, 0, 0));
	cr_assert_eq(hvcall_check_rule(cp, &c, 0, 0), HVCALL_RULE_VAR_HEADER);
	/* Control-word errors (INVALID_HYPERCALL_INPUT) before alignment. */
	c = ctl_of(rcx_of(0x0048, 0, 0, 2, 2));
	cr_assert_eq(hvcall_check(dep, &c, 0x1001, 0), 0x0003);
	c = ctl_of(rcx_of(0x005d, 0, 2, 0, 0));
	cr_assert_eq(hvcall_check(sig, &c, 0x1004, 0), 0x0003);
	/* Input block before output block; alignment before the page check. */
	c = ctl_of(rcx_of(0x0049, 0, 0, 1, 0));
	cr_assert_eq(hvcall_check_rule(wd, &c, 0x1004, 0x2004), HVCALL_RULE_IN_ALIGN);
	cr_assert_eq(hvcall_check_rule(wd, &c, 0x1ffc, 0x2004), HVCALL_RULE_IN_ALIGN);
	cr_assert_eq(hvcall_check_rule(wd, &c, 0x1ff8, 0x2ffc), HVCALL_RULE_IN_PAGE);
	cr_assert_eq(hvcall_check_rule(wd, &c, 0x1000, 0x2ffc), HVCALL_RULE_OUT_ALIGN);
}

Test(hvcall, validate_applies_every_step_in_order)
{
	const uint32_t root = HV_CREATE_PARTITIONS | HV_ACCESS_PARTITION_ID |
			      HV_ACCESS_MEMORY_POOL | HV_POST_MESSAGES | HV_SIGNAL_EVENTS |
			      HV_CREATE_PORT | HV_CONNECT_PORT;
	const uint32_t child = HV_POST_MESSAGES | HV_SIGNAL_EVENTS | HV_ACCESS_PARTITION_ID;
	const struct hvcall_desc *d;
	struct hvcall_ctl c;
	enum hvcall_rule why;

	/* A clean CreatePartition from the root. */
	cr_assert_eq(hvcall_validate(rcx_of(0x0040, 0, 0, 0, 0), 0x1000, 0x2000, root, &c, &d,
				     &why), 0x0000);
	cr_assert_eq(why, HVCALL_OK);
	cr_assert_eq(d, hvcall_find(0x0040));
	cr_assert_eq(c.code, 0x0040);

	/* A child calling a root-only call: ACCESS_DENIED, even with a reserved
	 * bit set and a misaligned GPA (the TLFS prefers the status that
	 * reveals least). */
	cr_assert_eq(hvcall_validate(rcx_of(0x0040, 0, 0, 0, 0) | (1ull << 63), 0x1001, 0, child,
				     &c, &d, &why), 0x0006);
	cr_assert_eq(why, HVCALL_RULE_ACCESS);

	/* Reserved bits before the code lookup (KVM's order). */
	cr_assert_eq(hvcall_validate(rcx_of(0x0001, 0, 0, 0, 0) | (1ull << 44), 0, 0, root, &c,
				     &d, &why), 0x0003);
	cr_assert_eq(why, HVCALL_RULE_RESERVED);
	cr_assert_null(d);

	/* Reserved bits on a call the caller may make. */
	cr_assert_eq(hvcall_validate(rcx_of(0x0046, 0, 0, 0, 0) | (1ull << 28), 0, 0x2000, child,
				     &c, &d, &why), 0x0003);
	cr_assert_eq(why, HVCALL_RULE_RESERVED);

	/* Unknown code: no privilege to check, INVALID_HYPERCALL_CODE. */
	cr_assert_eq(hvcall_validate(rcx_of(0x1234, 0, 0, 0, 0), 0, 0, 0, &c, &d, &why), 0x0002);
	cr_assert_eq(why, HVCALL_RULE_UNKNOWN_CODE);

	/* A call with no privilege bit is open to every caller. */
	cr_assert_eq(hvcall_validate(rcx_of(0x000b, 1, 0, 0, 0), 0xef, 0x1, 0, &c, &d, &why),
		     0x0000);

	/* Rep start >= rep count from a privileged caller. */
	cr_assert_eq(hvcall_validate(rcx_of(0x004b, 0, 0, 2, 2), 0x1000, 0, root, &c, &d, &why),
		     0x0003);
	cr_assert_eq(why, HVCALL_RULE_REP_START);

	/* Alignment last. */
	cr_assert_eq(hvcall_validate(rcx_of(0x0046, 0, 0, 0, 0), 0, 0x2004, child, &c, &d, &why),
		     0x0004);
	cr_assert_eq(why, HVCALL_RULE_OUT_ALIGN);

	/* why may be NULL. */
	cr_assert_eq(hvcall_validate(rcx_of(0x0046, 0, 0, 0, 0), 0, 0x2000, child, &c, &d, NULL),
		     0x0000);
}

Test(hvcall, access_needs_one_of_the_privilege_bits)
{
	const struct hvcall_desc *get = hvcall_find(HVCALL_GET_VP_REGISTERS);
	const struct hvcall_desc *cp = hvcall_find(HVCALL_CREATE_PARTITION);
	const struct hvcall_desc *ipi = hvcall_find(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI);

	cr_assert(hvcall_access(get, 1u << 0));		/* CreatePartitions */
	cr_assert(hvcall_access(get, 1u << 17));	/* AccessVpRegisters */
	cr_assert_not(hvcall_access(get, (1u << 4) | (1u << 5)));
	cr_assert(hvcall_access(cp, 1u << 0));
	cr_assert_not(hvcall_access(cp, ~(1u << 0)));
	cr_assert(hvcall_access(ipi, 0));
}

/* ---- the table ---- */

Test(hvcall, table_rows_are_unique_and_findable)
{
	size_t n = 0;

	for (const struct hvcall_desc *d; (d = hvcall_at(n)); n++) {
		cr_assert_not_null(d->name, "row %zu", n);
		cr_assert(strncmp(d->name, "HvCall", 6) == 0, "row %zu: %s", n, d->name);
		cr_assert_eq(hvcall_find(d->code), d, "row %zu: %s", n, d->name);
		for (size_t j = 0; j < n; j++) {
			cr_assert_neq(hvcall_at(j)->code, d->code, "%s", d->name);
			cr_assert_str_neq(hvcall_at(j)->name, d->name);
		}
		/* A simple call has no elements; fast forms carry no output. */
		if (!d->rep)
			cr_assert(d->in_elem == 0 && d->out_elem == 0, "%s", d->name);
		if (d->fast_max) {
			cr_assert_eq(d->fast_max, 16, "%s", d->name);
			cr_assert_leq(d->in_fixed, d->fast_max, "%s", d->name);
			cr_assert_eq(d->out_fixed, 0, "%s", d->name);
		}
		/* Memory-form blocks are multiples of 8 bytes. */
		cr_assert_eq(d->in_fixed % 8, 0, "%s", d->name);
		cr_assert_eq(d->out_fixed % 8, 0, "%s", d->name);
	}
	cr_assert_eq(n, 27);
	cr_assert_null(hvcall_at(n));
	cr_assert_null(hvcall_at((size_t)-1));
}

/* Every call the brief lists, with its size from the tlfs.h structure. */
static const struct {
	uint16_t code;
	const char *name;
	bool rep, fast;
	size_t in_fixed, in_elem, out_fixed, out_elem;
	uint32_t privilege;
	bool var_header;
} expect[] = {
	{ 0x0002, "HvCallFlushVirtualAddressSpace", false, false,
	  sizeof(struct hv_input_flush_virtual_address_space), 0, 0, 0, 0 },
	{ 0x0003, "HvCallFlushVirtualAddressList", true, false,
	  sizeof(struct hv_input_flush_virtual_address_space), sizeof(uint64_t), 0, 0, 0 },
	{ 0x0008, "HvCallNotifyLongSpinWait", false, true, sizeof(struct hv_input_notify_long_spin_wait), 0, 0, 0,
	  0 },
	{ 0x000B, "HvCallSendSyntheticClusterIpi", false, true,
	  sizeof(struct hv_input_send_synthetic_cluster_ipi), 0, 0, 0, 0 },
	{ 0x0015, "HvCallSendSyntheticClusterIpiEx", false, false,
	  sizeof(struct hv_input_send_synthetic_cluster_ipi_ex), 0, 0, 0, 0, true },
	{ 0x0040, "HvCallCreatePartition", false, false, sizeof(struct hv_input_create_partition),
	  0, sizeof(struct hv_output_create_partition), 0, 1u << 0 },
	{ 0x0041, "HvCallInitializePartition", false, true,
	  sizeof(struct hv_input_initialize_partition), 0, 0, 0, 1u << 0 },
	{ 0x0042, "HvCallFinalizePartition", false, true,
	  sizeof(struct hv_input_finalize_partition), 0, 0, 0, 1u << 0 },
	{ 0x0043, "HvCallDeletePartition", false, true, sizeof(struct hv_input_delete_partition),
	  0, 0, 0, 1u << 0 },
	{ 0x0044, "HvCallGetPartitionProperty", false, false,
	  sizeof(struct hv_input_get_partition_property), 0,
	  sizeof(struct hv_output_get_partition_property), 0, 1u << 0 },
	{ 0x0045, "HvCallSetPartitionProperty", false, false,
	  sizeof(struct hv_input_set_partition_property), 0, 0, 0, 1u << 0 },
	{ 0x0046, "HvCallGetPartitionId", false, false, 0, 0,
	  sizeof(struct hv_output_get_partition_id), 0, 1u << 1 },
	{ 0x0048, "HvCallDepositMemory", true, false, sizeof(struct hv_input_deposit_memory),
	  sizeof(hv_gpa_page_number), 0, 0, 1u << 2 },
	{ 0x0049, "HvCallWithdrawMemory", true, false, sizeof(struct hv_input_withdraw_memory),
	  0, 0, sizeof(hv_gpa_page_number), 1u << 2 },
	{ 0x004B, "HvCallMapGpaPages", true, false, sizeof(struct hv_input_map_gpa_pages),
	  sizeof(hv_gpa_page_number), 0, 0, 1u << 0 },
	{ 0x004C, "HvCallUnmapGpaPages", true, false, sizeof(struct hv_input_unmap_gpa_pages),
	  0, 0, 0, 1u << 0 },
	{ 0x004D, "HvCallInstallIntercept", false, false,
	  sizeof(struct hv_input_install_intercept), 0, 0, 0, 1u << 0 },
	{ 0x004E, "HvCallCreateVp", false, false, sizeof(struct hv_input_create_vp), 0, 0, 0,
	  1u << 0 },
	{ 0x0050, "HvCallGetVpRegisters", true, false, sizeof(struct hv_input_get_vp_registers),
	  sizeof(hv_register_name), 0, sizeof(union hv_register_value),
	  (1u << 0) | (1u << 17) },
	{ 0x0051, "HvCallSetVpRegisters", true, false, sizeof(struct hv_input_set_vp_registers),
	  sizeof(struct hv_register_assoc), 0, 0, (1u << 0) | (1u << 17) },
	{ 0x0058, "HvCallDeletePort", false, true, sizeof(struct hv_input_delete_port), 0, 0, 0,
	  1u << 6 },
	{ 0x005B, "HvCallDisconnectPort", false, true, sizeof(struct hv_input_disconnect_port),
	  0, 0, 0, 1u << 7 },
	{ 0x005C, "HvCallPostMessage", false, false, sizeof(struct hv_input_post_message), 0, 0,
	  0, 1u << 4 },
	{ 0x005D, "HvCallSignalEvent", false, true, sizeof(struct hv_input_signal_event), 0, 0,
	  0, 1u << 5 },
	{ 0x0095, "HvCallCreatePort", false, false, sizeof(struct hv_input_create_port), 0, 0,
	  0, 1u << 6 },
	{ 0x0096, "HvCallConnectPort", false, false, sizeof(struct hv_input_connect_port), 0, 0,
	  0, 1u << 7 },
	{ 0x0099, "HvCallStartVirtualProcessor", false, false,
	  sizeof(struct hv_input_start_virtual_processor), 0, 0, 0, 1u << 21 },
};

Test(hvcall, table_rows_match_the_wire_structures)
{
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		const struct hvcall_desc *d = hvcall_find(expect[i].code);

		cr_assert_not_null(d, "code 0x%04x (%s) missing", expect[i].code, expect[i].name);
		cr_assert_str_eq(d->name, expect[i].name);
		cr_assert_eq(d->rep, expect[i].rep, "%s", d->name);
		cr_assert_eq(d->var_header, expect[i].var_header, "%s", d->name);
		cr_assert_eq(d->fast_max != 0, expect[i].fast, "%s", d->name);
		cr_assert_eq(d->in_fixed, expect[i].in_fixed, "%s", d->name);
		cr_assert_eq(d->in_elem, expect[i].in_elem, "%s", d->name);
		cr_assert_eq(d->out_fixed, expect[i].out_fixed, "%s", d->name);
		cr_assert_eq(d->out_elem, expect[i].out_elem, "%s", d->name);
		cr_assert_eq(d->privilege, expect[i].privilege, "%s", d->name);
	}
	cr_assert_eq(sizeof(expect) / sizeof(expect[0]), 27, "every row is checked");
}

Test(hvcall, wire_sizes_match_the_tlfs_pages)
{
	/* Sizes typed from the TLFS hypercall pages / REFERENCE.md 2.3. */
	cr_assert_eq(sizeof(struct hv_input_create_partition), 56);
	cr_assert_eq(sizeof(struct hv_input_flush_virtual_address_space), 24);
	cr_assert_eq(sizeof(struct hv_input_create_vp), 40);
	cr_assert_eq(sizeof(struct hv_input_map_gpa_pages), 24);
	cr_assert_eq(sizeof(struct hv_input_set_partition_property), 24);
	cr_assert_eq(sizeof(struct hv_input_install_intercept), 24);
	cr_assert_eq(sizeof(struct hv_input_post_message), 256);
	cr_assert_eq(sizeof(struct hv_input_signal_event), 8);
	cr_assert_eq(sizeof(struct hv_input_create_port), 56);
	cr_assert_eq(sizeof(struct hv_input_connect_port), 72);
	cr_assert_eq(sizeof(struct hv_input_send_synthetic_cluster_ipi_ex), 24);
	cr_assert_eq(sizeof(struct hv_input_start_virtual_processor), 240);
	cr_assert_eq(sizeof(struct hv_register_assoc), 32);
	cr_assert_eq(sizeof(union hv_register_value), 16);
	cr_assert_eq(sizeof(struct hv_x64_segment_register), 16);
	cr_assert_eq(sizeof(struct hv_x64_table_register), 16);
	cr_assert_eq(sizeof(struct hv_message), 256);
}

/* ---- RAX ---- */

Test(hvcall, result_layout)
{
	cr_assert_eq(hvcall_result(0x0000, 0), 0);
	cr_assert_eq(hvcall_result(0x0004, 0), 0x4);
	cr_assert_eq(hvcall_result(0x0000, 1), 0x100000000ull);
	cr_assert_eq(hvcall_result(0x000b, 17), 0x000000110000000bull);
	cr_assert_eq(hvcall_result(0xffff, 4095), 0x00000fff0000ffffull);
	/* Only 12 bits of reps: nothing leaks into 63:44 or 31:16. */
	cr_assert_eq(hvcall_result(0x0078, 4096), 0x78);
	cr_assert_eq(hvcall_result(0x0078, 0xffffffffu), 0x00000fff00000078ull);
}

/* ---- rules and status names ---- */

Test(hvcall, every_rule_has_a_name_and_a_status)
{
	static const struct {
		enum hvcall_rule r;
		const char *name;
		uint16_t status;
	} rules[] = {
		{ HVCALL_OK, "ok", 0x0000 },
		{ HVCALL_RULE_ACCESS, "access", 0x0006 },
		{ HVCALL_RULE_RESERVED, "reserved", 0x0003 },
		{ HVCALL_RULE_UNKNOWN_CODE, "unknown_code", 0x0002 },
		{ HVCALL_RULE_NESTED, "nested", 0x0003 },
		{ HVCALL_RULE_REP_ON_SIMPLE, "rep_on_simple", 0x0003 },
		{ HVCALL_RULE_REP_COUNT_ZERO, "rep_count_zero", 0x0003 },
		{ HVCALL_RULE_REP_START, "rep_start", 0x0003 },
		{ HVCALL_RULE_VAR_HEADER, "var_header", 0x0003 },
		{ HVCALL_RULE_FAST_FORM, "fast_form", 0x0003 },
		{ HVCALL_RULE_FAST_SIZE, "fast_size", 0x0003 },
		{ HVCALL_RULE_IN_ALIGN, "in_align", 0x0004 },
		{ HVCALL_RULE_IN_PAGE, "in_page", 0x0004 },
		{ HVCALL_RULE_OUT_ALIGN, "out_align", 0x0004 },
		{ HVCALL_RULE_OUT_PAGE, "out_page", 0x0004 },
	};

	cr_assert_eq(sizeof(rules) / sizeof(rules[0]), HVCALL_RULE_COUNT);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		cr_assert_eq(rules[i].r, (enum hvcall_rule)i, "rules listed in order");
		cr_assert_str_eq(hvcall_rule_name(rules[i].r), rules[i].name);
		cr_assert_eq(hvcall_rule_status(rules[i].r), rules[i].status, "%s", rules[i].name);
	}
	cr_assert_null(hvcall_rule_name(HVCALL_RULE_COUNT));
	/* Not a rule: never success. */
	cr_assert_eq(hvcall_rule_status(HVCALL_RULE_COUNT), 0x0003);
}

Test(hvcall, status_names)
{
	static const struct {
		uint16_t value;
		const char *name;
	} st[] = {
		{ 0x0000, "HV_STATUS_SUCCESS" },
		{ 0x0002, "HV_STATUS_INVALID_HYPERCALL_CODE" },
		{ 0x0003, "HV_STATUS_INVALID_HYPERCALL_INPUT" },
		{ 0x0004, "HV_STATUS_INVALID_ALIGNMENT" },
		{ 0x0005, "HV_STATUS_INVALID_PARAMETER" },
		{ 0x0006, "HV_STATUS_ACCESS_DENIED" },
		{ 0x0007, "HV_STATUS_INVALID_PARTITION_STATE" },
		{ 0x0008, "HV_STATUS_OPERATION_DENIED" },
		{ 0x0009, "HV_STATUS_UNKNOWN_PROPERTY" },
		{ 0x000A, "HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE" },
		{ 0x000B, "HV_STATUS_INSUFFICIENT_MEMORY" },
		{ 0x000C, "HV_STATUS_PARTITION_TOO_DEEP" },
		{ 0x000D, "HV_STATUS_INVALID_PARTITION_ID" },
		{ 0x000E, "HV_STATUS_INVALID_VP_INDEX" },
		{ 0x0010, "HV_STATUS_NOT_FOUND" },
		{ 0x0011, "HV_STATUS_INVALID_PORT_ID" },
		{ 0x0012, "HV_STATUS_INVALID_CONNECTION_ID" },
		{ 0x0013, "HV_STATUS_INSUFFICIENT_BUFFERS" },
		{ 0x0014, "HV_STATUS_NOT_ACKNOWLEDGED" },
		{ 0x0015, "HV_STATUS_INVALID_VP_STATE" },
		{ 0x0016, "HV_STATUS_ACKNOWLEDGED" },
		{ 0x0017, "HV_STATUS_INVALID_SAVE_RESTORE_STATE" },
		{ 0x0018, "HV_STATUS_INVALID_SYNIC_STATE" },
		{ 0x0019, "HV_STATUS_OBJECT_IN_USE" },
		{ 0x001A, "HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO" },
		{ 0x001B, "HV_STATUS_NO_DATA" },
		{ 0x001C, "HV_STATUS_INACTIVE" },
		{ 0x001D, "HV_STATUS_NO_RESOURCES" },
		{ 0x001E, "HV_STATUS_FEATURE_UNAVAILABLE" },
		{ 0x001F, "HV_STATUS_PARTIAL_PACKET" },
		{ 0x0020, "HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED" },
		{ 0x0041, "HV_STATUS_INVALID_LP_INDEX" },
		{ 0x0050, "HV_STATUS_INVALID_REGISTER_VALUE" },
		{ 0x0051, "HV_STATUS_INVALID_VTL_STATE" },
		{ 0x0071, "HV_STATUS_OPERATION_FAILED" },
		{ 0x0078, "HV_STATUS_TIME_OUT" },
		{ 0x0079, "HV_STATUS_CALL_PENDING" },
		{ 0x0086, "HV_STATUS_VTL_ALREADY_ENABLED" },
		{ 0x0087, "HV_STATUS_UNKNOWN_REGISTER_NAME" },
	};
	size_t named = 0;

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		cr_assert_str_eq(hv_status_name(st[i].value), st[i].name, "0x%04x", st[i].value);
	/* Nothing else in the 16-bit space has a name. */
	for (uint32_t v = 0; v <= 0xffff; v++)
		named += hv_status_name((uint16_t)v) != NULL;
	cr_assert_eq(named, sizeof(st) / sizeof(st[0]));
	cr_assert_null(hv_status_name(0x0001));
	cr_assert_null(hv_status_name(0x000F));
	cr_assert_null(hv_status_name(0xffff));
}

/* ---- a few tlfs.h constants other modules build on, against the TLFS ---- */

Test(hvcall, tlfs_constants)
{
	cr_assert_eq(HV_PARTITION_ID_SELF, 0xffffffffffffffffull);
	cr_assert_eq(HV_VP_INDEX_SELF, 0xfffffffeu);
	cr_assert_eq(HV_CPUID_INTERFACE_HV1, 0x31237648u);
	/* "Microsoft Hv" as EBX, ECX, EDX. */
	{
		uint32_t regs[3] = { HV_CPUID_VENDOR_EBX, HV_CPUID_VENDOR_ECX,
				     HV_CPUID_VENDOR_EDX };
		char sig[13];

		memcpy(sig, regs, 12);
		sig[12] = 0;
		cr_assert_str_eq(sig, "Microsoft Hv");
	}
	{
		uint32_t hv1 = HV_CPUID_INTERFACE_HV1;
		char sig[5];

		memcpy(sig, &hv1, 4);
		sig[4] = 0;
		cr_assert_str_eq(sig, "Hv#1");
	}
	cr_assert_eq(HV_CPUID_VERSION_EBX(10, 0), 0x000a0000u);
	cr_assert_eq(HV_CPUID_VERSION_EDX(0x12, 0x345678), 0x12345678u);
	cr_assert_eq(HV_X64_MSR_SINT(15), 0x4000009Fu);
	cr_assert_eq(HV_X64_MSR_STIMER_CONFIG(3), 0x400000B6u);
	cr_assert_eq(HV_X64_MSR_STIMER_COUNT(3), 0x400000B7u);
	cr_assert_eq(HV_COMPATIBILITY_21_H2, 0x0609u);
	cr_assert_eq(HV_DEPOSIT_MAX, 511u);
	cr_assert_eq(HV_HYPERCALL_VARHEAD_MASK, 0x0000000007fe0000ull);
	cr_assert_eq(HV_HYPERCALL_REP_COMP_MASK, 0x00000fff00000000ull);
	cr_assert_eq(HV_HYPERCALL_REP_START_MASK, 0x0fff000000000000ull);
	cr_assert_eq(HV_INTERCEPT_PARAM_IO_PORT_RANGE(0x3f8, 0x3ff), 0x03ff03f8ull);
}
