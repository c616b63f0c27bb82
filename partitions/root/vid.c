/* The VID layer: the root kernel's hypercalls (TLFS "Hypercall
 * Interface", "Partition Management").  Like Linux's mshv root driver, a
 * call that runs out of the hypervisor's memory for the partition it acts
 * on (HV_STATUS_INSUFFICIENT_MEMORY) gets pages deposited and is made
 * again. */
#include <hv/tlfs.h>

#include "kernel.h"
#include "vid.h"

#define VID_RETRY_DEPOSIT 16	/* pages deposited per INSUFFICIENT_MEMORY */
#define VID_RETRIES 64

static uint64_t hcall_page, in_page, out_page;

/* The GPA page the hypervisor overlays with its hypercall code: a page of
 * the kernel's text, so the kernel's own page tables map it executable
 * (its RAM map is not). */
extern const uint8_t rk_hcall_page[];
asm(".pushsection .text.hcall, \"ax\", @progbits\n"
    ".balign 4096\n"
    "rk_hcall_page:\n"
    ".fill 4096, 1, 0xcc\n"
    ".popsection");

bool vid_hypervisor_present(void)
{
	struct cpuid_regs r = cpuid(1, 0);

	if (!(r.ecx & HV_CPUID1_ECX_HYPERVISOR_PRESENT))
		return false;
	r = cpuid(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, 0);
	return r.ebx == HV_CPUID_VENDOR_EBX && r.ecx == HV_CPUID_VENDOR_ECX && r.edx == HV_CPUID_VENDOR_EDX &&
	       cpuid(HV_CPUID_INTERFACE, 0).eax == HV_CPUID_INTERFACE_HV1;
}

/* TLFS "Reporting the Guest OS Identity": an open-source OS, vendor-defined
 * fields; hvsim's root kernel 0.1. */
#define RK_GUEST_OS_ID ((1ull << 63) | (0x10ull << 56) | (0x0001ull << 16) | 1)

int vid_init(void)
{
	uint32_t priv = cpuid(HV_CPUID_FEATURES, 0).ebx;

	if (!(priv & HV_CREATE_PARTITIONS) || !(priv & HV_ACCESS_MEMORY_POOL))
		return -1;
	hcall_page = (uint64_t)(uintptr_t)rk_hcall_page;
	in_page = rk_page_alloc();
	out_page = rk_page_alloc();
	if (!hcall_page || !in_page || !out_page)
		return -1;
	wrmsr(HV_X64_MSR_GUEST_OS_ID, RK_GUEST_OS_ID);
	wrmsr(HV_X64_MSR_HYPERCALL, hcall_page | HV_X64_MSR_HYPERCALL_ENABLE);
	return (rdmsr(HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE) ? 0 : -1;
}

/* One hypercall through the page: RCX control, RDX/R8 the input and
 * output GPAs (identity: the kernel's physical addresses); RAX back. */
static uint64_t raw_call(uint64_t control)
{
	register uint64_t r8 asm("r8") = out_page;
	uint64_t rdx = in_page, rax;

	asm volatile("call *%[page]"
		     : "=a"(rax), "+c"(control), "+d"(rdx), "+r"(r8)
		     : [page] "r"(hcall_page)
		     : "r9", "r10", "r11", "memory", "cc");
	return rax;
}

uint64_t vid_call(uint16_t code, unsigned reps, const void *in, size_t in_len, void *out, size_t out_len)
{
	uint64_t r;

	memcpy(rk_va(in_page), in, in_len);
	r = raw_call(code | (uint64_t)reps << HV_HYPERCALL_REP_COMP_OFFSET);
	if (out)
		memcpy(out, rk_va(out_page), out_len);
	return r;
}

static uint16_t status_of(uint64_t rax)
{
	return (uint16_t)rax;
}

static unsigned reps_of(uint64_t rax)
{
	return (unsigned)((rax >> 32) & 0xfff);
}

uint64_t vid_deposited;		/* pages given for children and not withdrawn */
uint64_t vid_deposited_self;	/* pages given to the root's own pool (stay there) */

uint16_t vid_deposit(uint64_t partition, unsigned pages)
{
	struct {
		struct hv_input_deposit_memory h;
		uint64_t gpfn[HV_DEPOSIT_MAX];
	} in;

	while (pages) {
		unsigned n = pages < HV_DEPOSIT_MAX ? pages : HV_DEPOSIT_MAX, got;
		uint64_t r;

		in.h.partition_id = partition;
		for (unsigned i = 0; i < n; i++) {
			uint64_t pa = rk_page_alloc();

			if (!pa)
				return HV_STATUS_INSUFFICIENT_MEMORY;	/* the root itself ran dry */
			in.gpfn[i] = pa / RK_PAGE;
		}
		r = vid_call(HVCALL_DEPOSIT_MEMORY, n, &in, sizeof(in.h) + n * 8, NULL, 0);
		got = reps_of(r);
		if (partition == HV_PARTITION_ID_SELF)
			vid_deposited_self += got;
		else
			vid_deposited += got;
		for (unsigned i = got; i < n; i++)	/* what was not taken stays ours */
			rk_page_free(in.gpfn[i] * RK_PAGE);
		if (status_of(r))
			return status_of(r);
		pages -= n;
	}
	return HV_STATUS_SUCCESS;
}

/* A call on `deposit_to`'s behalf: deposit and retry while the
 * hypervisor is short of that partition's memory. */
uint64_t vid_call_deposit(uint64_t deposit_to, uint16_t code, unsigned reps, const void *in, size_t in_len,
			  void *out, size_t out_len)
{
	uint64_t r = 0;

	for (int i = 0; i < VID_RETRIES; i++) {
		r = vid_call(code, reps, in, in_len, out, out_len);
		if (status_of(r) != HV_STATUS_INSUFFICIENT_MEMORY)
			return r;
		if (vid_deposit(deposit_to, VID_RETRY_DEPOSIT))
			return r;
	}
	return r;
}

uint16_t vid_withdraw_all(uint64_t partition, uint64_t *pages)
{
	struct hv_input_withdraw_memory in = { .partition_id = partition };
	uint64_t gpfn[HV_DEPOSIT_MAX + 1];

	*pages = 0;
	for (;;) {
		uint64_t r = vid_call(HVCALL_WITHDRAW_MEMORY, HV_PAGE_SIZE / 8, &in, sizeof(in), gpfn,
				      sizeof(gpfn));
		unsigned got = reps_of(r);

		for (unsigned i = 0; i < got; i++)
			rk_page_free(gpfn[i] * RK_PAGE);
		*pages += got;
		vid_deposited -= got;
		/* The pool ran dry before the reps: everything is back. */
		if (status_of(r) == HV_STATUS_NO_RESOURCES)
			return HV_STATUS_SUCCESS;
		if (status_of(r))
			return status_of(r);
	}
}

/* ---- the SynIC: intercept messages ---- */

static uint64_t simp_page;

int vid_synic_init(void)
{
	simp_page = rk_page_alloc();
	if (!simp_page)
		return -1;
	wrmsr(HV_X64_MSR_SIMP, simp_page | HV_SYNIC_SIMP_ENABLE);
	/* Polling: unmasked, but no interrupt (TLFS "SINTx Registers"). */
	wrmsr(HV_X64_MSR_SINT(HV_SYNIC_INTERCEPTION_SINT_INDEX), HV_SYNIC_SINT_POLLING);
	wrmsr(HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
	return rdmsr(HV_X64_MSR_SVERSION) == HV_SYNIC_VERSION_1 ? 0 : -1;
}

bool vid_take_message(struct hv_message *out)
{
	volatile struct hv_message *slot = (volatile struct hv_message *)rk_va(simp_page) +
					   HV_SYNIC_INTERCEPTION_SINT_INDEX;
	uint8_t flags;

	if (!simp_page || slot->header.message_type == HVMSG_NONE)
		return false;
	/* Snapshot the slot, then give it back (TLFS "SynIC Messages"): the
	 * type first, and EOM if the hypervisor said more is queued. */
	memcpy(out, (const void *)slot, sizeof(*out));
	flags = slot->header.message_flags;
	slot->header.message_type = HVMSG_NONE;
	asm volatile("" ::: "memory");
	if (flags & HV_MESSAGE_FLAG_PENDING)
		wrmsr(HV_X64_MSR_EOM, 0);
	return true;
}

#define VID_REGS 4	/* registers per vid_complete and vid_get_registers */

uint16_t vid_complete(uint64_t partition, uint32_t vp, const struct hv_register_assoc *r, unsigned n)
{
	struct {
		struct hv_input_set_vp_registers h;
		struct hv_register_assoc r[VID_REGS + 1];
	} in = { .h = { .partition_id = partition, .vp_index = vp } };

	if (n > VID_REGS)
		return HV_STATUS_INVALID_PARAMETER;
	memcpy(in.r, r, n * sizeof(*r));
	in.r[n++] = (struct hv_register_assoc){ .name = HV_REGISTER_INTERCEPT_SUSPEND, .value.reg64 = 0 };
	return status_of(vid_call(HVCALL_SET_VP_REGISTERS, n, &in, sizeof(in.h) + n * sizeof(in.r[0]), NULL, 0));
}

uint16_t vid_complete_io(uint64_t partition, uint32_t vp, bool set_rax, uint64_t rax, uint64_t rip)
{
	struct hv_register_assoc r[2];
	unsigned n = 0;

	if (set_rax)
		r[n++] = (struct hv_register_assoc){ .name = HV_X64_REGISTER_RAX, .value.reg64 = rax };
	r[n++] = (struct hv_register_assoc){ .name = HV_X64_REGISTER_RIP, .value.reg64 = rip };
	return vid_complete(partition, vp, r, n);
}

uint16_t vid_get_registers(uint64_t partition, uint32_t vp, const uint32_t *names, unsigned n,
			   union hv_register_value *out)
{
	struct {
		struct hv_input_get_vp_registers h;
		uint32_t names[VID_REGS];
	} in = { .h = { .partition_id = partition, .vp_index = vp } };

	if (n > VID_REGS)
		return HV_STATUS_INVALID_PARAMETER;
	memcpy(in.names, names, n * sizeof(names[0]));
	return status_of(vid_call(HVCALL_GET_VP_REGISTERS, n, &in, sizeof(in.h) + 4 * n, out, sizeof(out[0]) * n));
}
