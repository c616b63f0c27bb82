/* ELF executable loading (System V gABI, "ELF-64 Object File Format"
 * 1.5 and the i386/x86-64 psABI supplements) and the helpers the two boot
 * handoffs share.  Every header field is copied out of the file with
 * memcpy and checked before it is used. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "loader.h"
#include "loader_priv.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the loaders copy little-endian guest structures as host structures"
#endif

/* Larger files are refused rather than read: nothing the loaders take
 * (kernels, firmware, modules, configurations) is anywhere near this. */
#define LOADER_MAX_FILE (4ull << 30)

static int elf_fail(const char *name, size_t off, const char *fmt, ...) SIM_PRINTF(3, 4);

static int elf_fail(const char *name, size_t off, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_error_at(name, 0, 0, "offset 0x%zx: %s", off, msg);
	return -EINVAL;
}

/* The fields of either class of file header, widened. */
struct elf_ehdr {
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff;
	uint16_t ehsize, phentsize, phnum;
	/* file offsets of the fields, for messages */
	size_t o_type, o_machine, o_version, o_phoff, o_ehsize, o_phentsize, o_phnum;
	size_t ehdr_size, phdr_size;
};

static void elf_read_ehdr(const uint8_t *data, int is64, struct elf_ehdr *h)
{
	if (is64) {
		Elf64_Ehdr e;

		memcpy(&e, data, sizeof(e));
		h->type = e.e_type;
		h->machine = e.e_machine;
		h->version = e.e_version;
		h->entry = e.e_entry;
		h->phoff = e.e_phoff;
		h->ehsize = e.e_ehsize;
		h->phentsize = e.e_phentsize;
		h->phnum = e.e_phnum;
		h->o_type = offsetof(Elf64_Ehdr, e_type);
		h->o_machine = offsetof(Elf64_Ehdr, e_machine);
		h->o_version = offsetof(Elf64_Ehdr, e_version);
		h->o_phoff = offsetof(Elf64_Ehdr, e_phoff);
		h->o_ehsize = offsetof(Elf64_Ehdr, e_ehsize);
		h->o_phentsize = offsetof(Elf64_Ehdr, e_phentsize);
		h->o_phnum = offsetof(Elf64_Ehdr, e_phnum);
		h->ehdr_size = sizeof(Elf64_Ehdr);
		h->phdr_size = sizeof(Elf64_Phdr);
	} else {
		Elf32_Ehdr e;

		memcpy(&e, data, sizeof(e));
		h->type = e.e_type;
		h->machine = e.e_machine;
		h->version = e.e_version;
		h->entry = e.e_entry;
		h->phoff = e.e_phoff;
		h->ehsize = e.e_ehsize;
		h->phentsize = e.e_phentsize;
		h->phnum = e.e_phnum;
		h->o_type = offsetof(Elf32_Ehdr, e_type);
		h->o_machine = offsetof(Elf32_Ehdr, e_machine);
		h->o_version = offsetof(Elf32_Ehdr, e_version);
		h->o_phoff = offsetof(Elf32_Ehdr, e_phoff);
		h->o_ehsize = offsetof(Elf32_Ehdr, e_ehsize);
		h->o_phentsize = offsetof(Elf32_Ehdr, e_phentsize);
		h->o_phnum = offsetof(Elf32_Ehdr, e_phnum);
		h->ehdr_size = sizeof(Elf32_Ehdr);
		h->phdr_size = sizeof(Elf32_Phdr);
	}
}

struct elf_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

static void elf_read_phdr(const uint8_t *p, int is64, struct elf_phdr *ph)
{
	if (is64) {
		Elf64_Phdr e;

		memcpy(&e, p, sizeof(e));
		ph->type = e.p_type;
		ph->flags = e.p_flags;
		ph->offset = e.p_offset;
		ph->vaddr = e.p_vaddr;
		ph->paddr = e.p_paddr;
		ph->filesz = e.p_filesz;
		ph->memsz = e.p_memsz;
	} else {
		Elf32_Phdr e;

		memcpy(&e, p, sizeof(e));
		ph->type = e.p_type;
		ph->flags = e.p_flags;
		ph->offset = e.p_offset;
		ph->vaddr = e.p_vaddr;
		ph->paddr = e.p_paddr;
		ph->filesz = e.p_filesz;
		ph->memsz = e.p_memsz;
	}
}

int elf_parse(const uint8_t *data, size_t len, const char *name, struct elf_image *out)
{
	struct elf_ehdr h;
	int is64;

	memset(out, 0, sizeof(*out));
	if (len < EI_NIDENT || memcmp(data, ELFMAG, SELFMAG) != 0)
		return elf_fail(name, 0, "not an ELF file (bad magic)");
	switch (data[EI_CLASS]) {
	case ELFCLASS32:
		is64 = 0;
		break;
	case ELFCLASS64:
		is64 = 1;
		break;
	default:
		return elf_fail(name, EI_CLASS, "unknown ELF class %u", data[EI_CLASS]);
	}
	if (data[EI_DATA] != ELFDATA2LSB)
		return elf_fail(name, EI_DATA, "not a little-endian ELF file");
	if (data[EI_VERSION] != EV_CURRENT)
		return elf_fail(name, EI_VERSION, "unknown ELF version %u", data[EI_VERSION]);
	if (len < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
		return elf_fail(name, 0, "file too short for an ELF%d header (%zu bytes)",
				is64 ? 64 : 32, len);
	elf_read_ehdr(data, is64, &h);

	if (h.type != ET_EXEC)
		return elf_fail(name, h.o_type, "not an executable (e_type %u, want ET_EXEC)",
				h.type);
	/* x86-64 code in an ELF32 container (x32, or a 64-bit kernel that was
	 * objcopy'd for a 32-bit boot loader) is accepted; an ELF64 i386
	 * file is not a thing. */
	if (!(h.machine == EM_X86_64 || (!is64 && h.machine == EM_386)))
		return elf_fail(name, h.o_machine, "not an x86 executable (e_machine %u)",
				h.machine);
	if (h.version != EV_CURRENT)
		return elf_fail(name, h.o_version, "unknown ELF version %u", h.version);
	if (h.ehsize != h.ehdr_size)
		return elf_fail(name, h.o_ehsize, "e_ehsize is %u, want %zu", h.ehsize, h.ehdr_size);
	/* PN_XNUM (extended numbering) never occurs in an executable this small. */
	if (h.phnum == 0 || h.phnum == PN_XNUM)
		return elf_fail(name, h.o_phnum, "no program headers (e_phnum %u)", h.phnum);
	if (h.phentsize != h.phdr_size)
		return elf_fail(name, h.o_phentsize, "e_phentsize is %u, want %zu", h.phentsize,
				h.phdr_size);
	/* phnum * phentsize is at most 65534 * 56, so only phoff can overflow. */
	if (h.phoff > len || (uint64_t)h.phnum * h.phentsize > len - h.phoff)
		return elf_fail(name, h.o_phoff,
				"program headers (%u at 0x%llx) extend past the end of the file (0x%zx bytes)",
				h.phnum, (unsigned long long)h.phoff, len);

	out->is64 = is64;
	out->entry = h.entry;
	out->lo = UINT64_MAX;
	out->hi = 0;
	for (unsigned i = 0; i < h.phnum; i++) {
		size_t off = (size_t)h.phoff + (size_t)i * h.phentsize;
		uint64_t end;
		struct elf_phdr ph;
		struct elf_segment *s;

		elf_read_phdr(data + off, is64, &ph);
		if (ph.type != PT_LOAD)
			continue;
		if (ph.offset > len || ph.filesz > len - ph.offset)
			return elf_fail(name, off,
					"segment %u (file offset 0x%llx, 0x%llx bytes) extends past the end of the file (0x%zx bytes)",
					i, (unsigned long long)ph.offset,
					(unsigned long long)ph.filesz, len);
		if (ph.filesz > ph.memsz)
			return elf_fail(name, off, "segment %u: p_filesz 0x%llx exceeds p_memsz 0x%llx",
					i, (unsigned long long)ph.filesz,
					(unsigned long long)ph.memsz);
		/* An ELF32 address space ends at 4 GiB; an ELF64 one at 2^64. */
		end = ph.paddr + ph.memsz;
		if (end < ph.paddr || (!is64 && end > (1ull << 32)))
			return elf_fail(name, off,
					"segment %u: physical range 0x%llx + 0x%llx overflows the address space",
					i, (unsigned long long)ph.paddr,
					(unsigned long long)ph.memsz);
		if (ph.memsz == 0)
			continue;
		if (out->nseg == ELF_MAX_SEGMENTS)
			return elf_fail(name, off, "more than %d loadable segments",
					ELF_MAX_SEGMENTS);
		s = &out->seg[out->nseg++];
		s->paddr = ph.paddr;
		s->vaddr = ph.vaddr;
		s->offset = ph.offset;
		s->filesz = ph.filesz;
		s->memsz = ph.memsz;
		s->flags = ph.flags;
		if (ph.paddr < out->lo)
			out->lo = ph.paddr;
		if (end > out->hi)
			out->hi = end;
	}
	if (out->nseg == 0)
		return elf_fail(name, h.o_phnum, "no loadable segments");
	return 0;
}

int elf_load(struct memmap *m, const uint8_t *data, size_t len, const char *name,
	     const struct elf_image *img)
{
	/* Check every segment before writing any, so a failed load leaves
	 * RAM as it was. */
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct elf_segment *s = &img->seg[i];

		if (s->offset > len || s->filesz > len - s->offset || s->filesz > s->memsz)
			return elf_fail(name, (size_t)s->offset,
					"segment %u does not match the file", i);
		if (!memmap_ram_ptr(m, s->paddr, s->memsz))
			return elf_fail(name, (size_t)s->offset,
					"segment %u at physical [0x%llx, 0x%llx) is not wholly in RAM",
					i, (unsigned long long)s->paddr,
					(unsigned long long)(s->paddr + s->memsz));
	}
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct elf_segment *s = &img->seg[i];
		uint8_t *p = memmap_ram_ptr(m, s->paddr, s->memsz);

		memcpy(p, data + s->offset, s->filesz);
		memset(p + s->filesz, 0, s->memsz - s->filesz);	/* .bss */
	}
	return 0;
}

int loader_read_file(const char *path, uint8_t **data, size_t *len)
{
	uint8_t *buf;
	size_t size = 0, cap = 65536;
	struct stat st;
	int fd, err;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		diag_error_at(path, 0, 0, "%s", strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		diag_error_at(path, 0, 0, "%s", strerror(-err));
		close(fd);
		return err;
	}
	if (S_ISDIR(st.st_mode)) {
		diag_error_at(path, 0, 0, "is a directory");
		close(fd);
		return -EISDIR;
	}
	/* st_size is only a hint (pipes and /proc files report 0); one byte
	 * more lets the read that sees end-of-file go without a realloc. */
	if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size < LOADER_MAX_FILE)
		cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto fail_msg;
	}
	for (;;) {
		ssize_t n;

		if (size == cap) {
			uint8_t *nb;

			if (cap >= LOADER_MAX_FILE) {
				diag_error_at(path, 0, 0, "larger than %llu bytes",
					      (unsigned long long)LOADER_MAX_FILE);
				err = -EFBIG;
				goto fail;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				err = -ENOMEM;
				goto fail_msg;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + size, cap - size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto fail_msg;
		}
		if (n == 0)
			break;
		size += (size_t)n;
	}
	close(fd);
	*data = buf;
	*len = size;
	return 0;
fail_msg:
	diag_error_at(path, 0, 0, "%s", strerror(-err));
fail:
	free(buf);
	close(fd);
	return err;
}

/* ---- helpers shared by multiboot.c and bootinfo.c ---- */

static void map_add(struct loader_map *map, uint64_t base, uint64_t len, uint32_t type)
{
	if (len == 0 || map->n == LOADER_MAX_RANGES)
		return;
	map->r[map->n++] = (struct loader_range){ .base = base, .len = len, .type = type };
}

void loader_map_pc(struct loader_map *map, const struct memmap *m, uint32_t bios_type)
{
	uint64_t low = memmap_ram_low(m), high = memmap_ram_high(m);

	map->n = 0;
	/* The layout a PC BIOS reports through INT 15h E820 (ACPI 6.x
	 * chapter 15), which is what GRUB passes on: 639 KiB conventional
	 * memory, the EBDA up to 640 KiB, nothing for the legacy video window
	 * and option ROMs (0xA0000-0xDFFFF), and the BIOS area, which here
	 * holds the RSDP and the ACPI tables. */
	map_add(map, 0, BOOT_EBDA_BASE, LOADER_MEM_AVAILABLE);
	map_add(map, BOOT_EBDA_BASE, 0xA0000 - BOOT_EBDA_BASE, LOADER_MEM_RESERVED);
	map_add(map, LOADER_BIOS_BASE, LOADER_LOW_RESERVED_END - LOADER_BIOS_BASE, bios_type);
	if (low > LOADER_LOW_RESERVED_END)
		map_add(map, LOADER_LOW_RESERVED_END, low - LOADER_LOW_RESERVED_END,
			LOADER_MEM_AVAILABLE);
	/* The interrupt controllers' MMIO pages (ACPI MADT addresses). */
	map_add(map, LOADER_IOAPIC_BASE, LOADER_PAGE, LOADER_MEM_RESERVED);
	map_add(map, LOADER_LAPIC_BASE, LOADER_PAGE, LOADER_MEM_RESERVED);
	map_add(map, MEMMAP_HIGH_RAM_BASE, high, LOADER_MEM_AVAILABLE);
}

int loader_map_mark(struct loader_map *map, uint64_t base, uint64_t len, uint32_t type)
{
	uint64_t end = base + len, lo, hi, e_end;
	struct loader_range *e = NULL, tail;
	unsigned i, add;

	if (len == 0)
		return 0;
	if (end < base)
		return -EINVAL;
	for (i = 0; i < map->n; i++) {
		e = &map->r[i];
		if (e->type == LOADER_MEM_AVAILABLE && base >= e->base && end <= e->base + e->len)
			break;
	}
	if (i == map->n)
		return -EINVAL;
	e_end = e->base + e->len;
	lo = base & ~(LOADER_PAGE - 1);
	hi = end > UINT64_MAX - LOADER_PAGE ? end : loader_align_up(end, LOADER_PAGE);
	if (lo < e->base)
		lo = e->base;
	if (hi > e_end)
		hi = e_end;
	add = (lo > e->base) + (hi < e_end);
	if (map->n + add > LOADER_MAX_RANGES)
		return -ENOSPC;
	tail = (struct loader_range){ .base = hi, .len = e_end - hi, .type = e->type };
	/* [e->base, lo) stays in place (if not empty), then [lo, hi), then
	 * [hi, e_end): shift the entries after i to make room. */
	memmove(&map->r[i + 1 + add], &map->r[i + 1], (map->n - i - 1) * sizeof(map->r[0]));
	map->n += add;
	if (lo > e->base) {
		e->len = lo - e->base;
		i++;
	}
	map->r[i] = (struct loader_range){ .base = lo, .len = hi - lo, .type = type };
	if (hi < e_end)
		map->r[i + 1] = tail;
	return 0;
}

int loader_check_placement(const struct memmap *m, const char *name, const char *what,
			   uint64_t base, uint64_t len)
{
	uint64_t end = base + len;
	const char *why;
	uint64_t lo, hi;

	if (len == 0)
		return 0;
	if (end < base || !memmap_ram_ptr(m, base, len)) {
		diag_error_at(name, 0, 0, "%s at [0x%llx, 0x%llx) is not wholly in RAM", what,
			      (unsigned long long)base, (unsigned long long)end);
		return -EINVAL;
	}
	if (base < BOOT_AREA_END && end > BOOT_AREA_BASE) {
		why = "the boot area";
		lo = BOOT_AREA_BASE;
		hi = BOOT_AREA_END;
	} else if (base < LOADER_LOW_RESERVED_END && end > BOOT_EBDA_BASE) {
		why = "reserved low memory";
		lo = BOOT_EBDA_BASE;
		hi = LOADER_LOW_RESERVED_END;
	} else {
		return 0;
	}
	diag_error_at(name, 0, 0, "%s at [0x%llx, 0x%llx) overlaps %s [0x%llx, 0x%llx)", what,
		      (unsigned long long)base, (unsigned long long)end, why,
		      (unsigned long long)lo, (unsigned long long)hi);
	return -EINVAL;
}

int loader_area_init(struct loader_area *a, struct memmap *m)
{
	a->host = memmap_ram_ptr(m, BOOT_AREA_BASE, BOOT_AREA_END - BOOT_AREA_BASE);
	a->next = BOOT_AREA_BASE;
	if (!a->host) {
		diag_error("the boot area [0x%llx, 0x%llx) is not in RAM", BOOT_AREA_BASE,
			   BOOT_AREA_END);
		return -EINVAL;
	}
	memset(a->host, 0, BOOT_AREA_END - BOOT_AREA_BASE);
	return 0;
}

void *loader_area_alloc(struct loader_area *a, uint64_t size, uint64_t align, const char *what,
			uint64_t *pa)
{
	uint64_t at = loader_align_up(a->next, align);

	if (at > BOOT_AREA_END || size > BOOT_AREA_END - at) {
		diag_error("the boot area [0x%llx, 0x%llx) is full: no room for %s (%llu bytes)",
			   BOOT_AREA_BASE, BOOT_AREA_END, what, (unsigned long long)size);
		return NULL;
	}
	a->next = at + size;
	*pa = at;
	return a->host + (at - BOOT_AREA_BASE);
}

uint64_t loader_area_strdup(struct loader_area *a, const char *s, const char *what)
{
	size_t n = strlen(s) + 1;
	uint64_t pa;
	char *p = loader_area_alloc(a, n, 1, what, &pa);

	if (!p)
		return 0;
	memcpy(p, s, n);
	return pa;
}

int loader_load_blob(struct memmap *m, const char *path, const char *what, uint64_t *cursor,
		     uint8_t **data, size_t *len, uint64_t *base)
{
	uint64_t at;
	int err;

	err = loader_read_file(path, data, len);
	if (err)
		return err;
	at = *cursor > UINT64_MAX - LOADER_PAGE ? UINT64_MAX : loader_align_up(*cursor, LOADER_PAGE);
	err = loader_check_placement(m, path, what, at, *len);
	if (err)
		goto fail;
	if (*len)
		memcpy(memmap_ram_ptr(m, at, *len), *data, *len);
	*base = at;
	*cursor = at + *len;
	return 0;
fail:
	free(*data);
	*data = NULL;
	*len = 0;
	return err;
}
