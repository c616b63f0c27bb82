/* The user program's runtime (ulib.h). */
#include "ulib.h"

#define U_LINE_MAX 256

static unsigned u_nfail;
static uint32_t u_pid;

void u_exit(int status)
{
	u_syscall3(RK_SYS_EXIT, (uint64_t)(int64_t)status, 0, 0);
	for (;;)
		;	/* exit does not return; nothing else is allowed in ring 3 */
}

static int u_vprintf(const char *fmt, va_list ap)
{
	char line[U_LINE_MAX];
	int n = fw_vsnprintf(line, sizeof(line), fmt, ap);

	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (n > 0)
		u_write(1, line, (uint64_t)n);
	return n;
}

int u_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = u_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

bool u_report(bool pass, const char *fmt, ...)
{
	char msg[U_LINE_MAX - 32];
	va_list ap;

	va_start(ap, fmt);
	fw_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	u_printf("%s: [pid %u] %s\n", pass ? "PASS" : "FAIL", u_pid, msg);
	if (!pass)
		u_nfail++;
	return pass;
}

unsigned u_failures(void)
{
	return u_nfail;
}

void u_set_pid(uint32_t pid)
{
	u_pid = pid;
}
