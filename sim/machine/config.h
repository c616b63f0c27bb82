/* The run configuration (`hvsim run [CONFIG.yaml]`), a YAML file; docs/config.md
 * lists every key.  Without a file the built-in default is used. */
#ifndef SIM_MACHINE_CONFIG_H
#define SIM_MACHINE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LPS 64
#define CONFIG_MAX_MODULES 15
#define CONFIG_MAX_PARTITIONS 8		/* HV_BOOT_MAX_PARTITIONS, after count expansion */
#define CONFIG_PARTITION_NAME_MAX 31	/* struct hv_boot_partition.name holds 32 with the NUL */
#define CONFIG_PART_MEMORY_MIN (4ull << 20)
#define CONFIG_PART_MEMORY_MAX (1ull << 30)
#define CONFIG_PART_MEMORY_ALIGN (2ull << 20)	/* the child's EPT maps it in 2 MiB pages */
#define CONFIG_PART_MAX_VPS 8
#define CONFIG_CHILD_KERNEL_MEMORY (64ull << 20)	/* run --child-kernel's default */
#define CONFIG_CMDLINE_MAX 255		/* a child's command line: struct hv_boot_partition.cmdline holds 256 with the NUL */

struct config_module {
	char *path;	/* resolved relative to the config file's directory */
	char *name;
};

/* One child partition, after `count` expansion (docs/config.md
 * "partitions"). */
struct config_partition {
	char name[CONFIG_PARTITION_NAME_MAX + 1];	/* unique: NAME, or NAME-i when count > 1 */
	char group[CONFIG_PARTITION_NAME_MAX + 1];	/* the name as written (shared by a count's children) */
	char *kernel;		/* a built kernel's name (kernel_builtin) or a resolved path */
	int kernel_builtin;	/* 1: "enlightened" or "unenlightened", see machine_find_child_kernel */
	int enlightened;	/* uses the hypercall interface; default: kernel is "enlightened" */
	int synic_test_device;	/* its worker offers the SynIC test device; default 0 */
	int console;		/* its serial output and debug-exit value are the run's; default 0 */
	char *cmdline;		/* a multiboot kernel's command line, NULL if none */
	uint64_t memory;	/* bytes, 4M..1G, a multiple of 2M; default 16M */
	unsigned vps;		/* 1..8, default 1 */
	unsigned iterations;	/* 0..1000000, 0 = the kernel's default */
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
	struct config_partition partitions[CONFIG_MAX_PARTITIONS];
	unsigned npartitions;	/* partitions: the children the root kernel creates */
};

/* Parse YAML text; on error prints "<name>:line:col: reason" and returns
 * -EINVAL.  Unknown keys are errors (they are usually typos). */
int config_parse(const char *text, size_t len, const char *name, struct config **out);
int config_load(const char *path, struct config **out);
/* The built-in default configuration. */
int config_default(struct config **out);
void config_free(struct config *c);

/* `hvsim run --child-kernel`: the configuration's children become one,
 * "guest", booting the multiboot kernel at `path` with `cmdline` (may be
 * NULL), with the SynIC test device and the console. */
int config_set_child_kernel(struct config *c, const char *path, const char *cmdline, unsigned vps,
			    uint64_t memory);

/* "256M" -> bytes; returns -EINVAL on junk or overflow. */
int config_parse_size(const char *s, uint64_t *out);

#endif
