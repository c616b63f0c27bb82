/* Extended page tables of a partition (SDM Vol. 3C 29.3): 4-level, 2 MiB
 * leaves where possible, 4 KiB otherwise.  Paging-structure pages come
 * from the partition's pool: the hypervisor's for the root, the
 * deposited pages for a child. */
#include "hv.h"
#include "rt.h"

#define EPT_LEAF_2M (1ull << 7)		/* PDE maps a 2 MiB page (29.3.2) */
#define EPT_IGNORE_PAT (1ull << 6)
#define EPT_ADDR 0x000ffffffffff000ull
#define EPT_TABLE (EPT_R | EPT_W | EPT_X)	/* non-leaf: the leaf decides */
#define M2 (2ull << 20)
#define IDX(gpa, level) (((gpa) >> (12 + 9 * (level))) & 511)

static void invalidate(struct hv_ept *e);

int hv_ept_init(struct hv_ept *e, struct hv_pool *pool)
{
	e->pool = pool;
	e->pages = 0;
	e->pml4 = hv_pool_get(pool);
	if (!e->pml4)
		return -1;
	e->pages = 1;
	return 0;
}

uint64_t hv_ept_eptp(const struct hv_ept *e)
{
	/* Write-back paging structures, 4-level walk (SDM 25.6.11). */
	return e->pml4 | (3ull << 3) | 6;
}

static uint64_t *table_of(uint64_t entry)
{
	return hv_va(entry & EPT_ADDR);
}

static uint64_t new_table(struct hv_ept *e)
{
	uint64_t pa = hv_pool_get(e->pool);

	if (pa)
		e->pages++;
	return pa;
}

static void free_table(struct hv_ept *e, uint64_t pa)
{
	hv_pool_put(e->pool, pa);
	e->pages--;
}

/* The entry for `gpa` at `level` (1 = PD, 0 = PT), creating tables on
 * the way and splitting a 2 MiB leaf that is in the way into 512 4 KiB
 * leaves with the same permissions.  NULL if the pool ran dry. */
static uint64_t *entry_at(struct hv_ept *e, uint64_t gpa, int level)
{
	uint64_t *t = hv_va(e->pml4);

	for (int l = 3; l > level; l--) {
		uint64_t *ent = &t[IDX(gpa, l)];

		if (l == 1 && (*ent & EPT_LEAF_2M)) {
			uint64_t pt = new_table(e), base = *ent & EPT_ADDR & ~(M2 - 1);
			uint64_t flags = *ent & ~EPT_ADDR & ~EPT_LEAF_2M;

			if (!pt)
				return NULL;
			for (uint64_t i = 0; i < 512; i++)
				((uint64_t *)hv_va(pt))[i] = (base + i * HV_PAGE_SIZE) | flags;
			*ent = pt | EPT_TABLE;
		} else if (!(*ent & EPT_RWX)) {
			uint64_t pa = new_table(e);

			if (!pa)
				return NULL;
			*ent = pa | EPT_TABLE;
		}
		t = table_of(*ent);
	}
	return &t[IDX(gpa, level)];
}

static void free_subtree(struct hv_ept *e, uint64_t table, int level)
{
	uint64_t *t = hv_va(table);

	if (level > 0)
		for (int i = 0; i < 512; i++)
			if ((t[i] & EPT_RWX) && !(level == 1 && (t[i] & EPT_LEAF_2M)))
				free_subtree(e, t[i] & EPT_ADDR, level - 1);
	free_table(e, table);
}

int hv_ept_map(struct hv_ept *e, uint64_t gpa, uint64_t hpa, uint64_t len, uint64_t flags)
{
	while (len) {
		uint64_t *ent;

		if (!((gpa | hpa) & (M2 - 1)) && len >= M2) {
			ent = entry_at(e, gpa, 1);
			if (!ent)
				return -1;
			if ((*ent & EPT_RWX) && !(*ent & EPT_LEAF_2M))
				free_subtree(e, *ent & EPT_ADDR, 0);
			*ent = hpa | flags | EPT_IGNORE_PAT | EPT_LEAF_2M;
			gpa += M2;
			hpa += M2;
			len -= M2;
			continue;
		}
		ent = entry_at(e, gpa, 0);
		if (!ent)
			return -1;
		*ent = hpa | flags | EPT_IGNORE_PAT;
		gpa += HV_PAGE_SIZE;
		hpa += HV_PAGE_SIZE;
		len -= len < HV_PAGE_SIZE ? len : HV_PAGE_SIZE;
	}
	invalidate(e);
	return 0;
}

int hv_ept_unmap(struct hv_ept *e, uint64_t gpa, uint64_t len)
{
	while (len) {
		uint64_t *t = hv_va(e->pml4), *ent = NULL;
		int l;

		/* Walk without creating: what is not mapped stays unmapped. */
		for (l = 3; l >= 0; l--) {
			ent = &t[IDX(gpa, l)];
			if (!(*ent & EPT_RWX) || l == 0 || (l == 1 && (*ent & EPT_LEAF_2M)))
				break;
			t = table_of(*ent);
		}
		if ((*ent & EPT_RWX) && l == 1 && (*ent & EPT_LEAF_2M)) {
			if (!(gpa & (M2 - 1)) && len >= M2) {
				*ent = 0;
				gpa += M2;
				len -= M2;
				continue;
			}
			ent = entry_at(e, gpa, 0);	/* split, then clear the page */
			if (!ent)
				return -1;
			l = 0;
		}
		if (l == 0)
			*ent = 0;
		gpa += HV_PAGE_SIZE;
		len -= len < HV_PAGE_SIZE ? len : HV_PAGE_SIZE;
	}
	invalidate(e);
	return 0;
}

/* Cached translations from this EPT are dropped on every LP (SDM 31
 * INVEPT, single-context).  One LP for now: this one. */
static void invalidate(struct hv_ept *e)
{
	struct {
		uint64_t eptp, reserved;
	} desc = { hv_ept_eptp(e), 0 };

	asm volatile("invept %0, %1" : : "m"(desc), "r"(1ull) : "cc", "memory");
}

uint64_t hv_ept_leaf(const struct hv_ept *e, uint64_t gpa)
{
	uint64_t *t = hv_va(e->pml4);

	for (int l = 3; l >= 0; l--) {
		uint64_t ent = t[IDX(gpa, l)];

		if (!(ent & EPT_RWX))
			return 0;
		if (l == 0 || (l == 1 && (ent & EPT_LEAF_2M)))
			return ent;
		t = table_of(ent);
	}
	return 0;
}

int hv_ept_leaf_4k(struct hv_ept *e, uint64_t gpa, uint64_t *leaf)
{
	uint64_t *ent = entry_at(e, gpa, 0);

	if (!ent)
		return -1;
	*leaf = *ent;
	return 0;
}

int hv_ept_set_leaf(struct hv_ept *e, uint64_t gpa, uint64_t leaf)
{
	uint64_t *ent = entry_at(e, gpa, 0);

	if (!ent)
		return -1;
	*ent = leaf;
	invalidate(e);
	return 0;
}

uint64_t hv_ept_translate(const struct hv_ept *e, uint64_t gpa, uint64_t need)
{
	uint64_t *t = hv_va(e->pml4);

	for (int l = 3; l >= 0; l--) {
		uint64_t ent = t[IDX(gpa, l)];

		if ((ent & need) != need || !(ent & EPT_RWX))
			return ~0ull;
		if (l == 0)
			return (ent & EPT_ADDR) | (gpa & (HV_PAGE_SIZE - 1));
		if (l == 1 && (ent & EPT_LEAF_2M))
			return (ent & EPT_ADDR & ~(M2 - 1)) | (gpa & (M2 - 1));
		t = table_of(ent);
	}
	return ~0ull;
}

static void walk_leaves(uint64_t table, int level, uint64_t base, void (*fn)(uint64_t, uint64_t, void *), void *ctx)
{
	uint64_t *t = hv_va(table);

	for (uint64_t i = 0; i < 512; i++) {
		uint64_t gpa = base + (i << (12 + 9 * level));

		if (!(t[i] & EPT_RWX))
			continue;
		if (level == 0 || (level == 1 && (t[i] & EPT_LEAF_2M)))
			fn(gpa, t[i], ctx);
		else
			walk_leaves(t[i] & EPT_ADDR, level - 1, gpa, fn, ctx);
	}
}

void hv_ept_for_each_leaf(const struct hv_ept *e, void (*fn)(uint64_t gpa, uint64_t leaf, void *ctx), void *ctx)
{
	if (e->pml4)
		walk_leaves(e->pml4, 3, 0, fn, ctx);
}

void hv_ept_destroy(struct hv_ept *e)
{
	if (e->pml4)
		free_subtree(e, e->pml4, 3);
	e->pml4 = 0;
}
