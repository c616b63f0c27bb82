/* The run configuration: defaults, every key, path resolution, and the
 * exact "file:line:col: reason" of each error. */
#include <criterion/criterion.h>

#include "capture.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "hvsim_config.h"

static struct config *parse_ok(const char *text, const char *name)
{
	struct config *c = NULL;
	const char *msg;
	int r;

	capture_begin();
	r = config_parse(text, strlen(text), name, &c);
	msg = capture_end();
	cr_assert_eq(r, 0, "parse failed: %s", msg);
	cr_assert_not_null(c);
	return c;
}

/* Parses text as "t.yaml" expecting failure with exactly `want` on stderr. */
static void parse_fails(const char *text, const char *want)
{
	struct config *c = (struct config *)1;
	const char *msg;
	int r;

	capture_begin();
	r = config_parse(text, strlen(text), "t.yaml", &c);
	msg = capture_end();
	cr_assert_eq(r, -EINVAL, "accepted:\n%s", text);
	cr_assert_null(c);
	cr_assert_str_eq(msg, want);
}

Test(config, default_is_one_lp_256m_sandybridge_no_firmware)
{
	struct config *c = NULL, *again;

	cr_assert_eq(config_default(&c), 0);
	cr_assert_str_eq(c->source, "<built-in>");
	cr_assert_eq(c->lps, 1);
	cr_assert_eq(c->ram, 256ull << 20);
	cr_assert_str_eq(c->profile, "sandybridge");
	cr_assert_eq(c->quantum_cycles, 1000);
	cr_assert_null(c->firmware);
	cr_assert_null(c->cmdline);
	cr_assert_eq(c->nmodules, 0);
	cr_assert_str_eq(c->output_dir, ".");
	/* Its text is a YAML document saying the same thing. */
	cr_assert_eq(c->text_len, strlen(c->text));
	cr_assert(strstr(c->text, "ram: 256M"));
	again = parse_ok(c->text, "copy.yaml");
	cr_assert_eq(again->lps, c->lps);
	cr_assert_eq(again->ram, c->ram);
	cr_assert_str_eq(again->profile, c->profile);
	cr_assert_eq(again->quantum_cycles, c->quantum_cycles);
	cr_assert_str_eq(again->output_dir, c->output_dir);
	config_free(again);
	config_free(c);
}

Test(config, empty_document_gives_defaults)
{
	struct config *c = parse_ok("# nothing here\n", "t.yaml");

	cr_assert_eq(c->lps, 1);
	cr_assert_eq(c->ram, 256ull << 20);
	cr_assert_str_eq(c->text, "# nothing here\n");
	config_free(c);
}

Test(config, every_key_is_read)
{
	const char *text =
		"machine:\n"
		"  lps: 4\n"
		"  ram: 2G\n"
		"  profile: skylake\n"
		"  quantum: 0x200\n"
		"firmware: /opt/hv/hv_model.elf\n"
		"firmware_cmdline: \"log=debug sched=rr\"\n"
		"modules:\n"
		"  - path: /opt/hv/root.elf\n"
		"    name: root\n"
		"  - {path: /opt/hv/child.elf, name: child0}\n"
		"output:\n"
		"  dir: out/run1\n";
	struct config *c = parse_ok(text, "/etc/hvsim/run.yaml");

	cr_assert_eq(c->lps, 4);
	cr_assert_eq(c->ram, 2ull << 30);
	cr_assert_str_eq(c->profile, "skylake");
	cr_assert_eq(c->quantum_cycles, 0x200);
	cr_assert_str_eq(c->firmware, "/opt/hv/hv_model.elf");
	cr_assert_str_eq(c->cmdline, "log=debug sched=rr");
	cr_assert_eq(c->nmodules, 2);
	cr_assert_str_eq(c->modules[0].path, "/opt/hv/root.elf");
	cr_assert_str_eq(c->modules[0].name, "root");
	cr_assert_str_eq(c->modules[1].path, "/opt/hv/child.elf");
	cr_assert_str_eq(c->modules[1].name, "child0");
	cr_assert_str_eq(c->output_dir, "out/run1", "output.dir stays relative to the run");
	cr_assert_str_eq(c->source, "/etc/hvsim/run.yaml");
	cr_assert_eq(c->text_len, strlen(text));
	cr_assert_str_eq(c->text, text);
	config_free(c);
}

Test(config, relative_paths_resolve_against_the_file_directory)
{
	const char *text =
		"machine:\n"
		"  profile: profiles/mine.yaml\n"
		"firmware: build/fw.elf\n"
		"modules:\n"
		"  - path: ../parts/root.elf\n"
		"  - path: /abs/child.elf\n";
	struct config *c = parse_ok(text, "/home/u/cfg/run.yaml");

	cr_assert_str_eq(c->profile, "/home/u/cfg/profiles/mine.yaml");
	cr_assert_str_eq(c->firmware, "/home/u/cfg/build/fw.elf");
	cr_assert_str_eq(c->modules[0].path, "/home/u/cfg/../parts/root.elf");
	cr_assert_str_eq(c->modules[0].name, "root.elf", "default name: the file name");
	cr_assert_str_eq(c->modules[1].path, "/abs/child.elf");
	config_free(c);

	/* A file in the current directory: paths stay as written. */
	c = parse_ok("firmware: fw.elf\nmachine: {profile: custom.yaml}\n", "run.yaml");
	cr_assert_str_eq(c->firmware, "fw.elf");
	cr_assert_str_eq(c->profile, "custom.yaml");
	config_free(c);

	/* A file at the root. */
	c = parse_ok("firmware: fw.elf\n", "/run.yaml");
	cr_assert_str_eq(c->firmware, "/fw.elf");
	config_free(c);
}

Test(config, profile_name_is_not_a_path)
{
	struct config *c = parse_ok("machine:\n  profile: haswell\n", "dir/run.yaml");

	cr_assert_str_eq(c->profile, "haswell");
	config_free(c);
	c = parse_ok("machine:\n  profile: p/haswell\n", "dir/run.yaml");
	cr_assert_str_eq(c->profile, "dir/p/haswell");
	config_free(c);
}

Test(config, null_values_mean_absent)
{
	struct config *c = parse_ok("machine:\nfirmware: ~\nfirmware_cmdline:\nmodules: []\noutput:\n",
				    "t.yaml");

	cr_assert_eq(c->lps, 1);
	cr_assert_null(c->firmware);
	cr_assert_null(c->cmdline);
	cr_assert_eq(c->nmodules, 0);
	config_free(c);
}

Test(config, load_keeps_exact_text_and_resolves_against_its_directory)
{
	char dir[] = "/tmp/hvsim-config-XXXXXX", path[128], cmd[160];
	const char *text = "# my run\nfirmware: fw.elf   # trailing comment\nmachine: {lps: 2}\n";
	struct config *c = NULL;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/run.yaml", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(config_load(path, &c), 0);
	cr_assert_str_eq(c->text, text);
	cr_assert_eq(c->text_len, strlen(text));
	cr_assert_eq(c->lps, 2);
	snprintf(cmd, sizeof(cmd), "%s/fw.elf", dir);
	cr_assert_str_eq(c->firmware, cmd);
	cr_assert_str_eq(c->source, path);
	config_free(c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(config, load_of_missing_file_fails_with_errno)
{
	struct config *c = (struct config *)1;
	const char *msg;
	int r;

	capture_begin();
	r = config_load("/nonexistent/hvsim/run.yaml", &c);
	msg = capture_end();
	cr_assert_eq(r, -ENOENT);
	cr_assert_null(c);
	cr_assert_str_eq(msg, "/nonexistent/hvsim/run.yaml: No such file or directory\n");
}

Test(config, unknown_keys_are_errors_with_position)
{
	parse_fails("machine:\n  lps: 2\n  lp: 3\n", "t.yaml:3:3: unknown key 'lp' in machine\n");
	parse_fails("firmwre: x\n", "t.yaml:1:1: unknown key 'firmwre' in the configuration\n");
	parse_fails("output:\n  directory: x\n", "t.yaml:2:3: unknown key 'directory' in output\n");
	parse_fails("modules:\n  - path: a\n    nmae: b\n",
		    "t.yaml:3:5: unknown key 'nmae' in a module\n");
}

Test(config, wrong_types_are_errors)
{
	parse_fails("machine: 5\n", "t.yaml:1:10: machine must be a mapping\n");
	parse_fails("- a\n- b\n", "t.yaml:1:1: the configuration must be a mapping of keys\n");
	parse_fails("machine:\n  lps: [1, 2]\n",
		    "t.yaml:2:8: machine.lps: expected a scalar value, not a sequence\n");
	parse_fails("machine:\n  lps: two\n",
		    "t.yaml:2:8: machine.lps: expected an unsigned integer, got 'two'\n");
	parse_fails("machine:\n  lps: \"2\"\n",
		    "t.yaml:2:8: machine.lps: expected an unsigned integer, got a quoted string\n");
	parse_fails("machine:\n  quantum: -5\n",
		    "t.yaml:2:12: machine.quantum: expected an unsigned integer, got '-5'\n");
	parse_fails("firmware: {a: b}\n",
		    "t.yaml:1:11: firmware: expected a scalar value, not a mapping\n");
	parse_fails("modules: foo.elf\n",
		    "t.yaml:1:10: modules must be a sequence of {path:, name:} mappings\n");
	parse_fails("modules:\n  - foo.elf\n",
		    "t.yaml:2:5: modules: each module must be a mapping with a path\n");
	parse_fails("machine:\n  profile:\n",
		    "t.yaml:2:11: machine.profile: a value is required\n");
}

Test(config, lps_must_be_1_to_max)
{
	struct config *c = parse_ok("machine: {lps: 64}\n", "t.yaml");

	cr_assert_eq(c->lps, CONFIG_MAX_LPS);
	config_free(c);
	parse_fails("machine:\n  lps: 0\n", "t.yaml:2:8: machine.lps: 0 is out of range 1..64\n");
	parse_fails("machine:\n  lps: 65\n", "t.yaml:2:8: machine.lps: 65 is out of range 1..64\n");
	parse_fails("machine:\n  lps: 99999999999999999999\n",
		    "t.yaml:2:8: machine.lps: expected an unsigned integer, got '99999999999999999999'\n");
}

Test(config, ram_sizes_are_checked)
{
	struct config *c = parse_ok("machine: {ram: 1048576}\n", "t.yaml");

	cr_assert_eq(c->ram, 1ull << 20);
	config_free(c);
	c = parse_ok("machine: {ram: \"512m\"}\n", "t.yaml");
	cr_assert_eq(c->ram, 512ull << 20);
	config_free(c);
	parse_fails("machine:\n  ram: 12Q\n",
		    "t.yaml:2:8: machine.ram: bad size '12Q' (want e.g. 512M, 2G or 1048576)\n");
	parse_fails("machine:\n  ram: 512K\n",
		    "t.yaml:2:8: machine.ram: 512K must be at least 1M and a multiple of 4K\n");
	parse_fails("machine:\n  ram: 1049000\n",
		    "t.yaml:2:8: machine.ram: 1049000 must be at least 1M and a multiple of 4K\n");
	parse_fails("machine:\n  ram: 99999999999G\n",
		    "t.yaml:2:8: machine.ram: bad size '99999999999G' (want e.g. 512M, 2G or 1048576)\n");
}

Test(config, quantum_must_be_positive)
{
	parse_fails("machine:\n  quantum: 0\n",
		    "t.yaml:2:12: machine.quantum: must be at least 1 cycle\n");
}

Test(config, modules_need_a_path_and_a_short_name_and_are_limited)
{
	char text[2048];
	size_t n = 0;
	struct config *c;

	parse_fails("modules:\n  - name: root\n", "t.yaml:2:5: modules: module without a path\n");
	parse_fails("modules:\n  - path: a\n    name: 0123456789012345678901234567890123456789\n",
		    "t.yaml:3:11: modules.name: '0123456789012345678901234567890123456789' is longer than 39 characters\n");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "modules:\n");
	for (int i = 0; i < CONFIG_MAX_MODULES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  - path: m%d.elf\n", i);
	c = parse_ok(text, "t.yaml");
	cr_assert_eq(c->nmodules, CONFIG_MAX_MODULES);
	cr_assert_str_eq(c->modules[14].path, "m14.elf");
	config_free(c);
	snprintf(text + n, sizeof(text) - n, "  - path: one-too-many.elf\n");
	parse_fails(text, "t.yaml:17:5: modules: more than 15 modules\n");
}

Test(config, duplicate_keys_and_extra_documents_are_errors)
{
	parse_fails("machine: {lps: 2}\nmachine: {lps: 3}\n",
		    "t.yaml:2:1: duplicate key 'machine' in the configuration\n");
	parse_fails("machine: {lps: 2}\n---\nmachine: {lps: 3}\n",
		    "t.yaml:3:1: only one YAML document is allowed\n");
}

Test(config, yaml_syntax_errors_report_position)
{
	struct config *c = (struct config *)1;
	const char *text = "machine:\n  lps: [1, 2\n";
	const char *msg;
	int r;

	capture_begin();
	r = config_parse(text, strlen(text), "t.yaml", &c);
	msg = capture_end();
	cr_assert_eq(r, -EINVAL);
	cr_assert_null(c);
	cr_assert_eq(strncmp(msg, "t.yaml:3:1: ", 12), 0, "%s", msg);
}

Test(config, parse_size_accepts_decimal_hex_and_binary_suffixes)
{
	uint64_t v;

	cr_assert_eq(config_parse_size("1048576", &v), 0);
	cr_assert_eq(v, 1048576);
	cr_assert_eq(config_parse_size("512M", &v), 0);
	cr_assert_eq(v, 512ull << 20);
	cr_assert_eq(config_parse_size("2G", &v), 0);
	cr_assert_eq(v, 2ull << 30);
	cr_assert_eq(config_parse_size("4k", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(config_parse_size("3g", &v), 0);
	cr_assert_eq(v, 3ull << 30);
	cr_assert_eq(config_parse_size("0x100000", &v), 0);
	cr_assert_eq(v, 0x100000);
	cr_assert_eq(config_parse_size("0X1aM", &v), 0);
	cr_assert_eq(v, 0x1aull << 20);
	cr_assert_eq(config_parse_size("010", &v), 0);
	cr_assert_eq(v, 10, "leading zeros are decimal, not octal");
	cr_assert_eq(config_parse_size("18446744073709551615", &v), 0);
	cr_assert_eq(v, UINT64_MAX);
	cr_assert_eq(config_parse_size("17179869183G", &v), 0);
	cr_assert_eq(v, 17179869183ull << 30);
}

Test(config, parse_size_rejects_junk_and_overflow)
{
	static const char *const bad[] = {
		"", "M", "0x", "-1", " 1", "1 ", "1.5G", "12MB", "1T", "0x1Q", "1KK",
		"18446744073709551616", "17179869184G", "0x10000000000000000", "16777216T",
	};
	uint64_t v = 77;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(config_parse_size(bad[i], &v), -EINVAL, "accepted '%s'", bad[i]);
		cr_assert_eq(v, 77, "'%s' changed the output", bad[i]);
	}
	cr_assert_eq(config_parse_size(NULL, &v), -EINVAL);
}

/* ---- partitions (docs/config.md "partitions") ---- */

Test(config, default_has_an_enlightened_and_an_unenlightened_child)
{
	struct config *c = NULL;
	const struct config_partition *p;

	cr_assert_eq(config_default(&c), 0);
	cr_assert_eq(c->npartitions, 2);
	p = &c->partitions[0];
	cr_assert_str_eq(p->name, "enlightened");
	cr_assert_str_eq(p->group, "enlightened");
	cr_assert_str_eq(p->kernel, "enlightened");
	cr_assert_eq(p->kernel_builtin, 1);
	cr_assert_eq(p->enlightened, 1);
	cr_assert_eq(p->memory, 16ull << 20);
	cr_assert_eq(p->vps, 1);
	cr_assert_eq(p->iterations, 0);
	p = &c->partitions[1];
	cr_assert_str_eq(p->name, "unenlightened");
	cr_assert_str_eq(p->kernel, "unenlightened");
	cr_assert_eq(p->kernel_builtin, 1);
	cr_assert_eq(p->enlightened, 0);
	cr_assert_eq(p->memory, 16ull << 20);
	cr_assert_eq(p->vps, 1);
	config_free(c);
}

Test(config, examples_default_yaml_is_the_built_in_default)
{
	struct config *c = NULL, *d = NULL;

	cr_assert_eq(config_load(HVSIM_SOURCE_DATADIR "/examples/default.yaml", &c), 0);
	cr_assert_eq(config_default(&d), 0);
	cr_assert_eq(c->lps, d->lps);
	cr_assert_eq(c->ram, d->ram);
	cr_assert_str_eq(c->profile, d->profile);
	cr_assert_eq(c->quantum_cycles, d->quantum_cycles);
	cr_assert_eq(c->nmodules, d->nmodules);
	cr_assert_str_eq(c->output_dir, d->output_dir);
	cr_assert_eq(c->npartitions, 2);
	cr_assert_eq(c->npartitions, d->npartitions);
	for (unsigned i = 0; i < c->npartitions; i++) {
		cr_assert_str_eq(c->partitions[i].name, d->partitions[i].name);
		cr_assert_str_eq(c->partitions[i].kernel, d->partitions[i].kernel);
		cr_assert_eq(c->partitions[i].kernel_builtin, d->partitions[i].kernel_builtin);
		cr_assert_eq(c->partitions[i].enlightened, d->partitions[i].enlightened);
		cr_assert_eq(c->partitions[i].memory, d->partitions[i].memory);
		cr_assert_eq(c->partitions[i].vps, d->partitions[i].vps);
		cr_assert_eq(c->partitions[i].iterations, d->partitions[i].iterations);
	}
	config_free(c);
	config_free(d);
}

Test(config, a_file_without_partitions_has_none)
{
	struct config *c = parse_ok("machine: {lps: 2}\n", "t.yaml");

	cr_assert_eq(c->npartitions, 0);
	config_free(c);
	c = parse_ok("partitions: []\n", "t.yaml");
	cr_assert_eq(c->npartitions, 0);
	config_free(c);
	c = parse_ok("partitions:\n", "t.yaml");
	cr_assert_eq(c->npartitions, 0);
	config_free(c);
}

Test(config, every_partition_key_is_read)
{
	const char *text =
		"partitions:\n"
		"  - name: web_1\n"
		"    kernel: unenlightened\n"
		"    enlightened: yes\n"
		"    synic_test_device: true\n"
		"    memory: 0x6000000\n"
		"    vps: 8\n"
		"    iterations: 1000000\n"
		"  - {name: Legacy-OS, kernel: ../img/os.elf, enlightened: false, memory: 1G, vps: 1, "
		"count: 1, iterations: 0}\n"
		"  - {name: abs, kernel: /opt/k.elf, memory: 4M}\n";
	struct config *c = parse_ok(text, "/etc/hvsim/run.yaml");
	const struct config_partition *p = c->partitions;

	cr_assert_eq(c->npartitions, 3);
	cr_assert_str_eq(p[0].name, "web_1");
	cr_assert_str_eq(p[0].kernel, "unenlightened");
	cr_assert_eq(p[0].kernel_builtin, 1);
	cr_assert_eq(p[0].enlightened, 1, "enlightened: yes overrides the kernel's default");
	cr_assert_eq(p[0].synic_test_device, 1);
	cr_assert_eq(p[0].memory, 0x6000000);
	cr_assert_eq(p[0].vps, 8);
	cr_assert_eq(p[0].iterations, 1000000);
	cr_assert_str_eq(p[1].name, "Legacy-OS");
	cr_assert_str_eq(p[1].group, "Legacy-OS");
	cr_assert_str_eq(p[1].kernel, "/etc/hvsim/../img/os.elf", "relative to the file");
	cr_assert_eq(p[1].kernel_builtin, 0);
	cr_assert_eq(p[1].enlightened, 0);
	cr_assert_eq(p[1].synic_test_device, 0, "off unless asked for");
	cr_assert_eq(p[1].memory, 1ull << 30);
	cr_assert_eq(p[1].vps, 1);
	cr_assert_eq(p[1].iterations, 0);
	cr_assert_str_eq(p[2].kernel, "/opt/k.elf");
	cr_assert_eq(p[2].kernel_builtin, 0);
	cr_assert_eq(p[2].enlightened, 0, "a path's default is unenlightened");
	cr_assert_eq(p[2].memory, 4ull << 20);
	cr_assert_eq(p[2].vps, 1);
	config_free(c);
}

Test(config, partition_defaults_depend_on_the_kernel)
{
	struct config *c = parse_ok("partitions:\n"
				    "  - {name: a, kernel: enlightened}\n"
				    "  - {name: b, kernel: enlightened, enlightened: off}\n"
				    "  - {name: c, kernel: ./enlightened}\n"
				    "  - {name: d, kernel: k.elf, enlightened: True}\n",
				    "cfg/t.yaml");
	const struct config_partition *p = c->partitions;

	cr_assert_eq(c->npartitions, 4);
	cr_assert_eq(p[0].enlightened, 1);
	cr_assert_eq(p[0].memory, 16ull << 20);
	cr_assert_eq(p[0].vps, 1);
	cr_assert_eq(p[0].iterations, 0);
	cr_assert_eq(p[1].enlightened, 0);
	cr_assert_eq(p[1].kernel_builtin, 1);
	cr_assert_str_eq(p[2].kernel, "cfg/./enlightened", "a path, not the built kernel");
	cr_assert_eq(p[2].kernel_builtin, 0);
	cr_assert_eq(p[2].enlightened, 0);
	cr_assert_str_eq(p[3].kernel, "cfg/k.elf");
	cr_assert_eq(p[3].enlightened, 1);
	config_free(c);
}

Test(config, count_expands_to_numbered_children_sharing_a_group)
{
	struct config *c = parse_ok("partitions:\n"
				    "  - {name: solo, kernel: unenlightened, count: 1}\n"
				    "  - {name: w, kernel: enlightened, count: 3, memory: 8M, vps: 2, iterations: 7}\n",
				    "t.yaml");
	const struct config_partition *p = c->partitions;

	cr_assert_eq(c->npartitions, 4);
	cr_assert_str_eq(p[0].name, "solo", "count 1 keeps the name");
	cr_assert_str_eq(p[0].group, "solo");
	for (unsigned i = 1; i <= 3; i++) {
		char want[8];

		snprintf(want, sizeof(want), "w-%u", i);
		cr_assert_str_eq(p[i].name, want);
		cr_assert_str_eq(p[i].group, "w");
		cr_assert_str_eq(p[i].kernel, "enlightened");
		if (i > 1)
			cr_assert_neq((void *)p[i].kernel, (void *)p[1].kernel, "each child owns its string");
		cr_assert_eq(p[i].kernel_builtin, 1);
		cr_assert_eq(p[i].enlightened, 1);
		cr_assert_eq(p[i].memory, 8ull << 20);
		cr_assert_eq(p[i].vps, 2);
		cr_assert_eq(p[i].iterations, 7);
	}
	config_free(c);
	/* Exactly eight after expansion is allowed. */
	c = parse_ok("partitions:\n"
		     "  - {name: a, kernel: enlightened, count: 5}\n"
		     "  - {name: b, kernel: enlightened, count: 2}\n"
		     "  - {name: c, kernel: enlightened}\n",
		     "t.yaml");
	cr_assert_eq(c->npartitions, CONFIG_MAX_PARTITIONS);
	cr_assert_str_eq(c->partitions[7].name, "c");
	config_free(c);
}

Test(config, partition_names_are_checked)
{
	struct config *c = parse_ok("partitions:\n"
				    "  - {name: abcdefghijklmnopqrstuvwxyz01234, kernel: enlightened}\n"
				    "  - {name: abcdefghijklmnopqrstuvwxyz012, kernel: enlightened, count: 7}\n",
				    "t.yaml");

	cr_assert_str_eq(c->partitions[0].name, "abcdefghijklmnopqrstuvwxyz01234", "31 characters");
	cr_assert_str_eq(c->partitions[7].name, "abcdefghijklmnopqrstuvwxyz012-7");
	config_free(c);
	parse_fails("partitions:\n  - name: a b\n    kernel: enlightened\n",
		    "t.yaml:2:11: partitions.name: 'a b' may contain only letters, digits, '_' and '-'\n");
	parse_fails("partitions:\n  - {name: child.1, kernel: enlightened}\n",
		    "t.yaml:2:12: partitions.name: 'child.1' may contain only letters, digits, '_' and '-'\n");
	parse_fails("partitions:\n  - {name: \"x/y\", kernel: enlightened}\n",
		    "t.yaml:2:12: partitions.name: 'x/y' may contain only letters, digits, '_' and '-'\n");
	parse_fails("partitions:\n  - {name: \"\", kernel: enlightened}\n",
		    "t.yaml:2:12: partitions.name: empty name\n");
	parse_fails("partitions:\n  - {name: ~, kernel: enlightened}\n",
		    "t.yaml:2:12: partitions.name: a value is required\n");
	parse_fails("partitions:\n  - {name: abcdefghijklmnopqrstuvwxyz012345, kernel: enlightened}\n",
		    "t.yaml:2:12: partitions.name: 'abcdefghijklmnopqrstuvwxyz012345' is longer than 31 characters\n");
	parse_fails("partitions:\n  - {name: abcdefghijklmnopqrstuvwxyz0123, kernel: enlightened, count: 2}\n",
		    "t.yaml:2:12: partitions.name: 'abcdefghijklmnopqrstuvwxyz0123-1' (with count 2) is longer than 31 characters\n");
	parse_fails("partitions:\n  - {kernel: enlightened}\n",
		    "t.yaml:2:5: partitions: partition without a name\n");
}

Test(config, partition_names_are_unique_after_expansion)
{
	parse_fails("partitions:\n"
		    "  - {name: a, kernel: enlightened}\n"
		    "  - {name: a, kernel: unenlightened}\n",
		    "t.yaml:3:12: partitions.name: 'a' names two partitions (after count expansion)\n");
	parse_fails("partitions:\n"
		    "  - {name: w, kernel: enlightened, count: 2}\n"
		    "  - name: w-2\n"
		    "    kernel: unenlightened\n",
		    "t.yaml:3:11: partitions.name: 'w-2' names two partitions (after count expansion)\n");
	parse_fails("partitions:\n"
		    "  - {name: w-1, kernel: enlightened}\n"
		    "  - {kernel: enlightened, count: 3, name: w}\n",
		    "t.yaml:3:43: partitions.name: 'w-1' names two partitions (after count expansion)\n");
}

Test(config, at_most_eight_partitions_after_expansion)
{
	char text[1024];
	size_t n = 0;

	parse_fails("partitions:\n"
		    "  - {name: a, kernel: enlightened, count: 5}\n"
		    "  - {name: b, kernel: enlightened, count: 4}\n",
		    "t.yaml:3:5: partitions: more than 8 partitions (after count expansion)\n");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "partitions:\n");
	for (int i = 0; i < 9; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  - {name: p%d, kernel: enlightened}\n", i);
	parse_fails(text, "t.yaml:10:5: partitions: more than 8 partitions (after count expansion)\n");
}

Test(config, partition_memory_is_checked)
{
	struct config *c = parse_ok("partitions:\n  - {name: a, kernel: enlightened, memory: 1024M}\n",
				    "t.yaml");

	cr_assert_eq(c->partitions[0].memory, 1ull << 30, "1G is the most");
	config_free(c);
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, memory: 2M}\n",
		    "t.yaml:2:44: partitions.memory: 2M is less than 4M\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, memory: 0}\n",
		    "t.yaml:2:44: partitions.memory: 0 is less than 4M\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, memory: 5M}\n",
		    "t.yaml:2:44: partitions.memory: 5M is not a multiple of 2M\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, memory: 0x500000}\n",
		    "t.yaml:2:44: partitions.memory: 0x500000 is not a multiple of 2M\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, memory: 1026M}\n",
		    "t.yaml:2:44: partitions.memory: 1026M is more than 1G\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, memory: 2G}\n",
		    "t.yaml:2:44: partitions.memory: 2G is more than 1G\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, memory: lots}\n",
		    "t.yaml:2:44: partitions.memory: bad size 'lots' (want e.g. 16M or 0x1000000)\n");
}

Test(config, partition_vps_count_and_iterations_are_in_range)
{
	struct config *c = parse_ok("partitions:\n  - {name: a, kernel: enlightened, vps: 8, count: 8}\n",
				    "t.yaml");

	cr_assert_eq(c->npartitions, 8);
	cr_assert_eq(c->partitions[7].vps, 8);
	config_free(c);
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, vps: 0}\n",
		    "t.yaml:2:41: partitions.vps: 0 is out of range 1..8\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, vps: 9}\n",
		    "t.yaml:2:41: partitions.vps: 9 is out of range 1..8\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, count: 0}\n",
		    "t.yaml:2:43: partitions.count: 0 is out of range 1..8\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, count: 9}\n",
		    "t.yaml:2:43: partitions.count: 9 is out of range 1..8\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, iterations: 1000001}\n",
		    "t.yaml:2:48: partitions.iterations: 1000001 is out of range 0..1000000\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, vps: two}\n",
		    "t.yaml:2:41: partitions.vps: expected an unsigned integer, got 'two'\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, count: \"2\"}\n",
		    "t.yaml:2:43: partitions.count: expected an unsigned integer, got a quoted string\n");
}

Test(config, partition_kernel_and_enlightened_are_checked)
{
	parse_fails("partitions:\n  - {name: a}\n",
		    "t.yaml:2:5: partitions: partition 'a' without a kernel\n");
	parse_fails("partitions:\n  - {name: a, kernel: }\n",
		    "t.yaml:2:23: partitions.kernel: a value is required\n");
	parse_fails("partitions:\n  - {name: a, kernel: \"\"}\n",
		    "t.yaml:2:23: partitions.kernel: empty path\n");
	parse_fails("partitions:\n  - {name: a, kernel: [x]}\n",
		    "t.yaml:2:23: partitions.kernel: expected a scalar value, not a sequence\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, enlightened: maybe}\n",
		    "t.yaml:2:49: partitions.enlightened: expected true or false, got 'maybe'\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, enlightened: 1}\n",
		    "t.yaml:2:49: partitions.enlightened: expected true or false, got '1'\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, enlightened: \"true\"}\n",
		    "t.yaml:2:49: partitions.enlightened: expected true or false, got a quoted string\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, enlightened: ~}\n",
		    "t.yaml:2:49: partitions.enlightened: a value is required\n");
}

Test(config, partition_shape_and_unknown_keys_are_errors)
{
	parse_fails("partitions:\n  - name: a\n    kernel: enlightened\n    cpus: 2\n",
		    "t.yaml:4:5: unknown key 'cpus' in a partition\n");
	parse_fails("partitions:\n  - {name: a, kernel: enlightened, name: b}\n",
		    "t.yaml:2:36: duplicate key 'name' in a partition\n");
	parse_fails("partitions: {name: a}\n",
		    "t.yaml:1:13: partitions must be a sequence of {name:, kernel:, ...} mappings\n");
	parse_fails("partitions:\n  - enlightened\n",
		    "t.yaml:2:5: partitions: each partition must be a mapping with a name and a kernel\n");
	parse_fails("partitions:\n  -\n",
		    "t.yaml:2:4: partitions: each partition must be a mapping with a name and a kernel\n");
}

Test(config, console_and_cmdline)
{
	struct config *c = parse_ok("partitions:\n"
				    "  - {name: kut, kernel: x86/hyperv_stimer.flat, console: true, cmdline: \"a -b c\"}\n"
				    "  - {name: other, kernel: enlightened}\n",
				    "t.yaml");
	const struct config_partition *p = c->partitions;

	cr_assert_eq(p[0].console, 1);
	cr_assert_str_eq(p[0].cmdline, "a -b c");
	cr_assert_eq(p[1].console, 0, "off unless asked for");
	cr_assert_null(p[1].cmdline);
	config_free(c);
	parse_fails("partitions:\n"
		    "  - {name: a, kernel: k.elf, console: true}\n"
		    "  - {name: b, kernel: k.elf, console: yes}\n",
		    "t.yaml:3:5: partitions.console: both 'a' and 'b' ask for the console (at most one child may)\n");
	parse_fails("partitions:\n  - {name: a, kernel: k.elf, console: true, count: 2}\n",
		    "t.yaml:2:5: partitions.console: both 'a-1' and 'a-2' ask for the console (at most one child may)\n");
}

Test(config, child_kernel_replaces_the_children)
{
	struct config *c;

	cr_assert_eq(config_default(&c), 0);
	cr_assert_eq(config_set_child_kernel(c, "x/k.flat", "x/k.flat direct", 2, 32ull << 20), 0);
	cr_assert_eq(c->npartitions, 1);
	cr_assert_str_eq(c->partitions[0].name, "guest");
	cr_assert_str_eq(c->partitions[0].kernel, "x/k.flat");
	cr_assert_eq(c->partitions[0].kernel_builtin, 0);
	cr_assert_str_eq(c->partitions[0].cmdline, "x/k.flat direct");
	cr_assert_eq(c->partitions[0].console, 1);
	cr_assert_eq(c->partitions[0].synic_test_device, 1);
	cr_assert_eq(c->partitions[0].enlightened, 0);
	cr_assert_eq(c->partitions[0].vps, 2);
	cr_assert_eq(c->partitions[0].memory, 32ull << 20);
	config_free(c);
}
