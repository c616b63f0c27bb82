/* printf-style formatting for the freestanding firmware images (hv_model/,
 * tests/guest/, partitions/).  No libc: output goes to a callback, one
 * character at a time.
 *
 * Conversions: %d %i %u %x %X %o %p %s %c %%, flags '-' '0', width and
 * precision (digits or '*'), length modifiers hh h l ll z j t.  %p prints
 * "0x" and the hexadecimal value.  An unknown conversion is printed as it
 * was written. */
#ifndef FW_FORMAT_H
#define FW_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

typedef void fw_putc_fn(void *opaque, char c);

/* Returns the number of characters emitted. */
int fw_vformat(fw_putc_fn *fn, void *opaque, const char *fmt, va_list ap);
int fw_format(fw_putc_fn *fn, void *opaque, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like C's vsnprintf: writes at most size-1 characters and a NUL (when
 * size > 0); returns the length the whole result would have. */
int fw_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fw_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
