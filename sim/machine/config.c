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
#include "loader.h"

#define CONFIG_MODULE_NAME_MAX 39	/* struct hv_boot_module.name holds 40 with the NUL */
#define CONFIG_MIN_RAM (1ull << 20)
#define CONFIG_RAM_ALIGN 4096ull

/* Equivalent to the defaults below; handed to the firmware when no file
 * is given. */
static const char config_default_text[] =
	"# hvsim built-in configuration\n"
	"machine:\n"
	"  lps: 1\n"
	"  ram: 256M\n"
	"  profile: sandybridge\n"
	"  quantum: 1000\n"
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
