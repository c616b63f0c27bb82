/* enlightened.elf: a child kernel that knows it runs on Hyper-V and uses
 * the interface a guest has (TLFS "Feature and Interface Discovery",
 * "Hypercall Interface"):
 *
 *   1. CPUID.01H:ECX[31], the hypervisor-present bit;
 *   2. CPUID 0x40000000 (maximum leaf >= 0x40000005, vendor "Microsoft
 *      Hv"), 0x40000001 ("Hv#1"), 0x40000002 (version, logged);
 *   3. CPUID 0x40000003: the privileges a child has (HypercallMsrs and
 *      VpIndex in EAX) and has not (CreatePartitions, AccessPartitionId,
 *      AccessMemoryPool in EBX);
 *   4. HV_X64_MSR_GUEST_OS_ID, then HV_X64_MSR_HYPERCALL to enable the
 *      hypercall page at a page of its own, then HV_X64_MSR_VP_INDEX;
 *   5. hypercalls through the page, each with the status the TLFS
 *      prescribes for a child partition;
 *   6. synthetic interrupts while the workload runs (interrupts.c).
 * Then the workload (workload.c) and the mailbox report (runtime.c), as
 * unenlightened.elf does.  Without a hypervisor (the bare platform) step
 * 1 fails, the rest of 1-5 is skipped and no synthetic MSR is touched: an
 * RDMSR/WRMSR the CPU does not implement would #GP, and the child has no
 * IDT to survive it. */
#include <hv/tlfs.h>

#include "child.h"

/* The guest OS identity, in the open-source encoding [T "Guest OS
 * Identity MSR for Open Source Operating Systems"]: 63 open source, 62:56
 * OS type, 55:48 OS id, 47:16 version, 15:0 build.  No OS type is
 * allocated to hvsim's child kernels; 0 is none of the allocated ones
 * (Linux 1, FreeBSD 2, Xen 3, Illumos 4), so the value passes for no other
 * OS.  The version is the childboot.h contract the kernel implements.
 * Bit 63 alone makes the value non-zero, which the hypercall page needs. */
#define CHILD_OS_TYPE 0x0
#define CHILD_GUEST_OS_ID (HV_GUEST_OS_ID_OPEN_SOURCE |					\
			   ((uint64_t)CHILD_OS_TYPE << HV_GUEST_OS_ID_OS_TYPE_SHIFT) |		\
			   ((uint64_t)CHILD_BOOT_VERSION << HV_GUEST_OS_ID_VERSION_SHIFT))

/* HvCallNotifyLongSpinWait's input: the spins so far (any value will do
 * for a hint). */
#define CHILD_SPIN_COUNT 4096

/* Pages of the child's own memory; GPA = VA under the root's identity map
 * (childboot.h).  Each array is one whole page: the hypervisor overlays
 * hc_page read/execute-only [T "Establishing the Hypercall Interface"],
 * so nothing else may live there; hc_in and hc_out hold memory-form
 * inputs and outputs, which must not cross a page [T "Alignment
 * Requirements"]. */
static uint8_t hc_page[4096] __attribute__((aligned(4096)));
static uint8_t hc_in[4096] __attribute__((aligned(4096)));
static uint8_t hc_out[4096] __attribute__((aligned(4096)));

static uint64_t hc_page_gpa;	/* the page child_hv_call() calls: ours, or one already enabled */

static inline uint64_t gpa_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

uint64_t child_hv_call(uint64_t control, uint64_t input, uint64_t output)
{
	return child_hv_call_at((const void *)(uintptr_t)hc_page_gpa, control, input, output);
}

const char *child_status_name(uint16_t st)
{
	switch (st) {
	case HV_STATUS_SUCCESS:
		return "HV_STATUS_SUCCESS";
	case HV_STATUS_INVALID_HYPERCALL_CODE:
		return "HV_STATUS_INVALID_HYPERCALL_CODE";
	case HV_STATUS_INVALID_HYPERCALL_INPUT:
		return "HV_STATUS_INVALID_HYPERCALL_INPUT";
	case HV_STATUS_INVALID_ALIGNMENT:
		return "HV_STATUS_INVALID_ALIGNMENT";
	case HV_STATUS_INVALID_PARAMETER:
		return "HV_STATUS_INVALID_PARAMETER";
	case HV_STATUS_ACCESS_DENIED:
		return "HV_STATUS_ACCESS_DENIED";
	case HV_STATUS_INVALID_PARTITION_STATE:
		return "HV_STATUS_INVALID_PARTITION_STATE";
	case HV_STATUS_OPERATION_DENIED:
		return "HV_STATUS_OPERATION_DENIED";
	case HV_STATUS_INSUFFICIENT_MEMORY:
		return "HV_STATUS_INSUFFICIENT_MEMORY";
	case HV_STATUS_INVALID_PARTITION_ID:
		return "HV_STATUS_INVALID_PARTITION_ID";
	case HV_STATUS_INVALID_VP_INDEX:
		return "HV_STATUS_INVALID_VP_INDEX";
	case HV_STATUS_INVALID_PORT_ID:
		return "HV_STATUS_INVALID_PORT_ID";
	case HV_STATUS_INVALID_CONNECTION_ID:
		return "HV_STATUS_INVALID_CONNECTION_ID";
	case HV_STATUS_INSUFFICIENT_BUFFERS:
		return "HV_STATUS_INSUFFICIENT_BUFFERS";
	default:
		return "?";
	}
}

/* A simple call's result: the status, and no reps completed [T
 * "Hypercall Outputs"]; bits 31:16 and 63:44 are to be ignored. */
bool child_hv_expect(uint64_t rax, uint16_t want, const char *what)
{
	uint16_t st = (uint16_t)(rax & HV_HYPERCALL_RESULT_MASK);
	unsigned reps = (unsigned)((rax & HV_HYPERCALL_REP_COMP_MASK) >> HV_HYPERCALL_REP_COMP_OFFSET);

	if (st == want && reps == 0)
		return child_check(true, "%s: %s", what, child_status_name(st));
	return child_check(false, "%s: %s (0x%x), %u reps, want %s", what, child_status_name(st), st,
			   reps, child_status_name(want));
}

/* ---- discovery and the hypercall page ---- */

static void sig_text(char out[5], uint32_t reg)
{
	for (int i = 0; i < 4; i++) {
		char c = (char)(reg >> (8 * i));

		out[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	out[4] = 0;
}

/* Steps 1-3 [T "Establishing the Hypercall Interface", steps 1, 2 and 9].
 * Returns CPUID 0x40000003 EAX, the synthetic MSRs this partition may
 * touch, or 0 when there is no usable hypervisor interface. */
static uint32_t child_hv_discover(void)
{
	const uint32_t msrs_needed = HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE;
	const uint32_t calls_forbidden = HV_CREATE_PARTITIONS | HV_ACCESS_PARTITION_ID |
					 HV_ACCESS_MEMORY_POOL;
	struct cpuid_regs r;
	char v0[5], v1[5], v2[5], sig[5];

	r = cpuid(1, 0);
	if (!(r.ecx & HV_CPUID1_ECX_HYPERVISOR_PRESENT)) {
		child_check(false, "no hypervisor: CPUID.01H:ECX[31] is clear");
		return 0;
	}
	child_check(true, "hypervisor present: CPUID.01H:ECX[31] is set");

	r = cpuid(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, 0);
	sig_text(v0, r.ebx);
	sig_text(v1, r.ecx);
	sig_text(v2, r.edx);
	if (!child_check(r.eax >= HV_CPUID_MIN && r.ebx == HV_CPUID_VENDOR_EBX &&
			 r.ecx == HV_CPUID_VENDOR_ECX && r.edx == HV_CPUID_VENDOR_EDX,
			 "CPUID 0x40000000: max leaf 0x%x (want >= 0x%x), vendor \"%s%s%s\"",
			 r.eax, HV_CPUID_MIN, v0, v1, v2))
		return 0;

	r = cpuid(HV_CPUID_INTERFACE, 0);
	sig_text(sig, r.eax);
	if (!child_check(r.eax == HV_CPUID_INTERFACE_HV1, "CPUID 0x40000001: interface \"%s\" "
			 "(want \"Hv#1\")", sig))
		return 0;

	r = cpuid(HV_CPUID_VERSION, 0);
	child_info("CPUID 0x40000002: hypervisor version %u.%u, build %u", r.ebx >> 16,
		   r.ebx & 0xffff, r.eax);

	r = cpuid(HV_CPUID_FEATURES, 0);
	child_check((r.eax & msrs_needed) == msrs_needed,
		    "CPUID 0x40000003 EAX 0x%x: HypercallMsrs %s, VpIndex %s", r.eax,
		    r.eax & HV_MSR_HYPERCALL_AVAILABLE ? "yes" : "NO",
		    r.eax & HV_MSR_VP_INDEX_AVAILABLE ? "yes" : "NO");
	child_check(!(r.ebx & calls_forbidden),
		    "CPUID 0x40000003 EBX 0x%x: CreatePartitions %s, AccessPartitionId %s, "
		    "AccessMemoryPool %s (a child has none)", r.ebx,
		    r.ebx & HV_CREATE_PARTITIONS ? "YES" : "no",
		    r.ebx & HV_ACCESS_PARTITION_ID ? "YES" : "no",
		    r.ebx & HV_ACCESS_MEMORY_POOL ? "YES" : "no");
	return r.eax;
}

/* Steps 3-7 and VP_INDEX.  Only MSRs the privileges grant are touched.
 * Returns true when the hypercall page is enabled. */
static bool child_hv_enable(uint32_t msr_privileges)
{
	uint64_t before, after, msr, want;

	if (!(msr_privileges & HV_MSR_HYPERCALL_AVAILABLE))
		return false;	/* GUEST_OS_ID and HYPERCALL would #GP: nothing more to try */

	/* A new partition's GUEST_OS_ID is 0; the guest writes its identity
	 * only over a 0 [T "Reporting the Guest OS Identity", step 3]. */
	before = rdmsr(HV_X64_MSR_GUEST_OS_ID);
	if (!before)
		wrmsr(HV_X64_MSR_GUEST_OS_ID, CHILD_GUEST_OS_ID);
	after = rdmsr(HV_X64_MSR_GUEST_OS_ID);
	child_check(before == 0 && after == CHILD_GUEST_OS_ID,
		    "GUEST_OS_ID was 0x%lx, reads 0x%lx (want 0, then 0x%llx)", (unsigned long)before,
		    (unsigned long)after, CHILD_GUEST_OS_ID);

	/* An enabled page is used where it is (step 5); otherwise ours, with
	 * bits 11:2 preserved as read (RsvdP). */
	msr = rdmsr(HV_X64_MSR_HYPERCALL);
	if (msr & HV_X64_MSR_HYPERCALL_ENABLE) {
		hc_page_gpa = msr & HV_X64_MSR_HYPERCALL_PAGE_ADDRESS_MASK;
		child_info("hypercall page already enabled at GPA 0x%lx", (unsigned long)hc_page_gpa);
	} else {
		want = gpa_of(hc_page) | HV_X64_MSR_HYPERCALL_ENABLE;
		wrmsr(HV_X64_MSR_HYPERCALL, (msr & HV_X64_MSR_HYPERCALL_RSVDP_MASK) | want);
		msr = rdmsr(HV_X64_MSR_HYPERCALL);
		if (!child_check((msr & ~HV_X64_MSR_HYPERCALL_RSVDP_MASK) == want,
				 "HYPERCALL MSR reads 0x%lx: page enabled at GPA 0x%lx, not locked",
				 (unsigned long)msr, (unsigned long)gpa_of(hc_page)))
			return false;
		hc_page_gpa = gpa_of(hc_page);
	}

	if (msr_privileges & HV_MSR_VP_INDEX_AVAILABLE) {
		uint64_t vp = rdmsr(HV_X64_MSR_VP_INDEX);

		child_check(vp == 0, "VP_INDEX reads %lu (want 0: the boot VP)", (unsigned long)vp);
	}
	return true;
}

/* ---- the hypercalls ---- */

static void child_hv_hypercalls(void)
{
	struct hv_input_flush_virtual_address_space *flush = (void *)hc_in;
	struct hv_input_create_partition *create = (void *)hc_in;
	uint64_t rax;

	/* HvCallNotifyLongSpinWait 0x0008: fast only, the spin count in RDX. */
	rax = child_hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT, CHILD_SPIN_COUNT, 0);
	child_hv_expect(rax, HV_STATUS_SUCCESS, "HvCallNotifyLongSpinWait (fast)");

	/* HvCallFlushVirtualAddressSpace 0x0002, memory form: every address
	 * space on every VP, so the CR3 and processor mask given are ignored
	 * [T HvCallFlushVirtualAddressSpace]; no output. */
	memset(flush, 0, sizeof(*flush));
	flush->address_space = read_cr3();
	flush->flags = HV_FLUSH_ALL_PROCESSORS | HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES;
	flush->processor_mask = 1;
	rax = child_hv_call(HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, gpa_of(hc_in), 0);
	child_hv_expect(rax, HV_STATUS_SUCCESS, "HvCallFlushVirtualAddressSpace (all VPs, all spaces)");

	/* HvCallGetPartitionId 0x0046 needs AccessPartitionId, which a child
	 * lacks [T "Partition Privilege Flags"]; no input. */
	rax = child_hv_call(HVCALL_GET_PARTITION_ID, 0, gpa_of(hc_out));
	child_hv_expect(rax, HV_STATUS_ACCESS_DENIED, "HvCallGetPartitionId");

	/* HvCallCreatePartition 0x0040 needs CreatePartitions: a well-formed
	 * input, denied all the same. */
	memset(create, 0, sizeof(*create));
	create->compatibility_version = HV_COMPATIBILITY_21_H2;
	rax = child_hv_call(HVCALL_CREATE_PARTITION, gpa_of(hc_in), gpa_of(hc_out));
	child_hv_expect(rax, HV_STATUS_ACCESS_DENIED, "HvCallCreatePartition");

	/* 0x0001 (HvCallSwitchVirtualAddressSpace in the TLFS) is a code
	 * hv_model does not offer: HV_STATUS_INVALID_HYPERCALL_CODE [T
	 * "Common Hypercall Status Codes"]. */
	rax = child_hv_call(HVCALL_SWITCH_VIRTUAL_ADDRESS_SPACE, 0, 0);
	child_hv_expect(rax, HV_STATUS_INVALID_HYPERCALL_CODE, "call code 0x0001 (not offered)");
}

void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags)
{
	uint32_t privileges;

	child_start(boot, entry_rsp, entry_rflags, CHILD_IMAGE_ENLIGHTENED);
	privileges = child_hv_discover();
	if (privileges && child_hv_enable(privileges)) {
		bool test_device = boot == (const struct hv_child_boot *)CHILD_BOOT &&
				   (boot->flags & CHILD_FLAG_SYNIC_TEST_DEVICE);

		child_hv_hypercalls();
		if (test_device)
			child_synic_device(privileges);
		child_interrupts_start(privileges, test_device);
	}
	child_workload(child_iterations());
	child_interrupts_finish();
	child_finish();
}
