/* Polled output on the platform's 16550 UART (COM1). */
#ifndef FW_UART_H
#define FW_UART_H

#include <stddef.h>

#define FW_UART_BASE 0x3f8

void fw_uart_putc(char c);
void fw_uart_write(const char *s, size_t len);
void fw_uart_puts(const char *s);	/* no newline added */
/* fw_putc_fn-compatible adapter (opaque unused). */
void fw_uart_putc_cb(void *opaque, char c);

#endif
