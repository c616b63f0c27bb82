/* main() of every Criterion suite.
 *
 * libsystemc.so defines its own main(), which calls sc_main(); linked
 * next to it, Criterion's main() can lose and the suite would silently
 * run nothing.  Owning main() here makes the runner explicit; sc_main
 * only satisfies libsystemc's reference (UNICORN-NOTES.md section 7). */
#include <criterion/criterion.h>
#include <stdbool.h>

int sc_main(int argc, char **argv)
{
	return 1;
}

int main(int argc, char **argv)
{
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;

	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return result;
}
