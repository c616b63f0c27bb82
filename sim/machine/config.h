/* The run configuration (`hvsim run [CONFIG.yaml]`), a YAML file; docs/config.md
 * lists every key.  Without a file the built-in default is used. */
#ifndef SIM_MACHINE_CONFIG_H
#define SIM_MACHINE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LPS 64
#define CONFIG_MAX_MODULES 15

struct config_module {
	char *path;	/* resolved relative to the config file's directory */
	char *name;
};

struct config {
	char *source;		/* file name, or "<built-in>" */
	char *text;		/* the YAML text as read (handed to the firmware) */
	size_t text_len;
	unsigned lps;		/* machine.lps, default 1 */
	uint64_t ram;		/* machine.ram, bytes; accepts "512M", "2G", "1048576"; default 256M */
	char *profile;		/* machine.profile: a name (profiles dir) or a path; default "sandybridge" */
	uint64_t quantum_cycles;	/* machine.quantum, cycles per LP sync; default 1000 */
	char *firmware;		/* firmware: path; NULL = the built hv_model firmware */
	char *cmdline;		/* firmware_cmdline, may be NULL */
	struct config_module modules[CONFIG_MAX_MODULES];
	unsigned nmodules;	/* modules: [{path:, name:}] */
	char *output_dir;	/* output.dir, default "." */
};

/* Parse YAML text; on error prints "<name>:line:col: reason" and returns
 * -EINVAL.  Unknown keys are errors (they are usually typos). */
int config_parse(const char *text, size_t len, const char *name, struct config **out);
int config_load(const char *path, struct config **out);
/* The built-in default configuration. */
int config_default(struct config **out);
void config_free(struct config *c);

/* "256M" -> bytes; returns -EINVAL on junk or overflow. */
int config_parse_size(const char *s, uint64_t *out);

#endif
