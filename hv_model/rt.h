/* hv_model runtime: console output and exit on the hvsim platform.
 *
 * The formatter, string functions, UART driver and x86 instruction
 * wrappers are the shared firmware library (firmware/lib/); this header
 * adds what is particular to the hypervisor image. */
#ifndef HV_MODEL_RT_H
#define HV_MODEL_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_format.h"
#include "fw_string.h"
#include "fw_uart.h"
#include "fw_x86.h"

/* isa-debug-exit (sim/dev/dev.h): a write of v ends the run. */
#define RT_DEBUG_EXIT_PORT 0xf4

int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vprintf(const char *fmt, va_list ap);
void rt_puts(const char *s);	/* no newline added */
/* Ends the run with `code` through the debug-exit port.  If no device
 * answers, the LP halts with interrupts off. */
__attribute__((noreturn)) void rt_exit(uint32_t code);

#endif
