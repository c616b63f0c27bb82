/* The hypervisor's page pool and partition pools (hv.h "Memory"). */
#include "hv.h"
#include "rt.h"

/* The hypervisor's own pool: page tables, VMXON regions, the root's EPT
 * and VMCSs.  8 MiB holds them for 64 LPs with room to spare. */
#define HV_POOL_SIZE (8ull << 20)
#define HV_2M (2ull << 20)

struct hv_pool hv_pool;

void hv_pool_put(struct hv_pool *p, uint64_t pa)
{
	*(uint64_t *)hv_va(pa) = p->head;
	p->head = pa;
	p->free++;
}

uint64_t hv_pool_get(struct hv_pool *p)
{
	uint64_t pa = p->head;

	if (!pa)
		return 0;
	p->head = *(uint64_t *)hv_va(pa);
	p->free--;
	memset(hv_va(pa), 0, HV_PAGE_SIZE);
	return pa;
}

/* Ownership of every page of RAM (TLFS "Memory Management"): the root's
 * (mapped in its EPT, and possibly into children's), the hypervisor's,
 * or deposited (in some partition's pool).  Two bits of state and the
 * number of child mappings of a root page. */
static uint16_t *page_info;
static uint64_t page_count;

#define PAGE_STATE_MASK 3u
#define PAGE_MAPS_ONE 4u

enum hv_page_state hv_page_state(uint64_t pa, unsigned *maps)
{
	uint64_t i = pa / HV_PAGE_SIZE;

	if (i >= page_count)
		return HV_PAGE_NONE;
	if (maps)
		*maps = page_info[i] / PAGE_MAPS_ONE;
	return (enum hv_page_state)(page_info[i] & PAGE_STATE_MASK);
}

void hv_page_set_state(uint64_t pa, enum hv_page_state st)
{
	uint64_t i = pa / HV_PAGE_SIZE;

	if (i < page_count)
		page_info[i] = (uint16_t)((page_info[i] & ~PAGE_STATE_MASK) | st);
}

int hv_page_map_count(uint64_t pa, int delta)
{
	uint64_t i = pa / HV_PAGE_SIZE;
	unsigned maps;

	if (i >= page_count)
		return -1;
	maps = page_info[i] / PAGE_MAPS_ONE;
	if ((delta < 0 && !maps) || (delta > 0 && maps >= 0x3fff))
		return -1;
	page_info[i] = (uint16_t)(page_info[i] + delta * (int)PAGE_MAPS_ONE);
	return 0;
}

/* The pool (and the ownership array at its start) is the top of the
 * highest available range below 4 GiB that holds it whole on 2 MiB
 * boundaries, so the root's EPT keeps 2 MiB leaves everywhere else. */
int hv_mm_init(const struct hv_bootinfo *bi, uint64_t top, uint64_t *pool_base, uint64_t *pool_len)
{
	uint64_t info_bytes = (top / HV_PAGE_SIZE * sizeof(uint16_t) + HV_PAGE_SIZE - 1) & HV_PAGE_MASK;
	uint64_t size = (HV_POOL_SIZE + info_bytes + HV_2M - 1) & ~(HV_2M - 1), best = 0;

	for (uint32_t i = 0; i < bi->mem_count; i++) {
		const struct hv_boot_mem *m = &bi->mem[i];
		uint64_t end = m->base + m->length, hi = end & ~(HV_2M - 1);

		if (m->type != HV_MEM_AVAILABLE || end > (4ull << 30) || hi < size)
			continue;
		if (hi - size >= m->base && hi > best)
			best = hi;
	}
	if (!best) {
		rt_printf("hv: no available range holds the %lu MiB page pool\n", (unsigned long)(size >> 20));
		return -1;
	}
	*pool_base = best - size;
	*pool_len = size;
	page_info = hv_va(*pool_base);
	page_count = top / HV_PAGE_SIZE;
	memset(page_info, 0, info_bytes);
	/* Lowest address first out: the pool fills from its bottom. */
	for (uint64_t pa = best; pa > *pool_base + info_bytes;) {
		pa -= HV_PAGE_SIZE;
		hv_pool_put(&hv_pool, pa);
	}
	hv_pool.total = hv_pool.free;
	return 0;
}
