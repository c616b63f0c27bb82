/* Partitions and their VPs: the table of partitions, VP creation with a
 * VMCS of its own, and the execution controls every VP gets. */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

#define HV_MAX_PARTITIONS 16

static struct hv_partition partitions[HV_MAX_PARTITIONS];
static uint64_t next_id = 1;

struct hv_partition *hv_partition_new(bool root)
{
	for (unsigned i = 0; i < HV_MAX_PARTITIONS; i++) {
		struct hv_partition *p = &partitions[i];

		if (p->in_use)
			continue;
		memset(p, 0, sizeof(*p));
		p->in_use = true;
		p->is_root = root;
		p->id = next_id++;
		p->slot = i;
		p->state = HV_PART_UNINITIALIZED;
		hv_time_start(p);	/* reference time 0 (TLFS "Reference Counter") */
		return p;
	}
	return NULL;
}

/* Tell hvsim a partition changed state (include/hv/marker.h). */
void hv_mark_partition(const struct hv_partition *p, unsigned event)
{
	static struct hv_mark_partition m;

	m = (struct hv_mark_partition){ .partition = p->id, .event = event };
	HV_MARKER(HV_MARK_PARTITION, &m);
}

struct hv_partition *hv_partition_find(uint64_t id)
{
	for (unsigned i = 0; i < HV_MAX_PARTITIONS; i++)
		if (partitions[i].in_use && partitions[i].id == id)
			return &partitions[i];
	return NULL;
}

struct hv_partition *hv_partition_at(unsigned slot)
{
	return slot < HV_MAX_PARTITIONS && partitions[slot].in_use ? &partitions[slot] : NULL;
}

unsigned hv_partition_slots(void)
{
	return HV_MAX_PARTITIONS;
}

/* One VPID per VP of the machine (SDM 29.1); never 0. */
uint16_t hv_vp_vpid(const struct hv_vp *vp)
{
	return (uint16_t)((vp->part->slot << 6 | vp->index) + 1);
}

/* Execution controls of every VP (SDM 25.6): HLT exits (the scheduler's
 * idle point), MSR bitmaps (the partition's page: what is clear passes
 * through; the synthetic MSRs lie outside both ranges and always exit),
 * EPT and VPID; IA-32e guests with EFER and PAT switched on entry and
 * exit. */
static void vp_write_controls(struct hv_vp *vp)
{
	struct hv_partition *p = vp->part;

	/* Physical interrupts exit, acknowledged, from every VP: they are
	 * the root's (intr.c). */
	vmwrite(VMCS_PIN_BASED_CTLS, hv_vmx_ctl(MSR_IA32_VMX_TRUE_PINBASED_CTLS, PIN_BASED_EXT_INTR_EXITING));
	/* Only the root touches devices: a child's port I/O exits.  A
	 * child's CR8 is its virtual APIC's TPR (vapic.c).  MONITOR and MWAIT
	 * are not offered to partitions (exit.c): they exit to a #UD. */
	vmwrite(VMCS_PROC_BASED_CTLS, hv_vmx_ctl(MSR_IA32_VMX_TRUE_PROCBASED_CTLS,
						 CPU_BASED_HLT_EXITING | CPU_BASED_USE_MSR_BITMAPS |
							 CPU_BASED_MONITOR_EXITING | CPU_BASED_MWAIT_EXITING |
							 CPU_BASED_ACTIVATE_SECONDARY_CONTROLS |
							 (p->is_root ? 0 : CPU_BASED_UNCOND_IO_EXITING |
										   CPU_BASED_CR8_LOAD_EXITING |
										   CPU_BASED_CR8_STORE_EXITING)));
	/* A child runs as an unrestricted guest where the CPU offers it (SDM
	 * 25.6.2): real mode and protected mode without paging, as a
	 * multiboot kernel starts and its APs wake from SIPI. */
	vmwrite(VMCS_PROC_BASED_CTLS2, hv_vmx_ctl(MSR_IA32_VMX_PROCBASED_CTLS2,
						  SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_ENABLE_RDTSCP |
							  (p->is_root ? 0 : SECONDARY_UNRESTRICTED_GUEST)));
	vmwrite(VMCS_EXIT_CTLS, hv_vmx_ctl(MSR_IA32_VMX_TRUE_EXIT_CTLS,
					   VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_SAVE_EFER | VM_EXIT_LOAD_EFER |
						   VM_EXIT_SAVE_PAT | VM_EXIT_LOAD_PAT | VM_EXIT_ACK_INTR_ON_EXIT));
	vmwrite(VMCS_ENTRY_CTLS, hv_vmx_ctl(MSR_IA32_VMX_TRUE_ENTRY_CTLS,
					    VM_ENTRY_IA32E_MODE | VM_ENTRY_LOAD_EFER | VM_ENTRY_LOAD_PAT));
	vmwrite(VMCS_EXCEPTION_BITMAP, 0);
	vmwrite(VMCS_MSR_BITMAP, p->msr_bitmap);
	vmwrite(VMCS_EPT_POINTER, hv_ept_eptp(&p->ept));
	vmwrite(VMCS_VPID, hv_vp_vpid(vp));
	vmwrite(VMCS_CR3_TARGET_COUNT, 0);
	/* CR4.VMXE must be 1 in VMX operation (SDM 24.8): the guest does not
	 * see it (read shadow 0) and cannot change it. */
	vmwrite(VMCS_CR4_GUEST_HOST_MASK, X86_CR4_VMXE);
	vmwrite(VMCS_CR4_READ_SHADOW, 0);
	vmwrite(VMCS_CR0_GUEST_HOST_MASK, hv_cr0_owned(vp));	/* cr0.c */
	vmwrite(VMCS_LINK_POINTER, ~0ull);
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, 0);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmwrite(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
}

/* A VP of `p` on LP `lp` with its structure and VMCS from `pool`; the
 * VMCS is left current on this LP. */
struct hv_vp *hv_vp_create(struct hv_partition *p, unsigned index, struct hv_pool *pool, unsigned lp)
{
	uint64_t page, vmcs;
	struct hv_vp *vp;

	if (index >= HV_MAX_VPS || p->vps[index])
		return NULL;
	_Static_assert(sizeof(struct hv_vp) <= HV_PAGE_SIZE, "a VP fits a page");
	page = hv_pool_get(pool);
	vmcs = hv_pool_get(pool);
	if (!page || !vmcs) {
		if (page)
			hv_pool_put(pool, page);
		if (vmcs)
			hv_pool_put(pool, vmcs);
		return NULL;
	}
	vp = hv_va(page);
	vp->part = p;
	vp->index = index;
	vp->vmcs = vmcs;
	vp->lp = lp;
	vp->vmcs_lp = -1;
	vp->xcr0 = 1;		/* x87 only, as at reset (SDM Vol. 1 13.3) */
	*(uint32_t *)hv_va(vmcs) = hv_vmcs_revision();
	if (hv_vmclear(vmcs) || hv_vmcs_load(vp)) {
		hv_pool_put(pool, vmcs);
		hv_pool_put(pool, page);
		return NULL;
	}
	hv_lps[lp].nvps++;
	hv_vmcs_write_host(lp);
	vp_write_controls(vp);
	hv_vp_msr_area_init(vp);
	hv_synic_reset(vp);
	hv_stimer_reset(vp);
	hv_vapic_reset(vp);
	p->vps[index] = vp;
	if (index >= p->nvps)
		p->nvps = index + 1;
	return vp;
}

/* Guest-state area for 64-bit flat operation (SDM 25.4, checked by 27.3):
 * CS 64-bit code, data segments flat, TR a busy 64-bit TSS. */
void hv_vp_set_long_mode(const struct hv_vp_boot *b)
{
	static const struct {
		uint32_t sel, base, limit, ar;
	} seg[6] = {
		{ VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR_BYTES },
		{ VMCS_GUEST_CS_SELECTOR, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR_BYTES },
		{ VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR_BYTES },
		{ VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR_BYTES },
		{ VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR_BYTES },
		{ VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR_BYTES },
	};

	for (int i = 0; i < 6; i++) {
		int cs = i == 1, fsgs = i >= 4;

		vmwrite(seg[i].sel, cs ? b->cs : fsgs ? 0 : b->ds);
		vmwrite(seg[i].base, 0);
		vmwrite(seg[i].limit, 0xffffffff);
		/* type, S, P, (L for CS, D/B for data), G; FS/GS unusable */
		vmwrite(seg[i].ar, cs ? 0xa09b : fsgs ? 0x10000 : 0xc093);
	}
	vmwrite(VMCS_GUEST_TR_SELECTOR, b->tr);
	vmwrite(VMCS_GUEST_TR_BASE, b->tss);
	vmwrite(VMCS_GUEST_TR_LIMIT, 0x67);
	vmwrite(VMCS_GUEST_TR_AR_BYTES, 0x8b);
	vmwrite(VMCS_GUEST_LDTR_SELECTOR, 0);
	vmwrite(VMCS_GUEST_LDTR_BASE, 0);
	vmwrite(VMCS_GUEST_LDTR_LIMIT, 0);
	vmwrite(VMCS_GUEST_LDTR_AR_BYTES, 0x10000);
	vmwrite(VMCS_GUEST_GDTR_BASE, b->gdt);
	vmwrite(VMCS_GUEST_GDTR_LIMIT, b->gdt_limit);
	vmwrite(VMCS_GUEST_IDTR_BASE, 0);
	vmwrite(VMCS_GUEST_IDTR_LIMIT, 0);
	hv_cr0_set(b->cr0);
	vmwrite(VMCS_GUEST_CR3, b->cr3);
	vmwrite(VMCS_GUEST_CR4, b->cr4 | X86_CR4_VMXE);
	vmwrite(VMCS_GUEST_IA32_EFER, b->efer);
	vmwrite(VMCS_GUEST_IA32_PAT, 0x0007040600070406ull);	/* the reset PAT (SDM Vol. 3A 13.12.4) */
	vmwrite(VMCS_GUEST_DR7, 0x400);
	vmwrite(VMCS_GUEST_RSP, b->rsp);
	vmwrite(VMCS_GUEST_RIP, b->rip);
	vmwrite(VMCS_GUEST_RFLAGS, 2);
	vmwrite(VMCS_GUEST_IA32_SYSENTER_CS, 0);
	vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
	vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
}

void hv_vp_destroy(struct hv_vp *vp)
{
	/* Its VMCS written back to memory on the LP that has it (SDM
	 * 25.11.1) before the page goes back to the pool. */
	hv_vmcs_load(vp);
	hv_vmcs_clear(vp);
	hv_lps[vp->lp].nvps--;
	for (unsigned lp = 0; lp < hv_lp_count; lp++)
		if (hv_lps[lp].cur == vp)
			hv_lps[lp].cur = NULL;
}
