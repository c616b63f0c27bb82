/* apic_timer_child.elf: the local APIC timer of the virtual APIC, seen
 * from an enlightened child with two VPs (SDM Vol. 3A 10.5.4, 10.5.4.1;
 * docs/hypervisor.md "The APIC timer").  Built on partitions/child's
 * runtime like vapic_child.c; the root starts VP 0 at child_main and VP 1
 * at child_ap_main, both in x2APIC mode.
 *
 * The model the checks hold the hypervisor to: the timer counts the TSC
 * divided by ratio = TSC_FREQUENCY / APIC_FREQUENCY and by the divide
 * configuration, so a count of N lasts exactly N * ratio * divisor TSC
 * cycles from the moment the hypervisor took the write of the initial
 * count, which lies between the RDTSCs the guest takes around it (t0,
 * t1).  A current count read between RDTSCs ta and tb is therefore
 * bounded exactly: N - (tb - t0) / T <= count <= N - (ta - t1) / T with T
 * the cycles per count; an expiry is due between t0 + N * T and t1 + N *
 * T, the interrupt is never taken before the first and its handler runs
 * at most LATE (10 us, as for the synthetic timers) after the second.
 *
 * VP 0 makes the checks in x2APIC mode through the MSRs, then switches
 * to xAPIC mode and makes them again through the page at 0xFEE00000 (the
 * same code; reg()/reg_w() pick the interface).  VP 1 waits in HLT until
 * VP 0 asks it to run a periodic timer of its own; VP 0 then sends it an
 * INIT and starts it again (HvCallStartVirtualProcessor): its timer must
 * be reset and silent.  Waiting for an interrupt is a HLT with interrupts
 * on, so the timer is what wakes the VP; synthetic timer 0 (direct mode,
 * VEC_BACKUP) bounds every such wait, so a timer that never fires is a
 * failed check, not a hung child.  Waiting for nothing to happen is a
 * spin with interrupt windows. */
#include <hv/tlfs.h>

#include "../../partitions/child/child.h"
#include "child_idt.h"

/* x2APIC MSRs (SDM Table 10-6); the xAPIC offset is (MSR - 0x800) << 4. */
#define X2_EOI 0x80b
#define X2_SVR 0x80f
#define X2_IRR(v) (0x820 + (v) / 32)
#define X2_ICR 0x830
#define X2_LVT_TIMER 0x832
#define X2_TMICT 0x838
#define X2_TMCCT 0x839
#define X2_TDCR 0x83e

#define APIC 0xfee00000ull
#define BASE_EN 0x800ull
#define BASE_EXTD 0x400ull
#define BASE_BSP 0x100ull

#define LVT_MASKED 0x10000u
#define LVT_PERIODIC (1u << 17)
#define LVT_DEADLINE (2u << 17)
#define ICR_INIT_ASSERT 0xc500ull	/* INIT, level, assert */

#define VEC_TIMER 0x60		/* VP 0's APIC timer */
#define VEC_AP 0x61		/* VP 1's */
#define VEC_GO 0x62		/* VP 0 -> VP 1: start */
#define VEC_BACKUP 0x63		/* synthetic timer 0: ends a wait that nothing else ended */

#define HITS 16			/* handler TSCs kept per VP (a ring) */

static uint8_t hc_page[4096] __attribute__((aligned(4096)));
static uint8_t hc_in[4096] __attribute__((aligned(4096)));
static uint64_t apic_pd[512] __attribute__((aligned(4096)));

volatile uint32_t hits[2];		/* timer handler runs, by VP */
volatile uint64_t hit_tsc[2][HITS];	/* TSC at handler entry of hit n, at [n % HITS] */
volatile uint32_t go, ap_running, ap_restarted;
volatile uint64_t ap_apic_hz;
volatile uint32_t ap_regs[6];		/* after INIT: LVT timer, TMICT, TMCCT, TDCR, SVR, TSC_DEADLINE != 0 */

static bool xapic;			/* VP 0's APIC is in xAPIC mode: registers through the page */
static uint64_t tsc_hz, ratio, late;	/* TSC Hz, TSC cycles per bus-clock tick, the latency bound */

/* ---- the registers, by x2APIC MSR index, through the mode's interface ---- */

static uint32_t reg(uint32_t msr)
{
	if (xapic)
		return *(volatile uint32_t *)(uintptr_t)(APIC + ((msr - 0x800) << 4));
	return (uint32_t)rdmsr(msr);
}

static void reg_w(uint32_t msr, uint32_t v)
{
	if (xapic)
		*(volatile uint32_t *)(uintptr_t)(APIC + ((msr - 0x800) << 4)) = v;
	else
		wrmsr(msr, v);
}

/* ---- handlers ---- */

void timer_isr(uint64_t tsc, uint32_t vp);

/* VP 0's handler EOIs through its mode's interface, VP 1's through the
 * x2APIC MSR (it stays in x2APIC mode). */
void timer_isr(uint64_t tsc, uint32_t vp)
{
	hit_tsc[vp][hits[vp] % HITS] = tsc;
	hits[vp]++;
	if (vp)
		wrmsr(X2_EOI, 0);
	else
		reg_w(X2_EOI, 0);
}

void backup_isr(void);

void backup_isr(void)
{
	reg_w(X2_EOI, 0);
}

/* The TSC is taken first, before the handler saves anything it uses. */
#define TIMER_STUB(name, vp)                                                               \
	void name(void);                                                                   \
	asm(".text\n" #name ":\n\t"                                                        \
	    "pushq %rax; pushq %rdx\n\t"                                                   \
	    "rdtsc\n\t"                                                                    \
	    "pushq %rcx; pushq %rsi; pushq %rdi; pushq %r8; pushq %r9; pushq %r10; pushq %r11\n\t" \
	    "shlq $32, %rdx; orq %rdx, %rax; movq %rax, %rdi; movl $" #vp ", %esi\n\t"     \
	    "call timer_isr\n\t"                                                           \
	    "popq %r11; popq %r10; popq %r9; popq %r8; popq %rdi; popq %rsi; popq %rcx\n\t" \
	    "popq %rdx; popq %rax\n\t"                                                     \
	    "iretq\n")

TIMER_STUB(isr_timer0, 0);
TIMER_STUB(isr_timer1, 1);

HVT_ISR_STUB(isr_backup, "call backup_isr");
HVT_ISR_STUB(isr_go, "movl $1, go(%rip); xorl %eax, %eax; xorl %edx, %edx; movl $0x80b, %ecx; wrmsr");

static void idt_init(void)
{
	set_gate(CHILD_IDT_VEC_GP, isr_gp);
	set_gate(VEC_TIMER, isr_timer0);
	set_gate(VEC_AP, isr_timer1);
	set_gate(VEC_GO, isr_go);
	set_gate(VEC_BACKUP, isr_backup);
	idt_load();
}

/* ---- time ---- */

static uint64_t us(uint64_t n)
{
	return n * (tsc_hz / 1000000);
}

static void spin_until(uint64_t tsc)
{
	while (rdtsc() < tsc)
		;
}

/* Interrupts on in windows until `tsc`. */
static void windows_until(uint64_t tsc)
{
	while (rdtsc() < tsc)
		window();
}

/* Halt with interrupts on until VP 0's timer handler has run `want`
 * times, for at most `cycles` (the backup synthetic timer ends the HLT). */
static bool wait_hits(uint32_t want, uint64_t cycles)
{
	uint64_t end = rdtsc() + cycles;

	wrmsr(HV_X64_MSR_STIMER_CONFIG(0), 0);
	wrmsr(HV_X64_MSR_STIMER_COUNT(0), rdmsr(HV_X64_MSR_TIME_REF_COUNT) + cycles * 10000000 / tsc_hz + 1);
	wrmsr(HV_X64_MSR_STIMER_CONFIG(0), HV_STIMER_ENABLE | HV_STIMER_DIRECT_MODE |
						   (uint64_t)VEC_BACKUP << HV_STIMER_APIC_VECTOR_SHIFT);
	while (hits[0] < want && rdtsc() < end)
		asm volatile("sti; hlt; cli" ::: "memory");
	wrmsr(HV_X64_MSR_STIMER_COUNT(0), 0);
	return hits[0] >= want;
}

static uint64_t hit_at(uint32_t n)
{
	return hit_tsc[0][n % HITS];
}

/* The exact bounds of a current count read between ta and tb of a count
 * N started between t0 and t1 at T cycles a count (one-shot). */
static bool count_in(uint32_t c, uint64_t n, uint64_t T, uint64_t t0, uint64_t t1, uint64_t ta, uint64_t tb)
{
	uint64_t most = (tb - t0) / T, least = ta > t1 ? (ta - t1) / T : 0;
	uint64_t lo = most >= n ? 0 : n - most, hi = least >= n ? 0 : n - least;

	return c >= lo && c <= hi;
}

/* ---- hypercalls ---- */

static uint64_t hv_call(uint64_t control, uint64_t input, uint64_t output)
{
	return child_hv_call_at(hc_page, control, input, output);
}

static uint64_t start_vp_at(void (*fn)(void), uint64_t rsp)
{
	return hvt_start_vp_at(hc_page, hc_in, 1, fn, rsp);
}

/* ---- VP 1 ---- */

void child_ap_main(uint32_t vp_index)
{
	(void)vp_index;
	idt_load();
	/* Wait for VP 0's go (VEC_GO), then run a periodic timer of 40 us
	 * until VP 0's INIT stops this VP. */
	while (!go)
		asm volatile("sti; hlt; cli" ::: "memory");
	wrmsr(X2_TDCR, 0xb);
	wrmsr(X2_LVT_TIMER, LVT_PERIODIC | VEC_AP);
	wrmsr(X2_TMICT, ap_apic_hz / 25000);
	ap_running = 1;
	for (;;)
		asm volatile("sti; hlt; cli" ::: "memory");
}

void ap_after_init(void);

/* Where HvCallStartVirtualProcessor starts VP 1 after the INIT: what its
 * timer reads, then 200 us with interrupts on, then a HLT for good. */
void ap_after_init(void)
{
	uint64_t end;

	ap_regs[0] = (uint32_t)rdmsr(X2_LVT_TIMER);
	ap_regs[1] = (uint32_t)rdmsr(X2_TMICT);
	ap_regs[2] = (uint32_t)rdmsr(X2_TMCCT);
	ap_regs[3] = (uint32_t)rdmsr(X2_TDCR);
	ap_regs[4] = (uint32_t)rdmsr(X2_SVR);
	ap_regs[5] = rdmsr(MSR_IA32_TSC_DEADLINE) != 0;
	end = rdtsc() + us(200);
	while (rdtsc() < end)
		window();
	ap_restarted = 1;
	for (;;)
		asm volatile("cli; hlt" ::: "memory");
}

/* ---- VP 0's checks ---- */

static bool check_discovery(uint32_t mhz)
{
	struct cpuid_regs one = cpuid(1, 0), f = cpuid(HV_CPUID_FEATURES, 0);
	uint64_t apic_hz, v;
	bool ok;

	child_check(one.ecx & (1u << 24), "CPUID.1:ECX.TSC_DEADLINE (ECX 0x%x)", one.ecx);
	if (!child_check((f.eax & HV_ACCESS_FREQUENCY_MSRS) && (f.edx & HV_FEATURE_FREQUENCY_MSRS_AVAILABLE),
			 "CPUID 0x40000003: AccessFrequencyMsrs (EAX 0x%x), EDX bit 8 (0x%x)", f.eax, f.edx))
		return false;
	tsc_hz = rdmsr(HV_X64_MSR_TSC_FREQUENCY);
	apic_hz = rdmsr(HV_X64_MSR_APIC_FREQUENCY);
	ratio = apic_hz ? tsc_hz / apic_hz : 0;
	/* hv_model's choice: the TSC over the whole number nearest TSC / 200 MHz. */
	ok = tsc_hz == (uint64_t)mhz * 1000000 && ratio == (tsc_hz + 100000000) / 200000000 &&
	     apic_hz == tsc_hz / ratio && !rdmsr_gp(HV_X64_MSR_TSC_FREQUENCY, &v) &&
	     wrmsr_gp(HV_X64_MSR_TSC_FREQUENCY, 0) && wrmsr_gp(HV_X64_MSR_APIC_FREQUENCY, 0);
	child_check(ok, "TSC_FREQUENCY %lu, APIC_FREQUENCY %lu (TSC / %lu); both read-only",
		    (unsigned long)tsc_hz, (unsigned long)apic_hz, (unsigned long)ratio);
	if (!ok || !ratio)
		return false;
	ap_apic_hz = apic_hz;
	late = tsc_hz / 100000;
	child_check(rdmsr(X2_LVT_TIMER) == LVT_MASKED && !rdmsr(X2_TMICT) && !rdmsr(X2_TMCCT) && !rdmsr(X2_TDCR) &&
			    !rdmsr(MSR_IA32_TSC_DEADLINE),
		    "reset: LVT timer 0x%lx, TMICT, TMCCT, TDCR, TSC_DEADLINE 0", (unsigned long)rdmsr(X2_LVT_TIMER));
	return true;
}

static const char *mode_name(void)
{
	return xapic ? "xAPIC" : "x2APIC";
}

/* A group of checks logs one line (the log is one page): the first of
 * its checks that failed names itself there. */
static const char *failed;

static bool sub(bool ok, const char *what)
{
	if (!ok && !failed)
		failed = what;
	return ok;
}

#define GROUP_END(name, fmt, ...)                                                                  \
	do {                                                                                       \
		child_check(!failed, "%s %s" fmt "%s%s", mode_name(), name, __VA_ARGS__,          \
			    failed ? "; FAILED: " : "", failed ? failed : "");                     \
		failed = NULL;                                                                     \
	} while (0)

/* One-shot (SDM 10.5.4): the count goes down at the model's rate and
 * stays at 0; one interrupt, not before the due time and at most `late`
 * after it, which a HLT waits for. */
static void check_one_shot(uint32_t dcr, unsigned div)
{
	uint64_t T = ratio * div, n = us(200) / T, t0, t1, ta, tb, h = 0;
	uint32_t n0 = hits[0], c, prev = (uint32_t)n + 1;
	bool in = true, down = true;

	reg_w(X2_TDCR, dcr);
	reg_w(X2_LVT_TIMER, VEC_TIMER);
	t0 = rdtsc();
	reg_w(X2_TMICT, (uint32_t)n);
	t1 = rdtsc();
	for (int i = 0; i < 4; i++) {
		spin_until(rdtsc() + us(30));
		ta = rdtsc();
		c = reg(X2_TMCCT);
		tb = rdtsc();
		in = in && count_in(c, n, T, t0, t1, ta, tb);
		down = down && c < prev;
		prev = c;
	}
	sub(in, "TMCCT within the model's bounds");
	sub(down, "TMCCT decreasing");
	if (sub(wait_hits(n0 + 1, n * T + us(1000)), "the interrupt woke the HLT")) {
		h = hit_at(n0);
		sub(h >= t0 + n * T, "not before the due time");
		sub(h <= t1 + n * T + late, "handler within 10 us of it");
	}
	windows_until(rdtsc() + n * T);
	sub(hits[0] == n0 + 1, "one interrupt only");
	sub(reg(X2_TMCCT) == 0 && reg(X2_TMICT) == n, "TMCCT stays 0, TMICT kept");
	GROUP_END("one-shot", " /%u: %lu counts, TMCCT down to %u, handler %ld cycles after due", div,
		  (unsigned long)n, prev, h ? (long)(h - (t1 + n * T)) : 0L);
}

/* Periodic: the k-th interrupt between t0 + k * P and t1 + k * P + late;
 * the count never 0 and at most the initial count; the interrupts over
 * the whole run are those the model says; TMICT 0 stops it. */
static void check_periodic(uint32_t dcr, unsigned div)
{
	const uint32_t K = 6;
	uint64_t T = ratio * div, n = us(50) / T, p = n * T, t0, t1, t2, t3, lo, hi;
	uint32_t n0 = hits[0], c, total;
	bool counts = true, spaced = true;

	reg_w(X2_TDCR, dcr);
	reg_w(X2_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	t0 = rdtsc();
	reg_w(X2_TMICT, (uint32_t)n);
	t1 = rdtsc();
	for (uint32_t k = 1; k <= K; k++) {
		if (!wait_hits(n0 + k, p + us(1000)))
			break;
		c = reg(X2_TMCCT);
		counts = counts && c > 0 && c <= n;
	}
	t2 = rdtsc();
	reg_w(X2_TMICT, 0);
	t3 = rdtsc();
	window();
	total = hits[0] - n0;
	lo = (t2 - t1) / p;
	hi = (t3 - t0) / p;
	sub(total >= K, "6 periods waited for");
	sub(total >= lo && total <= hi, "the interrupts the interval holds");
	for (uint32_t k = 1; k <= K && k <= total; k++) {
		uint64_t h = hit_at(n0 + k - 1);

		spaced = spaced && h >= t0 + k * p && h <= t1 + k * p + late;
	}
	sub(spaced, "each at its period's end, within 10 us");
	sub(counts, "TMCCT in 1..initial");
	n0 = hits[0];
	windows_until(rdtsc() + 3 * p);
	sub(hits[0] == n0 && reg(X2_TMCCT) == 0, "TMICT 0 stopped it");
	GROUP_END("periodic", " /%u: %u interrupts in %lu periods (want %lu..%lu)", div, total,
		  (unsigned long)((t3 - t0) / p), (unsigned long)lo, (unsigned long)hi);
}

/* The mask (SDM 10.5.1): a masked timer counts and expires but raises
 * nothing, and unmasking it afterwards raises nothing either; TMICT 0
 * stops a one-shot before it expires (10.5.4). */
static void check_masked_and_stop(void)
{
	uint64_t n = us(40) / ratio, t1, p = n * ratio;
	uint32_t n0 = hits[0], c, last = 0, changes = 0;
	bool counts = true;

	reg_w(X2_TDCR, 0xb);
	reg_w(X2_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	reg_w(X2_TMICT, (uint32_t)n);
	t1 = rdtsc();
	windows_until(t1 + p + 2 * late);
	sub(hits[0] == n0, "masked one-shot: no interrupt");
	sub(!(reg(X2_IRR(VEC_TIMER)) & (1u << (VEC_TIMER % 32))), "masked one-shot: IRR clear");
	sub(reg(X2_TMCCT) == 0, "masked one-shot: expired (TMCCT 0)");
	reg_w(X2_LVT_TIMER, VEC_TIMER);
	windows_until(rdtsc() + us(20));
	sub(hits[0] == n0, "unmasking after a masked expiry: nothing");
	reg_w(X2_LVT_TIMER, LVT_MASKED | LVT_PERIODIC | VEC_TIMER);
	reg_w(X2_TMICT, (uint32_t)n);
	for (int i = 0; i < 16; i++) {
		windows_until(rdtsc() + p / 4);
		c = reg(X2_TMCCT);
		counts = counts && c > 0 && c <= n;
		changes += c != last;
		last = c;
	}
	reg_w(X2_TMICT, 0);
	sub(counts && changes >= 15, "masked periodic: counts on");
	sub(hits[0] == n0, "masked periodic: no interrupt");
	/* TMICT 0 mid-count */
	reg_w(X2_LVT_TIMER, VEC_TIMER);
	reg_w(X2_TMICT, (uint32_t)n);
	t1 = rdtsc();
	spin_until(t1 + us(20));
	reg_w(X2_TMICT, 0);
	sub(reg(X2_TMCCT) == 0 && reg(X2_TMICT) == 0, "TMICT 0 mid-count: TMCCT 0");
	windows_until(t1 + p + 2 * late);
	sub(hits[0] == n0, "TMICT 0 mid-count: never expired");
	GROUP_END("mask, stop", ": masked counts (%u values) and raises nothing; TMICT 0 stops", changes);
}

/* The divide configuration (SDM Figure 10-10): each of the eight rates,
 * by the count's exact bounds; a change while counting keeps the count
 * and goes on at the new rate; the reserved bits. */
static void check_divide(void)
{
	static const struct {
		uint32_t dcr;
		unsigned div;
	} d[] = { { 0xb, 1 }, { 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 }, { 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 } };
	uint64_t t0, t1, ta, tb, t2, t3, ta2, tb2, lo, hi;
	uint32_t c, c2;
	unsigned bad = 0, back = 0;

	reg_w(X2_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	for (unsigned i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		uint64_t T = ratio * d[i].div;

		reg_w(X2_TDCR, d[i].dcr);
		back += reg(X2_TDCR) == d[i].dcr;
		t0 = rdtsc();
		reg_w(X2_TMICT, 0xffffffffu);
		t1 = rdtsc();
		spin_until(t1 + us(40));
		ta = rdtsc();
		c = reg(X2_TMCCT);
		tb = rdtsc();
		if (!count_in(c, 0xffffffffu, T, t0, t1, ta, tb))
			bad = d[i].div;
	}
	sub(back == 8, "TDCR reads back");
	sub(!bad, "a divisor's rate");
	/* /1 -> /16 while counting: c - c2 is what went at /1 between the
	 * read and the change plus what went at /16 after it (the tick in
	 * progress at the change counts at /1). */
	reg_w(X2_TDCR, 0xb);
	reg_w(X2_TMICT, 0xffffffffu);
	spin_until(rdtsc() + us(20));
	ta = rdtsc();
	c = reg(X2_TMCCT);
	t2 = rdtsc();
	reg_w(X2_TDCR, 0x3);
	t3 = rdtsc();
	spin_until(t3 + us(40));
	ta2 = rdtsc();
	c2 = reg(X2_TMCCT);
	tb2 = rdtsc();
	lo = (ta2 - t3) / (16 * ratio);
	hi = (t3 - ta) / ratio + 2 + (tb2 - t2 + ratio) / (16 * ratio);
	sub(c2 < c && c - c2 >= lo && c - c2 <= hi, "/1 -> /16 counting on from the count");
	reg_w(X2_TMICT, 0);
	if (!xapic) {
		/* x2APIC: reserved bits are #GP (SDM 10.12.1.2) */
		sub(wrmsr_gp(X2_TDCR, 0x4) && wrmsr_gp(X2_TDCR, 0x10) && !wrmsr_gp(X2_TDCR, 0xb), "bits 2, 4: #GP");
	} else {
		reg_w(X2_TDCR, 0xf);
		sub(reg(X2_TDCR) == 0xb, "0xf reads 0xb (bit 2 reserved)");
	}
	GROUP_END("divide", ": 1..128 count at TSC/%lu/div (%u wrong); /1->/16 mid-count: down %u (%lu..%lu)",
		  (unsigned long)ratio, bad, c - c2, (unsigned long)lo, (unsigned long)hi);
}

/* One-shot <-> periodic while counting (what processors do, and
 * kvm-unit-tests checks): the count goes on, the new mode decides what
 * happens at 0. */
static void check_mode_switch(void)
{
	uint64_t n = us(60) / ratio, T = ratio, t0, t1, h1, h2;
	uint32_t n0 = hits[0];
	bool ok;

	reg_w(X2_TDCR, 0xb);
	reg_w(X2_LVT_TIMER, VEC_TIMER);
	t0 = rdtsc();
	reg_w(X2_TMICT, (uint32_t)n);
	t1 = rdtsc();
	spin_until(t1 + us(20));
	reg_w(X2_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	ok = wait_hits(n0 + 2, 2 * n * T + us(1000));
	reg_w(X2_TMICT, 0);
	h1 = hit_at(n0);
	h2 = hit_at(n0 + 1);
	sub(ok && h1 >= t0 + n * T && h1 <= t1 + n * T + late, "one-shot -> periodic: at the first due time");
	sub(ok && h2 >= t0 + 2 * n * T && h2 <= t1 + 2 * n * T + late, "...then a period later");
	n0 = hits[0];
	reg_w(X2_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	t0 = rdtsc();
	reg_w(X2_TMICT, (uint32_t)n);
	t1 = rdtsc();
	spin_until(t1 + us(20));
	reg_w(X2_LVT_TIMER, VEC_TIMER);
	ok = wait_hits(n0 + 1, n * T + us(1000));
	h1 = hit_at(n0);
	windows_until(t1 + 3 * n * T);
	sub(ok && h1 >= t0 + n * T && h1 <= t1 + n * T + late, "periodic -> one-shot: at the due time");
	sub(hits[0] == n0 + 1 && reg(X2_TMCCT) == 0, "periodic -> one-shot: once");
	GROUP_END("one-shot <-> periodic", "%s", " mid-count: the count goes on");
}

/* TSC-deadline mode (SDM 10.5.4.1). */
static void check_tsc_deadline(void)
{
	uint64_t d, h, t1;
	int64_t lat = 0;
	uint32_t n0 = hits[0], icr;
	bool ok;

	reg_w(X2_TDCR, 0xb);
	/* outside the mode the MSR reads 0 and ignores writes */
	reg_w(X2_LVT_TIMER, VEC_TIMER);
	d = rdtsc() + us(20);
	wrmsr(MSR_IA32_TSC_DEADLINE, d);
	ok = rdmsr(MSR_IA32_TSC_DEADLINE) == 0;
	windows_until(d + 2 * late);
	sub(ok && hits[0] == n0, "one-shot mode: MSR reads 0, write ignored");
	/* in the mode: TMICT ignores writes, TMCCT reads 0 */
	reg_w(X2_LVT_TIMER, LVT_DEADLINE | VEC_TIMER);
	icr = reg(X2_TMICT);
	reg_w(X2_TMICT, icr + 1000);
	sub(reg(X2_LVT_TIMER) == (LVT_DEADLINE | VEC_TIMER) && reg(X2_TMICT) == icr && reg(X2_TMCCT) == 0,
	    "TMICT write ignored, TMCCT 0");
	/* a deadline: one interrupt at it, then the MSR reads 0 */
	d = rdtsc() + us(100);
	wrmsr(MSR_IA32_TSC_DEADLINE, d);
	sub(rdmsr(MSR_IA32_TSC_DEADLINE) == d, "the MSR reads the deadline");
	if (sub(wait_hits(n0 + 1, us(1100)), "the interrupt woke the HLT")) {
		h = hit_at(n0);
		lat = (int64_t)(h - d);
		sub(h >= d && h <= d + late, "handler at the deadline, within 10 us");
	}
	sub(rdmsr(MSR_IA32_TSC_DEADLINE) == 0, "expired: the MSR reads 0");
	/* writing 0 disarms */
	n0 = hits[0];
	d = rdtsc() + us(50);
	wrmsr(MSR_IA32_TSC_DEADLINE, d);
	wrmsr(MSR_IA32_TSC_DEADLINE, 0);
	ok = rdmsr(MSR_IA32_TSC_DEADLINE) == 0;
	windows_until(d + 2 * late);
	sub(ok && hits[0] == n0, "writing 0 disarms");
	/* a deadline already passed: the interrupt as soon as IF allows */
	wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() - 1);
	t1 = rdtsc();
	window();
	h = hit_at(n0);
	sub(hits[0] == n0 + 1 && h >= t1 && h <= t1 + late, "a passed deadline: at the next window");
	/* leaving the mode disarms it, and coming back does not re-arm it */
	n0 = hits[0];
	d = rdtsc() + us(50);
	wrmsr(MSR_IA32_TSC_DEADLINE, d);
	reg_w(X2_LVT_TIMER, VEC_TIMER);
	reg_w(X2_LVT_TIMER, LVT_DEADLINE | VEC_TIMER);
	ok = rdmsr(MSR_IA32_TSC_DEADLINE) == 0;
	windows_until(d + 2 * late);
	sub(ok && hits[0] == n0, "deadline -> one-shot -> deadline disarms");
	/* entering it disarms a counting one-shot */
	reg_w(X2_LVT_TIMER, VEC_TIMER);
	reg_w(X2_TMICT, (uint32_t)(us(50) / ratio));
	t1 = rdtsc();
	reg_w(X2_LVT_TIMER, LVT_DEADLINE | VEC_TIMER);
	reg_w(X2_LVT_TIMER, VEC_TIMER);
	ok = reg(X2_TMCCT) == 0;
	windows_until(t1 + us(50) + 2 * late);
	sub(ok && hits[0] == n0, "one-shot -> deadline disarms the count");
	reg_w(X2_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	GROUP_END("TSC deadline", ": handler %ld cycles after the deadline", (long)lat);
}

/* Software-disabling the APIC (SDM 10.4.7.2) masks the LVT timer and keeps
 * it masked; the timer counts on; enabling it unmasks nothing. */
static void check_sw_disable(void)
{
	uint64_t n = us(200) / ratio, p = n * ratio, t0, t1, h, k;
	uint32_t n0 = hits[0], c;

	reg_w(X2_TDCR, 0xb);
	reg_w(X2_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	t0 = rdtsc();
	reg_w(X2_TMICT, (uint32_t)n);
	t1 = rdtsc();
	sub(wait_hits(n0 + 1, p + us(1000)), "periodic running");
	reg_w(X2_SVR, 0xff);
	sub(reg(X2_LVT_TIMER) == (LVT_MASKED | LVT_PERIODIC | VEC_TIMER), "disabling set the mask");
	reg_w(X2_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	sub(reg(X2_LVT_TIMER) & LVT_MASKED, "the mask stays while disabled");
	n0 = hits[0];
	windows_until(rdtsc() + 3 * p);
	c = reg(X2_TMCCT);
	sub(hits[0] == n0 && c > 0 && c <= n, "disabled: counting, silent");
	reg_w(X2_SVR, 0x1ff);
	sub(reg(X2_LVT_TIMER) & LVT_MASKED, "enabling unmasks nothing");
	reg_w(X2_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	if (sub(wait_hits(n0 + 1, p + us(1000)), "unmasked: interrupts again")) {
		h = hit_at(n0);
		k = (h - t0) / p;	/* still the grid of the first TMICT write */
		sub(h <= t1 + k * p + late, "on the same period grid");
	}
	reg_w(X2_TMICT, 0);
	reg_w(X2_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	GROUP_END("SVR software-disable", "%s", ": LVT timer masked, the count goes on");
}

/* A period far shorter than a VM exit (1 count at /1, R cycles): the VP
 * still runs and the interrupts merge, at most one in 10 us
 * (docs/hypervisor.md "APIC timer"); the count still reads 1. */
static void check_tiny_period(void)
{
	uint64_t t0, t1, windows = 0;
	uint32_t n0 = hits[0], got, c;

	reg_w(X2_TDCR, 0xb);
	reg_w(X2_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	t0 = rdtsc();
	reg_w(X2_TMICT, 1);
	while (rdtsc() < t0 + us(300)) {
		window();
		windows++;
	}
	c = reg(X2_TMCCT);
	reg_w(X2_TMICT, 0);
	t1 = rdtsc();
	window();
	got = hits[0] - n0;
	sub(c == 1, "TMCCT reads 1");
	sub(got >= 1 && got <= (t1 - t0) / us(10) + 1, "interrupts merged");
	sub(windows >= 100, "the VP ran");
	GROUP_END("periodic, 1 count", ": %u interrupts in %lu cycles, %lu windows", got, (unsigned long)(t1 - t0),
		  (unsigned long)windows);
}

/* A reserved timer mode (11b, SDM Table 10-2): x2APIC #GP; the xAPIC
 * page cannot fault, so the mode is kept. */
static void check_reserved_mode(void)
{
	if (xapic) {
		reg_w(X2_LVT_TIMER, LVT_MASKED | LVT_PERIODIC | VEC_TIMER);
		reg_w(X2_LVT_TIMER, LVT_MASKED | (3u << 17) | VEC_TIMER);
		sub(reg(X2_LVT_TIMER) == (LVT_MASKED | LVT_PERIODIC | VEC_TIMER), "the mode kept");
	} else {
		sub(wrmsr_gp(X2_LVT_TIMER, LVT_MASKED | (3u << 17) | VEC_TIMER) &&
			    rdmsr(X2_LVT_TIMER) != (LVT_MASKED | (3u << 17) | VEC_TIMER),
		    "#GP");
	}
	reg_w(X2_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	GROUP_END("LVT timer mode 11b", ": %s", xapic ? "mode kept" : "#GP");
}

/* INIT (SDM 10.4.7.3) resets VP 1's timer: VP 1 runs a periodic timer,
 * VP 0 sends INIT and starts it again; its timer registers read their
 * reset values and nothing more arrives. */
static void check_init(void)
{
	uint64_t end = rdtsc() + us(20000), st;
	uint32_t n;

	wrmsr(X2_ICR, 1ull << 32 | VEC_GO);
	while ((!ap_running || hits[1] < 3) && rdtsc() < end)
		hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT, 1, 0);
	if (!child_check(hits[1] >= 3, "VP 1's periodic timer: %u interrupts", hits[1]))
		return;
	wrmsr(X2_ICR, 1ull << 32 | ICR_INIT_ASSERT);
	n = hits[1];
	st = start_vp_at(ap_after_init, CHILD_AP_STACK_TOP(1));
	end = rdtsc() + us(20000);
	while (!ap_restarted && rdtsc() < end)
		hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT, 1, 0);
	child_check((uint16_t)st == HV_STATUS_SUCCESS && ap_restarted && ap_regs[0] == LVT_MASKED && !ap_regs[1] &&
			    !ap_regs[2] && !ap_regs[3] && ap_regs[4] == 0xff && !ap_regs[5] && hits[1] == n,
		    "INIT reset VP 1's timer: LVT 0x%x, TMICT %u, TMCCT %u, TDCR %u, SVR 0x%x; silent since",
		    ap_regs[0], ap_regs[1], ap_regs[2], ap_regs[3], ap_regs[4]);
}

/* x2APIC -> disabled resets the timer (SDM 10.4.3, 10.4.7.1); then xAPIC. */
static bool to_xapic(void)
{
	uint64_t n = us(40) / ratio;
	uint32_t n0;
	bool ok;

	reg_w(X2_TDCR, 0x3);
	reg_w(X2_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	reg_w(X2_TMICT, (uint32_t)n);
	wait_hits(hits[0] + 1, 16 * n * ratio + us(1000));
	hvt_map_apic(apic_pd);
	wrmsr(MSR_IA32_APIC_BASE, APIC | BASE_BSP);
	wrmsr(MSR_IA32_APIC_BASE, APIC | BASE_EN | BASE_BSP);
	xapic = true;
	ok = reg(X2_LVT_TIMER) == LVT_MASKED && !reg(X2_TMICT) && !reg(X2_TMCCT) && !reg(X2_TDCR) &&
	     !rdmsr(MSR_IA32_TSC_DEADLINE);
	reg_w(X2_SVR, 0x1ff);
	n0 = hits[0];
	windows_until(rdtsc() + 3 * 16 * n * ratio);
	return child_check(ok && hits[0] == n0 && reg(X2_SVR) == 0x1ff,
			   "x2APIC -> disabled -> xAPIC: the timer reset (LVT 0x%x, TMICT, TMCCT, TDCR 0) and silent",
			   reg(X2_LVT_TIMER));
}

static void checks(void)
{
	check_one_shot(xapic ? 0x3 : 0xb, xapic ? 16 : 1);
	check_periodic(xapic ? 0xb : 0x0, xapic ? 1 : 2);
	check_masked_and_stop();
	check_divide();
	check_mode_switch();
	check_tsc_deadline();
	check_sw_disable();
	check_reserved_mode();
	check_tiny_period();
}

void child_main(const struct hv_child_boot *boot, uint64_t entry_rsp, uint64_t entry_rflags)
{
	child_start(boot, entry_rsp, entry_rflags, CHILD_IMAGE_ENLIGHTENED);
	idt_init();
	wrmsr(HV_X64_MSR_GUEST_OS_ID, HV_GUEST_OS_ID_OPEN_SOURCE | 1);
	wrmsr(HV_X64_MSR_HYPERCALL, (uint64_t)(uintptr_t)hc_page | HV_X64_MSR_HYPERCALL_ENABLE);
	if (child_check(rdmsr(HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE, "hypercall page on") &&
	    check_discovery(boot->workload_iterations ? boot->workload_iterations : 3400)) {
		check_init();
		checks();
		if (to_xapic())
			checks();
		/* For hvsim's `vapic-timer` count (tests/host/irq_stats.py). */
		child_info("APIC timer: %u interrupts taken (VP 0: %u, VP 1: %u)", hits[0] + hits[1], hits[0], hits[1]);
	}
	child_finish();
}
