/* The local APIC on the bare platform, in xAPIC and x2APIC mode (SDM
 * Vol. 3A chapter 10): reset state, software enable, self-IPIs and their
 * priority arbitration against TPR/PPR and the ISR, EOI, ESR, CR8, NMI,
 * the timer in one-shot, periodic and TSC-deadline mode with expiries
 * measured against the TSC, and x2APIC's MSR interface with its #GP rules
 * and mode transitions. */
#include <hv/costs.h>

#include "guest.h"

#define APIC_BASE 0xFEE00000ul
#define MSR_APIC_BASE 0x1B
#define MSR_TSC_DEADLINE 0x6E0
#define BASE_BSP (1ull << 8)
#define BASE_EXTD (1ull << 10)
#define BASE_EN (1ull << 11)

/* xAPIC register offsets (SDM Vol. 3A Table 10-1). */
enum {
	R_ID = 0x20, R_VER = 0x30, R_TPR = 0x80, R_PPR = 0xA0, R_EOI = 0xB0, R_LDR = 0xD0,
	R_SVR = 0xF0, R_ISR = 0x100, R_TMR = 0x180, R_IRR = 0x200, R_ESR = 0x280, R_ICR_LO = 0x300,
	R_ICR_HI = 0x310, R_LVT_TIMER = 0x320, R_LVT_LINT0 = 0x350, R_LVT_LINT1 = 0x360,
	R_LVT_ERR = 0x370, R_TIMER_INIT = 0x380, R_TIMER_CUR = 0x390, R_TIMER_DIV = 0x3E0,
};

#define LVT_MASKED (1u << 16)
#define TIMER_PERIODIC (1u << 17)
#define TIMER_TSC_DEADLINE (2u << 17)
#define ICR_SELF (1u << 18)
#define ICR_DM_NMI (4u << 8)
#define ESR_SEND_ILLEGAL (1u << 5)

/* hvsim recognises interrupts between translation blocks (a jump ends
 * one), not after every instruction: each test crosses a boundary where
 * hardware would already have taken the interrupt. */
#define BOUNDARY "jmp 1f\n1:\n\t"

static uint64_t tsc_khz = 3400000, timer_khz = 100000;

static uint32_t apic_r(unsigned off)
{
	return *(volatile uint32_t *)(APIC_BASE + off);
}

static uint32_t apic_r_at(uint64_t base, unsigned off)
{
	return *(volatile uint32_t *)(base + off);
}

static void apic_w(unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(APIC_BASE + off) = v;
}

/* Bit `vec` of the 256-bit register starting at `off` (ISR, TMR, IRR). */
static bool apic_bit(unsigned off, unsigned vec)
{
	return (apic_r(off + (vec / 32) * 0x10) >> (vec % 32)) & 1;
}

/* ---- what the handlers saw ---- */

#define LOG_MAX 16
static volatile unsigned log_n;
static volatile uint8_t log_vec[LOG_MAX];
static volatile uint64_t log_tsc[LOG_MAX];
static volatile bool in_isr_seen;	/* handler of 0x40 saw its ISR bit */
static volatile int x2apic_eoi;		/* handlers EOI through MSR 0x80B */

static void log_irq(unsigned vec)
{
	if (log_n < LOG_MAX) {
		log_tsc[log_n] = rdtsc();
		log_vec[log_n] = (uint8_t)vec;
	}
	log_n++;
}

static void eoi(void)
{
	if (x2apic_eoi)
		wrmsr(0x80B, 0);
	else
		apic_w(R_EOI, 0);
}

static void on_irq(struct exc_regs *r)
{
	log_irq((unsigned)r->vector);
	if (r->vector == 0x40 && !x2apic_eoi)
		in_isr_seen = apic_bit(R_ISR, 0x40);
	eoi();
}

/* 0x42's handler opens IF and raises a same-class and a higher-class
 * interrupt before its EOI: only the higher one may nest (SDM 10.8.3). */
static volatile bool nested_ok, same_class_held;

static void on_irq_nesting(struct exc_regs *r)
{
	log_irq(0x42);
	apic_w(R_ICR_LO, ICR_SELF | 0x43);
	apic_w(R_ICR_LO, ICR_SELF | 0x92);
	asm volatile("sti; nop\n\t" BOUNDARY "nop; cli" ::: "memory");
	nested_ok = log_n >= 2 && log_vec[1] == 0x92;
	same_class_held = apic_bit(R_IRR, 0x43) && !apic_bit(R_ISR, 0x43);
	apic_w(R_EOI, 0);
}

static volatile unsigned nmi_count;
static volatile uint64_t nmi_rip;

static void on_nmi(struct exc_regs *r)
{
	nmi_count++;
	nmi_rip = r->rip;
}

static void reset_log(void)
{
	log_n = 0;
	asm volatile("" ::: "memory");
}

/* Open IF past STI's one-instruction shadow and cross a block boundary
 * before closing it again. */
static void window(void)
{
	asm volatile("sti; nop\n\t" BOUNDARY "nop; cli" ::: "memory");
}

static void load_clocks(void)
{
	uint16_t key;
	uint32_t size;
	uint8_t buf[4 + 4 * 64 + 8];

	if (fwcfg_present() && fwcfg_find_file(HV_FWCFG_APIC_TIMER_FILE, &key, &size) == 0 && size == 8)
		fwcfg_read(key, &timer_khz, 8);
	if (fwcfg_present() && fwcfg_find_file(HV_FWCFG_COSTS_FILE, &key, &size) == 0 && size <= sizeof(buf)) {
		uint32_t n;

		fwcfg_read(key, buf, size);
		memcpy(&n, buf, 4);
		if (4 + 4 * n + 8 == size)
			memcpy(&tsc_khz, buf + 4 + 4 * n, 8);
	}
}

/* ---- xAPIC ---- */

static void test_reset_state(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint32_t ver = apic_r(R_VER);

	report(base == (APIC_BASE | BASE_EN | BASE_BSP), "IA32_APIC_BASE 0x%lx: 0xFEE00000, enabled, BSP",
	       (unsigned long)base);
	report(apic_r(R_ID) >> 24 == 0, "APIC ID 0 on the BSP");
	report((ver & 0xff) == 0x15 && ((ver >> 16) & 0xff) == 6, "version 0x%x: integrated APIC, max LVT 6", ver);
	report(apic_r(R_SVR) == 0xff, "SVR 0x%x after reset: vector 0xFF, software-disabled", apic_r(R_SVR));
	report((apic_r(R_LVT_TIMER) & LVT_MASKED) && (apic_r(R_LVT_LINT0) & LVT_MASKED) &&
		       (apic_r(R_LVT_LINT1) & LVT_MASKED) && (apic_r(R_LVT_ERR) & LVT_MASKED),
	       "every LVT entry masked after reset");
	report(apic_r(R_TPR) == 0 && apic_r(R_PPR) == 0, "TPR and PPR 0");
}

static void test_self_ipi(void)
{
	reset_log();
	apic_w(R_SVR, 0x1ff);	/* software enable, spurious vector 0xFF */
	apic_w(R_ICR_LO, ICR_SELF | 0x40);
	report(apic_bit(R_IRR, 0x40) && !apic_bit(R_ISR, 0x40), "self-IPI 0x40 with IF = 0: pending in the IRR");
	report(log_n == 0, "not delivered while IF = 0");
	window();
	report(log_n == 1 && log_vec[0] == 0x40, "delivered once IF = 1 (%u interrupts)", log_n);
	report(in_isr_seen, "its ISR bit is set while the handler runs");
	report(!apic_bit(R_ISR, 0x40) && !apic_bit(R_IRR, 0x40), "EOI retired it: ISR and IRR clear");
}

static void test_tpr(void)
{
	reset_log();
	apic_w(R_TPR, 0x50);
	apic_w(R_ICR_LO, ICR_SELF | 0x45);
	window();
	report(log_n == 0, "vector 0x45 held off by TPR 0x50 (class 4 <= 5)");
	report(apic_r(R_PPR) == 0x50, "PPR 0x%x follows the TPR", apic_r(R_PPR));
	apic_w(R_TPR, 0x40);
	window();
	report(log_n == 0, "still held off by TPR 0x40 (same class)");
	asm volatile("sti" ::: "memory");
	apic_w(R_TPR, 0x30);
	asm volatile(BOUNDARY "nop; cli" ::: "memory");
	report(log_n == 1 && log_vec[0] == 0x45, "delivered as soon as the TPR drops to 0x30");
	apic_w(R_TPR, 0);
}

static void test_priority_order(void)
{
	reset_log();
	apic_w(R_ICR_LO, ICR_SELF | 0x61);
	apic_w(R_ICR_LO, ICR_SELF | 0x41);
	apic_w(R_ICR_LO, ICR_SELF | 0x81);
	window();
	report(log_n == 3 && log_vec[0] == 0x81 && log_vec[1] == 0x61 && log_vec[2] == 0x41,
	       "three pending vectors delivered highest first: 0x%x 0x%x 0x%x", log_vec[0], log_vec[1], log_vec[2]);
}

static void test_nesting(void)
{
	reset_log();
	irq_set_handler(0x42, on_irq_nesting);
	apic_w(R_ICR_LO, ICR_SELF | 0x42);
	window();
	report(nested_ok, "a higher-class vector (0x92) nests in 0x42's handler");
	report(same_class_held, "a same-class vector (0x43) waits for 0x42's EOI");
	report(log_n == 3 && log_vec[2] == 0x43, "0x43 is delivered after the EOI");
}

static void test_esr(void)
{
	uint32_t esr;

	apic_w(R_ESR, 0);
	apic_w(R_ICR_LO, ICR_SELF | 0x03);	/* vectors 0-15 are illegal */
	apic_w(R_ESR, 0);	/* a write latches the errors into ESR (SDM 10.5.3) */
	esr = apic_r(R_ESR);
	report(esr & ESR_SEND_ILLEGAL, "ESR 0x%x: send illegal vector", esr);
	apic_w(R_ESR, 0);
	report(apic_r(R_ESR) == 0, "the next write clears it");
}

static void test_cr8(void)
{
	uint64_t cr8 = 0;

	asm volatile("mov %0, %%cr8" : : "r"(5ull));
	report(apic_r(R_TPR) == 0x50, "MOV CR8 = 5 sets TPR 0x%x (TPR[7:4])", apic_r(R_TPR));
	apic_w(R_TPR, 0x7f);
	asm volatile("mov %%cr8, %0" : "=r"(cr8));
	report(cr8 == 7, "CR8 reads TPR[7:4] = %lu", (unsigned long)cr8);
	exc_reset();
	asm volatile("1: mov %0, %%cr8\n2:\n\t" EX_TABLE("1b", "2b") : : "r"(16ull) : "memory");
	report(exc_last.vector == GP_VECTOR, "MOV CR8 with bits 63:4 set: #GP");
	apic_w(R_TPR, 0);
}

static void test_nmi(void)
{
	nmi_count = 0;
	irq_set_handler(NMI_VECTOR, on_nmi);
	apic_w(R_ICR_HI, 0);	/* destination APIC ID 0: ourselves */
	apic_w(R_ICR_LO, ICR_DM_NMI);
	asm volatile(BOUNDARY "nop" ::: "memory");
	report(nmi_count == 1, "an NMI IPI to ourselves is taken with IF = 0 (%u)", nmi_count);

	/* An NMI that arrives in STI's shadow waits one instruction, as
	 * kvm-unit-tests' apic test (nmi-after-sti) demands. */
	extern const char nmi_post_sti[];
	asm volatile("movl $0x400, (%0)\n\t"
		     "sti\n"
		     "nmi_post_sti: nop\n\t"
		     BOUNDARY "cli" : : "r"(APIC_BASE + R_ICR_LO) : "memory");
	report(nmi_count == 2 && nmi_rip != (uint64_t)(uintptr_t)nmi_post_sti,
	       "an NMI pending in STI's shadow is taken after the next instruction (RIP 0x%lx)",
	       (unsigned long)nmi_rip);
}

/* ---- the timer ---- */

/* TSC cycles for `ticks` of the timer's input clock. */
static uint64_t ticks_to_tsc(uint64_t ticks)
{
	return ticks * tsc_khz / timer_khz;
}

/* Slack for an expiry seen by an interrupt handler: recognition at the
 * next block boundary, delivery and the handler's prologue. */
#define SLACK 3000

static uint64_t wait_irq(unsigned n, uint64_t limit)
{
	uint64_t t0 = rdtsc();

	asm volatile("sti" ::: "memory");
	while (log_n < n && rdtsc() - t0 < limit)
		cpu_pause();
	asm volatile("cli" ::: "memory");
	return log_n;
}

static void test_timer_oneshot(void)
{
	uint64_t t0, expect = ticks_to_tsc(2000);
	uint32_t cur;

	reset_log();
	apic_w(R_TIMER_DIV, 0xb);	/* divide by 1 */
	apic_w(R_LVT_TIMER, 0x50);	/* one-shot, vector 0x50 */
	t0 = rdtsc();
	apic_w(R_TIMER_INIT, 2000);
	cur = apic_r(R_TIMER_CUR);
	report(cur <= 2000 && cur > 1900, "current count %u just after arming 2000", cur);
	wait_irq(1, 10 * expect);
	report(log_n == 1 && log_vec[0] == 0x50, "one-shot timer fired once");
	report(log_tsc[0] - t0 >= expect && log_tsc[0] - t0 <= expect + SLACK,
	       "expiry after %lu TSC cycles (2000 ticks = %lu)", (unsigned long)(log_tsc[0] - t0),
	       (unsigned long)expect);
	report(apic_r(R_TIMER_CUR) == 0, "current count 0 after expiry");
	wait_irq(2, 3 * expect);
	report(log_n == 1, "one-shot does not fire again");
}

static void test_timer_periodic(void)
{
	uint64_t period = ticks_to_tsc(2 * 1500);
	bool ok = true;

	reset_log();
	apic_w(R_TIMER_DIV, 0x0);	/* divide by 2 */
	apic_w(R_LVT_TIMER, TIMER_PERIODIC | 0x51);
	apic_w(R_TIMER_INIT, 1500);
	wait_irq(5, 10 * period);
	apic_w(R_TIMER_INIT, 0);	/* stops it */
	report(log_n == 5, "periodic timer fired 5 times");
	for (unsigned i = 1; i < 5 && i < log_n; i++) {
		uint64_t d = log_tsc[i] - log_tsc[i - 1];

		if (d + SLACK < period || d > period + SLACK)
			ok = report(false, "period %u: %lu TSC cycles, expected %lu", i, (unsigned long)d,
				    (unsigned long)period);
	}
	report(ok, "periods of 1500 ticks / 2 = %lu TSC cycles each", (unsigned long)period);
	reset_log();
	wait_irq(1, 2 * period);
	report(log_n == 0, "initial count 0 stops the periodic timer");
}

static void test_timer_deadline(void)
{
	uint64_t dl, dist = 100000;

	reset_log();
	apic_w(R_LVT_TIMER, TIMER_TSC_DEADLINE | 0x52);
	dl = rdtsc() + dist;
	wrmsr(MSR_TSC_DEADLINE, dl);
	wait_irq(1, 3 * dist);
	report(log_n == 1 && log_vec[0] == 0x52, "TSC-deadline timer fired");
	report(log_tsc[0] >= dl && log_tsc[0] <= dl + SLACK, "at TSC %lu for deadline %lu",
	       (unsigned long)log_tsc[0], (unsigned long)dl);
	report(rdmsr(MSR_TSC_DEADLINE) == 0, "IA32_TSC_DEADLINE reads 0 once it fired");
	reset_log();
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + dist);
	wrmsr(MSR_TSC_DEADLINE, 0);	/* disarms */
	wait_irq(1, 2 * dist);
	report(log_n == 0, "writing 0 disarms it");
	apic_w(R_LVT_TIMER, LVT_MASKED);
}

/* IA32_APIC_BASE moves the xAPIC page (SDM Vol. 3A 10.4.5). */
static void test_relocation(void)
{
	const uint64_t moved = 0xFEB00000ul;

	report(wrmsr_safe(MSR_APIC_BASE, moved | BASE_EN | BASE_BSP) == EXC_NONE, "IA32_APIC_BASE to 0xFEB00000");
	report(*(volatile uint32_t *)(moved + R_VER) == apic_r_at(moved, R_VER) &&
		       (apic_r_at(moved, R_VER) & 0xff) == 0x15, "the registers answer at the new base");
	report(apic_r(R_VER) == 0xffffffffu, "the old page reads open bus (0x%x)", apic_r(R_VER));
	wrmsr(MSR_APIC_BASE, APIC_BASE | BASE_EN | BASE_BSP);
	report((apic_r(R_VER) & 0xff) == 0x15, "and back at 0xFEE00000");
}

/* ---- x2APIC (SDM Vol. 3A 10.12) ---- */

static void test_x2apic(void)
{
	uint64_t v;

	report(wrmsr_safe(MSR_APIC_BASE, APIC_BASE | BASE_EN | BASE_EXTD | BASE_BSP) == EXC_NONE,
	       "xAPIC -> x2APIC");
	report(rdmsr_safe(0x802, &v) == EXC_NONE && v == 0, "x2APIC ID 0");
	report(rdmsr_safe(0x80D, &v) == EXC_NONE && v == 1, "LDR 0x%lx: cluster 0, bit 0", (unsigned long)v);
	report(wrmsr_safe(0x80D, 2) == GP_VECTOR, "LDR is read-only: #GP");
	report(rdmsr_safe(0x80E, &v) == GP_VECTOR, "no DFR in x2APIC mode: #GP");
	report(rdmsr_safe(0x83F, &v) == GP_VECTOR, "SELF IPI is write-only: #GP");
	report(wrmsr_safe(0x80B, 1) == GP_VECTOR, "non-zero EOI write: #GP");
	report(rdmsr_safe(0x80F, &v) == EXC_NONE && (v & 0x100), "SVR keeps the software enable");

	reset_log();
	x2apic_eoi = 1;
	wrmsr(0x83F, 0x44);
	window();
	report(log_n == 1 && log_vec[0] == 0x44, "SELF IPI MSR delivers 0x44");
	reset_log();
	wrmsr(0x830, ICR_SELF | 0x46);
	window();
	report(log_n == 1 && log_vec[0] == 0x46, "ICR MSR with the self shorthand delivers 0x46");
	reset_log();
	wrmsr(0x830, 0x47);	/* physical, destination 0 in bits 63:32 */
	window();
	report(log_n == 1 && log_vec[0] == 0x47, "ICR MSR to x2APIC ID 0 delivers 0x47");
	x2apic_eoi = 0;

	report(wrmsr_safe(MSR_APIC_BASE, APIC_BASE | BASE_EN | BASE_BSP) == GP_VECTOR,
	       "x2APIC -> xAPIC directly: #GP");
	report(wrmsr_safe(MSR_APIC_BASE, APIC_BASE | BASE_BSP) == EXC_NONE, "x2APIC -> disabled");
	report(rdmsr_safe(0x802, &v) == GP_VECTOR, "x2APIC MSRs #GP while disabled");
	report(wrmsr_safe(MSR_APIC_BASE, APIC_BASE | BASE_EN | BASE_BSP) == EXC_NONE, "disabled -> xAPIC");
	report(apic_r(R_SVR) == 0xff, "the disable reset the APIC: SVR 0x%x", apic_r(R_SVR));
	report(rdmsr_safe(0x802, &v) == GP_VECTOR, "x2APIC MSRs #GP in xAPIC mode");
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	(void)magic;
	(void)info;
	load_clocks();
	for (unsigned v = 0x40; v < 0x100; v++)
		irq_set_handler(v, on_irq);
	test_reset_state();
	test_self_ipi();
	test_tpr();
	test_priority_order();
	test_nesting();
	test_esr();
	test_cr8();
	test_nmi();
	test_timer_oneshot();
	test_timer_periodic();
	test_timer_deadline();
	test_relocation();
	test_x2apic();
}
