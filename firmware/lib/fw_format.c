/* printf-style formatter shared by every firmware image (see fw_format.h).
 * Freestanding: it uses nothing but <stdarg.h>, <stddef.h> and
 * <stdint.h>, so the host unit test compiles the same file. */
#include <stdint.h>

#include "fw_format.h"

#define FW_FMT_LEFT 0x1		/* '-' */
#define FW_FMT_ZERO 0x2		/* '0' */
#define FW_FMT_UPPER 0x4	/* %X */

struct fw_out {
	fw_putc_fn *fn;
	void *opaque;
	int count;
};

static void fw_emit(struct fw_out *o, char c)
{
	o->fn(o->opaque, c);
	o->count++;
}

static void fw_pad(struct fw_out *o, char c, int n)
{
	while (n-- > 0)
		fw_emit(o, c);
}

static void fw_emit_str(struct fw_out *o, const char *s, int width, int prec, unsigned flags)
{
	int len = 0;

	if (!s)
		s = "(null)";
	/* Never read past `prec` characters: %.*s may name a buffer
	 * without a terminator. */
	while ((prec < 0 || len < prec) && s[len])
		len++;
	if (!(flags & FW_FMT_LEFT))
		fw_pad(o, ' ', width - len);
	for (int i = 0; i < len; i++)
		fw_emit(o, s[i]);
	if (flags & FW_FMT_LEFT)
		fw_pad(o, ' ', width - len);
}

/* An integer: sign, optional "0x" prefix, at least `prec` digits, padded
 * to `width` with spaces or (with '0' and no precision) zeros, as C's
 * printf does (C11 7.21.6.1). */
static void fw_emit_num(struct fw_out *o, uint64_t v, int neg, unsigned base, int width,
			int prec, unsigned flags, const char *prefix)
{
	const char *digits = (flags & FW_FMT_UPPER) ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];	/* 2^64 in octal is 22 digits */
	int n = 0, plen = 0, zeros, total;

	while (v) {
		buf[n++] = digits[v % base];
		v /= base;
	}
	if (prec < 0 && n == 0)
		buf[n++] = '0';
	zeros = prec > n ? prec - n : 0;
	while (prefix && prefix[plen])
		plen++;
	total = neg + plen + zeros + n;
	if ((flags & FW_FMT_ZERO) && !(flags & FW_FMT_LEFT) && prec < 0) {
		zeros += width > total ? width - total : 0;
		total = width > total ? width : total;
	}
	if (!(flags & FW_FMT_LEFT))
		fw_pad(o, ' ', width - total);
	if (neg)
		fw_emit(o, '-');
	for (int i = 0; i < plen; i++)
		fw_emit(o, prefix[i]);
	fw_pad(o, '0', zeros);
	while (n > 0)
		fw_emit(o, buf[--n]);
	if (flags & FW_FMT_LEFT)
		fw_pad(o, ' ', width - total);
}

enum fw_len { FW_LEN_INT, FW_LEN_CHAR, FW_LEN_SHORT, FW_LEN_LONG, FW_LEN_LLONG, FW_LEN_SIZE };

static int64_t fw_arg_signed(va_list *ap, enum fw_len len)
{
	switch (len) {
	case FW_LEN_CHAR:
		return (signed char)va_arg(*ap, int);
	case FW_LEN_SHORT:
		return (short)va_arg(*ap, int);
	case FW_LEN_LONG:
		return va_arg(*ap, long);
	case FW_LEN_LLONG:
		return va_arg(*ap, long long);
	case FW_LEN_SIZE:
		return (int64_t)va_arg(*ap, size_t);
	default:
		return va_arg(*ap, int);
	}
}

static uint64_t fw_arg_unsigned(va_list *ap, enum fw_len len)
{
	switch (len) {
	case FW_LEN_CHAR:
		return (unsigned char)va_arg(*ap, unsigned int);
	case FW_LEN_SHORT:
		return (unsigned short)va_arg(*ap, unsigned int);
	case FW_LEN_LONG:
		return va_arg(*ap, unsigned long);
	case FW_LEN_LLONG:
		return va_arg(*ap, unsigned long long);
	case FW_LEN_SIZE:
		return va_arg(*ap, size_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

int fw_vformat(fw_putc_fn *fn, void *opaque, const char *fmt, va_list ap_in)
{
	struct fw_out o = { fn, opaque, 0 };
	va_list ap;

	/* Work on a copy so the helpers can take a pointer to it portably
	 * (va_list may be an array type). */
	va_copy(ap, ap_in);
	while (*fmt) {
		const char *start = fmt;
		unsigned flags = 0;
		int width = 0, prec = -1;
		enum fw_len len = FW_LEN_INT;

		if (*fmt != '%') {
			fw_emit(&o, *fmt++);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				flags |= FW_FMT_LEFT;
			else if (*fmt == '0')
				flags |= FW_FMT_ZERO;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				flags |= FW_FMT_LEFT;
				width = width < -100000 ? 100000 : -width;
			}
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9' && width < 100000)
				width = width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);	/* negative: as if omitted */
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9' && prec < 100000)
					prec = prec * 10 + (*fmt++ - '0');
			}
		}
		switch (*fmt) {
		case 'h':
			fmt++;
			len = FW_LEN_SHORT;
			if (*fmt == 'h') {
				fmt++;
				len = FW_LEN_CHAR;
			}
			break;
		case 'l':
			fmt++;
			len = FW_LEN_LONG;
			if (*fmt == 'l') {
				fmt++;
				len = FW_LEN_LLONG;
			}
			break;
		case 'z':
		case 'j':
		case 't':
			fmt++;
			len = FW_LEN_SIZE;	/* all three are 64-bit on x86-64 */
			break;
		default:
			break;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = fw_arg_signed(&ap, len);
			uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;

			fw_emit_num(&o, mag, v < 0, 10, width, prec, flags, NULL);
			break;
		}
		case 'u':
			fw_emit_num(&o, fw_arg_unsigned(&ap, len), 0, 10, width, prec, flags, NULL);
			break;
		case 'X':
			flags |= FW_FMT_UPPER;
			/* fall through */
		case 'x':
			fw_emit_num(&o, fw_arg_unsigned(&ap, len), 0, 16, width, prec, flags, NULL);
			break;
		case 'o':
			fw_emit_num(&o, fw_arg_unsigned(&ap, len), 0, 8, width, prec, flags, NULL);
			break;
		case 'p':
			fw_emit_num(&o, (uintptr_t)va_arg(ap, void *), 0, 16, width, prec, flags, "0x");
			break;
		case 's':
			fw_emit_str(&o, va_arg(ap, const char *), width, prec, flags);
			break;
		case 'c': {
			char c[2] = { (char)va_arg(ap, int), 0 };

			/* Through the string path so width applies; a NUL
			 * character is still emitted. */
			if (!c[0]) {
				if (!(flags & FW_FMT_LEFT))
					fw_pad(&o, ' ', width - 1);
				fw_emit(&o, 0);
				if (flags & FW_FMT_LEFT)
					fw_pad(&o, ' ', width - 1);
			} else {
				fw_emit_str(&o, c, width, -1, flags);
			}
			break;
		}
		case '%':
			fw_emit(&o, '%');
			break;
		default:
			/* Unknown or truncated conversion: show it verbatim. */
			while (start < fmt)
				fw_emit(&o, *start++);
			continue;
		}
		fmt++;
	}
	va_end(ap);
	return o.count;
}

int fw_format(fw_putc_fn *fn, void *opaque, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fw_vformat(fn, opaque, fmt, ap);
	va_end(ap);
	return n;
}

struct fw_buf {
	char *p;
	size_t size, len;
};

static void fw_buf_putc(void *opaque, char c)
{
	struct fw_buf *b = opaque;

	if (b->len + 1 < b->size)
		b->p[b->len] = c;
	b->len++;
}

int fw_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fw_buf b = { buf, size, 0 };
	int n = fw_vformat(fw_buf_putc, &b, fmt, ap);

	if (size)
		buf[b.len < size ? b.len : size - 1] = 0;
	return n;
}

int fw_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fw_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
