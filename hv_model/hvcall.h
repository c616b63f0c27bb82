/* Hypercall decoding and the checks every hypercall gets before its
 * handler runs (TLFS "Hypercall Interface": hypercall inputs, classes,
 * alignment requirements, common hypercall status codes).
 *
 * Pure code: built into the hypervisor image and, unchanged, into a host
 * Criterion suite (tests/unit/test_hvcall.c).  It reads no guest memory and
 * keeps no state; the dispatcher feeds it the caller's RCX, RDX and R8 and
 * the caller's privilege mask, and gets back a status and the numbers it
 * needs to copy the input and output blocks.
 *
 * Order of the checks (the TLFS leaves the order undefined but asks that
 * the more discreet status win, "Ordering of Error Conditions"; where
 * implementations apply an order this follows it: KVM kvm_hv_hypercall for
 * the steps before the code lookup, OpenVMM hv1_hypercall support.rs
 * dispatch_inner for the steps after it):
 *   1 ACCESS        known code, caller lacks its privilege -> ACCESS_DENIED
 *   2 RESERVED      a reserved control bit set           -> INVALID_HYPERCALL_INPUT
 *   3 UNKNOWN_CODE  no table row for the code            -> INVALID_HYPERCALL_CODE
 *   4 NESTED        is-nested bit set (no L1 hypervisor runs under hvsim;
 *                   KVM treats the bit as reserved)      -> INVALID_HYPERCALL_INPUT
 *   5 rep rules     rep count/start on a simple call, rep count 0, rep
 *                   start >= rep count                    -> INVALID_HYPERCALL_INPUT
 *   6 VAR_HEADER    variable header on a call without one -> INVALID_HYPERCALL_INPUT
 *   7 FAST_*        fast on a call with no register form, or input/output
 *                   that does not fit RDX:R8              -> INVALID_HYPERCALL_INPUT
 *   8 IN_*, OUT_*   memory form only, input block then output block: GPA
 *                   not 8-byte aligned, block crosses a page boundary
 *                                                         -> INVALID_ALIGNMENT
 * A block of 0 bytes ignores its GPA ("If the hypercall involves no input or
 * output parameters, the hypervisor ignores the corresponding GPA pointer").
 *
 * What is left to the dispatcher and handler: whether the GPA lies inside
 * the caller's GPA space (INVALID_ALIGNMENT as well, TLFS common codes), the
 * partition-state and parent/child rules of each call, #UD for CPL > 0 or
 * real mode, and continuation (HV_STATUS_TIME_OUT with RIP not advanced). */
#ifndef HV_MODEL_HVCALL_H
#define HV_MODEL_HVCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/tlfs.h>

/* The hypercall input value (RCX) split into its fields. */
struct hvcall_ctl {
	uint16_t code;		/* bits 15:0 */
	bool fast;		/* bit 16: register-based input */
	unsigned var_qwords;	/* bits 26:17: variable header size, qwords */
	unsigned rep_count;	/* bits 43:32 */
	unsigned rep_start;	/* bits 59:48 */
	bool nested;		/* bit 31 */
};

/* RCX -> fields.  Every field is filled even when the result is not
 * SUCCESS; HV_STATUS_INVALID_HYPERCALL_INPUT when a bit of
 * HV_HYPERCALL_RSVD_MASK (30:27, 47:44, 63:60) is set.  The nested bit is
 * reported, not judged: hvcall_check does that. */
uint16_t hvcall_decode(uint64_t rcx, struct hvcall_ctl *out);

/* One row per hypercall hvsim knows (handlers of later issues may still
 * answer some of them with an error); the partition states a call is valid
 * in are the handler's business, not the table's. */
struct hvcall_desc {
	uint16_t code;		/* HVCALL_* */
	const char *name;	/* TLFS name, "HvCallCreatePartition" */
	bool rep;		/* rep call: rep count >= 1; else simple: rep fields 0 */
	bool var_header;	/* accepts a variable-size input header */
	uint8_t fast_max;	/* register form: most input bytes it carries (RDX:R8 =
				 * HV_HYPERCALL_FAST_GPR_BYTES); 0 = memory form only */
	uint16_t in_fixed;	/* fixed input header, bytes (sizeof the tlfs.h struct) */
	uint16_t in_elem;	/* rep input element, bytes (0: none) */
	uint16_t out_fixed;	/* fixed output, bytes (0: none) */
	uint16_t out_elem;	/* rep output element, bytes (0: none) */
	uint32_t privilege;	/* CPUID 0x40000003 EBX bits; the caller needs at least
				 * one of them (0: none needed) */
};

const struct hvcall_desc *hvcall_find(uint16_t code);	/* NULL: unknown code */
const struct hvcall_desc *hvcall_at(size_t i);		/* iteration, NULL past the end */

/* Bytes of the input and output blocks the call with this control word
 * reads and writes: fixed + variable header + elements x rep count.
 * (Rep calls write output elements rep_start..rep_count-1 at their offset.) */
uint32_t hvcall_in_bytes(const struct hvcall_desc *d, const struct hvcall_ctl *c);
uint32_t hvcall_out_bytes(const struct hvcall_desc *d, const struct hvcall_ctl *c);

/* Which check failed, for traces and teaching ("each check names itself").
 * In the order they are applied. */
enum hvcall_rule {
	HVCALL_OK = 0,
	HVCALL_RULE_ACCESS,		/* ACCESS_DENIED */
	HVCALL_RULE_RESERVED,		/* INVALID_HYPERCALL_INPUT */
	HVCALL_RULE_UNKNOWN_CODE,	/* INVALID_HYPERCALL_CODE */
	HVCALL_RULE_NESTED,		/* INVALID_HYPERCALL_INPUT */
	HVCALL_RULE_REP_ON_SIMPLE,	/* INVALID_HYPERCALL_INPUT */
	HVCALL_RULE_REP_COUNT_ZERO,	/* INVALID_HYPERCALL_INPUT */
	HVCALL_RULE_REP_START,		/* INVALID_HYPERCALL_INPUT */
	HVCALL_RULE_VAR_HEADER,		/* INVALID_HYPERCALL_INPUT */
	HVCALL_RULE_FAST_FORM,		/* INVALID_HYPERCALL_INPUT */
	HVCALL_RULE_FAST_SIZE,		/* INVALID_HYPERCALL_INPUT */
	HVCALL_RULE_IN_ALIGN,		/* INVALID_ALIGNMENT */
	HVCALL_RULE_IN_PAGE,		/* INVALID_ALIGNMENT */
	HVCALL_RULE_OUT_ALIGN,		/* INVALID_ALIGNMENT */
	HVCALL_RULE_OUT_PAGE,		/* INVALID_ALIGNMENT */
	HVCALL_RULE_COUNT
};

/* Steps 3-8 for a control word hvcall_decode accepted (d = hvcall_find of
 * its code, NULL when unknown).  Returns HV_STATUS_SUCCESS or the status. */
uint16_t hvcall_check(const struct hvcall_desc *d, const struct hvcall_ctl *c,
		      uint64_t in_gpa, uint64_t out_gpa);
/* The same, naming the rule that failed (HVCALL_OK when none). */
enum hvcall_rule hvcall_check_rule(const struct hvcall_desc *d, const struct hvcall_ctl *c,
				   uint64_t in_gpa, uint64_t out_gpa);

/* Step 1: does a caller with these CPUID 0x40000003 EBX privileges hold the
 * call's privilege? */
bool hvcall_access(const struct hvcall_desc *d, uint32_t privileges);

/* Steps 1-8 in order: the whole validation of one VMCALL.  Fills *c and *d
 * (d NULL for an unknown code) and, when why is not NULL, the rule that
 * decided.  Returns HV_STATUS_SUCCESS or the status for RAX. */
uint16_t hvcall_validate(uint64_t rcx, uint64_t in_gpa, uint64_t out_gpa, uint32_t privileges,
			 struct hvcall_ctl *c, const struct hvcall_desc **d,
			 enum hvcall_rule *why);

uint16_t hvcall_rule_status(enum hvcall_rule r);	/* the status a rule yields */
const char *hvcall_rule_name(enum hvcall_rule r);	/* "rep_start", NULL if out of range */

/* The RAX value: status in 15:0, reps completed in 43:32 (TLFS "Hypercall
 * Outputs"; the count is absolute, not relative to the rep start index). */
uint64_t hvcall_result(uint16_t status, unsigned reps_done);

/* "HV_STATUS_INVALID_ALIGNMENT"; NULL for a value tlfs.h does not define. */
const char *hv_status_name(uint16_t status);

#endif
