/* The 8259A pair and the 8254 PIT on the bare platform (Intel 8259A and
 * 8254 datasheets; PIIX/ICH ELCR and port 0x61).  Interrupt sources: IRQ 4
 * is the COM1 UART's THRE interrupt (IER bit 1 raises it while THR is
 * empty, IER 0 lowers it), IRQ 0 is PIT channel 0.  The PIC's INTR reaches
 * the CPU through the LAPIC's LINT0 programmed as ExtINT (virtual wire,
 * MP spec 3.6.2.2).
 * - ICW1-ICW4 initialisation, OCW1 masks, IRR and ISR through OCW3, ELCR's
 *   fixed bits; OCW2 set priority, specific EOI, poll, auto-EOI, special
 *   mask mode;
 * - delivery through LINT0 (and nothing while LINT0 is masked; whatever
 *   the TPR), the vector ICW2 programmed, ISR set until a non-specific
 *   EOI; through INTR with the LAPIC globally disabled;
 * - priority: IRQ 0 before IRQ 4, and IRQ 4 held while IRQ 0 is in
 *   service (fully nested mode);
 * - spurious IRQ 7: a request withdrawn, or masked, after INTR rose and
 *   before the acknowledge gives vector base + 7 with ISR clear
 *   (sim/dev/pic.c: INTR stays up until the INTA sequence);
 * - edge versus level (ELCR): after the EOI a level input still high
 *   interrupts again, an edge input does not;
 * - PIT channel 0 in mode 2 (rate generator): the period between IRQ 0
 *   interrupts, through the PIC and through IO-APIC pin 2, against the
 *   TSC (1.193182 MHz input clock, the LP clock from opt/hvsim/costs);
 * - channel 2 through port 0x61: mode 3's square wave on bit 5, mode 0's
 *   terminal count as Linux's TSC calibration uses it (and the TSC rate
 *   it yields), counter latch and read-back commands;
 * - device time: a port access acts at its instruction's time, whatever
 *   follows it in its translation block. */
#include "intc.h"

#define PIC1 0x20
#define PIC2 0xA0
#define ELCR1 0x4D0
#define ELCR2 0x4D1
#define PIC_EOI 0x20		/* OCW2: non-specific EOI */
#define OCW3_READ_IRR 0x0A
#define OCW3_READ_ISR 0x0B
#define BASE1 0x20
#define BASE2 0x28

#define COM1_IER 0x3F9
#define IER_ETBEI 0x02

#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PORT_B 0x61
#define PORTB_GATE2 0x01
#define PORTB_SPEAKER 0x02
#define PORTB_OUT2 0x20
#define PIT_HZ 1193182ull

#define VEC_IOAPIC_PIT 0x70

static struct guest_costs costs;

/* ---- what the handlers saw ---- */

#define LOG_MAX 16
static volatile unsigned log_n;
static volatile uint8_t log_vec[LOG_MAX], log_isr[LOG_MAX];
static volatile uint64_t log_tsc[LOG_MAX];
static volatile bool handler_eoi = true;	/* non-specific EOI to the master */

static uint8_t pic_isr(void)
{
	outb(PIC1, OCW3_READ_ISR);
	return inb(PIC1);
}

static uint8_t pic_irr(void)
{
	outb(PIC1, OCW3_READ_IRR);
	return inb(PIC1);
}

static void on_irq(struct exc_regs *r)
{
	uint64_t t = rdtsc();

	if (log_n < LOG_MAX) {
		log_tsc[log_n] = t;
		log_vec[log_n] = (uint8_t)r->vector;
		log_isr[log_n] = r->vector >= BASE1 && r->vector < BASE1 + 8 ? pic_isr() : 0;
	}
	log_n++;
	if (r->vector == VEC_IOAPIC_PIT)
		apic_w(R_EOI, 0);
	/* IRQ 7's handler checks ISR first, as drivers do: a spurious IRQ 7
	 * has no ISR bit and gets no EOI (8259A datasheet, "Interrupt
	 * sequence"). */
	else if (handler_eoi && (r->vector != BASE1 + 7 || (log_isr[log_n - 1] & 0x80)))
		outb(PIC1, PIC_EOI);
}

static void reset_log(void)
{
	log_n = 0;
	asm volatile("" ::: "memory");
}

static void irq4(int level)
{
	outb(COM1_IER, level ? IER_ETBEI : 0);
}

static uint64_t ticks_to_tsc(uint64_t ticks)
{
	return ticks * costs.tsc_khz * 1000 / PIT_HZ;
}

static void spin_tsc(uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < cycles)
		cpu_pause();
}

/* HLT with IF = 1 until `n` interrupts were logged or `limit` cycles
 * passed. */
static void wait_irqs(unsigned n, uint64_t limit)
{
	uint64_t t0 = rdtsc();

	while (log_n < n && rdtsc() - t0 < limit)
		asm volatile("sti; hlt; cli" ::: "memory");
}

/* ---- the 8259A pair ---- */

#define ICW4_8086 0x01
#define ICW4_AEOI 0x02

static void pic_init(uint8_t icw4_master)
{
	outb(PIC1, 0x11);	/* ICW1: edge, cascade, ICW4 follows */
	outb(PIC1 + 1, BASE1);	/* ICW2: vectors 0x20-0x27 */
	outb(PIC1 + 1, 0x04);	/* ICW3: a slave on IR2 */
	outb(PIC1 + 1, icw4_master);	/* ICW4: 8086 mode, normal or auto EOI */
	outb(PIC2, 0x11);
	outb(PIC2 + 1, BASE2);
	outb(PIC2 + 1, 0x02);	/* ICW3: slave id 2 */
	outb(PIC2 + 1, 0x01);
}

static void test_init(void)
{
	uint8_t imr1, imr2;

	pic_init(ICW4_8086);
	imr1 = inb(PIC1 + 1);
	imr2 = inb(PIC2 + 1);
	report(imr1 == 0 && imr2 == 0, "ICW1 cleared both IMRs (0x%x 0x%x)", imr1, imr2);
	outb(PIC1 + 1, 0xFF);
	outb(PIC2 + 1, 0xFF);
	report(pic_irr() == 0 && pic_isr() == 0, "IRR and ISR read 0 through OCW3");
	outb(PIC1 + 1, 0xEB);
	imr1 = inb(PIC1 + 1);
	outb(PIC2 + 1, 0x5A);
	imr2 = inb(PIC2 + 1);
	report(imr1 == 0xEB && imr2 == 0x5A, "OCW1 reads back (0x%x 0x%x)", imr1, imr2);
	outb(PIC1 + 1, 0xFF);
	outb(PIC2 + 1, 0xFF);
	outb(ELCR1, 0xFF);
	outb(ELCR2, 0xFF);
	imr1 = inb(ELCR1);
	imr2 = inb(ELCR2);
	report(imr1 == 0xF8 && imr2 == 0xDE, "ELCR: IRQ 0, 1, 2, 8 and 13 are edge only (0x%x 0x%x)", imr1, imr2);
	outb(ELCR1, 0);
	outb(ELCR2, 0);
}

/* IRQ 4 raised while masked sits in IRR; unmasking it reaches the CPU
 * through LINT0 as ExtINT, the PIC supplying vector base + 4. */
static void test_delivery(void)
{
	bool irr_masked, held_lint0, extint_no_lapic;
	uint8_t isr_after, irr_after;

	reset_log();
	handler_eoi = false;
	apic_w(R_LVT_LINT0, LVT_MASKED | LVT_DM_EXTINT);
	irq4(1);
	irr_masked = pic_irr() == 0x10;
	intr_window();
	outb(PIC1 + 1, 0xEF);	/* unmask IRQ 4 */
	intr_window();
	held_lint0 = log_n == 0;
	apic_w(R_LVT_LINT0, LVT_DM_EXTINT);
	intr_window();
	extint_no_lapic = !apic_bit(R_ISR, BASE1 + 4) && !apic_bit(R_IRR, BASE1 + 4);
	isr_after = pic_isr();
	irr_after = pic_irr();
	irq4(0);
	report(irr_masked, "IRQ 4 raised while masked: IRR bit 4");
	report(held_lint0, "nothing reaches the CPU while LINT0 is masked");
	report(log_n == 1 && log_vec[0] == BASE1 + 4, "LINT0 as ExtINT delivers the PIC's vector 0x%x (%u)",
	       log_n ? log_vec[0] : 0, log_n);
	report(log_isr[0] == 0x10, "ISR bit 4 set in the handler (0x%x)", log_isr[0]);
	report(extint_no_lapic, "ExtINT bypasses the LAPIC's IRR and ISR");
	report(isr_after == 0x10 && irr_after == 0, "without EOI: ISR 0x%x, IRR 0x%x", isr_after, irr_after);
	outb(PIC1, PIC_EOI);
	report(pic_isr() == 0, "non-specific EOI clears ISR");
	intr_window();
	report(log_n == 1, "nothing more");
	handler_eoi = true;
}

/* A rising edge on IRQ 0: PIT channel 0 in mode 0 reaches terminal
 * count (OUT low at the control word, high N + 1 clocks after the count;
 * the next control word lowers it again). */
static void pit0_edge(void)
{
	outb(PIT_CMD, 0x30);	/* channel 0, LSB then MSB, mode 0 */
	outb(PIT_CH0, 2);
	outb(PIT_CH0, 0);
	spin_tsc(ticks_to_tsc(4));
}

/* Fully nested mode: IR0 has priority over IR4, and while IR0 is in
 * service IR4 waits (8259A datasheet, "Fully nested mode"). */
static void test_priority(void)
{
	unsigned first, second, third;
	uint8_t irr;

	reset_log();
	handler_eoi = false;
	outb(PIC1 + 1, 0xEE);	/* IRQ 0 and 4 */
	pit0_edge();
	irq4(1);
	irr = pic_irr();
	intr_window();
	first = log_n;
	intr_window();
	second = log_n;
	outb(PIC1, PIC_EOI);
	intr_window();
	third = log_n;
	outb(PIC1, PIC_EOI);
	irq4(0);
	outb(PIT_CMD, 0x30);	/* OUT low again */
	outb(PIC1 + 1, 0xFF);
	report(irr == 0x11, "IRQ 0 (PIT terminal count) and IRQ 4 both requested: IRR 0x%x", irr);
	report(first == 1 && log_vec[0] == BASE1, "IRQ 0 first (vector 0x%x)", log_vec[0]);
	report(second == 1, "IRQ 4 waits while IRQ 0 is in service");
	report(third == 2 && log_vec[1] == BASE1 + 4 && log_isr[1] == 0x10,
	       "IRQ 4 after IRQ 0's EOI (%u, vector 0x%x, ISR 0x%x)", third, log_vec[1], log_isr[1]);
	report(pic_isr() == 0, "ISR clear");
	handler_eoi = true;
}

/* OCW2 "set priority" makes IR0 the lowest, so IR4 goes first; in special
 * mask mode (OCW3 ESMM/SMM) masking the IR in service lets a lower one in
 * (8259A datasheet, "Specific rotation", "Special mask mode"). */
static void test_priority_modes(void)
{
	unsigned rot_n, smm_n;
	uint8_t rot0, rot1, smm_isr;

	reset_log();
	outb(PIC1 + 1, 0xEE);
	pit0_edge();
	irq4(1);
	outb(PIC1, 0xC0);	/* set priority: IR0 lowest */
	intr_window();
	intr_window();
	rot_n = log_n;
	rot0 = log_vec[0];
	rot1 = log_vec[1];
	irq4(0);
	outb(PIC1, 0xC7);	/* back to IR7 lowest */
	outb(PIT_CMD, 0x30);

	reset_log();
	handler_eoi = false;
	pit0_edge();
	intr_window();		/* IRQ 0 in service, no EOI */
	outb(PIC1, 0x68);	/* OCW3: special mask mode on */
	outb(PIC1 + 1, 0xEF);	/* mask IR0, unmask IR4 */
	irq4(1);
	intr_window();
	irq4(0);
	smm_n = log_n;
	smm_isr = pic_isr();
	outb(PIC1, 0x48);	/* special mask mode off */
	outb(PIC1, 0x64);	/* specific EOIs */
	outb(PIC1, 0x60);
	outb(PIT_CMD, 0x30);
	outb(PIC1 + 1, 0xFF);
	handler_eoi = true;
	report(rot_n == 2 && rot0 == BASE1 + 4 && rot1 == BASE1,
	       "IR0 set lowest: IRQ 4 (0x%x) before IRQ 0 (0x%x)", rot0, rot1);
	report(smm_n == 2 && log_vec[1] == BASE1 + 4,
	       "special mask mode: IRQ 4 interrupts IRQ 0's service once IR0 is masked (%u)", smm_n);
	report(smm_isr == 0x11, "both in service (ISR 0x%x)", smm_isr);
	report(pic_isr() == 0, "specific EOIs clear both");
}

/* ExtINT bypasses the LAPIC's priorities (SDM Vol. 3A 10.8.3: they cover
 * fixed and lowest-priority interrupts). */
static void test_extint_tpr(void)
{
	reset_log();
	outb(PIC1 + 1, 0xEF);
	apic_w(R_TPR, 0xF0);
	irq4(1);
	intr_window();
	irq4(0);
	apic_w(R_TPR, 0);
	outb(PIC1 + 1, 0xFF);
	report(log_n == 1 && log_vec[0] == BASE1 + 4, "ExtINT delivered with TPR 0xF0 (%u)", log_n);
}

/* A request that goes away between INTR and the INTA cycle leaves the
 * PIC nothing to acknowledge: it answers with IR7's vector and sets no
 * ISR bit (8259A datasheet, "Interrupt sequence"). */
static void test_spurious(void)
{
	uint8_t isr_withdrawn, isr_masked;
	unsigned n_withdrawn;

	reset_log();
	outb(PIC1 + 1, 0xEF);
	irq4(1);
	irq4(0);	/* withdrawn before the acknowledge */
	intr_window();
	n_withdrawn = log_n;
	isr_withdrawn = pic_isr();
	irq4(1);
	outb(PIC1 + 1, 0xFF);	/* masked before the acknowledge */
	intr_window();
	isr_masked = pic_isr();
	irq4(0);
	report(n_withdrawn == 1 && log_vec[0] == BASE1 + 7 && log_isr[0] == 0,
	       "request withdrawn before INTA: spurious IRQ 7 (vector 0x%x, ISR 0x%x in the handler)", log_vec[0],
	       log_isr[0]);
	report(isr_withdrawn == 0, "no ISR bit afterwards");
	report(log_n == 2 && log_vec[1] == BASE1 + 7 && log_isr[1] == 0,
	       "request masked before INTA: spurious IRQ 7 (vector 0x%x)", log_vec[1]);
	report(isr_masked == 0, "no ISR bit afterwards");
	reset_log();
	intr_window();
	report(log_n == 0, "nothing more");
}

/* ELCR bit 4: level-sensitive IRQ 4.  After the EOI an input still high
 * requests again; an edge input needs a new rising edge. */
static void test_edge_level(void)
{
	unsigned edge_n, level_n, level_after_low;

	handler_eoi = true;
	outb(PIC1 + 1, 0xEF);
	reset_log();
	irq4(1);
	intr_window();
	intr_window();
	edge_n = log_n;
	irq4(0);
	reset_log();
	outb(ELCR1, 0x10);
	handler_eoi = false;
	irq4(1);
	intr_window();
	outb(PIC1, PIC_EOI);
	intr_window();
	level_n = log_n;
	irq4(0);
	outb(PIC1, PIC_EOI);
	intr_window();
	level_after_low = log_n;
	outb(ELCR1, 0);
	outb(PIC1 + 1, 0xFF);
	handler_eoi = true;
	report(edge_n == 1, "edge IRQ 4 held high: one interrupt across the EOI (%u)", edge_n);
	report(level_n == 2, "level IRQ 4 held high: interrupts again after the EOI (%u)", level_n);
	report(level_after_low == 2, "level IRQ 4 lowered: nothing after the EOI (%u)", level_after_low);
}

/* OCW2 specific EOI, OCW3 poll, ICW4 auto-EOI (8259A datasheet,
 * "Operation command words", "The poll command", "End of interrupt"). */
static void test_eoi_poll_aeoi(void)
{
	uint8_t isr_held, isr_wrong, isr_right, poll, isr_poll;
	unsigned n_poll;

	outb(PIC1 + 1, 0xEF);
	reset_log();
	handler_eoi = false;
	irq4(1);
	intr_window();
	irq4(0);
	isr_held = pic_isr();
	outb(PIC1, 0x63);	/* specific EOI, IR3 */
	isr_wrong = pic_isr();
	outb(PIC1, 0x64);	/* specific EOI, IR4 */
	isr_right = pic_isr();
	report(log_n == 1 && isr_held == 0x10, "IRQ 4 in service (ISR 0x%x)", isr_held);
	report(isr_wrong == 0x10 && isr_right == 0, "specific EOI: IR3 leaves ISR 0x%x, IR4 clears it (0x%x)",
	       isr_wrong, isr_right);

	reset_log();
	irq4(1);
	outb(PIC1, 0x0C);	/* OCW3: poll */
	poll = inb(PIC1);
	isr_poll = pic_isr();
	irq4(0);
	intr_window();
	n_poll = log_n;
	outb(PIC1, PIC_EOI);
	report(poll == 0x84, "poll word 0x%x: a request, IR4", poll);
	report(isr_poll == 0x10, "the poll read acknowledged it: ISR 0x%x", isr_poll);
	report(n_poll == 0, "and ended INTR: no interrupt (%u)", n_poll);
	report(pic_isr() == 0, "EOI after the poll clears ISR");

	pic_init(ICW4_8086 | ICW4_AEOI);
	outb(PIC1 + 1, 0xEF);
	outb(PIC2 + 1, 0xFF);
	reset_log();
	irq4(1);
	intr_window();
	irq4(0);
	report(log_n == 1 && log_vec[0] == BASE1 + 4 && log_isr[0] == 0,
	       "auto-EOI mode: IRQ 4 delivered with no ISR bit in its handler (ISR 0x%x)", log_isr[0]);
	pic_init(ICW4_8086);
	outb(PIC1 + 1, 0xFF);
	outb(PIC2 + 1, 0xFF);
	handler_eoi = true;
}

/* With the LAPIC globally disabled (IA32_APIC_BASE bit 11 clear) LINT0 is
 * the processor's INTR pin (SDM Vol. 3A 10.4.3): the PIC reaches the CPU
 * whatever the LVT said. */
static void test_lapic_disabled(void)
{
	uint64_t base = rdmsr(0x1B);

	reset_log();
	outb(PIC1 + 1, 0xEF);
	wrmsr(0x1B, base & ~(1ull << 11));
	irq4(1);
	intr_window();
	irq4(0);
	wrmsr(0x1B, base);
	outb(PIC1 + 1, 0xFF);
	apic_w(R_SVR, SVR_ENABLE | 0xFF);
	apic_w(R_LVT_LINT0, LVT_DM_EXTINT);
	report(log_n == 1 && log_vec[0] == BASE1 + 4, "LAPIC disabled: IRQ 4 through INTR, vector 0x%x (%u)",
	       log_n ? log_vec[0] : 0, log_n);
	report(pic_isr() == 0, "handled and EOIed");
}

/* ---- the PIT ---- */

/* Slack for an interrupt's arrival: recognition at a block boundary
 * after HLT, delivery, the stub (about 1/10 of one PIT input clock). */
#define IRQ_SLACK 400

/* The intervals between logged interrupts `from` - 1 .. log_n - 1. */
static bool check_periods(const char *path, unsigned from, uint64_t period)
{
	bool ok = true;

	for (unsigned i = from; i < log_n && i < LOG_MAX; i++) {
		uint64_t d = log_tsc[i] - log_tsc[i - 1];

		if (d + IRQ_SLACK < period || d > period + IRQ_SLACK)
			ok = report(false, "%s: period %u took %lu TSC cycles, expected %lu", path, i,
				    (unsigned long)d, (unsigned long)period);
	}
	return ok;
}

/* Mode 2 (rate generator): OUT low for one clock every N, so IRQ 0 has a
 * rising edge every N input clocks (8254 datasheet, "Mode 2").  The
 * control word itself sets OUT high: coming from mode 0 (OUT low), that
 * is a first rising edge at once; the count is loaded on the next clock
 * and the first period ends N clocks later. */
static void test_pit_mode2(void)
{
	const unsigned n = 1193;	/* ~1 ms */
	uint64_t period = ticks_to_tsc(n), t_cw, t_first, io = costs.cost[COST_IO];
	bool ok = true, irr0;

	reset_log();
	outb(PIC1 + 1, 0xFE);
	t_cw = rdtsc();
	outb(PIT_CMD, 0x34);	/* channel 0, LSB then MSB, mode 2, binary */
	irr0 = pic_irr() & 1;
	outb(PIT_CH0, n & 0xFF);
	outb(PIT_CH0, n >> 8);
	wait_irqs(7, 10 * period);
	outb(PIC1 + 1, 0xFF);
	for (unsigned i = 0; i < log_n && i < LOG_MAX; i++)
		ok &= log_vec[i] == BASE1;
	report(log_n == 7 && ok, "mode 2 through the PIC: 7 IRQ 0 interrupts, vector 0x%x (%u)", BASE1, log_n);
	report(irr0 && log_tsc[0] - t_cw < period / 2,
	       "the control word raised OUT0 at once: IRR bit 0 before the count, taken after %lu cycles",
	       (unsigned long)(log_tsc[0] - t_cw));
	t_first = log_tsc[1] - t_cw;
	report(t_first + 3 * io >= period && t_first <= ticks_to_tsc(n + 1) + IRQ_SLACK,
	       "first period ends N to N + 1 clocks after the count is written (%lu cycles)", (unsigned long)t_first);
	report(check_periods("PIC", 2, period), "every period %u input clocks = %lu TSC cycles (at %lu kHz)", n,
	       (unsigned long)period, (unsigned long)costs.tsc_khz);

	/* The same timer through the IO-APIC: IRQ 0 is pin 2 (the MADT's
	 * interrupt source override). */
	reset_log();
	rte_set(2, RTE_DEST(apic_r(R_ID) >> 24) | VEC_IOAPIC_PIT);
	wait_irqs(6, 10 * period);
	rte_set(2, RTE_MASKED);
	ok = true;
	for (unsigned i = 0; i < log_n && i < LOG_MAX; i++)
		ok &= log_vec[i] == VEC_IOAPIC_PIT;
	report(log_n == 6 && ok, "mode 2 through IO-APIC pin 2: 6 interrupts, vector 0x%x (%u)", VEC_IOAPIC_PIT,
	       log_n);
	report(check_periods("IO-APIC", 1, period), "every period %lu TSC cycles", (unsigned long)period);
	outb(PIT_CMD, 0x30);	/* mode 0 without a count: OUT low, quiet */
}

/* Port 0x61 bit 5 sampled in a loop: the TSC of the first read that
 * shows `level`, or 0 after `limit` cycles. */
static uint64_t wait_out2(int level, uint64_t limit)
{
	uint64_t t0 = rdtsc(), t;

	do {
		t = rdtsc();
		if (!!(inb(PORT_B) & PORTB_OUT2) == level)
			return t;
	} while (t - t0 < limit);
	return 0;
}

/* One pass of the sampling loop: RDTSC, IN, test, branch. */
static uint64_t poll_cycles(void)
{
	return costs.cost[COST_TSC] + costs.cost[COST_IO] + 4 * costs.cost[COST_ALU] + costs.cost[COST_BRANCH];
}

/* Mode 3 (square wave): OUT high for ceil(N/2) clocks, low for
 * floor(N/2) (8254 datasheet, "Mode 3"). */
static void test_pit_mode3(void)
{
	const unsigned n = 1001;
	uint64_t rise[3] = { 0 }, fall[3] = { 0 }, slack = 2 * poll_cycles();
	uint64_t high = ticks_to_tsc((n + 1) / 2), low = ticks_to_tsc(n / 2);
	bool ok = true;

	outb(PORT_B, (inb(PORT_B) & ~PORTB_SPEAKER) | PORTB_GATE2);
	outb(PIT_CMD, 0xB6);	/* channel 2, LSB then MSB, mode 3, binary */
	outb(PIT_CH2, n & 0xFF);
	outb(PIT_CH2, n >> 8);
	report(inb(PORT_B) & PORTB_OUT2, "mode 3: OUT2 high after the count is written");
	wait_out2(0, 4 * high);
	for (unsigned i = 0; i < 3; i++) {
		rise[i] = wait_out2(1, 4 * high);
		fall[i] = wait_out2(0, 4 * high);
	}
	for (unsigned i = 0; i < 3; i++) {
		uint64_t h = fall[i] - rise[i], l = i ? rise[i] - fall[i - 1] : low;

		if (!rise[i] || !fall[i] || h + slack < high || h > high + slack || l + slack < low ||
		    l > low + slack)
			ok = report(false, "half-periods %u: high %lu, low %lu TSC cycles", i, (unsigned long)h,
				    (unsigned long)l);
	}
	report(ok, "port 0x61 bit 5: high %u and low %u input clocks (%lu and %lu TSC cycles, +-%lu)",
	       (n + 1) / 2, n / 2, (unsigned long)high, (unsigned long)low, (unsigned long)slack);
	report(rise[2] - rise[0] + slack >= 2 * ticks_to_tsc(n) && rise[2] - rise[0] <= 2 * ticks_to_tsc(n) + slack,
	       "two full periods: %lu TSC cycles", (unsigned long)(rise[2] - rise[0]));
	/* Gate low in mode 3 sets OUT high at once (8254 datasheet, "Mode 3"). */
	wait_out2(0, 4 * high);
	outb(PORT_B, inb(PORT_B) & ~(PORTB_GATE2 | PORTB_SPEAKER));
	report(inb(PORT_B) & PORTB_OUT2, "gate low during the low half: OUT2 high at once");
	report(wait_out2(0, 2 * ticks_to_tsc(n)) == 0, "and stays high while the gate is low");
}

static uint16_t latch_ch2(void)
{
	uint8_t lo, hi;

	outb(PIT_CMD, 0x80);	/* counter latch, channel 2 */
	lo = inb(PIT_CH2);
	hi = inb(PIT_CH2);
	return (uint16_t)(hi << 8 | lo);
}

/* Mode 0 on channel 2 gated by port 0x61, as Linux's PIT calibration of
 * the TSC uses it (arch/x86/kernel/tsc.c): OUT2 rises N+1 clocks after
 * the count is written, N after the next clock edge loads it. */
static void test_pit_mode0(void)
{
	const unsigned n = 11932;	/* ~10 ms */
	uint64_t t0, t1, d, khz;
	uint16_t v[5], held, now;
	uint8_t status;
	bool dec = true;

	outb(PORT_B, (inb(PORT_B) & ~PORTB_SPEAKER) | PORTB_GATE2);
	outb(PIT_CMD, 0xB0);	/* channel 2, LSB then MSB, mode 0, binary */
	outb(PIT_CH2, n & 0xFF);
	t0 = rdtsc();
	outb(PIT_CH2, n >> 8);
	report(!(inb(PORT_B) & PORTB_OUT2), "mode 0: OUT2 low while counting");

	for (unsigned i = 0; i < 5; i++) {
		v[i] = latch_ch2();
		if (i && v[i - 1] - v[i] != 50 && v[i - 1] - v[i] != 51)
			dec = false;
		spin_tsc(ticks_to_tsc(50));
	}
	report(dec && v[0] <= n, "counts latched 50 clocks apart decrease by 50 (+1): %u %u %u %u %u", v[0], v[1],
	       v[2], v[3], v[4]);
	outb(PIT_CMD, 0x80);
	spin_tsc(ticks_to_tsc(100));
	outb(PIT_CMD, 0x80);	/* ignored: the first latch holds until read */
	held = (uint16_t)(inb(PIT_CH2) | inb(PIT_CH2) << 8);
	now = latch_ch2();
	report(held - now >= 100, "a latched count holds until read (%u then %u)", held, now);
	outb(PIT_CMD, 0xE8);	/* read-back: status of channel 2 */
	status = inb(PIT_CH2);
	report(status == 0x30, "read-back status 0x%x: OUT low, count loaded, LSB/MSB, mode 0", status);

	t1 = wait_out2(1, 2 * ticks_to_tsc(n));
	if (!report(t1 != 0, "terminal count: OUT2 went high"))
		return;
	d = t1 - t0;
	report(d + poll_cycles() >= ticks_to_tsc(n) && d <= ticks_to_tsc(n + 1) + 2 * poll_cycles(),
	       "after %lu TSC cycles: between N = %u and N + 1 input clocks (%lu-%lu)", (unsigned long)d, n,
	       (unsigned long)ticks_to_tsc(n), (unsigned long)ticks_to_tsc(n + 1));
	khz = d * PIT_HZ / n / 1000;
	report(khz * 1000 >= costs.tsc_khz * 999 && khz * 1000 <= costs.tsc_khz * 1001,
	       "calibrated TSC %lu kHz, fw_cfg says %lu kHz (0.1%%)", (unsigned long)khz,
	       (unsigned long)costs.tsc_khz);
	report(wait_out2(0, ticks_to_tsc(4)) == 0, "OUT2 stays high after terminal count");
	outb(PORT_B, inb(PORT_B) & ~(PORTB_GATE2 | PORTB_SPEAKER));
}

/* Latch channel 2 with an OUT right after an RDTSC; `pad` puts 300
 * DIVs (the profile prices each at its div cost) after the OUT in the
 * same block.  Returns the TSC; *count gets the latched count. */
#define LATCH_ASM(pad)								\
	asm volatile("rdtsc\n\t"							\
		     "mov %%eax, %[lo]\n\t"						\
		     "mov %%edx, %[hi]\n\t"						\
		     "mov $0x80, %%al\n\t"						\
		     "outb %%al, $0x43\n\t"						\
		     "xor %%edx, %%edx\n\t"						\
		     ".rept " #pad "\n\t"						\
		     "div %[one]\n\t"							\
		     ".endr\n\t"							\
		     "jmp 1f\n"							\
		     "1:\n\t"								\
		     : [lo] "=&r"(lo), [hi] "=&r"(hi)					\
		     : [one] "r"(1u)							\
		     : "rax", "rdx", "memory")

static uint64_t latch_timed(bool pad, uint16_t *count)
{
	uint32_t lo, hi;

	if (pad)
		LATCH_ASM(300);
	else
		LATCH_ASM(0);
	*count = (uint16_t)(inb(PIT_CH2) | inb(PIT_CH2) << 8);
	return (uint64_t)hi << 32 | lo;
}

/* A port access acts at the time of its instruction, as RDTSC reads it
 * (docs/platform.md "The CPU": RDTSC counts the block's earlier
 * instructions only).  The latched count plus the PIT clocks elapsed by
 * the TSC just before it is the same whatever follows the OUT in its
 * block. */
static void test_device_time(void)
{
	uint64_t tick_khz = PIT_HZ, k[2];
	uint16_t v;
	long diff;

	outb(PORT_B, (inb(PORT_B) & ~PORTB_SPEAKER) | PORTB_GATE2);
	outb(PIT_CMD, 0xB0);	/* channel 2, mode 0, count 65535 */
	outb(PIT_CH2, 0xFF);
	outb(PIT_CH2, 0xFF);
	spin_tsc(ticks_to_tsc(2));	/* past the load edge */
	for (int pad = 0; pad < 2; pad++) {
		uint64_t t = latch_timed(pad, &v);

		k[pad] = v + t * tick_khz / (costs.tsc_khz * 1000);
	}
	outb(PORT_B, inb(PORT_B) & ~(PORTB_GATE2 | PORTB_SPEAKER));
	diff = (long)(k[0] - k[1]);
	report(diff >= -1 && diff <= 1, "the latch acts at its OUT, not at the end of its block (%ld clocks apart)",
	       diff);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	(void)magic;
	(void)info;
	costs = guest_load_costs();
	if (!costs.valid)
		guest_skip("no opt/hvsim/costs: the TSC rate is not known");
	for (unsigned v = BASE1; v < BASE2 + 8; v++)
		irq_set_handler(v, on_irq);
	irq_set_handler(VEC_IOAPIC_PIT, on_irq);
	apic_w(R_SVR, SVR_ENABLE | 0xFF);
	apic_w(R_LVT_LINT0, LVT_DM_EXTINT);	/* virtual wire */
	test_init();
	test_delivery();
	test_priority();
	test_priority_modes();
	test_extint_tpr();
	test_spurious();
	test_edge_level();
	test_eoi_poll_aeoi();
	test_lapic_disabled();
	test_pit_mode2();
	test_pit_mode3();
	test_pit_mode0();
	test_device_time();
}
