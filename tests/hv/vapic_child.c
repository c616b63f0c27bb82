/* vapic_child.elf: the virtual local APIC, IPIs and StartVirtualProcessor
 * seen from an enlightened child with two VPs (docs/hypervisor.md
 * "Virtual APIC", "Starting VPs").  It is a child kernel built on
 * partitions/child's runtime: the root partition kernel creates it from
 * tests/hv/vapic.yaml.in (vps: 2), starts VP 0 at child_main and VP 1 at
 * child_ap_main (HvCallStartVirtualProcessor), and reports the mailbox;
 * the run exits 0 only if every check passed.
 *
 * VP 1 records what it sees at its start, then waits in HLT with
 * RFLAGS.IF = 1 for interrupts until VP 0 tells it to end.  VP 0 makes
 * every check: it sends VP 1 IPIs through the x2APIC ICR and the IPI
 * hypercalls and sees VP 1's handler run (and EOI through
 * HV_X64_MSR_EOI), and tests priorities, EOI, the VP assist page, the
 * SynIC's EOI re-delivery and the #GP rules on its own APIC with self
 * IPIs taken in short interrupt windows.
 *
 * Every handler goes through isr_common(): it counts the vector per VP
 * (by x2APIC ID), records the ISR word and then does the EOI its vector's
 * eoi_mode asks for. */
#include <hv/tlfs.h>

#include "../../partitions/child/child.h"
#include "child_idt.h"

/* x2APIC MSRs (SDM Vol. 3A Table 10-6). */
#define X2_ID 0x802
#define X2_VERSION 0x803
#define X2_TPR 0x808
#define X2_PPR 0x80a
#define X2_EOI 0x80b
#define X2_LDR 0x80d
#define X2_SVR 0x80f
#define X2_ISR(v) (0x810 + (v) / 32)
#define X2_IRR(v) (0x820 + (v) / 32)
#define X2_ESR 0x828
#define X2_ICR 0x830
#define X2_LVT_TIMER 0x832
#define X2_LVT_ERROR 0x837
#define X2_SELF_IPI 0x83f
#define APIC_BASE_X2 0xfee00c00ull	/* base, EN, EXTD */
#define APIC_BASE_BSP 0x100ull

#define VEC_LOW 0x31		/* class 3 */
#define VEC_SELF 0x42		/* class 4 */
#define VEC_SINT 0x44		/* SINT2, timer messages */
#define VEC_IPI 0x50		/* class 5 */
#define VEC_HIGH 0x61		/* class 6 */
#define VEC_ASSIST 0x70		/* class 7 */
#define VEC_WAKE 0x80
#define SINT 2

enum eoi_mode { EOI_NONE, EOI_X2APIC, EOI_HV, EOI_ASSIST };

#define WAIT_TSC 200000000ull	/* no wait lasts more than this */

static uint8_t hc_page[4096] __attribute__((aligned(4096)));
static uint8_t hc_in[4096] __attribute__((aligned(4096)));
static uint8_t sim_page[4096] __attribute__((aligned(4096)));
static uint8_t assist_page[4096] __attribute__((aligned(4096)));

volatile uint32_t hits[2][256];		/* handler runs, by x2APIC ID and vector */
volatile uint32_t isr_seen[2][256];	/* the vector's ISR bit as its handler found it */
volatile uint32_t assisted;		/* handlers that found "no EOI required" */
volatile uint8_t eoi_mode[256];
volatile uint32_t ap_ready, ap_done, ap_stop, ap_id, ap_index, ap_cpuid_id;
volatile uint64_t ap_base;

/* ---- handlers ---- */

void isr_common(uint32_t vec);

void isr_common(uint32_t vec)
{
	uint32_t id = (uint32_t)rdmsr(X2_ID) & 1;
	volatile uint32_t *assist = (volatile uint32_t *)assist_page;

	isr_seen[id][vec] = (uint32_t)(rdmsr(X2_ISR(vec)) >> (vec % 32)) & 1;
	hits[id][vec]++;
	switch (eoi_mode[vec]) {
	case EOI_X2APIC:
		wrmsr(X2_EOI, 0);
		break;
	case EOI_HV:
		wrmsr(HV_X64_MSR_EOI, 0);
		break;
	case EOI_ASSIST:
		/* TLFS "EOI Assist": test and clear; EOI only if it was clear. */
		if (__atomic_exchange_n(assist, 0, __ATOMIC_SEQ_CST) & 1)
			assisted++;
		else
			wrmsr(HV_X64_MSR_EOI, 0);
		break;
	default:
		break;
	}
}

#define ISR_STUB(v)                                                                            \
	void isr_##v(void);                                                                    \
	asm(".text\n"                                                                          \
	    "isr_" #v ":\n\t"                                                                  \
	    "pushq %rax; pushq %rcx; pushq %rdx; pushq %rsi; pushq %rdi\n\t"                   \
	    "pushq %r8; pushq %r9; pushq %r10; pushq %r11\n\t"                                 \
	    "movl $" #v ", %edi\n\t"                                                           \
	    "call isr_common\n\t"                                                              \
	    "popq %r11; popq %r10; popq %r9; popq %r8\n\t"                                     \
	    "popq %rdi; popq %rsi; popq %rdx; popq %rcx; popq %rax\n\t"                        \
	    "iretq\n")

ISR_STUB(0x31);
ISR_STUB(0x42);
ISR_STUB(0x44);
ISR_STUB(0x50);
ISR_STUB(0x61);
ISR_STUB(0x70);
ISR_STUB(0x80);

static void idt_init(void)
{
	set_gate(CHILD_IDT_VEC_GP, isr_gp);
	set_gate(0x31, isr_0x31);
	set_gate(0x42, isr_0x42);
	set_gate(0x44, isr_0x44);
	set_gate(0x50, isr_0x50);
	set_gate(0x61, isr_0x61);
	set_gate(0x70, isr_0x70);
	set_gate(0x80, isr_0x80);
	for (unsigned v = 0; v < 256; v++)
		eoi_mode[v] = EOI_HV;
	idt_load();
}

/* ---- hypercalls (TLFS "Hypercall Interface") ---- */

static uint64_t hv_call(uint64_t control, uint64_t input, uint64_t output)
{
	return child_hv_call_at(hc_page, control, input, output);
}

static bool hv_init(void)
{
	wrmsr(HV_X64_MSR_GUEST_OS_ID, HV_GUEST_OS_ID_OPEN_SOURCE | 1);
	wrmsr(HV_X64_MSR_HYPERCALL, (uint64_t)(uintptr_t)hc_page | HV_X64_MSR_HYPERCALL_ENABLE);
	if (rdmsr(HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE)
		return true;
	return child_check(false, "the hypercall page did not come on");
}

/* A status check: logged only when it fails (the log is one page);
 * each group ends with a summary check of how many were made. */
static unsigned expects;

static bool expect(uint64_t rax, uint16_t want, const char *what)
{
	expects++;
	if ((uint16_t)rax == want)
		return true;
	return child_check(false, "%s: status 0x%x (want 0x%x)", what, (unsigned)(uint16_t)rax, want);
}

static uint64_t send_ipi(uint32_t vector, uint8_t vtl, uint64_t mask)
{
	struct hv_input_send_synthetic_cluster_ipi in = { .vector = vector, .target_vtl = vtl, .processor_mask = mask };
	uint64_t q[2];

	memcpy(q, &in, sizeof(q));
	return hv_call(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI | HV_HYPERCALL_FAST_BIT, q[0], q[1]);
}

/* Ex with `nbanks` banks in the variable header (one per bit of `valid`
 * unless the caller lies). */
static uint64_t send_ipi_ex(uint32_t vector, uint64_t format, uint64_t valid, const uint64_t *banks, unsigned nbanks)
{
	struct hv_input_send_synthetic_cluster_ipi_ex in = { .vector = vector, .format = format,
							      .valid_bank_mask = valid };

	memcpy(hc_in, &in, sizeof(in));
	memcpy(hc_in + sizeof(in), banks, nbanks * 8);
	return hv_call(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX | (uint64_t)nbanks << HV_HYPERCALL_VARHEAD_OFFSET,
		       (uint64_t)(uintptr_t)hc_in, 0);
}

static uint64_t start_vp(uint64_t partition, uint32_t index)
{
	struct hv_input_start_virtual_processor in = { .partition_id = partition, .vp_index = index };

	in.vp_context.cr0 = 0x80050033;	/* a valid context: the statuses come first */
	in.vp_context.efer = 0x500;
	in.vp_context.rflags = 2;
	memcpy(hc_in, &in, sizeof(in));
	return hv_call(HVCALL_START_VIRTUAL_PROCESSOR, (uint64_t)(uintptr_t)hc_in, 0);
}

/* ---- waiting ---- */

/* Spin (giving the LP to VP 1 with HvCallNotifyLongSpinWait) until
 * *count moves past `from`; true if it did. */
static bool wait_count(volatile uint32_t *count, uint32_t from)
{
	uint64_t end = rdtsc() + WAIT_TSC;

	while (*count == from && rdtsc() < end)
		hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT, 1, 0);
	return *count != from;
}

static bool isr_bit(unsigned v)
{
	return (rdmsr(X2_ISR(v)) >> (v % 32)) & 1;
}

static bool irr_bit(unsigned v)
{
	return (rdmsr(X2_IRR(v)) >> (v % 32)) & 1;
}

/* ---- VP 1 ---- */

void child_ap_main(uint32_t vp_index)
{
	idt_load();
	ap_index = vp_index;
	ap_id = (uint32_t)rdmsr(X2_ID);
	ap_base = rdmsr(MSR_IA32_APIC_BASE);
	ap_cpuid_id = cpuid(1, 0).ebx >> 24;
	__atomic_store_n(&ap_ready, 1, __ATOMIC_SEQ_CST);
	/* Wait in HLT with interrupts on (the STI shadow covers the HLT). */
	while (!ap_stop)
		asm volatile("sti; hlt; cli" ::: "memory");
	ap_done = 1;
}

/* ---- VP 0's checks ---- */

static void check_discovery(void)
{
	struct cpuid_regs f = cpuid(HV_CPUID_FEATURES, 0), e = cpuid(HV_CPUID_ENLIGHTMENT_INFO, 0), one = cpuid(1, 0);
	const uint32_t rec = HV_X64_APIC_ACCESS_RECOMMENDED | HV_X64_X2APIC_MSRS_RECOMMENDED |
			     HV_X64_CLUSTER_IPI_RECOMMENDED | HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED;
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);

	child_check((f.eax & HV_MSR_APIC_ACCESS_AVAILABLE) && (f.ebx & HV_START_VIRTUAL_PROCESSOR),
		    "CPUID 0x40000003: AccessApicMsrs (EAX 0x%x), StartVirtualProcessor (EBX 0x%x)", f.eax, f.ebx);
	child_check((e.eax & rec) == rec, "CPUID 0x40000004 EAX 0x%x: APIC, x2APIC MSRs, IPI calls recommended", e.eax);
	child_check((one.ecx & (1u << 21)) && (one.ebx >> 24) == 0 && base == (APIC_BASE_X2 | APIC_BASE_BSP),
		    "CPUID 1: x2APIC (ECX 0x%x), APIC ID %u; APIC_BASE 0x%lx (want 0xfee00d00)",
		    one.ecx, one.ebx >> 24, (unsigned long)base);
	child_check(rdmsr(X2_ID) == 0 && rdmsr(HV_X64_MSR_VP_INDEX) == 0 && rdmsr(X2_VERSION) == 0x60014 &&
			    rdmsr(X2_LDR) == 1,
		    "VP 0 x2APIC ID %lu, version 0x%lx, LDR 0x%lx (want 0, 0x60014, 0x1)", (unsigned long)rdmsr(X2_ID),
		    (unsigned long)rdmsr(X2_VERSION), (unsigned long)rdmsr(X2_LDR));
}

static bool check_ap_started(void)
{
	uint64_t end = rdtsc() + WAIT_TSC;

	while (!__atomic_load_n(&ap_ready, __ATOMIC_SEQ_CST) && rdtsc() < end)
		hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT, 1, 0);
	if (!child_check(ap_ready, "VP 1 started by the root and ran child_ap_main"))
		return false;
	child_check(ap_index == 1 && ap_id == 1 && ap_cpuid_id == 1 && ap_base == APIC_BASE_X2,
		    "VP 1: index %u, x2APIC ID %u, CPUID 1 ID %u, APIC_BASE 0x%lx (want 0xfee00c00)",
		    ap_index, ap_id, ap_cpuid_id, (unsigned long)ap_base);
	return true;
}

/* IPIs to VP 1, which waits in HLT: its handler runs, EOIs through
 * HV_X64_MSR_EOI (the next IPI of the same class would stay pending
 * otherwise). */
static void check_ipis(void)
{
	uint32_t n = hits[1][VEC_IPI];
	uint64_t bank = 1ull << 1;

	wrmsr(X2_ICR, 1ull << 32 | VEC_IPI);
	child_check(wait_count(&hits[1][VEC_IPI], n) && isr_seen[1][VEC_IPI] == 1 && hits[0][VEC_IPI] == 0,
		    "ICR fixed to x2APIC ID 1: VP 1's handler ran, vector in its ISR");
	n = hits[1][VEC_IPI];
	expect(send_ipi(VEC_IPI, 0, 1ull << 1), HV_STATUS_SUCCESS, "HvCallSendSyntheticClusterIpi(0x50, VP 1), fast");
	child_check(wait_count(&hits[1][VEC_IPI], n), "...ran again: HV_X64_MSR_EOI retired the first");
	n = hits[1][VEC_IPI];
	expect(send_ipi_ex(VEC_IPI, HV_GENERIC_SET_SPARSE_4K, 1, &bank, 1), HV_STATUS_SUCCESS,
	       "HvCallSendSyntheticClusterIpiEx(0x50, sparse bank 0 = VP 1)");
	child_check(wait_count(&hits[1][VEC_IPI], n), "...VP 1's handler ran");
	n = hits[1][VEC_IPI];
	wrmsr(X2_ICR, 3ull << 18 | VEC_IPI);	/* all excluding self */
	child_check(wait_count(&hits[1][VEC_IPI], n) && hits[0][VEC_IPI] == 0 && !irr_bit(VEC_IPI),
		    "ICR shorthand all-but-self: VP 1 took it, VP 0 has nothing pending");
	n = hits[1][VEC_IPI];
	wrmsr(X2_ICR, 1ull << 11 | 2ull << 32 | VEC_IPI);	/* logical: cluster 0, bit 1 = x2APIC ID 1 */
	child_check(wait_count(&hits[1][VEC_IPI], n), "ICR logical destination 0x2 (cluster 0): VP 1 took it");
	n = hits[1][VEC_SELF];
	expect(send_ipi_ex(VEC_SELF, HV_GENERIC_SET_ALL, 0, NULL, 0), HV_STATUS_SUCCESS,
	       "HvCallSendSyntheticClusterIpiEx(0x42, all VPs)");
	window();
	child_check(hits[0][VEC_SELF] == 1 && wait_count(&hits[1][VEC_SELF], n),
		    "...both VPs took it (VP 0: %u)", hits[0][VEC_SELF]);

	/* Statuses (TLFS "HvCallSendSyntheticClusterIpi"). */
	expect(send_ipi(15, 0, 2), HV_STATUS_INVALID_PARAMETER, "SendSyntheticClusterIpi vector 15");
	expect(send_ipi(256, 0, 2), HV_STATUS_INVALID_PARAMETER, "SendSyntheticClusterIpi vector 256");
	expect(send_ipi(VEC_IPI, 1, 2), HV_STATUS_INVALID_PARAMETER, "SendSyntheticClusterIpi target VTL 1");
	expect(send_ipi(VEC_IPI, 0, 1ull << 5), HV_STATUS_SUCCESS, "SendSyntheticClusterIpi to VP 5 (none): ignored");
	expect(send_ipi_ex(VEC_IPI, 2, 0, NULL, 0), HV_STATUS_INVALID_PARAMETER, "SendSyntheticClusterIpiEx format 2");
	expect(send_ipi_ex(VEC_IPI, HV_GENERIC_SET_SPARSE_4K, 3, &bank, 1), HV_STATUS_INVALID_HYPERCALL_INPUT,
	       "SendSyntheticClusterIpiEx: 2 valid banks, 1 in the variable header");
	expect(send_ipi_ex(8, HV_GENERIC_SET_ALL, 0, NULL, 0), HV_STATUS_INVALID_PARAMETER,
	       "SendSyntheticClusterIpiEx vector 8");
	expect(hv_call(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX | HV_HYPERCALL_FAST_BIT, VEC_IPI, 0),
	       HV_STATUS_INVALID_HYPERCALL_INPUT, "SendSyntheticClusterIpiEx fast (memory form only)");
	window();
	child_check(hits[0][VEC_IPI] == 0, "%u IPI call statuses as the TLFS says; the refused calls sent nothing",
		    expects);
}

/* SDM 10.8.3: TPR holds a class off; ISR raises PPR; EOI retires. */
static void check_priorities(void)
{
	uint64_t v = 0, tpr;
	bool ok;

	wrmsr(X2_TPR, 0x40);
	wrmsr(X2_SELF_IPI, VEC_LOW);
	window();
	child_check(hits[0][VEC_LOW] == 0 && irr_bit(VEC_LOW) && rdmsr(X2_PPR) == 0x40,
		    "TPR 0x40 holds self IPI 0x31 off: IRR bit set, PPR 0x%lx", (unsigned long)rdmsr(X2_PPR));
	wrmsr(HV_X64_MSR_TPR, 0);
	window();
	child_check(hits[0][VEC_LOW] == 1 && !irr_bit(VEC_LOW) && rdmsr(X2_TPR) == 0,
		    "HV_X64_MSR_TPR = 0: 0x31 delivered (%u), TPR reads 0", hits[0][VEC_LOW]);

	eoi_mode[VEC_HIGH] = EOI_NONE;
	eoi_mode[VEC_IPI] = EOI_X2APIC;
	wrmsr(X2_SELF_IPI, VEC_HIGH);
	window();
	child_check(hits[0][VEC_HIGH] == 1 && isr_bit(VEC_HIGH) && rdmsr(X2_PPR) == 0x60,
		    "0x61 taken without EOI: in service, PPR 0x%lx (want 0x60)", (unsigned long)rdmsr(X2_PPR));
	wrmsr(X2_SELF_IPI, VEC_IPI);
	window();
	child_check(hits[0][VEC_IPI] == 0 && irr_bit(VEC_IPI), "0x50 (class 5) waits behind 0x61 in service");
	wrmsr(X2_EOI, 0);
	ok = !isr_bit(VEC_HIGH) && rdmsr(X2_PPR) == 0;
	window();
	child_check(ok && hits[0][VEC_IPI] == 1 && !isr_bit(VEC_IPI),
		    "EOI retired 0x61 (PPR 0), then 0x50 was delivered and EOIed (x2APIC EOI)");
	eoi_mode[VEC_IPI] = EOI_HV;

	/* CR8 is TPR[7:4] (SDM 10.8.6.1). */
	asm volatile("movq %0, %%cr8" : : "r"(5ull));
	asm volatile("movq %%cr8, %0" : "=r"(v));
	tpr = rdmsr(X2_TPR);
	child_check(tpr == 0x50 && v == 5, "MOV CR8 = 5: TPR 0x%lx, CR8 reads %lu", (unsigned long)tpr, (unsigned long)v);
	asm volatile("movq %0, %%cr8" : : "r"(0ull));

	/* A software-disabled APIC accepts no fixed interrupt (SDM 10.4.7.2). */
	wrmsr(X2_SVR, 0xff);
	wrmsr(X2_SELF_IPI, VEC_SELF);
	window();
	ok = !irr_bit(VEC_SELF) && hits[0][VEC_SELF] == 1;
	wrmsr(X2_SVR, 0x1ff);
	wrmsr(X2_SELF_IPI, VEC_SELF);
	window();
	child_check(ok && hits[0][VEC_SELF] == 2, "SVR 0xff (software-disabled): self IPI dropped; 0x1ff: taken");
	wrmsr(X2_ICR, 8);	/* fixed, vector 8: illegal */
	wrmsr(X2_ESR, 0);
	child_check(rdmsr(X2_ESR) == 0x20, "ICR vector 8: ESR 0x%lx (want 0x20, send illegal vector)",
		    (unsigned long)rdmsr(X2_ESR));
}

/* The #GP rules of x2APIC mode (SDM 10.12.1.2-3, Table 10-6) and the TLFS
 * MSRs. */
static void check_gp_rules(void)
{
	static const uint32_t ro[] = { X2_ID, X2_VERSION, X2_PPR, X2_LDR, X2_ISR(0), X2_IRR(0x40), 0x818, 0x839 };
	static const uint32_t wo[] = { X2_EOI, X2_SELF_IPI, HV_X64_MSR_EOI };
	static const uint32_t rsvd[] = { 0x800, 0x801, 0x804, 0x80e, 0x831, 0x840, 0x8ff };
	static const struct {
		uint32_t msr;
		uint64_t v;
		const char *what;
	} bad[] = {
		{ X2_EOI, 1, "EOI non-zero" },
		{ X2_ESR, 1, "ESR non-zero" },
		{ X2_TPR, 0x100, "TPR bit 8" },
		{ X2_TPR, 1ull << 32, "TPR bit 32" },
		{ X2_SVR, 0x1000 | 0x1ff, "SVR bit 12" },
		{ X2_ICR, 1ull << 20 | VEC_IPI, "ICR bit 20" },
		{ X2_ICR, 1ull << 13 | VEC_IPI, "ICR bit 13" },
		{ X2_LVT_ERROR, 0x100 | 0x10000, "LVT error bit 8" },
		{ X2_SELF_IPI, 0x100 | VEC_SELF, "SELF IPI bit 8" },
		{ HV_X64_MSR_EOI, 1ull << 32, "HV_X64_MSR_EOI bit 32" },
		{ MSR_IA32_APIC_BASE, 0xfee00800, "IA32_APIC_BASE x2APIC -> xAPIC" },
		{ MSR_IA32_APIC_BASE, 0xfee00500, "IA32_APIC_BASE EXTD without EN" },
		{ MSR_IA32_APIC_BASE, 0xfee00d01, "IA32_APIC_BASE reserved bit 0" },
	};
	uint64_t v;
	bool ok;
	uint32_t bad_ro = 0, bad_wo = 0, bad_rsvd = 0;
	const char *bad_bits = NULL;
	unsigned nbad = 0;

	for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		if (!wrmsr_gp(ro[i], 0))
			bad_ro = ro[i];
	child_check(!bad_ro, "read-only x2APIC MSRs: WRMSR #GP (0x%x did not)", bad_ro);
	for (unsigned i = 0; i < sizeof(wo) / sizeof(wo[0]); i++)
		if (!rdmsr_gp(wo[i], &v))
			bad_wo = wo[i];
	child_check(!bad_wo, "write-only MSRs: RDMSR #GP (0x%x did not)", bad_wo);
	for (unsigned i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++)
		if (!rdmsr_gp(rsvd[i], &v) || !wrmsr_gp(rsvd[i], 0))
			bad_rsvd = rsvd[i];
	child_check(!bad_rsvd, "reserved x2APIC MSRs: #GP (0x%x did not)", bad_rsvd);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!wrmsr_gp(bad[i].msr, bad[i].v)) {
			bad_bits = bad[i].what;
			nbad++;
		}
	child_check(!nbad, "%u reserved-bit, EOI/ESR, APIC_BASE writes: #GP (%u did not: %s)", (unsigned)(sizeof(bad) / sizeof(bad[0])), nbad, bad_bits ? bad_bits : "-");
	ok = !wrmsr_gp(X2_LVT_TIMER, 0x20030);
	v = rdmsr(X2_LVT_TIMER);
	child_check(ok && v == 0x20030, "LVT timer 0x20030 (periodic, vector 0x30) stored: reads 0x%lx", (unsigned long)v);
	ok = !wrmsr_gp(MSR_IA32_APIC_BASE, APIC_BASE_X2 | APIC_BASE_BSP) && rdmsr(X2_ID) == 0;
	/* SDM 10.12.5: x2APIC -> disabled -> xAPIC -> x2APIC; disabling
	 * resets the APIC (SVR 0xff, software-disabled; LVT masked). */
	ok = ok && !wrmsr_gp(MSR_IA32_APIC_BASE, 0xfee00000ull | APIC_BASE_BSP) && rdmsr_gp(X2_ID, &v) &&
	     !wrmsr_gp(MSR_IA32_APIC_BASE, 0xfee00800ull | APIC_BASE_BSP) &&
	     !wrmsr_gp(MSR_IA32_APIC_BASE, APIC_BASE_X2 | APIC_BASE_BSP) && rdmsr(X2_SVR) == 0xff &&
	     rdmsr(X2_LVT_TIMER) == 0x10000 && rdmsr(MSR_IA32_APIC_BASE) == (APIC_BASE_X2 | APIC_BASE_BSP);
	wrmsr(X2_SVR, 0x1ff);
	ok = ok && !rdmsr_gp(HV_X64_MSR_TPR, &v) && v == 0 && !wrmsr_gp(HV_X64_MSR_EOI, 0);
	child_check(ok, "APIC_BASE unchanged, x2APIC->off->xAPIC->x2APIC (reset), HV TPR, HV EOI = 0");
}

/* TLFS "EOI Assist": the VP assist page's "no EOI required" bit. */
static void check_eoi_assist(void)
{
	uint64_t v;
	bool ok;
	volatile uint32_t *w = (volatile uint32_t *)assist_page;

	memset(assist_page, 0xa5, sizeof(assist_page));
	wrmsr(HV_X64_MSR_VP_ASSIST_PAGE, (uint64_t)(uintptr_t)assist_page | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE);
	child_check(!rdmsr_gp(HV_X64_MSR_VP_ASSIST_PAGE, &v) &&
			    v == ((uint64_t)(uintptr_t)assist_page | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE) && w[0] == 0 &&
			    assist_page[4095] == 0,
		    "VP assist page enabled at 0x%lx: reads back, zeroed", (unsigned long)(uintptr_t)assist_page);
	eoi_mode[VEC_ASSIST] = EOI_ASSIST;
	wrmsr(X2_SELF_IPI, VEC_ASSIST);
	window();
	child_check(hits[0][VEC_ASSIST] == 1 && assisted == 1 && !isr_bit(VEC_ASSIST) && rdmsr(X2_PPR) == 0,
		    "EOI assist: 0x70's handler found \"no EOI required\"; the hypervisor did the EOI");
	/* With another vector in service the bit is not offered. */
	eoi_mode[VEC_HIGH] = EOI_NONE;
	wrmsr(X2_SELF_IPI, VEC_HIGH);
	window();
	wrmsr(X2_SELF_IPI, VEC_ASSIST);
	window();
	ok = hits[0][VEC_ASSIST] == 2 && assisted == 1 && !isr_bit(VEC_ASSIST) && isr_bit(VEC_HIGH);
	wrmsr(X2_EOI, 0);
	child_check(ok && !isr_bit(VEC_HIGH), "0x70 over 0x61 in service: no assist; EOIs retired 0x70, then 0x61");
	eoi_mode[VEC_HIGH] = EOI_HV;
	wrmsr(HV_X64_MSR_VP_ASSIST_PAGE, 0);
}

static volatile struct hv_message *slot(void)
{
	return (volatile struct hv_message *)(sim_page + SINT * HV_MESSAGE_SIZE);
}

/* Timer `t`'s message on SINT2 at `due` (reference time). */
static void timer_arm(unsigned t, uint64_t due)
{
	wrmsr(HV_X64_MSR_STIMER_COUNT(t), due);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(t), HV_STIMER_ENABLE | (uint64_t)SINT << HV_STIMER_SINTX_SHIFT);
}

static void wait_ref(uint64_t t)
{
	while (rdmsr(HV_X64_MSR_TIME_REF_COUNT) < t)
		window();
}

/* SINT vectors through the virtual APIC: auto-EOI leaves the ISR alone;
 * without it the vector stays in service and its EOI delivers the next
 * waiting message (TLFS "SynIC Message Flags"), no EOM needed. */
static void check_sint_eoi(void)
{
	uint64_t now;
	bool ok;

	wrmsr(HV_X64_MSR_SIMP, (uint64_t)(uintptr_t)sim_page | HV_SYNIC_SIMP_ENABLE);
	wrmsr(HV_X64_MSR_SINT(SINT), VEC_SINT | HV_SYNIC_SINT_AUTO_EOI);
	wrmsr(HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
	eoi_mode[VEC_SINT] = EOI_NONE;
	now = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	timer_arm(0, now + 500);
	wait_ref(now + 3000);
	child_check(hits[0][VEC_SINT] == 1 && isr_seen[0][VEC_SINT] == 0 && !isr_bit(VEC_SINT),
		    "auto-EOI SINT: handler ran (%u), the vector never in service", hits[0][VEC_SINT]);
	slot()->header.message_type = HVMSG_NONE;

	wrmsr(HV_X64_MSR_SINT(SINT), VEC_SINT);
	now = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	timer_arm(0, now + 500);
	timer_arm(1, now + 1500);
	wait_ref(now + 4000);
	child_check(hits[0][VEC_SINT] == 2 && isr_bit(VEC_SINT) && rdmsr(X2_PPR) == 0x40,
		    "SINT without auto-EOI: handler ran (%u), vector in service, PPR 0x%lx", hits[0][VEC_SINT],
		    (unsigned long)rdmsr(X2_PPR));
	child_check(((const volatile struct hv_timer_message_payload *)slot()->payload)->timer_index == 0 &&
			    (slot()->header.message_flags & HV_MESSAGE_FLAG_PENDING),
		    "timer 0's message in the slot, timer 1's waiting (msg_pending)");
	slot()->header.message_type = HVMSG_NONE;	/* freed, no EOM */
	window();
	ok = hits[0][VEC_SINT] == 2 && slot()->header.message_type == HVMSG_NONE;
	wrmsr(HV_X64_MSR_EOI, 0);
	window();
	child_check(ok && slot()->header.message_type == HVMSG_TIMER_EXPIRED &&
			    ((const volatile struct hv_timer_message_payload *)slot()->payload)->timer_index == 1 &&
			    hits[0][VEC_SINT] == 3,
		    "slot freed, no EOM: nothing; then EOI of the SINT vector delivered timer 1's message and raised "
		    "the SINT again (%u)",
		    hits[0][VEC_SINT]);
	wrmsr(X2_EOI, 0);
	slot()->header.message_type = HVMSG_NONE;
	wrmsr(HV_X64_MSR_SCONTROL, 0);
}

/* HvCallStartVirtualProcessor from the child on its own VPs. */
static void check_start_vp(void)
{
	unsigned before = expects;

	expect(start_vp(HV_PARTITION_ID_SELF, 1), HV_STATUS_INVALID_VP_STATE, "StartVirtualProcessor(self, VP 1): "
	       "already started");
	expect(start_vp(HV_PARTITION_ID_SELF, 0), HV_STATUS_INVALID_VP_STATE, "StartVirtualProcessor(self, VP 0)");
	expect(start_vp(HV_PARTITION_ID_SELF, 2), HV_STATUS_INVALID_VP_INDEX, "StartVirtualProcessor(self, VP 2): none");
	expect(start_vp(HV_PARTITION_ID_SELF, 64), HV_STATUS_INVALID_VP_INDEX, "StartVirtualProcessor(self, VP 64)");
	expect(start_vp(1, 0), HV_STATUS_ACCESS_DENIED, "StartVirtualProcessor on partition 1 (the root, not a child)");
	child_check(expects == before + 5, "StartVirtualProcessor statuses: started, no such VP, not a child");
}

/* Every IPI this test sent reached a handler once (each waits for the
 * last): their number, for hvsim's `vipi` count (tests/host/irq_stats.py),
 * and none left in service, so each had its EOI. */
static void report_ipis(void)
{
	static const uint8_t vecs[] = { VEC_LOW, VEC_SELF, VEC_IPI, VEC_HIGH, VEC_ASSIST, VEC_WAKE };
	uint32_t n[2] = { 0, 0 };
	bool idle = true;

	for (unsigned i = 0; i < sizeof(vecs); i++) {
		n[0] += hits[0][vecs[i]];
		n[1] += hits[1][vecs[i]];
	}
	for (unsigned w = 0; w < 8; w++)
		idle = idle && !rdmsr(X2_ISR(w * 32));
	child_check(idle, "IPIs: %u taken (VP 0: %u, VP 1: %u), none in service", n[0] + n[1], n[0], n[1]);
}

void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags)
{
	child_start(boot, entry_rsp, entry_rflags, CHILD_IMAGE_ENLIGHTENED);
	idt_init();
	check_discovery();
	if (hv_init() && child_check(boot->vp_count == 2, "boot page: %u VPs (want 2)", boot->vp_count) &&
	    check_ap_started()) {
		check_ipis();
		check_priorities();
		check_gp_rules();
		check_eoi_assist();
		check_sint_eoi();
		check_start_vp();
		ap_stop = 1;
		wrmsr(X2_ICR, 1ull << 32 | VEC_WAKE);
		child_check(wait_count(&ap_done, 0), "VP 1 ended");
		report_ipis();
	}
	child_finish();
}
