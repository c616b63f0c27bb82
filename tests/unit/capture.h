/* Capturing what code under test writes to stderr (its diagnostics), for
 * the Criterion suites.  One capture at a time. */
#ifndef TESTS_UNIT_CAPTURE_H
#define TESTS_UNIT_CAPTURE_H

void capture_begin(void);
/* What was written to stderr since capture_begin() (static buffer, at
 * most 4 KiB). */
const char *capture_end(void);

#endif
