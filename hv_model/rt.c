#include "rt.h"

int rt_vprintf(const char *fmt, va_list ap)
{
	return fw_vformat(fw_uart_putc_cb, NULL, fmt, ap);
}

int rt_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rt_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

void rt_puts(const char *s)
{
	fw_uart_puts(s);
}

void rt_exit(uint32_t code)
{
	outl(RT_DEBUG_EXIT_PORT, code);
	for (;;)
		asm volatile("cli; hlt");
}
