/* fw_cfg over I/O ports (QEMU docs/specs/fw_cfg.rst): a 16-bit write of
 * the key to the selector port, then 8-bit reads of the data port, which
 * advance through the item.  The file directory (key 0x19) is big endian:
 * u32 count, then 64-byte entries { u32 size, u16 select, u16 reserved,
 * char name[56] }. */
#include "guest.h"

#define FWCFG_PORT_SEL 0x510
#define FWCFG_PORT_DATA 0x511
#define FWCFG_NAME_LEN 56

void fwcfg_select(uint16_t key)
{
	outw(FWCFG_PORT_SEL, key);
}

void fwcfg_read_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len--)
		*p++ = inb(FWCFG_PORT_DATA);
}

void fwcfg_read(uint16_t key, void *buf, size_t len)
{
	fwcfg_select(key);
	fwcfg_read_bytes(buf, len);
}

uint64_t fwcfg_read_u64(uint16_t key)
{
	uint8_t b[8];
	uint64_t v = 0;

	fwcfg_read(key, b, sizeof(b));
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

uint16_t fwcfg_read_u16(uint16_t key)
{
	uint8_t b[2];

	fwcfg_read(key, b, sizeof(b));
	return (uint16_t)(b[0] | b[1] << 8);
}

bool fwcfg_present(void)
{
	char sig[4];

	fwcfg_read(FW_CFG_SIGNATURE, sig, sizeof(sig));
	return !memcmp(sig, "QEMU", 4);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint32_t fwcfg_file_count(void)
{
	uint8_t b[4];

	fwcfg_read(FW_CFG_FILE_DIR, b, sizeof(b));
	return be32(b);
}

int fwcfg_find_file(const char *name, uint16_t *key, uint32_t *size)
{
	uint8_t b[4];
	uint32_t n;

	fwcfg_select(FW_CFG_FILE_DIR);
	fwcfg_read_bytes(b, sizeof(b));
	n = be32(b);
	if (n > FWCFG_MAX_FILES)
		n = FWCFG_MAX_FILES;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t ent[8];
		char fname[FWCFG_NAME_LEN + 1];

		fwcfg_read_bytes(ent, sizeof(ent));
		fwcfg_read_bytes(fname, FWCFG_NAME_LEN);
		fname[FWCFG_NAME_LEN] = 0;
		if (!strcmp(fname, name)) {
			*size = be32(ent);
			*key = (uint16_t)(ent[4] << 8 | ent[5]);
			return 0;
		}
	}
	return -1;
}
