/* The run configuration: a YAML 1.1 document read with libyaml's
 * document loader.  Every key is looked up in a table; anything not in
 * the table, of the wrong shape or out of range is an error that names
 * the file, line and column. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"
#include "diag.h"
#include "hv/bootinfo.h"
#include "loader.h"

#define CONFIG_MODULE_NAME_MAX 39	/* struct hv_boot_module.name holds 40 with the NUL */
#define CONFIG_MIN_RAM (1ull << 20)
#define CONFIG_RAM_ALIGN 4096ull

/* Child partitions (docs/config.md "partitions"). */
#define CONFIG_PART_MEMORY_DEFAULT (16ull << 20)
#define CONFIG_PART_MAX_COUNT 8
#define CONFIG_PART_MAX_ITERATIONS 1000000

_Static_assert(CONFIG_MAX_PARTITIONS == HV_BOOT_MAX_PARTITIONS,
	       "every configured child fits the boot information");
_Static_assert(sizeof(((struct hv_boot_partition *)0)->name) == CONFIG_PARTITION_NAME_MAX + 1,
	       "partition names fit struct hv_boot_partition");

/* Equivalent to the defaults below; handed to the firmware when no file
 * is given. */
static const char config_default_text[] =
	"# hvsim built-in configuration\n"
	"machine:\n"
	"  lps: 1\n"
	"  ram: 256M\n"
	"  profile: sandybridge\n"
	"  quantum: 1000\n"
	"partitions:\n"
	"  - {name: enlightened, kernel: enlightened}\n"
	"  - {name: unenlightened, kernel: unenlightened}\n"
	"output:\n"
	"  dir: .\n";

struct cfg_parser {
	yaml_document_t *doc;
	const char *name;
	char *dir;	/* the config file's directory, NULL for the current one */
	struct config *c;
};

static int cfg_error(struct cfg_parser *p, const yaml_node_t *n, const char *fmt, ...)
	SIM_PRINTF(3, 4);

static int cfg_error(struct cfg_parser *p, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_verror_at(p->name, (unsigned)n->start_mark.line + 1, (unsigned)n->start_mark.column + 1,
		       fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* YAML 1.1 null: an empty, "~" or "null" plain scalar. */
static int cfg_is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static const char *cfg_scalar(struct cfg_parser *p, const yaml_node_t *n, const char *key)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE) {
		cfg_error(p, n, "%s: expected a scalar value, not a %s", key,
			  n->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
		return NULL;
	}
	v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length) {
		cfg_error(p, n, "%s: the value contains a NUL character", key);
		return NULL;
	}
	return v;
}

/* Decimal or 0x-prefixed hexadecimal digits; *end is left at the first
 * character after them.  No sign, no whitespace; leading zeros do not
 * mean octal. */
static int cfg_parse_digits(const char *s, uint64_t *out, const char **end)
{
	unsigned base = 10, ndigits = 0;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++, ndigits++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	if (!ndigits)
		return -EINVAL;
	*out = v;
	*end = s;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	unsigned shift = 0;
	const char *end;
	uint64_t v;

	if (!s || cfg_parse_digits(s, &v, &end))
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (shift && *++end)
		return -EINVAL;
	if (v > UINT64_MAX >> shift)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

static int cfg_uint(struct cfg_parser *p, const yaml_node_t *n, const char *key, uint64_t *out)
{
	const char *v = cfg_scalar(p, n, key), *end;

	if (!v)
		return -EINVAL;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cfg_error(p, n, "%s: expected an unsigned integer, got a quoted string", key);
	if (cfg_parse_digits(v, out, &end) || *end)
		return cfg_error(p, n, "%s: expected an unsigned integer, got '%s'", key, v);
	return 0;
}

/* A string value; a null one gives NULL if `nullable`, else an error. */
static int cfg_string(struct cfg_parser *p, const yaml_node_t *n, const char *key, int nullable,
		      char **out)
{
	const char *v;
	char *copy = NULL;

	if (cfg_is_null(n)) {
		if (!nullable)
			return cfg_error(p, n, "%s: a value is required", key);
	} else {
		v = cfg_scalar(p, n, key);
		if (!v)
			return -EINVAL;
		copy = strdup(v);
		if (!copy)
			return -ENOMEM;
	}
	free(*out);
	*out = copy;
	return 0;
}

/* Relative paths in a config file are relative to the file's directory,
 * so a configuration and its images can move together. */
static int cfg_path(struct cfg_parser *p, const yaml_node_t *n, const char *key, int nullable,
		    char **out)
{
	char *v = NULL, *joined;
	int err = cfg_string(p, n, key, nullable, &v);

	if (err)
		return err;
	if (v && !*v) {
		free(v);
		return cfg_error(p, n, "%s: empty path", key);
	}
	if (v && v[0] != '/' && p->dir) {
		if (asprintf(&joined, "%s/%s", p->dir, v) < 0) {
			free(v);
			return -ENOMEM;
		}
		free(v);
		v = joined;
	}
	free(*out);
	*out = v;
	return 0;
}

typedef int cfg_key_fn(struct cfg_parser *p, const yaml_node_t *value, void *ctx);

struct cfg_key {
	const char *name;
	cfg_key_fn *fn;
};

/* Walks a mapping, dispatching each key through `keys`.  A null value
 * stands for an empty mapping ("machine:" with nothing under it). */
static int cfg_mapping(struct cfg_parser *p, const yaml_node_t *n, const char *what,
		       const struct cfg_key *keys, unsigned nkeys, void *ctx)
{
	uint32_t seen = 0;

	if (cfg_is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return cfg_error(p, n, "%s must be a mapping", what);
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const char *name;
		unsigned i;
		int err;

		if (!k || !v)
			return cfg_error(p, n, "%s: malformed mapping", what);
		if (k->type != YAML_SCALAR_NODE)
			return cfg_error(p, k, "%s: keys must be plain names", what);
		name = (const char *)k->data.scalar.value;
		for (i = 0; i < nkeys; i++)
			if (!strcmp(keys[i].name, name))
				break;
		if (i == nkeys)
			return cfg_error(p, k, "unknown key '%s' in %s", name, what);
		if (seen & (1u << i))
			return cfg_error(p, k, "duplicate key '%s' in %s", name, what);
		seen |= 1u << i;
		err = keys[i].fn(p, v, ctx);
		if (err)
			return err;
	}
	return 0;
}

static int cfg_lps(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	uint64_t n;
	int err = cfg_uint(p, v, "machine.lps", &n);

	if (err)
		return err;
	if (n < 1 || n > CONFIG_MAX_LPS)
		return cfg_error(p, v, "machine.lps: %llu is out of range 1..%d",
				 (unsigned long long)n, CONFIG_MAX_LPS);
	p->c->lps = (unsigned)n;
	return 0;
}

static int cfg_ram(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	const char *s = cfg_scalar(p, v, "machine.ram");
	uint64_t n;

	if (!s)
		return -EINVAL;
	if (config_parse_size(s, &n))
		return cfg_error(p, v, "machine.ram: bad size '%s' (want e.g. 512M, 2G or 1048576)",
				 s);
	/* memmap_new: whole 4 KiB pages, at least 1 MiB (the PC low memory). */
	if (n < CONFIG_MIN_RAM || n % CONFIG_RAM_ALIGN)
		return cfg_error(p, v, "machine.ram: %s must be at least 1M and a multiple of 4K", s);
	p->c->ram = n;
	return 0;
}

static int cfg_profile(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	const char *s;
	size_t len;

	if (cfg_is_null(v))
		return cfg_error(p, v, "machine.profile: a value is required");
	s = cfg_scalar(p, v, "machine.profile");
	if (!s)
		return -EINVAL;
	len = strlen(s);
	/* A name picks a file from the profiles directory; anything that
	 * looks like a file is one. */
	if (strchr(s, '/') || (len >= 5 && !strcmp(s + len - 5, ".yaml")))
		return cfg_path(p, v, "machine.profile", 0, &p->c->profile);
	if (!*s)
		return cfg_error(p, v, "machine.profile: empty name");
	return cfg_string(p, v, "machine.profile", 0, &p->c->profile);
}

static int cfg_quantum(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	uint64_t n;
	int err = cfg_uint(p, v, "machine.quantum", &n);

	if (err)
		return err;
	if (n == 0)
		return cfg_error(p, v, "machine.quantum: must be at least 1 cycle");
	p->c->quantum_cycles = n;
	return 0;
}

static const struct cfg_key cfg_machine_keys[] = {
	{ "lps", cfg_lps },
	{ "ram", cfg_ram },
	{ "profile", cfg_profile },
	{ "quantum", cfg_quantum },
};

static int cfg_machine(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_mapping(p, v, "machine", cfg_machine_keys,
			   sizeof(cfg_machine_keys) / sizeof(cfg_machine_keys[0]), NULL);
}

static int cfg_firmware(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_path(p, v, "firmware", 1, &p->c->firmware);
}

static int cfg_cmdline(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_string(p, v, "firmware_cmdline", 1, &p->c->cmdline);
}

static int cfg_module_path(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_path(p, v, "modules.path", 0, &((struct config_module *)ctx)->path);
}

static int cfg_module_name(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	struct config_module *mod = ctx;
	int err = cfg_string(p, v, "modules.name", 0, &mod->name);

	if (err)
		return err;
	if (!*mod->name)
		return cfg_error(p, v, "modules.name: empty name");
	if (strlen(mod->name) > CONFIG_MODULE_NAME_MAX)
		return cfg_error(p, v, "modules.name: '%s' is longer than %d characters", mod->name,
				 CONFIG_MODULE_NAME_MAX);
	return 0;
}

static const struct cfg_key cfg_module_keys[] = {
	{ "path", cfg_module_path },
	{ "name", cfg_module_name },
};

static int cfg_modules(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	struct config *c = p->c;

	if (cfg_is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return cfg_error(p, v, "modules must be a sequence of {path:, name:} mappings");
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(p->doc, *it);
		struct config_module *mod;
		const char *base;
		int err;

		if (!item)
			return cfg_error(p, v, "modules: malformed sequence");
		if (c->nmodules == CONFIG_MAX_MODULES)
			return cfg_error(p, item, "modules: more than %d modules", CONFIG_MAX_MODULES);
		mod = &c->modules[c->nmodules++];
		if (item->type != YAML_MAPPING_NODE)
			return cfg_error(p, item, "modules: each module must be a mapping with a path");
		err = cfg_mapping(p, item, "a module", cfg_module_keys,
				  sizeof(cfg_module_keys) / sizeof(cfg_module_keys[0]), mod);
		if (err)
			return err;
		if (!mod->path)
			return cfg_error(p, item, "modules: module without a path");
		if (!mod->name) {
			/* Default name: the file name, cut to what the boot
			 * information holds. */
			base = strrchr(mod->path, '/');
			base = base ? base + 1 : mod->path;
			mod->name = strndup(base, CONFIG_MODULE_NAME_MAX);
			if (!mod->name)
				return -ENOMEM;
		}
	}
	return 0;
}

/* YAML 1.1 booleans (yaml.org/type/bool.html), plain scalars only. */
static int cfg_bool(struct cfg_parser *p, const yaml_node_t *n, const char *key, int *out)
{
	static const char *const yes[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
					   "on", "On", "ON" };
	static const char *const no[] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE",
					  "off", "Off", "OFF" };
	const char *v;

	if (cfg_is_null(n))
		return cfg_error(p, n, "%s: a value is required", key);
	v = cfg_scalar(p, n, key);
	if (!v)
		return -EINVAL;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cfg_error(p, n, "%s: expected true or false, got a quoted string", key);
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcmp(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return cfg_error(p, n, "%s: expected true or false, got '%s'", key, v);
}

/* An unsigned integer in [lo, hi]. */
static int cfg_uint_range(struct cfg_parser *p, const yaml_node_t *n, const char *key, uint64_t lo,
			  uint64_t hi, unsigned *out)
{
	uint64_t v;
	int err = cfg_uint(p, n, key, &v);

	if (err)
		return err;
	if (v < lo || v > hi)
		return cfg_error(p, n, "%s: %llu is out of range %llu..%llu", key,
				 (unsigned long long)v, (unsigned long long)lo,
				 (unsigned long long)hi);
	*out = (unsigned)v;
	return 0;
}

/* One entry of `partitions` as written, before count expansion. */
struct cfg_partition {
	struct config_partition p;	/* name is the name as written */
	const yaml_node_t *name_node;
	int enlightened_set;
	unsigned count;
};

static int cfg_part_name(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	struct cfg_partition *cp = ctx;
	char *name = NULL;
	size_t len;
	int err = cfg_string(p, v, "partitions.name", 0, &name);

	if (err)
		return err;
	len = strlen(name);
	if (!len)
		err = cfg_error(p, v, "partitions.name: empty name");
	else if (len > CONFIG_PARTITION_NAME_MAX)
		err = cfg_error(p, v, "partitions.name: '%s' is longer than %d characters", name,
				CONFIG_PARTITION_NAME_MAX);
	else if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != len)
		err = cfg_error(p, v,
				"partitions.name: '%s' may contain only letters, digits, '_' and '-'",
				name);
	else
		memcpy(cp->p.name, name, len + 1);
	cp->name_node = v;
	free(name);
	return err;
}

/* "enlightened" and "unenlightened" name the built child kernels; any
 * other value is a path ("./enlightened" is the file of that name). */
static int cfg_part_kernel(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	struct cfg_partition *cp = ctx;
	const char *s;

	if (cfg_is_null(v))
		return cfg_error(p, v, "partitions.kernel: a value is required");
	s = cfg_scalar(p, v, "partitions.kernel");
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "enlightened") || !strcmp(s, "unenlightened")) {
		cp->p.kernel_builtin = 1;
		return cfg_string(p, v, "partitions.kernel", 0, &cp->p.kernel);
	}
	cp->p.kernel_builtin = 0;
	return cfg_path(p, v, "partitions.kernel", 0, &cp->p.kernel);
}

static int cfg_part_enlightened(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	struct cfg_partition *cp = ctx;

	cp->enlightened_set = 1;
	return cfg_bool(p, v, "partitions.enlightened", &cp->p.enlightened);
}

static int cfg_part_synic_test_device(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_bool(p, v, "partitions.synic_test_device", &((struct cfg_partition *)ctx)->p.synic_test_device);
}

static int cfg_part_console(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_bool(p, v, "partitions.console", &((struct cfg_partition *)ctx)->p.console);
}

static int cfg_part_cmdline(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	struct cfg_partition *cp = ctx;
	int err;

	err = cfg_string(p, v, "partitions.cmdline", 1, &cp->p.cmdline);
	if (!err && cp->p.cmdline && strlen(cp->p.cmdline) > CONFIG_CMDLINE_MAX)
		err = cfg_error(p, v, "partitions.cmdline: longer than %d characters", CONFIG_CMDLINE_MAX);
	return err;
}

static int cfg_part_memory(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	struct cfg_partition *cp = ctx;
	const char *s = cfg_scalar(p, v, "partitions.memory");
	uint64_t n;

	if (!s)
		return -EINVAL;
	if (config_parse_size(s, &n))
		return cfg_error(p, v, "partitions.memory: bad size '%s' (want e.g. 16M or 0x1000000)",
				 s);
	if (n < CONFIG_PART_MEMORY_MIN)
		return cfg_error(p, v, "partitions.memory: %s is less than 4M", s);
	if (n > CONFIG_PART_MEMORY_MAX)
		return cfg_error(p, v, "partitions.memory: %s is more than 1G", s);
	if (n % CONFIG_PART_MEMORY_ALIGN)
		return cfg_error(p, v, "partitions.memory: %s is not a multiple of 2M", s);
	cp->p.memory = n;
	return 0;
}

static int cfg_part_vps(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_uint_range(p, v, "partitions.vps", 1, CONFIG_PART_MAX_VPS,
			      &((struct cfg_partition *)ctx)->p.vps);
}

static int cfg_part_count(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_uint_range(p, v, "partitions.count", 1, CONFIG_PART_MAX_COUNT,
			      &((struct cfg_partition *)ctx)->count);
}

static int cfg_part_iterations(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_uint_range(p, v, "partitions.iterations", 0, CONFIG_PART_MAX_ITERATIONS,
			      &((struct cfg_partition *)ctx)->p.iterations);
}

static const struct cfg_key cfg_partition_keys[] = {
	{ "name", cfg_part_name },
	{ "kernel", cfg_part_kernel },
	{ "enlightened", cfg_part_enlightened },
	{ "synic_test_device", cfg_part_synic_test_device },
	{ "console", cfg_part_console },
	{ "cmdline", cfg_part_cmdline },
	{ "memory", cfg_part_memory },
	{ "vps", cfg_part_vps },
	{ "count", cfg_part_count },
	{ "iterations", cfg_part_iterations },
};

/* Appends cp's `count` children to the configuration: NAME when count
 * is 1, else NAME-1 .. NAME-count; each name must be new. */
static int cfg_part_expand(struct cfg_parser *p, const yaml_node_t *item, struct cfg_partition *cp)
{
	struct config *c = p->c;

	for (unsigned i = 1; i <= cp->count; i++) {
		struct config_partition *dst;
		char name[64];

		if (c->npartitions == CONFIG_MAX_PARTITIONS)
			return cfg_error(p, item, "partitions: more than %d partitions (after count expansion)",
					 CONFIG_MAX_PARTITIONS);
		if (cp->count > 1)
			snprintf(name, sizeof(name), "%s-%u", cp->p.name, i);
		else
			snprintf(name, sizeof(name), "%s", cp->p.name);
		if (strlen(name) > CONFIG_PARTITION_NAME_MAX)
			return cfg_error(p, cp->name_node,
					 "partitions.name: '%s' (with count %u) is longer than %d characters",
					 name, cp->count, CONFIG_PARTITION_NAME_MAX);
		for (unsigned j = 0; j < c->npartitions; j++)
			if (!strcmp(c->partitions[j].name, name))
				return cfg_error(p, cp->name_node,
						 "partitions.name: '%s' names two partitions (after count expansion)",
						 name);
		dst = &c->partitions[c->npartitions];
		*dst = cp->p;
		snprintf(dst->name, sizeof(dst->name), "%s", name);
		snprintf(dst->group, sizeof(dst->group), "%s", cp->p.name);
		dst->kernel = strdup(cp->p.kernel);
		dst->cmdline = cp->p.cmdline ? strdup(cp->p.cmdline) : NULL;
		c->npartitions++;
		if (!dst->kernel || (cp->p.cmdline && !dst->cmdline))
			return -ENOMEM;
		if (dst->console) {
			for (unsigned j = 0; j + 1 < c->npartitions; j++)
				if (c->partitions[j].console)
					return cfg_error(p, item,
							 "partitions.console: both '%s' and '%s' ask for the console (at most one child may)",
							 c->partitions[j].name, name);
		}
	}
	return 0;
}

static int cfg_partitions(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	if (cfg_is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return cfg_error(p, v, "partitions must be a sequence of {name:, kernel:, ...} mappings");
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(p->doc, *it);
		struct cfg_partition cp = {
			.p = { .memory = CONFIG_PART_MEMORY_DEFAULT, .vps = 1 },
			.count = 1,
		};
		int err;

		if (!item)
			return cfg_error(p, v, "partitions: malformed sequence");
		if (item->type != YAML_MAPPING_NODE)
			return cfg_error(p, item,
					 "partitions: each partition must be a mapping with a name and a kernel");
		err = cfg_mapping(p, item, "a partition", cfg_partition_keys,
				  sizeof(cfg_partition_keys) / sizeof(cfg_partition_keys[0]), &cp);
		if (!err && !cp.p.name[0])
			err = cfg_error(p, item, "partitions: partition without a name");
		if (!err && !cp.p.kernel)
			err = cfg_error(p, item, "partitions: partition '%s' without a kernel",
					cp.p.name);
		if (!err) {
			if (!cp.enlightened_set)
				cp.p.enlightened = cp.p.kernel_builtin &&
						   !strcmp(cp.p.kernel, "enlightened");
			err = cfg_part_expand(p, item, &cp);
		}
		free(cp.p.kernel);
		free(cp.p.cmdline);
		if (err)
			return err;
	}
	return 0;
}

static int cfg_output_dir(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	int err = cfg_string(p, v, "output.dir", 0, &p->c->output_dir);

	if (!err && !*p->c->output_dir)
		return cfg_error(p, v, "output.dir: empty path");
	return err;
}

static const struct cfg_key cfg_output_keys[] = {
	{ "dir", cfg_output_dir },
};

static int cfg_output(struct cfg_parser *p, const yaml_node_t *v, void *ctx)
{
	return cfg_mapping(p, v, "output", cfg_output_keys,
			   sizeof(cfg_output_keys) / sizeof(cfg_output_keys[0]), NULL);
}

static const struct cfg_key cfg_top_keys[] = {
	{ "machine", cfg_machine },
	{ "firmware", cfg_firmware },
	{ "firmware_cmdline", cfg_cmdline },
	{ "modules", cfg_modules },
	{ "partitions", cfg_partitions },
	{ "output", cfg_output },
};

static void cfg_parser_error(const char *name, const yaml_parser_t *yp)
{
	const char *problem = yp->problem ? yp->problem : "malformed YAML";

	if (yp->error == YAML_READER_ERROR) {
		diag_error_at(name, 0, 0, "offset %zu: %s", yp->problem_offset, problem);
	} else if (yp->context) {
		diag_error_at(name, (unsigned)yp->problem_mark.line + 1,
			      (unsigned)yp->problem_mark.column + 1, "%s %s (line %zu)", problem,
			      yp->context, yp->context_mark.line + 1);
	} else {
		diag_error_at(name, (unsigned)yp->problem_mark.line + 1,
			      (unsigned)yp->problem_mark.column + 1, "%s", problem);
	}
}

static int cfg_parse_yaml(struct cfg_parser *p, const char *text, size_t len)
{
	yaml_parser_t yp;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	int err = 0;

	if (!yaml_parser_initialize(&yp))
		return -ENOMEM;
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	if (!yaml_parser_load(&yp, &doc)) {
		cfg_parser_error(p->name, &yp);
		yaml_parser_delete(&yp);
		return -EINVAL;
	}
	p->doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root && !cfg_is_null(root)) {
		if (root->type != YAML_MAPPING_NODE)
			err = cfg_error(p, root, "the configuration must be a mapping of keys");
		else
			err = cfg_mapping(p, root, "the configuration", cfg_top_keys,
					  sizeof(cfg_top_keys) / sizeof(cfg_top_keys[0]), NULL);
	}
	if (!err && root) {
		/* One document per file: a second one is probably a mistake. */
		if (!yaml_parser_load(&yp, &extra)) {
			cfg_parser_error(p->name, &yp);
			err = -EINVAL;
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2)
				err = cfg_error(p, r2, "only one YAML document is allowed");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&yp);
	return err;
}

int config_set_child_kernel(struct config *c, const char *path, const char *cmdline, unsigned vps,
			    uint64_t memory)
{
	struct config_partition *p = &c->partitions[0];

	if (cmdline && strlen(cmdline) > CONFIG_CMDLINE_MAX) {
		diag_error("--child-kernel: the command line is longer than %d characters", CONFIG_CMDLINE_MAX);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->npartitions; i++) {
		free(c->partitions[i].kernel);
		free(c->partitions[i].cmdline);
	}
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "guest");
	snprintf(p->group, sizeof(p->group), "guest");
	p->kernel = strdup(path);
	p->cmdline = cmdline && *cmdline ? strdup(cmdline) : NULL;
	p->synic_test_device = 1;
	p->console = 1;
	p->memory = memory;
	p->vps = vps;
	c->npartitions = 1;
	if (!p->kernel || (cmdline && *cmdline && !p->cmdline)) {
		diag_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->source);
	free(c->text);
	free(c->profile);
	free(c->firmware);
	free(c->cmdline);
	for (unsigned i = 0; i < c->nmodules; i++) {
		free(c->modules[i].path);
		free(c->modules[i].name);
	}
	for (unsigned i = 0; i < c->npartitions; i++) {
		free(c->partitions[i].kernel);
		free(c->partitions[i].cmdline);
	}
	free(c->output_dir);
	free(c);
}

int config_parse(const char *text, size_t len, const char *name, struct config **out)
{
	struct cfg_parser p = { .name = name };
	struct config *c;
	const char *slash = strrchr(name, '/');
	int err = -ENOMEM;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->source = strdup(name);
	c->text = malloc(len + 1);
	c->profile = strdup("sandybridge");
	c->output_dir = strdup(".");
	if (!c->source || !c->text || !c->profile || !c->output_dir)
		goto fail;
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	c->text_len = len;
	c->lps = 1;
	c->ram = 256ull << 20;
	c->quantum_cycles = 1000;

	if (slash) {
		/* "/x.yaml" has the directory "", joined as "" + "/" + path. */
		p.dir = strndup(name, (size_t)(slash - name));
		if (!p.dir)
			goto fail;
	}
	p.c = c;
	err = cfg_parse_yaml(&p, text, len);
	free(p.dir);
	if (err)
		goto fail;
	*out = c;
	return 0;
fail:
	if (err == -ENOMEM)
		diag_error_at(name, 0, 0, "%s", strerror(ENOMEM));
	config_free(c);
	return err;
}

int config_load(const char *path, struct config **out)
{
	uint8_t *data;
	size_t len;
	int err;

	*out = NULL;
	err = loader_read_file(path, &data, &len);
	if (err)
		return err;
	err = config_parse((const char *)data, len, path, out);
	free(data);
	return err;
}

int config_default(struct config **out)
{
	return config_parse(config_default_text, sizeof(config_default_text) - 1, "<built-in>", out);
}
