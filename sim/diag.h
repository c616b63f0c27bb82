/* User-facing diagnostics: "file:line:col: error: reason" on stderr. */
#ifndef SIM_DIAG_H
#define SIM_DIAG_H

#include <stdarg.h>

#if defined(__GNUC__)
#define SIM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SIM_PRINTF(a, b)
#endif

/* Prints "hvsim: <msg>\n" to stderr. */
void diag_error(const char *fmt, ...) SIM_PRINTF(1, 2);
/* Prints "<file>:<line>:<col>: <msg>\n"; line/col 0 are omitted. */
void diag_error_at(const char *file, unsigned line, unsigned col, const char *fmt, ...)
	SIM_PRINTF(4, 5);
void diag_verror_at(const char *file, unsigned line, unsigned col, const char *fmt, va_list ap);

#endif
