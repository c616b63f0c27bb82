/* hvsim: the command-line front end. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "cpu.h"
#include "diag.h"
#include "hv/bootinfo.h"
#include "hvsim_config.h"
#include "machine.h"
#include "trace.h"

static const char usage_text[] =
	"usage: hvsim run [OPTIONS] [CONFIG.yaml]\n"
	"       hvsim run [OPTIONS] --child-kernel KERNEL [ARGS...]\n"
	"       hvsim boot [OPTIONS] KERNEL [ARGS...]\n"
	"       hvsim trace dump TRACE\n"
	"       hvsim lab partition-create [--batch | --script FILE] [OPTIONS]\n"
	"       hvsim --help | --version\n"
	"\n"
	"Commands:\n"
	"  run     boot the hv_model hypervisor firmware with the partitions the\n"
	"          configuration describes (built-in default without CONFIG.yaml);\n"
	"          with --child-kernel, the root partition and one child that\n"
	"          boots the multiboot KERNEL with ARGS as its command line\n"
	"  boot    start a multiboot (v1) kernel on the bare platform; ARGS become\n"
	"          its command line after the kernel's name\n"
	"  trace dump  print an event trace (written with --trace) as text,\n"
	"          one event per line\n"
	"  lab partition-create  step through the hypercalls with which the root\n"
	"          partition creates, runs and deletes one child: each call decoded,\n"
	"          its VM exit, what the hypervisor changed, its cycles\n"
	"          ('hvsim lab --help' lists its options and commands)\n"
	"\n"
	"Options (both commands):\n"
	"  -o, --output-dir DIR   write stats.json and stats.txt to DIR (default .)\n"
	"  -q, --quiet            do not echo the guest's UART output or the summary\n"
	"      --no-stats         do not write stats.json / stats.txt\n"
	"      --trace FILE       write the run's events (VM entries and exits) to FILE\n"
	"                         in the hvsim trace format (traces/FORMAT.md)\n"
	"      --max-cycles N     end the run when an LP's clock reaches N cycles\n"
	"  -n, --lps N            logical processors (boot default 1; run: overrides the config)\n"
	"  -m, --ram SIZE         RAM, e.g. 512M or 2G (boot default 256M; run: overrides)\n"
	"  -p, --profile NAME     microarchitecture profile name or YAML path\n"
	"                         (default sandybridge)\n"
	"      --quantum CYCLES   LP synchronisation quantum (default 1000)\n"
	"Options (run):\n"
	"      --child-kernel FILE  run the multiboot kernel FILE as the guest of a\n"
	"                         child partition (the built-in machine, no other\n"
	"                         child): its serial output is the run's output and\n"
	"                         its debug-exit value the run's, as with boot\n"
	"      --child-vps N      that child's virtual processors (default 1, at most 8)\n"
	"      --child-memory SIZE  that child's memory (default 64M, 4M..1G)\n"
	"Options (boot):\n"
	"      --module PATH[=ARGS]  load PATH as a multiboot module (repeatable)\n"
	"      --raw-exit         exit with the value the guest wrote to port 0xF4\n"
	"                         instead of (value << 1) | 1 (also run --child-kernel)\n"
	"\n"
	"Exit status: boot returns (v << 1) | 1 for a guest that writes v to the\n"
	"debug-exit port 0xF4 (v itself with --raw-exit); run returns 0 when the\n"
	"firmware exits with 0 and 1 otherwise, except that a run whose child has\n"
	"the console (--child-kernel, or 'console: true') returns what boot would\n"
	"for the value the child wrote to its debug-exit port (the root writes 1\n"
	"instead when one of its own checks failed).  hvsim's own statuses are even,\n"
	"so they never look like a guest's (v << 1) | 1: 2 means bad arguments or\n"
	"input, 4 that the guest stopped without writing the port (triple fault,\n"
	"every LP halted for good, or --max-cycles).\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

static int parse_u64(const char *opt, const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-') {
		diag_error("%s: '%s' is not a non-negative integer", opt, s);
		return -EINVAL;
	}
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ensure_dir(const char *dir)
{
	struct stat st;

	if (!stat(dir, &st))
		return S_ISDIR(st.st_mode) ? 0 : (diag_error("%s: not a directory", dir), -ENOTDIR);
	if (mkdir(dir, 0777)) {
		diag_error("%s: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

struct common {
	const char *outdir;
	const char *trace;
	int quiet, no_stats, raw_exit;
	const char *child_kernel;	/* run --child-kernel */
	unsigned child_vps;
	uint64_t child_memory;
	uint64_t max_cycles, quantum;
	unsigned lps;
	uint64_t ram;
	const char *profile;
	struct multiboot_module_arg mods[16];
	char *mod_bufs[16];
	unsigned nmods;
};

enum {
	OPT_NO_STATS = 256, OPT_MAX_CYCLES, OPT_QUANTUM, OPT_MODULE, OPT_RAW_EXIT, OPT_TRACE,
	OPT_CHILD_KERNEL, OPT_CHILD_VPS, OPT_CHILD_MEMORY,
};

static const struct option long_opts[] = {
	{ "output-dir", required_argument, NULL, 'o' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "no-stats", no_argument, NULL, OPT_NO_STATS },
	{ "max-cycles", required_argument, NULL, OPT_MAX_CYCLES },
	{ "lps", required_argument, NULL, 'n' },
	{ "ram", required_argument, NULL, 'm' },
	{ "profile", required_argument, NULL, 'p' },
	{ "quantum", required_argument, NULL, OPT_QUANTUM },
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "raw-exit", no_argument, NULL, OPT_RAW_EXIT },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "child-kernel", required_argument, NULL, OPT_CHILD_KERNEL },
	{ "child-vps", required_argument, NULL, OPT_CHILD_VPS },
	{ "child-memory", required_argument, NULL, OPT_CHILD_MEMORY },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Options stop at the first operand, so a kernel's own arguments may look
 * like options. */
static int parse_common(int argc, char **argv, struct common *c, int is_boot)
{
	int opt;
	uint64_t v;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+o:qn:m:p:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			c->outdir = optarg;
			break;
		case 'q':
			c->quiet = 1;
			break;
		case OPT_NO_STATS:
			c->no_stats = 1;
			break;
		case OPT_TRACE:
			c->trace = optarg;
			break;
		case OPT_MAX_CYCLES:
			if (parse_u64("--max-cycles", optarg, &c->max_cycles))
				return -EINVAL;
			break;
		case OPT_QUANTUM:
			if (parse_u64("--quantum", optarg, &c->quantum))
				return -EINVAL;
			if (!c->quantum) {
				diag_error("--quantum: must be at least 1 cycle");
				return -EINVAL;
			}
			break;
		case 'n':
			if (parse_u64("--lps", optarg, &v))
				return -EINVAL;
			if (v < 1 || v > CONFIG_MAX_LPS) {
				diag_error("--lps: must be 1..%d (got %s)", CONFIG_MAX_LPS, optarg);
				return -EINVAL;
			}
			c->lps = (unsigned)v;
			break;
		case 'm':
			if (config_parse_size(optarg, &c->ram)) {
				diag_error("--ram: '%s' is not a size (e.g. 256M, 2G)", optarg);
				return -EINVAL;
			}
			break;
		case 'p':
			c->profile = optarg;
			break;
		case OPT_MODULE:
			if (!is_boot) {
				diag_error("--module is an option of 'hvsim boot' (modules of 'run' are in the config)");
				return -EINVAL;
			}
			if (c->nmods >= sizeof(c->mods) / sizeof(c->mods[0])) {
				diag_error("--module: at most %zu modules", sizeof(c->mods) / sizeof(c->mods[0]));
				return -EINVAL;
			} else {
				char *s = strdup(optarg), *eq = strchr(s, '=');

				if (!s)
					return -ENOMEM;
				c->mod_bufs[c->nmods] = s;
				if (eq)
					*eq = '\0';
				c->mods[c->nmods].path = s;
				c->mods[c->nmods].cmdline = eq ? eq + 1 : s;
				c->nmods++;
			}
			break;
		case OPT_RAW_EXIT:
			c->raw_exit = 1;
			break;
		case OPT_CHILD_KERNEL:
		case OPT_CHILD_VPS:
		case OPT_CHILD_MEMORY:
			if (is_boot) {
				diag_error("--child-kernel, --child-vps and --child-memory are options of 'hvsim run'");
				return -EINVAL;
			}
			if (opt == OPT_CHILD_KERNEL) {
				c->child_kernel = optarg;
			} else if (opt == OPT_CHILD_VPS) {
				if (parse_u64("--child-vps", optarg, &v))
					return -EINVAL;
				if (v < 1 || v > CONFIG_PART_MAX_VPS) {
					diag_error("--child-vps: must be 1..%d (got %s)", CONFIG_PART_MAX_VPS, optarg);
					return -EINVAL;
				}
				c->child_vps = (unsigned)v;
			} else if (config_parse_size(optarg, &c->child_memory) || c->child_memory < CONFIG_PART_MEMORY_MIN ||
				   c->child_memory > CONFIG_PART_MEMORY_MAX || c->child_memory % CONFIG_PART_MEMORY_ALIGN) {
				diag_error("--child-memory: '%s' is not a size of 4M..1G, a multiple of 2M", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'hvsim --help'.\n");
			return -EINVAL;
		}
	}
	return 0;
}

/* Run a built machine and report; returns the process exit status. */
static int run_machine(struct machine *mach, const struct common *c, const struct machine_report *rep0,
		       int is_boot)
{
	struct machine_report rep = *rep0;
	double t0 = now_seconds();
	int rc = machine_run(mach);
	enum machine_end end;
	uint32_t v;

	rep.host_seconds = now_seconds() - t0;
	if (rc) {
		diag_error("the simulation failed (%s)", strerror(-rc));
		return EXIT_USAGE;
	}
	if (machine_close_trace(mach))
		return EXIT_USAGE;
	if (!c->no_stats) {
		if (ensure_dir(c->outdir) || machine_write_stats(mach, c->outdir, &rep))
			return EXIT_USAGE;
	}
	if (!c->quiet)
		machine_print_summary(mach, stdout, &rep);
	fflush(stdout);
	end = machine_end_kind(mach);
	v = machine_exit_value(mach);
	if (end != MACHINE_END_DEBUG_EXIT) {
		diag_error("%s", machine_end_text(mach));
		return EXIT_NO_GUEST_EXIT;
	}
	if (is_boot)
		return c->raw_exit ? (int)(v & 0xff) : (int)(((v << 1) | 1) & 0xff);
	return v == 0 ? 0 : 1;
}

static char *join_cmdline(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static int cmd_boot(int argc, char **argv)
{
	struct common c = { .outdir = ".", .lps = 1, .ram = 256ull << 20, .profile = "sandybridge" };
	struct machine_opts o = { 0 };
	struct machine *mach;
	struct machine_report rep = { .command = "boot" };
	char *cmdline;
	int status;

	if (parse_common(argc, argv, &c, 1))
		return EXIT_USAGE;
	if (optind >= argc) {
		diag_error("boot: missing KERNEL");
		fprintf(stderr, "Try 'hvsim --help'.\n");
		return EXIT_USAGE;
	}
	cmdline = join_cmdline(argc - optind, argv + optind);
	o.lps = c.lps;
	o.ram = c.ram;
	o.profile = c.profile;
	o.quantum_cycles = c.quantum;
	o.max_cycles = c.max_cycles;
	o.boot = MACHINE_BOOT_MULTIBOOT;
	o.mb.kernel_path = argv[optind];
	o.mb.cmdline = cmdline;
	o.mb.modules = c.mods;
	o.mb.nmodules = c.nmods;
	o.console = c.quiet ? NULL : stdout;
	o.trace_path = c.trace;
	rep.image = argv[optind];
	if (machine_new(&o, &mach)) {
		free(cmdline);
		return EXIT_USAGE;
	}
	status = run_machine(mach, &c, &rep, 1);
	machine_free(mach);
	free(cmdline);
	for (unsigned i = 0; i < c.nmods; i++)
		free(c.mod_bufs[i]);
	return status;
}

/* Each child's kernel is a module named "child:<name>", <name> as the
 * configuration writes it (the children of one `count` share it); a
 * kernel file several entries name is loaded once, under the first
 * entry's name.  Module indices go into the partition table. */
#define CHILD_MODULE_PREFIX "child:"

_Static_assert(sizeof(CHILD_MODULE_PREFIX) - 1 + CONFIG_PARTITION_NAME_MAX <= 39,
	       "a child module's name fits struct hv_boot_module.name");

struct child_modules {
	char path[CONFIG_MAX_PARTITIONS][PATH_MAX];	/* found built kernels */
	char name[CONFIG_MAX_PARTITIONS][40];
	char real[CONFIG_MAX_PARTITIONS][PATH_MAX];	/* each child module's file, canonical */
	struct bootinfo_partition_arg parts[CONFIG_MAX_PARTITIONS];
};

/* What a machine built from a configuration points into while it lives. */
struct cli_run {
	struct child_modules cm;
	struct bootinfo_module_arg mods[CONFIG_MAX_MODULES + 1 + CONFIG_MAX_PARTITIONS];
	char fw[PATH_MAX], root[PATH_MAX];
};

/* The same file however it is spelled; a file that cannot be resolved
 * (the loader reports why) is compared as written. */
static void canonical_path(const char *path, char out[PATH_MAX])
{
	if (!realpath(path, out))
		snprintf(out, PATH_MAX, "%s", path);
}

static int add_child_modules(const struct config *cfg, struct bootinfo_module_arg *mods,
			     unsigned *nmods, struct child_modules *cm)
{
	unsigned first = *nmods, nchild = 0;

	for (unsigned i = 0; i < cfg->npartitions; i++) {
		const struct config_partition *cp = &cfg->partitions[i];
		const char *path = cp->kernel;
		char real[PATH_MAX];
		unsigned j;

		if (cp->kernel_builtin) {
			if (machine_find_child_kernel(cp->kernel, cm->path[i], sizeof(cm->path[i])))
				return -ENOENT;
			path = cm->path[i];
		}
		canonical_path(path, real);
		for (j = first; j < *nmods; j++)
			if (!strcmp(cm->real[j - first], real))
				break;
		if (j == *nmods) {
			memcpy(cm->real[nchild], real, sizeof(real));
			snprintf(cm->name[nchild], sizeof(cm->name[nchild]), CHILD_MODULE_PREFIX "%s",
				 cp->group);
			for (unsigned k = 0; k < first; k++) {
				if (!strcmp(mods[k].name, cm->name[nchild])) {
					diag_error("%s: the module name '%s' is reserved for the kernel of partition '%s'",
						   cfg->source, cm->name[nchild], cp->name);
					return -EINVAL;
				}
			}
			mods[(*nmods)++] = (struct bootinfo_module_arg){ path, cm->name[nchild++] };
		}
		cm->parts[i] = (struct bootinfo_partition_arg){
			.name = cp->name, .module = j, .enlightened = cp->enlightened,
			.synic_test_device = cp->synic_test_device, .console = cp->console, .cmdline = cp->cmdline,
			.memory = cp->memory, .vps = cp->vps, .iterations = cp->iterations,
		};
	}
	return 0;
}

int cli_machine_from_config(const struct config *cfg, const struct cli_machine_opts *co, struct machine **out,
			    struct cli_run **run)
{
	struct machine_opts o = { 0 };
	struct cli_run *r;
	unsigned nmods, nconfig;
	int has_root = 0;

	*out = NULL;
	*run = r = calloc(1, sizeof(*r));
	if (!r) {
		diag_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (cfg->firmware)
		snprintf(r->fw, sizeof(r->fw), "%s", cfg->firmware);
	else if (machine_find_firmware(r->fw, sizeof(r->fw)))
		return -ENOENT;
	for (unsigned i = 0; i < cfg->nmodules; i++) {
		r->mods[i] = (struct bootinfo_module_arg){ cfg->modules[i].path, cfg->modules[i].name };
		has_root |= !strcmp(cfg->modules[i].name, "root");
	}
	nmods = cfg->nmodules;
	/* hv_model runs the module named "root" in the root partition: the
	 * built root kernel unless the configuration names another. */
	if (!cfg->firmware && !has_root) {
		if (machine_find_root_kernel(r->root, sizeof(r->root)))
			return -ENOENT;
		r->mods[nmods++] = (struct bootinfo_module_arg){ r->root, "root" };
	}
	nconfig = nmods;
	if (add_child_modules(cfg, r->mods, &nmods, &r->cm))
		return -EINVAL;
	if (nmods > HV_BOOT_MAX_MODULES) {
		diag_error("%s: %u modules (%u from the configuration%s, %u child kernels); the boot information holds at most %d",
			   cfg->source, nmods, cfg->nmodules, nconfig > cfg->nmodules ? ", the root kernel" : "",
			   nmods - nconfig, HV_BOOT_MAX_MODULES);
		return -EINVAL;
	}
	o.lps = co->lps ? co->lps : cfg->lps;
	o.ram = co->ram ? co->ram : cfg->ram;
	o.profile = co->profile ? co->profile : cfg->profile;
	o.quantum_cycles = co->quantum ? co->quantum : cfg->quantum_cycles;
	o.max_cycles = co->max_cycles;
	o.boot = MACHINE_BOOT_FIRMWARE;
	o.fw.firmware_path = r->fw;
	o.fw.modules = r->mods;
	o.fw.nmodules = nmods;
	o.fw.partitions = r->cm.parts;
	o.fw.npartitions = cfg->npartitions;
	o.fw.config_text = cfg->text;
	o.fw.config_length = cfg->text_len;
	o.fw.cmdline = cfg->cmdline;
	o.console = co->console;
	o.trace_path = co->trace;
	return machine_new(&o, out);
}

static int cmd_run(int argc, char **argv)
{
	struct common c = { 0 };
	struct config *cfg = NULL;
	struct cli_run *run = NULL;
	struct machine *mach;
	struct machine_report rep = { .command = "run" };
	char *cmdline = NULL;
	int status = EXIT_USAGE, console = 0;

	if (parse_common(argc, argv, &c, 0))
		return EXIT_USAGE;
	if (!c.child_kernel && (c.child_vps || c.child_memory)) {
		diag_error("run: --child-vps and --child-memory go with --child-kernel");
		return EXIT_USAGE;
	}
	if (c.child_kernel) {
		/* The kernel's command line is its name and what follows the
		 * options, as boot makes it. */
		char **words = calloc((size_t)(argc - optind) + 1, sizeof(*words));

		if (words) {
			words[0] = (char *)c.child_kernel;
			memcpy(words + 1, argv + optind, (size_t)(argc - optind) * sizeof(*words));
			cmdline = join_cmdline(argc - optind + 1, words);
			free(words);
		}
		if (!cmdline || config_default(&cfg) ||
		    config_set_child_kernel(cfg, c.child_kernel, cmdline, c.child_vps ? c.child_vps : 1,
					    c.child_memory ? c.child_memory : CONFIG_CHILD_KERNEL_MEMORY))
			goto out;
	} else {
		if (argc - optind > 1) {
			diag_error("run: expected at most one CONFIG.yaml, got %d arguments", argc - optind);
			return EXIT_USAGE;
		}
		if (optind < argc ? config_load(argv[optind], &cfg) : config_default(&cfg))
			return EXIT_USAGE;
	}
	for (unsigned i = 0; i < cfg->npartitions; i++)
		console |= cfg->partitions[i].console;
	if (c.raw_exit && !console) {
		diag_error("run: --raw-exit needs a child with the console (--child-kernel)");
		goto out;
	}
	if (!c.outdir)
		c.outdir = cfg->output_dir ? cfg->output_dir : ".";
	{
		struct cli_machine_opts co = {
			.lps = c.lps, .ram = c.ram, .profile = c.profile, .quantum = c.quantum,
			.max_cycles = c.max_cycles, .console = c.quiet ? NULL : stdout, .trace = c.trace,
		};

		if (cli_machine_from_config(cfg, &co, &mach, &run))
			goto out;
	}
	rep.image = run->fw;
	rep.config = cfg->source;
	status = run_machine(mach, &c, &rep, console);
	machine_free(mach);
out:
	free(run);
	free(cmdline);
	config_free(cfg);
	return status;
}

/* Exit reasons by name in dumps: "reason=0x12(vmcall)". */
static const char *trace_namer(unsigned kind, unsigned arg, uint64_t v)
{
	if (arg == 0 && (kind == TRACE_VM_EXIT || (kind == TRACE_VM_ENTRY_FAIL && (v & 0x80000000u))))
		return cpu_vmx_exit_reason_name((unsigned)(v & 0xffff));
	return NULL;
}

static int cmd_trace(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "dump")) {
		diag_error("usage: hvsim trace dump TRACE");
		return EXIT_USAGE;
	}
	trace_set_namer(trace_namer);
	return trace_dump(argv[2], stdout) ? EXIT_USAGE : 0;
}

int main(int argc, char **argv)
{
	/* SystemC prints a banner unless told not to. */
	setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("hvsim %s\n", HVSIM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "boot"))
		return cmd_boot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "trace"))
		return cmd_trace(argc - 1, argv + 1);
	if (!strcmp(argv[1], "lab"))
		return cli_lab(argc - 1, argv + 1);
	diag_error("unknown command '%s'", argv[1]);
	fprintf(stderr, "Try 'hvsim --help'.\n");
	return EXIT_USAGE;
}
