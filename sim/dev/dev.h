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

#endif
