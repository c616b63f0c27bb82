/* The SystemC timing kernel, seen from C. */
#ifndef SIM_SYSTEMC_SC_KERNEL_H
#define SIM_SYSTEMC_SC_KERNEL_H

#include "clock.h"

#ifdef __cplusplus
extern "C" {
#endif

struct machine;

/* The clock devices are given: SystemC time, or the running LP's local
 * time while an LP executes (loosely timed, within one quantum). */
struct sim_clock *sc_kernel_clock(void);
/* Elaborate one thread per LP and an event thread, then run until the
 * machine ends.  Call once per process. */
int sc_kernel_run(struct machine *m);
/* Something arrived for LP `lp` (an interrupt, INIT, SIPI): a halted or
 * waiting LP looks at it, at the current (sender's) simulated time. */
void sc_kernel_wake(unsigned lp);

#ifdef __cplusplus
}
#endif

#endif
