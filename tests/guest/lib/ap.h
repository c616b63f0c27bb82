/* An application processor that counts interrupts, for interrupt-delivery
 * tests with --lps 2 or more (tests/guest/ioapic.c, pci_edu.c).
 *
 * ap_start_counter() copies a real-mode trampoline to AP_TRAMP_PA, points
 * the real-mode IVT entry of `vector` at its handler and starts the AP
 * with INIT-SIPI-SIPI (SDM Vol. 3A 8.4.4.1).  The AP switches its LAPIC to
 * x2APIC mode (its EOI is an MSR, reachable from real mode), enables it in
 * the SVR and halts with IF = 1.  Its handler records its TSC, counts,
 * writes the byte 0 to `lower_port` if that is not 0 (e.g. to lower an
 * interrupt-line test device line, so a level pin is serviced) and EOIs.
 * Everything it touches is below 1 MiB: AP_TRAMP_PA, AP_DATA_PA, the IVT
 * and a stack under 0x7000. */
#ifndef GUEST_AP_H
#define GUEST_AP_H

#include "guest.h"

#define AP_TRAMP_PA 0x8000ul	/* SIPI vector 0x08 */
#define AP_DATA_PA 0x9000ul

struct ap_counter {
	volatile uint32_t started;	/* 1 once the AP is up */
	volatile uint32_t irqs;		/* interrupts its handler took */
	volatile uint64_t tsc;		/* its TSC in its last handler, first thing */
	volatile uint16_t lower_port;	/* 0, or a port the handler writes 0 to */
};

/* The AP's mailbox once AP `apic_id` said it started (within 50 M TSC
 * cycles), else NULL. */
struct ap_counter *ap_start_counter(unsigned apic_id, unsigned vector, uint16_t lower_port);
/* Spin until *v == want or `cycles` TSC cycles have passed. */
bool wait_for_u32(volatile uint32_t *v, uint32_t want, uint64_t cycles);
void spin_tsc(uint64_t cycles);

#endif
