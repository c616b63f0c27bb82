#include <stdio.h>

#include "diag.h"

void diag_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hvsim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void diag_verror_at(const char *file, unsigned line, unsigned col, const char *fmt, va_list ap)
{
	if (line && col)
		fprintf(stderr, "%s:%u:%u: ", file, line, col);
	else if (line)
		fprintf(stderr, "%s:%u: ", file, line);
	else
		fprintf(stderr, "%s: ", file);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void diag_error_at(const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_verror_at(file, line, col, fmt, ap);
	va_end(ap);
}
