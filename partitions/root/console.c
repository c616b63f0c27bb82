/* Console output on COM1, PASS/FAIL reporting in the manner of the guest
 * tests (tests/guest/lib/guest.h), and the end of the run through the
 * isa-debug-exit port. */
#include "kernel.h"

static unsigned rk_passes, rk_failures;
static bool rk_quiet;

void rk_console_set_quiet(bool quiet)
{
	rk_quiet = quiet;
}

bool rk_console_quiet(void)
{
	return rk_quiet;
}

static int rk_vprintf(const char *fmt, va_list ap)
{
	return fw_vformat(fw_uart_putc_cb, NULL, fmt, ap);
}

int rk_notice(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rk_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int rk_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (rk_quiet)
		return 0;
	va_start(ap, fmt);
	n = rk_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

void rk_console_write(const char *s, size_t len)
{
	fw_uart_write(s, len);
}

bool rk_report(bool pass, const char *fmt, ...)
{
	va_list ap;

	if (!pass || !rk_quiet) {
		rk_notice("%s: ", pass ? "PASS" : "FAIL");
		va_start(ap, fmt);
		rk_vprintf(fmt, ap);
		va_end(ap);
		rk_notice("\n");
	}
	if (pass)
		rk_passes++;
	else
		rk_failures++;
	return pass;
}

unsigned rk_report_failures(void)
{
	return rk_failures;
}

unsigned rk_report_passes(void)
{
	return rk_passes;
}

void rk_exit(uint32_t code)
{
	outl(RK_DEBUG_EXIT_PORT, code);
	for (;;)
		asm volatile("cli; hlt");
}

void rk_panic(const char *fmt, ...)
{
	va_list ap;

	rk_notice("FAIL: root kernel: ");
	va_start(ap, fmt);
	rk_vprintf(fmt, ap);
	va_end(ap);
	rk_notice("\n");
	rk_exit(RK_EXIT_FAIL);
}
