/* The hypercall page and calls through it (hypercall.h). */
#include "hvcall.h"
#include "hypercall.h"

#include "hvt.h"

uint8_t hc_in[4096] __attribute__((aligned(4096)));
uint8_t hc_out[4096] __attribute__((aligned(4096)));

static uint64_t hc_page;

void hc_set_page(uint64_t page_gpa)
{
	hc_page = page_gpa;
}

bool hc_enable(uint64_t page_gpa, uint64_t guest_os_id)
{
	uint64_t v = 0;

	/* TLFS "Establishing the Hypercall Interface": the guest OS id
	 * first; with it still 0 the enable bit does not stick. */
	if (wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, guest_os_id) != HVT_VEC_NONE)
		return false;
	if (wrmsr_safe(HV_X64_MSR_HYPERCALL, page_gpa | HV_X64_MSR_HYPERCALL_ENABLE) != HVT_VEC_NONE ||
	    rdmsr_safe(HV_X64_MSR_HYPERCALL, &v) != HVT_VEC_NONE)
		return false;
	hc_page = page_gpa;
	return v == (page_gpa | HV_X64_MSR_HYPERCALL_ENABLE);
}

/* The x64 calling sequence (TLFS "Hypercall Interface", Linux
 * hv_do_hypercall): RCX control, RDX input, R8 output, CALL the page;
 * RAX holds the result.  The stub is VMCALL; RET and changes no other
 * register, but nothing here relies on it: RCX, RDX and R8-R11 are
 * treated as clobbered like any call's volatile registers. */
uint64_t hc_call(uint64_t control, uint64_t in_gpa, uint64_t out_gpa)
{
	register uint64_t r8 asm("r8") = out_gpa;
	uint64_t rax;

	asm volatile("call *%[page]"
		     : "=a"(rax), "+c"(control), "+d"(in_gpa), "+r"(r8)
		     : [page] "r"(hc_page)
		     : "r9", "r10", "r11", "memory", "cc");
	return rax;
}

/* The TLFS name without its HV_STATUS_ prefix (hv_model/hvcall.c has the
 * table: pure code, linked here too). */
const char *hc_status_name(uint16_t status)
{
	const char *n = hv_status_name(status);

	return n ? n + sizeof("HV_STATUS_") - 1 : "?";
}
