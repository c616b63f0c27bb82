/* hvcall_matrix: the hypercall interface and partition management of
 * hv_model, exercised from the root partition (tests/hv/, hvt.h).
 *
 *   1 discovery       synthetic CPUID leaves and the hypervisor bit
 *   2 hypercall page  GUEST_OS_ID, HYPERCALL (enable, GPFN, lock), the
 *                     overlay and what it covers, VP_INDEX, unknown MSRs
 *   3 control word    for every implemented call, every malformed control
 *                     word and input/output block, with the status that
 *                     wins (hv_model/hvcall.h gives the order of checks),
 *                     and after each set of failures a check that nothing
 *                     changed
 *   4 lifecycle       partition states, bad ids, VP indices, registers,
 *                     mappings, deposit and withdrawal
 *   5 a running child computes, calls what it may not, halts
 *   6 isolation       a child that stores outside its memory is stopped
 *                     (the root's SIM page is still off: nobody could be
 *                     told), nothing else changes; one that touches a port nobody
 *                     intercepts reads all ones and carries on
 *   6b SynIC and      the root's SynIC MSRs (SVERSION, #GP for a low
 *      intercepts     vector or SIRBP, SIMP enable and its empty page);
 *                     InstallIntercept statuses; two children's OUTs as
 *                     intercept messages: layout, msg_pending and EOM,
 *                     the polling SINT, a vector-16 SINT injected when the
 *                     root opens an interrupt window, completion through
 *                     SetVpRegisters and InterceptSuspend; a store to a
 *                     GPA the child was not given as an UnmappedGpa
 *                     message (layout, instruction bytes), completed the
 *                     same way
 *   7 continuation    a 511-page deposit and withdrawal as one call each
 *
 * Statuses are the TLFS's ("Hypercall Interface", "Common Hypercall
 * Status Codes", and each call's page); where the TLFS leaves a choice
 * the comment says which one hv_model makes.  Every check prints what it
 * saw. */
#include "child.h"
#include "hvt.h"
#include "hypercall.h"

#define ST(x) HV_STATUS_##x
#define BAD_PARTITION_ID 12345ull
#define MAX_TRACKED 600		/* pages a test partition may hold */
#define NO_REPS (-1)
/* What hv_model gives every child: CPUID 0x40000003 EAX, the hypercall
 * MSRs, VP index, SynIC, synthetic time (reference counter, timers,
 * reference TSC page), the APIC MSRs and the frequency MSRs, and EBX,
 * PostMessages, SignalEvents and StartVirtualProcessor. */
#define CHILD_MSR_PRIVILEGES                                                                       \
	(HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | HV_MSR_SYNIC_AVAILABLE |          \
	 HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_SYNTIMER_AVAILABLE | HV_MSR_REFERENCE_TSC_AVAILABLE | \
	 HV_MSR_APIC_ACCESS_AVAILABLE | HV_ACCESS_FREQUENCY_MSRS)
#define CHILD_HC_PRIVILEGES (HV_POST_MESSAGES | HV_SIGNAL_EVENTS | HV_START_VIRTUAL_PROCESSOR)
#define CHILD_PRIVILEGES (CHILD_MSR_PRIVILEGES | (uint64_t)CHILD_HC_PRIVILEGES << 32)

/* ---- helpers ---- */

static uint8_t hcpage[4096] __attribute__((aligned(4096)));	/* our hypercall page */
static uint8_t mx[2 * 4096] __attribute__((aligned(4096)));	/* misplaced blocks */
static uint64_t root_id;
static uint64_t hv_image, hv_pool;	/* reserved ranges of the root's memory map */
static uint64_t unmapped_gpa;		/* above everything the root's EPT maps */

static bool expect(uint64_t rax, uint16_t want, int want_reps, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool expect(uint64_t rax, uint16_t want, int want_reps, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	bool ok = hc_status(rax) == want && (want_reps == NO_REPS || hc_reps(rax) == (unsigned)want_reps);

	va_start(ap, fmt);
	fw_vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (want_reps == NO_REPS)
		return report(ok, "%s: %s (want %s)", what, hc_status_name(hc_status(rax)), hc_status_name(want));
	return report(ok, "%s: %s, %u reps (want %s, %d)", what, hc_status_name(hc_status(rax)), hc_reps(rax),
		      hc_status_name(want), want_reps);
}

static uint64_t call(uint64_t ctl, const void *in, const void *out)
{
	return hc_call(ctl, hvt_pa(in), hvt_pa(out));
}

static uint64_t pfn(uint64_t pa)
{
	return pa / HVT_PAGE;
}

/* FNV-1a over a range of memory: "unchanged" checks. */
static uint64_t hash(uint64_t pa, uint64_t len)
{
	const volatile uint8_t *p = hvt_va(pa);
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint64_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void sort(uint64_t *a, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint64_t v = a[i];
		unsigned j = i;

		for (; j && a[j - 1] > v; j--)
			a[j] = a[j - 1];
		a[j] = v;
	}
}

/* Are a[0..n) and b[0..n) the same set (each without repeats)? */
static bool same_set(uint64_t *a, uint64_t *b, unsigned n)
{
	sort(a, n);
	sort(b, n);
	for (unsigned i = 0; i < n; i++)
		if (a[i] != b[i] || (i && a[i] == a[i - 1]))
			return false;
	return true;
}

static uint64_t cycles(void)
{
	return rdtsc();
}

static void spin(uint64_t n)
{
	uint64_t t = cycles();

	while (cycles() - t < n)
		cpu_pause();
}

/* ---- input blocks (tlfs.h wire structures), built in hc_in ---- */

static uint32_t in_create(uint64_t flags)
{
	struct hv_input_create_partition *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->flags = flags;
	in->compatibility_version = HV_COMPATIBILITY_21_H2;
	return sizeof(*in);
}

static uint32_t in_id(uint64_t id)	/* Initialize/Finalize/Delete */
{
	memcpy(hc_in, &id, 8);
	return 8;
}

static uint32_t in_prop(uint64_t id, uint32_t code, uint64_t value)	/* Get (16) / Set (24) */
{
	struct hv_input_set_partition_property *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->partition_id = id;
	in->property_code = code;
	in->property_value = value;
	return sizeof(*in);
}

static uint32_t in_pages(uint64_t id, const uint64_t *pfns, unsigned n)	/* Deposit */
{
	memcpy(hc_in, &id, 8);
	memcpy(hc_in + 8, pfns, 8ull * n);
	return 8 + 8 * n;
}

static uint32_t in_withdraw(uint64_t id)
{
	struct hv_input_withdraw_memory *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->partition_id = id;
	return sizeof(*in);
}

static uint32_t in_map(uint64_t id, uint64_t gpa_pfn, uint32_t flags, const uint64_t *pfns, unsigned n)
{
	struct hv_input_map_gpa_pages *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->target_partition_id = id;
	in->target_gpa_base = gpa_pfn;
	in->map_flags = flags;
	memcpy(hc_in + sizeof(*in), pfns, 8ull * n);
	return sizeof(*in) + 8 * n;
}

static uint32_t in_unmap(uint64_t id, uint64_t gpa_pfn)
{
	struct hv_input_unmap_gpa_pages *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->target_partition_id = id;
	in->target_gpa_base = gpa_pfn;
	return sizeof(*in);
}

static uint32_t in_create_vp(uint64_t id, uint32_t index)
{
	struct hv_input_create_vp *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->partition_id = id;
	in->vp_index = index;
	return sizeof(*in);
}

static uint32_t in_get_regs(uint64_t id, uint32_t vp, const uint32_t *names, unsigned n)
{
	struct hv_input_get_vp_registers *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->partition_id = id;
	in->vp_index = vp;
	memcpy(hc_in + sizeof(*in), names, 4ull * n);
	return sizeof(*in) + 4 * n;
}

static uint32_t in_set_regs(uint64_t id, uint32_t vp, const struct hv_register_assoc *regs, unsigned n)
{
	struct hv_input_set_vp_registers *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->partition_id = id;
	in->vp_index = vp;
	memcpy(hc_in + sizeof(*in), regs, sizeof(*regs) * n);
	return sizeof(*in) + sizeof(*regs) * n;
}

/* ---- calls that are expected to work ---- */

static uint64_t create_partition(uint64_t *id)
{
	uint64_t rax;

	in_create(0);
	memset(hc_out, 0xee, 8);
	rax = call(hc_ctl(HVCALL_CREATE_PARTITION, 0, 0), hc_in, hc_out);
	memcpy(id, hc_out, 8);
	return rax;
}

static uint64_t by_id(uint16_t code, uint64_t id)	/* Initialize/Finalize/Delete, memory form */
{
	in_id(id);
	return call(hc_ctl(code, 0, 0), hc_in, hc_out);
}

static uint64_t by_id_fast(uint16_t code, uint64_t id)	/* the register form: RDX = the input */
{
	return hc_call(hc_ctl(code, 0, 0) | HV_HYPERCALL_FAST_BIT, id, 0);
}

static uint64_t get_prop(uint64_t id, uint32_t code, uint64_t *v)
{
	uint64_t rax;

	in_prop(id, code, 0);
	memset(hc_out, 0xee, 8);
	rax = call(hc_ctl(HVCALL_GET_PARTITION_PROPERTY, 0, 0), hc_in, hc_out);
	memcpy(v, hc_out, 8);
	return rax;
}

static uint64_t set_prop(uint64_t id, uint32_t code, uint64_t v)
{
	in_prop(id, code, v);
	return call(hc_ctl(HVCALL_SET_PARTITION_PROPERTY, 0, 0), hc_in, hc_out);
}

static uint64_t deposit(uint64_t id, const uint64_t *pfns, unsigned n)
{
	in_pages(id, pfns, n);
	return call(hc_ctl(HVCALL_DEPOSIT_MEMORY, n, 0), hc_in, hc_out);
}

static uint64_t deposit1(uint64_t id, uint64_t pa)
{
	uint64_t p = pfn(pa);

	return deposit(id, &p, 1);
}

/* Withdraw up to n pages into out[] (page numbers). */
static uint64_t withdraw(uint64_t id, unsigned n, uint64_t *out)
{
	uint64_t rax;

	in_withdraw(id);
	memset(hc_out, 0, 8ull * n);
	rax = call(hc_ctl(HVCALL_WITHDRAW_MEMORY, n, 0), hc_in, hc_out);
	memcpy(out, hc_out, 8ull * n);
	return rax;
}

static uint64_t map(uint64_t id, uint64_t gpa, uint32_t flags, const uint64_t *pfns, unsigned n)
{
	in_map(id, pfn(gpa), flags, pfns, n);
	return call(hc_ctl(HVCALL_MAP_GPA_PAGES, n, 0), hc_in, hc_out);
}

static uint64_t unmap(uint64_t id, uint64_t gpa, unsigned n)
{
	in_unmap(id, pfn(gpa));
	return call(hc_ctl(HVCALL_UNMAP_GPA_PAGES, n, 0), hc_in, hc_out);
}

static uint64_t create_vp(uint64_t id, uint32_t index)
{
	in_create_vp(id, index);
	return call(hc_ctl(HVCALL_CREATE_VP, 0, 0), hc_in, hc_out);
}

static uint64_t get_reg(uint64_t id, uint32_t vp, uint32_t name, union hv_register_value *v)
{
	uint64_t rax;

	in_get_regs(id, vp, &name, 1);
	memset(hc_out, 0xee, 16);
	rax = call(hc_ctl(HVCALL_GET_VP_REGISTERS, 1, 0), hc_in, hc_out);
	memcpy(v, hc_out, sizeof(*v));
	return rax;
}

static uint64_t set_reg64(uint64_t id, uint32_t vp, uint32_t name, uint64_t v)
{
	struct hv_register_assoc r = { .name = name };

	r.value.reg64 = v;
	in_set_regs(id, vp, &r, 1);
	return call(hc_ctl(HVCALL_SET_VP_REGISTERS, 1, 0), hc_in, hc_out);
}

/* ---- 3: the control-word matrix ---- */

/* A call whose valid input (in_len bytes) is in hc_in: with a correct
 * control word (rep count `reps` for a rep call) it would succeed and
 * change something.  Every variation below is malformed and must fail
 * with the status hvcall.h's order gives, before the handler runs. */
struct mx_call {
	const char *name;
	uint16_t code;
	bool rep;
	bool fast_ok;		/* has a register form */
	unsigned reps;		/* rep count of the valid call */
	uint32_t in_len, out_len;
};

static void control_matrix(const struct mx_call *c)
{
	static const struct {
		uint64_t bits;
		const char *what;
	} bad_bits[] = {
		/* TLFS "Hypercall Inputs": RsvdZ 30:27, 47:44, 63:60 */
		{ 1ull << 27, "reserved bit 27" }, { 1ull << 30, "reserved bit 30" },
		{ 1ull << 44, "reserved bit 44" }, { 1ull << 47, "reserved bit 47" },
		{ 1ull << 60, "reserved bit 60" }, { 1ull << 63, "reserved bit 63" },
		/* no L1 hypervisor under hvsim: the nested bit is refused */
		{ HV_HYPERCALL_NESTED, "is-nested bit 31" },
		/* TLFS "Variable Sized Hypercall Input Headers": none of these
		 * calls takes one */
		{ 1ull << HV_HYPERCALL_VARHEAD_OFFSET, "variable header size 1" },
		{ HV_HYPERCALL_VARHEAD_MASK, "variable header size 1023" },
	};
	uint64_t ok = hc_ctl(c->code, c->rep ? c->reps : 0, 0);
	void *in = hc_in, *out = hc_out;

	for (size_t i = 0; i < sizeof(bad_bits) / sizeof(bad_bits[0]); i++)
		expect(call(ok | bad_bits[i].bits, in, out), ST(INVALID_HYPERCALL_INPUT), 0, "%s: %s", c->name,
		       bad_bits[i].what);
	/* TLFS "Hypercall Classes": a simple call has rep count and rep
	 * start 0; a rep call a rep count >= 1 and rep start < rep count. */
	if (!c->rep) {
		expect(call(hc_ctl(c->code, 1, 0), in, out), ST(INVALID_HYPERCALL_INPUT), 0,
		       "%s: simple call with rep count 1", c->name);
		expect(call(hc_ctl(c->code, 0, 1), in, out), ST(INVALID_HYPERCALL_INPUT), 0,
		       "%s: simple call with rep start 1", c->name);
	} else {
		expect(call(hc_ctl(c->code, 0, 0), in, out), ST(INVALID_HYPERCALL_INPUT), 0,
		       "%s: rep call with rep count 0", c->name);
		expect(call(hc_ctl(c->code, c->reps, c->reps), in, out), ST(INVALID_HYPERCALL_INPUT), 0,
		       "%s: rep start %u = rep count", c->name, c->reps);
		expect(call(hc_ctl(c->code, c->reps, 0xfff), in, out), ST(INVALID_HYPERCALL_INPUT), 0,
		       "%s: rep start 4095 > rep count %u", c->name, c->reps);
	}
	if (!c->fast_ok)
		expect(call(ok | HV_HYPERCALL_FAST_BIT, in, out), ST(INVALID_HYPERCALL_INPUT), 0,
		       "%s: fast form of a call without one", c->name);
	/* TLFS "Alignment Requirements" and "Memory Access": 8-byte aligned,
	 * inside one page, and the caller's memory (hv_model answers a block
	 * outside the caller with INVALID_ALIGNMENT, hypercall.c). */
	if (c->in_len) {
		memcpy(mx + 4, hc_in, c->in_len);
		expect(call(ok, mx + 4, out), ST(INVALID_ALIGNMENT), 0, "%s: input GPA 0x%lx not 8-byte aligned",
		       c->name, (unsigned long)hvt_pa(mx + 4));
		if (c->in_len > 8) {
			memcpy(mx + 4096 - 8, hc_in, c->in_len);
			expect(call(ok, mx + 4096 - 8, out), ST(INVALID_ALIGNMENT), 0,
			       "%s: %u-byte input block at 0x%lx crosses a page", c->name, c->in_len,
			       (unsigned long)hvt_pa(mx + 4096 - 8));
		}
		expect(hc_call(ok, hv_image, hvt_pa(out)), ST(INVALID_ALIGNMENT), 0,
		       "%s: input GPA 0x%lx in the hypervisor's image", c->name, (unsigned long)hv_image);
		expect(hc_call(ok, hv_pool + 0x10000, hvt_pa(out)), ST(INVALID_ALIGNMENT), 0,
		       "%s: input GPA 0x%lx in the hypervisor's pool", c->name, (unsigned long)hv_pool + 0x10000);
		expect(hc_call(ok, unmapped_gpa, hvt_pa(out)), ST(INVALID_ALIGNMENT), 0,
		       "%s: input GPA 0x%lx above the root's memory", c->name, (unsigned long)unmapped_gpa);
	}
	if (c->out_len) {
		expect(call(ok, in, hc_out + 4), ST(INVALID_ALIGNMENT), 0, "%s: output GPA not 8-byte aligned",
		       c->name);
		if (c->out_len > 8)
			expect(call(ok, in, mx + 4096 - 8), ST(INVALID_ALIGNMENT), 0,
			       "%s: %u-byte output block crosses a page", c->name, c->out_len);
		/* The output is checked before the call acts: a call that
		 * cannot deliver its result must not have done anything. */
		expect(hc_call(ok, hvt_pa(in), hv_image), ST(INVALID_ALIGNMENT), 0,
		       "%s: output GPA 0x%lx in the hypervisor's image", c->name, (unsigned long)hv_image);
		expect(call(ok, in, hcpage), ST(INVALID_ALIGNMENT), 0,
		       "%s: output GPA 0x%lx is the read-only hypercall page", c->name,
		       (unsigned long)hvt_pa(hcpage));
		expect(hc_call(ok, hvt_pa(in), unmapped_gpa), ST(INVALID_ALIGNMENT), 0,
		       "%s: output GPA 0x%lx above the root's memory", c->name, (unsigned long)unmapped_gpa);
	}
}

/* ---- 1: discovery ---- */

static void discovery(void)
{
	struct cpuid_regs r = cpuid(HV_CPUID_VENDOR_AND_MAX_FUNCTIONS, 0);
	struct cpuid_regs one = cpuid(1, 0);
	char vendor[13];

	memcpy(vendor, &r.ebx, 4);
	memcpy(vendor + 4, &r.ecx, 4);
	memcpy(vendor + 8, &r.edx, 4);
	vendor[12] = 0;
	/* TLFS "Feature and Interface Discovery" */
	report(r.eax >= HV_CPUID_MIN && r.eax <= 0x400000ff && !strcmp(vendor, "Microsoft Hv"),
	       "CPUID 0x40000000: max leaf 0x%x (want >= 0x%x), vendor \"%s\" (want \"Microsoft Hv\")", r.eax,
	       HV_CPUID_MIN, vendor);
	r = cpuid(HV_CPUID_INTERFACE, 0);
	report(r.eax == HV_CPUID_INTERFACE_HV1, "CPUID 0x40000001: interface 0x%x \"%.4s\" (want \"Hv#1\")", r.eax,
	       (const char *)&r.eax);
	r = cpuid(HV_CPUID_FEATURES, 0);
	report((r.ebx & (HV_CREATE_PARTITIONS | HV_ACCESS_PARTITION_ID | HV_ACCESS_MEMORY_POOL)) ==
		       (HV_CREATE_PARTITIONS | HV_ACCESS_PARTITION_ID | HV_ACCESS_MEMORY_POOL) &&
		       (r.eax & HV_MSR_HYPERCALL_AVAILABLE),
	       "CPUID 0x40000003: root privileges EBX 0x%x (want CreatePartitions, AccessPartitionId, "
	       "AccessMemoryPool), EAX 0x%x (want HypercallMsrs)", r.ebx, r.eax);
	report((one.ecx & HV_CPUID1_ECX_HYPERVISOR_PRESENT) && !(one.ecx & (1u << 5)),
	       "CPUID 1: ECX 0x%x: hypervisor present (bit 31), VMX (bit 5) hidden", one.ecx);
}

/* ---- 2: the hypercall page and synthetic MSRs ---- */

static void hypercall_page(void)
{
	uint64_t v = ~0ull, rax = 0x1234, gpa = hvt_pa(hcpage);
	int vec;

	/* TLFS "Establishing the Hypercall Interface".  Nothing enabled yet:
	 * VMCALL is #UD (hv_model: no hypercall page, no hypercalls). */
	vec = vmcall_safe(hc_ctl(HVCALL_GET_PARTITION_ID, 0, 0), 0, hvt_pa(hc_out), &rax);
	report(vec == HVT_VEC_UD && rax == 0x1234,
	       "VMCALL before the hypercall page is enabled: vector %d (want #UD 6), RAX 0x%lx untouched", vec,
	       (unsigned long)rax);
	rdmsr_safe(HV_X64_MSR_GUEST_OS_ID, &v);
	report(v == 0, "GUEST_OS_ID reads 0x%lx at start (want 0)", (unsigned long)v);
	rdmsr_safe(HV_X64_MSR_HYPERCALL, &v);
	report(v == 0, "HYPERCALL reads 0x%lx at start (want 0)", (unsigned long)v);

	/* With GUEST_OS_ID 0 the enable bit does not stick, and the page is
	 * not overlaid. */
	memset(hcpage, 0xa5, sizeof(hcpage));
	vec = wrmsr_safe(HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE);
	rdmsr_safe(HV_X64_MSR_HYPERCALL, &v);
	report(vec == HVT_VEC_NONE && v == gpa && hcpage[0] == 0xa5,
	       "HYPERCALL = 0x%lx with GUEST_OS_ID 0: reads 0x%lx (want 0x%lx, enable clear), page byte 0x%02x "
	       "(want 0xa5)", (unsigned long)(gpa | 1), (unsigned long)v, (unsigned long)gpa, hcpage[0]);
	vec = vmcall_safe(hc_ctl(HVCALL_GET_PARTITION_ID, 0, 0), 0, hvt_pa(hc_out), &rax);
	report(vec == HVT_VEC_UD, "VMCALL with the enable refused: vector %d (want #UD 6)", vec);

	vec = wrmsr_safe(HV_X64_MSR_GUEST_OS_ID, HC_GUEST_OS_ID);
	rdmsr_safe(HV_X64_MSR_GUEST_OS_ID, &v);
	report(vec == HVT_VEC_NONE && v == HC_GUEST_OS_ID, "GUEST_OS_ID = 0x%lx reads back 0x%lx",
	       (unsigned long)HC_GUEST_OS_ID, (unsigned long)v);

	/* A GPFN that is not the root's memory (the hypervisor's image):
	 * nothing to overlay, enable stays clear. */
	wrmsr_safe(HV_X64_MSR_HYPERCALL, hv_image | HV_X64_MSR_HYPERCALL_ENABLE);
	rdmsr_safe(HV_X64_MSR_HYPERCALL, &v);
	report(v == hv_image, "HYPERCALL enable at GPA 0x%lx (hypervisor image): reads 0x%lx (want 0x%lx)",
	       (unsigned long)hv_image, (unsigned long)v, (unsigned long)hv_image);

	report(hc_enable(gpa, HC_GUEST_OS_ID), "hypercall page enabled at GPA 0x%lx", (unsigned long)gpa);
	rdmsr_safe(HV_X64_MSR_HYPERCALL, &v);
	report(v == (gpa | HV_X64_MSR_HYPERCALL_ENABLE) && hcpage[0] == 0x0f && hcpage[1] == 0x01 &&
		       hcpage[2] == 0xc1 && hcpage[3] == 0xc3,
	       "HYPERCALL reads 0x%lx; the page holds %02x %02x %02x %02x (want VMCALL; RET = 0f 01 c1 c3)",
	       (unsigned long)v, hcpage[0], hcpage[1], hcpage[2], hcpage[3]);
	/* (The page is read/execute only: a store to it is an EPT violation,
	 * which for the root ends the run, so it is not tried.) */
	rax = hc_call(hc_ctl(HVCALL_GET_PARTITION_ID, 0, 0), 0, hvt_pa(hc_out));
	memcpy(&root_id, hc_out, 8);
	expect(rax, ST(SUCCESS), 0, "HvCallGetPartitionId through the page: id %lu", (unsigned long)root_id);
	report(root_id != HV_PARTITION_ID_INVALID && root_id != HV_PARTITION_ID_SELF,
	       "the root's partition id %lu is a real id", (unsigned long)root_id);

	/* Disabled: the page is ours again, as we left it. */
	wrmsr_safe(HV_X64_MSR_HYPERCALL, gpa);
	rdmsr_safe(HV_X64_MSR_HYPERCALL, &v);
	report(v == gpa && hcpage[0] == 0xa5 && hcpage[4095] == 0xa5,
	       "HYPERCALL = 0x%lx (disable): reads 0x%lx; the page's bytes are back: %02x .. %02x (want a5 .. a5)",
	       (unsigned long)gpa, (unsigned long)v, hcpage[0], hcpage[4095]);
	{
		bool all = true;

		for (unsigned i = 0; i < sizeof(hcpage); i++)
			all &= hcpage[i] == 0xa5;
		report(all, "every byte of the page under the overlay is unchanged");
	}
	vec = vmcall_safe(hc_ctl(HVCALL_GET_PARTITION_ID, 0, 0), 0, hvt_pa(hc_out), &rax);
	report(vec == HVT_VEC_UD, "VMCALL with the page disabled: vector %d (want #UD 6)", vec);

	/* Enabled again and locked: later writes are ignored (TLFS: the
	 * locked bit makes the MSR read-only until reset). */
	report(hc_enable(gpa, HC_GUEST_OS_ID), "hypercall page enabled again");
	wrmsr_safe(HV_X64_MSR_HYPERCALL, gpa | HV_X64_MSR_HYPERCALL_ENABLE | HV_X64_MSR_HYPERCALL_LOCKED);
	wrmsr_safe(HV_X64_MSR_HYPERCALL, 0);
	rdmsr_safe(HV_X64_MSR_HYPERCALL, &v);
	report(v == (gpa | HV_X64_MSR_HYPERCALL_ENABLE | HV_X64_MSR_HYPERCALL_LOCKED) && hcpage[0] == 0x0f,
	       "locked: HYPERCALL = 0 ignored, reads 0x%lx (want 0x%lx), page still 0x%02x..", (unsigned long)v,
	       (unsigned long)(gpa | 3), hcpage[0]);

	/* VP_INDEX: read-only; unknown synthetic MSRs #GP. */
	v = ~0ull;
	vec = rdmsr_safe(HV_X64_MSR_VP_INDEX, &v);
	report(vec == HVT_VEC_NONE && v == 0, "VP_INDEX reads %lu (want 0), vector %d", (unsigned long)v, vec);
	vec = wrmsr_safe(HV_X64_MSR_VP_INDEX, 1);
	report(vec == HVT_VEC_GP && hvt_fault_error == 0, "WRMSR VP_INDEX: vector %d error %lu (want #GP 13, 0)",
	       vec, (unsigned long)hvt_fault_error);
	rdmsr_safe(HV_X64_MSR_VP_INDEX, &v);
	report(v == 0, "VP_INDEX still reads %lu", (unsigned long)v);
	vec = rdmsr_safe(0x400000ff, &v);
	report(vec == HVT_VEC_GP, "RDMSR 0x400000ff (no such synthetic MSR): vector %d (want #GP 13)", vec);
	vec = wrmsr_safe(0x400000ff, 1);
	report(vec == HVT_VEC_GP, "WRMSR 0x400000ff: vector %d (want #GP 13)", vec);
}

/* ---- 3: control words independent of any partition ---- */

/* HvCallSendSyntheticClusterIpi{,Ex} from the root (docs/hypervisor.md
 * "Virtual APIC"): the statuses; an empty set succeeds and sends nothing
 * (a vector sent to the root would reach its IDT). */
static void ipi_statuses(void)
{
	static const struct {
		uint32_t vector;
		uint8_t vtl, pad;
		uint16_t status;
		const char *what;
	} simple[] = {
		{ 15, 0, 0, ST(INVALID_PARAMETER), "vector 15" },
		{ 0x100, 0, 0, ST(INVALID_PARAMETER), "vector 0x100" },
		{ 0x40, 1, 0, ST(INVALID_PARAMETER), "target VTL 1" },
		{ 0x40, 0, 1, ST(INVALID_PARAMETER), "padding set" },
		{ 0x40, 0, 0, ST(SUCCESS), "vector 0x40, empty mask" },
	};
	static const struct {
		uint64_t format, valid;
		unsigned banks;
		uint16_t status;
		const char *what;
	} ex[] = {
		{ 2, 0, 0, ST(INVALID_PARAMETER), "format 2" },
		{ HV_GENERIC_SET_SPARSE_4K, 1, 0, ST(INVALID_HYPERCALL_INPUT), "1 valid bank, none in the header" },
		{ HV_GENERIC_SET_SPARSE_4K, 1, 2, ST(INVALID_HYPERCALL_INPUT), "1 valid bank, 2 in the header" },
		{ HV_GENERIC_SET_SPARSE_4K, 1, 1, ST(SUCCESS), "bank 0 empty" },
	};

	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		struct hv_input_send_synthetic_cluster_ipi *in = (void *)hc_in;

		memset(hc_in, 0, 64);
		in->vector = simple[i].vector;
		in->target_vtl = simple[i].vtl;
		in->flags = simple[i].pad;
		expect(call(hc_ctl(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI, 0, 0), hc_in, hc_out), simple[i].status, 0,
		       "SendSyntheticClusterIpi %s", simple[i].what);
	}
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		struct hv_input_send_synthetic_cluster_ipi_ex *in = (void *)hc_in;

		memset(hc_in, 0, 64);
		in->vector = 0x40;
		in->format = ex[i].format;
		in->valid_bank_mask = ex[i].valid;
		expect(call(hc_ctl(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX, 0, 0) |
				    (uint64_t)ex[i].banks << HV_HYPERCALL_VARHEAD_OFFSET, hc_in, hc_out),
		       ex[i].status, 0, "SendSyntheticClusterIpiEx %s", ex[i].what);
	}
}

static void control_generic(void)
{
	static const uint16_t unknown[] = { 0x0001, 0x0000, 0x00ff, 0x8001, 0xffff };

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		expect(call(hc_ctl(unknown[i], 0, 0), hc_in, hc_out), ST(INVALID_HYPERCALL_CODE), 0,
		       "call code 0x%04x (none)", unknown[i]);
	ipi_statuses();
	/* Which status wins when several apply (hvcall.h order); privilege
	 * before reserved bits is checked from child C (running_child): the
	 * root holds every privilege the table asks for. */
	expect(call(hc_ctl(0xffff, 0, 0) | (1ull << 63), hc_in, hc_out), ST(INVALID_HYPERCALL_INPUT), 0,
	       "order: reserved bits before the code (0xffff, bit 63)");
	expect(call(hc_ctl(0xffff, 5, 7), hc_in + 4, hc_out + 4), ST(INVALID_HYPERCALL_CODE), 0,
	       "order: the code before rep rules and alignment (0xffff, rep start 7 > count 5, misaligned)");
	expect(call(hc_ctl(HVCALL_DEPOSIT_MEMORY, 0, 0), hc_in + 4, hc_out), ST(INVALID_HYPERCALL_INPUT), 0,
	       "order: rep rules before alignment (Deposit, rep count 0, misaligned input)");
	expect(call(hc_ctl(HVCALL_CREATE_PARTITION, 0, 0) | (1ull << 17), hc_in + 4, hc_out),
	       ST(INVALID_HYPERCALL_INPUT), 0, "order: variable header before alignment (CreatePartition)");
	expect(call(hc_ctl(HVCALL_CREATE_PARTITION, 0, 0) | HV_HYPERCALL_FAST_BIT, hc_in + 4, hc_out + 4),
	       ST(INVALID_HYPERCALL_INPUT), 0, "order: fast form before alignment (CreatePartition)");
	expect(call(hc_ctl(HVCALL_CREATE_PARTITION, 0, 0), hc_in + 4, hcpage), ST(INVALID_ALIGNMENT), 0,
	       "order: input alignment (CreatePartition, misaligned input, read-only output)");
	/* A GPA with no RAM behind it below 4 GiB (the root's EPT passes the
	 * hole through for devices): not memory a hypercall block can be in. */
	if (hvt_bootinfo()->ram_size < (3ull << 30)) {
		uint64_t hole = (hvt_bootinfo()->ram_size + HVT_2M) & ~(HVT_2M - 1);

		expect(hc_call(hc_ctl(HVCALL_GET_PARTITION_PROPERTY, 0, 0), hole, hvt_pa(hc_out)), ST(INVALID_ALIGNMENT),
		       0, "GetPartitionProperty with its input at GPA 0x%lx, above RAM below 4 GiB", (unsigned long)hole);
		expect(hc_call(hc_ctl(HVCALL_GET_PARTITION_ID, 0, 0), 0, hole), ST(INVALID_ALIGNMENT), 0,
		       "GetPartitionId with its output at GPA 0x%lx, above RAM below 4 GiB", (unsigned long)hole);
	}
}

/* ---- 4: lifecycle (with the matrices of the calls on the way) ---- */

struct part {
	const char *name;
	uint64_t id;
	uint64_t pages[MAX_TRACKED];	/* page numbers deposited and not withdrawn */
	unsigned npages;
};

static void track(struct part *p, const uint64_t *pfns, unsigned n)
{
	for (unsigned i = 0; i < n && p->npages < MAX_TRACKED; i++)
		p->pages[p->npages++] = pfns[i];
}

/* Deposit n fresh pages into p; true on SUCCESS with n reps. */
static bool give(struct part *p, unsigned n)
{
	uint64_t pa = hvt_alloc(n, HVT_PAGE), pfns[64];
	uint64_t rax;

	if (!pa || n > 64)
		return report(false, "%s: no %u pages to deposit", p->name, n);
	for (unsigned i = 0; i < n; i++)
		pfns[i] = pfn(pa) + i;
	rax = deposit(p->id, pfns, n);
	track(p, pfns, hc_reps(rax));	/* what was deposited, failure or not */
	return expect(rax, ST(SUCCESS), (int)n, "deposit %u pages into %s", n, p->name);
}

/* Finalize (unless already), withdraw everything with a rep count larger
 * than what is left, delete, and check that the pages are the root's
 * again. */
static void teardown(struct part *p, bool finalize, bool fast)
{
	static uint64_t got[MAX_TRACKED + 8];
	unsigned n = p->npages, want = n + 3;
	uint64_t rax, v;
	bool rw = true, zero = true;

	if (finalize)
		expect(fast ? by_id_fast(HVCALL_FINALIZE_PARTITION, p->id) :
			      by_id(HVCALL_FINALIZE_PARTITION, p->id),
		       ST(SUCCESS), 0, "finalize %s%s", p->name, fast ? " (fast form)" : "");
	if (want > 511)
		want = 511;
	rax = withdraw(p->id, want, got);
	/* TLFS HvCallWithdrawMemory: fewer pages than asked -> NO_RESOURCES
	 * (hv_model) with the pages it did return counted. */
	if (n < want)
		expect(rax, ST(NO_RESOURCES), (int)n, "withdraw %u pages from %s holding %u", want, p->name, n);
	else
		expect(rax, ST(SUCCESS), (int)want, "withdraw %u pages from %s", want, p->name);
	if (hc_reps(rax) == n && n)
		report(same_set(got, p->pages, n), "%s: the %u withdrawn page numbers are exactly the deposited ones",
		       p->name, n);
	expect(by_id(HVCALL_DELETE_PARTITION, p->id), ST(SUCCESS), 0, "delete %s", p->name);
	expect(get_prop(p->id, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, &v), ST(INVALID_PARTITION_ID), 0,
	       "GetPartitionProperty on deleted %s (id %lu)", p->name, (unsigned long)p->id);
	expect(by_id(HVCALL_DELETE_PARTITION, p->id), ST(INVALID_PARTITION_ID), 0, "delete %s again", p->name);
	/* The pages are the root's again: zeroed (MSDN HvWithdrawMemory: "the
	 * hypervisor guarantees that the contents of the withdrawn page are
	 * zeroed"; what the child and the hypervisor kept there is gone),
	 * readable and writable. */
	for (unsigned i = 0; i < hc_reps(rax) && i < n; i++) {
		volatile uint64_t *q = hvt_va(got[i] * HVT_PAGE);

		for (unsigned k = 0; k < 512; k++)
			zero &= q[k] == 0;
		q[0] = 0x600d0000 + i;
		q[511] = ~(uint64_t)i;
		rw &= q[0] == 0x600d0000 + i && q[511] == ~(uint64_t)i;
	}
	report(zero, "%s: every withdrawn page reads as zeros", p->name);
	report(rw, "%s: every withdrawn page is readable and writable by the root", p->name);
	p->npages = 0;
}

static struct part A = { .name = "A" }, B = { .name = "B" };

static void lifecycle_create(void)
{
	uint64_t rax, id = 0, x = hvt_alloc(1, HVT_PAGE), px = pfn(x), v;
	struct mx_call mc;

	/* HvCallCreatePartition takes the new partition's state from the
	 * creator's pool, which the creator fills by depositing into itself
	 * (Linux's root does that on INSUFFICIENT_MEMORY). */
	rax = create_partition(&id);
	expect(rax, ST(INSUFFICIENT_MEMORY), 0, "CreatePartition before any deposit into the root");

	/* Deposit matrix, on one page into the root itself. */
	in_pages(HV_PARTITION_ID_SELF, &px, 1);
	mc = (struct mx_call){ "DepositMemory", HVCALL_DEPOSIT_MEMORY, true, false, 1, 16, 0 };
	control_matrix(&mc);
	expect(deposit(HV_PARTITION_ID_SELF, &px, 1), ST(SUCCESS), 1,
	       "deposit page 0x%lx into the root (SELF): none of the failed calls took it", (unsigned long)px);
	/* MSDN HvDepositMemory: a page that is not read/write/execute in the
	 * caller's GPA space, or is reachable by another partition, is
	 * OPERATION_DENIED; reps completed count the pages before it. */
	expect(deposit(HV_PARTITION_ID_SELF, &px, 1), ST(OPERATION_DENIED), 0,
	       "deposit page 0x%lx again (already deposited)", (unsigned long)px);

	/* CreatePartition matrix: one page in the root's pool, so exactly one
	 * partition can be created afterwards if nothing took it. */
	in_create(0);
	mc = (struct mx_call){ "CreatePartition", HVCALL_CREATE_PARTITION, false, false, 0, 56, 8 };
	control_matrix(&mc);
	in_create(HV_PARTITION_CREATION_FLAG_NESTED_VIRTUALIZATION_CAPABLE);
	expect(call(hc_ctl(HVCALL_CREATE_PARTITION, 0, 0), hc_in, hc_out), ST(INVALID_PARAMETER), 0,
	       "CreatePartition with flag NESTED_VIRTUALIZATION_CAPABLE (not offered)");
	in_create(0);
	((struct hv_input_create_partition *)hc_in)->isolation_properties = HV_PARTITION_ISOLATION_TYPE_SNP;
	expect(call(hc_ctl(HVCALL_CREATE_PARTITION, 0, 0), hc_in, hc_out), ST(INVALID_PARAMETER), 0,
	       "CreatePartition with isolation type SNP");
	rax = create_partition(&A.id);
	expect(rax, ST(SUCCESS), 0, "create partition A: id %lu", (unsigned long)A.id);
	report(A.id != root_id && A.id != HV_PARTITION_ID_INVALID && A.id != HV_PARTITION_ID_SELF,
	       "A's id %lu differs from the root's %lu", (unsigned long)A.id, (unsigned long)root_id);
	rax = create_partition(&id);
	expect(rax, ST(INSUFFICIENT_MEMORY), 0,
	       "a second CreatePartition: the one page deposited was used once (no failed call took it)");
	expect(get_prop(id, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, &v), ST(INVALID_PARTITION_ID), 0,
	       "no partition behind the refused call's output (0x%lx)", (unsigned long)id);

	/* More pages the root cannot deposit (into itself, as above). */
	{
		uint64_t y = hvt_alloc(1, HVT_PAGE), list[2] = { pfn(y), px };

		expect(deposit(HV_PARTITION_ID_SELF, list, 2), ST(OPERATION_DENIED), 1,
		       "deposit (page 0x%lx, page 0x%lx already deposited)", (unsigned long)list[0],
		       (unsigned long)px);
		list[0] = pfn(hvt_pa(hcpage));
		expect(deposit(HV_PARTITION_ID_SELF, list, 1), ST(OPERATION_DENIED), 0,
		       "deposit the root's hypercall page 0x%lx (the overlay)", (unsigned long)list[0]);
		list[0] = pfn(hv_image);
		expect(deposit(HV_PARTITION_ID_SELF, list, 1), ST(OPERATION_DENIED), 0,
		       "deposit page 0x%lx of the hypervisor's image", (unsigned long)list[0]);
		list[0] = 0xfee00;
		expect(deposit(HV_PARTITION_ID_SELF, list, 1), ST(OPERATION_DENIED), 0,
		       "deposit the LAPIC page 0xfee00 (a device)");
		list[0] = pfn(unmapped_gpa);
		expect(deposit(HV_PARTITION_ID_SELF, list, 1), ST(OPERATION_DENIED), 0,
		       "deposit page 0x%lx above RAM", (unsigned long)list[0]);
		list[0] = pfn(y);
		expect(deposit(HV_PARTITION_ID_SELF, list, 1), ST(OPERATION_DENIED), 0,
		       "deposit page 0x%lx again: the partial call deposited it", (unsigned long)list[0]);
	}

	/* Enough for the rest: every child takes one page (its MSR bitmap)
	 * from here, given back when it is deleted. */
	{
		uint64_t pa = hvt_alloc(16, HVT_PAGE), pfns[16];

		for (unsigned i = 0; i < 16; i++)
			pfns[i] = pfn(pa) + i;
		expect(deposit(HV_PARTITION_ID_SELF, pfns, 16), ST(SUCCESS), 16, "deposit 16 more pages into the root");
	}
}

static void lifecycle_ids_and_properties(void)
{
	uint64_t rax, v = 0, id = 0;
	struct mx_call mc;

	/* GetPartitionId: no input, so its input GPA is ignored (TLFS: "If
	 * the hypercall involves no input or output parameters, the
	 * hypervisor ignores the corresponding GPA pointer"). */
	mc = (struct mx_call){ "GetPartitionId", HVCALL_GET_PARTITION_ID, false, false, 0, 0, 8 };
	control_matrix(&mc);
	rax = hc_call(hc_ctl(HVCALL_GET_PARTITION_ID, 0, 0), hv_image + 3, hvt_pa(hc_out));
	memcpy(&id, hc_out, 8);
	report(hc_status(rax) == ST(SUCCESS) && id == root_id,
	       "GetPartitionId with a misaligned, foreign input GPA (no input): %s, id %lu (want SUCCESS, %lu)",
	       hc_status_name(hc_status(rax)), (unsigned long)id, (unsigned long)root_id);

	/* Properties. */
	rax = get_prop(HV_PARTITION_ID_SELF, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, &v);
	expect(rax, ST(SUCCESS), 0, "root privileges (SELF): 0x%lx", (unsigned long)v);
	{
		struct cpuid_regs r = cpuid(HV_CPUID_FEATURES, 0);

		report(v == ((uint64_t)r.ebx << 32 | r.eax),
		       "privilege property 0x%lx = CPUID 0x40000003 EBX:EAX 0x%x:%x", (unsigned long)v, r.ebx,
		       r.eax);
	}
	rax = get_prop(root_id, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, &id);
	report(hc_status(rax) == ST(SUCCESS) && id == v, "the root's own id names itself too: 0x%lx",
	       (unsigned long)id);
	rax = get_prop(A.id, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, &v);
	expect(rax, ST(SUCCESS), 0, "A's privileges: 0x%lx", (unsigned long)v);
	report(v == CHILD_PRIVILEGES,
	       "a child gets the hypercall, VP index, SynIC, synthetic time, APIC and frequency MSRs, PostMessages, "
	       "SignalEvents and StartVirtualProcessor only (0x%lx, want 0x%lx)", (unsigned long)v, (unsigned long)CHILD_PRIVILEGES);
	expect(get_prop(A.id, 0x12345678, &v), ST(UNKNOWN_PROPERTY), 0, "GetPartitionProperty code 0x12345678");
	in_prop(A.id, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, 0);
	((struct hv_input_get_partition_property *)hc_in)->padding = 1;
	expect(call(hc_ctl(HVCALL_GET_PARTITION_PROPERTY, 0, 0), hc_in, hc_out), ST(INVALID_PARAMETER), 0,
	       "GetPartitionProperty with its RsvdZ padding set");
	expect(set_prop(A.id, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, ~0ull), ST(ACCESS_DENIED), 0,
	       "SetPartitionProperty of the privilege flags (read-only)");
	rax = get_prop(A.id, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, &v);
	report(v == CHILD_PRIVILEGES, "A's privileges unchanged: 0x%lx",
	       (unsigned long)v);
	expect(set_prop(HV_PARTITION_ID_SELF, HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES, 1), ST(ACCESS_DENIED), 0,
	       "SetPartitionProperty on the root itself (a parent sets its children's)");

	/* Set/Get matrices on a property that can change. */
	expect(set_prop(A.id, HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES, 0x1234), ST(SUCCESS), 0,
	       "SetPartitionProperty(A, SYNTHETIC_PROC_FEATURES, 0x1234)");
	in_prop(A.id, HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES, 0x5678);
	mc = (struct mx_call){ "SetPartitionProperty", HVCALL_SET_PARTITION_PROPERTY, false, false, 0, 24, 0 };
	control_matrix(&mc);
	in_prop(A.id, HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES, 0);
	mc = (struct mx_call){ "GetPartitionProperty", HVCALL_GET_PARTITION_PROPERTY, false, false, 0, 16, 8 };
	control_matrix(&mc);
	rax = get_prop(A.id, HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES, &v);
	report(hc_status(rax) == ST(SUCCESS) && v == 0x1234,
	       "after the failed SetPartitionProperty calls the property is still 0x%lx (want 0x1234)",
	       (unsigned long)v);
}

/* Every call that takes a partition id, with ids that name nothing. */
static void bad_partition_ids(void)
{
	static const uint64_t ids[] = { BAD_PARTITION_ID, HV_PARTITION_ID_INVALID };
	uint64_t page = pfn(hvt_alloc(1, HVT_PAGE)), v, got[1];
	union hv_register_value rv;

	for (size_t i = 0; i < 2; i++) {
		uint64_t id = ids[i];

		expect(by_id(HVCALL_INITIALIZE_PARTITION, id), ST(INVALID_PARTITION_ID), 0, "Initialize(%lu)",
		       (unsigned long)id);
		expect(by_id(HVCALL_FINALIZE_PARTITION, id), ST(INVALID_PARTITION_ID), 0, "Finalize(%lu)",
		       (unsigned long)id);
		expect(by_id(HVCALL_DELETE_PARTITION, id), ST(INVALID_PARTITION_ID), 0, "Delete(%lu)",
		       (unsigned long)id);
		expect(get_prop(id, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, &v), ST(INVALID_PARTITION_ID), 0,
		       "GetPartitionProperty(%lu)", (unsigned long)id);
		expect(set_prop(id, HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES, 1), ST(INVALID_PARTITION_ID), 0,
		       "SetPartitionProperty(%lu)", (unsigned long)id);
		expect(deposit(id, &page, 1), ST(INVALID_PARTITION_ID), 0, "DepositMemory(%lu)", (unsigned long)id);
		expect(withdraw(id, 1, got), ST(INVALID_PARTITION_ID), 0, "WithdrawMemory(%lu)", (unsigned long)id);
		expect(map(id, 0, HV_MAP_GPA_READABLE, &page, 1), ST(INVALID_PARTITION_ID), 0, "MapGpaPages(%lu)",
		       (unsigned long)id);
		expect(unmap(id, 0, 1), ST(INVALID_PARTITION_ID), 0, "UnmapGpaPages(%lu)", (unsigned long)id);
		expect(create_vp(id, 0), ST(INVALID_PARTITION_ID), 0, "CreateVp(%lu)", (unsigned long)id);
		expect(get_reg(id, 0, HV_X64_REGISTER_RIP, &rv), ST(INVALID_PARTITION_ID), 0, "GetVpRegisters(%lu)",
		       (unsigned long)id);
		expect(set_reg64(id, 0, HV_X64_REGISTER_RIP, 0), ST(INVALID_PARTITION_ID), 0,
		       "SetVpRegisters(%lu)", (unsigned long)id);
	}
	/* The root cannot aim the calls meant for children at itself: it is
	 * a partition, but not its own child (MSDN: ACCESS_DENIED, "the
	 * specified partition is not a child of the caller"). */
	expect(by_id(HVCALL_FINALIZE_PARTITION, HV_PARTITION_ID_SELF), ST(ACCESS_DENIED), 0, "Finalize(SELF)");
	expect(by_id(HVCALL_FINALIZE_PARTITION, root_id), ST(ACCESS_DENIED), 0, "Finalize(the root's own id)");
	expect(by_id(HVCALL_DELETE_PARTITION, HV_PARTITION_ID_SELF), ST(ACCESS_DENIED), 0, "Delete(SELF)");
	expect(by_id(HVCALL_INITIALIZE_PARTITION, HV_PARTITION_ID_SELF), ST(ACCESS_DENIED), 0, "Initialize(SELF)");
	expect(create_vp(HV_PARTITION_ID_SELF, 1), ST(ACCESS_DENIED), 0, "CreateVp(SELF, 1)");
	expect(map(HV_PARTITION_ID_SELF, 0x40000000, HV_MAP_GPA_READABLE, &page, 1), ST(ACCESS_DENIED), 0,
	       "MapGpaPages(SELF)");
	expect(unmap(root_id, 0x100000, 1), ST(ACCESS_DENIED), 0, "UnmapGpaPages(the root's own id)");
}

static void lifecycle_initialize(void)
{
	struct mx_call mc;
	uint64_t v;

	/* No pages yet: the child's EPT cannot be built. */
	expect(by_id(HVCALL_INITIALIZE_PARTITION, A.id), ST(INSUFFICIENT_MEMORY), 0,
	       "Initialize A before anything was deposited into it");
	expect(create_vp(A.id, 0), ST(INVALID_PARTITION_STATE), 0, "CreateVp on A: still Uninitialized");
	expect(map(A.id, 0, HV_MAP_GPA_READABLE, &A.id, 1), ST(INVALID_PARTITION_STATE), 0,
	       "MapGpaPages into A: still Uninitialized");
	give(&A, 32);
	in_id(A.id);
	mc = (struct mx_call){ "InitializePartition", HVCALL_INITIALIZE_PARTITION, false, true, 0, 8, 0 };
	control_matrix(&mc);
	expect(by_id_fast(HVCALL_INITIALIZE_PARTITION, A.id), ST(SUCCESS), 0,
	       "Initialize A (fast form): still Uninitialized after the failed calls");
	expect(by_id(HVCALL_INITIALIZE_PARTITION, A.id), ST(INVALID_PARTITION_STATE), 0, "Initialize A again");
	expect(get_prop(A.id, HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES, &v), ST(SUCCESS), 0,
	       "A still answers GetPartitionProperty");
}

static void lifecycle_vps(void)
{
	struct mx_call mc;
	union hv_register_value rv;
	uint64_t rax;

	/* CreateVp matrix on index 0, then index 0 once. */
	in_create_vp(A.id, 0);
	mc = (struct mx_call){ "CreateVp", HVCALL_CREATE_VP, false, false, 0, 40, 0 };
	control_matrix(&mc);
	expect(create_vp(A.id, 0), ST(SUCCESS), 0, "CreateVp(A, 0): no failed call created it");
	expect(create_vp(A.id, 0), ST(INVALID_VP_INDEX), 0, "CreateVp(A, 0) again");
	expect(create_vp(A.id, 64), ST(INVALID_VP_INDEX), 0, "CreateVp(A, 64): beyond CPUID 0x40000005 limit");
	{
		struct cpuid_regs r = cpuid(HV_CPUID_IMPLEMENT_LIMITS, 0);

		report(r.eax == 64, "CPUID 0x40000005 EAX: %u virtual processors per partition (want 64)", r.eax);
	}
	expect(create_vp(A.id, 0xffffffffu), ST(INVALID_VP_INDEX), 0, "CreateVp(A, 0xffffffff)");
	in_create_vp(A.id, 1);
	((struct hv_input_create_vp *)hc_in)->flags = 1;
	expect(call(hc_ctl(HVCALL_CREATE_VP, 0, 0), hc_in, hc_out), ST(INVALID_PARAMETER), 0,
	       "CreateVp with its RsvdZ flags set");

	/* A new VP waits, suspended (HvRegisterExplicitSuspend = 1). */
	rax = get_reg(A.id, 0, HV_REGISTER_EXPLICIT_SUSPEND, &rv);
	expect(rax, ST(SUCCESS), 1, "A VP 0 ExplicitSuspend = %lu", (unsigned long)rv.reg64);
	report(rv.reg64 == 1, "a new VP is suspended: ExplicitSuspend %lu (want 1)", (unsigned long)rv.reg64);
	rax = get_reg(A.id, 0, HV_REGISTER_VP_INDEX, &rv);
	report(hc_status(rax) == ST(SUCCESS) && rv.reg64 == 0, "A VP 0 VpIndex register %lu", (unsigned long)rv.reg64);

	/* B: CreateVp needs two pages (its structure and VMCS) from the
	 * partition's own pool. */
	{
		uint64_t rax2 = create_partition(&B.id);

		expect(rax2, ST(SUCCESS), 0, "create partition B: id %lu", (unsigned long)B.id);
	}
	give(&B, 1);
	expect(by_id(HVCALL_INITIALIZE_PARTITION, B.id), ST(SUCCESS), 0, "Initialize B with 1 page (its EPT root)");
	expect(create_vp(B.id, 0), ST(INSUFFICIENT_MEMORY), 0, "CreateVp(B, 0) with 0 pages left");
	give(&B, 1);
	expect(create_vp(B.id, 0), ST(INSUFFICIENT_MEMORY), 0, "CreateVp(B, 0) with 1 page left");
	give(&B, 1);
	expect(create_vp(B.id, 0), ST(SUCCESS), 0, "CreateVp(B, 0) with 2 pages: the failed tries took nothing");

	/* Registers. */
	expect(set_reg64(A.id, 0, HV_X64_REGISTER_RIP, 0x1234), ST(SUCCESS), 1, "SetVpRegisters(A, 0, RIP=0x1234)");
	{
		struct hv_register_assoc r = { .name = HV_X64_REGISTER_RIP };

		r.value.reg64 = 0x5678;
		in_set_regs(A.id, 0, &r, 1);
		mc = (struct mx_call){ "SetVpRegisters", HVCALL_SET_VP_REGISTERS, true, false, 1, 16 + 32, 0 };
		control_matrix(&mc);
	}
	{
		uint32_t name = HV_X64_REGISTER_RIP;

		in_get_regs(A.id, 0, &name, 1);
		mc = (struct mx_call){ "GetVpRegisters", HVCALL_GET_VP_REGISTERS, true, false, 1, 16 + 4, 16 };
		control_matrix(&mc);
	}
	rax = get_reg(A.id, 0, HV_X64_REGISTER_RIP, &rv);
	report(hc_status(rax) == ST(SUCCESS) && rv.reg64 == 0x1234,
	       "A VP 0 RIP still 0x%lx after the failed SetVpRegisters calls (want 0x1234)", (unsigned long)rv.reg64);

	expect(get_reg(A.id, 1, HV_X64_REGISTER_RIP, &rv), ST(INVALID_VP_INDEX), 0, "GetVpRegisters(A, VP 1: none)");
	expect(set_reg64(A.id, 1, HV_X64_REGISTER_RIP, 0), ST(INVALID_VP_INDEX), 0, "SetVpRegisters(A, VP 1: none)");
	expect(get_reg(A.id, 64, HV_X64_REGISTER_RIP, &rv), ST(INVALID_VP_INDEX), 0, "GetVpRegisters(A, VP 64)");
	expect(get_reg(A.id, 0, 0x000f1234, &rv), ST(UNKNOWN_REGISTER_NAME), 0,
	       "GetVpRegisters(A, 0, name 0x000f1234)");
	expect(set_reg64(A.id, 0, 0x000f1234, 0), ST(UNKNOWN_REGISTER_NAME), 0,
	       "SetVpRegisters(A, 0, name 0x000f1234)");
	{
		/* Reps completed = the index of the element that failed. */
		uint32_t names[3] = { HV_X64_REGISTER_RIP, HV_X64_REGISTER_RSP, 0x000f1234 };
		struct hv_register_assoc r[3] = { { .name = HV_X64_REGISTER_RAX }, { .name = 0x000f1234 },
						  { .name = HV_X64_REGISTER_RBX } };

		in_get_regs(A.id, 0, names, 3);
		memset(hc_out, 0xee, 48);
		rax = call(hc_ctl(HVCALL_GET_VP_REGISTERS, 3, 0), hc_in, hc_out);
		expect(rax, ST(UNKNOWN_REGISTER_NAME), 2, "GetVpRegisters(RIP, RSP, 0x000f1234)");
		report(((union hv_register_value *)hc_out)[0].reg64 == 0x1234,
		       "the elements before the failure are delivered: RIP 0x%lx",
		       (unsigned long)((union hv_register_value *)hc_out)[0].reg64);
		expect(set_reg64(A.id, 0, HV_X64_REGISTER_RBX, 0x1111), ST(SUCCESS), 1, "SetVpRegisters(A, 0, RBX)");
		r[0].value.reg64 = 0xaaaa;
		r[2].value.reg64 = 0xbbbb;
		in_set_regs(A.id, 0, r, 3);
		rax = call(hc_ctl(HVCALL_SET_VP_REGISTERS, 3, 0), hc_in, hc_out);
		expect(rax, ST(UNKNOWN_REGISTER_NAME), 1, "SetVpRegisters(RAX, 0x000f1234, RBX)");
		get_reg(A.id, 0, HV_X64_REGISTER_RAX, &rv);
		report(rv.reg64 == 0xaaaa, "RAX before the bad element was set: 0x%lx", (unsigned long)rv.reg64);
		get_reg(A.id, 0, HV_X64_REGISTER_RBX, &rv);
		report(rv.reg64 == 0x1111, "RBX after it was not: 0x%lx (want 0x1111)", (unsigned long)rv.reg64);
		r[0].reserved1 = 1;
		in_set_regs(A.id, 0, r, 1);
		expect(call(hc_ctl(HVCALL_SET_VP_REGISTERS, 1, 0), hc_in, hc_out), ST(INVALID_PARAMETER), 0,
		       "SetVpRegisters element with its RsvdZ field set");
	}
	expect(set_reg64(A.id, 0, HV_REGISTER_EXPLICIT_SUSPEND, 2), ST(INVALID_PARAMETER), 0,
	       "ExplicitSuspend = 2");
	/* HvX64RegisterApicBase: the child VP's virtual APIC mode (vapic.c):
	 * any valid value, no transition rule; reserved bits, EXTD without
	 * EN and another base refused.  The root has none. */
	get_reg(A.id, 0, HV_X64_REGISTER_APIC_BASE, &rv);
	report(rv.reg64 == 0xfee00d00, "ApicBase of A's VP 0 reads 0x%lx (want 0xfee00d00: x2APIC, BSP)",
	       (unsigned long)rv.reg64);
	expect(set_reg64(A.id, 0, HV_X64_REGISTER_APIC_BASE, 0xfee00900), ST(SUCCESS), 1,
	       "SetVpRegisters(A, 0, ApicBase = 0xfee00900: xAPIC, the reset state)");
	get_reg(A.id, 0, HV_X64_REGISTER_APIC_BASE, &rv);
	report(rv.reg64 == 0xfee00900, "...reads back 0x%lx", (unsigned long)rv.reg64);
	expect(set_reg64(A.id, 0, HV_X64_REGISTER_APIC_BASE, 0xfee00500), ST(INVALID_PARAMETER), 0,
	       "ApicBase EXTD without EN");
	expect(set_reg64(A.id, 0, HV_X64_REGISTER_APIC_BASE, 0xfee00b00), ST(INVALID_PARAMETER), 0,
	       "ApicBase reserved bit 9");
	expect(set_reg64(A.id, 0, HV_X64_REGISTER_APIC_BASE, 0xfec00900), ST(INVALID_PARAMETER), 0,
	       "ApicBase at another base");
	expect(set_reg64(A.id, 0, HV_X64_REGISTER_APIC_BASE, 0xfee00d00), ST(SUCCESS), 1,
	       "ApicBase back to x2APIC (xAPIC -> x2APIC, or any other, is the parent's to set)");
	expect(get_reg(HV_PARTITION_ID_SELF, 0, HV_X64_REGISTER_APIC_BASE, &rv), ST(UNKNOWN_REGISTER_NAME), 0,
	       "GetVpRegisters(self: the root, ApicBase): the root has no virtual APIC");
	{
		struct hv_input_get_vp_registers *in = (void *)hc_in;
		uint32_t name = HV_X64_REGISTER_RIP;

		in_get_regs(A.id, 0, &name, 1);
		in->input_vtl = 1;
		expect(call(hc_ctl(HVCALL_GET_VP_REGISTERS, 1, 0), hc_in, hc_out), ST(INVALID_PARAMETER), 0,
		       "GetVpRegisters for VTL 1 (VTL 0 only)");
	}
}

static void lifecycle_memory(void)
{
	uint64_t region = hvt_alloc(8, HVT_PAGE), hcpfn = pfn(hvt_pa(hcpage)), apage = A.pages[0];
	uint64_t g[8], bad[3], got[2], rax;
	struct mx_call mc;

	for (unsigned i = 0; i < 8; i++)
		g[i] = pfn(region) + i;

	/* MapGpaPages matrix: g[0] at A's GPA 0. */
	in_map(A.id, 0, HV_MAP_GPA_READABLE | HV_MAP_GPA_WRITABLE, g, 1);
	mc = (struct mx_call){ "MapGpaPages", HVCALL_MAP_GPA_PAGES, true, false, 1, 32, 0 };
	control_matrix(&mc);
	expect(deposit1(A.id, region), ST(SUCCESS), 1,
	       "deposit page 0x%lx: no failed MapGpaPages mapped it (a mapped page cannot be deposited)",
	       (unsigned long)g[0]);
	track(&A, g, 1);

	/* Sources that are not the root's own RAM: reps completed is the
	 * index of the first bad one; the good ones before it are mapped. */
	bad[0] = g[1];
	bad[1] = g[2];
	bad[2] = pfn(hv_image);
	expect(map(A.id, 0x10000, HV_MAP_GPA_READABLE, bad, 3), ST(INVALID_PARAMETER), 2,
	       "MapGpaPages(page, page, hypervisor image page 0x%lx)", (unsigned long)bad[2]);
	bad[0] = g[3];
	bad[1] = apage;
	expect(map(A.id, 0x20000, HV_MAP_GPA_READABLE, bad, 2), ST(INVALID_PARAMETER), 1,
	       "MapGpaPages(page, a page deposited into A 0x%lx)", (unsigned long)apage);
	bad[0] = pfn(hv_pool + 0x10000);
	expect(map(A.id, 0x30000, HV_MAP_GPA_READABLE, bad, 1), ST(INVALID_PARAMETER), 0,
	       "MapGpaPages(hypervisor pool page 0x%lx)", (unsigned long)bad[0]);
	expect(map(A.id, 0x30000, HV_MAP_GPA_READABLE, &hcpfn, 1), ST(INVALID_PARAMETER), 0,
	       "MapGpaPages(the root's hypercall page 0x%lx)", (unsigned long)hcpfn);
	bad[0] = 0xfee00;	/* the local APIC: a device, not RAM */
	expect(map(A.id, 0x30000, HV_MAP_GPA_READABLE, bad, 1), ST(INVALID_PARAMETER), 0,
	       "MapGpaPages(LAPIC page 0xfee00)");
	bad[0] = pfn(unmapped_gpa);
	expect(map(A.id, 0x30000, HV_MAP_GPA_READABLE, bad, 1), ST(INVALID_PARAMETER), 0,
	       "MapGpaPages(page 0x%lx above RAM)", (unsigned long)bad[0]);
	expect(map(A.id, 0x30000, 0, &g[4], 1), ST(INVALID_PARAMETER), 0, "MapGpaPages with no access flags");
	expect(map(A.id, 0x30000, HV_MAP_GPA_READABLE | 0x40000000u, &g[4], 1), ST(INVALID_PARAMETER), 0,
	       "MapGpaPages with an unknown flag");
	expect(deposit1(A.id, g[4] * HVT_PAGE), ST(SUCCESS), 1,
	       "deposit page 0x%lx: the refused maps did not map it", (unsigned long)g[4]);
	track(&A, &g[4], 1);

	/* The pages mapped into a child cannot be deposited. */
	expect(deposit1(A.id, g[1] * HVT_PAGE), ST(OPERATION_DENIED), 0, "deposit page 0x%lx mapped into A",
	       (unsigned long)g[1]);
	/* UnmapGpaPages matrix on A's GPA 0x10000 (g[1]). */
	in_unmap(A.id, 0x10);
	mc = (struct mx_call){ "UnmapGpaPages", HVCALL_UNMAP_GPA_PAGES, true, false, 1, 24, 0 };
	control_matrix(&mc);
	expect(deposit1(A.id, g[1] * HVT_PAGE), ST(OPERATION_DENIED), 0,
	       "page 0x%lx still mapped after the failed UnmapGpaPages calls", (unsigned long)g[1]);
	expect(unmap(A.id, 0x10000, 2), ST(SUCCESS), 2, "UnmapGpaPages(A, 0x10000, 2)");
	expect(deposit(A.id, &g[1], 2), ST(SUCCESS), 2, "pages 0x%lx, 0x%lx deposited once unmapped",
	       (unsigned long)g[1], (unsigned long)g[2]);
	track(&A, &g[1], 2);
	/* g[3] stays mapped at A's 0x20000 until A is finalized. */

	/* State rules on an Active partition. */
	expect(withdraw(A.id, 1, got), ST(INVALID_PARTITION_STATE), 0, "WithdrawMemory from Active A");
	expect(by_id(HVCALL_DELETE_PARTITION, A.id), ST(INVALID_PARTITION_STATE), 0, "DeletePartition of Active A");

	/* FinalizePartition matrix: afterwards A must still be Active. */
	in_id(A.id);
	mc = (struct mx_call){ "FinalizePartition", HVCALL_FINALIZE_PARTITION, false, true, 0, 8, 0 };
	control_matrix(&mc);
	expect(withdraw(A.id, 1, got), ST(INVALID_PARTITION_STATE), 0,
	       "A still Active after the failed FinalizePartition calls (withdraw refused)");
	expect(by_id(HVCALL_FINALIZE_PARTITION, A.id), ST(SUCCESS), 0, "finalize A");
	expect(by_id(HVCALL_FINALIZE_PARTITION, A.id), ST(INVALID_PARTITION_STATE), 0, "finalize A again");
	expect(by_id(HVCALL_INITIALIZE_PARTITION, A.id), ST(INVALID_PARTITION_STATE), 0, "initialize finalized A");
	expect(create_vp(A.id, 1), ST(INVALID_PARTITION_STATE), 0, "CreateVp on finalized A");
	expect(map(A.id, 0x40000, HV_MAP_GPA_READABLE, &g[5], 1), ST(INVALID_PARTITION_STATE), 0,
	       "MapGpaPages into finalized A");
	expect(unmap(A.id, 0x20000, 1), ST(INVALID_PARTITION_STATE), 0, "UnmapGpaPages of finalized A");
	{
		union hv_register_value rv;

		expect(get_reg(A.id, 0, HV_X64_REGISTER_RIP, &rv), ST(INVALID_VP_INDEX), 0,
		       "GetVpRegisters(A, 0) after finalize: the VP is gone");
	}
	/* TLFS partition states: a Finalized partition takes withdrawals and
	 * deletion only. */
	rax = deposit1(A.id, g[5] * HVT_PAGE);
	track(&A, &g[5], hc_reps(rax));	/* keep the books right for the withdrawal */
	expect(rax, ST(INVALID_PARTITION_STATE), 0, "DepositMemory into finalized A");
	{
		uint64_t v;

		expect(get_prop(A.id, HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS, &v), ST(INVALID_PARTITION_STATE), 0,
		       "GetPartitionProperty of finalized A");
		expect(set_prop(A.id, HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES, 1), ST(INVALID_PARTITION_STATE), 0,
		       "SetPartitionProperty of finalized A");
	}
	/* g[3]'s mapping went with A's address space. */
	expect(deposit1(HV_PARTITION_ID_SELF, g[3] * HVT_PAGE), ST(SUCCESS), 1,
	       "page 0x%lx, mapped into A until finalize, can be deposited again", (unsigned long)g[3]);

	/* WithdrawMemory matrix (2 pages a call), then everything. */
	in_withdraw(A.id);
	mc = (struct mx_call){ "WithdrawMemory", HVCALL_WITHDRAW_MEMORY, true, false, 2, 16, 16 };
	control_matrix(&mc);
	in_id(A.id);
	mc = (struct mx_call){ "DeletePartition", HVCALL_DELETE_PARTITION, false, true, 0, 8, 0 };
	control_matrix(&mc);
	teardown(&A, false, false);
}

/* ---- 5, 6: children that run ---- */

struct child {
	struct part part;
	uint64_t region;	/* root-physical base of the child's GPA [0, 2 MiB) */
	volatile uint64_t *shared;
};

static bool child_start(struct child *c, const unsigned char *start, const unsigned char *end)
{
	uint64_t rax, pfns[256], *gdt, *pml4, *pdpt, *pd;
	struct hv_register_assoc r[17];
	unsigned n = 0;

	rax = create_partition(&c->part.id);
	if (!expect(rax, ST(SUCCESS), 0, "create child %s: id %lu", c->part.name, (unsigned long)c->part.id) ||
	    !give(&c->part, 16) ||
	    !expect(by_id(HVCALL_INITIALIZE_PARTITION, c->part.id), ST(SUCCESS), 0, "initialize %s", c->part.name) ||
	    !expect(create_vp(c->part.id, 0), ST(SUCCESS), 0, "CreateVp(%s, 0)", c->part.name))
		return false;
	c->region = hvt_alloc(CHILD_SIZE / HVT_PAGE, HVT_2M);
	if (!c->region)
		return report(false, "no 2 MiB for %s", c->part.name);
	c->shared = hvt_va(c->region + CHILD_SHARED);

	/* What the child finds at its GPA 0 (child.h). */
	gdt = hvt_va(c->region + CHILD_GDT);
	gdt[1] = 0x00af9a000000ffffull;		/* 0x08: 64-bit code, DPL 0 */
	gdt[2] = 0x00cf92000000ffffull;		/* 0x10: flat data */
	/* 0x18: 64-bit TSS, busy (SDM Vol. 3A 8.2.3): VM entry needs a usable TR */
	gdt[3] = 0x67 | ((uint64_t)CHILD_TSS << 16) | (0x8bull << 40);
	gdt[4] = 0;
	pml4 = hvt_va(c->region + CHILD_PML4);
	pdpt = hvt_va(c->region + CHILD_PDPT);
	pd = hvt_va(c->region + CHILD_PD);
	pml4[0] = CHILD_PDPT | 3;
	pdpt[0] = CHILD_PD | 3;
	for (unsigned i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;	/* P RW PS: the first GiB, 2 MiB pages */
	memcpy(hvt_va(c->region + CHILD_CODE), start, (size_t)(end - start));
	memset(hvt_va(c->region + CHILD_HCPAGE), 0x5a, HVT_PAGE);	/* the page the overlay covers */

	for (unsigned half = 0; half < 2; half++) {
		for (unsigned i = 0; i < 256; i++)
			pfns[i] = pfn(c->region) + half * 256 + i;
		rax = map(c->part.id, half * 256 * HVT_PAGE, HV_MAP_GPA_READABLE | HV_MAP_GPA_WRITABLE |
			  HV_MAP_GPA_EXECUTABLE, pfns, 256);
		if (!expect(rax, ST(SUCCESS), 256, "map 256 pages into %s at GPA 0x%lx", c->part.name,
			    (unsigned long)(half * 256 * HVT_PAGE)))
			return false;
	}

	/* 64-bit mode, flat segments, the TSS, paging (SDM Vol. 3C 27.3.1:
	 * what VM entry checks). */
	memset(r, 0, sizeof(r));
#define REG64(nm, v) (r[n].name = (nm), r[n++].value.reg64 = (v))
#define SEG(nm, sel, att, base, lim)                                                      \
	(r[n].name = (nm), r[n].value.segment = (struct hv_x64_segment_register){ (base), (lim), (sel), (att) }, \
	 n++)
	REG64(HV_X64_REGISTER_CR0, 0x80050033);	/* PG AM WP NE ET MP PE */
	REG64(HV_X64_REGISTER_CR3, CHILD_PML4);
	REG64(HV_X64_REGISTER_CR4, X86_CR4_PAE);
	REG64(HV_X64_REGISTER_EFER, EFER_LME | EFER_LMA);
	SEG(HV_X64_REGISTER_CS, 0x08, 0xa09b, 0, 0xffffffff);
	SEG(HV_X64_REGISTER_DS, 0x10, 0xc093, 0, 0xffffffff);
	SEG(HV_X64_REGISTER_ES, 0x10, 0xc093, 0, 0xffffffff);
	SEG(HV_X64_REGISTER_SS, 0x10, 0xc093, 0, 0xffffffff);
	SEG(HV_X64_REGISTER_FS, 0x10, 0xc093, 0, 0xffffffff);
	SEG(HV_X64_REGISTER_GS, 0x10, 0xc093, 0, 0xffffffff);
	SEG(HV_X64_REGISTER_TR, 0x18, 0x008b, CHILD_TSS, 0x67);
	r[n].name = HV_X64_REGISTER_GDTR;
	r[n].value.table.base = CHILD_GDT;
	r[n++].value.table.limit = 5 * 8 - 1;
	r[n].name = HV_X64_REGISTER_IDTR;	/* none: an exception ends the child */
	r[n].value.table.base = 0;
	r[n++].value.table.limit = 0;
	REG64(HV_X64_REGISTER_RIP, CHILD_CODE);
	REG64(HV_X64_REGISTER_RSP, CHILD_STACK);
	REG64(HV_X64_REGISTER_RFLAGS, 0x2);
#undef REG64
#undef SEG
	in_set_regs(c->part.id, 0, r, n);
	rax = call(hc_ctl(HVCALL_SET_VP_REGISTERS, n, 0), hc_in, hc_out);
	if (!expect(rax, ST(SUCCESS), (int)n, "SetVpRegisters(%s, 0): %u registers", c->part.name, n))
		return false;
	{
		union hv_register_value v;

		get_reg(c->part.id, 0, HV_X64_REGISTER_CS, &v);
		report(v.segment.selector == 0x08 && v.segment.attributes == 0xa09b && v.segment.limit == 0xffffffff,
		       "%s CS reads back: selector 0x%x attributes 0x%x limit 0x%x", c->part.name,
		       v.segment.selector, v.segment.attributes, v.segment.limit);
		get_reg(c->part.id, 0, HV_X64_REGISTER_CR4, &v);
		report(v.reg64 == X86_CR4_PAE, "%s CR4 reads back 0x%lx (want 0x20: VMXE is the hypervisor's)",
		       c->part.name, (unsigned long)v.reg64);
		get_reg(c->part.id, 0, HV_X64_REGISTER_GDTR, &v);
		report(v.table.base == CHILD_GDT && v.table.limit == 39, "%s GDTR reads back 0x%lx/%u", c->part.name,
		       (unsigned long)v.table.base, v.table.limit);
	}
	return expect(set_reg64(c->part.id, 0, HV_REGISTER_EXPLICIT_SUSPEND, 0), ST(SUCCESS), 1,
		      "clear %s's ExplicitSuspend: it may run", c->part.name);
}

/* HLT until `*word == want`; the hypervisor wakes the root when a child
 * halts or is stopped.  Returns the number of HLTs executed. */
static unsigned wait_for(volatile uint64_t *word, uint64_t want)
{
	unsigned halts = 0;

	while (*word != want && halts < 1000) {
		halts++;
		asm volatile("hlt" ::: "memory");
	}
	return halts;
}

static struct child C = { .part = { .name = "C" } };
static struct child D = { .part = { .name = "D" } };
static struct child E = { .part = { .name = "E" } };

static void running_child(void)
{
	uint64_t rip_want, v;
	union hv_register_value rv;
	unsigned halts;
	bool pattern = true;

	if (!child_start(&C, child_sum_start, child_sum_end))
		return;
	halts = wait_for(&C.shared[SH_DONE / 8], 1);
	report(C.shared[SH_DONE / 8] == 1 && halts >= 1,
	       "the root halted %u time(s) and was woken when C halted (done flag %lu)", halts,
	       (unsigned long)C.shared[SH_DONE / 8]);
	report(C.shared[SH_SUM / 8] == 500500, "C computed 1+...+1000 = %lu (want 500500)",
	       (unsigned long)C.shared[SH_SUM / 8]);
	report(C.shared[SH_CPUID0_EAX / 8] >= HV_CPUID_MIN, "C's CPUID 0x40000000 max leaf 0x%lx",
	       (unsigned long)C.shared[SH_CPUID0_EAX / 8]);
	report(C.shared[SH_CPUID3_EBX / 8] == CHILD_HC_PRIVILEGES &&
		       C.shared[SH_CPUID3_EAX / 8] ==
			       CHILD_MSR_PRIVILEGES,
	       "C's CPUID 0x40000003: EAX 0x%lx EBX 0x%lx (want 0xa7e, 0x200030: PostMessages, SignalEvents and "
	       "StartVirtualProcessor only)",
	       (unsigned long)C.shared[SH_CPUID3_EAX / 8], (unsigned long)C.shared[SH_CPUID3_EBX / 8]);
	report(C.shared[SH_HC_MSR / 8] == (CHILD_HCPAGE | 1), "C's HYPERCALL MSR reads 0x%lx (want 0x%x)",
	       (unsigned long)C.shared[SH_HC_MSR / 8], CHILD_HCPAGE | 1);
	expect(C.shared[SH_RAX_GETID / 8], ST(ACCESS_DENIED), 0, "C calls HvCallGetPartitionId (no AccessPartitionId)");
	expect(C.shared[SH_RAX_CREATE / 8], ST(ACCESS_DENIED), 0, "C calls HvCallCreatePartition");
	expect(C.shared[SH_RAX_DEPOSIT / 8], ST(ACCESS_DENIED), 0, "C calls HvCallDepositMemory");
	expect(C.shared[SH_RAX_MAP / 8], ST(ACCESS_DENIED), 0, "C calls HvCallMapGpaPages");
	expect(C.shared[SH_RAX_CPORT / 8], ST(ACCESS_DENIED), 0, "C calls HvCallCreatePort (no CreatePort)");
	expect(C.shared[SH_RAX_CONNECT / 8], ST(ACCESS_DENIED), 0, "C calls HvCallConnectPort (no ConnectPort)");
	expect(C.shared[SH_RAX_CPORT_REP / 8], ST(ACCESS_DENIED), 0,
	       "order: privilege before reserved bits (C's CreatePort, bit 27, rep count 1)");
	for (unsigned i = 0; i < HVT_PAGE; i++)
		pattern &= ((volatile uint8_t *)hvt_va(C.region + CHILD_HCPAGE))[i] == 0x5a;
	report(pattern, "the root's page under C's hypercall page is untouched (the overlay is the hypervisor's)");
	rip_want = CHILD_CODE + (uint64_t)(child_sum_after_hlt - child_sum_start);
	expect(get_reg(C.part.id, 0, HV_X64_REGISTER_RIP, &rv), ST(SUCCESS), 1, "GetVpRegisters(C, RIP)");
	report(rv.reg64 == rip_want, "C's RIP 0x%lx is past its HLT (want 0x%lx)", (unsigned long)rv.reg64,
	       (unsigned long)rip_want);
	get_reg(C.part.id, 0, HV_REGISTER_HYPERCALL, &rv);
	report(rv.reg64 == (CHILD_HCPAGE | 1), "C's Hypercall register 0x%lx", (unsigned long)rv.reg64);
	get_reg(C.part.id, 0, HV_REGISTER_GUEST_OS_ID, &rv);
	report(rv.reg64 == 0x8100000000000001ull, "C's GuestOsId register 0x%lx", (unsigned long)rv.reg64);
	expect(get_prop(C.part.id, HV_PARTITION_PROPERTY_GUEST_OS_ID, &v), ST(SUCCESS), 0,
	       "GetPartitionProperty(C, GUEST_OS_ID) = 0x%lx", (unsigned long)v);
}

/* HvCallStartVirtualProcessor from the root (docs/hypervisor.md
 * "Starting VPs") on C, whose VP 0 has halted: the statuses, then VP 1
 * started at child_sum's final HLT runs and halts there. */
static uint64_t start_vp(uint64_t id, uint32_t vp, uint8_t vtl, const struct hv_initial_vp_context *x)
{
	struct hv_input_start_virtual_processor *in = (void *)hc_in;

	memset(in, 0, sizeof(*in));
	in->partition_id = id;
	in->vp_index = vp;
	in->target_vtl = vtl;
	in->vp_context = *x;
	return call(hc_ctl(HVCALL_START_VIRTUAL_PROCESSOR, 0, 0), hc_in, hc_out);
}

static void start_vp_statuses(void)
{
	const struct hv_x64_segment_register data = { 0, 0xffffffff, 0x10, 0xc093 };
	const uint64_t hlt_rip = CHILD_CODE + (uint64_t)(child_sum_after_hlt - child_sum_start);
	const struct hv_initial_vp_context good = {
		.rip = hlt_rip, .rsp = CHILD_STACK - 0x1000, .rflags = 2,
		.cs = { 0, 0xffffffff, 0x08, 0xa09b }, .ds = data, .es = data, .fs = data, .gs = data, .ss = data,
		.tr = { CHILD_TSS, 0x67, 0x18, 0x8b }, .gdtr = { .limit = 5 * 8 - 1, .base = CHILD_GDT },
		.efer = EFER_LME | EFER_LMA, .cr0 = 0x80050033, .cr3 = CHILD_PML4, .cr4 = X86_CR4_PAE,
		.msr_cr_pat = 0x0007040600070406ull,
	};
	struct hv_initial_vp_context bad;
	union hv_register_value rv;
	unsigned halts = 0;

	give(&C.part, 2);
	if (!expect(create_vp(C.part.id, 1), ST(SUCCESS), 0, "CreateVp(C, 1)"))
		return;
	expect(start_vp(BAD_PARTITION_ID, 1, 0, &good), ST(INVALID_PARTITION_ID), 0,
	       "StartVirtualProcessor(partition %llu)", BAD_PARTITION_ID);
	expect(start_vp(C.part.id, 2, 0, &good), ST(INVALID_VP_INDEX), 0, "StartVirtualProcessor(C, VP 2: none)");
	expect(start_vp(C.part.id, 64, 0, &good), ST(INVALID_VP_INDEX), 0, "StartVirtualProcessor(C, VP 64)");
	expect(start_vp(C.part.id, 0, 0, &good), ST(INVALID_VP_STATE), 0,
	       "StartVirtualProcessor(C, VP 0): started when its ExplicitSuspend was cleared");
	expect(start_vp(HV_PARTITION_ID_SELF, 0, 0, &good), ST(INVALID_VP_STATE), 0,
	       "StartVirtualProcessor(self, VP 0): the root's, running");
	expect(start_vp(C.part.id, 1, 1, &good), ST(INVALID_PARAMETER), 0, "StartVirtualProcessor(C, 1) for VTL 1");
	bad = good;
	bad.cr0 &= ~X86_CR0_PE;
	expect(start_vp(C.part.id, 1, 0, &bad), ST(INVALID_REGISTER_VALUE), 0,
	       "StartVirtualProcessor with CR0.PG = 1 but PE = 0 (SDM 27.3.1.1)");
	bad = good;
	bad.efer = EFER_LMA;
	expect(start_vp(C.part.id, 1, 0, &bad), ST(INVALID_REGISTER_VALUE), 0,
	       "StartVirtualProcessor with EFER.LMA but not LME");
	bad = good;
	bad.rflags = 0;
	expect(start_vp(C.part.id, 1, 0, &bad), ST(INVALID_REGISTER_VALUE), 0, "StartVirtualProcessor with RFLAGS bit 1 = 0");
	get_reg(C.part.id, 1, HV_REGISTER_EXPLICIT_SUSPEND, &rv);
	report(rv.reg64 == 1, "the refused calls left C's VP 1 suspended (ExplicitSuspend %lu)", (unsigned long)rv.reg64);
	expect(start_vp(C.part.id, 1, 0, &good), ST(SUCCESS), 0, "StartVirtualProcessor(C, VP 1) at its HLT");
	expect(start_vp(C.part.id, 1, 0, &good), ST(INVALID_VP_STATE), 0, "StartVirtualProcessor(C, VP 1) again");
	do {
		get_reg(C.part.id, 1, HV_REGISTER_INTERNAL_ACTIVITY_STATE, &rv);
		if (rv.reg64 & HV_INTERNAL_ACTIVITY_HALT_SUSPEND)
			break;
		asm volatile("hlt" ::: "memory");	/* the hypervisor wakes the root when a child VP halts */
	} while (++halts < 100);
	report(rv.reg64 & HV_INTERNAL_ACTIVITY_HALT_SUSPEND, "C's VP 1 ran and halted (%u root HLTs)", halts);
	get_reg(C.part.id, 1, HV_X64_REGISTER_RIP, &rv);
	report(rv.reg64 == hlt_rip + 1, "C's VP 1 RIP 0x%lx (want 0x%lx: after the HLT it started at)",
	       (unsigned long)rv.reg64, (unsigned long)(hlt_rip + 1));
	get_reg(C.part.id, 1, HV_X64_REGISTER_RSP, &rv);
	report(rv.reg64 == good.rsp, "C's VP 1 RSP 0x%lx (want 0x%lx)", (unsigned long)rv.reg64,
	       (unsigned long)good.rsp);
}

/* A child that does something forbidden after its spin: the hypervisor
 * stops it, wakes the root, and nothing outside the child changes. */
static void stopped_child(struct child *c, const unsigned char *start, const unsigned char *end,
			  const unsigned char *bad, const char *what)
{
	uint64_t rip_want = CHILD_CODE + (uint64_t)(bad - start), low = 0x400000, low_len = 0, low_hash;
	uint64_t canary = hvt_alloc(1, HVT_PAGE), c_hash = hash(C.region, CHILD_SIZE), canary_hash;
	union hv_register_value rv;
	unsigned halts;

	/* The root's page at the physical address the child aims at, if it
	 * is ordinary RAM of the root's. */
	for (uint32_t i = 0; i < hvt_bootinfo()->mem_count; i++) {
		const struct hv_boot_mem *m = &hvt_bootinfo()->mem[i];

		if (m->type == HV_MEM_AVAILABLE && m->base <= low && low + HVT_PAGE <= m->base + m->length)
			low_len = HVT_PAGE;
	}
	low_hash = hash(low, low_len);
	for (unsigned i = 0; i < HVT_PAGE / 8; i++)
		((uint64_t *)hvt_va(canary))[i] = 0xca5a000000000000ull + i;
	canary_hash = hash(canary, HVT_PAGE);
	if (!child_start(c, start, end))
		return;
	halts = wait_for(&c->shared[SH_MARK / 8], 1);
	report(halts >= 1, "the root halted %u time(s) and was woken when %s was stopped", halts, c->part.name);
	expect(get_reg(c->part.id, 0, HV_X64_REGISTER_RIP, &rv), ST(SUCCESS), 1, "GetVpRegisters(%s, RIP)",
	       c->part.name);
	report(rv.reg64 == rip_want, "%s stopped at its %s: RIP 0x%lx (want 0x%lx)", c->part.name, what,
	       (unsigned long)rv.reg64, (unsigned long)rip_want);
	/* Stopped for good: with the root runnable the scheduler would give
	 * a runnable child slices (1,000,000 cycles each) while we spin. */
	spin(4 * 1000000ull);
	report(c->shared[SH_MARK / 8] == 1, "%s never ran past it: mark %lu (want 1)", c->part.name,
	       (unsigned long)c->shared[SH_MARK / 8]);
	report(hash(C.region, CHILD_SIZE) == c_hash, "child C's memory is unchanged");
	report(hash(canary, HVT_PAGE) == canary_hash, "a page of the root's is unchanged");
	if (low_len)
		report(hash(low, low_len) == low_hash, "the root's page at 0x%lx is unchanged", (unsigned long)low);
}

/* A child's port I/O nobody intercepts (hv_model intercept.c): the OUT
 * to port 0xF4 (the debug-exit device: had it reached the device, the run
 * would have ended) is dropped, the 32-bit IN from it reads all ones, and
 * the child carries on. */
static void io_default_child(void)
{
	if (!child_start(&E, child_io_start, child_io_end))
		return;
	wait_for(&E.shared[SH_MARK / 8], 2);
	report(E.shared[SH_MARK / 8] == 2, "E ran past its OUT and IN to port 0xf4: mark %lu (want 2)",
	       (unsigned long)E.shared[SH_MARK / 8]);
	report(E.shared[SH_IO_IN / 8] == 0xffffffffull,
	       "E's IN EAX from port 0xf4, which nobody intercepts, read 0x%lx (want 0xffffffff, zero-extended)",
	       (unsigned long)E.shared[SH_IO_IN / 8]);
}

/* ---- 6b: SynIC and intercepts (hv_model synic.c, intercept.c) ---- */

static uint64_t simp;	/* the root VP 0's SIM page */

/* The root's own SynIC MSRs (TLFS "SynIC MSRs", "SINTx Registers"); at
 * the end SINT0 polls into the SIM page, as a root that takes intercept
 * messages without interrupts sets it. */
static void synic_msrs(void)
{
	uint64_t v = ~0ull;
	bool zero = true;
	int f;

	f = rdmsr_safe(HV_X64_MSR_SVERSION, &v);
	report(f == HVT_VEC_NONE && v == HV_SYNIC_VERSION_1, "SVERSION reads %lu (want 1)", (unsigned long)v);
	report(wrmsr_safe(HV_X64_MSR_SVERSION, 1) == 13, "a write to SVERSION (read-only) is #GP");
	rdmsr_safe(HV_X64_MSR_SINT(3), &v);
	report(v == HV_SYNIC_SINT_MASKED, "SINT3 reads 0x%lx after reset (want 0x10000: masked)", (unsigned long)v);
	f = wrmsr_safe(HV_X64_MSR_SINT(3), 5);
	rdmsr_safe(HV_X64_MSR_SINT(3), &v);
	report(f == 13 && v == HV_SYNIC_SINT_MASKED, "SINT3 unmasked with vector 5 (below 16): #GP (vector %d), "
	       "SINT3 still 0x%lx", f, (unsigned long)v);
	f = wrmsr_safe(HV_X64_MSR_SINT(3), 0x40 | HV_SYNIC_SINT_AUTO_EOI);
	rdmsr_safe(HV_X64_MSR_SINT(3), &v);
	report(f == HVT_VEC_NONE && v == (0x40 | HV_SYNIC_SINT_AUTO_EOI), "SINT3 = vector 0x40, auto-EOI: reads 0x%lx",
	       (unsigned long)v);
	report(wrmsr_safe(HV_X64_MSR_SINT(3), HV_SYNIC_SINT_MASKED | 5) == HVT_VEC_NONE &&
		       wrmsr_safe(HV_X64_MSR_SINT(3), HV_SYNIC_SINT_MASKED) == HVT_VEC_NONE,
	       "a masked SINT may name vector 5 or 0");
	report(rdmsr_safe(HV_X64_MSR_SIRBP, &v) == 13, "SIRBP (event ring page) is not offered: #GP");
	f = rdmsr_safe(HV_X64_MSR_EOM, &v);
	report(f == HVT_VEC_NONE && v == 0, "EOM reads 0 (vector %d, 0x%lx)", f, (unsigned long)v);

	simp = hvt_alloc(1, HVT_PAGE);
	memset(hvt_va(simp), 0xa5, HVT_PAGE);
	f = wrmsr_safe(HV_X64_MSR_SIMP, simp | HV_SYNIC_SIMP_ENABLE);
	rdmsr_safe(HV_X64_MSR_SIMP, &v);
	for (unsigned i = 0; i < HVT_PAGE; i++)
		zero = zero && ((uint8_t *)hvt_va(simp))[i] == 0;
	report(f == HVT_VEC_NONE && v == (simp | 1) && zero,
	       "SIMP enabled at GPA 0x%lx: reads 0x%lx, the page starts empty (%s)", (unsigned long)simp,
	       (unsigned long)v, zero ? "all zero" : "not zero");
	f = wrmsr_safe(HV_X64_MSR_SINT(HV_SYNIC_INTERCEPTION_SINT_INDEX), HV_SYNIC_SINT_POLLING);
	f |= wrmsr_safe(HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
	rdmsr_safe(HV_X64_MSR_SCONTROL, &v);
	report(f == HVT_VEC_NONE && v == HV_SYNIC_CONTROL_ENABLE, "SINT0 polling, SCONTROL enabled: reads 0x%lx",
	       (unsigned long)v);
}

static uint64_t install(uint64_t id, uint32_t access, uint32_t type, uint64_t param)
{
	*(struct hv_input_install_intercept *)hc_in = (struct hv_input_install_intercept){
		.partition_id = id, .access_type = access, .intercept_type = type, .intercept_parameter = param,
	};
	return call(hc_ctl(HVCALL_INSTALL_INTERCEPT, 0, 0), hc_in, hc_out);
}

/* HvCallInstallIntercept's statuses, on the running child `c`. */
static void install_statuses(struct child *c)
{
	uint64_t id = c->part.id, fresh = 0;
	uint32_t io = HV_INTERCEPT_TYPE_X64_IO_PORT;
	unsigned n = 0;

	expect(install(0, HV_INTERCEPT_ACCESS_MASK_WRITE, io, 0x3f8), ST(INVALID_PARTITION_ID), 0,
	       "InstallIntercept on partition 0");
	expect(install(HV_PARTITION_ID_SELF, HV_INTERCEPT_ACCESS_MASK_WRITE, io, 0x3f8), ST(ACCESS_DENIED), 0,
	       "InstallIntercept on the root itself (SELF)");
	expect(install(root_id, HV_INTERCEPT_ACCESS_MASK_WRITE, io, 0x3f8), ST(ACCESS_DENIED), 0,
	       "InstallIntercept on the root itself (its id)");
	expect(install(id, HV_INTERCEPT_ACCESS_MASK_READ, HV_INTERCEPT_TYPE_X64_MSR, 0x10), ST(INVALID_PARAMETER), 0,
	       "InstallIntercept of an MSR intercept (not offered)");
	expect(install(id, HV_INTERCEPT_ACCESS_MASK_EXECUTE, io, 0x3f8), ST(INVALID_PARAMETER), 0,
	       "InstallIntercept of a port with the execute access");
	expect(install(id, HV_INTERCEPT_ACCESS_MASK_WRITE, io, 0x10000), ST(INVALID_PARAMETER), 0,
	       "InstallIntercept of a port with parameter bits above 15 set");
	expect(install(id, HV_INTERCEPT_ACCESS_MASK_WRITE, HV_INTERCEPT_TYPE_X64_IO_PORT_RANGE,
		       HV_INTERCEPT_PARAM_IO_PORT_RANGE(0x200, 0x1ff)), ST(INVALID_PARAMETER), 0,
	       "InstallIntercept of a port range whose base is above its end");
	if (expect(create_partition(&fresh), ST(SUCCESS), 0, "create a partition left Uninitialized")) {
		expect(install(fresh, HV_INTERCEPT_ACCESS_MASK_WRITE, io, 0x3f8), ST(INVALID_PARTITION_STATE), 0,
		       "InstallIntercept on an Uninitialized partition");
		expect(by_id(HVCALL_DELETE_PARTITION, fresh), ST(SUCCESS), 0, "delete it");
	}
	/* 16 a partition: the one installed and 15 more fit, the next not. */
	while (n < 15 && hc_status(install(id, HV_INTERCEPT_ACCESS_MASK_READ, io, 0x100 + n)) == HV_STATUS_SUCCESS)
		n++;
	report(n == 15, "15 more intercepts installed (%u)", n);
	expect(install(id, HV_INTERCEPT_ACCESS_MASK_READ, io, 0x180), ST(INSUFFICIENT_MEMORY), 0,
	       "the 17th intercept of a partition");
	while (n && hc_status(install(id, 0, io, 0x100 + n - 1)) == HV_STATUS_SUCCESS)
		n--;
	report(n == 0, "an empty access mask removes them (%u left)", n);
	expect(install(id, 0, io, 0x180), ST(SUCCESS), 0, "removing an intercept that is not there");
}

static uint64_t intercept_suspended(struct child *c)
{
	union hv_register_value v = { .reg64 = ~0ull };

	get_reg(c->part.id, 0, HV_REGISTER_INTERCEPT_SUSPEND, &v);
	return v.reg64;
}

/* Two children, each an OUT to 0x3F8 the root intercepts: the first
 * message fills SINT0's slot, the second waits behind it (msg_pending)
 * until the root frees the slot and writes EOM; each VP stays suspended
 * until the root completes its intercept. */
static void intercepts(void)
{
	static struct child G = { .part = { .name = "G" } }, H = { .part = { .name = "H" } };
	volatile struct hv_message *slot = (volatile struct hv_message *)hvt_va(simp) + HV_SYNIC_INTERCEPTION_SINT_INDEX;
	uint64_t rip_out = CHILD_CODE + (uint64_t)(child_intercept_out - child_intercept_start);
	struct child *both[2] = { &G, &H };
	unsigned halts = 0;

	if (!simp)
		return;
	for (unsigned i = 0; i < 2; i++) {
		if (!child_start(both[i], child_intercept_start, child_intercept_end))
			return;
		expect(install(both[i]->part.id, HV_INTERCEPT_ACCESS_MASK_WRITE, HV_INTERCEPT_TYPE_X64_IO_PORT, 0x3f8),
		       ST(SUCCESS), 0, "intercept %s's writes to port 0x3f8", both[i]->part.name);
	}
	install_statuses(&G);
	while (!(intercept_suspended(&G) == 1 && intercept_suspended(&H) == 1) && halts++ < 1000)
		asm volatile("hlt" ::: "memory");
	report(intercept_suspended(&G) == 1 && intercept_suspended(&H) == 1 && G.shared[SH_MARK / 8] == 1 &&
		       H.shared[SH_MARK / 8] == 1,
	       "G and H stopped at their OUT: InterceptSuspend %lu %lu, marks %lu %lu (want 1)",
	       (unsigned long)intercept_suspended(&G), (unsigned long)intercept_suspended(&H),
	       (unsigned long)G.shared[SH_MARK / 8], (unsigned long)H.shared[SH_MARK / 8]);

	for (unsigned k = 0; k < 2; k++) {
		struct hv_message m;
		const struct hv_x64_io_port_intercept_message *io = (const void *)m.payload;
		struct child *c = NULL;
		struct hv_register_assoc r[2] = { { .name = HV_X64_REGISTER_RIP },
						  { .name = HV_REGISTER_INTERCEPT_SUSPEND } };

		memcpy(&m, (const void *)slot, sizeof(m));
		for (unsigned i = 0; i < 2; i++)
			if (m.header.sender == both[i]->part.id)
				c = both[i];
		report(m.header.message_type == HVMSG_X64_IO_PORT_INTERCEPT && c &&
			       m.header.payload_size == sizeof(*io) &&
			       (m.header.message_flags & HV_MESSAGE_FLAG_PENDING) == (k == 0 ? 1 : 0),
		       "message %u in SINT0's slot: type 0x%x from partition %lu, %u bytes, msg_pending %u (want %u)", k,
		       m.header.message_type, (unsigned long)m.header.sender, m.header.payload_size,
		       m.header.message_flags & HV_MESSAGE_FLAG_PENDING, k == 0);
		if (!c)
			return;
		report(io->header.vp_index == 0 && io->header.intercept_access_type == HV_INTERCEPT_ACCESS_WRITE &&
			       (io->header.instruction_length & 0xf) == 1 && io->header.rip == rip_out &&
			       io->header.cs_segment.selector == 0x08 &&
			       (io->header.execution_state & (HV_X64_VP_EXEC_CPL_MASK | HV_X64_VP_EXEC_CR0_PE |
							      HV_X64_VP_EXEC_EFER_LMA)) ==
				       (HV_X64_VP_EXEC_CR0_PE | HV_X64_VP_EXEC_EFER_LMA) &&
			       io->port_number == 0x3f8 && io->access_info == 1 && (io->rax & 0xff) == 0x41,
		       "%s's message: VP %u, write, length %u, RIP 0x%lx (want 0x%lx), CS 0x%x, state 0x%x, port 0x%x, "
		       "access 0x%x, RAX 0x%lx",
		       c->part.name, io->header.vp_index, io->header.instruction_length & 0xf,
		       (unsigned long)io->header.rip, (unsigned long)rip_out, io->header.cs_segment.selector,
		       io->header.execution_state, io->port_number, io->access_info, (unsigned long)io->rax);
		/* Free the slot; the queued message comes only with EOM. */
		slot->header.message_type = HVMSG_NONE;
		if (k == 0) {
			int vec = hvt_interrupt_window();

			report(vec == HVT_VEC_NONE, "a message into a polling SINT raised no interrupt (vector %d)", vec);
			spin(100000);
			report(slot->header.message_type == HVMSG_NONE, "the slot stays empty until EOM");
			/* The next delivery goes to SINT0 with an interrupt. */
			wrmsr(HV_X64_MSR_SINT(HV_SYNIC_INTERCEPTION_SINT_INDEX), 16);
			wrmsr(HV_X64_MSR_EOM, 0);
			report(slot->header.message_type == HVMSG_X64_IO_PORT_INTERCEPT,
			       "EOM delivered the queued message (type 0x%x)", slot->header.message_type);
			spin(100000);
			vec = hvt_interrupt_window();
			report(vec == 16, "with SINT0 = vector 16 the delivery raised it, injected once RFLAGS.IF = 1 "
			       "(vector %d)", vec);
			vec = hvt_interrupt_window();
			report(vec == HVT_VEC_NONE, "and only once (then vector %d)", vec);
			wrmsr(HV_X64_MSR_SINT(HV_SYNIC_INTERCEPTION_SINT_INDEX), HV_SYNIC_SINT_POLLING);
		}
		/* Complete it: RIP past the OUT, then the VP may run. */
		r[0].value.reg64 = io->header.rip + (io->header.instruction_length & 0xf);
		in_set_regs(c->part.id, 0, r, 2);
		expect(call(hc_ctl(HVCALL_SET_VP_REGISTERS, 2, 0), hc_in, hc_out), ST(SUCCESS), 2,
		       "complete %s's intercept: RIP, InterceptSuspend = 0", c->part.name);
		expect(set_reg64(c->part.id, 0, HV_REGISTER_INTERCEPT_SUSPEND, 1), ST(INVALID_PARAMETER), 0,
		       "a parent cannot set %s's InterceptSuspend", c->part.name);
	}
	for (unsigned i = 0; i < 2; i++) {
		wait_for(&both[i]->shared[SH_MARK / 8], 3);
		report(both[i]->shared[SH_MARK / 8] == 3 && (both[i]->shared[SH_IO_IN / 8] & 0xff) == 0xff &&
			       (both[i]->shared[SH_IO_IN / 8] >> 8) == 0x12345678123456ull,
		       "%s ran on: mark %lu (want 3); its IN AL from 0x3f8 (reads not intercepted) gave RAX 0x%lx",
		       both[i]->part.name, (unsigned long)both[i]->shared[SH_MARK / 8],
		       (unsigned long)both[i]->shared[SH_IO_IN / 8]);
		teardown(&both[i]->part, true, false);
	}
	report(slot->header.message_type == HVMSG_NONE, "no further message arrived");
}

/* A child's store to a GPA it was not given, once the root's SIM page is
 * on (hv_model intercept.c): an HvMessageTypeUnmappedGpa message with the
 * store's bytes, the VP suspended at it until the root completes it by
 * moving RIP past the store, as a device that drops writes would; the
 * child's own memory is unchanged. */
static void gpa_intercept(void)
{
	static struct child W = { .part = { .name = "W" } };
	volatile struct hv_message *slot = (volatile struct hv_message *)hvt_va(simp) + HV_SYNIC_INTERCEPTION_SINT_INDEX;
	uint64_t rip_store = CHILD_CODE + (uint64_t)(child_wild_store - child_wild_start), code_hash;
	const struct hv_x64_memory_intercept_message *g;
	struct hv_message m;
	struct hv_register_assoc r[2] = { { .name = HV_X64_REGISTER_RIP, .value.reg64 = rip_store + 8 },
					  { .name = HV_REGISTER_INTERCEPT_SUSPEND } };
	unsigned halts = 0;

	if (!simp || !child_start(&W, child_wild_start, child_wild_end))
		return;
	code_hash = hash(W.region + CHILD_CODE, CHILD_SIZE - CHILD_CODE);
	while (intercept_suspended(&W) != 1 && halts++ < 1000)
		asm volatile("hlt" ::: "memory");
	memcpy(&m, (const void *)slot, sizeof(m));
	g = (const void *)m.payload;
	report(intercept_suspended(&W) == 1 && W.shared[SH_MARK / 8] == 1 && m.header.message_type == HVMSG_UNMAPPED_GPA &&
		       m.header.sender == W.part.id && m.header.payload_size == sizeof(*g),
	       "W stopped at its store to GPA 0x%x: InterceptSuspend %lu, mark %lu; message type 0x%x from %lu, %u "
	       "bytes (want 0x80000000, %lu, %zu)", CHILD_WILD, (unsigned long)intercept_suspended(&W),
	       (unsigned long)W.shared[SH_MARK / 8], m.header.message_type, (unsigned long)m.header.sender,
	       m.header.payload_size, (unsigned long)W.part.id, sizeof(*g));
	report(g->header.vp_index == 0 && g->header.intercept_access_type == HV_INTERCEPT_ACCESS_WRITE &&
		       g->header.instruction_length == 0 && g->header.rip == rip_store &&
		       g->header.cs_segment.selector == 0x08 &&
		       g->header.execution_state == (HV_X64_VP_EXEC_CR0_PE | HV_X64_VP_EXEC_CR0_AM |
						     HV_X64_VP_EXEC_EFER_LMA),
	       "W's message header: VP %u, access %u (want 1, write), length %u (want 0: not known), RIP 0x%lx (want "
	       "0x%lx), CS 0x%x, state 0x%x", g->header.vp_index, g->header.intercept_access_type,
	       g->header.instruction_length, (unsigned long)g->header.rip, (unsigned long)rip_store,
	       g->header.cs_segment.selector, g->header.execution_state);
	report(g->cache_type == HV_CACHE_TYPE_UNCACHED &&
		       g->memory_access_info == (HV_X64_MEMORY_ACCESS_GVA_VALID | HV_X64_MEMORY_ACCESS_GVA_GPA_VALID) &&
		       g->guest_virtual_address == CHILD_WILD && g->guest_physical_address == CHILD_WILD &&
		       g->instruction_byte_count == 16 && !memcmp(g->instruction_bytes, child_wild_store, 16),
	       "W's memory access: cache type %u, access info 0x%x (want 3), GVA 0x%lx, GPA 0x%lx, %u instruction "
	       "bytes starting %02x %02x %02x %02x (the store's, from its memory)", g->cache_type,
	       g->memory_access_info, (unsigned long)g->guest_virtual_address,
	       (unsigned long)g->guest_physical_address, g->instruction_byte_count, g->instruction_bytes[0],
	       g->instruction_bytes[1], g->instruction_bytes[2], g->instruction_bytes[3]);
	slot->header.message_type = HVMSG_NONE;
	/* Complete it: RIP past the 8-byte MOV (REX.W 89 /r, SIB, disp32). */
	in_set_regs(W.part.id, 0, r, 2);
	expect(call(hc_ctl(HVCALL_SET_VP_REGISTERS, 2, 0), hc_in, hc_out), ST(SUCCESS), 2,
	       "complete W's access: RIP past the store, InterceptSuspend = 0");
	wait_for(&W.shared[SH_MARK / 8], 2);
	report(W.shared[SH_MARK / 8] == 2 && hash(W.region + CHILD_CODE, CHILD_SIZE - CHILD_CODE) == code_hash,
	       "W ran on past its store: mark %lu (want 2); its memory from 0x%x unchanged",
	       (unsigned long)W.shared[SH_MARK / 8], CHILD_CODE);
	report(slot->header.message_type == HVMSG_NONE, "no further message arrived");
	teardown(&W.part, true, false);
}

/* ---- 7: continuation ---- */

static void continuation(void)
{
	static struct part F = { .name = "F" };
	static uint64_t pfns[511];
	uint64_t base = hvt_alloc(511 + 16, HVT_PAGE), rax, t;

	expect(create_partition(&F.id), ST(SUCCESS), 0, "create partition F: id %lu", (unsigned long)F.id);
	for (unsigned i = 0; i < 511; i++)
		pfns[i] = pfn(base) + i;
	/* HV_DEPOSIT_MAX pages: 8 + 511 * 8 = 4096 bytes, the whole page. */
	in_pages(F.id, pfns, 511);
	t = cycles();
	rax = call(hc_ctl(HVCALL_DEPOSIT_MEMORY, 511, 0), hc_in, hc_out);
	t = cycles() - t;
	if (expect(rax, ST(SUCCESS), 511, "DepositMemory of 511 pages in one call (%lu cycles)", (unsigned long)t))
		track(&F, pfns, 511);
	/* A rep start index: elements before it are taken as done. */
	for (unsigned i = 0; i < 10; i++)
		pfns[i] = pfn(base) + 511 + i;
	in_pages(F.id, pfns, 10);
	rax = call(hc_ctl(HVCALL_DEPOSIT_MEMORY, 10, 6), hc_in, hc_out);
	if (expect(rax, ST(SUCCESS), 10, "DepositMemory of 10 pages from rep start 6"))
		track(&F, pfns + 6, 4);
	rax = deposit(F.id, pfns, 6);
	if (expect(rax, ST(SUCCESS), 6, "the 6 pages before the rep start were not taken: deposited now"))
		track(&F, pfns, 6);
	/* Pages children used, free again once the children are gone: the
	 * page C's hypercall page covered and a page from D. */
	if (C.region && D.region) {
		pfns[0] = pfn(C.region + CHILD_HCPAGE);
		pfns[1] = pfn(D.region + CHILD_CODE);
		rax = deposit(F.id, pfns, 2);
		track(&F, pfns, hc_reps(rax));	/* what was deposited, failure or not */
		expect(rax, ST(SUCCESS), 2,
		       "deposit C's page under its hypercall page and one of D's: no child maps them now");
	}

	/* Withdraw 511 in one call (4088 bytes of output), then the rest. */
	{
		static uint64_t got[MAX_TRACKED];
		unsigned total = F.npages;

		t = cycles();
		rax = withdraw(F.id, 511, got);
		t = cycles() - t;
		expect(rax, ST(SUCCESS), 511, "WithdrawMemory of 511 pages in one call (%lu cycles)", (unsigned long)t);
		rax = withdraw(F.id, 40, got + 511);
		expect(rax, ST(NO_RESOURCES), (int)(total - 511), "withdraw the rest (asked 40)");
		if (hc_reps(rax) == total - 511)
			report(same_set(got, F.pages, total), "the %u page numbers withdrawn from F are the %u deposited",
			       total, F.npages);
		F.npages = 0;
		expect(by_id_fast(HVCALL_DELETE_PARTITION, F.id), ST(SUCCESS), 0, "delete F (fast form)");
	}
}

/* ---- main ---- */

static void find_ranges(const struct hv_bootinfo *bi)
{
	uint64_t len, top;

	printf("root test kernel at 0x%lx-0x%lx, RAM %lu MiB\n", (unsigned long)hvt_pa(__image_start),
	       (unsigned long)hvt_pa(__image_end), (unsigned long)(bi->ram_size >> 20));
	for (uint32_t i = 0; i < bi->mem_count; i++)
		printf("  mem[%2u] 0x%012lx-0x%012lx type %u\n", i, (unsigned long)bi->mem[i].base,
		       (unsigned long)(bi->mem[i].base + bi->mem[i].length), bi->mem[i].type);
	/* hv_model/root.c: its image (at 2 MiB) and its pool are reserved in
	 * the root's map, the first two reserved ranges above 1 MiB. */
	if (!hvt_find_range(HV_MEM_RESERVED, 0x100000, &hv_image, &len) ||
	    !hvt_find_range(HV_MEM_RESERVED, hv_image + len, &hv_pool, &len) || hv_pool >= bi->ram_size) {
		report(false, "the root's memory map shows no hypervisor image and pool");
		report_exit();
	}
	/* The root's EPT maps [0, 4 GiB) and the RAM above it. */
	top = bi->ram_size > (3ull << 30) ? (4ull << 30) + bi->ram_size - (3ull << 30) : 4ull << 30;
	unmapped_gpa = top + 0x100000;
	printf("hypervisor image at 0x%lx, pool at 0x%lx, nothing mapped at 0x%lx\n", (unsigned long)hv_image,
	       (unsigned long)hv_pool, (unsigned long)unmapped_gpa);
}

void hvt_main(const struct hv_bootinfo *bi)
{
	find_ranges(bi);
	printf("--- 1: discovery ---\n");
	discovery();
	printf("--- 2: hypercall page and synthetic MSRs ---\n");
	hypercall_page();
	if (report_failures()) {
		report(false, "no usable hypercall page: the rest cannot run");
		return;
	}
	printf("--- 3: control words ---\n");
	control_generic();
	printf("--- 4: partition lifecycle ---\n");
	lifecycle_create();
	lifecycle_ids_and_properties();
	bad_partition_ids();
	lifecycle_initialize();
	lifecycle_vps();
	lifecycle_memory();
	printf("--- 5: a child that runs ---\n");
	running_child();
	start_vp_statuses();
	printf("--- 6: isolation ---\n");
	stopped_child(&D, child_wild_start, child_wild_end, child_wild_store, "store to GPA 0x400000");
	io_default_child();
	printf("--- 6b: SynIC and intercepts ---\n");
	synic_msrs();
	intercepts();
	gpa_intercept();
	teardown(&C.part, true, true);
	teardown(&D.part, true, false);
	teardown(&E.part, true, false);
	teardown(&B, true, false);
	printf("--- 7: continuation ---\n");
	continuation();
}
