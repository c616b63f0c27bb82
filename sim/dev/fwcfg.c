/* QEMU fw_cfg, traditional I/O-port interface (QEMU docs/specs/fw_cfg.rst):
 * a 16-bit write to the selector port picks an item and rewinds its
 * offset; each 8-bit read of the data port returns the next byte, and 0
 * once past the end.  Unknown items read as empty.  Integers are little
 * endian except in the file directory, which is big endian.  There is no
 * DMA interface (FW_CFG_ID bit 1 clear) and nothing is writable: writes to
 * the data port are ignored, as the document specifies since QEMU 2.4.
 *
 * Accesses the interface does not define (an 8-bit write to the selector,
 * reads of the selector, wide data reads) are ignored or read all ones. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"

#define FWCFG_NPORTS 2		/* selector 0x510 (16-bit), data 0x511 */
#define FWCFG_SEL_WRITE 0x4000	/* FW_CFG_WRITE_CHANNEL: selects the same item */
#define FWCFG_MAX_FILES 32	/* keys FW_CFG_FILE_FIRST..0x3f */
#define FWCFG_NAME_LEN 56	/* FWCfgFile.name, NUL-terminated */
#define FWCFG_ID_TRADITIONAL 0x1	/* bit 0: traditional interface; bit 1 (DMA) clear */
#define FWCFG_NONE ((size_t)-1)

/* FW_CFG_FILE_DIR ("File Directory"): a big-endian u32 count, then per
 * file { be32 size; be16 select; u16 reserved; char name[56]; }. */
#define FWCFG_DIRENT_SIZE (4 + 2 + 2 + FWCFG_NAME_LEN)

struct fwcfg_item {
	uint16_t key;
	uint32_t len;
	uint8_t *data;
	char name[FWCFG_NAME_LEN];	/* files only */
};

struct fwcfg {
	struct fwcfg_item *items;
	size_t nitems, cap;
	unsigned nfiles;
	size_t cur;		/* index of the selected item, or FWCFG_NONE */
	uint32_t offset;
};

static size_t fwcfg_find(const struct fwcfg *f, uint16_t key)
{
	for (size_t i = 0; i < f->nitems; i++)
		if (f->items[i].key == key)
			return i;
	return FWCFG_NONE;
}

static int fwcfg_reserve(struct fwcfg *f, size_t n)
{
	struct fwcfg_item *v;

	if (f->nitems + n <= f->cap)
		return 0;
	v = realloc(f->items, (f->nitems + n) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->items = v;
	f->cap = f->nitems + n;
	return 0;
}

/* Adds or replaces an item, taking ownership of data; capacity for a new
 * item must have been reserved, so this cannot fail. */
static void fwcfg_put(struct fwcfg *f, uint16_t key, uint8_t *data, uint32_t len)
{
	size_t i = fwcfg_find(f, key);

	if (i == FWCFG_NONE) {
		i = f->nitems++;
		memset(&f->items[i], 0, sizeof(f->items[i]));
		f->items[i].key = key;
	}
	free(f->items[i].data);
	f->items[i].data = data;
	f->items[i].len = len;
}

static int fwcfg_put_le(struct fwcfg *f, uint16_t key, uint64_t v, unsigned bytes)
{
	uint8_t *d = malloc(bytes);

	if (!d || fwcfg_reserve(f, 1) < 0) {
		free(d);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < bytes; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	fwcfg_put(f, key, d, bytes);
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void fwcfg_dirent(uint8_t *e, uint32_t size, uint16_t key, const char *name)
{
	put_be32(e, size);
	put_be16(e + 4, key);
	/* e + 6: reserved, zero; the name keeps its NUL (calloc'd entry). */
	memcpy(e + 8, name, strnlen(name, FWCFG_NAME_LEN - 1));
}

/* Directory of the current files plus `extra` more entries (zeroed,
 * count included), or NULL. */
static uint8_t *fwcfg_build_dir(const struct fwcfg *f, unsigned extra, uint32_t *len)
{
	unsigned n = f->nfiles + extra;
	uint8_t *d;

	*len = 4 + n * FWCFG_DIRENT_SIZE;
	d = calloc(1, *len);
	if (!d)
		return NULL;
	put_be32(d, n);
	for (unsigned k = 0; k < f->nfiles; k++) {
		const struct fwcfg_item *it = &f->items[fwcfg_find(f, (uint16_t)(FW_CFG_FILE_FIRST + k))];

		fwcfg_dirent(d + 4 + k * FWCFG_DIRENT_SIZE, it->len, it->key, it->name);
	}
	return d;
}

int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, size_t len)
{
	uint8_t *copy, *dir;
	uint32_t dir_len;
	uint16_t key;
	size_t nlen;

	if (!f || !name || (!data && len))
		return -EINVAL;
	nlen = strlen(name);
	if (!nlen)
		return -EINVAL;
	if (nlen >= FWCFG_NAME_LEN)
		return -ENAMETOOLONG;
	if (len > UINT32_MAX)
		return -EFBIG;	/* the directory's size field is 32 bits */
	for (unsigned k = 0; k < f->nfiles; k++)
		if (!strcmp(f->items[fwcfg_find(f, (uint16_t)(FW_CFG_FILE_FIRST + k))].name, name))
			return -EEXIST;
	if (f->nfiles >= FWCFG_MAX_FILES)
		return -ENOSPC;

	/* Allocate everything first so that a failure changes nothing. */
	key = (uint16_t)(FW_CFG_FILE_FIRST + f->nfiles);
	copy = malloc(len ? len : 1);
	dir = fwcfg_build_dir(f, 1, &dir_len);
	if (!copy || !dir || fwcfg_reserve(f, 1) < 0) {
		free(copy);
		free(dir);
		return -ENOMEM;
	}
	if (len)
		memcpy(copy, data, len);
	fwcfg_dirent(dir + 4 + f->nfiles * FWCFG_DIRENT_SIZE, (uint32_t)len, key, name);
	fwcfg_put(f, key, copy, (uint32_t)len);
	strcpy(f->items[fwcfg_find(f, key)].name, name);
	f->nfiles++;
	fwcfg_put(f, FW_CFG_FILE_DIR, dir, dir_len);
	return key;
}

static uint64_t fwcfg_read(void *opaque, uint64_t offset, unsigned size)
{
	struct fwcfg *f = opaque;
	const struct fwcfg_item *it;

	if (offset != 1 || size != 1)
		return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
	if (f->cur == FWCFG_NONE)
		return 0;
	it = &f->items[f->cur];
	/* The offset stops at the end, so it can never wrap into data. */
	if (f->offset >= it->len)
		return 0;
	return it->data[f->offset++];
}

static void fwcfg_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct fwcfg *f = opaque;

	if (offset != 0 || size != 2)
		return;	/* data-port writes and undefined selector accesses */
	f->cur = fwcfg_find(f, (uint16_t)value & (uint16_t)~FWCFG_SEL_WRITE);
	f->offset = 0;
}

struct fwcfg *fwcfg_new(struct memmap *m, uint64_t ram_size, unsigned ncpus)
{
	struct fwcfg *f = calloc(1, sizeof(*f));
	struct memmap_ports p = {
		.base = FWCFG_PORT_SEL,
		.count = FWCFG_NPORTS,
		.read = fwcfg_read,
		.write = fwcfg_write,
		.name = "fw_cfg",
	};
	uint16_t cpus = ncpus > UINT16_MAX ? UINT16_MAX : (uint16_t)ncpus;
	uint8_t *dir;
	uint32_t dir_len;
	int ret;

	if (!f)
		return NULL;
	f->cur = FWCFG_NONE;
	/* "QEMU" as bytes is the little-endian u32 0x554D4551. */
	ret = fwcfg_put_le(f, FW_CFG_SIGNATURE, 0x554D4551, 4);
	if (!ret)
		ret = fwcfg_put_le(f, FW_CFG_ID, FWCFG_ID_TRADITIONAL, 4);
	if (!ret)
		ret = fwcfg_put_le(f, FW_CFG_RAM_SIZE, ram_size, 8);
	if (!ret)
		ret = fwcfg_put_le(f, FW_CFG_NOGRAPHIC, 1, 2);
	if (!ret)
		ret = fwcfg_put_le(f, FW_CFG_NB_CPUS, cpus, 2);
	if (!ret)
		ret = fwcfg_put_le(f, FW_CFG_MAX_CPUS, cpus, 2);
	if (!ret) {
		dir = fwcfg_build_dir(f, 0, &dir_len);
		if (!dir || fwcfg_reserve(f, 1) < 0) {
			free(dir);
			ret = -ENOMEM;
		} else {
			fwcfg_put(f, FW_CFG_FILE_DIR, dir, dir_len);
		}
	}
	if (!ret) {
		p.opaque = f;
		ret = memmap_add_ports(m, &p);
	}
	if (ret < 0) {
		fwcfg_free(f);
		errno = -ret;
		return NULL;
	}
	return f;
}

void fwcfg_free(struct fwcfg *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nitems; i++)
		free(f->items[i].data);
	free(f->items);
	free(f);
}
