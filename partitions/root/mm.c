/* Physical pages, the kernel's page tables, user address spaces and the
 * checked copies between them (SDM Vol. 3A chapter 4, 4-level paging).
 *
 * Kernel half: PML4 entry 0 maps [0, max(4 GiB, end of RAM)) onto itself
 * (identity, rounded up to a GiB, at most 512 GiB), supervisor-only
 * (U = 0), global, no-execute.  2 MiB pages except two 2 MiB regions
 * mapped with 4 KiB pages: the first (physical page 0 left unmapped, so a
 * NULL dereference in the kernel faults) and those holding root.elf,
 * where code is read-execute, read-only data read-only, data read-write,
 * and the guard page of every kernel stack unmapped.  [3 GiB, 4 GiB), the
 * MMIO hole (docs/boot.md), is uncacheable (PCD | PWT); 2 MiB regions
 * holding nothing of the boot memory map are not mapped at all.
 *
 * User half: PML4 entry 1 ([512 GiB, 1 TiB)) of each process's own PML4,
 * 4 KiB pages with U = 1, write and no-execute per ELF segment.  Entry 0
 * of every process PML4 points at the kernel's one PDPT: the kernel half
 * is shared, and a change to it is seen by every process.
 *
 * The kernel never executes a user page: the only kernel mappings with
 * execute permission are root.elf's code pages, every other kernel
 * mapping (including the identity view of the frames behind user pages)
 * is NX, and ring 0 reaches ring 3 only by SYSRET or IRETQ.  When the CPU
 * offers SMEP (CPUID.(EAX=7,ECX=0):EBX[7]) CR4.SMEP makes the CPU enforce
 * it too (SDM Vol. 3A 4.6.1); Sandy Bridge, the default profile, has
 * none. */
#include "kernel.h"

#define RK_MM_MAX_RANGES (2 * HV_BOOT_MAX_MEM)
#define RK_MM_LOW_LIMIT 0x100000ull		/* below 1 MiB: legacy areas, left alone */
#define RK_MM_MMIO_BASE 0xc0000000ull		/* the MMIO hole (docs/boot.md) */
#define RK_MM_MMIO_END 0x100000000ull
#define RK_MM_MAP_MAX (512ull * RK_GIB)	/* what one PDPT maps */

#define CR4_PGE (1ull << 7)
#define CR4_SMEP (1ull << 20)

#define PML4_INDEX(va) (((va) >> 39) & 511)
#define PDPT_INDEX(va) (((va) >> 30) & 511)
#define PD_INDEX(va) (((va) >> 21) & 511)
#define PT_INDEX(va) (((va) >> 12) & 511)

struct rk_range {
	uint64_t next, end;
};

static struct rk_range rk_ranges[RK_MM_MAX_RANGES];
static unsigned rk_nranges;
static uint64_t rk_free_list;		/* physical address of the first freed page, 0 if none */
static uint64_t rk_nfree;		/* pages on the free list and in the ranges */
static uint64_t rk_kernel_pml4;
static uint64_t rk_map_top;		/* end of the kernel's identity map */
static bool rk_nx, rk_pge, rk_smep;

static inline uint64_t *rk_phys(uint64_t pa)
{
	return (uint64_t *)(uintptr_t)pa;	/* the kernel's map is the identity */
}

/* ---- page allocator ---- */

static void rk_range_add(uint64_t base, uint64_t len, uint64_t floor)
{
	uint64_t lo = (base + RK_PAGE - 1) & ~(RK_PAGE - 1);
	uint64_t hi = (base + len) & ~(RK_PAGE - 1);

	if (lo < floor)
		lo = floor;
	if (hi > rk_map_top)
		hi = rk_map_top;
	if (lo >= hi)
		return;
	if (rk_nranges == RK_MM_MAX_RANGES) {
		rk_printf("root: page allocator: more than %u ranges, [0x%lx, 0x%lx) unused\n",
			  RK_MM_MAX_RANGES, (unsigned long)lo, (unsigned long)hi);
		return;
	}
	rk_ranges[rk_nranges++] = (struct rk_range){ lo, hi };
	rk_nfree += (hi - lo) / RK_PAGE;
}

uint64_t rk_page_alloc(void)
{
	uint64_t pa = 0;

	if (rk_free_list) {
		pa = rk_free_list;
		rk_free_list = *rk_phys(pa);
	} else {
		for (unsigned i = 0; i < rk_nranges && !pa; i++) {
			if (rk_ranges[i].next < rk_ranges[i].end) {
				pa = rk_ranges[i].next;
				rk_ranges[i].next += RK_PAGE;
			}
		}
		if (!pa)
			return 0;
	}
	rk_nfree--;
	memset(rk_phys(pa), 0, RK_PAGE);
	return pa;
}

void rk_page_free(uint64_t pa)
{
	if (!pa || (pa & (RK_PAGE - 1)) || pa >= rk_map_top)
		rk_panic("rk_page_free(0x%lx): not a page", (unsigned long)pa);
	*rk_phys(pa) = rk_free_list;
	rk_free_list = pa;
	rk_nfree++;
}

uint64_t rk_pages_free(void)
{
	return rk_nfree;
}

/* ---- the kernel's map ---- */

static uint64_t rk_alloc_table(void)
{
	uint64_t pa = rk_page_alloc();

	if (!pa)
		rk_panic("out of memory building the kernel page tables");
	return pa;
}

static bool rk_in(uint64_t a, const void *lo, const void *hi)
{
	return a >= (uint64_t)(uintptr_t)lo && a < (uint64_t)(uintptr_t)hi;
}

/* Whether the boot memory map lists anything in [base, base + len). */
static bool rk_mem_listed(const struct hv_bootinfo *bi, uint64_t base, uint64_t len)
{
	for (uint32_t i = 0; i < bi->mem_count; i++)
		if (bi->mem[i].base < base + len && base < bi->mem[i].base + bi->mem[i].length)
			return true;
	return false;
}

/* The 4 KiB entry for kernel page `pa` in a region mapped page by page. */
static uint64_t rk_kernel_pte(uint64_t pa)
{
	uint64_t g = rk_pge ? RK_PTE_G : 0, nx = rk_nx ? RK_PTE_NX : 0;
	uint64_t kst = (uint64_t)(uintptr_t)rk_kstacks;

	if (pa == 0)
		return 0;
	if (rk_in(pa, __image_start, __text_end))
		return pa | RK_PTE_P | g;
	if (rk_in(pa, __text_end, __rodata_end))
		return pa | RK_PTE_P | g | nx;
	if (pa >= kst && pa < kst + (uint64_t)RK_KSTACK_SLOTS * RK_KSTACK_SLOT &&
	    (pa - kst) % RK_KSTACK_SLOT < RK_PAGE)
		return 0;	/* a stack's guard page */
	return pa | RK_PTE_P | RK_PTE_W | g | nx;
}

static bool rk_region_split(uint64_t r)
{
	uint64_t lo = (uint64_t)(uintptr_t)__image_start & ~(RK_2M - 1);

	return r == 0 || (r >= lo && r < (uint64_t)(uintptr_t)__image_end);
}

static void rk_build_kernel_map(const struct hv_bootinfo *bi)
{
	uint64_t g = rk_pge ? RK_PTE_G : 0, nx = rk_nx ? RK_PTE_NX : 0;
	uint64_t *pml4, *pdpt;
	uint64_t pdpt_pa;
	unsigned split = 0, big = 0;

	rk_kernel_pml4 = rk_alloc_table();
	pdpt_pa = rk_alloc_table();
	pml4 = rk_phys(rk_kernel_pml4);
	pdpt = rk_phys(pdpt_pa);
	pml4[0] = pdpt_pa | RK_PTE_P | RK_PTE_W;

	for (uint64_t gib = 0; gib < rk_map_top / RK_GIB; gib++) {
		uint64_t pd_pa = rk_alloc_table();
		uint64_t *pd = rk_phys(pd_pa);

		pdpt[gib] = pd_pa | RK_PTE_P | RK_PTE_W;
		for (unsigned i = 0; i < 512; i++) {
			uint64_t r = gib * RK_GIB + i * RK_2M;
			bool mmio = r >= RK_MM_MMIO_BASE && r < RK_MM_MMIO_END;

			if (rk_region_split(r)) {
				uint64_t pt_pa = rk_alloc_table();
				uint64_t *pt = rk_phys(pt_pa);

				for (unsigned j = 0; j < 512; j++)
					pt[j] = rk_kernel_pte(r + j * RK_PAGE);
				pd[i] = pt_pa | RK_PTE_P | RK_PTE_W;
				split++;
			} else if (mmio || rk_mem_listed(bi, r, RK_2M)) {
				pd[i] = r | RK_PTE_P | RK_PTE_W | RK_PTE_PS | g | nx |
					(mmio ? RK_PTE_PCD | RK_PTE_PWT : 0);
				big++;
			}
		}
	}
	rk_printf("root: kernel map: PML4 0x%lx, identity [0, %lu GiB): %u 2 MiB pages, %u regions "
		  "in 4 KiB pages, supervisor-only\n",
		  (unsigned long)rk_kernel_pml4, (unsigned long)(rk_map_top / RK_GIB), big, split);
}

void rk_mm_init(const struct hv_bootinfo *bi)
{
	uint64_t top = RK_MM_MMIO_END;
	struct cpuid_regs r;

	for (uint32_t i = 0; i < bi->mem_count; i++)
		if (bi->mem[i].base + bi->mem[i].length > top)
			top = bi->mem[i].base + bi->mem[i].length;
	top = (top + RK_GIB - 1) & ~(RK_GIB - 1);
	if (top > RK_MM_MAP_MAX) {
		rk_printf("root: memory above %lu GiB is not mapped\n",
			  (unsigned long)(RK_MM_MAP_MAX / RK_GIB));
		top = RK_MM_MAP_MAX;
	}
	rk_map_top = top;

	/* Free RAM: what the map calls available, from 1 MiB up.  The boot
	 * area follows in rk_mm_reclaim_boot(). */
	for (uint32_t i = 0; i < bi->mem_count; i++)
		if (bi->mem[i].type == HV_MEM_AVAILABLE)
			rk_range_add(bi->mem[i].base, bi->mem[i].length, RK_MM_LOW_LIMIT);

	/* Features: NX (CPUID.80000001H:EDX[20]), global pages
	 * (CPUID.01H:EDX[13]), SMEP (CPUID.(EAX=07H,ECX=0):EBX[7]). */
	r = cpuid(0x80000000, 0);
	rk_nx = r.eax >= 0x80000001 && (cpuid(0x80000001, 0).edx & (1u << 20));
	rk_pge = !!(cpuid(1, 0).edx & (1u << 13));
	r = cpuid(0, 0);
	rk_smep = r.eax >= 7 && (cpuid(7, 0).ebx & (1u << 7));

	/* EFER.NXE before any table with an XD bit is in use: with NXE clear
	 * bit 63 is reserved (SDM Vol. 3A 4.5, table 4-20). */
	if (rk_nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	rk_build_kernel_map(bi);
	write_cr0(read_cr0() | X86_CR0_WP);	/* ring 0 honours read-only pages too */
	write_cr3(rk_kernel_pml4);
	if (rk_pge)
		write_cr4(read_cr4() | CR4_PGE);
	if (rk_smep)
		write_cr4(read_cr4() | CR4_SMEP);
	rk_printf("root: paging: NX %s, global pages %s, SMEP %s; %lu pages free\n",
		  rk_nx ? "on" : "not offered", rk_pge ? "on" : "not offered",
		  rk_smep ? "on" : "not offered (discipline only)", (unsigned long)rk_nfree);
}

void rk_mm_reclaim_boot(const struct hv_bootinfo *bi)
{
	for (uint32_t i = 0; i < bi->mem_count; i++) {
		uint64_t before = rk_nfree;

		if (bi->mem[i].type != HV_MEM_BOOT)
			continue;
		rk_range_add(bi->mem[i].base, bi->mem[i].length, RK_PAGE);
		rk_printf("root: boot area [0x%lx, 0x%lx) given to the page allocator: %lu pages\n",
			  (unsigned long)bi->mem[i].base,
			  (unsigned long)(bi->mem[i].base + bi->mem[i].length),
			  (unsigned long)(rk_nfree - before));
	}
}

bool rk_mm_nx(void)
{
	return rk_nx;
}

bool rk_mm_smep(void)
{
	return rk_smep;
}

uint64_t rk_mm_kernel_cr3(void)
{
	return rk_kernel_pml4;
}

/* ---- user address spaces ---- */

int rk_as_create(struct rk_as *as)
{
	uint64_t pml4 = rk_page_alloc();

	if (!pml4)
		return -RK_ENOMEM;
	rk_phys(pml4)[0] = rk_phys(rk_kernel_pml4)[0];	/* the shared kernel half */
	as->pml4 = pml4;
	as->pages = 1;
	return 0;
}

static bool rk_user_va(uint64_t va)
{
	return va >= RK_USER_BASE && va < RK_USER_TOP;
}

/* The next-level table under `*entry`, made if absent.  Intermediate
 * entries grant everything (P, W, U); the leaf decides (SDM Vol. 3A
 * 4.6: the access rights are the most restrictive along the walk). */
static uint64_t *rk_as_next(struct rk_as *as, uint64_t *entry)
{
	if (!(*entry & RK_PTE_P)) {
		uint64_t pa = rk_page_alloc();

		if (!pa)
			return NULL;
		as->pages++;
		*entry = pa | RK_PTE_P | RK_PTE_W | RK_PTE_U;
	}
	return rk_phys(*entry & RK_PTE_ADDR);
}

uint64_t rk_as_map_new(struct rk_as *as, uint64_t va, uint64_t prot)
{
	uint64_t *t = rk_phys(as->pml4), pa;

	if (!rk_user_va(va) || (va & (RK_PAGE - 1)))
		return 0;
	if (!(t = rk_as_next(as, &t[PML4_INDEX(va)])) || !(t = rk_as_next(as, &t[PDPT_INDEX(va)])) ||
	    !(t = rk_as_next(as, &t[PD_INDEX(va)])))
		return 0;
	if (t[PT_INDEX(va)] & RK_PTE_P)
		return 0;	/* already mapped */
	pa = rk_page_alloc();
	if (!pa)
		return 0;
	as->pages++;
	t[PT_INDEX(va)] = pa | RK_PTE_P | RK_PTE_U | (prot & RK_PTE_W) | (rk_nx ? prot & RK_PTE_NX : 0);
	return pa;
}

void rk_as_destroy(struct rk_as *as)
{
	uint64_t *pml4 = rk_phys(as->pml4), freed = 0;

	if (!as->pml4)
		return;
	/* Entries 1-255: the user half; entry 0 is the kernel's. */
	for (unsigned i = 1; i < 256; i++) {
		uint64_t *pdpt;

		if (!(pml4[i] & RK_PTE_P))
			continue;
		pdpt = rk_phys(pml4[i] & RK_PTE_ADDR);
		for (unsigned j = 0; j < 512; j++) {
			uint64_t *pd;

			if (!(pdpt[j] & RK_PTE_P))
				continue;
			pd = rk_phys(pdpt[j] & RK_PTE_ADDR);
			for (unsigned k = 0; k < 512; k++) {
				uint64_t *pt;

				if (!(pd[k] & RK_PTE_P))
					continue;
				pt = rk_phys(pd[k] & RK_PTE_ADDR);
				for (unsigned l = 0; l < 512; l++) {
					if (pt[l] & RK_PTE_P) {
						rk_page_free(pt[l] & RK_PTE_ADDR);
						freed++;
					}
				}
				rk_page_free(pd[k] & RK_PTE_ADDR);
				freed++;
			}
			rk_page_free(pdpt[j] & RK_PTE_ADDR);
			freed++;
		}
		rk_page_free(pml4[i] & RK_PTE_ADDR);
		freed++;
	}
	rk_page_free(as->pml4);
	freed++;
	if (freed != as->pages)
		rk_panic("address space 0x%lx: freed %lu pages, owned %lu", (unsigned long)as->pml4,
			 (unsigned long)freed, (unsigned long)as->pages);
	as->pml4 = 0;
	as->pages = 0;
}

/* The effective leaf entry for `va` (SDM Vol. 3A 4.6: P and U must be set
 * at every level, W is writable only if every level has it), or 0. */
static uint64_t rk_as_lookup(const struct rk_as *as, uint64_t va)
{
	const uint64_t *t = rk_phys(as->pml4);
	const unsigned shift[4] = { 39, 30, 21, 12 };
	uint64_t rights = RK_PTE_P | RK_PTE_U | RK_PTE_W, e = 0;

	for (unsigned lvl = 0; lvl < 4; lvl++) {
		e = t[(va >> shift[lvl]) & 511];
		if (!(e & RK_PTE_P) || (lvl < 3 && (e & RK_PTE_PS)))
			return 0;	/* the user half has no large pages */
		rights &= e;
		t = rk_phys(e & RK_PTE_ADDR);
	}
	return (e & ~(RK_PTE_P | RK_PTE_U | RK_PTE_W)) | rights;
}

int rk_uaccess_check(const struct rk_as *as, uint64_t uptr, uint64_t len, bool write)
{
	uint64_t need = RK_PTE_P | RK_PTE_U | (write ? RK_PTE_W : 0);

	if (len == 0)
		return 0;
	if (!rk_user_va(uptr) || len > RK_USER_TOP - uptr)
		return -RK_EFAULT;
	for (uint64_t page = uptr & ~(RK_PAGE - 1); page < uptr + len; page += RK_PAGE)
		if ((rk_as_lookup(as, page) & need) != need)
			return -RK_EFAULT;
	return 0;
}

/* Copies between a kernel buffer and checked user memory, through the
 * kernel's map of each physical page. */
static int rk_copy_user(const struct rk_as *as, void *kbuf, uint64_t uptr, uint64_t len, bool to_user)
{
	uint8_t *k = kbuf;
	int err = rk_uaccess_check(as, uptr, len, to_user);

	if (err)
		return err;
	while (len) {
		uint64_t off = uptr & (RK_PAGE - 1), n = RK_PAGE - off;
		uint8_t *u = (uint8_t *)(uintptr_t)((rk_as_lookup(as, uptr) & RK_PTE_ADDR) + off);

		if (n > len)
			n = len;
		if (to_user)
			memcpy(u, k, n);
		else
			memcpy(k, u, n);
		k += n;
		uptr += n;
		len -= n;
	}
	return 0;
}

int rk_copy_from_user(const struct rk_as *as, void *dst, uint64_t uptr, uint64_t len)
{
	return rk_copy_user(as, dst, uptr, len, false);
}

int rk_copy_to_user(const struct rk_as *as, uint64_t uptr, const void *src, uint64_t len)
{
	return rk_copy_user(as, (void *)(uintptr_t)src, uptr, len, true);
}
