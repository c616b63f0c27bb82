/* The root partition: an EPT that gives it every physical page except
 * the hypervisor's (identity GPA = SPA, device ranges passed through),
 * its kernel (the boot module named "root") loaded at its physical
 * addresses, and VP 0 started with the same handoff hvsim gives
 * firmware (docs/boot.md "hvsim run"): 64-bit mode, identity paging,
 * RDI = a struct hv_bootinfo describing the root's view of the machine.
 *
 * The handoff is built in the boot area, which the hypervisor has left
 * for its own tables; the original boot information is copied first. */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

#define GIB (1ull << 30)
#define M2 (2ull << 20)
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)

/* CR0/CR4/EFER of the handoff (docs/boot.md). */
#define ROOT_CR0 0x80050033ull	/* PG AM WP NE ET MP PE */
#define ROOT_CR4 0x620ull	/* OSXMMEXCPT OSFXSR PAE */
#define ROOT_EFER (EFER_LME | EFER_LMA)
#define ROOT_STACK (64ull << 10)

extern char __image_start[], __image_end[];

/* ELF64 (System V ABI, "ELF Header" and "Program Header"). */
struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static uint64_t hv_lo, hv_hi, pool_lo, pool_hi, boot_lo, boot_hi;
static uint64_t kernel_lo = ~0ull, kernel_hi;	/* the root kernel's pages */

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* May the root's kernel be loaded at [pa, pa + len)?  Inside RAM the root
 * owns, not over the hypervisor, the boot area or the module itself. */
static int root_range_ok(const struct hv_bootinfo *bi, const struct hv_boot_module *m, uint64_t pa, uint64_t len)
{
	if (pa + len < pa || pa + len > bi->ram_size)
		return 0;
	return !overlaps(pa, len, hv_lo, hv_hi - hv_lo) && !overlaps(pa, len, pool_lo, pool_hi - pool_lo) &&
	       !overlaps(pa, len, boot_lo, boot_hi - boot_lo) && !overlaps(pa, len, m->base, m->length);
}

static int load_elf(const struct hv_bootinfo *bi, const struct hv_boot_module *m, uint64_t *entry)
{
	const struct elf64_ehdr *eh = hv_va(m->base);

	if (m->length < sizeof(*eh) || memcmp(eh->ident, "\177ELF", 4) || eh->ident[4] != 2 || eh->machine != 62 ||
	    eh->phentsize != sizeof(struct elf64_phdr) || eh->phoff > m->length ||
	    (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > m->length - eh->phoff) {
		rt_printf("hv: root: module '%s' is not an x86-64 ELF executable\n", m->name);
		return -1;
	}
	for (unsigned i = 0; i < eh->phnum; i++) {
		const struct elf64_phdr *ph = hv_va(m->base + eh->phoff + i * sizeof(*ph));

		if (ph->type != 1)	/* PT_LOAD */
			continue;
		if (ph->filesz > ph->memsz || ph->offset > m->length || ph->filesz > m->length - ph->offset ||
		    !root_range_ok(bi, m, ph->paddr, ph->memsz)) {
			rt_printf("hv: root: segment %u [0x%lx, +0x%lx) cannot be loaded\n", i,
				  (unsigned long)ph->paddr, (unsigned long)ph->memsz);
			return -1;
		}
		memcpy(hv_va(ph->paddr), hv_va(m->base + ph->offset), ph->filesz);
		memset(hv_va(ph->paddr + ph->filesz), 0, ph->memsz - ph->filesz);
		if (ph->paddr < kernel_lo)
			kernel_lo = ph->paddr & HV_PAGE_MASK;
		if (ph->paddr + ph->memsz > kernel_hi)
			kernel_hi = (ph->paddr + ph->memsz + HV_PAGE_SIZE - 1) & HV_PAGE_MASK;
	}
	*entry = eh->entry;
	return 0;
}

/* RAM is write-back, everything else (device ranges) uncached. */
static int map_identity(struct hv_ept *e, uint64_t lo, uint64_t hi, uint64_t ram_lo, uint64_t ram_hi)
{
	uint64_t a = lo;

	while (a < hi) {
		int ram = a >= ram_lo && a < ram_hi;
		uint64_t end = ram ? (ram_hi < hi ? ram_hi : hi) : (a < ram_lo && ram_lo < hi ? ram_lo : hi);

		if (hv_ept_map(e, a, a, end - a, EPT_RWX | (ram ? EPT_MT_WB : EPT_MT_UC)))
			return -1;
		a = end;
	}
	return 0;
}

static int root_ept(struct hv_partition *p, const struct hv_bootinfo *bi)
{
	uint64_t low_ram = bi->ram_size < 3 * GIB ? bi->ram_size : 3 * GIB;
	uint64_t high = bi->ram_size > 3 * GIB ? bi->ram_size - 3 * GIB : 0;

	if (hv_ept_init(&p->ept, &hv_pool) || map_identity(&p->ept, 0, 4 * GIB, 0, low_ram))
		return -1;
	if (high && map_identity(&p->ept, 4 * GIB, 4 * GIB + high, 4 * GIB, 4 * GIB + high))
		return -1;
	/* The hypervisor's image and pool are not the root's. */
	if (hv_ept_unmap(&p->ept, hv_lo, hv_hi - hv_lo) || hv_ept_unmap(&p->ept, pool_lo, pool_hi - pool_lo))
		return -1;
	return 0;
}

/* Bump allocator over the boot area for the handoff. */
struct area {
	uint64_t next, end;
};

static uint64_t area_alloc(struct area *a, uint64_t len, uint64_t align)
{
	uint64_t pa = (a->next + align - 1) & ~(align - 1);

	if (pa + len > a->end)
		return 0;
	a->next = pa + len;
	memset(hv_va(pa), 0, len);
	return pa;
}

/* Append `m` to the root's map, cut around [lo, hi), which becomes an
 * entry of type `type` where it overlaps an available range. */
static void map_add_carved(struct hv_bootinfo *rb, struct hv_boot_mem m, uint64_t lo, uint64_t hi, uint32_t type)
{
	uint64_t end = m.base + m.length, a = lo > m.base ? lo : m.base, b = hi < end ? hi : end;

	if (m.type != HV_MEM_AVAILABLE || a >= b) {
		if (rb->mem_count < HV_BOOT_MAX_MEM)
			rb->mem[rb->mem_count++] = m;
		return;
	}
	if (a > m.base && rb->mem_count < HV_BOOT_MAX_MEM)
		rb->mem[rb->mem_count++] = (struct hv_boot_mem){ m.base, a - m.base, HV_MEM_AVAILABLE, 0 };
	if (rb->mem_count < HV_BOOT_MAX_MEM)
		rb->mem[rb->mem_count++] = (struct hv_boot_mem){ a, b - a, type, 0 };
	if (b < end && rb->mem_count < HV_BOOT_MAX_MEM)
		rb->mem[rb->mem_count++] = (struct hv_boot_mem){ b, end - b, HV_MEM_AVAILABLE, 0 };
}

/* The root's memory map: the machine's, with the hypervisor's image and
 * pool reserved and the root kernel's own image marked as the firmware
 * handoff marks a kernel (HV_MEM_FIRMWARE), so the root does not take its
 * own pages for free memory. */
static void root_mem_map(struct hv_bootinfo *rb, const struct hv_bootinfo *bi)
{
	struct hv_bootinfo tmp;

	tmp.mem_count = 0;
	for (uint32_t i = 0; i < bi->mem_count; i++) {
		struct hv_boot_mem m = bi->mem[i];

		if (m.type == HV_MEM_FIRMWARE)
			m.type = HV_MEM_RESERVED;
		map_add_carved(&tmp, m, pool_lo, pool_hi, HV_MEM_RESERVED);
	}
	rb->mem_count = 0;
	for (uint32_t i = 0; i < tmp.mem_count; i++)
		map_add_carved(rb, tmp.mem[i], kernel_lo, kernel_hi, HV_MEM_FIRMWARE);
}

static int root_handoff(const struct hv_bootinfo *bi0, const char *config, const char *cmdline,
			struct hv_vp_boot *b, uint64_t entry, uint64_t *bootinfo)
{
	struct area a = { boot_lo, boot_hi };
	uint64_t top = bi0->ram_size > 3 * GIB ? 4 * GIB + (bi0->ram_size - 3 * GIB) : 4 * GIB;
	uint64_t ngib = (top + GIB - 1) / GIB, npdpt = (ngib + 511) / 512;
	uint64_t pml4 = area_alloc(&a, HV_PAGE_SIZE, HV_PAGE_SIZE);
	uint64_t pdpt = area_alloc(&a, npdpt * HV_PAGE_SIZE, HV_PAGE_SIZE);
	uint64_t pd = area_alloc(&a, ngib * HV_PAGE_SIZE, HV_PAGE_SIZE);
	uint64_t gdt = area_alloc(&a, 5 * 8, 16), tss = area_alloc(&a, 0x68, 16);
	uint64_t stack = area_alloc(&a, ROOT_STACK, 16);
	uint64_t bip = area_alloc(&a, sizeof(struct hv_bootinfo), 8);
	uint64_t clen = strlen(config), llen = cmdline ? strlen(cmdline) : 0;
	uint64_t cfg = area_alloc(&a, clen + 1, 8), cl = cmdline ? area_alloc(&a, llen + 1, 8) : 0;
	struct hv_bootinfo *rb;
	uint64_t *g;

	if (!pml4 || !pdpt || !pd || !gdt || !tss || !stack || !bip || !cfg || (cmdline && !cl)) {
		rt_printf("hv: root: the handoff does not fit the boot area\n");
		return -1;
	}
	for (uint64_t i = 0; i < npdpt; i++)
		((uint64_t *)hv_va(pml4))[i] = (pdpt + i * HV_PAGE_SIZE) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < ngib; i++) {
		((uint64_t *)hv_va(pdpt))[i] = (pd + i * HV_PAGE_SIZE) | PTE_P | PTE_RW;
		for (uint64_t j = 0; j < 512; j++)
			((uint64_t *)hv_va(pd))[i * 512 + j] = (i * GIB + j * M2) | PTE_P | PTE_RW | PTE_PS;
	}
	/* GDT as the firmware handoff has it, plus the TSS VMX needs for a
	 * usable TR (SDM 27.3.1.2). */
	g = hv_va(gdt);
	g[1] = 0x00af9a000000ffffull;
	g[2] = 0x00cf92000000ffffull;
	g[3] = 0x67 | ((tss & 0xffffff) << 16) | (0x8bull << 40) | (((tss >> 24) & 0xff) << 56);
	g[4] = tss >> 32;
	memcpy(hv_va(cfg), config, clen + 1);
	if (cl)
		memcpy(hv_va(cl), cmdline, llen + 1);
	rb = hv_va(bip);
	*rb = *bi0;
	rb->config = cfg;
	rb->config_length = clen;
	rb->cmdline = cl;
	root_mem_map(rb, bi0);
	*b = (struct hv_vp_boot){
		.rip = entry, .rsp = stack + ROOT_STACK, .cr0 = ROOT_CR0, .cr3 = pml4, .cr4 = ROOT_CR4,
		.efer = ROOT_EFER, .gdt = gdt, .tss = tss, .gdt_limit = 5 * 8 - 1, .cs = 0x08, .ds = 0x10,
		.tr = 0x18,
	};
	*bootinfo = bip;
	return 0;
}

struct hv_partition *hv_root_create(const struct hv_bootinfo *bi, uint64_t pool_base, uint64_t pool_len)
{
	static struct hv_bootinfo bi0;
	const struct hv_boot_module *m = NULL;
	char *config, *cmdline = NULL;
	struct hv_partition *p;
	struct hv_vp_boot b;
	struct hv_vp *vp;
	uint64_t entry, rbi;

	hv_lo = hv_pa(__image_start) & HV_PAGE_MASK;
	hv_hi = (hv_pa(__image_end) + HV_PAGE_SIZE - 1) & HV_PAGE_MASK;
	pool_lo = pool_base;
	pool_hi = pool_base + pool_len;
	for (uint32_t i = 0; i < bi->mem_count; i++)
		if (bi->mem[i].type == HV_MEM_BOOT) {
			boot_lo = bi->mem[i].base;
			boot_hi = bi->mem[i].base + bi->mem[i].length;
		}
	for (uint32_t i = 0; i < bi->module_count; i++)
		if (!strcmp(bi->modules[i].name, "root"))
			m = &bi->modules[i];
	if (!m) {
		rt_printf("hv: no module named 'root': nothing to run in the root partition\n");
		return NULL;
	}
	/* Copy what lives in the boot area before the handoff overwrites it. */
	bi0 = *bi;
	config = hv_va(hv_pool_get(&hv_pool));
	if (!config || bi->config_length >= HV_PAGE_SIZE) {
		rt_printf("hv: root: configuration of %lu bytes does not fit a page\n",
			  (unsigned long)bi->config_length);
		return NULL;
	}
	memcpy(config, hv_va(bi->config), bi->config_length);
	if (bi->cmdline) {
		cmdline = hv_va(hv_pool_get(&hv_pool));
		if (!cmdline)
			return NULL;
		memcpy(cmdline, hv_va(bi->cmdline), strnlen(hv_va(bi->cmdline), HV_PAGE_SIZE - 1));
	}
	for (uint64_t pa = hv_lo; pa < hv_hi; pa += HV_PAGE_SIZE)
		hv_page_set_state(pa, HV_PAGE_HV);
	for (uint64_t pa = pool_lo; pa < pool_hi; pa += HV_PAGE_SIZE)
		hv_page_set_state(pa, HV_PAGE_HV);
	p = hv_partition_new(true);
	if (!p)
		return NULL;
	/* The root's privileges (TLFS "Partition Privilege Flags"): the
	 * hypercall MSRs, VP index, SynIC and synthetic time, creating and
	 * managing partitions and starting their VPs, its own id and memory
	 * pool, ports and connections and their traffic. */
	p->privileges = HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | HV_MSR_SYNIC_AVAILABLE |
			HV_PRIVILEGES_TIME |
			(uint64_t)(HV_CREATE_PARTITIONS | HV_ACCESS_PARTITION_ID | HV_ACCESS_MEMORY_POOL |
				   HV_ACCESS_VP_REGISTERS | HV_POST_MESSAGES | HV_SIGNAL_EVENTS | HV_CREATE_PORT |
				   HV_CONNECT_PORT | HV_START_VIRTUAL_PROCESSOR) << 32;
	p->msr_bitmap = hv_pool_get(&hv_pool);
	if (!p->msr_bitmap || root_ept(p, bi) || load_elf(bi, m, &entry) ||
	    root_handoff(&bi0, config, cmdline, &b, entry, &rbi)) {
		rt_printf("hv: cannot create the root partition\n");
		return NULL;
	}
	vp = hv_vp_create(p, 0, &hv_pool, 0);
	if (!vp)
		return NULL;
	hv_vp_set_long_mode(&b);
	vp->g.rdi = rbi;
	p->state = HV_PART_ACTIVE;
	vp->runnable = 1;
	vp->started = 1;
	hv_mark_partition(p, HV_MARK_PART_CREATED);
	hv_mark_partition(p, HV_MARK_PART_INITIALIZED);
	return p;
}
