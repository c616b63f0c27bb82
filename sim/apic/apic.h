/* Interrupt controllers of the simulated PC: one local APIC per LP
 * (lapic.c), the IO-APIC (ioapic.c), and the APIC bus that carries
 * interprocessor interrupts, IO-APIC redirections and MSIs between them
 * (bus.c).  The 8259 pair and the 8254 PIT are devices (sim/dev/).
 *
 * None of this knows the CPU.  The CPU asks its LAPIC whether an interrupt
 * is deliverable (lapic_has_intr), acknowledges it (lapic_ack_intr) and
 * takes NMI/INIT/SIPI/SMI events (lapic_take_events); the LAPIC tells the
 * machine that something arrived through its `kick` callback.
 *
 * Every interrupt carries its origin (source kind, assertion time) from
 * the source to the acknowledgement, so the CPU can report each stage of
 * its routing (issue 5 "Measurement"). */
#ifndef SIM_APIC_H
#define SIM_APIC_H

#include <stdint.h>

#include "clock.h"

#define APIC_DEFAULT_BASE 0xFEE00000ull	/* IA32_APIC_BASE after reset */
#define IOAPIC_DEFAULT_BASE 0xFEC00000ull
#define IOAPIC_PINS 24

/* IA32_APIC_BASE (SDM Vol. 3 10.4.4) */
#define MSR_IA32_APIC_BASE 0x1B
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10)	/* x2APIC mode */
#define APIC_BASE_EN (1ull << 11)	/* global enable */
#define MSR_IA32_TSC_DEADLINE 0x6E0
#define MSR_X2APIC_FIRST 0x800
#define MSR_X2APIC_LAST 0x8FF

/* xAPIC register offsets in the 4 KiB page (SDM Vol. 3 Table 10-1); in
 * x2APIC mode the register at offset o is MSR 0x800 + o / 16 (Table 10-6). */
#define LAPIC_REG_ID 0x020
#define LAPIC_REG_VERSION 0x030
#define LAPIC_REG_TPR 0x080
#define LAPIC_REG_APR 0x090	/* xAPIC only */
#define LAPIC_REG_PPR 0x0A0
#define LAPIC_REG_EOI 0x0B0
#define LAPIC_REG_RRD 0x0C0	/* xAPIC only */
#define LAPIC_REG_LDR 0x0D0
#define LAPIC_REG_DFR 0x0E0	/* xAPIC only */
#define LAPIC_REG_SVR 0x0F0
#define LAPIC_REG_ISR 0x100	/* 8 registers of 32 vectors each */
#define LAPIC_REG_TMR 0x180
#define LAPIC_REG_IRR 0x200
#define LAPIC_REG_ESR 0x280
#define LAPIC_REG_LVT_CMCI 0x2F0
#define LAPIC_REG_ICR_LO 0x300	/* x2APIC: the whole 64-bit ICR */
#define LAPIC_REG_ICR_HI 0x310	/* xAPIC only */
#define LAPIC_REG_LVT_TIMER 0x320	/* LVT 0x320-0x370: LAPIC_LVT_TIMER..ERROR */
#define LAPIC_REG_LVT_THERMAL 0x330
#define LAPIC_REG_LVT_PMC 0x340
#define LAPIC_REG_LVT_LINT0 0x350
#define LAPIC_REG_LVT_LINT1 0x360
#define LAPIC_REG_LVT_ERROR 0x370
#define LAPIC_REG_TIMER_INIT 0x380
#define LAPIC_REG_TIMER_CUR 0x390
#define LAPIC_REG_TIMER_DCR 0x3E0
#define LAPIC_REG_SELF_IPI 0x3F0	/* x2APIC only */
#define LAPIC_REG_MSR(off) (MSR_X2APIC_FIRST + (off) / 16)

/* Delivery modes: ICR, LVT and redirection-entry bits 10:8 (SDM Vol. 3
 * 10.6.1, 10.5.1; IO-APIC datasheet 3.2.4). */
enum apic_dm {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_STARTUP = 6,
	APIC_DM_EXTINT = 7,
};

/* ICR destination shorthand, bits 19:18 */
enum apic_shorthand {
	APIC_SH_NONE = 0,
	APIC_SH_SELF = 1,
	APIC_SH_ALL = 2,	/* all including self */
	APIC_SH_OTHERS = 3,	/* all excluding self */
};

/* Where an interrupt came from, for the routing report.  Values are
 * stable: they appear in traces. */
enum irq_source_kind {
	IRQ_SRC_PIN = 0,	/* a device line into the IO-APIC (or the 8259) */
	IRQ_SRC_MSI = 1,
	IRQ_SRC_IPI = 2,
	IRQ_SRC_LAPIC_TIMER = 3,
	IRQ_SRC_LINT = 4,	/* LINT0/LINT1 as a fixed or NMI interrupt */
	IRQ_SRC_ERROR = 5,	/* LVT error, thermal, PMC, CMCI */
	IRQ_SRC_SYNTH_TIMER = 6,	/* assigned by the hypervisor's markers */
	IRQ_SRC_SYNIC_MSG = 7,
	IRQ_SRC_EVENT_FLAG = 8,
	IRQ_SRC_HV_KICK = 9,	/* an IPI the hypervisor sends between LPs (lapic_set_ipi_kind) */
	IRQ_SRC_VAPIC_TIMER = 10,	/* a VP's virtual APIC timer (the hypervisor's markers) */
	IRQ_SRC_VIPI = 11,	/* an IPI between VPs, through the hypervisor */
	IRQ_SRC_KINDS
};
const char *irq_source_kind_name(enum irq_source_kind k);

/* When and from what an interrupt started, and when a LAPIC accepted it
 * into its IRR. */
struct irq_origin {
	uint64_t assert_ps;	/* the source asserted it */
	uint64_t route_ps;	/* the IO-APIC or MSI decode sent it (= assert for IPIs and local sources) */
	uint64_t accept_ps;	/* the LAPIC set the IRR bit */
	uint8_t kind;		/* enum irq_source_kind */
	uint8_t pin;		/* IO-APIC pin, LVT index (LAPIC_LVT_*), sender APIC id or PCI devfn (MSI), by kind */
};

/* The local vector table, in the order of the xAPIC registers 0x320-0x370
 * with CMCI (0x2F0) last; the index is the `pin` of a local source. */
enum lapic_lvt {
	LAPIC_LVT_TIMER = 0,
	LAPIC_LVT_THERMAL = 1,
	LAPIC_LVT_PMC = 2,
	LAPIC_LVT_LINT0 = 3,
	LAPIC_LVT_LINT1 = 4,
	LAPIC_LVT_ERROR = 5,
	LAPIC_LVT_CMCI = 6,
	LAPIC_LVT_COUNT
};

/* A message on the APIC bus: an IPI, an IO-APIC redirection or an MSI. */
#define APIC_NO_SOURCE 0xFFFFFFFFu
struct apic_msg {
	uint32_t dest;		/* destination field: 8 bits in xAPIC, 32 in x2APIC format */
	uint32_t src;		/* LP index of the sending LAPIC (shorthands), or APIC_NO_SOURCE */
	uint8_t vector;
	uint8_t dm;		/* enum apic_dm */
	uint8_t logical;	/* destination mode: 1 = logical */
	uint8_t level;		/* trigger mode: 1 = level */
	uint8_t assert;		/* level: 0 only for an INIT level de-assert */
	uint8_t shorthand;	/* enum apic_shorthand */
	uint8_t x2apic;		/* dest is an x2APIC (32-bit) destination */
	struct irq_origin origin;
};

struct lapic;
struct apic_bus;

/* ---- the APIC bus (bus.c) ---- */

struct apic_bus *apic_bus_new(unsigned nlps);
void apic_bus_free(struct apic_bus *b);
void apic_bus_attach(struct apic_bus *b, unsigned lp, struct lapic *l);
/* The clock MSI decode stamps route_ps with; without one, route_ps is the
 * caller's assert_ps. */
void apic_bus_set_clock(struct apic_bus *b, const struct sim_clock *clk);
/* Deliver to every LAPIC the destination selects (SDM Vol. 3 10.6.2):
 * physical or logical (flat / cluster per DFR, x2APIC cluster), broadcast,
 * shorthands, lowest priority arbitrated by the LAPICs' PPR (ties go to
 * the lowest LP index, so runs are deterministic).  Returns how many
 * LAPICs accepted it. */
unsigned apic_bus_send(struct apic_bus *b, const struct apic_msg *m);
unsigned apic_bus_send_cb(void *bus, const struct apic_msg *m);	/* apic_send_fn */
/* An MSI write to 0xFEExxxxx (SDM Vol. 3 10.11): decodes address and data
 * into a message and sends it; returns how many LAPICs accepted it, or -1
 * if the address is not an MSI address.  *o (may be NULL) gives
 * assert_ps; kind is set to IRQ_SRC_MSI. */
int apic_bus_msi(struct apic_bus *b, uint64_t addr, uint32_t data, const struct irq_origin *o);
/* A LAPIC's EOI of a level-triggered vector is broadcast to the IO-APIC
 * (unless the LAPIC suppresses it: directed EOI). */
typedef void apic_eoi_fn(void *opaque, uint8_t vector);
void apic_bus_set_eoi_listener(struct apic_bus *b, apic_eoi_fn *fn, void *opaque);
void apic_bus_eoi(struct apic_bus *b, uint8_t vector);
/* ExtINT acknowledge: the 8259 supplies the vector (INTA cycle). */
typedef int apic_extint_ack_fn(void *opaque);
void apic_bus_set_extint(struct apic_bus *b, apic_extint_ack_fn *fn, void *opaque);
int apic_bus_extint_ack(struct apic_bus *b);
/* The 8259's INTR output, wired to LINT0 of every LAPIC (virtual wire). */
void apic_bus_set_lint0(struct apic_bus *b, int level, const struct irq_origin *o);
struct lapic *apic_bus_lapic(const struct apic_bus *b, unsigned lp);
unsigned apic_bus_count(const struct apic_bus *b);

/* ---- local APIC (lapic.c) ---- */

struct lapic_config {
	unsigned index;		/* LP index; the initial APIC id */
	int bsp;		/* IA32_APIC_BASE.BSP */
	const struct sim_clock *clk;
	uint64_t tsc_khz;	/* the TSC's rate: TSC-deadline mode compares against it */
	uint64_t bus_khz;	/* the timer's input clock, before the divide configuration */
	unsigned phys_bits;	/* MAXPHYADDR: IA32_APIC_BASE bits above it are reserved; 0 means 36 */
	struct apic_bus *bus;
	/* Something arrived for the LP (a deliverable interrupt, NMI, INIT,
	 * SIPI, SMI): check lapic_has_intr / lapic_take_events soon.  May be
	 * called from any context, including while the LP runs. */
	void (*kick)(void *opaque);
	void *opaque;
};

/* NULL with errno EINVAL without a clock, tsc_khz or bus_khz.  A LAPIC
 * without a bus sends no IPIs, broadcasts no EOIs and gets the spurious
 * vector for an ExtINT acknowledge. */
struct lapic *lapic_new(const struct lapic_config *cfg);
void lapic_free(struct lapic *l);
/* Power-on reset (init = 0) or INIT (init = 1), SDM Vol. 3 10.4.7.1 and
 * 10.12.5.1: INIT keeps IA32_APIC_BASE and the APIC id. */
void lapic_reset(struct lapic *l, int init);

uint64_t lapic_base_msr(const struct lapic *l);
/* IA32_APIC_BASE write; -1 means #GP (reserved bits, invalid mode
 * transition of SDM Vol. 3 10.12.5, Figure 10-27). */
int lapic_write_base_msr(struct lapic *l, uint64_t v);
uint64_t lapic_mmio_base(const struct lapic *l);	/* physical base of the xAPIC page */
int lapic_xapic_mmio_enabled(const struct lapic *l);	/* globally enabled, not x2APIC */
int lapic_x2apic_mode(const struct lapic *l);
/* Software enabled: SVR bit 8 (SDM Vol. 3 10.4.7.2); fixed and
 * lowest-priority interrupts are accepted only then. */
int lapic_sw_enabled(const struct lapic *l);
/* The APIC id destinations match: the 8-bit xAPIC id (writable in xAPIC
 * mode) or the 32-bit x2APIC id (= the LP index). */
uint32_t lapic_id(const struct lapic *l);

/* xAPIC register access: offset in the 4 KiB page.  Accesses are 32-bit;
 * a register's bytes 4-15 read 0 and ignore writes. */
uint32_t lapic_mmio_read(struct lapic *l, uint32_t offset);
void lapic_mmio_write(struct lapic *l, uint32_t offset, uint32_t value);
/* x2APIC MSRs 0x800-0x8FF (SDM Vol. 3 10.12.1.2); -1 means #GP. */
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *v);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t v);
uint64_t lapic_tsc_deadline(const struct lapic *l);
void lapic_set_tsc_deadline(struct lapic *l, uint64_t tsc);
/* The whole 8-bit TPR.  CR8 is TPR[7:4] (SDM Vol. 3 10.8.6.1): MOV to CR8
 * sets the TPR to cr8 << 4, MOV from CR8 reads lapic_tpr() >> 4. */
uint8_t lapic_tpr(const struct lapic *l);
void lapic_set_tpr(struct lapic *l, uint8_t tpr);

/* The vector of the highest-priority interrupt the LAPIC would present to
 * its LP now (IRR above the PPR's class, software-enabled), APIC_EXTINT_PENDING
 * for an ExtINT from LINT0, or -1. */
#define APIC_EXTINT_PENDING 0x100
int lapic_has_intr(const struct lapic *l);
/* The INTA cycle: moves the highest IRR vector to the ISR (or asks the
 * 8259 for an ExtINT) and returns the vector; the spurious vector if
 * nothing is deliverable any more.  *o (may be NULL) gets its origin. */
int lapic_ack_intr(struct lapic *l, struct irq_origin *o);

/* The vector the next EOI retires: the highest ISR bit, or -1. */
int lapic_isr_top(const struct lapic *l);
/* The next IPI this LAPIC sends (the next write of the ICR's low half or
 * SELF IPI, whatever it sends) is reported as source `kind` instead of
 * IRQ_SRC_IPI: software that tells hvsim what its IPI is for (the
 * hypervisor's kicks, include/hv/marker.h HV_MARK_KICK). */
void lapic_set_ipi_kind(struct lapic *l, enum irq_source_kind kind);

#define LAPIC_EV_NMI (1u << 0)
#define LAPIC_EV_INIT (1u << 1)
#define LAPIC_EV_SIPI (1u << 2)
#define LAPIC_EV_SMI (1u << 3)
/* Takes (clears) the pending NMI/INIT/SIPI/SMI events; *sipi_vector gets
 * the last SIPI's vector. */
unsigned lapic_take_events(struct lapic *l, uint8_t *sipi_vector);
unsigned lapic_pending_events(const struct lapic *l);

/* From the bus: accept a message this LAPIC is a destination of. */
void lapic_accept(struct lapic *l, const struct apic_msg *m);
/* LINT0/LINT1 input levels. */
void lapic_set_lint(struct lapic *l, unsigned pin, int level, const struct irq_origin *o);
/* Processor priority (SDM Vol. 3 10.8.3.1), for lowest-priority arbitration. */
uint8_t lapic_ppr(const struct lapic *l);
/* Whether the LAPIC matches a logical destination (SDM Vol. 3 10.6.2.2). */
int lapic_match_logical(const struct lapic *l, uint32_t dest, int x2apic_format);

/* ---- IO-APIC (ioapic.c) ---- */

struct memmap;
struct ioapic;
/* The IO-APIC sends redirections through `send` (apic_bus_send with the
 * bus as opaque in a machine; a recorder in unit tests). */
typedef unsigned apic_send_fn(void *opaque, const struct apic_msg *m);
struct ioapic *ioapic_new(struct memmap *m, uint64_t base, uint8_t id, apic_send_fn *send, void *send_opaque,
			  const struct sim_clock *clk);
void ioapic_free(struct ioapic *io);
/* Input pin level (irq_set_fn compatible through ioapic_irq_set). */
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
void ioapic_irq_set(void *io, unsigned pin, int level);
/* A LAPIC's EOI broadcast (apic_eoi_fn compatible through ioapic_eoi_cb). */
void ioapic_eoi(struct ioapic *io, uint8_t vector);
void ioapic_eoi_cb(void *io, uint8_t vector);

#endif
