/* The hypercall interface (TLFS "Hypercall Interface"): a VMCALL exit
 * from a VP whose partition enabled the hypercall page.  The control
 * word in RCX is decoded and checked (hvcall.c), the input block copied
 * from the caller's memory (RDX/R8 hold the GPAs, or the input itself in
 * the fast form), the handler runs, the output block is copied back and
 * RAX gets the status and reps completed.  A rep call that runs past the
 * time bound returns with RIP not advanced and the rep start index in
 * RCX moved on, so the VP re-executes it (TLFS "Hypercall Continuation"). */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "hvcall.h"
#include "rt.h"

/* TLFS: the hypervisor bounds a hypercall to about 50 microseconds. */
#define HV_CALL_BOUND_US 50

static uint64_t bound_cycles;

static const struct hv_handler *find_handler(uint16_t code)
{
	for (const struct hv_handler *h = hv_handlers; h->fn; h++)
		if (h->code == code)
			return h;
	return NULL;
}

/* The RAM behind the caller's `gpa` if its EPT gives the access needed,
 * else ~0.  RAM only: the root's EPT also passes device ranges and the
 * hole below 4 GiB through, where a hypercall block cannot live (reading
 * it would touch devices, writing it would lose the result). */
uint64_t hv_guest_ram(struct hv_partition *p, uint64_t gpa, int write)
{
	uint64_t hpa = hv_ept_translate(&p->ept, gpa, write ? EPT_W : EPT_R);

	return hpa != ~0ull && hv_page_state(hpa, NULL) == HV_PAGE_ROOT ? hpa : ~0ull;
}

/* Copy between the caller's guest-physical memory and a hypervisor
 * buffer; the checks before guarantee the block does not cross a page.
 * -1 if the page is not the caller's RAM with the access needed. */
static int guest_copy(struct hv_partition *p, uint64_t gpa, void *buf, uint32_t len, int write)
{
	uint64_t hpa;

	if (!len)
		return 0;
	hpa = hv_guest_ram(p, gpa, write);
	if (hpa == ~0ull)
		return -1;
	if (write)
		memcpy(hv_va(hpa), buf, len);
	else
		memcpy(buf, hv_va(hpa), len);
	return 0;
}

void hv_hypercall_init(uint64_t tsc_khz)
{
	bound_cycles = tsc_khz * HV_CALL_BOUND_US / 1000;
}

void hv_hypercall(struct hv_vp *vp)
{
	uint8_t *in = hv_this_lp()->call_in, *out = hv_this_lp()->call_out;
	static struct hv_mark_hypercall mark;
	struct hv_partition *p = vp->part;
	uint64_t rcx = vp->g.rcx, in_gpa = vp->g.rdx, out_gpa = vp->g.r8;
	struct hv_call call = { .vp = vp, .in = in, .out = out };
	const struct hvcall_desc *d = NULL;
	const struct hv_handler *h = NULL;
	enum hvcall_rule why;
	bool ran = false;
	uint16_t st;

	/* #UD without the hypercall page, from CPL > 0 or outside protected
	 * mode (TLFS "Hypercall Interface"; SS.DPL is the CPL, SDM 25.4.1). */
	if (!(p->hypercall_msr & HV_X64_MSR_HYPERCALL_ENABLE) || ((vmread(VMCS_GUEST_SS_AR_BYTES) >> 5) & 3) ||
	    !(vmread(VMCS_GUEST_CR0) & X86_CR0_PE)) {
		hv_inject_exception(6, 0, 0);
		return;
	}
	st = hvcall_validate(rcx, in_gpa, out_gpa, (uint32_t)(p->privileges >> 32), &call.ctl, &d, &why);
	if (st == HV_STATUS_SUCCESS && !(h = find_handler(d->code)))
		st = HV_STATUS_INVALID_HYPERCALL_CODE;	/* a table entry no handler serves (none today) */
	if (st == HV_STATUS_SUCCESS) {
		uint32_t n = hvcall_in_bytes(d, &call.ctl);

		memset(in, 0, n);
		if (call.ctl.fast) {
			uint64_t regs[2] = { vp->g.rdx, vp->g.r8 };

			memcpy(in, regs, n < sizeof(regs) ? n : sizeof(regs));
		} else if (guest_copy(p, in_gpa, in, n, 0)) {
			st = HV_STATUS_INVALID_ALIGNMENT;	/* not the caller's memory */
		}
	}
	/* The output block is the caller's and writable before the call acts:
	 * a call whose result cannot be delivered must change nothing (a
	 * CreatePartition would leave a partition nobody knows the id of). */
	if (st == HV_STATUS_SUCCESS && !call.ctl.fast && hvcall_out_bytes(d, &call.ctl) &&
	    hv_guest_ram(p, out_gpa, 1) == ~0ull)
		st = HV_STATUS_INVALID_ALIGNMENT;
	call.rep = call.ctl.rep_start;
	HV_MARKER(HV_MARK_HCALL_BODY, 0);
	if (st == HV_STATUS_SUCCESS) {
		call.deadline = rdtsc() + bound_cycles;
		memset(out, 0, hvcall_out_bytes(d, &call.ctl));
		st = h->fn(&call);
		ran = true;
	}
	HV_MARKER(HV_MARK_HCALL_BODY_END, 0);
	/* What the call produced: a simple call's output when it succeeded; a
	 * rep call's elements from the rep start index to the last one done,
	 * whatever the status (OpenVMM hv1_hypercall does the same; Linux
	 * frees the pages a WithdrawMemory ending in NO_RESOURCES returned),
	 * and never the elements an earlier continuation delivered. */
	if (ran && !call.ctl.fast) {
		uint32_t lo = d->out_elem ? d->out_fixed + d->out_elem * call.ctl.rep_start : 0;
		uint32_t hi = d->out_elem ? d->out_fixed + d->out_elem * call.rep :
			      st == HV_STATUS_SUCCESS ? d->out_fixed : 0;

		if (hi > lo && guest_copy(p, out_gpa + lo, out + lo, hi - lo, 1))
			st = HV_STATUS_INVALID_ALIGNMENT;	/* the handler unmapped it */
	}
	mark = (struct hv_mark_hypercall){ .code = call.ctl.code, .status = st,
					   .reps = call.rep - call.ctl.rep_start, .partition = p->id,
					   .vp = vp->index };
	if (st == HV_STATUS_SUCCESS && d && d->rep && call.rep < call.ctl.rep_count) {
		/* Continuation: the VP re-executes VMCALL from rep `call.rep`. */
		vp->g.rcx = (rcx & ~HV_HYPERCALL_REP_START_MASK) |
			    ((uint64_t)call.rep << HV_HYPERCALL_REP_START_OFFSET);
		mark.continued = 1;
	} else {
		/* A control word refused before the handler ran did no reps. */
		vp->g.rax = hvcall_result(st, d && d->rep && ran ? call.rep : 0);
		hv_skip_instruction();
	}
	HV_MARKER(HV_MARK_HCALL_DONE, &mark);
}

/* A rep handler's loop condition: more reps, and time left (at least one
 * rep is always attempted, TLFS "Hypercall Classes"). */
bool hv_call_more(struct hv_call *c, unsigned started)
{
	if (c->rep >= c->ctl.rep_count)
		return false;
	return c->rep == started || rdtsc() < c->deadline;
}
