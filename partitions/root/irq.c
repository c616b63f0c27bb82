/* Interrupts (README.md "Interrupts"): the IDT's vectors 32-255, the
 * local APIC, the IO-APIC, and the PIT as a periodic tick.
 *
 * The same code runs on the bare platform and under the hypervisor.
 * Under hv_model every physical interrupt exits to the hypervisor, which
 * injects its vector into this kernel (docs/hypervisor.md "Physical
 * interrupts"); the LAPIC and the IO-APIC are the hardware's, reached
 * through the root's EPT, so the handler's EOI goes to the physical
 * LAPIC either way.
 *
 * Routing comes from the MADT (ACPI 6.x 5.2.12): the IO-APIC's address
 * and GSI base, and the interrupt source override of ISA IRQ 0 (the PIT,
 * on pin 2 on a PC).  The tick: PIT channel 0 in mode 2 (rate
 * generator, 8254 data sheet) at RK_TICK_HZ, its IRQ on that IO-APIC
 * pin, edge-triggered, fixed delivery to this LP's APIC id, vector
 * RK_VEC_TICK.  The 8259s are masked (their INTR reaches LINT0, which
 * stays masked too). */
#include <hv/marker.h>

#include "kernel.h"

#define RK_TICK_HZ 1000
#define PIT_HZ 1193182u			/* the 8254's input clock */
#define PIT_DIVISOR ((PIT_HZ + RK_TICK_HZ / 2) / RK_TICK_HZ)

#define LAPIC_BASE_MASK 0xfffff000ull	/* IA32_APIC_BASE bits 35:12 (SDM 10.4.4), below 4 GiB here */
#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_MASKED (1u << 16)

#define IOAPIC_DEFAULT 0xfec00000ull
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))
/* Redirection entry bits (82093AA data sheet, "I/O Redirection Table
 * Registers"). */
#define IOAPIC_LEVEL (1u << 15)		/* trigger mode: level */
#define IOAPIC_LOW (1u << 13)		/* polarity: active low */
#define IOAPIC_MASKED (1u << 16)

struct rk_irq_stats rk_irq_stats;

static uint64_t lapic, ioapic = IOAPIC_DEFAULT;
static unsigned ioapic_gsi_base, tick_gsi = 2;
static uint32_t tick_flags;		/* IOAPIC_LEVEL / IOAPIC_LOW from the override */
static uint64_t tick_start_tsc;
static bool tick_started;

static uint32_t lapic_read(unsigned reg)
{
	return *(volatile uint32_t *)rk_va(lapic + reg);
}

static void lapic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)rk_va(lapic + reg) = v;
}

static uint32_t ioapic_read(unsigned reg)
{
	*(volatile uint32_t *)rk_va(ioapic + IOAPIC_REGSEL) = reg;
	return *(volatile uint32_t *)rk_va(ioapic + IOAPIC_WIN);
}

static void ioapic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)rk_va(ioapic + IOAPIC_REGSEL) = reg;
	*(volatile uint32_t *)rk_va(ioapic + IOAPIC_WIN) = v;
}

/* ---- the MADT (ACPI 5.2.5 RSDP, 5.2.7 RSDT, 5.2.12 MADT) ---- */

static bool acpi_sum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;

	for (uint32_t i = 0; i < len; i++)
		s += p[i];
	return s == 0;
}

static uint32_t rd32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A table header at `pa` with signature `sig`, length within 64 KiB and a
 * good checksum; its length, or 0. */
static uint32_t acpi_table(uint64_t pa, const char *sig)
{
	const uint8_t *t = rk_va(pa);
	uint32_t len;

	if (!pa || pa >= 4 * RK_GIB || memcmp(t, sig, 4))
		return 0;
	len = rd32(t + 4);
	return len >= 36 && len <= 0x10000 && acpi_sum_ok(t, len) ? len : 0;
}

/* true if a MADT was found (else the PC defaults stay). */
static bool madt_parse(uint64_t rsdp_pa)
{
	const uint8_t *rsdp = rk_va(rsdp_pa), *rsdt, *madt = NULL;
	uint32_t rlen, mlen = 0;
	bool have_ioapic = false;

	if (!rsdp_pa || rsdp_pa >= RK_GIB || memcmp(rsdp, "RSD PTR ", 8) || !acpi_sum_ok(rsdp, 20))
		return false;
	rlen = acpi_table(rd32(rsdp + 16), "RSDT");
	rsdt = rk_va(rd32(rsdp + 16));
	for (uint32_t off = 36; rlen && off + 4 <= rlen && !madt; off += 4) {
		uint32_t pa = rd32(rsdt + off);

		if ((mlen = acpi_table(pa, "APIC")))
			madt = rk_va(pa);
	}
	for (uint32_t off = 44; madt && off + 2 <= mlen;) {
		uint8_t type = madt[off], len = madt[off + 1];

		if (len < 2 || off + len > mlen)
			break;
		if (type == 1 && len >= 12 && !have_ioapic) {	/* I/O APIC: the first one */
			ioapic = rd32(madt + off + 4);
			ioapic_gsi_base = rd32(madt + off + 8);
			have_ioapic = true;
		} else if (type == 2 && len >= 10 && madt[off + 2] == 0 && madt[off + 3] == 0) {
			/* Interrupt source override for ISA IRQ 0: MPS INTI
			 * flags, polarity 1:0 and trigger 3:2 (3 = low / level). */
			uint16_t fl = madt[off + 8] | (uint16_t)madt[off + 9] << 8;

			tick_gsi = rd32(madt + off + 4);
			tick_flags = ((fl & 3) == 3 ? IOAPIC_LOW : 0) | (((fl >> 2) & 3) == 3 ? IOAPIC_LEVEL : 0);
		}
		off += len;
	}
	return madt != NULL;
}

/* ---- setup ---- */

void rk_irq_init(const struct hv_bootinfo *bi)
{
	uint32_t pins;
	bool madt;

	for (unsigned v = RK_FIRST_IRQ_VECTOR; v < 256; v++)
		rk_cpu_set_gate(v, (uint64_t)(uintptr_t)rk_irq_stubs + (v - RK_FIRST_IRQ_VECTOR) * RK_IRQ_STUB_SIZE);

	/* The 8259 pair masked: only the IO-APIC delivers. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);

	/* The local APIC, software-enabled with its spurious vector (SDM
	 * 10.4.3, 10.9); TPR 0 accepts every class; LINT0/1 masked. */
	lapic = rdmsr(MSR_IA32_APIC_BASE) & LAPIC_BASE_MASK;
	lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | RK_VEC_SPURIOUS);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT1, LAPIC_LVT_MASKED);

	madt = madt_parse(bi->acpi_rsdp);
	pins = ((ioapic_read(IOAPIC_VER) >> 16) & 0xff) + 1;
	if (tick_gsi < ioapic_gsi_base || tick_gsi - ioapic_gsi_base >= pins)
		rk_panic("the PIT's GSI %u is not on the IO-APIC at 0x%lx (GSIs %u-%u)", tick_gsi,
			 (unsigned long)ioapic, ioapic_gsi_base, ioapic_gsi_base + pins - 1);
	rk_printf("root: IDT vectors %u-255 for interrupts; LAPIC 0x%lx id %u; IO-APIC 0x%lx (%u pins from GSI %u); "
		  "ISA IRQ 0 -> GSI %u (%s)\n",
		  RK_FIRST_IRQ_VECTOR, (unsigned long)lapic, lapic_read(LAPIC_ID) >> 24, (unsigned long)ioapic, pins,
		  ioapic_gsi_base, tick_gsi, madt ? "from the MADT" : "no MADT: PC defaults");
}

/* The PIT ticks from now on: channel 0, lobyte/hibyte, mode 2, binary
 * (8254: control word 0x34), its IO-APIC pin unmasked. */
void rk_tick_start(void)
{
	unsigned pin = tick_gsi - ioapic_gsi_base;

	if (tick_started)
		return;
	/* The control word sets OUT high in mode 2 (8254 data sheet): a
	 * rising edge before any count, which the pin, still masked, does
	 * not pass on.  The first tick is the end of the first count. */
	outb(0x43, 0x34);
	outb(0x40, PIT_DIVISOR & 0xff);
	outb(0x40, PIT_DIVISOR >> 8);
	tick_start_tsc = rdtsc();
	ioapic_write(IOAPIC_REDTBL(pin) + 1, (lapic_read(LAPIC_ID) >> 24) << 24);	/* physical destination */
	ioapic_write(IOAPIC_REDTBL(pin), RK_VEC_TICK | tick_flags);	/* fixed, unmasked */
	tick_started = true;
	rk_printf("root: PIT channel 0 at %u Hz (divisor %u) on GSI %u, vector 0x%x\n", RK_TICK_HZ, PIT_DIVISOR,
		  tick_gsi, RK_VEC_TICK);
}

/* ---- the handler ---- */

void rk_irq(struct rk_frame *f)
{
	HV_MARKER(HV_MARK_ROOT_ISR, f->vector);
	rk_irq_stats.total++;
	if (f->cs & 3)
		rk_irq_stats.from_user++;
	if (f->vector == RK_VEC_SPURIOUS) {
		rk_irq_stats.spurious++;	/* no EOI for a spurious interrupt (SDM 10.9) */
		return;
	}
	if (f->vector == RK_VEC_TICK)
		rk_irq_stats.ticks++;
	else
		rk_irq_stats.other++;
	lapic_write(LAPIC_EOI, 0);
}

/* ---- waiting ---- */

/* STI; HLT: the STI shadow covers the HLT, so an interrupt pending now
 * wakes it instead of being taken before it (SDM Vol. 2B, STI).  The
 * jump ends the block, where the simulator takes interrupts. */
void rk_irq_wait(void)
{
	asm volatile("sti; hlt; jmp 1f; 1: cli" : : : "memory");
}

/* The tick's vector is requested or in service at the LAPIC: IRR bit
 * (the bare platform) or ISR bit (under the hypervisor, which
 * acknowledged it at its VM exit) (SDM 10.8.4). */
static bool tick_pending(void)
{
	unsigned reg = (RK_VEC_TICK / 32) * 0x10, bit = RK_VEC_TICK % 32;

	return ((lapic_read(0x200 + reg) | lapic_read(0x100 + reg)) >> bit) & 1;
}

/* A tick pending when the kernel halts ends the HLT at once (SDM Vol. 2A,
 * HLT: after STI the interrupt is recognised at the HLT).  Returns true
 * if it did: one tick taken, well before the next could come. */
static bool rk_hlt_with_tick_pending(uint64_t tsc_khz)
{
	uint64_t t, before, dt;

	/* Take whatever is pending already (the window opens after the
	 * instruction that follows STI; the jump ends the block), then wait
	 * with IF = 0 until exactly one tick is. */
	asm volatile("sti; nop; jmp 1f; 1: cli" : : : "memory");
	t = rdtsc();
	while (!tick_pending() && rdtsc() - t < 3 * tsc_khz)
		;
	before = rk_irq_stats.ticks;
	t = rdtsc();
	rk_irq_wait();
	dt = rdtsc() - t;
	return rk_report(rk_irq_stats.ticks == before + 1 && dt < tsc_khz / 4,
			 "a tick pending at STI; HLT ends the HLT at once: %lu tick in %lu TSC cycles (want 1, "
			 "under a quarter of the period)",
			 (unsigned long)(rk_irq_stats.ticks - before), (unsigned long)dt);
}

void rk_tick_check(uint64_t tsc_khz)
{
	uint64_t want, t0, elapsed, expect;
	unsigned long waits = 0;

	rk_tick_start();
	rk_hlt_with_tick_pending(tsc_khz);
	want = rk_irq_stats.ticks + 3;
	t0 = rdtsc();
	while (rk_irq_stats.ticks < want && waits < 100) {
		rk_irq_wait();
		waits++;
	}
	elapsed = rdtsc() - tick_start_tsc;
	/* Ticks expected in `elapsed` TSC cycles: PIT_HZ / divisor per second. */
	expect = tsc_khz ? elapsed * PIT_HZ / PIT_DIVISOR / (tsc_khz * 1000) : 0;
	rk_report(rk_irq_stats.ticks >= want && waits <= 6,
		  "HLT woke on the tick: 3 more ticks in %lu HLTs and %lu TSC cycles", waits,
		  (unsigned long)(rdtsc() - t0));
	rk_report(rk_irq_stats.ticks + 1 >= expect && rk_irq_stats.ticks <= expect + 1 && rk_irq_stats.other == 0,
		  "timer: %lu ticks of the PIT (IRQ 0 -> GSI %u -> vector 0x%x) in %lu TSC cycles at %u Hz: want %lu +- 1; "
		  "%lu from ring 3, %lu spurious, %lu other",
		  (unsigned long)rk_irq_stats.ticks, tick_gsi, RK_VEC_TICK, (unsigned long)elapsed, RK_TICK_HZ,
		  (unsigned long)expect, (unsigned long)rk_irq_stats.from_user, (unsigned long)rk_irq_stats.spurious,
		  (unsigned long)rk_irq_stats.other);
}
