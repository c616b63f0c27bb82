/* stderr capture for the Criterion suites (capture.h). */
#include <stdio.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "capture.h"

static int saved_stderr = -1;
static FILE *capture_file;

void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	cr_assert_not_null(capture_file);
	saved_stderr = dup(2);
	dup2(fileno(capture_file), 2);
}

const char *capture_end(void)
{
	static char buf[4096];
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(capture_file);
	n = fread(buf, 1, sizeof(buf) - 1, capture_file);
	buf[n] = '\0';
	fclose(capture_file);
	return buf;
}
