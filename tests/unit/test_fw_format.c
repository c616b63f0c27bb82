/* The firmware formatter (firmware/lib/fw_format.c) built for the host:
 * every conversion the firmware uses is compared with the C library's
 * snprintf, which implements the same C11 7.21.6.1 rules. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../firmware/lib/fw_format.h"

static void check_same(const char *fmt, ...)
{
	char want[256], got[256];
	va_list ap, ap2;
	int nw, ng;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	nw = vsnprintf(want, sizeof(want), fmt, ap);
	ng = fw_vsnprintf(got, sizeof(got), fmt, ap2);
	va_end(ap2);
	va_end(ap);
	cr_assert_str_eq(got, want, "format \"%s\"", fmt);
	cr_assert_eq(ng, nw, "length for format \"%s\"", fmt);
}

Test(fw_format, integers_match_libc)
{
	check_same("%d %d %d", 0, -1, 2147483647);
	check_same("%d", (int)0x80000000u);
	check_same("%i|%5d|%-5d|%05d|%.3d|%8.3d", 42, -42, -42, -42, 7, -7);
	check_same("%u %u", 0u, 4294967295u);
	check_same("%x %X %08x %-8x|", 0xbeefu, 0xbeefu, 0xbeefu, 0xbeefu);
	check_same("%o %o", 8u, 0u);
	check_same("%lu %ld %lx", 18446744073709551615ul, -9223372036854775807l - 1,
		   0xfedcba9876543210ul);
	check_same("%llu %lld %llx", 1ull << 63, -5ll, 0x123ull);
	check_same("%zu %zx", (size_t)12345, (size_t)0xabc);
	check_same("%hu %hd %hhu %hhd %hx", 65535, -1, 300, 200, 0x12345);
	check_same("%.0d|%.0u|%5.0x|", 0, 0u, 0u);
	check_same("%*d|%-*d|%.*d", 6, 12, 6, 12, 4, 12);
	check_same("%*d|", -6, 12);
}

Test(fw_format, strings_and_chars_match_libc)
{
	check_same("%s|%10s|%-10s|%.3s|%.*s|", "abc", "abc", "abc", "abcdef", 2, "xyz");
	check_same("%c%c|%3c|%-3c|", 'h', 'i', 'x', 'y');
	check_same("100%% done");
	check_same("");
}

/* fw_snprintf without the format attribute, for inputs the compiler
 * would (rightly) warn about. */
static int fmt_unchecked(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fw_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

Test(fw_format, pointer_prints_hex_with_prefix)
{
	char buf[64];

	fw_snprintf(buf, sizeof(buf), "%p", (void *)0x1000);
	cr_assert_str_eq(buf, "0x1000");
	fw_snprintf(buf, sizeof(buf), "%p", (void *)UINTPTR_MAX);
	cr_assert_str_eq(buf, "0xffffffffffffffff");
}

Test(fw_format, null_string_prints_placeholder)
{
	char buf[32];

	fmt_unchecked(buf, sizeof(buf), "[%s]", (const char *)NULL);
	cr_assert_str_eq(buf, "[(null)]");
}

Test(fw_format, precision_bounds_reads_of_unterminated_strings)
{
	char unterminated[4] = { 'w', 'x', 'y', 'z' };
	char buf[32];

	fw_snprintf(buf, sizeof(buf), "%.4s|", unterminated);
	cr_assert_str_eq(buf, "wxyz|");
}

Test(fw_format, unknown_conversion_is_printed_verbatim)
{
	char buf[32];

	fmt_unchecked(buf, sizeof(buf), "a%yb%", 1);
	cr_assert_str_eq(buf, "a%yb%");
}

Test(fw_format, snprintf_truncates_and_reports_full_length)
{
	char buf[8];

	memset(buf, 'Z', sizeof(buf));
	cr_assert_eq(fw_snprintf(buf, 5, "%d", 1234567), 7);
	cr_assert_str_eq(buf, "1234");
	cr_assert_eq(buf[5], 'Z', "wrote past the given size");
	cr_assert_eq(fw_snprintf(buf, 0, "abc"), 3);
	cr_assert_eq(buf[0], '1', "size 0 must write nothing");
}

static void count_putc(void *opaque, char c)
{
	(*(int *)opaque)++;
	(void)c;
}

Test(fw_format, callback_sees_every_character_including_nul)
{
	int n = 0;

	cr_assert_eq(fw_format(count_putc, &n, "ab%cd", 0), 4);
	cr_assert_eq(n, 4);
}
