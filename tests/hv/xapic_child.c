/* xapic_child.elf: the virtual APIC's xAPIC mode as an unmodified kernel
 * uses it, from an enlightened child with two VPs (docs/hypervisor.md
 * "Virtual APIC", "Starting VPs").  Built on partitions/child's runtime
 * like vapic_child.c; the root starts VP 0 at child_main and VP 1 at
 * child_ap_main, both in x2APIC mode (the hypervisor's default).
 *
 * VP 0 maps the APIC page (0xFEE00000, uncached) into the page tables
 * both VPs share, then checks the IA32_APIC_BASE transitions of SDM
 * 10.12.5 and their #GPs on its way to xAPIC mode; the xAPIC registers
 * through MMIO (SDM Table 10-1: ID, version, TPR, PPR, SVR, LDR, DFR,
 * ESR, ICR, the byte and word accesses); a self IPI through the ICR whose
 * handler EOIs through MMIO; IPIs to VP 1 (which switched to xAPIC mode
 * itself) by physical, flat and cluster logical destination and the
 * all-but-self shorthand, through MMIO and HV_X64_MSR_ICR; an NMI to VP
 * 1; and INIT, HvCallStartVirtualProcessor of the INITed VP, and
 * INIT + SIPI (real mode at 0x0D00:0000, which needs the CPU's
 * "unrestricted guest": the sandybridge profile offers it).
 *
 * Before the APIC, CR0.NE (docs/hypervisor.md "Unmodified guests"): VMX
 * fixes it to 1, yet the child clears and sets it as on hardware (the
 * hypervisor owns the bit and performs such a MOV to CR0), and the #GPs
 * of such a MOV (SDM Vol. 2B MOV CR) come from the hypervisor's
 * emulation.
 *
 * Every APIC access is a plain `volatile uint32_t` load or store, as
 * kvm-unit-tests' xapic_read/xapic_write make them; a few are written in
 * asm to pin the byte, word, immediate and moffs forms. */
#include <hv/tlfs.h>

#include "../../partitions/child/child.h"
#include "child_idt.h"

#define APIC 0xfee00000ull
#define A_ID 0x020
#define A_VERSION 0x030
#define A_TPR 0x080
#define A_PPR 0x0a0
#define A_EOI 0x0b0
#define A_LDR 0x0d0
#define A_DFR 0x0e0
#define A_SVR 0x0f0
#define A_ISR(v) (0x100 + ((v) / 32) * 0x10)
#define A_IRR(v) (0x200 + ((v) / 32) * 0x10)
#define A_ESR 0x280
#define A_ICR_LO 0x300
#define A_ICR_HI 0x310
#define A_LVT_TIMER 0x320

#define X2_ID 0x802
#define BASE_EN 0x800ull
#define BASE_EXTD 0x400ull
#define BASE_BSP 0x100ull

#define ICR_FIXED 0x000u
#define ICR_NMI 0x400u
#define ICR_INIT 0x500u
#define ICR_SIPI 0x600u
#define ICR_LOGICAL 0x800u
#define ICR_ASSERT 0x4000u
#define ICR_LEVEL 0x8000u
#define ICR_SELF (1u << 18)
#define ICR_ALL_BUT_SELF (3u << 18)

#define VEC_SELF 0x42
#define VEC_IPI 0x50
#define SIPI_VECTOR 0x0d	/* 0xD000: free in the child's memory below 1 MiB (childboot.h) */
#define WAIT_TSC 200000000ull

static uint8_t hc_page[4096] __attribute__((aligned(4096)));
static uint8_t hc_in[4096] __attribute__((aligned(4096)));
static uint64_t apic_pd[512] __attribute__((aligned(4096)));

volatile uint32_t hits[2][256];		/* handler runs, by VP and vector */
volatile uint32_t isr_seen[2][256];	/* the vector's ISR bit as the handler found it */
volatile uint32_t nmis[2];
volatile uint32_t apic_mapped, ap_ready, ap_stop, ap_done, ap_restarted;
volatile uint32_t ap_ldr_cmd;		/* VP 1 loads LDR/DFR from these when the command moves */
volatile uint32_t ap_ldr, ap_dfr, ap_ldr_done;

static inline uint32_t apic_read(unsigned reg)
{
	return *(volatile uint32_t *)(uintptr_t)(APIC + reg);
}

static inline void apic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(APIC + reg) = v;
}

static unsigned my_vp(void)
{
	return (cpuid(1, 0).ebx >> 24) & 1;
}

/* ---- handlers: EOI through the xAPIC page ---- */

void isr_common(uint32_t vec);

void isr_common(uint32_t vec)
{
	unsigned vp = my_vp();

	isr_seen[vp][vec] = (apic_read(A_ISR(vec)) >> (vec % 32)) & 1;
	hits[vp][vec]++;
	apic_write(A_EOI, 0);
}

void isr_nmi_c(void);

void isr_nmi_c(void)
{
	nmis[my_vp()]++;
}

HVT_ISR_STUB(isr_self, "movl $0x42, %edi; call isr_common");
HVT_ISR_STUB(isr_ipi, "movl $0x50, %edi; call isr_common");
HVT_ISR_STUB(isr_nmi, "call isr_nmi_c");

static void idt_init(void)
{
	set_gate(CHILD_IDT_VEC_GP, isr_gp);
	set_gate(2, isr_nmi);
	set_gate(VEC_SELF, isr_self);
	set_gate(VEC_IPI, isr_ipi);
	idt_load();
}

/* ---- hypercalls ---- */

static uint64_t hv_call(uint64_t control, uint64_t input, uint64_t output)
{
	return child_hv_call_at(hc_page, control, input, output);
}

static void spin(void)
{
	hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT, 1, 0);
}

static bool wait_count(volatile uint32_t *count, uint32_t from)
{
	uint64_t end = rdtsc() + WAIT_TSC;

	while (*count == from && rdtsc() < end)
		spin();
	return *count != from;
}

/* Give VP 1 the LP a few times without expecting anything. */
static void let_run(void)
{
	for (unsigned i = 0; i < 20; i++)
		spin();
}

/* ---- VP 1 ---- */

void ap_restart(void);

/* Where HvCallStartVirtualProcessor starts VP 1 again after an INIT. */
void ap_restart(void)
{
	ap_restarted = 1;
	for (;;)
		asm volatile("cli; hlt" ::: "memory");
}

void child_ap_main(uint32_t vp_index)
{
	uint32_t cmd = 0;

	(void)vp_index;
	idt_load();
	while (!__atomic_load_n(&apic_mapped, __ATOMIC_SEQ_CST))
		cpu_pause();
	write_cr3(read_cr3());
	/* x2APIC -> disabled -> xAPIC (SDM 10.12.5), then software-enable. */
	wrmsr(MSR_IA32_APIC_BASE, APIC);
	wrmsr(MSR_IA32_APIC_BASE, APIC | BASE_EN);
	apic_write(A_SVR, 0x1ff);
	__atomic_store_n(&ap_ready, 1, __ATOMIC_SEQ_CST);
	while (!ap_stop) {
		if (ap_ldr_cmd != cmd) {
			cmd = ap_ldr_cmd;
			apic_write(A_DFR, ap_dfr);
			apic_write(A_LDR, ap_ldr);
			ap_ldr_done = cmd;
		}
		asm volatile("sti; hlt; cli" ::: "memory");
	}
	ap_done = 1;
}

static void ap_set_ldr(uint32_t ldr, uint32_t dfr)
{
	uint32_t n = hits[1][VEC_IPI];

	ap_ldr = ldr;
	ap_dfr = dfr;
	ap_ldr_cmd++;
	/* wake VP 1 out of its HLT with an IPI so that it looks */
	apic_write(A_ICR_HI, 1u << 24);
	apic_write(A_ICR_LO, ICR_FIXED | VEC_IPI);
	wait_count(&hits[1][VEC_IPI], n);
	wait_count(&ap_ldr_done, ap_ldr_cmd - 1);
}

/* ---- VP 0 ---- */

/* Map 0xFEE00000 (2 MiB page, PCD|PWT) in the shared page tables. */
static void map_apic(void)
{
	hvt_map_apic(apic_pd);
	__atomic_store_n(&apic_mapped, 1, __ATOMIC_SEQ_CST);
}

static void check_apic_base(void)
{
	static const struct {
		uint64_t v;
		const char *what;
	} bad[] = {
		{ APIC | BASE_EN, "x2APIC -> xAPIC" },
		{ APIC | BASE_EXTD, "EXTD without EN" },
		{ APIC | BASE_EN | BASE_EXTD | 0x200, "reserved bit 9" },
		{ APIC | BASE_EN | BASE_EXTD | 1, "reserved bit 0" },
		{ 0xfed00000ull | BASE_EN | BASE_EXTD, "another base" },
		{ 1ull << 52 | APIC | BASE_EN | BASE_EXTD, "above MAXPHYADDR" },
	};
	const char *failed = NULL;
	uint64_t v;
	bool ok;

	child_check(rdmsr(MSR_IA32_APIC_BASE) == (APIC | BASE_EN | BASE_EXTD | BASE_BSP),
		    "VP 0 starts in x2APIC mode: APIC_BASE 0x%lx", (unsigned long)rdmsr(MSR_IA32_APIC_BASE));
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!wrmsr_gp(MSR_IA32_APIC_BASE, bad[i].v))
			failed = bad[i].what;
	child_check(!failed && rdmsr(MSR_IA32_APIC_BASE) == (APIC | BASE_EN | BASE_EXTD | BASE_BSP),
		    "IA32_APIC_BASE #GP from x2APIC: to xAPIC, EXTD alone, reserved bits, relocation (%s did not)",
		    failed ? failed : "all did");
	ok = !wrmsr_gp(MSR_IA32_APIC_BASE, APIC) && rdmsr(MSR_IA32_APIC_BASE) == (APIC | BASE_BSP) &&
	     rdmsr_gp(X2_ID, &v) && !(cpuid(1, 0).edx & (1u << 9));
	child_check(ok, "x2APIC -> disabled: APIC_BASE 0x%lx (BSP kept), x2APIC MSRs #GP, CPUID.1:EDX.APIC clear",
		    (unsigned long)rdmsr(MSR_IA32_APIC_BASE));
	child_check(wrmsr_gp(MSR_IA32_APIC_BASE, APIC | BASE_EN | BASE_EXTD) && wrmsr_gp(MSR_IA32_APIC_BASE, APIC | BASE_EXTD),
		    "disabled -> x2APIC directly, disabled -> EXTD alone: #GP");
	ok = !wrmsr_gp(MSR_IA32_APIC_BASE, APIC | BASE_EN) &&
	     rdmsr(MSR_IA32_APIC_BASE) == (APIC | BASE_EN | BASE_BSP) && rdmsr_gp(X2_ID, &v) &&
	     (cpuid(1, 0).edx & (1u << 9));
	child_check(ok, "disabled -> xAPIC: APIC_BASE 0x%lx; x2APIC MSRs still #GP",
		    (unsigned long)rdmsr(MSR_IA32_APIC_BASE));
}

static void check_registers(void)
{
	uint32_t v;
	uint8_t b;
	uint16_t w;
	uint64_t m;

	child_check(apic_read(A_ID) == 0 && (apic_read(A_VERSION) & 0xff00ff) == 0x060014,
		    "xAPIC ID 0x%x (want 0: VP 0 in 31:24), version 0x%x", apic_read(A_ID), apic_read(A_VERSION));
	child_check(apic_read(A_SVR) == 0xff && apic_read(A_TPR) == 0 && apic_read(A_LDR) == 0 &&
			    apic_read(A_DFR) == 0xffffffffu && apic_read(A_LVT_TIMER) == 0x10000,
		    "reset state after disabled -> xAPIC: SVR 0x%x, TPR, LDR 0, DFR 0x%x, LVT masked", apic_read(A_SVR),
		    apic_read(A_DFR));
	apic_write(A_ID, 0x05000000);
	child_check(apic_read(A_ID) == 0, "ID is read-only here: still 0x%x", apic_read(A_ID));
	apic_write(A_SVR, 0x11ff);
	child_check(apic_read(A_SVR) == 0x1ff, "SVR 0x11ff written: reads 0x%x (bit 12 not offered)", apic_read(A_SVR));
	apic_write(A_TPR, 0x2f);
	v = apic_read(A_PPR);
	m = rdmsr(HV_X64_MSR_TPR);
	child_check(apic_read(A_TPR) == 0x2f && v == 0x2f && m == 0x2f, "TPR 0x2f: PPR 0x%x, HV_X64_MSR_TPR 0x%lx",
		    v, (unsigned long)m);
	apic_write(A_TPR, 0);
	apic_write(A_LDR, 0x12345678);
	apic_write(A_DFR, 0x0fffffff);
	child_check(apic_read(A_LDR) == 0x12000000 && apic_read(A_DFR) == 0x0fffffff,
		    "LDR keeps 31:24 (0x%x), DFR cluster model (0x%x)", apic_read(A_LDR), apic_read(A_DFR));
	apic_write(A_DFR, 0xffffffff);
	apic_write(A_LDR, 0x01000000);
	/* ESR: a fixed IPI with vector 8 (send illegal vector), and a read
	 * of a reserved register (illegal register address). */
	apic_write(A_ICR_LO, ICR_SELF | 8);
	apic_write(A_ESR, 0);
	v = apic_read(A_ESR);
	(void)apic_read(0x040);
	apic_write(A_ESR, 0);
	child_check(v == 0x20 && apic_read(A_ESR) == 0x80, "ESR: 0x%x after vector 8 (want 0x20), 0x%x after offset 0x40",
		    v, apic_read(A_ESR));
	apic_write(A_ESR, 0);
	/* ICR: high keeps 31:24; low reads back without the delivery
	 * status bit. */
	apic_write(A_ICR_HI, 0x01ffffff);
	child_check(apic_read(A_ICR_HI) == 0x01000000, "ICR high 0x%x (want 0x01000000)", apic_read(A_ICR_HI));
	/* other instruction forms: byte and word loads, an immediate store,
	 * moffs in 64-bit mode, RIP-independent absolute addressing */
	asm volatile("movb (%1), %0" : "=q"(b) : "r"(APIC + A_SVR + 1));
	asm volatile("movw (%1), %0" : "=r"(w) : "r"(APIC + A_SVR));
	asm volatile("movl $0x30, (%0)" : : "r"(APIC + A_TPR) : "memory");
	asm volatile("movabsl 0xfee00080, %%eax" : "=a"(v));
	child_check(b == 1 && w == 0x1ff && v == 0x30, "byte 0x%x and word 0x%x loads of SVR; MOV imm32 then moffs "
		    "load of TPR: 0x%x", b, w, v);
	apic_write(A_TPR, 0);
}

static void check_self_ipi(void)
{
	uint32_t icr;

	apic_write(A_ICR_LO, ICR_SELF | VEC_SELF);
	icr = apic_read(A_ICR_LO);
	window();
	child_check(hits[0][VEC_SELF] == 1 && isr_seen[0][VEC_SELF] == 1 && !(apic_read(A_ISR(VEC_SELF)) & (1u << 2)),
		    "self IPI 0x42 through the ICR: handler ran (%u), in service there, EOI through MMIO retired it",
		    hits[0][VEC_SELF]);
	child_check(icr == (ICR_SELF | VEC_SELF), "ICR low reads 0x%x: delivery status idle", icr);
	/* TPR holds the class off; IRR shows it */
	apic_write(A_TPR, 0x40);
	apic_write(A_ICR_LO, ICR_SELF | VEC_SELF);
	window();
	child_check(hits[0][VEC_SELF] == 1 && (apic_read(A_IRR(VEC_SELF)) & (1u << 2)) && apic_read(A_PPR) == 0x40,
		    "TPR 0x40 holds 0x42 in the IRR");
	apic_write(A_TPR, 0);
	window();
	child_check(hits[0][VEC_SELF] == 2, "TPR 0: delivered (%u)", hits[0][VEC_SELF]);
	/* software-disabled: dropped */
	apic_write(A_SVR, 0xff);
	apic_write(A_ICR_LO, ICR_SELF | VEC_SELF);
	window();
	apic_write(A_SVR, 0x1ff);
	window();
	child_check(hits[0][VEC_SELF] == 2, "SVR 0xff: a self IPI is dropped");
}

static void send(uint32_t dest, uint32_t lo)
{
	apic_write(A_ICR_HI, dest << 24);
	apic_write(A_ICR_LO, lo);
}

static void check_ipis(void)
{
	uint32_t n = hits[1][VEC_IPI];
	bool ok;

	send(1, ICR_FIXED | VEC_IPI);
	child_check(wait_count(&hits[1][VEC_IPI], n) && isr_seen[1][VEC_IPI] && hits[0][VEC_IPI] == 0,
		    "ICR physical destination 1: VP 1's handler ran with the vector in service, EOIed through MMIO");
	n = hits[1][VEC_IPI];
	send(0, ICR_ALL_BUT_SELF | VEC_IPI);
	child_check(wait_count(&hits[1][VEC_IPI], n) && hits[0][VEC_IPI] == 0, "all excluding self: VP 1 only");
	n = hits[1][VEC_IPI];
	wrmsr(HV_X64_MSR_ICR, 1ull << 56 | VEC_IPI);
	child_check(wait_count(&hits[1][VEC_IPI], n), "HV_X64_MSR_ICR in xAPIC format (destination 63:56)");

	/* flat logical: VP 1's LDR 0x02 */
	ap_set_ldr(0x02000000, 0xffffffff);
	n = hits[1][VEC_IPI];
	send(0x02, ICR_LOGICAL | VEC_IPI);
	ok = wait_count(&hits[1][VEC_IPI], n);
	n = hits[1][VEC_IPI];
	send(0x04, ICR_LOGICAL | VEC_IPI);
	let_run();
	child_check(ok && hits[1][VEC_IPI] == n && hits[0][VEC_IPI] == 0,
		    "flat logical: MDA 0x02 reaches VP 1 (LDR 0x02), MDA 0x04 nobody");
	/* cluster logical: VP 1 in cluster 1, member bit 1 */
	ap_set_ldr(0x12000000, 0x0fffffff);
	apic_write(A_DFR, 0x0fffffff);
	n = hits[1][VEC_IPI];
	send(0x12, ICR_LOGICAL | VEC_IPI);
	ok = wait_count(&hits[1][VEC_IPI], n);
	n = hits[1][VEC_IPI];
	send(0x22, ICR_LOGICAL | VEC_IPI);
	send(0x11, ICR_LOGICAL | VEC_IPI);
	let_run();
	child_check(ok && hits[1][VEC_IPI] == n, "cluster logical: 0x12 reaches VP 1 (LDR 0x12), 0x22 and 0x11 nobody");
	apic_write(A_DFR, 0xffffffff);
	ap_set_ldr(0, 0xffffffff);
	/* NMI: vector ignored */
	n = hits[1][VEC_IPI];
	send(1, ICR_NMI | VEC_IPI);
	ok = wait_count(&nmis[1], 0);
	child_check(ok && nmis[0] == 0 && hits[1][VEC_IPI] == n, "NMI to VP 1: its NMI handler ran (%u), the vector "
		    "ignored", nmis[1]);
}

static uint64_t start_vp_at(void (*fn)(void), uint64_t rsp)
{
	return hvt_start_vp_at(hc_page, hc_in, 1, fn, rsp);
}

static void check_init_sipi(void)
{
	volatile uint16_t *flag = (volatile uint16_t *)(uintptr_t)((SIPI_VECTOR << 12) + 0x800);
	/* 16-bit code: movw $0xbeef, %cs:0x800; mov %cs, %ax; mov %ax, %cs:0x802; cli; hlt; jmp .-1 */
	static const uint8_t tramp[] = { 0x2e, 0xc7, 0x06, 0x00, 0x08, 0xef, 0xbe, 0x8c, 0xc8, 0x2e,
					 0xa3, 0x02, 0x08, 0xfa, 0xf4, 0xeb, 0xfd };
	uint32_t n = hits[1][VEC_IPI];
	uint64_t st;

	memcpy((void *)(uintptr_t)(SIPI_VECTOR << 12), tramp, sizeof(tramp));
	flag[0] = flag[1] = 0;
	/* a SIPI to a VP that is not waiting for one does nothing */
	send(1, ICR_SIPI | SIPI_VECTOR);
	let_run();
	send(1, ICR_FIXED | VEC_IPI);
	child_check(flag[0] == 0 && wait_count(&hits[1][VEC_IPI], n), "SIPI to a running VP 1: ignored, it still "
		    "takes IPIs");
	/* INIT (assert): VP 1 stops; the de-assert does nothing */
	send(1, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	send(1, ICR_INIT | ICR_LEVEL);
	n = hits[1][VEC_IPI];
	send(1, ICR_FIXED | VEC_IPI);
	let_run();
	child_check(hits[1][VEC_IPI] == n, "INIT: VP 1 in wait-for-SIPI takes no IPI");
	/* HvCallStartVirtualProcessor starts a VP an INIT stopped */
	st = start_vp_at(ap_restart, CHILD_AP_STACK_TOP(1));
	child_check((uint16_t)st == HV_STATUS_SUCCESS && wait_count(&ap_restarted, 0),
		    "HvCallStartVirtualProcessor after INIT: status 0x%x, VP 1 ran again", (unsigned)(uint16_t)st);
	st = start_vp_at(ap_restart, CHILD_AP_STACK_TOP(1));
	child_check((uint16_t)st == HV_STATUS_INVALID_VP_STATE, "...and a second start: 0x%x (INVALID_VP_STATE)",
		    (unsigned)(uint16_t)st);
	/* INIT, SIPI as an OS brings up its APs: all excluding self */
	send(0, ICR_ALL_BUT_SELF | ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	send(0, ICR_ALL_BUT_SELF | ICR_SIPI | SIPI_VECTOR);
	let_run();
	child_check(flag[0] == 0xbeef && flag[1] == (SIPI_VECTOR << 8),
		    "INIT + SIPI 0x%x to all excluding self: VP 1 ran real-mode code at CS 0x%x (flag 0x%x)",
		    SIPI_VECTOR, flag[1], flag[0]);
	st = start_vp_at(ap_restart, CHILD_AP_STACK_TOP(1));
	child_check((uint16_t)st == HV_STATUS_INVALID_VP_STATE,
		    "HvCallStartVirtualProcessor of the VP a SIPI started: 0x%x (INVALID_VP_STATE)", (unsigned)(uint16_t)st);
	/* a second SIPI to the VP the first one started does nothing */
	flag[0] = 0;
	send(1, ICR_SIPI | SIPI_VECTOR);
	let_run();
	child_check(flag[0] == 0, "a SIPI to the VP already started: ignored");
}

#define CR0_NE (1ull << 5)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

static void check_cr0(void)
{
	uint64_t cr0 = read_cr0(), v;
	bool gp;

	child_check(cr0 & CR0_NE, "CR0 0x%lx: NE as the root set it", (unsigned long)cr0);
	gp = write_cr0_gp(cr0 & ~CR0_NE);
	v = read_cr0();
	child_check(!gp && v == (cr0 & ~CR0_NE), "MOV to CR0 clears NE, which VMX fixes to 1: reads 0x%lx",
		    (unsigned long)v);
	/* Each of these changes NE against the shadow, so the hypervisor
	 * performs it, and each must fault as on hardware. */
	gp = write_cr0_gp(cr0 | CR0_NW);
	child_check(gp && read_cr0() == v, "MOV to CR0 with NW = 1, CD = 0 (and NE = 1): #GP, CR0 unchanged");
	gp = write_cr0_gp(cr0 | 1ull << 32);
	child_check(gp && read_cr0() == v, "MOV to CR0 with bit 32 set: #GP, CR0 unchanged");
	gp = write_cr0_gp(cr0 & ~CR0_PG);
	child_check(gp && read_cr0() == v, "MOV to CR0 clearing PG in 64-bit mode: #GP, CR0 unchanged");
	gp = write_cr0_gp(cr0 | CR0_CD);
	v = read_cr0();
	child_check(!gp && v == (cr0 | CR0_CD), "MOV to CR0 sets NE and CD again: reads 0x%lx", (unsigned long)v);
	gp = write_cr0_gp(cr0);
	child_check(!gp && read_cr0() == cr0, "CR0 restored");
}

void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags)
{
	uint64_t end;

	child_start(boot, entry_rsp, entry_rflags, CHILD_IMAGE_ENLIGHTENED);
	idt_init();
	wrmsr(HV_X64_MSR_GUEST_OS_ID, HV_GUEST_OS_ID_OPEN_SOURCE | 1);
	wrmsr(HV_X64_MSR_HYPERCALL, (uint64_t)(uintptr_t)hc_page | HV_X64_MSR_HYPERCALL_ENABLE);
	if (!child_check(boot->vp_count == 2 && (rdmsr(HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE),
			 "two VPs, the hypercall page on"))
		goto out;
	check_cr0();
	map_apic();
	check_apic_base();
	check_registers();
	check_self_ipi();
	end = rdtsc() + WAIT_TSC;
	while (!ap_ready && rdtsc() < end)
		spin();
	if (child_check(ap_ready, "VP 1 switched to xAPIC mode and waits")) {
		check_ipis();
		check_init_sipi();
	}
	/* xAPIC -> x2APIC keeps the APIC (SDM 10.12.5.1) */
	apic_write(A_TPR, 0x20);
	child_check(!wrmsr_gp(MSR_IA32_APIC_BASE, APIC | BASE_EN | BASE_EXTD) && rdmsr(X2_ID) == 0 &&
			    rdmsr(0x808) == 0x20 && rdmsr(0x80f) == 0x1ff,
		    "xAPIC -> x2APIC: TPR and SVR kept, x2APIC MSRs work");
out:
	child_finish();
}
