/* What the hvsim subcommands share (main.c, lab.c). */
#ifndef SIM_CLI_CLI_H
#define SIM_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "machine.h"

/* Exit statuses other than the guest's own (docs/cli.md). */
#define EXIT_USAGE 2		/* bad arguments or input files */
#define EXIT_NO_GUEST_EXIT 4	/* the guest ended without writing the debug port */

/* Command-line values that override a configuration's (0 / NULL: the
 * configuration's). */
struct cli_machine_opts {
	unsigned lps;
	uint64_t ram;
	const char *profile;
	uint64_t quantum, max_cycles;
	FILE *console;		/* the guest's UART output, or NULL */
	const char *trace;	/* event trace to write, or NULL */
};

struct cli_run;

/* The machine `hvsim run` builds for `cfg`: the firmware, the root
 * kernel and the child kernels as modules, the partition table.  `*run`
 * holds what the machine points into: free() it after machine_free(),
 * also when this fails (0, or a negative errno after a message). */
int cli_machine_from_config(const struct config *cfg, const struct cli_machine_opts *co, struct machine **out,
			    struct cli_run **run);

/* hvsim lab ARGS (lab.c); returns the exit status. */
int cli_lab(int argc, char **argv);

#endif
