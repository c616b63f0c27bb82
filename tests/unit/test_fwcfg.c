#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "dev.h"
#include "memmap.h"

#define RAM (64ull << 20)

static struct memmap *m;
static struct fwcfg *f;

static void setup(void)
{
	m = memmap_new(RAM);
	cr_assert_not_null(m);
	f = fwcfg_new(m, RAM, 3);
	cr_assert_not_null(f);
}

static void teardown(void)
{
	fwcfg_free(f);
	memmap_free(m);
}

static void select_key(uint16_t key)
{
	memmap_port_out(m, FWCFG_PORT_SEL, key, 2);
}

static void read_bytes(void *dst, size_t n)
{
	uint8_t *p = dst;

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)memmap_port_in(m, FWCFG_PORT_DATA, 1);
}

static uint64_t read_le(uint16_t key, unsigned n)
{
	uint8_t b[8];
	uint64_t v = 0;

	select_key(key);
	read_bytes(b, n);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

TestSuite(fwcfg, .init = setup, .fini = teardown);

Test(fwcfg, signature_reads_qemu)
{
	char sig[5] = { 0 };

	select_key(FW_CFG_SIGNATURE);
	read_bytes(sig, 4);
	cr_assert_str_eq(sig, "QEMU");
}

Test(fwcfg, id_reports_traditional_interface_only)
{
	cr_assert_eq(read_le(FW_CFG_ID, 4), 1);
}

Test(fwcfg, ram_size_is_little_endian_u64)
{
	cr_assert_eq(read_le(FW_CFG_RAM_SIZE, 8), RAM);
}

Test(fwcfg, cpu_counts_and_nographic)
{
	cr_assert_eq(read_le(FW_CFG_NB_CPUS, 2), 3);
	cr_assert_eq(read_le(FW_CFG_MAX_CPUS, 2), 3);
	cr_assert_eq(read_le(FW_CFG_NOGRAPHIC, 2), 1);
}

Test(fwcfg, unknown_key_reads_zero)
{
	cr_assert_eq(read_le(0x02, 8), 0);
	cr_assert_eq(read_le(0x7FF, 4), 0);
}

Test(fwcfg, reselect_rewinds_offset)
{
	char a[3] = { 0 }, b[3] = { 0 };

	select_key(FW_CFG_SIGNATURE);
	read_bytes(a, 2);
	select_key(FW_CFG_SIGNATURE);
	read_bytes(b, 2);
	cr_assert_str_eq(a, "QE");
	cr_assert_str_eq(b, "QE");
}

Test(fwcfg, reads_past_end_return_zero)
{
	uint8_t b[8];

	select_key(FW_CFG_SIGNATURE);
	read_bytes(b, 8);
	cr_assert_eq(memcmp(b, "QEMU\0\0\0\0", 8), 0);
}

Test(fwcfg, data_port_writes_are_ignored)
{
	char sig[5] = { 0 };

	select_key(FW_CFG_SIGNATURE);
	memmap_port_out(m, FWCFG_PORT_DATA, 'X', 1);
	read_bytes(sig, 4);
	cr_assert_str_eq(sig, "QEMU", "neither the item nor the offset changed");
}

Test(fwcfg, byte_write_to_selector_does_not_select)
{
	uint8_t b;

	select_key(FW_CFG_SIGNATURE);
	memmap_port_out(m, FWCFG_PORT_SEL, FW_CFG_ID, 1);
	read_bytes(&b, 1);
	cr_assert_eq(b, 'Q');
}

Test(fwcfg, file_dir_starts_empty)
{
	uint8_t cnt[4];

	select_key(FW_CFG_FILE_DIR);
	read_bytes(cnt, 4);
	cr_assert_eq(be32(cnt), 0);
}

Test(fwcfg, added_file_is_listed_and_readable_by_key)
{
	static const char data[] = "payload-bytes";
	uint8_t dir[4 + 64] = { 0 };
	char buf[sizeof(data)] = { 0 };
	int key = fwcfg_add_file(f, "etc/hvsim/test", data, sizeof(data) - 1);

	cr_assert_eq(key, FW_CFG_FILE_FIRST);
	select_key(FW_CFG_FILE_DIR);
	read_bytes(dir, sizeof(dir));
	cr_assert_eq(be32(dir), 1);
	cr_assert_eq(be32(dir + 4), sizeof(data) - 1, "size is big endian");
	cr_assert_eq(be16(dir + 8), FW_CFG_FILE_FIRST, "select is big endian");
	cr_assert_eq(be16(dir + 10), 0, "reserved");
	cr_assert_str_eq((const char *)dir + 12, "etc/hvsim/test");

	select_key(be16(dir + 8));
	read_bytes(buf, sizeof(data) - 1);
	cr_assert_str_eq(buf, data);
	read_bytes(buf, 1);
	cr_assert_eq(buf[0], 0, "past the end");
}

Test(fwcfg, second_file_gets_next_key_and_both_are_listed)
{
	uint8_t dir[4 + 2 * 64];

	cr_assert_eq(fwcfg_add_file(f, "a", "1", 1), FW_CFG_FILE_FIRST);
	cr_assert_eq(fwcfg_add_file(f, "b", "22", 2), FW_CFG_FILE_FIRST + 1);
	select_key(FW_CFG_FILE_DIR);
	read_bytes(dir, sizeof(dir));
	cr_assert_eq(be32(dir), 2);
	cr_assert_str_eq((const char *)dir + 4 + 8, "a");
	cr_assert_eq(be32(dir + 4 + 64), 2);
	cr_assert_eq(be16(dir + 4 + 64 + 4), FW_CFG_FILE_FIRST + 1);
	cr_assert_str_eq((const char *)dir + 4 + 64 + 8, "b");
	cr_assert_eq(read_le(FW_CFG_FILE_FIRST + 1, 2), '2' | '2' << 8);
}

Test(fwcfg, add_file_rejects_bad_names_and_duplicates)
{
	char longname[57];

	memset(longname, 'n', 56);
	longname[56] = '\0';
	cr_assert_eq(fwcfg_add_file(f, longname, "x", 1), -ENAMETOOLONG);
	longname[55] = '\0';
	cr_assert_eq(fwcfg_add_file(f, longname, "x", 1), FW_CFG_FILE_FIRST, "55 characters fit");
	cr_assert_eq(fwcfg_add_file(f, longname, "y", 1), -EEXIST);
	cr_assert_eq(fwcfg_add_file(f, "", "x", 1), -EINVAL);
	cr_assert_eq(fwcfg_add_file(f, NULL, "x", 1), -EINVAL);
}

Test(fwcfg, add_file_stops_when_slots_run_out)
{
	char name[16];
	int i, ret = 0;

	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ret = fwcfg_add_file(f, name, "z", 1);
		if (ret < 0)
			break;
	}
	cr_assert_eq(ret, -ENOSPC);
	cr_assert_eq(i, 32);
	cr_assert_eq(read_le(FW_CFG_FILE_DIR, 4), 32u << 24, "count stays 32 (big endian)");
}

Test(fwcfg, empty_file_is_listed_with_size_zero)
{
	uint8_t dir[12];

	cr_assert_eq(fwcfg_add_file(f, "empty", NULL, 0), FW_CFG_FILE_FIRST);
	select_key(FW_CFG_FILE_DIR);
	read_bytes(dir, sizeof(dir));
	cr_assert_eq(be32(dir), 1);
	cr_assert_eq(be32(dir + 4), 0);
	cr_assert_eq(read_le(FW_CFG_FILE_FIRST, 1), 0);
}
