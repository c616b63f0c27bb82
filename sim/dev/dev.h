/* Platform devices of the simulated PC.  Each registers its ports or MMIO
 * window with the memory map and keeps its own state; none knows the CPU.
 * All of them are unit-tested alone (tests/unit/test_<device>.c). */
#ifndef SIM_DEV_H
#define SIM_DEV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "irq.h"
#include "memmap.h"

/* 16550A UART (COM1 is base 0x3F8, IRQ 4).  Transmitted bytes go to
 * `console` (may be NULL) and are kept for the report.  There is no
 * input: RBR reads 0 and LSR.DR stays clear. */
#define UART_COM1_BASE 0x3F8
struct uart;
struct uart *uart_new(struct memmap *m, uint16_t base, struct irq_line irq, FILE *console);
void uart_free(struct uart *u);
const char *uart_output(const struct uart *u, size_t *len);	/* NUL-terminated */

/* isa-debug-exit: a write of v to the port ends the run with exit status
 * (v << 1) | 1 (QEMU's convention, used by freestanding test kernels). */
#define DEBUGEXIT_PORT 0xF4
typedef void debugexit_fn(void *opaque, uint32_t value);
struct debugexit;
struct debugexit *debugexit_new(struct memmap *m, uint16_t port, debugexit_fn *fn, void *opaque);
void debugexit_free(struct debugexit *d);

/* QEMU fw_cfg, I/O-port interface: selector at 0x510 (16-bit write), data
 * at 0x511 (8-bit reads, advancing).  Keys: signature "QEMU", ID, RAM size,
 * CPU counts, file directory; files added with fwcfg_add_file. */
#define FWCFG_PORT_SEL 0x510
#define FWCFG_PORT_DATA 0x511
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NOGRAPHIC 0x04
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_FILE_DIR 0x19
#define FW_CFG_FILE_FIRST 0x20
struct fwcfg;
struct fwcfg *fwcfg_new(struct memmap *m, uint64_t ram_size, unsigned ncpus);
void fwcfg_free(struct fwcfg *f);
/* Copies data; name at most 55 characters.  Returns the key or -errno. */
int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, size_t len);

/* PCI configuration mechanism #1 (0xCF8 address, 0xCFC-0xCFF data) on
 * bus 0: a host bridge at 00:00.0 and the functions devices register with
 * pci_register; absent functions read all ones. */
#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC
#define PCI_HOST_BRIDGE_VENDOR 0x8086
#define PCI_HOST_BRIDGE_DEVICE 0x1237	/* i440FX */

/* Type 0 configuration header (PCI 3.0 6.1, 6.2). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0A
#define PCI_HEADER_TYPE 0x0E
#define PCI_BAR0 0x10			/* six BARs, 0x10-0x27 */
#define PCI_CAP_PTR 0x34
#define PCI_INTERRUPT_LINE 0x3C
#define PCI_INTERRUPT_PIN 0x3D		/* 1 = INTA# */
#define PCI_COMMAND_MEMORY 0x0002	/* memory space enable */
#define PCI_COMMAND_MASTER 0x0004	/* bus master enable */
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_INTERRUPT 0x0008	/* INTx# pending (whatever INTX_DISABLE says) */
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_BAR_NONE (~0ull)		/* pci_bar_decoded: memory decode is off */

/* The MSI capability with a 64-bit address and per-vector masking
 * (PCI 3.0 6.8.1, Figure 6-9): offsets from the capability. */
#define PCI_CAP_ID_MSI 0x05
#define PCI_MSI_CTRL 0x02
#define PCI_MSI_ADDR_LO 0x04
#define PCI_MSI_ADDR_HI 0x08
#define PCI_MSI_DATA 0x0C
#define PCI_MSI_MASK 0x10
#define PCI_MSI_PENDING 0x14
#define PCI_MSI_CAP_SIZE 0x18
#define PCI_MSI_CTRL_ENABLE 0x0001
#define PCI_MSI_CTRL_MME 0x0070		/* multiple message enable */
#define PCI_MSI_CTRL_64BIT 0x0080
#define PCI_MSI_CTRL_PVM 0x0100		/* per-vector masking capable */

struct pci;
/* One function's configuration space, owned by its device (which
 * embeds it) and reached through the bus once registered. */
struct pci_function {
	uint8_t cfg[256];
	uint8_t wmask[256];	/* 1 bits are writable */
	/* After a configuration write to bytes reg..reg+size-1 (may be NULL). */
	void (*written)(void *opaque, unsigned reg, unsigned size);
	void *opaque;
	/* set by the bus */
	struct pci *bus;
	uint8_t devfn;		/* device << 3 | function */
	uint8_t msi_cap;	/* offset of the MSI capability, 0 = none */
	uint64_t msi_pending_ps;	/* when the pending message was signalled */
};

/* Where the bus sends a function's MSI: a dword memory write of `data`
 * to `addr` by function devfn, signalled at assert_ps. */
typedef void pci_msi_fn(void *opaque, uint64_t addr, uint32_t data, uint64_t assert_ps, unsigned devfn);

struct pci *pci_new(struct memmap *m);
void pci_free(struct pci *p);
void pci_set_msi_sink(struct pci *p, pci_msi_fn *fn, void *opaque);
/* Puts f at 00:dev.fn; 0, -EINVAL (out of range) or -EBUSY (taken). */
int pci_register(struct pci *p, unsigned dev, unsigned fn, struct pci_function *f);
void pci_unregister(struct pci *p, struct pci_function *f);

/* Helpers for devices: a fresh header (class_code is base class << 16 |
 * sub-class << 8 | programming interface, every register read-only); a
 * 32-bit memory BAR of `size` (a power of two, at least 16) holding base;
 * where BAR `bar` decodes now, or PCI_BAR_NONE; an MSI capability at off
 * (PCI_MSI_CAP_SIZE bytes), one vector. */
void pci_config_init(struct pci_function *f, uint16_t vendor, uint16_t device, uint8_t revision,
		     uint32_t class_code);
void pci_bar_mem32(struct pci_function *f, unsigned bar, uint32_t size, uint32_t base);
uint64_t pci_bar_decoded(const struct pci_function *f, unsigned bar);
void pci_msi_init(struct pci_function *f, unsigned off);
int pci_msi_enabled(const struct pci_function *f);
/* The function signals its MSI: sent now if enabled, unmasked and bus
 * mastering is on; held in the pending bit if masked (sent at unmask,
 * timed from assert_ps).  Returns 1 if a message went out. */
int pci_msi_notify(struct pci_function *f, uint64_t assert_ps);
uint16_t pci_cfg16(const struct pci_function *f, unsigned reg);
uint32_t pci_cfg32(const struct pci_function *f, unsigned reg);

/* QEMU's educational PCI device "edu" (QEMU docs/specs/edu.rst;
 * docs/platform.md "PCI"): BAR0 is 1 MiB of registers, identification,
 * liveness, a factorial unit and an interrupt raised on demand, through
 * INTA# or MSI.  The DMA engine (0x80-0x98) is not modelled. */
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11E8
#define EDU_BAR0_SIZE 0x100000u
#define EDU_ID 0x010000EDu		/* version 1.0 */
#define EDU_FACT_PS (1 * SIM_PS_PER_US)	/* a factorial's service time */
#define EDU_MSI_CAP 0x40
/* BAR0 registers */
#define EDU_REG_ID 0x00
#define EDU_REG_LIVENESS 0x04		/* reads the inverse of what was written */
#define EDU_REG_FACT 0x08
#define EDU_REG_STATUS 0x20
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64
#define EDU_STATUS_COMPUTING 0x01	/* read-only */
#define EDU_STATUS_IRQFACT 0x80		/* raise interrupt 0x1 when a factorial is done */
#define EDU_IRQ_FACT 0x00000001u
struct edu_config {
	struct memmap *mem;
	struct pci *pci;
	unsigned dev;			/* slot on bus 0, function 0 */
	uint32_t bar0;			/* BAR0 after reset (memory decode off) */
	uint8_t intx_line;		/* Interrupt Line after reset: where INTA# goes */
	const struct sim_clock *clk;
	struct irq_line intx;		/* INTA#, 1 = asserted */
};
struct edu;
struct edu *edu_new(const struct edu_config *c);
void edu_free(struct edu *e);

/* ACPI PM timer: a 32-bit counter (FADT TMR_VAL_EXT) at 3.579545 MHz of
 * simulated time. */
#define PMTIMER_PORT 0x608
#define PMTIMER_HZ 3579545ull
struct pmtimer;
struct pmtimer *pmtimer_new(struct memmap *m, uint16_t port, const struct sim_clock *clk);
void pmtimer_free(struct pmtimer *t);
uint32_t pmtimer_value_at(uint64_t ps);	/* counter value at simulated time */

/* The cascaded 8259A pair: master at 0x20/0x21, slave at 0xA0/0xA1 on the
 * master's IR2, ELCR at 0x4D0/0x4D1 (1 = level-triggered IRQ).  INTR is
 * reported through `intr` on every change (wire it to LINT0); pic_ack is
 * the INTA sequence and returns the vector (the default IR7 vector of the
 * master or slave for a request that went away). */
#define PIC_MASTER_PORT 0x20
#define PIC_SLAVE_PORT 0xA0
#define PIC_ELCR_PORT 0x4D0
#define PIC_NIRQS 16
typedef void pic_intr_fn(void *opaque, int level);
struct pic;
struct pic *pic_new(struct memmap *m, pic_intr_fn *intr, void *opaque);
void pic_free(struct pic *p);
void pic_set_irq(struct pic *p, unsigned irq, int level);	/* irq 0-15; 2 is the cascade, ignored */
void pic_irq_set(void *p, unsigned irq, int level);	/* irq_set_fn */
int pic_ack(struct pic *p);
/* The ISA IRQ (0-15) that drives INTR now, or -1: for the routing report. */
int pic_intr_irq(const struct pic *p);

/* The 8254 PIT at 0x40-0x43 and system control port B (0x61: bit 0
 * channel-2 gate, bit 1 speaker data, bit 4 refresh toggle, bit 5 channel-2
 * output).  Input clock 1.193182 MHz of simulated time; channel 0's
 * output drives `irq0` (events are scheduled only for its edges, and none
 * when irq0 is unconnected). */
#define PIT_PORT 0x40
#define PIT_PORT_B 0x61
#define PIT_HZ 1193182ull
struct pit;
struct pit *pit_new(struct memmap *m, const struct sim_clock *clk, struct irq_line irq0);
void pit_free(struct pit *t);
/* Input clock edges up to time ps, and the time of edge k (exact). */
uint64_t pit_tick_at(uint64_t ps);
uint64_t pit_tick_time(uint64_t tick);

/* Interrupt-line test device: a byte write of 1 or 0 to port 0x2000 + n
 * (n < 24) raises or lowers line n through set(opaque, n, level); other
 * values are ignored.  Reads return the level last written. */
#define IRQTEST_PORT 0x2000
#define IRQTEST_NLINES 24
struct irqtest;
struct irqtest *irqtest_new(struct memmap *m, uint16_t port, irq_set_fn *set, void *opaque);
void irqtest_free(struct irqtest *t);

#endif
