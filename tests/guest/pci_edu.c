/* The edu PCI device on the bare platform (docs/platform.md "PCI"; QEMU
 * docs/specs/edu.rst), found and driven the way an OS driver would:
 * - bus 0 enumerated with configuration mechanism #1: the host bridge at
 *   00:00.0 and 1234:11e8, its class, interrupt pin and line, and its
 *   capability list leading to the MSI capability (PCI 3.0 6.7, 6.8.1);
 * - BAR0 sized (all ones reads back the 1 MiB mask, PCI 3.0 6.2.5.1),
 *   placed by the test, decoded only with COMMAND.MEMORY, and moved while
 *   decoding (the old place then reads as open bus);
 * - identification, the liveness inversion, the factorial unit and its
 *   service time in TSC cycles;
 * - INTx through the IO-APIC, level-triggered on the pin the Interrupt
 *   Line register names: the handler sees the raised status, a handler
 *   that EOIs without acknowledging at 0x64 is entered again (the line is
 *   still high), acknowledge then EOI ends it; the factorial's completion
 *   interrupt the same way;
 * - MSI, fixed delivery and physical destination to the BSP's APIC id:
 *   the handler runs on the programmed vector, edge-triggered (TMR clear),
 *   once per raise, INTx stays quiet; a masked vector sets its pending bit
 *   and sends nothing until unmasked; MSI disabled, or bus mastering off,
 *   sends nothing;
 * - with --lps 2, MSI to the AP's APIC id (the AP takes it, the BSP not).
 * The last line gives how many MSIs and INTx interrupts the handlers saw,
 * which tests/host/pci_msi.py compares with stats.json. */
#include "ap.h"
#include "intc.h"

#define EDU_VENDOR_DEVICE 0x11E81234u
#define BAR_FIRST 0xFE800000u	/* where the test puts BAR0 first ... */
#define BAR_SECOND 0xFE900000u	/* ... and where it moves it */
#define BAR_SIZE 0x100000u

#define VEC_INTX 0x61
#define VEC_MSI 0x62
#define VEC_AP 0x70

/* BAR0 registers (QEMU docs/specs/edu.rst) */
#define E_ID 0x00
#define E_LIVE 0x04
#define E_FACT 0x08
#define E_STATUS 0x20
#define E_ISR 0x24
#define E_RAISE 0x60
#define E_ACK 0x64
#define ST_COMPUTING 0x01
#define ST_IRQFACT 0x80

/* configuration space (PCI 3.0 6.1, 6.8.1) */
#define C_COMMAND 0x04
#define C_STATUS 0x06
#define C_BAR0 0x10
#define C_CAP_PTR 0x34
#define C_INT_LINE 0x3C
#define C_INT_PIN 0x3D
#define CMD_MEM 0x0002
#define CMD_MASTER 0x0004
#define CMD_INTX_DISABLE 0x0400
#define STS_INTERRUPT 0x0008
#define STS_CAP_LIST 0x0010
#define MSI_CTRL 2
#define MSI_ADDR_LO 4
#define MSI_ADDR_HI 8
#define MSI_DATA 12
#define MSI_MASK 16
#define MSI_PENDING 20
#define MSI_ENABLE 0x0001
#define MSI_64BIT 0x0080
#define MSI_PVM 0x0100

static unsigned bsp_id, edu_dev;
static uint32_t bar;
static unsigned msi_cap;
static unsigned n_msi, n_intx;	/* handled, for the host check */

/* ---- configuration mechanism #1 ---- */

static void cfg_select(unsigned dev, unsigned fn, unsigned reg)
{
	outl(0xCF8, 0x80000000u | dev << 11 | fn << 8 | (reg & 0xFC));
}

static uint32_t cfg_r32(unsigned dev, unsigned fn, unsigned reg)
{
	cfg_select(dev, fn, reg);
	return inl(0xCFC);
}

static uint16_t cfg_r16(unsigned reg)
{
	cfg_select(edu_dev, 0, reg);
	return inw((uint16_t)(0xCFC + (reg & 2)));
}

static uint8_t cfg_r8(unsigned reg)
{
	cfg_select(edu_dev, 0, reg);
	return inb((uint16_t)(0xCFC + (reg & 3)));
}

static void cfg_w32(unsigned reg, uint32_t v)
{
	cfg_select(edu_dev, 0, reg);
	outl(0xCFC, v);
}

static void cfg_w16(unsigned reg, uint16_t v)
{
	cfg_select(edu_dev, 0, reg);
	outw((uint16_t)(0xCFC + (reg & 2)), v);
}

/* ---- BAR0 ---- */

static uint32_t mmio_r(uint32_t base, unsigned off)
{
	return *(volatile uint32_t *)(uintptr_t)(base + off);
}

static uint32_t er(unsigned off)
{
	return mmio_r(bar, off);
}

static void ew(unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(bar + off) = v;
}

/* ---- what the handlers saw ---- */

#define LOG_MAX 16
static volatile unsigned log_n;
static volatile uint8_t log_vec[LOG_MAX];
static volatile uint32_t log_isr[LOG_MAX];	/* edu's interrupt status in the handler */
static volatile unsigned ack_from = 1;		/* acknowledge from this entry (1-based) on */

static void on_irq(struct exc_regs *r)
{
	unsigned n = log_n;
	uint32_t s = er(E_ISR);

	if (n < LOG_MAX) {
		log_vec[n] = (uint8_t)r->vector;
		log_isr[n] = s;
	}
	log_n = n + 1;
	if (r->vector == VEC_MSI)
		n_msi++;
	else
		n_intx++;
	if (n + 1 >= ack_from)
		ew(E_ACK, s);
	apic_w(R_EOI, 0);
}

static void reset_log(unsigned ack)
{
	log_n = 0;
	ack_from = ack;
	asm volatile("" ::: "memory");
}

/* Wait with IF = 1 until the handlers saw `n` interrupts (or give up). */
static void wait_irqs(unsigned n)
{
	for (unsigned i = 0; i < 64 && log_n < n; i++) {
		asm volatile("sti; hlt" ::: "memory");
		asm volatile("cli" ::: "memory");
	}
}

/* ---- enumeration ---- */

static void test_enumerate(void)
{
	unsigned found = 0;

	report(cfg_r32(0, 0, 0) == 0x12378086, "00:00.0 is the i440FX host bridge (0x%x)", cfg_r32(0, 0, 0));
	for (unsigned dev = 0; dev < 32; dev++) {
		uint32_t id = cfg_r32(dev, 0, 0);
		unsigned nfn = (cfg_r32(dev, 0, 0x0C) >> 16) & 0x80 ? 8 : 1;

		if (id == 0xFFFFFFFF)
			continue;
		for (unsigned fn = 0; fn < nfn; fn++) {
			if (cfg_r32(dev, fn, 0) == EDU_VENDOR_DEVICE) {
				edu_dev = dev;
				found++;
			}
		}
	}
	if (!report(found == 1, "one 1234:11e8 on bus 0, at 00:%02x.0", edu_dev))
		guest_exit(GUEST_EXIT_FAIL);
	report(edu_dev == 3, "at 00:03.0, as docs/platform.md says");
	report(cfg_r32(edu_dev, 0, 0x08) >> 8 == 0xFF0000, "class code 0x%x",
	       cfg_r32(edu_dev, 0, 0x08) >> 8);
	report(cfg_r8(C_INT_PIN) == 1, "interrupt pin INTA# (%u)", cfg_r8(C_INT_PIN));
	report(cfg_r8(C_INT_LINE) == 23, "interrupt line: IO-APIC input %u", cfg_r8(C_INT_LINE));
	report(cfg_r16(C_STATUS) & STS_CAP_LIST, "status: capabilities list");
	report((cfg_r16(C_COMMAND) & (CMD_MEM | CMD_MASTER)) == 0, "no decode, no bus mastering at reset");
	for (unsigned p = cfg_r8(C_CAP_PTR) & 0xFC, hops = 0; p && hops < 48; hops++) {
		if (cfg_r8(p) == 0x05) {
			msi_cap = p;
			break;
		}
		p = cfg_r8(p + 1) & 0xFC;
	}
	if (!report(msi_cap >= 0x40, "the capability list has MSI (at 0x%x)", msi_cap))
		guest_exit(GUEST_EXIT_FAIL);
	report((cfg_r16(msi_cap + MSI_CTRL) & (MSI_64BIT | MSI_PVM | MSI_ENABLE | 0x0E)) == (MSI_64BIT | MSI_PVM),
	       "MSI: 64-bit, per-vector masking, one vector, disabled (0x%x)", cfg_r16(msi_cap + MSI_CTRL));
}

/* ---- BAR0 ---- */

static void test_bar(void)
{
	uint32_t mask;

	cfg_w16(C_COMMAND, 0);
	cfg_w32(C_BAR0, 0xFFFFFFFF);
	mask = cfg_r32(edu_dev, 0, C_BAR0);
	report(mask == 0xFFF00000, "BAR0 all ones reads 0x%x: 32-bit memory, not prefetchable, 1 MiB", mask);
	cfg_w32(C_BAR0, BAR_FIRST);
	report(cfg_r32(edu_dev, 0, C_BAR0) == BAR_FIRST, "placed at 0x%x", BAR_FIRST);
	report(mmio_r(BAR_FIRST, E_ID) == 0xFFFFFFFF, "no decode before COMMAND.MEMORY: open bus");
	cfg_w16(C_COMMAND, CMD_MEM);
	bar = BAR_FIRST;
	report(er(E_ID) == 0x010000ED, "memory decode on: identification 0x%x", er(E_ID));
	report(mmio_r(BAR_FIRST, BAR_SIZE - 4) == 0xFFFFFFFF, "its last dword has no register (all ones)");
	cfg_w32(C_BAR0, BAR_SECOND);
	report(mmio_r(BAR_SECOND, E_ID) == 0x010000ED && mmio_r(BAR_FIRST, E_ID) == 0xFFFFFFFF,
	       "moved while decoding: at 0x%x, gone from 0x%x", BAR_SECOND, BAR_FIRST);
	bar = BAR_SECOND;
	cfg_w16(C_COMMAND, 0);
	report(er(E_ID) == 0xFFFFFFFF, "decode off: open bus");
	cfg_w16(C_COMMAND, CMD_MEM);
	report(er(E_ID) == 0x010000ED, "decode on again");
}

/* ---- registers ---- */

static void test_registers(void)
{
	struct guest_costs c = guest_load_costs();
	uint64_t t0, dt;
	uint32_t st;

	ew(E_LIVE, 0x12345678);
	report(er(E_LIVE) == 0xEDCBA987, "liveness: ~0x12345678 = 0x%x", er(E_LIVE));
	ew(E_LIVE, 0);
	report(er(E_LIVE) == 0xFFFFFFFF, "liveness: ~0");
	ew(E_ID, 0);
	report(er(E_ID) == 0x010000ED, "identification is read-only");

	/* No printing between the write and the end of the wait: the
	 * console's port I/O takes simulated time too. */
	t0 = rdtsc();
	ew(E_FACT, 10);
	st = er(E_STATUS);
	while ((er(E_STATUS) & ST_COMPUTING) && rdtsc() - t0 < 100000000)
		cpu_pause();
	dt = rdtsc() - t0;
	report(st == ST_COMPUTING, "factorial started: status 0x%x", st);
	report(er(E_FACT) == 3628800, "10! = %u", er(E_FACT));
	/* sim/dev/dev.h EDU_FACT_PS: 1 us of simulated time. */
	if (c.valid)
		report(dt >= c.tsc_khz / 1000 && dt < 2 * c.tsc_khz / 1000,
		       "it took %lu TSC cycles: 1 us is %lu", (unsigned long)dt, (unsigned long)(c.tsc_khz / 1000));
	ew(E_FACT, 13);
	ew(E_FACT, 3);
	while (er(E_STATUS) & ST_COMPUTING)
		cpu_pause();
	report(er(E_FACT) == 1932053504u, "13! modulo 2^32; the write while computing was ignored");
}

/* ---- INTx through the IO-APIC ---- */

static void test_intx(void)
{
	unsigned pin = cfg_r8(C_INT_LINE);

	rte_set(pin, RTE_LEVEL | RTE_DEST(bsp_id) | VEC_INTX);
	reset_log(2);
	ew(E_RAISE, 0x100);
	report(apic_bit(R_IRR, VEC_INTX) && apic_bit(R_TMR, VEC_INTX),
	       "raise 0x100: vector 0x%x in the IRR, TMR set (level)", VEC_INTX);
	report(cfg_r16(C_STATUS) & STS_INTERRUPT, "status: interrupt pending");
	report(log_n == 0, "held while IF = 0");
	wait_irqs(2);
	report(log_n == 2 && log_vec[0] == VEC_INTX && log_vec[1] == VEC_INTX && log_isr[0] == 0x100 &&
	       log_isr[1] == 0x100,
	       "EOI without acknowledge: entered again (%u times, vector 0x%x, status 0x%x)", log_n, log_vec[0],
	       log_isr[0]);
	intr_window();
	report(log_n == 2, "acknowledged at 0x64, then EOI: no more");
	report(er(E_ISR) == 0 && !(rte_get(pin) & RTE_REMOTE_IRR) && !(cfg_r16(C_STATUS) & STS_INTERRUPT),
	       "interrupt status 0, remote IRR clear, INTx idle");

	reset_log(1);
	ew(E_STATUS, ST_IRQFACT);
	ew(E_FACT, 6);
	wait_irqs(1);
	report(log_n == 1 && log_vec[0] == VEC_INTX && log_isr[0] == 1 && er(E_FACT) == 720,
	       "factorial done: interrupt 0x1 on INTx (%u, status 0x%x), 6! = %u", log_n, log_isr[0], er(E_FACT));
	ew(E_STATUS, 0);

	reset_log(1);
	cfg_w16(C_COMMAND, CMD_MEM | CMD_INTX_DISABLE);
	ew(E_RAISE, 0x4);
	intr_window();
	report(log_n == 0 && !apic_bit(R_IRR, VEC_INTX) && (cfg_r16(C_STATUS) & STS_INTERRUPT),
	       "COMMAND.INTX_DISABLE: nothing delivered, status still shows it");
	cfg_w16(C_COMMAND, CMD_MEM);
	wait_irqs(1);
	report(log_n == 1 && log_isr[0] == 0x4, "re-enabled: delivered (%u)", log_n);
}

/* ---- MSI ---- */

static void msi_program(uint32_t dest, uint8_t vector)
{
	/* SDM Vol. 3A 10.11.1-2: 0xFEE, destination id in 19:12,
	 * physical (DM = 0), no redirection; fixed delivery, edge. */
	cfg_w32(msi_cap + MSI_ADDR_LO, 0xFEE00000u | dest << 12);
	cfg_w32(msi_cap + MSI_ADDR_HI, 0);
	cfg_w16(msi_cap + MSI_DATA, vector);
}

static void test_msi(void)
{
	unsigned pin = cfg_r8(C_INT_LINE);

	/* The INTx entry stays unmasked: it must hear nothing. */
	rte_set(pin, RTE_LEVEL | RTE_DEST(bsp_id) | VEC_INTX);
	cfg_w16(C_COMMAND, CMD_MEM | CMD_MASTER);
	msi_program(bsp_id, VEC_MSI);
	cfg_w16(msi_cap + MSI_CTRL, MSI_ENABLE);
	report(cfg_r16(msi_cap + MSI_CTRL) & MSI_ENABLE, "MSI enabled");

	reset_log(1);
	ew(E_RAISE, 0x200);
	report(apic_bit(R_IRR, VEC_MSI) && !apic_bit(R_TMR, VEC_MSI), "raise 0x200: vector 0x%x in the IRR, edge",
	       VEC_MSI);
	report(!apic_bit(R_IRR, VEC_INTX) && !(rte_get(pin) & RTE_REMOTE_IRR) &&
	       !(cfg_r16(C_STATUS) & STS_INTERRUPT), "INTx quiet while MSI is enabled");
	wait_irqs(1);
	intr_window();
	report(log_n == 1 && log_vec[0] == VEC_MSI && log_isr[0] == 0x200,
	       "the handler ran once on vector 0x%x (status 0x%x)", log_vec[0], log_isr[0]);
	report(er(E_ISR) == 0, "acknowledged");

	reset_log(1);
	ew(E_STATUS, ST_IRQFACT);
	ew(E_FACT, 5);
	wait_irqs(1);
	report(log_n == 1 && log_vec[0] == VEC_MSI && log_isr[0] == 1 && er(E_FACT) == 120,
	       "factorial done: MSI with status 0x%x, 5! = %u", log_isr[0], er(E_FACT));
	ew(E_STATUS, 0);

	/* Per-vector masking (PCI 3.0 6.8.3.4). */
	reset_log(1);
	cfg_w32(msi_cap + MSI_MASK, 1);
	ew(E_RAISE, 0x8);
	intr_window();
	report(log_n == 0 && !apic_bit(R_IRR, VEC_MSI), "masked: nothing sent");
	report(cfg_r32(edu_dev, 0, msi_cap + MSI_PENDING) == 1, "masked: pending bit set");
	cfg_w32(msi_cap + MSI_MASK, 0);
	report(apic_bit(R_IRR, VEC_MSI) && cfg_r32(edu_dev, 0, msi_cap + MSI_PENDING) == 0,
	       "unmasked: the pending message went out, pending bit clear");
	wait_irqs(1);
	report(log_n == 1 && log_vec[0] == VEC_MSI && log_isr[0] == 0x8, "and was handled (%u)", log_n);

	/* Bus mastering off: an MSI is a memory write, so none. */
	reset_log(1);
	cfg_w16(C_COMMAND, CMD_MEM);
	ew(E_RAISE, 0x10);
	intr_window();
	report(log_n == 0 && !apic_bit(R_IRR, VEC_MSI) && !apic_bit(R_IRR, VEC_INTX),
	       "bus mastering off: nothing sent, INTx quiet");
	ew(E_ACK, 0x10);
	cfg_w16(C_COMMAND, CMD_MEM | CMD_MASTER);

	/* MSI disabled: no message; INTx (masked at the IO-APIC here) takes over. */
	rte_set(pin, RTE_MASKED | RTE_LEVEL | RTE_DEST(bsp_id) | VEC_INTX);
	cfg_w16(msi_cap + MSI_CTRL, 0);
	reset_log(1);
	ew(E_RAISE, 0x20);
	intr_window();
	report(log_n == 0 && !apic_bit(R_IRR, VEC_MSI) && (cfg_r16(C_STATUS) & STS_INTERRUPT),
	       "MSI disabled: no message, the INTx status bit set instead");
	ew(E_ACK, 0x20);
	report(!(cfg_r16(C_STATUS) & STS_INTERRUPT), "acknowledged: INTx idle");
	rte_set(pin, RTE_MASKED);
}

/* ---- an AP as destination (--lps 2 or more) ---- */

static void test_msi_ap(void)
{
	unsigned n = fwcfg_present() ? fwcfg_read_u16(FW_CFG_NB_CPUS) : 1;
	struct ap_counter *d;
	bool ok;

	if (n < 2) {
		report_skip("MSI to an AP: run with --lps 2");
		return;
	}
	d = ap_start_counter(1, VEC_AP, 0);
	if (!report(d != NULL, "AP 1 started"))
		return;

	reset_log(1);
	msi_program(1, VEC_AP);
	cfg_w16(msi_cap + MSI_CTRL, MSI_ENABLE);
	ew(E_RAISE, 0x40);
	ok = wait_for_u32(&d->irqs, 1, 5000000);
	report(ok, "MSI to APIC id 1: the AP took it (%u)", d->irqs);
	report(log_n == 0 && !apic_bit(R_IRR, VEC_AP), "the BSP did not");
	ew(E_ACK, 0x40);
	ew(E_RAISE, 0x40);
	ok = wait_for_u32(&d->irqs, 2, 5000000);
	report(ok, "a second raise, a second message (%u)", d->irqs);
	ew(E_ACK, 0x40);
	n_msi += d->irqs;
	cfg_w16(msi_cap + MSI_CTRL, 0);
}

void test_main(uint32_t magic, struct multiboot_info *info)
{
	(void)magic;
	(void)info;
	bsp_id = apic_r(R_ID) >> 24;
	irq_set_handler(VEC_INTX, on_irq);
	irq_set_handler(VEC_MSI, on_irq);
	apic_w(R_SVR, SVR_ENABLE | 0xFF);
	test_enumerate();
	test_bar();
	test_registers();
	test_intx();
	test_msi();
	test_msi_ap();
	printf("edu: %u MSIs and %u INTx interrupts handled\n", n_msi, n_intx);
}
