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
