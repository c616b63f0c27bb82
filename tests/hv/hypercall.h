/* The TLFS hypercall interface as the root partition's test kernels use
 * it ("Hypercall Interface": establishing the hypercall page, calling
 * conventions, hypercall inputs and results).
 *
 * hc_enable() identifies the guest OS (HV_X64_MSR_GUEST_OS_ID) and asks
 * for the hypercall page at a page of ours (HV_X64_MSR_HYPERCALL, enable
 * bit and GPFN); the hypervisor overlays it with its VMCALL stub.
 * hc_call() calls through that page with the control word in RCX and the
 * input and output GPAs in RDX and R8 (or the input itself in the fast
 * form), and returns RAX: status in 15:0, reps completed in 43:32. */
#ifndef HVT_HYPERCALL_H
#define HVT_HYPERCALL_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/tlfs.h>

/* The guest OS id the tests report: open source, Linux type (TLFS
 * "Reporting the Guest OS Identity"), an arbitrary version. */
#define HC_GUEST_OS_ID (HV_GUEST_OS_ID_OPEN_SOURCE | \
			((uint64_t)HV_GUEST_OS_TYPE_LINUX << HV_GUEST_OS_ID_OS_TYPE_SHIFT) | 0x0604000000ull)

/* One page each for input and output blocks, page-aligned (GPA = VA). */
extern uint8_t hc_in[4096], hc_out[4096];

/* Writes GUEST_OS_ID then HYPERCALL = gpa | enable; true if the MSR reads
 * back enabled at that GPA. */
bool hc_enable(uint64_t page_gpa, uint64_t guest_os_id);
/* The page hc_call() calls (set by hc_enable, or directly). */
void hc_set_page(uint64_t page_gpa);

uint64_t hc_call(uint64_t control, uint64_t in_gpa, uint64_t out_gpa);

/* The control word (TLFS "Hypercall Inputs"). */
static inline uint64_t hc_ctl(uint16_t code, unsigned rep_count, unsigned rep_start)
{
	return (uint64_t)code | ((uint64_t)rep_count << HV_HYPERCALL_REP_COMP_OFFSET) |
	       ((uint64_t)rep_start << HV_HYPERCALL_REP_START_OFFSET);
}

static inline uint16_t hc_status(uint64_t rax)
{
	return (uint16_t)(rax & HV_HYPERCALL_RESULT_MASK);
}

static inline unsigned hc_reps(uint64_t rax)
{
	return (unsigned)((rax & HV_HYPERCALL_REP_COMP_MASK) >> HV_HYPERCALL_REP_COMP_OFFSET);
}

/* "HV_STATUS_INVALID_ALIGNMENT" style names for the log; "?" if unknown. */
const char *hc_status_name(uint16_t status);

#endif
