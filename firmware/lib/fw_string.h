/* The C library's memory and string functions, for freestanding firmware.
 * gcc emits calls to memset/memcpy/memmove/memcmp even with
 * -ffreestanding (GCC manual, "C Dialect Options"), so every image links
 * fw_string.c. */
#ifndef FW_STRING_H
#define FW_STRING_H

#include <stddef.h>

void *memset(void *s, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strstr(const char *haystack, const char *needle);

#endif
