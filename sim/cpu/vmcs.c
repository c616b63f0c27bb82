/* The VMCS field table (vmcs.h) and its encoding index.
 *
 * vmcs_fields[] is VMCS_FIELD_LIST expanded in encoding order.  Lookup by
 * encoding does not search it: vmcs_index[group][index] holds slot + 1 for
 * every field, where group is encoding bits 14:13 and 11:10 (width and
 * type) and index bits 9:1, so a VMREAD/VMWRITE costs a reserved-bits test
 * and one table load (SDM Vol. 3C 25.11.2 "VMREAD, VMWRITE, and Encodings
 * of VMCS Fields"). */
#include <stdio.h>
#include <stdlib.h>

#include "vmcs.h"

#define VMCS_X_FIELD(n, s, w, t, f) \
	{ VMCS_##n, VMCS_SLOT_##n, VMCS_WIDTH_##w, VMCS_TYPE_##t, VMCS_FEAT_##f, #s },

static const struct vmcs_field vmcs_fields[] = {
	VMCS_FIELD_LIST(VMCS_X_FIELD)
};

_Static_assert(sizeof(vmcs_fields) / sizeof(vmcs_fields[0]) == VMCS_NSLOTS,
	       "one slot per field");
_Static_assert(VMCS_NSLOTS < 255, "vmcs_index holds slot + 1 in a byte");

/* Indexes 0..VMCS_INDEX_LIMIT-1 per group; a field beyond it does not
 * compile (designated initializer out of bounds).  The SDM's highest
 * index today is 41 (injected-event data, 00002052H). */
#define VMCS_INDEX_LIMIT 64
#define VMCS_GROUP(e) ((VMCS_ENC_WIDTH(e) << 2) | VMCS_ENC_TYPE(e))

#define VMCS_X_INDEX(n, s, w, t, f) \
	[VMCS_GROUP(VMCS_##n)][VMCS_ENC_INDEX(VMCS_##n)] = VMCS_SLOT_##n + 1,

static const uint8_t vmcs_index[16][VMCS_INDEX_LIMIT] = {
	VMCS_FIELD_LIST(VMCS_X_INDEX)
};

const struct vmcs_field *vmcs_field_find(uint32_t encoding)
{
	const struct vmcs_field *f;
	unsigned index = VMCS_ENC_INDEX(encoding);
	uint8_t entry;

	if (encoding & VMCS_ENC_RESERVED_MASK)
		return NULL;
	if (index >= VMCS_INDEX_LIMIT)
		return NULL;
	entry = vmcs_index[VMCS_GROUP(encoding)][index];
	if (!entry)
		return NULL;
	f = &vmcs_fields[entry - 1];
	/* Only 64-bit fields have a high access (SDM 25.11.2). */
	if ((encoding & VMCS_ENC_ACCESS_HIGH) && f->width != VMCS_WIDTH_64)
		return NULL;
	return f;
}

size_t vmcs_field_count(void)
{
	return VMCS_NSLOTS;
}

const struct vmcs_field *vmcs_field_at(size_t i)
{
	return i < VMCS_NSLOTS ? &vmcs_fields[i] : NULL;
}

uint64_t vmcs_read_field(const struct vmcs *v, const struct vmcs_field *f, uint32_t encoding)
{
	uint64_t val = v->v[f->slot];

	if (encoding & VMCS_ENC_ACCESS_HIGH)
		return val >> 32;
	return val & vmcs_width_mask(f->width);
}

void vmcs_write_field(struct vmcs *v, const struct vmcs_field *f, uint32_t encoding, uint64_t value)
{
	uint64_t *slot = &v->v[f->slot];

	if (encoding & VMCS_ENC_ACCESS_HIGH)
		*slot = (*slot & 0xffffffffull) | (value << 32);
	else
		*slot = value & vmcs_width_mask(f->width);
}

unsigned vmcs_highest_index(void)
{
	unsigned max = 0;
	size_t i;

	for (i = 0; i < VMCS_NSLOTS; i++) {
		unsigned index = VMCS_ENC_INDEX(vmcs_fields[i].encoding);

		if (index > max)
			max = index;
	}
	return max;
}

/* Appendix C "VMX Basic Exit Reasons"; holes are undefined reasons. */
static const char *const exit_reason_names[EXIT_REASON_MAX + 1] = {
	[EXIT_REASON_EXCEPTION_NMI] = "exception_nmi",
	[EXIT_REASON_EXTERNAL_INTERRUPT] = "external_interrupt",
	[EXIT_REASON_TRIPLE_FAULT] = "triple_fault",
	[EXIT_REASON_INIT_SIGNAL] = "init_signal",
	[EXIT_REASON_SIPI] = "sipi",
	[EXIT_REASON_IO_SMI] = "io_smi",
	[EXIT_REASON_OTHER_SMI] = "other_smi",
	[EXIT_REASON_INTERRUPT_WINDOW] = "interrupt_window",
	[EXIT_REASON_NMI_WINDOW] = "nmi_window",
	[EXIT_REASON_TASK_SWITCH] = "task_switch",
	[EXIT_REASON_CPUID] = "cpuid",
	[EXIT_REASON_GETSEC] = "getsec",
	[EXIT_REASON_HLT] = "hlt",
	[EXIT_REASON_INVD] = "invd",
	[EXIT_REASON_INVLPG] = "invlpg",
	[EXIT_REASON_RDPMC] = "rdpmc",
	[EXIT_REASON_RDTSC] = "rdtsc",
	[EXIT_REASON_RSM] = "rsm",
	[EXIT_REASON_VMCALL] = "vmcall",
	[EXIT_REASON_VMCLEAR] = "vmclear",
	[EXIT_REASON_VMLAUNCH] = "vmlaunch",
	[EXIT_REASON_VMPTRLD] = "vmptrld",
	[EXIT_REASON_VMPTRST] = "vmptrst",
	[EXIT_REASON_VMREAD] = "vmread",
	[EXIT_REASON_VMRESUME] = "vmresume",
	[EXIT_REASON_VMWRITE] = "vmwrite",
	[EXIT_REASON_VMXOFF] = "vmxoff",
	[EXIT_REASON_VMXON] = "vmxon",
	[EXIT_REASON_CR_ACCESS] = "cr_access",
	[EXIT_REASON_DR_ACCESS] = "dr_access",
	[EXIT_REASON_IO_INSTRUCTION] = "io_instruction",
	[EXIT_REASON_MSR_READ] = "msr_read",
	[EXIT_REASON_MSR_WRITE] = "msr_write",
	[EXIT_REASON_INVALID_GUEST_STATE] = "invalid_guest_state",
	[EXIT_REASON_MSR_LOAD_FAIL] = "msr_load_fail",
	[EXIT_REASON_MWAIT] = "mwait",
	[EXIT_REASON_MONITOR_TRAP_FLAG] = "monitor_trap_flag",
	[EXIT_REASON_MONITOR] = "monitor",
	[EXIT_REASON_PAUSE] = "pause",
	[EXIT_REASON_MCE_DURING_VMENTRY] = "mce_during_vmentry",
	[EXIT_REASON_TPR_BELOW_THRESHOLD] = "tpr_below_threshold",
	[EXIT_REASON_APIC_ACCESS] = "apic_access",
	[EXIT_REASON_EOI_INDUCED] = "eoi_induced",
	[EXIT_REASON_GDTR_IDTR] = "gdtr_idtr",
	[EXIT_REASON_LDTR_TR] = "ldtr_tr",
	[EXIT_REASON_EPT_VIOLATION] = "ept_violation",
	[EXIT_REASON_EPT_MISCONFIG] = "ept_misconfig",
	[EXIT_REASON_INVEPT] = "invept",
	[EXIT_REASON_RDTSCP] = "rdtscp",
	[EXIT_REASON_PREEMPTION_TIMER] = "preemption_timer",
	[EXIT_REASON_INVVPID] = "invvpid",
	[EXIT_REASON_WBINVD] = "wbinvd",
	[EXIT_REASON_XSETBV] = "xsetbv",
	[EXIT_REASON_APIC_WRITE] = "apic_write",
	[EXIT_REASON_RDRAND] = "rdrand",
	[EXIT_REASON_INVPCID] = "invpcid",
	[EXIT_REASON_VMFUNC] = "vmfunc",
	[EXIT_REASON_ENCLS] = "encls",
	[EXIT_REASON_RDSEED] = "rdseed",
	[EXIT_REASON_PML_FULL] = "pml_full",
	[EXIT_REASON_XSAVES] = "xsaves",
	[EXIT_REASON_XRSTORS] = "xrstors",
	[EXIT_REASON_PCONFIG] = "pconfig",
	[EXIT_REASON_SPP] = "spp",
	[EXIT_REASON_UMWAIT] = "umwait",
	[EXIT_REASON_TPAUSE] = "tpause",
	[EXIT_REASON_LOADIWKEY] = "loadiwkey",
	[EXIT_REASON_ENCLV] = "enclv",
	[EXIT_REASON_ENQCMD_PASID] = "enqcmd_pasid",
	[EXIT_REASON_ENQCMDS_PASID] = "enqcmds_pasid",
	[EXIT_REASON_BUS_LOCK] = "bus_lock",
	[EXIT_REASON_INSTRUCTION_TIMEOUT] = "instruction_timeout",
	[EXIT_REASON_SEAMCALL] = "seamcall",
	[EXIT_REASON_TDCALL] = "tdcall",
	[EXIT_REASON_RDMSRLIST] = "rdmsrlist",
	[EXIT_REASON_WRMSRLIST] = "wrmsrlist",
	[EXIT_REASON_URDMSR] = "urdmsr",
	[EXIT_REASON_UWRMSR] = "uwrmsr",
	[EXIT_REASON_RDMSR_IMM] = "rdmsr_imm",
	[EXIT_REASON_WRMSRNS_IMM] = "wrmsrns_imm",
};

const char *vmcs_exit_reason_name(unsigned basic_reason)
{
	if (basic_reason > EXIT_REASON_MAX)
		return NULL;
	return exit_reason_names[basic_reason];
}

const char *vmcs_field_name(uint32_t encoding)
{
	const struct vmcs_field *f = vmcs_field_find(encoding);

	return f ? f->name : NULL;
}

unsigned vmcs_slot_lookup(uint32_t encoding)
{
	const struct vmcs_field *f = vmcs_field_find(encoding);

	if (!f || (encoding & VMCS_ENC_ACCESS_HIGH))
		vmcs_bad_encoding(encoding);
	return f->slot;
}

void vmcs_bad_encoding(uint32_t encoding)
{
	fprintf(stderr, "hvsim: internal error: no VMCS field has encoding %#x\n", encoding);
	abort();
}
