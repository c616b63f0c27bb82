/* Partition management hypercalls (TLFS "Partition Management", "Memory
 * Management", "Virtual Processor Management", "Guest Physical Address
 * Space Management").
 *
 * States: CreatePartition leaves a child Uninitialized, where only
 * deposits, withdrawals and InitializePartition apply; InitializePartition
 * makes it Active (VPs, mappings, running); FinalizePartition stops it,
 * returns everything it held to its pool and makes it Finalized, where
 * only withdrawals and DeletePartition apply.  Only the parent acts on a
 * child.  Memory a child uses comes from the pages deposited for it;
 * pages deposited leave the depositor's EPT until withdrawn. */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

#define MAX_PAGE_NUMBER (1ull << (52 - 12))	/* GPAs are below 2^52 (SDM 29.3) */

/* A partition's memory pool: what was deposited for it.  The root's too:
 * what the hypervisor does on its behalf (a child's bookkeeping) comes
 * from pages it deposited into itself (TLFS "Memory Management"), not
 * from the hypervisor's own. */
static struct hv_pool *pool_of(struct hv_partition *p)
{
	return &p->pool;
}

/* The partition `id` names for `caller`: itself (HV_PARTITION_ID_SELF or
 * its own id) if `self_ok`, else a child of the caller.  The caller is a
 * valid partition but not its own child: ACCESS_DENIED, as for any
 * partition that is not a child (TLFS/MSDN HvFinalizePartition,
 * HvUnmapGpaPages: "the caller is not the parent"). */
uint16_t hv_call_target(struct hv_partition *caller, uint64_t id, bool self_ok, struct hv_partition **out)
{
	struct hv_partition *p;

	if (id == HV_PARTITION_ID_SELF || id == caller->id) {
		if (!self_ok)
			return HV_STATUS_ACCESS_DENIED;
		*out = caller;
		return HV_STATUS_SUCCESS;
	}
	p = hv_partition_find(id);
	if (!p)
		return HV_STATUS_INVALID_PARTITION_ID;
	if (p->parent != caller)
		return HV_STATUS_ACCESS_DENIED;
	*out = p;
	return HV_STATUS_SUCCESS;
}

#define LEAF_ADDR 0x000ffffffffff000ull

/* Forget the child mapping at `gpa` (its root page's count).  Child
 * mappings are 4 KiB leaves (map_gpa_pages); the hypercall overlay is
 * the hypervisor's page, not a root page. */
static void drop_mapping(struct hv_partition *p, uint64_t gpa)
{
	uint64_t leaf = hv_ept_leaf(&p->ept, gpa);

	if ((leaf & EPT_RWX) && (leaf & LEAF_ADDR) != p->hypercall_page)
		hv_page_map_count(leaf & LEAF_ADDR, -1);
}

static void drop_leaf(uint64_t gpa, uint64_t leaf, void *ctx)
{
	struct hv_partition *p = ctx;

	if ((leaf & LEAF_ADDR) != p->hypercall_page)
		hv_page_map_count(leaf & LEAF_ADDR, -1);
}

static void unmap_all(struct hv_partition *p)
{
	hv_ept_for_each_leaf(&p->ept, drop_leaf, p);
}

/* What a call changed, for observers (include/hv/marker.h 16-31).  The
 * records are static: one LP runs the hypervisor. */
static void mark_pool(const struct hv_partition *p)
{
	static struct hv_mark_pool m;

	m = (struct hv_mark_pool){ p->id, p->pool.free, p->pool.total };
	HV_MARKER(HV_MARK_POOL, &m);
}

static void mark_gpa(const struct hv_partition *p, uint64_t gpa, uint64_t hpa, uint64_t ept_flags)
{
	static struct hv_mark_gpa m;

	m = (struct hv_mark_gpa){ p->id, gpa, hpa, ept_flags };
	HV_MARKER(HV_MARK_GPA, &m);
}

static void mark_ept(const struct hv_partition *p, uint64_t eptp)
{
	static struct hv_mark_ept m;

	m = (struct hv_mark_ept){ p->id, eptp };
	HV_MARKER(HV_MARK_EPT, &m);
}

static void mark_vp(const struct hv_partition *p, unsigned vp, uint64_t vmcs)
{
	static struct hv_mark_vp m;

	m = (struct hv_mark_vp){ .partition = p->id, .vp = vp, .vmcs = vmcs };
	HV_MARKER(HV_MARK_VP, &m);
}

/* The GPA the hypercall page overlays, or ~0. */
static uint64_t overlay_gpa(const struct hv_partition *p)
{
	return p->hypercall_page ? p->hypercall_msr & HV_X64_MSR_HYPERCALL_PAGE_ADDRESS_MASK : ~0ull;
}

/* ---- partitions ---- */

static uint16_t get_partition_id(struct hv_call *c)
{
	((struct hv_output_get_partition_id *)c->out)->partition_id = c->vp->part->id;
	return HV_STATUS_SUCCESS;
}

/* Creation flags hvsim knows: the rest are refused. */
#define KNOWN_CREATE_FLAGS (HV_PARTITION_CREATION_FLAG_SMT_ENABLED_GUEST | \
			    HV_PARTITION_CREATION_FLAG_GPA_SUPER_PAGES_ENABLED | \
			    HV_PARTITION_CREATION_FLAG_EXO_PARTITION | HV_PARTITION_CREATION_FLAG_LAPIC_ENABLED | \
			    HV_PARTITION_CREATION_FLAG_INTERCEPT_MESSAGE_PAGE_ENABLED | \
			    HV_PARTITION_CREATION_FLAG_X2APIC_CAPABLE)

/* A child's MSR bitmap (SDM 25.6.9): reads pass through but the virtual
 * APIC's; writes exit, except to the MSRs each VP has its own copy of (the
 * VMCS guest area and the VP's MSR area), so a child cannot change the
 * machine's MSRs. */
static void child_msr_bitmap(uint64_t page)
{
	static const uint32_t own[] = {
		MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_IA32_PAT,
		MSR_EFER, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_FMASK, MSR_FS_BASE, MSR_GS_BASE,
		MSR_KERNEL_GS_BASE, MSR_TSC_AUX,
	};
	uint8_t *b = hv_va(page);

	memset(b + 2048, 0xff, 2048);		/* write-low and write-high */
	/* Reads of the virtual APIC's MSRs exit too (vapic.c): IA32_APIC_BASE,
	 * IA32_TSC_DEADLINE and the x2APIC range 0x800-0x8FF (read-low
	 * bitmap, offset 0). */
	b[MSR_IA32_APIC_BASE / 8] |= (uint8_t)(1u << (MSR_IA32_APIC_BASE & 7));
	b[MSR_IA32_TSC_DEADLINE / 8] |= (uint8_t)(1u << (MSR_IA32_TSC_DEADLINE & 7));
	memset(b + 0x800 / 8, 0xff, 0x100 / 8);
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		uint32_t m = own[i], off = 2048 + ((m >> 30) ? 1024 : 0) + (m & 0x1fff) / 8;

		b[off] &= (uint8_t)~(1u << (m & 7));
	}
}

static uint16_t create_partition(struct hv_call *c)
{
	const struct hv_input_create_partition *in = (const void *)c->in;
	struct hv_partition *parent = c->vp->part, *p;
	uint64_t bitmap;

	if ((in->flags & ~KNOWN_CREATE_FLAGS) || (in->isolation_properties & HV_PARTITION_ISOLATION_TYPE_MASK))
		return HV_STATUS_INVALID_PARAMETER;
	/* The partition's own state comes out of the creator's pool, which
	 * the creator deposits into itself first (Linux's root does). */
	bitmap = hv_pool_get(pool_of(parent));
	if (!bitmap)
		return HV_STATUS_INSUFFICIENT_MEMORY;
	p = hv_partition_new(false);
	if (!p) {
		hv_pool_put(pool_of(parent), bitmap);
		return HV_STATUS_NO_RESOURCES;
	}
	p->parent = parent;
	p->meta_pool = pool_of(parent);
	p->msr_bitmap = bitmap;
	child_msr_bitmap(bitmap);
	p->create_flags = in->flags;
	/* A guest gets the hypercall MSRs, its VP index, the SynIC,
	 * synthetic time, the APIC MSRs (its virtual APIC, vapic.c) and the
	 * TSC and APIC frequency MSRs (stimer.c, apictimer.c), may
	 * post messages and signal events on the connections its parent
	 * makes for it and start its own VPs; no management privileges and
	 * no port creation (TLFS "Partition Privilege Flags"). */
	p->privileges = HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | HV_MSR_SYNIC_AVAILABLE |
			HV_PRIVILEGES_TIME | HV_MSR_APIC_ACCESS_AVAILABLE | HV_ACCESS_FREQUENCY_MSRS |
			(uint64_t)(HV_POST_MESSAGES | HV_SIGNAL_EVENTS | HV_START_VIRTUAL_PROCESSOR) << 32;
	((struct hv_output_create_partition *)c->out)->partition_id = p->id;
	hv_mark_partition(p, HV_MARK_PART_CREATED);
	mark_pool(parent);
	return HV_STATUS_SUCCESS;
}

static uint16_t initialize_partition(struct hv_call *c)
{
	const struct hv_input_initialize_partition *in = (const void *)c->in;
	struct hv_partition *p;
	uint16_t st = hv_call_target(c->vp->part, in->partition_id, false, &p);

	if (st)
		return st;
	if (p->state != HV_PART_UNINITIALIZED)
		return HV_STATUS_INVALID_PARTITION_STATE;
	if (hv_ept_init(&p->ept, &p->pool))
		return HV_STATUS_INSUFFICIENT_MEMORY;
	p->state = HV_PART_ACTIVE;
	hv_mark_partition(p, HV_MARK_PART_INITIALIZED);
	mark_ept(p, hv_ept_eptp(&p->ept));
	mark_pool(p);
	return HV_STATUS_SUCCESS;
}

/* Give a root page back to the root's EPT (identity, as it was). */
static int return_to_root(uint64_t pa)
{
	struct hv_partition *root = hv_partition_at(0);

	hv_page_set_state(pa, HV_PAGE_ROOT);
	return hv_ept_map(&root->ept, pa, pa, HV_PAGE_SIZE, EPT_RWX | EPT_MT_WB);
}

static uint16_t finalize_partition(struct hv_call *c)
{
	const struct hv_input_finalize_partition *in = (const void *)c->in;
	struct hv_partition *p;
	uint16_t st = hv_call_target(c->vp->part, in->partition_id, false, &p);

	if (st)
		return st;
	if (p->state == HV_PART_FINALIZED)
		return HV_STATUS_INVALID_PARTITION_STATE;
	/* Everything the partition held goes back to its pool. */
	for (unsigned i = 0; i < p->nvps; i++) {
		struct hv_vp *vp = p->vps[i];

		if (!vp)
			continue;
		hv_vp_destroy(vp);
		hv_pool_put(&p->pool, vp->vmcs);
		hv_pool_put(&p->pool, hv_pa(vp));
		p->vps[i] = NULL;
		mark_vp(p, i, 0);
	}
	p->nvps = 0;
	if (p->hypercall_page) {
		/* The mapping the overlay covered comes back first, so that
		 * unmap_all counts that root page out like the others. */
		if (p->state == HV_PART_ACTIVE)
			hv_ept_set_leaf(&p->ept, overlay_gpa(p), p->hypercall_saved);
		hv_pool_put(&p->pool, p->hypercall_page);
		p->hypercall_page = 0;
	}
	if (p->state == HV_PART_ACTIVE) {
		unmap_all(p);
		hv_ept_destroy(&p->ept);
		mark_ept(p, 0);
	}
	p->state = HV_PART_FINALIZED;
	hv_mark_partition(p, HV_MARK_PART_FINALIZED);
	mark_pool(p);
	hv_vmcs_load(c->vp);	/* VMCLEAR above may have unloaded the caller's */
	return HV_STATUS_SUCCESS;
}

static uint16_t delete_partition(struct hv_call *c)
{
	const struct hv_input_delete_partition *in = (const void *)c->in;
	struct hv_partition *p;
	uint16_t st = hv_call_target(c->vp->part, in->partition_id, false, &p);
	uint64_t pa;

	if (st)
		return st;
	if (p->state != HV_PART_FINALIZED && p->state != HV_PART_UNINITIALIZED)
		return HV_STATUS_INVALID_PARTITION_STATE;
	/* What was not withdrawn goes back to the root. */
	while ((pa = hv_pool_get(&p->pool)))
		if (return_to_root(pa))
			return HV_STATUS_INSUFFICIENT_MEMORY;
	hv_pool_put(p->meta_pool, p->msr_bitmap);
	hv_ports_partition_deleted(p);
	p->in_use = false;
	hv_mark_partition(p, HV_MARK_PART_DELETED);
	mark_pool(p);
	if (p->parent)
		mark_pool(p->parent);
	return HV_STATUS_SUCCESS;
}

/* Properties (TLFS "HV_PARTITION_PROPERTY_CODE"): the ones hvsim keeps. */
static uint64_t *property(struct hv_partition *p, uint32_t code, bool *writable)
{
	*writable = true;
	switch (code) {
	case HV_PARTITION_PROPERTY_PRIVILEGE_FLAGS:
		*writable = false;
		return &p->privileges;
	case HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES:
		return &p->synthetic_features;
	case HV_PARTITION_PROPERTY_GUEST_OS_ID:
		*writable = false;
		return &p->guest_os_id;
	default:
		return NULL;
	}
}

/* The property a Get/SetPartitionProperty input names (the two inputs
 * share their first 16 bytes). */
static uint16_t property_of(struct hv_call *c, bool set, uint64_t **v, bool *writable)
{
	const struct hv_input_get_partition_property *in = (const void *)c->in;
	struct hv_partition *p;
	uint16_t st = hv_call_target(c->vp->part, in->partition_id, !set, &p);

	if (st)
		return st;
	/* A finalized partition answers withdrawals and deletion only (MSDN
	 * "Partition Finalization"). */
	if (p->state == HV_PART_FINALIZED)
		return HV_STATUS_INVALID_PARTITION_STATE;
	if (in->padding)
		return HV_STATUS_INVALID_PARAMETER;
	*v = property(p, in->property_code, writable);
	return *v ? HV_STATUS_SUCCESS : HV_STATUS_UNKNOWN_PROPERTY;
}

static uint16_t get_partition_property(struct hv_call *c)
{
	uint64_t *v;
	bool w;
	uint16_t st = property_of(c, false, &v, &w);

	if (!st)
		((struct hv_output_get_partition_property *)c->out)->property_value = *v;
	return st;
}

static uint16_t set_partition_property(struct hv_call *c)
{
	const struct hv_input_set_partition_property *in = (const void *)c->in;
	uint64_t *v;
	bool w;
	uint16_t st = property_of(c, true, &v, &w);

	if (st)
		return st;
	if (!w)
		return HV_STATUS_ACCESS_DENIED;
	*v = in->property_value;
	return HV_STATUS_SUCCESS;
}

/* ---- memory pools ---- */

/* A page the caller may give away: its own RAM, mapped in its EPT,
 * mapped into no child. */
static int depositable(struct hv_partition *caller, uint64_t gpfn, uint64_t *pa)
{
	unsigned maps;
	uint64_t leaf;

	if (!caller->is_root || gpfn >= MAX_PAGE_NUMBER)
		return 0;
	*pa = gpfn * HV_PAGE_SIZE;
	leaf = hv_ept_leaf(&caller->ept, *pa);
	return (leaf & EPT_RWX) == EPT_RWX && (leaf & (7ull << 3)) == EPT_MT_WB &&
	       hv_page_state(*pa, &maps) == HV_PAGE_ROOT && !maps && *pa != overlay_gpa(caller);
}

static uint16_t deposit_memory(struct hv_call *c)
{
	const struct hv_input_deposit_memory *in = (const void *)c->in;
	const hv_gpa_page_number *pages = (const void *)(c->in + sizeof(*in));
	struct hv_partition *caller = c->vp->part, *p;
	uint16_t st = hv_call_target(caller, in->partition_id, true, &p);
	unsigned started = c->rep;

	if (st)
		return st;
	/* MSDN HvDepositMemory: the partition must be Active or
	 * Uninitialized; a page not mapped read/write/execute in the caller,
	 * or reachable by another partition, is OPERATION_DENIED. */
	if (p->state == HV_PART_FINALIZED)
		return HV_STATUS_INVALID_PARTITION_STATE;
	while (!st && hv_call_more(c, started)) {
		uint64_t pa;

		if (!depositable(caller, pages[c->rep], &pa)) {
			st = HV_STATUS_OPERATION_DENIED;
		} else if (hv_ept_unmap(&caller->ept, pa, HV_PAGE_SIZE)) {
			st = HV_STATUS_INSUFFICIENT_MEMORY;
		} else {
			hv_page_set_state(pa, HV_PAGE_DEPOSITED);
			hv_pool_put(pool_of(p), pa);
			pool_of(p)->total++;
			c->rep++;
		}
	}
	mark_pool(p);
	return st;
}

static uint16_t withdraw_memory(struct hv_call *c)
{
	const struct hv_input_withdraw_memory *in = (const void *)c->in;
	hv_gpa_page_number *out = (void *)c->out;
	struct hv_partition *caller = c->vp->part, *p;
	uint16_t st = hv_call_target(caller, in->partition_id, false, &p);
	unsigned started = c->rep;

	if (st)
		return st;
	if (p->state == HV_PART_ACTIVE)
		return HV_STATUS_INVALID_PARTITION_STATE;	/* its pages are in use */
	while (!st && hv_call_more(c, started)) {
		uint64_t pa = hv_pool_get(&p->pool);

		if (!pa) {
			st = HV_STATUS_NO_RESOURCES;	/* the pool is empty */
		} else if (return_to_root(pa)) {
			hv_pool_put(&p->pool, pa);
			st = HV_STATUS_INSUFFICIENT_MEMORY;
		} else {
			p->pool.total--;
			out[c->rep] = pa / HV_PAGE_SIZE;
			c->rep++;
		}
	}
	mark_pool(p);
	return st;
}

/* ---- guest physical address space ---- */

static uint64_t ept_flags(uint32_t map_flags)
{
	return ((map_flags & HV_MAP_GPA_READABLE) ? EPT_R : 0) | ((map_flags & HV_MAP_GPA_WRITABLE) ? EPT_W : 0) |
	       ((map_flags & HV_MAP_GPA_EXECUTABLE) ? EPT_X : 0) |
	       ((map_flags & HV_MAP_GPA_NOT_CACHED) ? EPT_MT_UC : EPT_MT_WB);
}

static uint16_t map_gpa_pages(struct hv_call *c)
{
	const struct hv_input_map_gpa_pages *in = (const void *)c->in;
	const hv_gpa_page_number *src = (const void *)(c->in + sizeof(*in));
	struct hv_partition *caller = c->vp->part, *p;
	uint16_t st = hv_call_target(caller, in->target_partition_id, false, &p);
	unsigned started = c->rep;

	if (st)
		return st;
	if (p->state != HV_PART_ACTIVE)
		return HV_STATUS_INVALID_PARTITION_STATE;
	if ((in->map_flags & ~(HV_MAP_GPA_PERMISSIONS_MASK | HV_MAP_GPA_NOT_CACHED)) || in->padding ||
	    !(in->map_flags & HV_MAP_GPA_PERMISSIONS_MASK) ||
	    in->target_gpa_base + c->ctl.rep_count > MAX_PAGE_NUMBER)
		return HV_STATUS_INVALID_PARAMETER;
	while (hv_call_more(c, started)) {
		uint64_t gpa = (in->target_gpa_base + c->rep) * HV_PAGE_SIZE, spa = src[c->rep] * HV_PAGE_SIZE;
		uint64_t leaf = hv_ept_leaf(&caller->ept, spa);
		unsigned maps;

		/* Only the caller's own RAM: never the hypervisor's, a
		 * deposited page or another partition's (TLFS: the source
		 * GPAs are in the caller's address space). */
		if (src[c->rep] >= MAX_PAGE_NUMBER || (leaf & EPT_RWX) != EPT_RWX ||
		    (leaf & (7ull << 3)) != EPT_MT_WB || hv_page_state(spa, &maps) != HV_PAGE_ROOT ||
		    spa == overlay_gpa(caller))
			return HV_STATUS_INVALID_PARAMETER;
		drop_mapping(p, gpa);
		if (hv_ept_map(&p->ept, gpa, spa, HV_PAGE_SIZE, ept_flags(in->map_flags))) {
			mark_pool(p);
			return HV_STATUS_INSUFFICIENT_MEMORY;
		}
		hv_page_map_count(spa, +1);
		mark_gpa(p, gpa, spa, ept_flags(in->map_flags));
		c->rep++;
	}
	mark_pool(p);
	return HV_STATUS_SUCCESS;
}

static uint16_t unmap_gpa_pages(struct hv_call *c)
{
	const struct hv_input_unmap_gpa_pages *in = (const void *)c->in;
	struct hv_partition *p;
	uint16_t st = hv_call_target(c->vp->part, in->target_partition_id, false, &p);
	unsigned started = c->rep;

	if (st)
		return st;
	if (p->state != HV_PART_ACTIVE)
		return HV_STATUS_INVALID_PARTITION_STATE;
	if (in->unmap_flags || in->padding || in->target_gpa_base + c->ctl.rep_count > MAX_PAGE_NUMBER)
		return HV_STATUS_INVALID_PARAMETER;
	while (hv_call_more(c, started)) {
		uint64_t gpa = (in->target_gpa_base + c->rep) * HV_PAGE_SIZE;

		drop_mapping(p, gpa);
		if (hv_ept_unmap(&p->ept, gpa, HV_PAGE_SIZE))
			return HV_STATUS_INSUFFICIENT_MEMORY;
		mark_gpa(p, gpa, 0, 0);
		c->rep++;
	}
	return HV_STATUS_SUCCESS;
}

/* ---- virtual processors ---- */

static uint16_t create_vp(struct hv_call *c)
{
	const struct hv_input_create_vp *in = (const void *)c->in;
	struct hv_partition *p;
	uint16_t st = hv_call_target(c->vp->part, in->partition_id, false, &p);
	struct hv_vp *vp;

	if (st)
		return st;
	if (p->state != HV_PART_ACTIVE)
		return HV_STATUS_INVALID_PARTITION_STATE;
	if (in->padding[0] || in->padding[1] || in->padding[2] || in->flags || in->subnode_type)
		return HV_STATUS_INVALID_PARAMETER;
	if (in->vp_index >= HV_MAX_VPS || p->vps[in->vp_index])
		return HV_STATUS_INVALID_VP_INDEX;
	if (p->pool.free < 2)
		return HV_STATUS_INSUFFICIENT_MEMORY;
	vp = hv_vp_create(p, in->vp_index, &p->pool, hv_lp_place());
	if (!vp)
		return HV_STATUS_INSUFFICIENT_MEMORY;
	/* A new VP waits, suspended, for its registers (the root clears
	 * HvRegisterExplicitSuspend to start it). */
	hv_vp_set_reset_state();
	vp->suspended = 1;
	vp->runnable = 1;
	mark_vp(p, vp->index, vp->vmcs);
	mark_pool(p);
	hv_vmcs_done(vp);	/* placed on another LP: its VMCS goes there clear */
	hv_vmcs_load(c->vp);
	return HV_STATUS_SUCCESS;
}

static uint16_t vp_target(struct hv_call *c, uint64_t partition_id, uint32_t vp_index, uint8_t vtl,
			  struct hv_vp **out)
{
	struct hv_partition *p;
	uint16_t st = hv_call_target(c->vp->part, partition_id, true, &p);

	if (st)
		return st;
	if (vtl)
		return HV_STATUS_INVALID_PARAMETER;	/* VTL 0 only */
	if (vp_index == HV_VP_INDEX_SELF && p == c->vp->part)
		vp_index = c->vp->index;
	if (vp_index >= HV_MAX_VPS || !p->vps[vp_index])
		return HV_STATUS_INVALID_VP_INDEX;
	*out = p->vps[vp_index];
	return HV_STATUS_SUCCESS;
}

static uint16_t get_vp_registers(struct hv_call *c)
{
	const struct hv_input_get_vp_registers *in = (const void *)c->in;
	const hv_register_name *names = (const void *)(c->in + sizeof(*in));
	union hv_register_value *out = (void *)c->out;
	unsigned started = c->rep;
	struct hv_vp *vp;
	uint16_t st = vp_target(c, in->partition_id, in->vp_index, in->input_vtl, &vp);

	if (st)
		return st;
	if (in->rsvd_z8 || in->rsvd_z16)
		return HV_STATUS_INVALID_PARAMETER;
	if (vp != c->vp)
		hv_vmcs_load(vp);
	while (st == HV_STATUS_SUCCESS && hv_call_more(c, started)) {
		st = hv_vp_get_register(vp, names[c->rep], &out[c->rep]);
		if (st == HV_STATUS_SUCCESS)
			c->rep++;
	}
	if (vp != c->vp) {
		hv_vmcs_done(vp);
		hv_vmcs_load(c->vp);
	}
	return st;
}

static uint16_t set_vp_registers(struct hv_call *c)
{
	const struct hv_input_set_vp_registers *in = (const void *)c->in;
	const struct hv_register_assoc *regs = (const void *)(c->in + sizeof(*in));
	unsigned started = c->rep;
	struct hv_vp *vp;
	uint16_t st = vp_target(c, in->partition_id, in->vp_index, in->input_vtl, &vp);

	if (st)
		return st;
	if (in->rsvd_z8 || in->rsvd_z16)
		return HV_STATUS_INVALID_PARAMETER;
	if (vp != c->vp)
		hv_vmcs_load(vp);
	while (st == HV_STATUS_SUCCESS && hv_call_more(c, started)) {
		const struct hv_register_assoc *r = &regs[c->rep];

		st = r->reserved1 || r->reserved2 ? HV_STATUS_INVALID_PARAMETER :
						   hv_vp_set_register(vp, r->name, &r->value);
		if (st == HV_STATUS_SUCCESS)
			c->rep++;
	}
	if (vp != c->vp) {
		hv_vmcs_done(vp);
		hv_vmcs_load(c->vp);
	}
	return st;
}

const struct hv_handler hv_handlers[] = {
	{ HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, hv_call_flush_virtual_address_space },
	{ HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, hv_call_flush_virtual_address_list },
	{ HVCALL_NOTIFY_LONG_SPIN_WAIT, hv_call_notify_long_spin_wait },
	{ HVCALL_SEND_SYNTHETIC_CLUSTER_IPI, hv_call_send_ipi },
	{ HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX, hv_call_send_ipi_ex },
	{ HVCALL_START_VIRTUAL_PROCESSOR, hv_call_start_vp },
	{ HVCALL_CREATE_PARTITION, create_partition },
	{ HVCALL_INITIALIZE_PARTITION, initialize_partition },
	{ HVCALL_FINALIZE_PARTITION, finalize_partition },
	{ HVCALL_DELETE_PARTITION, delete_partition },
	{ HVCALL_GET_PARTITION_PROPERTY, get_partition_property },
	{ HVCALL_SET_PARTITION_PROPERTY, set_partition_property },
	{ HVCALL_GET_PARTITION_ID, get_partition_id },
	{ HVCALL_DEPOSIT_MEMORY, deposit_memory },
	{ HVCALL_WITHDRAW_MEMORY, withdraw_memory },
	{ HVCALL_MAP_GPA_PAGES, map_gpa_pages },
	{ HVCALL_UNMAP_GPA_PAGES, unmap_gpa_pages },
	{ HVCALL_INSTALL_INTERCEPT, hv_call_install_intercept },
	{ HVCALL_CREATE_PORT, hv_call_create_port },
	{ HVCALL_DELETE_PORT, hv_call_delete_port },
	{ HVCALL_CONNECT_PORT, hv_call_connect_port },
	{ HVCALL_DISCONNECT_PORT, hv_call_disconnect_port },
	{ HVCALL_POST_MESSAGE, hv_call_post_message },
	{ HVCALL_SIGNAL_EVENT, hv_call_signal_event },
	{ HVCALL_CREATE_VP, create_vp },
	{ HVCALL_GET_VP_REGISTERS, get_vp_registers },
	{ HVCALL_SET_VP_REGISTERS, set_vp_registers },
	{ 0, NULL },
};
