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

/* PCI configuration mechanism #1 (0xCF8 address, 0xCFC-0xCFF data) with a
 * host bridge at 00:00.0; absent functions read all ones. */
#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC
#define PCI_HOST_BRIDGE_VENDOR 0x8086
#define PCI_HOST_BRIDGE_DEVICE 0x1237	/* i440FX */
struct pci;
struct pci *pci_new(struct memmap *m);
void pci_free(struct pci *p);

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
