/* 16550 transmit path (PC16550D datasheet, "Line Status Register"): wait
 * for LSR bit 5 (THRE, transmitter holding register empty), then write
 * the byte to THR at the base port.  No initialisation: the simulated
 * line has no baud rate and comes up 8N1, and QEMU's 16550 the same, so
 * the firmware prints from its first instruction.  Lines end in a bare
 * '\n': the output is read from logs, not by a terminal. */
#include <stdint.h>

#include "fw_uart.h"
#include "fw_x86.h"

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20

void fw_uart_putc(char c)
{
	while (!(inb(FW_UART_BASE + UART_LSR) & UART_LSR_THRE))
		cpu_pause();
	outb(FW_UART_BASE + UART_THR, (uint8_t)c);
}

void fw_uart_write(const char *s, size_t len)
{
	while (len--)
		fw_uart_putc(*s++);
}

void fw_uart_puts(const char *s)
{
	while (*s)
		fw_uart_putc(*s++);
}

void fw_uart_putc_cb(void *opaque, char c)
{
	(void)opaque;
	fw_uart_putc(c);
}
