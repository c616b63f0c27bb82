/* A whole simulated machine built from its options: memory, LPs, devices,
 * the boot path; run by the SystemC kernel (sim/systemc/). */
#ifndef SIM_MACHINE_MACHINE_H
#define SIM_MACHINE_MACHINE_H

#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "loader.h"

enum machine_boot {
	MACHINE_BOOT_MULTIBOOT,	/* hvsim boot KERNEL */
	MACHINE_BOOT_FIRMWARE,	/* hvsim run: hypervisor firmware + modules */
};

struct machine_opts {
	unsigned lps;
	uint64_t ram;
	const char *profile;	/* name or path */
	uint64_t quantum_cycles;
	uint64_t max_cycles;	/* 0: no limit; else stop the run at this LP clock */
	enum machine_boot boot;
	struct multiboot_args mb;
	struct bootinfo_args fw;
	FILE *console;		/* UART output, may be NULL */
	const char *trace_path;	/* event trace (traces/FORMAT.md) to write, or NULL */
};

/* How a run ended. */
enum machine_end {
	MACHINE_END_NONE,
	MACHINE_END_DEBUG_EXIT,	/* guest wrote the debug-exit port */
	MACHINE_END_SHUTDOWN,	/* an LP shut down (triple fault, host error) */
	MACHINE_END_IDLE,	/* every LP halted and nothing can wake one */
	MACHINE_END_LIMIT,	/* max_cycles reached */
};

struct machine;

int machine_new(const struct machine_opts *o, struct machine **out);
void machine_free(struct machine *m);
/* Run to the end; returns 0 (however the guest ended) or -errno. */
int machine_run(struct machine *m);
/* Finish the event trace: its last chunk and end record.  0, or -errno
 * after printing what failed (a trace that could not be written
 * completely is an error of the run). */
int machine_close_trace(struct machine *m);

enum machine_end machine_end_kind(const struct machine *m);
const char *machine_end_text(const struct machine *m);	/* one line */
uint32_t machine_exit_value(const struct machine *m);	/* value written to the debug port */
const char *machine_uart_output(const struct machine *m, size_t *len);

/* Reports (stats.c): stats.json and stats.txt in `dir`, and the summary. */
struct machine_report {
	const char *command;	/* "run" or "boot" */
	const char *image;	/* kernel or firmware path */
	const char *config;	/* config source, may be NULL */
	double host_seconds;
};
int machine_write_stats(struct machine *m, const char *dir, const struct machine_report *r);
void machine_print_summary(struct machine *m, FILE *f, const struct machine_report *r);

/* Used by the timing kernel. */
unsigned machine_lp_count(const struct machine *m);
struct cpu *machine_lp(const struct machine *m, unsigned i);
int machine_stopping(const struct machine *m);
void machine_note_end(struct machine *m, enum machine_end kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
uint64_t machine_khz(const struct machine *m);
uint64_t machine_ram(const struct machine *m);
uint64_t machine_quantum(const struct machine *m);
uint64_t machine_max_cycles(const struct machine *m);
const char *machine_profile_name(const struct machine *m);

/* Profiles: resolve a name to a path (data dirs) or keep a path. */
int machine_find_profile(const char *name_or_path, char *out, size_t outlen);
/* The built hv_model firmware. */
int machine_find_firmware(char *out, size_t outlen);
/* The built root partition kernel (HVSIM_ROOT_KERNEL overrides). */
int machine_find_root_kernel(char *out, size_t outlen);
/* A built child partition kernel by name ("enlightened" or
 * "unenlightened"): NAME.elf in the directory HVSIM_CHILD_KERNEL_DIR if
 * set, else the build tree's partitions/child/ or the installed
 * firmware directory.  -ENOENT with a message naming where it looked. */
int machine_find_child_kernel(const char *name, char *out, size_t outlen);

#endif
