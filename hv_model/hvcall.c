/* Hypercall decoding and pre-handler validation (hvcall.h has the rules
 * and their order).  Freestanding: no library calls, no state. */
#include "hvcall.h"

#define FAST HV_HYPERCALL_FAST_GPR_BYTES

/* Sizes are the tlfs.h wire structures (the unit test compares them with
 * sizeof); "fast" marks the calls the TLFS/MSDN reference lists as [fast]
 * or that Linux issues through hv_do_fast_hypercall8/16.  Privileges follow
 * the TLFS pages and HV_PARTITION_PRIVILEGE_MASK: calls that act on a child
 * need CreatePartitions; Get/SetVpRegisters also accept AccessVpRegisters
 * (on "self"; the handler checks parent-or-self). */
static const struct hvcall_desc hvcall_table[] = {
	{ HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, "HvCallFlushVirtualAddressSpace",
	  .in_fixed = 24 },
	{ HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, "HvCallFlushVirtualAddressList",
	  .rep = true, .in_fixed = 24, .in_elem = 8 },
	{ HVCALL_NOTIFY_LONG_SPIN_WAIT, "HvCallNotifyLongSpinWait",
	  .fast_max = FAST, .in_fixed = 8 },
	{ HVCALL_SEND_SYNTHETIC_CLUSTER_IPI, "HvCallSendSyntheticClusterIpi",
	  .fast_max = FAST, .in_fixed = 16 },
	{ HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX, "HvCallSendSyntheticClusterIpiEx",
	  .var_header = true, .in_fixed = 24 },
	{ HVCALL_START_VIRTUAL_PROCESSOR, "HvCallStartVirtualProcessor",
	  .in_fixed = 240, .privilege = HV_START_VIRTUAL_PROCESSOR },
	{ HVCALL_CREATE_PARTITION, "HvCallCreatePartition",
	  .in_fixed = 56, .out_fixed = 8, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_INITIALIZE_PARTITION, "HvCallInitializePartition",
	  .fast_max = FAST, .in_fixed = 8, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_FINALIZE_PARTITION, "HvCallFinalizePartition",
	  .fast_max = FAST, .in_fixed = 8, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_DELETE_PARTITION, "HvCallDeletePartition",
	  .fast_max = FAST, .in_fixed = 8, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_GET_PARTITION_PROPERTY, "HvCallGetPartitionProperty",
	  .in_fixed = 16, .out_fixed = 8, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_SET_PARTITION_PROPERTY, "HvCallSetPartitionProperty",
	  .in_fixed = 24, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_GET_PARTITION_ID, "HvCallGetPartitionId",
	  .out_fixed = 8, .privilege = HV_ACCESS_PARTITION_ID },
	{ HVCALL_DEPOSIT_MEMORY, "HvCallDepositMemory",
	  .rep = true, .in_fixed = 8, .in_elem = 8, .privilege = HV_ACCESS_MEMORY_POOL },
	{ HVCALL_WITHDRAW_MEMORY, "HvCallWithdrawMemory",
	  .rep = true, .in_fixed = 16, .out_elem = 8, .privilege = HV_ACCESS_MEMORY_POOL },
	{ HVCALL_MAP_GPA_PAGES, "HvCallMapGpaPages",
	  .rep = true, .in_fixed = 24, .in_elem = 8, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_UNMAP_GPA_PAGES, "HvCallUnmapGpaPages",
	  .rep = true, .in_fixed = 24, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_INSTALL_INTERCEPT, "HvCallInstallIntercept",
	  .in_fixed = 24, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_CREATE_VP, "HvCallCreateVp",
	  .in_fixed = 40, .privilege = HV_CREATE_PARTITIONS },
	{ HVCALL_GET_VP_REGISTERS, "HvCallGetVpRegisters",
	  .rep = true, .in_fixed = 16, .in_elem = 4, .out_elem = 16,
	  .privilege = HV_CREATE_PARTITIONS | HV_ACCESS_VP_REGISTERS },
	{ HVCALL_SET_VP_REGISTERS, "HvCallSetVpRegisters",
	  .rep = true, .in_fixed = 16, .in_elem = 32,
	  .privilege = HV_CREATE_PARTITIONS | HV_ACCESS_VP_REGISTERS },
	{ HVCALL_DELETE_PORT, "HvCallDeletePort",
	  .fast_max = FAST, .in_fixed = 16, .privilege = HV_CREATE_PORT },
	{ HVCALL_DISCONNECT_PORT, "HvCallDisconnectPort",
	  .fast_max = FAST, .in_fixed = 16, .privilege = HV_CONNECT_PORT },
	{ HVCALL_POST_MESSAGE, "HvCallPostMessage",
	  .in_fixed = 256, .privilege = HV_POST_MESSAGES },
	{ HVCALL_SIGNAL_EVENT, "HvCallSignalEvent",
	  .fast_max = FAST, .in_fixed = 8, .privilege = HV_SIGNAL_EVENTS },
	{ HVCALL_CREATE_PORT, "HvCallCreatePort",
	  .in_fixed = 56, .privilege = HV_CREATE_PORT },
	{ HVCALL_CONNECT_PORT, "HvCallConnectPort",
	  .in_fixed = 72, .privilege = HV_CONNECT_PORT },
};

#define HVCALL_TABLE_LEN (sizeof(hvcall_table) / sizeof(hvcall_table[0]))

uint16_t hvcall_decode(uint64_t rcx, struct hvcall_ctl *out)
{
	out->code = (uint16_t)(rcx & HV_HYPERCALL_CODE_MASK);
	out->fast = (rcx & HV_HYPERCALL_FAST_BIT) != 0;
	out->var_qwords = (unsigned)((rcx & HV_HYPERCALL_VARHEAD_MASK) >> HV_HYPERCALL_VARHEAD_OFFSET);
	out->nested = (rcx & HV_HYPERCALL_NESTED) != 0;
	out->rep_count = (unsigned)((rcx & HV_HYPERCALL_REP_COMP_MASK) >> HV_HYPERCALL_REP_COMP_OFFSET);
	out->rep_start = (unsigned)((rcx & HV_HYPERCALL_REP_START_MASK) >> HV_HYPERCALL_REP_START_OFFSET);
	/* TLFS "Hypercall Inputs": RsvdZ fields must be zero. */
	if (rcx & HV_HYPERCALL_RSVD_MASK)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	return HV_STATUS_SUCCESS;
}

const struct hvcall_desc *hvcall_find(uint16_t code)
{
	for (size_t i = 0; i < HVCALL_TABLE_LEN; i++)
		if (hvcall_table[i].code == code)
			return &hvcall_table[i];
	return NULL;
}

const struct hvcall_desc *hvcall_at(size_t i)
{
	return i < HVCALL_TABLE_LEN ? &hvcall_table[i] : NULL;
}

uint32_t hvcall_in_bytes(const struct hvcall_desc *d, const struct hvcall_ctl *c)
{
	return (uint32_t)d->in_fixed + 8u * c->var_qwords + (uint32_t)d->in_elem * c->rep_count;
}

uint32_t hvcall_out_bytes(const struct hvcall_desc *d, const struct hvcall_ctl *c)
{
	return (uint32_t)d->out_fixed + (uint32_t)d->out_elem * c->rep_count;
}

/* TLFS "Alignment Requirements": GPA 8-byte aligned, the block inside one
 * page.  A block of len bytes at gpa stays in its page iff len does not
 * exceed the bytes left from gpa to the page end. */
static bool gpa_aligned(uint64_t gpa)
{
	return (gpa & 7) == 0;
}

static bool block_in_page(uint64_t gpa, uint32_t len)
{
	return len <= HV_PAGE_SIZE - (gpa & (HV_PAGE_SIZE - 1));
}

enum hvcall_rule hvcall_check_rule(const struct hvcall_desc *d, const struct hvcall_ctl *c,
				   uint64_t in_gpa, uint64_t out_gpa)
{
	uint32_t in_len, out_len;

	if (!d)
		return HVCALL_RULE_UNKNOWN_CODE;
	if (c->nested)
		return HVCALL_RULE_NESTED;
	/* TLFS "Hypercall Inputs" and common status codes: rep fields are zero
	 * on a simple call; a rep call has rep count > rep start index. */
	if (!d->rep) {
		if (c->rep_count || c->rep_start)
			return HVCALL_RULE_REP_ON_SIMPLE;
	} else {
		if (c->rep_count == 0)
			return HVCALL_RULE_REP_COUNT_ZERO;
		if (c->rep_start >= c->rep_count)
			return HVCALL_RULE_REP_START;
	}
	/* TLFS "Variable Sized Hypercall Input Headers": illegal unless the
	 * call is documented to take one. */
	if (c->var_qwords && !d->var_header)
		return HVCALL_RULE_VAR_HEADER;

	in_len = hvcall_in_bytes(d, c);
	out_len = hvcall_out_bytes(d, c);
	if (c->fast) {
		/* Register form: RDX:R8 carry the input, no output registers
		 * (XMM fast input/output are not offered).  OpenVMM answers a
		 * block that does not fit with INVALID_HYPERCALL_INPUT. */
		if (d->fast_max == 0)
			return HVCALL_RULE_FAST_FORM;
		if (in_len > d->fast_max || out_len != 0)
			return HVCALL_RULE_FAST_SIZE;
		return HVCALL_OK;
	}
	if (in_len) {
		if (!gpa_aligned(in_gpa))
			return HVCALL_RULE_IN_ALIGN;
		if (!block_in_page(in_gpa, in_len))
			return HVCALL_RULE_IN_PAGE;
	}
	if (out_len) {
		if (!gpa_aligned(out_gpa))
			return HVCALL_RULE_OUT_ALIGN;
		if (!block_in_page(out_gpa, out_len))
			return HVCALL_RULE_OUT_PAGE;
	}
	return HVCALL_OK;
}

uint16_t hvcall_check(const struct hvcall_desc *d, const struct hvcall_ctl *c,
		      uint64_t in_gpa, uint64_t out_gpa)
{
	return hvcall_rule_status(hvcall_check_rule(d, c, in_gpa, out_gpa));
}

bool hvcall_access(const struct hvcall_desc *d, uint32_t privileges)
{
	return d->privilege == 0 || (d->privilege & privileges) != 0;
}

uint16_t hvcall_validate(uint64_t rcx, uint64_t in_gpa, uint64_t out_gpa, uint32_t privileges,
			 struct hvcall_ctl *c, const struct hvcall_desc **d,
			 enum hvcall_rule *why)
{
	uint16_t decoded = hvcall_decode(rcx, c);
	enum hvcall_rule rule;

	*d = hvcall_find(c->code);
	if (*d && !hvcall_access(*d, privileges))
		rule = HVCALL_RULE_ACCESS;
	else if (decoded != HV_STATUS_SUCCESS)
		rule = HVCALL_RULE_RESERVED;
	else
		rule = hvcall_check_rule(*d, c, in_gpa, out_gpa);
	if (why)
		*why = rule;
	return hvcall_rule_status(rule);
}

uint16_t hvcall_rule_status(enum hvcall_rule r)
{
	switch (r) {
	case HVCALL_OK:
		return HV_STATUS_SUCCESS;
	case HVCALL_RULE_ACCESS:
		return HV_STATUS_ACCESS_DENIED;
	case HVCALL_RULE_UNKNOWN_CODE:
		return HV_STATUS_INVALID_HYPERCALL_CODE;
	case HVCALL_RULE_IN_ALIGN:
	case HVCALL_RULE_IN_PAGE:
	case HVCALL_RULE_OUT_ALIGN:
	case HVCALL_RULE_OUT_PAGE:
		return HV_STATUS_INVALID_ALIGNMENT;
	case HVCALL_RULE_RESERVED:
	case HVCALL_RULE_NESTED:
	case HVCALL_RULE_REP_ON_SIMPLE:
	case HVCALL_RULE_REP_COUNT_ZERO:
	case HVCALL_RULE_REP_START:
	case HVCALL_RULE_VAR_HEADER:
	case HVCALL_RULE_FAST_FORM:
	case HVCALL_RULE_FAST_SIZE:
	default:	/* not a rule: treat as malformed input, never as success */
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	}
}

const char *hvcall_rule_name(enum hvcall_rule r)
{
	static const char *const names[HVCALL_RULE_COUNT] = {
		[HVCALL_OK] = "ok",
		[HVCALL_RULE_ACCESS] = "access",
		[HVCALL_RULE_RESERVED] = "reserved",
		[HVCALL_RULE_UNKNOWN_CODE] = "unknown_code",
		[HVCALL_RULE_NESTED] = "nested",
		[HVCALL_RULE_REP_ON_SIMPLE] = "rep_on_simple",
		[HVCALL_RULE_REP_COUNT_ZERO] = "rep_count_zero",
		[HVCALL_RULE_REP_START] = "rep_start",
		[HVCALL_RULE_VAR_HEADER] = "var_header",
		[HVCALL_RULE_FAST_FORM] = "fast_form",
		[HVCALL_RULE_FAST_SIZE] = "fast_size",
		[HVCALL_RULE_IN_ALIGN] = "in_align",
		[HVCALL_RULE_IN_PAGE] = "in_page",
		[HVCALL_RULE_OUT_ALIGN] = "out_align",
		[HVCALL_RULE_OUT_PAGE] = "out_page",
	};

	if ((unsigned)r >= HVCALL_RULE_COUNT)
		return NULL;
	return names[r];
}

uint64_t hvcall_result(uint16_t status, unsigned reps_done)
{
	return (uint64_t)status |
	       (((uint64_t)reps_done << HV_HYPERCALL_REP_COMP_OFFSET) & HV_HYPERCALL_REP_COMP_MASK);
}

const char *hv_status_name(uint16_t status)
{
#define S(x) case HV_STATUS_##x: return "HV_STATUS_" #x
	switch (status) {
	S(SUCCESS);
	S(INVALID_HYPERCALL_CODE);
	S(INVALID_HYPERCALL_INPUT);
	S(INVALID_ALIGNMENT);
	S(INVALID_PARAMETER);
	S(ACCESS_DENIED);
	S(INVALID_PARTITION_STATE);
	S(OPERATION_DENIED);
	S(UNKNOWN_PROPERTY);
	S(PROPERTY_VALUE_OUT_OF_RANGE);
	S(INSUFFICIENT_MEMORY);
	S(PARTITION_TOO_DEEP);
	S(INVALID_PARTITION_ID);
	S(INVALID_VP_INDEX);
	S(NOT_FOUND);
	S(INVALID_PORT_ID);
	S(INVALID_CONNECTION_ID);
	S(INSUFFICIENT_BUFFERS);
	S(NOT_ACKNOWLEDGED);
	S(INVALID_VP_STATE);
	S(ACKNOWLEDGED);
	S(INVALID_SAVE_RESTORE_STATE);
	S(INVALID_SYNIC_STATE);
	S(OBJECT_IN_USE);
	S(INVALID_PROXIMITY_DOMAIN_INFO);
	S(NO_DATA);
	S(INACTIVE);
	S(NO_RESOURCES);
	S(FEATURE_UNAVAILABLE);
	S(PARTIAL_PACKET);
	S(PROCESSOR_FEATURE_NOT_SUPPORTED);
	S(INVALID_LP_INDEX);
	S(INVALID_REGISTER_VALUE);
	S(INVALID_VTL_STATE);
	S(OPERATION_FAILED);
	S(TIME_OUT);
	S(CALL_PENDING);
	S(VTL_ALREADY_ENABLED);
	S(UNKNOWN_REGISTER_NAME);
	default:
		return NULL;
	}
#undef S
}
